"""`WebSettings`: how the web app behaves (limits, sessions, proxies, rate limits)."""

from __future__ import annotations

import ipaddress
import os

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from ..integrations.base import Integration
from ..mail import SMTPSettings
from ..models.web import normalize_origin
from ..ratelimit import RateLimiter, RateLimits

__all__ = ["DEFAULT_IDENTITY_MAX_AGE", "WebSettings"]

DEFAULT_IDENTITY_MAX_AGE: float = 600.0
"""How old a timestamped identity hash may be when `WebSettings.identity_max_age` is not set."""


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


class WebSettings(BaseModel):
    """Settings of the web app (`chatkit.web.create_app`); the defaults suit production.

    Attributes:
        max_body_bytes: Largest request body, in bytes; a larger one gets 413
            before it is read whole.
        max_upload_bytes: Largest body of an attachment upload (paths ending
            in ``/attachments``). Default: the kit's
            ``AttachmentLimits.max_bytes``, whose other limits apply too.
        session_seconds: How long a customer session token lives.
        rate_limits: The limits the app applies (`chatkit.ratelimit.RateLimits`:
            ``new_session`` and ``new_conversation`` per client IP,
            ``message``, ``typing`` and ``upload`` per session,
            ``offline_message`` and ``failed_auth`` per client IP). A
            mapping is read as `RateLimits` (``{"new_session": "20/h",
            "typing": None}``); ``None`` turns a limit off.
        rate_limit_url: Where the counts live: unset (the default) keeps
            them in the kit's store (table ``rate_limits``), shared by every
            process on the same SQLite file or PostgreSQL database;
            ``redis://host:port/db`` (extra ``redis``) shares them through
            Redis; ``memory://`` keeps them in this process (tests). Default
            from the environment variable ``CHATKIT_RATE_LIMIT_URL``.
        rate_limit_secret: The key that IP addresses and session ids are
            hashed with before they are stored (at least 16 characters).
            Every process serving the app must have the same one, or they
            stop sharing counts. Default from the environment variable
            ``CHATKIT_RATE_LIMIT_SECRET``; without one, a fixed public key is
            used (limits still work and are shared, but a stored hash of an
            IPv4 address can be reversed) and the app logs a warning.
        limiter: A `chatkit.ratelimit.RateLimiter` of your own (it then owns
            the limits, backend and secret; the three settings above are
            not used). Its calls run on the kit's loop.
        trusted_proxies: Addresses or networks (``10.0.0.0/8``) of reverse
            proxies whose ``X-Forwarded-For`` is believed when finding a
            client's IP address; none by default (the peer's address is used).
        integrations: Integrations (`chatkit.integrations.Integration`) whose
            `record_url` turns the synced records of the agent API's
            conversation detail into links (``url``); matched by name.
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
        smtp: The mail server the widget's "e-mail me this conversation"
            sends transcripts through (``POST /v1/conversations/{id}/transcript``);
            unset, the widget does not offer it.
        freeze_gc: When the first request of the process arrives, move
            every object alive then (the imported modules, the app, the
            kit) out of the garbage collector's reach with Python's
            ``gc.freeze()``, once per process. They live as long as the
            process anyway; without this, each full collection walks them
            all again and pauses the serving loop for tens of milliseconds
            (about 75 ms of CPU for the ~95,000 objects of the app on a
            2-core machine), which showed as the real-time delivery's p99.
            Turn it off if the host process manages the collector itself.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    max_upload_bytes: int | None = Field(default=None, ge=1024)
    session_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    rate_limit_url: str | None = Field(
        default_factory=lambda: _env("CHATKIT_RATE_LIMIT_URL"),
        max_length=2000,
        validate_default=True,
    )
    rate_limit_secret: SecretStr | None = Field(
        default_factory=lambda: _env("CHATKIT_RATE_LIMIT_SECRET"),
        min_length=16,
        exclude=True,
        validate_default=True,
    )
    limiter: RateLimiter | None = Field(default=None, exclude=True)
    trusted_proxies: list[str] = Field(default_factory=list)
    integrations: list[Integration] = Field(default_factory=list, exclude=True)
    agent_origins: list[str] = Field(default_factory=list)
    identity_max_age: float | None = Field(default=None, gt=0)
    hsts_seconds: int = Field(default=365 * 24 * 3600, ge=0)
    website_cache_seconds: float = Field(default=5.0, ge=0)
    realtime_ping_seconds: float = Field(default=25.0, gt=0, le=3600)
    realtime_buffer: int = Field(default=256, ge=1, le=100_000)
    realtime_auth_seconds: float = Field(default=10.0, gt=0, le=600)
    smtp: SMTPSettings | None = Field(default=None, exclude=True)
    freeze_gc: bool = True

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return [str(ipaddress.ip_network(v, strict=False)) for v in value]

    @field_validator("agent_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return [normalize_origin(v) for v in value]

    @field_validator("rate_limit_url")
    @classmethod
    def _backend_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = value.partition("://")[0].lower()
        if value.rstrip("/") != "memory:" and scheme not in ("redis", "rediss"):
            raise ValueError("expected redis://host:port/db, rediss://... or memory://")
        return value
