"""Commit signals over Redis pub/sub, across processes and machines.

``pip install 'chatkit[redis]'``, then
``AsyncChatKit("postgresql://...", transport="redis://localhost:6379/0")``.

Every process that commits events publishes the newest position on the
channel ``chatkit:<namespace>:events``; every process listens and wakes its
subscribers, which then read the store's outbox from their own position. The
outbox provides order, durability and resumption; Redis provides speed. If
Redis drops a message or a connection, subscribers fall back to polling
(`ChatKitSettings.event_poll_interval`) while the listener reconnects with
backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .._optional import missing
from ..errors import ConfigurationError, TransportError
from ..redact import mask_text, mask_url

try:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError
except ImportError as exc:
    raise missing("redis", "the Redis transport", exc) from exc
from .base import Listener, Transport

__all__ = ["RedisTransport"]

log = logging.getLogger(__name__)


class RedisTransport(Transport):
    """Publishes and receives commit signals on a Redis channel.

    Args:
        url: ``redis://[:password@]host:port/db`` (``rediss://`` for TLS); query
            parameters redis-py understands (``?password=...``) are passed on.
        namespace: Separates kits sharing one Redis (``?namespace=...``).
    """

    def __init__(self, url: str, *, namespace: str = "default") -> None:
        self.url = url
        self.channel = f"chatkit:{namespace}:events"
        self._client: aioredis.Redis | None = None
        self._listen_task: asyncio.Task[None] | None = None

    @classmethod
    def from_url(cls, url: str) -> RedisTransport:
        """Build from ``redis://host:port/db?namespace=support``."""
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ConfigurationError(f"expected redis://host:port/db, got {mask_url(url)!r}")
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        namespace = next((v for k, v in reversed(pairs) if k == "namespace"), "default")
        # Everything but ``namespace`` (password, db, ssl options...) is redis-py's to read.
        rest = urlencode([(k, v) for k, v in pairs if k != "namespace"])
        return cls(urlunsplit(parts._replace(query=rest)), namespace=namespace)

    def __repr__(self) -> str:
        return f"RedisTransport({mask_url(self.url)!r}, channel={self.channel!r})"

    async def open(self, listener: Listener) -> None:
        """Connect (checked with PING) and start listening."""
        client = aioredis.Redis.from_url(self.url, socket_connect_timeout=5)
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            await client.aclose()
            raise TransportError(
                f"cannot reach Redis at {mask_url(self.url)}: {mask_text(str(exc))}"
            ) from exc
        self._client = client
        ready = asyncio.Event()
        self._listen_task = asyncio.create_task(self._listen(listener, ready))
        await ready.wait()

    async def _listen(self, listener: Listener, ready: asyncio.Event) -> None:
        delay = 0.1
        while True:
            assert self._client is not None
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                ready.set()
                delay = 0.1
                async for message in pubsub.listen():
                    with contextlib.suppress(ValueError, TypeError):
                        listener(int(message["data"]))
            except (RedisError, OSError) as exc:
                log.warning(
                    "Redis listener lost its connection (%s); retrying in %.1fs", exc, delay
                )
                ready.set()
                await asyncio.sleep(delay + random.uniform(0, delay / 2))
                delay = min(delay * 2, 10.0)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]

    async def publish(self, position: int) -> None:
        """Publish; a failure is logged, not raised (subscribers will poll)."""
        if self._client is None:
            return
        try:
            await self._client.publish(self.channel, str(position))
        except (RedisError, OSError) as exc:
            log.warning("could not publish a commit signal to Redis: %s", exc)

    async def close(self) -> None:
        task, self._listen_task = self._listen_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
