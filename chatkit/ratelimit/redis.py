"""Rate-limit cells in Redis: one Lua script per request (extra ``redis``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from .._optional import missing
from ..errors import ConfigurationError, StoreError
from ..redact import mask_text, mask_url

try:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError
except ImportError as exc:
    raise missing("redis", "Redis rate limits", exc) from exc
from . import RateLimitBackend

__all__ = ["GCRA_SCRIPT", "RedisBackend"]

GCRA_SCRIPT = """
local now = tonumber(ARGV[1])
local increment = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if tat < now then tat = now end
local new = tat + increment
if new - now > tolerance then
  return {0, string.format('%.17g', tat)}
end
redis.call('SET', KEYS[1], string.format('%.17g', new), 'PX', math.ceil((new - now) * 1000) + 1)
return {1, string.format('%.17g', new)}
"""
"""One GCRA step (`chatkit.stores.base.gcra_step`); Redis runs a script atomically.

The key expires when its TAT passes, so nothing needs cleaning up. Numbers
go back as strings (17 significant digits: exactly the double): Redis would
truncate a Lua number to an integer.
"""


class RedisBackend(RateLimitBackend):
    """Cells in Redis, as strings that expire when they count as empty.

    Args:
        client: A URL (``redis://host:port/db``, ``rediss://`` for TLS) or a
            ``redis.asyncio.Redis`` client; a client you pass stays yours to close.
        prefix: Prepended to every key (separates apps sharing one Redis).
    """

    def __init__(self, client: str | aioredis.Redis, *, prefix: str = "chatkit:ratelimit:") -> None:
        if isinstance(client, str):
            parts = urlsplit(client)
            if parts.scheme not in ("redis", "rediss") or not parts.hostname:
                raise ConfigurationError(f"expected redis://host:port/db, got {mask_url(client)!r}")
            self._url: str | None = client
            self.client = aioredis.Redis.from_url(client, socket_connect_timeout=5)
            self._owned = True
        else:
            self._url = None
            self.client = client
            self._owned = False
        self.prefix = prefix
        self._script = self.client.register_script(GCRA_SCRIPT)

    @classmethod
    def from_url(cls, url: str) -> RedisBackend:
        """Build from ``redis://host:port/db?prefix=myapp:rl:``."""
        base, _, query = url.partition("?")
        options = {k: v[-1] for k, v in parse_qs(query).items()}
        prefix = options.pop("prefix", "chatkit:ratelimit:")
        if options:
            raise ConfigurationError(f"unknown Redis rate-limit URL options: {sorted(options)}")
        return cls(base, prefix=prefix)

    def __repr__(self) -> str:
        where = mask_url(self._url) if self._url else "client"
        return f"RedisBackend({where!r}, prefix={self.prefix!r})"

    def _failed(self, exc: Exception) -> StoreError:
        return StoreError(f"Redis rate limits failed: {mask_text(str(exc))}")

    async def hit(
        self, key: str, *, now: float, increment: float, tolerance: float
    ) -> tuple[bool, float]:
        try:
            answer: Any = await self._script(
                keys=[self.prefix + key], args=[repr(now), repr(increment), repr(tolerance)]
            )
        except (RedisError, OSError) as exc:
            raise self._failed(exc) from exc
        allowed, tat = answer
        return bool(int(allowed)), float(tat)

    async def peek(self, key: str) -> float | None:
        try:
            value = await self.client.get(self.prefix + key)
        except (RedisError, OSError) as exc:
            raise self._failed(exc) from exc
        return None if value is None else float(value)

    async def reset(self, key: str) -> None:
        try:
            await self.client.delete(self.prefix + key)
        except (RedisError, OSError) as exc:
            raise self._failed(exc) from exc

    async def close(self) -> None:
        """Close the connection pool if this backend made the client."""
        if self._owned:
            await self.client.aclose()
