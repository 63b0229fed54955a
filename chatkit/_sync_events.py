"""Blocking twins of the event outbox: `SyncEvents`, its subscriptions and dispatchers."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Literal

import anyio.to_thread

from ._portal import Runner, SyncResource, sync
from .events import Event
from .services import Dispatcher, Events, Subscription
from .stores.base import DispatchStatus

__all__ = ["SyncDispatcher", "SyncEvents", "SyncSubscription"]


class SyncSubscription(Iterator[Event], AbstractContextManager["SyncSubscription"]):
    """Blocking twin of `Subscription`: iterate it, close it (or use ``with``)."""

    def __init__(self, subscription: Subscription, runner: Runner) -> None:
        self._subscription = subscription
        self._runner = runner

    @property
    def position(self) -> int | None:
        """Position of the last event handed out."""
        return self._subscription.position

    def __next__(self) -> Event:
        try:
            return self._runner.portal().call(self._subscription.__anext__)
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        """Stop and save the position."""
        self._runner.portal().call(self._subscription.aclose)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._runner.portal().call(self._subscription.__aexit__, exc_type, exc, tb)


class SyncDispatcher(AbstractContextManager["SyncDispatcher"]):
    """Blocking twin of `Dispatcher`; its handler is a plain function run in a worker thread."""

    def __init__(self, dispatcher: Dispatcher, runner: Runner) -> None:
        self._dispatcher = dispatcher
        self._runner = runner

    @property
    def group(self) -> str:
        """The dispatch group's name."""
        return self._dispatcher.group

    @property
    def owner(self) -> str:
        """This dispatcher's name in the store's leases."""
        return self._dispatcher.owner

    def run_once(self) -> int:
        """Lease and handle one batch; the number of events handled (0: nothing to do)."""
        return self._runner.portal().call(self._dispatcher.run_once)

    def drain(self) -> int:
        """Handle batches until none is left for this dispatcher; the number handled."""
        return self._runner.portal().call(self._dispatcher.drain)

    def run(self) -> None:
        """Handle batches as events are committed, until `stop` (call it from another thread)."""
        self._runner.portal().call(self._dispatcher.run)

    def stop(self) -> None:
        """Make `run` return after the batch in hand."""

        async def stop() -> None:
            self._dispatcher.stop()

        self._runner.portal().call(stop)

    def status(self) -> DispatchStatus:
        """Where the group stands."""
        return self._runner.portal().call(self._dispatcher.status)

    def close(self) -> None:
        """Finish the last handled batch now."""
        self._runner.portal().call(self._dispatcher.close)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SyncEvents(SyncResource[Events]):
    """Blocking twin of `Events`."""

    list = sync(Events.list)
    dispatch_status = sync(Events.dispatch_status)
    position = sync(Events.position)
    set_position = sync(Events.set_position)

    def subscribe(
        self,
        *,
        consumer: str | None = None,
        after: int | None = None,
        conversation_id: str | None = None,
        types: Collection[str] | None = None,
        batch_size: int = 200,
    ) -> SyncSubscription:
        """Blocking twin of `Events.subscribe`."""
        return SyncSubscription(
            self._target.subscribe(
                consumer=consumer,
                after=after,
                conversation_id=conversation_id,
                types=types,
                batch_size=batch_size,
            ),
            self._runner,
        )

    def dispatcher(
        self,
        group: str,
        handler: Callable[[builtins.list[Event]], object],
        *,
        batch_size: int = 100,
        lease_seconds: float = 30.0,
        start: Literal["beginning", "end"] = "beginning",
        types: Collection[str] | None = None,
        retry_delay: float = 1.0,
        max_retry_delay: float = 300.0,
    ) -> SyncDispatcher:
        """Blocking twin of `Events.dispatcher`: ``handler`` is a plain function."""

        async def run_handler(events: builtins.list[Event]) -> None:
            await anyio.to_thread.run_sync(handler, events)

        return SyncDispatcher(
            self._target.dispatcher(
                group,
                run_handler,
                batch_size=batch_size,
                lease_seconds=lease_seconds,
                start=start,
                types=types,
                retry_delay=retry_delay,
                max_retry_delay=max_retry_delay,
            ),
            self._runner,
        )
