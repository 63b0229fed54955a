"""Rate limits shared by every process of an app: per IP, per session, per anything.

A `RateLimiter` applies named limits (`RateLimits`: new sessions per IP, new
conversations per IP, messages and typing previews per session, ...) to
keys you choose (an IP address, a session id). The counts live in a
backend that every process shares:

- `MemoryBackend`: this process only (tests, a single process);
- `StoreBackend`: the kit's store (SQLite file or PostgreSQL; table
  ``rate_limits``), so several processes on one store share the counts
  with no other service;
- `RedisBackend` (``chatkit.ratelimit.redis``, extra ``redis``): one Lua
  script per request, for many processes or machines.

The algorithm is GCRA (the generic cell rate algorithm, a token bucket
kept as a single timestamp per key): a limit of ``limit`` per ``period``
lets a key make ``limit`` requests at once, then one more every
``period / limit``; a key that stays quiet for ``period`` has its whole
burst back. It keeps one number per key (one row, one Redis string), is
decided by one atomic statement or script, and has no window edges: a fixed
window lets a client make ``2 x limit`` requests across the boundary of two
windows, a sliding-window counter only estimates, and a sliding log stores
every request.

Keys are never stored as given: each is replaced by an HMAC-SHA256 of the
limit's name and the key, under `RateLimiter`'s ``secret``. Give every
process the same secret (without one, a fixed key is used, and an IPv4
address could be recovered from its hash by trying all 2^32).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .._portal import SyncResource, sync
from ..errors import ConfigurationError, InvalidInputError, RateLimitedError
from ..stores.base import Store, gcra_step

if TYPE_CHECKING:
    from .._facade import AsyncChatKit, ChatKit

__all__ = [
    "Decision",
    "MemoryBackend",
    "RateLimit",
    "RateLimitBackend",
    "RateLimiter",
    "RateLimits",
    "StoreBackend",
    "SyncRateLimiter",
]

log = logging.getLogger(__name__)

EPSILON: Final = 1e-6
"""Seconds of slack in comparisons, so float rounding never refuses a request on the boundary."""

MAX_KEY_LENGTH: Final = 4096
"""Longest key accepted (it is hashed; a longer one is a caller's mistake)."""

_UNITS: Final[dict[str, float]] = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}
_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*")


def _config_error(exc: ValidationError, what: str) -> ConfigurationError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    reason = str(first["msg"]).removeprefix("Value error, ")
    return ConfigurationError(f"bad {what}: {where + ': ' if where else ''}{reason}")


