"""Outbox dispatch shared by several processes: each event handled by one of them.

A *dispatch group* is a named piece of downstream work (webhooks, a CRM
sync, an audit log). Any number of `Dispatcher` objects of the same group,
in any process or on any machine using the same store, share its events:
the store leases each range of events to one dispatcher at a time, and a
range whose dispatcher dies is taken over by another once its lease runs out.

Delivery is at least once. A range is finished (never handed out again)
in the same transaction that leases the next one, after its handler
returned; a dispatcher that dies between the two, or whose lease ran out
while it worked, leaves the range to be handled again. Handlers therefore
de-duplicate by `BaseEvent.id`, which is stable across deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Collection
from typing import Literal

from ..errors import InvalidInputError
from ..events import Event
from ..stores.base import DispatchStatus, Lease
from ._core import Core

__all__ = ["Dispatcher", "EventHandler"]

log = logging.getLogger(__name__)

EventHandler = Callable[[list[Event]], Awaitable[None]]
"""An async callable taking one batch of events, oldest first."""


class Dispatcher:
    """Hands batches of outbox events to ``handler``, sharing them with its group.

    Get one from `Events.dispatcher`. While a handler runs, its lease is
    renewed in the background, so a slow batch is not taken over by another
    dispatcher as long as this process is alive.

    A handler that raises gives its batch back: it is retried (by any
    dispatcher of the group) after a backoff that doubles with each attempt,
    from ``retry_delay`` up to ``max_retry_delay`` seconds.

    Example:
        ```python
        async def post(events):
            for event in events:
                await webhook.send(event.id, event.model_dump_json())

        dispatcher = kit.events.dispatcher("webhooks", post)
        await dispatcher.run()  # until dispatcher.stop()
        ```
    """

    def __init__(
        self,
        core: Core,
        group: str,
        handler: EventHandler,
        *,
        batch_size: int = 100,
        lease_seconds: float = 30.0,
        start: Literal["beginning", "end"] = "beginning",
        types: Collection[str] | None = None,
        retry_delay: float = 1.0,
        max_retry_delay: float = 300.0,
    ) -> None:
        self._core = core
        self._group = group
        self._handler = handler
        self._batch_size = batch_size
        self._lease_seconds = lease_seconds
        self._start = start
        self._types = frozenset(types) if types is not None else None
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._done: Lease | None = None
        self._start_position: int | None = None
        self._stopping = False
        self._lock = asyncio.Lock()

    @property
    def group(self) -> str:
        """The dispatch group's name."""
        return self._group

    @property
    def owner(self) -> str:
        """This dispatcher's name in the store's leases (host, process id, random part)."""
        return self._owner

    async def run_once(self) -> int:
        """Lease and handle one batch.

        Returns:
            The number of events handed to the handler (0 when there was
            nothing to do).

        Raises:
            Exception: Whatever the handler raised; the batch was given back
                for a later retry.
        """
        handled = await self._step()
        return 0 if handled is None else handled

    async def drain(self) -> int:
        """Handle batches until the group has no event left for this dispatcher.

        Returns the number of events this dispatcher handled. Events still
        leased by others, or waiting for a retry, are not waited for.
        """
        handled = 0
        while (count := await self._step()) is not None:
            handled += count
        return handled

    async def run(self) -> None:
        """Handle batches as events are committed, until `stop`.

        Handler errors are logged and the batch is retried later; the loop
        goes on. When idle it waits for a local commit or polls every
        ``event_poll_interval`` seconds (or at the next Redis signal).
        A `stop` that comes before `run` makes it return at once.
        """
        try:
            while not self._stopping:
                try:
                    count = await self._step()
                except Exception:
                    log.exception("dispatch group %r: handler failed; batch retried later", self)
                    continue
                if count is None and not self._stopping:
                    await self._core.wait_for_events(self._core.settings.event_poll_interval)
        finally:
            self._stopping = False  # the next run starts afresh
            await self.close()

    def stop(self) -> None:
        """Make `run` return after the batch in hand (it is finished first)."""
        self._stopping = True
        self._core.notify()

    async def close(self) -> None:
        """Finish the last handled batch now instead of with the next lease."""
        async with self._lock:
            if self._done is not None:
                store = await self._core.ready()
                finished, _ = await store.lease_events(
                    self._group, self._owner, limit=0, lease_seconds=0, done=self._done
                )
                self._warn_if_lost(self._done, finished)
                self._done = None

    async def status(self) -> DispatchStatus:
        """Where the group stands (see `DispatchStatus`)."""
        store = await self._core.ready()
        return await store.dispatch_status(self._group)

    async def __aenter__(self) -> Dispatcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"Dispatcher(group={self._group!r}, owner={self._owner!r})"

    # -- internals -------------------------------------------------------------

    async def _step(self) -> int | None:
        """Lease and handle one batch: the number handed over, ``None`` when there was none."""
        async with self._lock:
            lease = await self._lease()
            return None if lease is None else await self._handle(lease)

    async def _lease(self) -> Lease | None:
        store = await self._core.ready()
        if self._start_position is None:
            self._start_position = 0 if self._start == "beginning" else await store.last_position()
        done, self._done = self._done, None
        try:
            finished, lease = await store.lease_events(
                self._group,
                self._owner,
                limit=self._batch_size,
                lease_seconds=self._lease_seconds,
                done=done,
                start=self._start_position,
            )
        except BaseException:
            self._done = done  # not finished: try again with the next call
            raise
        if done is not None:
            self._warn_if_lost(done, finished)
        return lease

    async def _handle(self, lease: Lease) -> int:
        events = lease.events
        if self._types is not None:
            events = [e for e in events if e.type in self._types]
        if events:
            keeper = asyncio.create_task(self._keep(lease))
            try:
                await self._handler(events)
            except BaseException:
                delay = min(self._max_retry_delay, self._retry_delay * 2 ** (lease.attempts - 1))
                store = await self._core.ready()
                with contextlib.suppress(Exception):
                    await asyncio.shield(store.release_lease(lease, delay))
                raise
            finally:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
        self._done = lease
        return len(events)

    async def _keep(self, lease: Lease) -> None:
        """Renew ``lease`` every third of its duration while the handler works."""
        store = self._core.store
        while True:
            await asyncio.sleep(self._lease_seconds / 3)
            if await store.renew_lease(lease, self._lease_seconds) is None:
                log.warning("%r lost its lease on events %d-%d", self, lease.first, lease.last)
                return

    def _warn_if_lost(self, lease: Lease, finished: bool) -> None:
        if not finished:
            log.warning(
                "%r: the lease on events %d-%d ran out before it was finished; "
                "another dispatcher may handle them again",
                self,
                lease.first,
                lease.last,
            )


def check_dispatch_options(
    batch_size: int,
    lease_seconds: float,
    start: str,
    retry_delay: float,
    max_retry_delay: float = 300.0,
) -> None:
    """Validate `Events.dispatcher` arguments with typed errors."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError("batch_size must be a whole number >= 1", field="batch_size")
    if batch_size > 10_000:
        raise InvalidInputError("batch_size must be at most 10000", field="batch_size")
    if isinstance(lease_seconds, bool) or not isinstance(lease_seconds, (int, float)):
        raise InvalidInputError("lease_seconds must be a number", field="lease_seconds")
    if not 0.05 <= lease_seconds <= 86_400:
        raise InvalidInputError(
            "lease_seconds must be between 0.05 and 86400", field="lease_seconds"
        )
    if start not in ("beginning", "end"):
        raise InvalidInputError("start must be 'beginning' or 'end'", field="start")
    for field, delay in (("retry_delay", retry_delay), ("max_retry_delay", max_retry_delay)):
        if (
            isinstance(delay, bool)
            or not isinstance(delay, (int, float))
            or not 0 <= delay <= 86_400
        ):
            raise InvalidInputError(f"{field} must be a number from 0 to 86400", field=field)
