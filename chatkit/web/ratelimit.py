"""The rate-limit seam of the web app: a `RateLimiter` protocol and an in-memory one.

Routes call ``await web.hit(name, key)`` (see `chatkit.web.WebContext.hit`)
with a limit's name (``"sessions_per_ip"``) and what it counts by (an IP
address, a session id). A limiter knows its limits by name (a name it does
not know is not limited) and raises an error with ``retry_after`` (seconds)
when one is used up; the app answers 429 with ``Retry-After``.
`MemoryRateLimiter` counts in this process only; a limiter shared across
processes (through the store or Redis) plugs in through `WebSettings.limiter`.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ChatKitError

__all__ = ["MemoryRateLimiter", "RateLimit", "RateLimiter", "TooManyRequestsError"]


class RateLimit(BaseModel):
    """At most ``limit`` hits per ``seconds``, per key."""

    model_config = ConfigDict(frozen=True)

    limit: int = Field(ge=1)
    seconds: float = Field(gt=0)


class TooManyRequestsError(ChatKitError):
    """A rate limit is used up (HTTP 429 with ``Retry-After``).

    Attributes:
        name: The limit, e.g. ``"sessions_per_ip"``.
        retry_after: Seconds until a hit would be allowed again.
    """

    code = "rate_limited"

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(f"too many requests ({name}); try again in {math.ceil(retry_after)} s")
        self.name = name
        self.retry_after = retry_after


@runtime_checkable
class RateLimiter(Protocol):
    """Counts hits against named limits."""

    async def hit(self, name: str, key: str) -> None:
        """Count one hit of ``key`` against the limit called ``name``.

        Raises:
            ChatKitError: With a ``retry_after`` attribute (seconds) when the
                limit is used up; the hit is not counted then.
        """
        ...


class MemoryRateLimiter:
    """A sliding-window limiter in this process's memory.

    Args:
        limits: The limits by name; other names are not limited.
        max_keys: Keys remembered at most; the least recently hit are
            forgotten first, so memory stays bounded under a flood of keys.
    """

    def __init__(self, limits: Mapping[str, RateLimit], *, max_keys: int = 100_000) -> None:
        self.limits = dict(limits)
        self._hits: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._max_keys = max_keys

    async def hit(self, name: str, key: str) -> None:
        """Count one hit; raise `TooManyRequestsError` when the limit is used up."""
        limit = self.limits.get(name)
        if limit is None:
            return
        now = time.monotonic()
        slot = (name, key)
        hits = self._hits.get(slot)
        if hits is None:
            hits = self._hits[slot] = deque()
            while len(self._hits) > self._max_keys:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(slot)
        while hits and hits[0] <= now - limit.seconds:
            hits.popleft()
        if len(hits) >= limit.limit:
            raise TooManyRequestsError(name, hits[0] + limit.seconds - now)
        hits.append(now)
