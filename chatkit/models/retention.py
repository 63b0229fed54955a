"""Retention: how long conversations are kept, and legal holds."""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ._base import Record, SafeText
from .conversations import Channel
from .tickets import TicketStatus

__all__ = ["MINIMUM_RETENTION_DAYS", "HoldTarget", "LegalHold", "RetentionPolicy"]

MINIMUM_RETENTION_DAYS = 31
"""Chat history is kept at least this long unless a policy explicitly allows less."""


class RetentionPolicy(BaseModel):
    """How long conversations are kept after their last activity.

    A conversation is kept for the longest period that applies to it: the
    default, the period of any channel it used, of any of its tags, and of
    the status of any of its tickets. Conversations with an unfinished
    ticket, or under a legal hold, are never purged.

    Attributes:
        default_days: Days kept after the last activity. At least 31 unless
            ``allow_shorter`` is set.
        allow_shorter: Explicitly allow periods under 31 days.
        channels: Longer periods per channel, e.g. ``{"email": 365}``.
        tags: Longer periods per tag, e.g. ``{"chargeback": 730}``.
        ticket_statuses: Longer periods for conversations with a ticket in
            that status, e.g. ``{"closed": 180}``.

    Example:
        ```python
        RetentionPolicy(default_days=90, tags={"legal": 3650}, channels={"email": 365})
        ```
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_days: int = Field(default=MINIMUM_RETENTION_DAYS, ge=1, le=36500)
    allow_shorter: bool = False
    channels: dict[Channel, int] = Field(default_factory=dict)
    tags: dict[str, int] = Field(default_factory=dict)
    ticket_statuses: dict[TicketStatus, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _minimum(self) -> RetentionPolicy:
        periods = [
            self.default_days,
            *self.channels.values(),
            *self.tags.values(),
            *self.ticket_statuses.values(),
        ]
        if not self.allow_shorter and min(periods) < MINIMUM_RETENTION_DAYS:
            raise ValueError(
                f"retention periods under {MINIMUM_RETENTION_DAYS} days need allow_shorter=True"
            )
        if any(p < 1 for p in periods):
            raise ValueError("retention periods are at least 1 day")
        object.__setattr__(self, "tags", {k.strip().lower(): v for k, v in self.tags.items()})
        return self


class HoldTarget(str, Enum):
    """What a legal hold protects."""

    CONVERSATION = "conversation"
    CONTACT = "contact"
    """Every conversation of the contact."""


class LegalHold(Record):
    """A legal hold: while it exists, nothing it covers is purged.

    A hold on a contact also covers the conversations of every contact
    merged with it, before or after the hold.

    Attributes:
        target: A conversation or a contact.
        target_id: Its id.
        reason: Why (a case number, a request).
    """

    table: ClassVar[str] = "legal_holds"
    columns: ClassVar[tuple[str, ...]] = ("target_id",)

    target: HoldTarget
    target_id: str
    reason: SafeText = Field(min_length=1, max_length=500)
