"""`WebContext`: what every route of the web app shares (the kit, settings, hooks)."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..models import Website
from ..ratelimit import Decision, RateLimiter
from .settings import WebSettings

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal
    from starlette.requests import HTTPConnection

    from .._facade import AsyncChatKit
    from .auth import Authenticate
    from .policy import Policy, PolicyFactory

__all__ = ["WebContext"]

logger = logging.getLogger("chatkit.web")

T = TypeVar("T")


class WebContext:
    """The state of one web app: reach it in a route with ``Depends(web_context)``.

    Every call into the kit goes through `call`, which runs it on the loop
    the kit belongs to: the serving loop for an `AsyncChatKit`, the kit's own
    background loop for a blocking `ChatKit`.

    Attributes:
        kit: The async kit the app uses (a `ChatKit`'s ``aio``).
        settings: The app's `WebSettings`.
        authenticate: The host's agent authentication hook, if any.
        limiter: The `chatkit.ratelimit.RateLimiter` applying
            `WebSettings.rate_limits`: `WebSettings.limiter` when given, else
            one on the kit's store, or on Redis when
            `WebSettings.rate_limit_url` names it.
        policy: The app's authorization `Policy` (`chatkit.web.policy`).
    """

    def __init__(
        self,
        kit: AsyncChatKit,
        settings: WebSettings,
        *,
        authenticate: Authenticate | None = None,
        portal: Callable[[], BlockingPortal] | None = None,
        policy: PolicyFactory | None = None,
    ) -> None:
        from .policy import DefaultPolicy

        self.kit = kit
        self.settings = settings
        self.authenticate = authenticate
        self.limiter: RateLimiter = settings.limiter or _limiter(kit, settings)
        self._portal = portal
        self._proxies = [ipaddress.ip_network(n) for n in settings.trusted_proxies]
        self._origins: tuple[float, frozenset[str]] | None = None
        self.policy: Policy = (policy or DefaultPolicy)(self)

    async def call(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Await ``fn(*args, **kwargs)`` (a kit method) on the kit's own event loop.

        Example:
            ```python
            conv = await web.call(web.kit.conversations.get, conversation_id)
            ```
        """
        if self._portal is None:
            return await fn(*args, **kwargs)
        future = self._portal().start_task_soon(functools.partial(fn, *args, **kwargs))
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise

    async def stream(self, chunks: AsyncIterator[T]) -> AsyncIterator[T]:
        """Iterate ``chunks`` (an async iterator from a kit method), each step on the kit's loop.

        Example:
            ```python
            async for chunk in web.stream(web.kit.attachments.open(attachment_id)):
                ...
            ```
        """
        if self._portal is None:
            async for item in chunks:
                yield item
            return

        async def step() -> list[T]:
            try:
                return [await chunks.__anext__()]
            except StopAsyncIteration:
                return []

        try:
            while True:
                items = await self.call(step)
                if not items:
                    return
                yield items[0]
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await self.call(close)

    async def hit(self, name: str, key: str) -> Decision:
        """Count a request of ``key`` against the rate limit ``name`` (on the kit's loop).

        Example:
            ```python
            await web.hit("new_session", web.client_ip(request))
            ```

        Raises:
            RateLimitedError: The limit is used up; nothing was counted. The
                app answers 429 with its ``headers`` (``Retry-After``,
                ``RateLimit-*``).
        """
        return await self.call(self.limiter.enforce, name, key)

    async def check(self, name: str, key: str) -> Decision:
        """Refuse early when ``key`` has used up the limit ``name``, without counting a request.

        For limits that count only failures (``failed_auth``): `check`
        before trying, `hit` when the attempt failed.

        Raises:
            RateLimitedError: The limit is used up (429).
        """
        decision: Decision = await self.call(self.limiter.check, name, key)
        if not decision.allowed:
            raise decision.error()
        return decision

    def client_ip(self, connection: HTTPConnection) -> str:
        """The client's IP address: the peer's, or the one a trusted proxy reports.

        ``X-Forwarded-For`` is read right to left, skipping trusted proxies'
        addresses; it is ignored unless the peer is a trusted proxy
        (`WebSettings.trusted_proxies`).
        """
        peer = connection.client.host if connection.client else ""
        if not self._proxies or not self._trusted(peer):
            return peer
        hops = [
            h.strip() for h in ",".join(connection.headers.getlist("x-forwarded-for")).split(",")
        ]
        for hop in reversed([h for h in hops if h]):
            if not self._trusted(hop):
                try:
                    return ipaddress.ip_address(hop).compressed
                except ValueError:
                    return peer
        return peer

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._proxies)

    async def website_origins(self) -> frozenset[str]:
        """Every origin some website allows (cached `WebSettings.website_cache_seconds`).

        Used to answer CORS preflights, which carry no website key; each
        request itself is checked against its own website's list.
        """
        now = time.monotonic()
        if (
            self._origins is not None
            and now - self._origins[0] < self.settings.website_cache_seconds
        ):
            return self._origins[1]
        sites: list[Website] = await self.call(self.kit.websites.list)
        origins = frozenset(o for site in sites for o in site.origins)
        self._origins = (now, origins)
        return origins


def _limiter(kit: AsyncChatKit, settings: WebSettings) -> RateLimiter:
    """The default limiter: on the kit's store, or where `WebSettings.rate_limit_url` says."""
    secret = settings.rate_limit_secret
    if secret is None:
        logger.warning(
            "rate-limit keys are hashed with a public default key: set "
            "WebSettings.rate_limit_secret (or CHATKIT_RATE_LIMIT_SECRET), "
            "the same in every process"
        )
    return RateLimiter(
        settings.rate_limit_url or kit,
        settings.rate_limits,
        secret=None if secret is None else secret.get_secret_value(),
    )
