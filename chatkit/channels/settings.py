"""`ChannelSettings`: how replies go out through messaging channels."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChannelSettings"]


class ChannelSettings(BaseModel):
    """How replies are sent through channels (`ChatKitSettings.channels`).

    Attributes:
        max_attempts: Attempts per reply before it fails for good.
        retry_delay: Seconds before the first retry; each next wait is three
            times longer (+-20% jitter), up to ``max_retry_delay``, or what a
            429 answer's ``Retry-After`` asks.
        max_retry_delay: The longest wait between two attempts.
        timeout: Seconds one attempt may take.
        concurrency: Sends one dispatcher makes at once.
        default_region: Region for numbers a provider gives without ``+``.
        max_reply_age: Seconds after which a reply the sends group has not
            seen yet is no longer sent (logged instead): turning channels on
            over an old history, or a worker back after a long stop, does not
            text customers old replies.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(default=8, ge=1, le=100)
    retry_delay: float = Field(default=2.0, ge=0)
    max_retry_delay: float = Field(default=3600.0, ge=0)
    timeout: float = Field(default=30.0, gt=0)
    concurrency: int = Field(default=16, ge=1, le=1000)
    default_region: str | None = Field(default=None, min_length=2, max_length=2)
    max_reply_age: float = Field(default=3600.0, gt=0)
