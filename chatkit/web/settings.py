"""`WebSettings`: how the web app behaves (limits, sessions, proxies, rate limits)."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..models.web import normalize_origin
from .ratelimit import RateLimit, RateLimiter

__all__ = ["DEFAULT_IDENTITY_MAX_AGE", "DEFAULT_RATE_LIMITS", "WebSettings"]

DEFAULT_IDENTITY_MAX_AGE: float = 600.0
"""How old a timestamped identity hash may be when `WebSettings.identity_max_age` is not set."""

DEFAULT_RATE_LIMITS: dict[str, RateLimit] = {
    "sessions_per_ip": RateLimit(limit=5, seconds=3600),
    "conversations_per_ip": RateLimit(limit=6, seconds=12 * 3600),
    "messages_per_session": RateLimit(limit=60, seconds=60),
    "typing_per_session": RateLimit(limit=120, seconds=60),
    "uploads_per_session": RateLimit(limit=20, seconds=3600),
    "offline_messages_per_ip": RateLimit(limit=5, seconds=3600),
}
"""The built-in rate limits by name; like Chatwoot's: 5 new sessions an hour and
6 new conversations in 12 hours per IP address."""


class WebSettings(BaseModel):
    """Settings of the web app (`chatkit.web.create_app`); the defaults suit production.

    Attributes:
        max_body_bytes: Largest request body, in bytes; a larger one gets 413
            before it is read whole.
        max_upload_bytes: Largest body of an attachment upload (paths ending
            in ``/attachments``). Default: the kit's
            ``AttachmentLimits.max_bytes``, whose other limits apply too.
        session_seconds: How long a customer session token lives.
        rate_limits: Limits by name (see `DEFAULT_RATE_LIMITS`); give a name
            to change it; ``None`` as a limit turns it off.
        limiter: Where rate-limit counts live (it then owns the limits, and
            `rate_limits` is not used). Default: a `MemoryRateLimiter` of
            `rate_limits`, in this process's memory; give a shared one (the
            store or Redis) when several processes serve the app.
        trusted_proxies: Addresses or networks (``10.0.0.0/8``) of reverse
            proxies whose ``X-Forwarded-For`` is believed when finding a
            client's IP address; none by default (the peer's address is used).
        agent_origins: Browser origins of the agent console allowed to call
            the agent API across origins (exact ``scheme://host[:port]``).
        identity_max_age: When set, identified sessions need a timestamped
            identity hash (``identity_timestamp``) at most this many seconds
            old, so a copied hash cannot be replayed later. Unset, plain
            hashes are accepted too, and timestamped ones live
            `DEFAULT_IDENTITY_MAX_AGE` seconds.
        hsts_seconds: ``max-age`` of ``Strict-Transport-Security``, sent on
            HTTPS requests; 0 turns it off.
        website_cache_seconds: How long the union of the websites' origins
            (used to answer CORS preflights) is cached per process.
        realtime_ping_seconds: How often the real-time endpoints send a
            ``ping`` frame (WebSocket) or comment (Server-Sent Events) to an
            idle client.
        realtime_buffer: Frames queued for one real-time client before it
            counts as a slow consumer and is disconnected (close code 4008).
        realtime_auth_seconds: How long a WebSocket may take to send its
            ``auth`` frame after the handshake.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    max_upload_bytes: int | None = Field(default=None, ge=1024)
    session_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    rate_limits: dict[str, RateLimit | None] = Field(default_factory=dict)
    limiter: RateLimiter | None = Field(default=None, exclude=True)
    trusted_proxies: list[str] = Field(default_factory=list)
    agent_origins: list[str] = Field(default_factory=list)
    identity_max_age: float | None = Field(default=None, gt=0)
    hsts_seconds: int = Field(default=365 * 24 * 3600, ge=0)
    website_cache_seconds: float = Field(default=5.0, ge=0)
    realtime_ping_seconds: float = Field(default=25.0, gt=0, le=3600)
    realtime_buffer: int = Field(default=256, ge=1, le=100_000)
    realtime_auth_seconds: float = Field(default=10.0, gt=0, le=600)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return [str(ipaddress.ip_network(v, strict=False)) for v in value]

    @field_validator("agent_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return [normalize_origin(v) for v in value]

    def effective_rate_limits(self) -> dict[str, RateLimit]:
        """The defaults with `rate_limits` applied (``None`` removes one)."""
        merged: dict[str, RateLimit | None] = {**DEFAULT_RATE_LIMITS, **self.rate_limits}
        return {name: limit for name, limit in merged.items() if limit is not None}

    @field_validator("rate_limits")
    @classmethod
    def _names(cls, value: dict[str, RateLimit | None]) -> dict[str, RateLimit | None]:
        if any(not name or len(name) > 100 for name in value):
            raise ValueError("rate limit names are 1 to 100 characters")
        return value