class RateLimit(BaseModel):
    """At most `limit` requests per `period` for one key (a burst of `limit`, then a steady rate).

    ``RateLimit(5, timedelta(hours=1))``, ``RateLimit(5, 3600)`` and, in
    settings files or environment variables, ``"5/h"`` or ``"6/12h"``
    (units ``s``, ``min``, ``h``, ``d``) are the same kind of value.

    Attributes:
        limit: Requests allowed at once, and per `period` on average.
        period: Seconds for the whole burst to come back.

    Raises:
        ConfigurationError: A limit under 1 or over a million, a period not
            positive or over a year, or a spec that does not parse.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    limit: int = Field(strict=True, ge=1, le=1_000_000)
    period: float = Field(gt=0, le=366 * 86400)

    def __init__(self, limit: int, period: float | timedelta) -> None:
        try:
            super().__init__(limit=limit, period=period)
        except ValidationError as exc:
            raise _config_error(exc, "rate limit") from None

    @classmethod
    def parse(cls, spec: str) -> RateLimit:
        """Read ``"5/h"``, ``"6/12h"``, ``"30/min"``, ``"20/5s"``.

        Raises:
            ConfigurationError: The spec does not parse or is out of range.
        """
        try:
            return cls.model_validate(spec)
        except ValidationError as exc:
            raise _config_error(exc, "rate limit") from None

    @model_validator(mode="before")
    @classmethod
    def _from_spec(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        match = _SPEC.fullmatch(value.lower())
        if match is None or match.group(3) not in _UNITS:
            raise ValueError(f"expected a rate like '5/h' or '6/12h', got {value[:50]!r}")
        count, amount, unit = match.groups()
        return {"limit": int(count), "period": float(amount or 1) * _UNITS[unit]}

    @field_validator("period", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        if isinstance(value, timedelta):
            return value.total_seconds()
        if isinstance(value, bool):
            raise ValueError("period must be seconds or a timedelta")
        return value

    @property
    def interval(self) -> float:
        """Seconds between requests at the steady rate (``period / limit``)."""
        return self.period / self.limit

    def __str__(self) -> str:
        return f"{self.limit}/{self.period:g}s"


class RateLimits(BaseModel):
    """The named limits a `RateLimiter` applies; ``None`` turns one off.

    The defaults follow Chatwoot's for its website widget where it has one.
    Which key each is meant for is a convention of the caller; the web app
    (`chatkit.web`) applies each to the key named below, under these names.

    Attributes:
        new_session: Customer sessions started, per client IP (5 an hour).
        new_conversation: Conversations started, per client IP (6 per 12 hours).
        message: Messages sent, per session (30 at once, then one every 2 s).
        typing: Typing previews, per session (20 at once, then 4 a second).
        upload: Attachments uploaded, per session (20 an hour).
        offline_message: Messages left while the team is closed (each opens
            a ticket), per client IP (5 an hour).
        failed_auth: Refused tokens or identity hashes, per client IP (10 per
            10 minutes); count only failures, check before trying.
        agent_request: API requests, per agent (600 a minute).
        custom: Further limits by name, e.g. ``{"export": RateLimit(3, 3600)}``.

    Raises:
        ConfigurationError: A bad value, an unknown field, or a custom name
            that clashes with a built-in one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    BUILT_IN: ClassVar[tuple[str, ...]] = (
        "new_session",
        "new_conversation",
        "message",
        "typing",
        "upload",
        "offline_message",
        "failed_auth",
        "agent_request",
    )

    new_session: RateLimit | None = RateLimit(5, timedelta(hours=1))
    new_conversation: RateLimit | None = RateLimit(6, timedelta(hours=12))
    message: RateLimit | None = RateLimit(30, timedelta(minutes=1))
    typing: RateLimit | None = RateLimit(20, timedelta(seconds=5))
    upload: RateLimit | None = RateLimit(20, timedelta(hours=1))
    offline_message: RateLimit | None = RateLimit(5, timedelta(hours=1))
    failed_auth: RateLimit | None = RateLimit(10, timedelta(minutes=10))
    agent_request: RateLimit | None = RateLimit(600, timedelta(minutes=1))
    custom: dict[str, RateLimit | None] = Field(default_factory=dict)

    def __init__(self, **limits: Any) -> None:
        try:
            super().__init__(**limits)
        except ValidationError as exc:
            raise _config_error(exc, "rate limits") from None

    @field_validator("custom")
    @classmethod
    def _distinct(cls, value: dict[str, RateLimit | None]) -> dict[str, RateLimit | None]:
        for name in value:
            if name in cls.BUILT_IN:
                raise ValueError(f"{name!r} is a built-in limit: set it directly")
            if not name or len(name) > 100:
                raise ValueError("custom limit names must be 1 to 100 characters")
        return value

    def names(self) -> tuple[str, ...]:
        """Every limit name this configuration knows (turned-off ones too)."""
        return (*self.BUILT_IN, *self.custom)

    def get(self, name: str) -> RateLimit | None:
        """The limit called ``name`` (``None`` when it is turned off).

        Raises:
            ConfigurationError: No limit has that name.
        """
        if name in self.BUILT_IN:
            value: RateLimit | None = getattr(self, name)
            return value
        if isinstance(name, str) and name in self.custom:
            return self.custom[name]
        raise ConfigurationError(f"no rate limit named {str(name)[:100]!r}")


@dataclass(frozen=True)
class Decision:
    """What a `RateLimiter` decided for one request.

    Attributes:
        allowed: Whether the request may go ahead.
        name: The limit's name.
        limit: The limit applied; ``None`` when that limit is turned off
            (then everything is allowed and nothing is counted).
        remaining: Requests the key could still make right now (``None``
            when the limit is off).
        retry_after: Seconds until this request would be allowed (0 when allowed).
        reset_after: Seconds until the key has its whole burst back.
    """

    allowed: bool
    name: str
    limit: RateLimit | None
    remaining: int | None
    retry_after: float
    reset_after: float

    def error(self) -> RateLimitedError:
        """The `RateLimitedError` for a refused request."""
        limit = self.limit or RateLimit(1, 1)
        return RateLimitedError(
            limit_name=self.name,
            retry_after=self.retry_after,
            limit=limit.limit,
            period=limit.period,
            headers=self.headers(),
        )

    def headers(self) -> dict[str, str]:
        """HTTP headers for the response: ``RateLimit-Limit``, ``-Remaining``, ``-Reset``,
        and ``Retry-After`` when refused (whole seconds, rounded up). Empty when the limit is off.
        """
        if self.limit is None or self.remaining is None:
            return {}
        headers = {
            "RateLimit-Limit": str(self.limit.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset_after)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return headers


class RateLimitBackend(ABC):
    """Where the GCRA cells live: one "theoretical arrival time" (TAT) per hashed key.

    `hit` must be atomic across every process that shares the backend:
    the rule is `chatkit.stores.base.gcra_step`, applied to the latest
    stored value.
    """

    @abstractmethod
    async def hit(
        self, key: str, *, now: float, increment: float, tolerance: float
    ) -> tuple[bool, float]:
        """Apply one request; return whether it was allowed and the TAT after it."""

    @abstractmethod
    async def peek(self, key: str) -> float | None:
        """The stored TAT of a key, or ``None``."""

    @abstractmethod
    async def reset(self, key: str) -> None:
        """Forget a key."""

    async def purge(self, before: float) -> int:
        """Delete cells whose TAT is before ``before``; return how many (0 if they expire alone)."""
        return 0

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections the backend opened itself."""


class MemoryBackend(RateLimitBackend):
    """Cells in a dict: one process only. Every call is atomic (no await inside)."""

    def __init__(self) -> None:
        self.cells: dict[str, float] = {}

    def __repr__(self) -> str:
        return "MemoryBackend()"

    async def hit(
        self, key: str, *, now: float, increment: float, tolerance: float
    ) -> tuple[bool, float]:
        allowed, tat = gcra_step(
            self.cells.get(key), now=now, increment=increment, tolerance=tolerance
        )
        if allowed:
            self.cells[key] = tat
        return allowed, tat

    async def peek(self, key: str) -> float | None:
        return self.cells.get(key)

    async def reset(self, key: str) -> None:
        self.cells.pop(key, None)

    async def purge(self, before: float) -> int:
        gone = [key for key, tat in self.cells.items() if tat < before]
        for key in gone:
            del self.cells[key]
        return len(gone)


class StoreBackend(RateLimitBackend):
    """Cells in the kit's store (table ``rate_limits``): shared by every process on it.

    On SQLite each request is one upsert in a write transaction (grouped
    with other writes of the same moment); on PostgreSQL one ``INSERT ...
    ON CONFLICT DO UPDATE ... WHERE`` that locks the key's row. Expired rows
    are deleted by `RateLimiter` every ``purge_every`` seconds.

    Args:
        source: An open `Store`, or an `AsyncChatKit` (opened on first use).
    """

    def __init__(self, source: Store | AsyncChatKit) -> None:
        self._source = source

    def __repr__(self) -> str:
        return f"StoreBackend({self._source!r})"

    async def _store(self) -> Store:
        if isinstance(self._source, Store):
            return self._source
        await self._source.open()
        return self._source.store

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        store = await self._store()
        try:
            return await getattr(store, method)(*args, **kwargs)
        except NotImplementedError as exc:
            raise ConfigurationError(
                f"{type(store).__name__} cannot keep rate limits; use MemoryBackend or RedisBackend"
            ) from exc

    async def hit(
        self, key: str, *, now: float, increment: float, tolerance: float
    ) -> tuple[bool, float]:
        outcome: tuple[bool, float] = await self._call(
            "rate_hit", key, now=now, increment=increment, tolerance=tolerance
        )
        return outcome

    async def peek(self, key: str) -> float | None:
        tat: float | None = await self._call("rate_peek", key)
        return tat

    async def reset(self, key: str) -> None:
        await self._call("rate_reset", key)

    async def purge(self, before: float) -> int:
        gone: int = await self._call("rate_purge", before)
        return gone


def _backend(source: RateLimitBackend | Store | AsyncChatKit | str) -> RateLimitBackend:
    if isinstance(source, RateLimitBackend):
        return source
    if isinstance(source, str):
        scheme = source.partition("://")[0].lower()
        if source.rstrip("/") == "memory:":
            return MemoryBackend()
        if scheme in ("redis", "rediss"):
            from .redis import RedisBackend

            return RedisBackend.from_url(source)
        raise ConfigurationError(
            "a rate-limit backend URL is memory:// or redis://host:port/db; "
            "pass a store or a kit for the store"
        )
    if isinstance(source, Store) or hasattr(source, "store"):
        return StoreBackend(source)
    raise ConfigurationError(
        f"expected a RateLimitBackend, a Store, a kit or a URL, not {type(source).__name__}"
    )


class RateLimiter:
    """Applies named `RateLimits` to keys, with counts shared through a backend.

    Args:
        backend: Where counts live: a `RateLimitBackend`, a `Store` or an
            `AsyncChatKit` (its store: `StoreBackend`), ``"memory://"`` or
            ``"redis://host:port/db"`` (`RedisBackend`).
        limits: The limits by name (default: `RateLimits()`); a mapping of
            name to `RateLimit` works too (built-in limits it leaves out are off).
        secret: Key for hashing keys (HMAC-SHA256); the same in every
            process sharing the backend. Set one in production.
        clock: Seconds since the epoch (default `time.time`); processes
            sharing a backend need clocks in step (NTP).
        purge_every: Seconds between deletions of expired cells (store
            backend; Redis keys expire by themselves).

    Example:
        ```python
        from chatkit.ratelimit import RateLimiter, RateLimits, RateLimit

        limiter = RateLimiter("memory://", RateLimits(new_session=RateLimit(2, 3600)))
        assert (await limiter.hit("new_session", "203.0.113.7")).allowed
        assert (await limiter.hit("new_session", "203.0.113.7")).allowed
        refused = await limiter.hit("new_session", "203.0.113.7")
        assert not refused.allowed and refused.retry_after == 1800
        ```

    Raises:
        ConfigurationError: A bad backend, limits or ``purge_every``.
    """

    def __init__(
        self,
        backend: RateLimitBackend | Store | AsyncChatKit | str = "memory://",
        limits: RateLimits | Mapping[str, RateLimit | None] | None = None,
        *,
        secret: str | bytes | None = None,
        clock: Callable[[], float] = time.time,
        purge_every: float = 60.0,
    ) -> None:
        if limits is None:
            limits = RateLimits()
        elif not isinstance(limits, RateLimits):
            if not isinstance(limits, Mapping):
                raise ConfigurationError("limits must be RateLimits or a mapping of name to limit")
            builtin = {k: v for k, v in limits.items() if k in RateLimits.BUILT_IN}
            off = dict.fromkeys(set(RateLimits.BUILT_IN) - set(builtin))
            custom = {k: v for k, v in limits.items() if k not in RateLimits.BUILT_IN}
            limits = RateLimits(**off, **builtin, custom=custom)
        if isinstance(secret, str):
            secret = secret.encode()
        if secret is not None and not isinstance(secret, bytes):
            raise ConfigurationError("secret must be str or bytes")
        if secret is not None and len(secret) < 16:
            raise ConfigurationError("secret must be at least 16 bytes")
        if isinstance(purge_every, bool) or not isinstance(purge_every, (int, float)):
            raise ConfigurationError("purge_every must be seconds")
        if not purge_every > 0:
            raise ConfigurationError("purge_every must be positive")
        self.backend = _backend(backend)
        self.limits = limits
        self._secret = secret if secret is not None else b"chatkit.ratelimit"
        self._clock = clock
        self._purge_every = float(purge_every)
        self._next_purge = 0.0

    def __repr__(self) -> str:
        return f"RateLimiter({self.backend!r})"

    def hashed(self, name: str, key: str) -> str:
        """The stored form of a key: the limit's name and an HMAC-SHA256 of name and key."""
        digest = hmac.new(self._secret, f"{name}\x1f{key}".encode(), hashlib.sha256)
        return f"{name}:{digest.hexdigest()}"

    def _prepare(self, name: str, key: str, cost: int) -> tuple[RateLimit | None, str]:
        if not isinstance(name, str):
            raise ConfigurationError("a rate limit name is a string")
        limit = self.limits.get(name)
        if not isinstance(key, str) or not key:
            raise InvalidInputError("a rate-limit key must be a non-empty string", field="key")
        if len(key) > MAX_KEY_LENGTH:
            raise InvalidInputError(
                f"a rate-limit key is at most {MAX_KEY_LENGTH} characters", field="key"
            )
        if isinstance(cost, bool) or not isinstance(cost, int) or cost < 1:
            raise InvalidInputError("cost must be a whole number from 1", field="cost")
        if limit is not None and cost > limit.limit:
            raise InvalidInputError(
                f"cost {cost} is over the limit {name!r} allows at once ({limit.limit})",
                field="cost",
            )
        return limit, self.hashed(name, key)

    def _decide(
        self, name: str, limit: RateLimit, allowed: bool, tat: float, now: float, cost: int
    ) -> Decision:
        ahead = max(0.0, tat - now)
        remaining = max(0, math.floor((limit.period - ahead + EPSILON) / limit.interval))
        retry = 0.0 if allowed else max(0.0, tat + cost * limit.interval - limit.period - now)
        return Decision(
            allowed=allowed,
            name=name,
            limit=limit,
            remaining=remaining,
            retry_after=retry,
            reset_after=ahead,
        )

    async def hit(self, name: str, key: str, *, cost: int = 1) -> Decision:
        """Count a request of ``key`` against the limit ``name``, if it is allowed.

        A refused request is not counted. Costs above 1 weigh a request as
        several (an upload of many files).

        Raises:
            ConfigurationError: No limit has that name.
            InvalidInputError: An empty or huge key, or a bad cost.
            StoreError: The backend failed.
        """
        limit, hashed = self._prepare(name, key, cost)
        if limit is None:
            return Decision(True, name, None, None, 0.0, 0.0)
        now = self._clock()
        allowed, tat = await self.backend.hit(
            hashed,
            now=now,
            increment=cost * limit.interval,
            tolerance=limit.period + EPSILON,
        )
        if now >= self._next_purge:
            self._next_purge = now + self._purge_every
            await self._purge(now)
        return self._decide(name, limit, allowed, tat, now, cost)

    async def enforce(self, name: str, key: str, *, cost: int = 1) -> Decision:
        """Like `hit`, but a refused request raises.

        Raises:
            RateLimitedError: The limit is reached; ``retry_after`` says for how long.
        """
        decision = await self.hit(name, key, cost=cost)
        if not decision.allowed:
            raise decision.error()
        return decision

    async def check(self, name: str, key: str, *, cost: int = 1) -> Decision:
        """Whether ``key`` could make a request now, without counting one.

        Use it to refuse early (before any work) and `hit` once the request
        really happens; or to ask about a limit that counts only failures
        (``failed_auth``). Two processes checking at once may both be told
        yes; only `hit` is atomic.
        """
        limit, hashed = self._prepare(name, key, cost)
        if limit is None:
            return Decision(True, name, None, None, 0.0, 0.0)
        now = self._clock()
        stored = await self.backend.peek(hashed)
        allowed, tat = gcra_step(
            stored, now=now, increment=cost * limit.interval, tolerance=limit.period + EPSILON
        )
        # Nothing is stored: the decision is the one `hit` would make now.
        return self._decide(name, limit, allowed, tat, now, cost)

    async def reset(self, name: str, key: str) -> None:
        """Forget what ``key`` did against ``name`` (e.g. after a successful sign-in)."""
        _, hashed = self._prepare(name, key, 1)
        await self.backend.reset(hashed)

    async def purge(self) -> int:
        """Delete every expired cell now; return how many went (Redis: 0, they expire alone)."""
        return await self.backend.purge(self._clock())

    async def _purge(self, now: float) -> None:
        try:
            await self.backend.purge(now)
        except Exception as exc:  # a failed clean-up must not fail the request
            log.warning("rate-limit clean-up failed: %s", type(exc).__name__)

    async def close(self) -> None:
        """Close the backend's own connections (a store or kit passed in stays open)."""
        await self.backend.close()


class SyncRateLimiter(SyncResource[RateLimiter]):
    """Blocking twin of `RateLimiter`, for a blocking `ChatKit` (Flask, Django, scripts).

    Runs on the kit's background loop; by default the counts live in the
    kit's store. Same methods and arguments as `RateLimiter`.

    Args:
        kit: The blocking kit.
        limits: As for `RateLimiter`.
        backend: Where counts live (default: the kit's store); ``"memory://"``,
            ``"redis://..."`` or a `RateLimitBackend`.
        secret: As for `RateLimiter`.
        clock: As for `RateLimiter`.
        purge_every: As for `RateLimiter`.

    Example:
        ```python
        from chatkit import ChatKit
        from chatkit.ratelimit import SyncRateLimiter

        with ChatKit("sqlite:///support.db") as kit:
            limiter = SyncRateLimiter(kit, secret="a-long-random-secret-shared-by-processes")
            print(limiter.hit("new_session", "203.0.113.7").remaining)  # 4
        ```
    """

    def __init__(
        self,
        kit: ChatKit,
        limits: RateLimits | Mapping[str, RateLimit | None] | None = None,
        *,
        backend: RateLimitBackend | str | None = None,
        secret: str | bytes | None = None,
        clock: Callable[[], float] = time.time,
        purge_every: float = 60.0,
    ) -> None:
        limiter = RateLimiter(
            kit.aio if backend is None else backend,
            limits,
            secret=secret,
            clock=clock,
            purge_every=purge_every,
        )
        super().__init__(limiter, kit._runner)
        self.limits = limiter.limits

    def __repr__(self) -> str:
        return f"SyncRateLimiter({self._target.backend!r})"

    def hashed(self, name: str, key: str) -> str:
        """The stored form of a key (see `RateLimiter.hashed`)."""
        return self._target.hashed(name, key)

    hit = sync(RateLimiter.hit)
    enforce = sync(RateLimiter.enforce)
    check = sync(RateLimiter.check)
    reset = sync(RateLimiter.reset)
    purge = sync(RateLimiter.purge)
    close = sync(RateLimiter.close)
