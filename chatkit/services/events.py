"""Reading and subscribing to the event outbox."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Collection
from types import TracebackType
from typing import Literal

from ..errors import InvalidInputError
from ..events import Event
from ..models import Page
from ..stores.base import DispatchStatus, SetCursor
from ._core import Core, check_limit
from .contacts import Service, check_key
from .dispatch import Dispatcher, EventHandler, check_dispatch_options

MAX_POSITION = 2**63 - 1
"""The largest outbox position a store can hold (a signed 64-bit integer)."""

__all__ = ["Events", "Subscription"]


class Subscription(AsyncIterator[Event]):
    """An endless, ordered stream of committed events. Get one from `Events.subscribe`.

    Events arrive in commit order, which is also their order within each
    conversation. With a ``consumer`` name, the position is saved in the
    store when you ask for the next event (so the previous one counts as
    handled), before each wait for new events, and on `aclose`; a consumer
    that stops or crashes resumes after the last saved position. At most the
    events of the last unsaved batch are delivered again: handle them
    idempotently by `BaseEvent.id`.

    Use it as ``async with kit.events.subscribe(consumer="x") as events:`` so
    that the position is saved when you stop.
    """

    def __init__(
        self,
        core: Core,
        *,
        after: int | None,
        consumer: str | None,
        conversation_id: str | None,
        types: Collection[str] | None,
        batch_size: int,
    ) -> None:
        self._core = core
        self._after = after
        self._consumer = consumer
        self._conversation_id = conversation_id
        self._types = frozenset(types) if types is not None else None
        self._batch_size = batch_size
        self._buffer: deque[Event] = deque()
        self._read: int | None = None
        self._delivered: int | None = None
        self._previous: int | None = None
        self._saved: int | None = None
        self._closed = False

    @property
    def position(self) -> int | None:
        """Position of the last event handed out (``None`` before the first)."""
        return self._delivered

    async def _start(self) -> int:
        store = await self._core.ready()
        if self._after is not None:
            return self._after
        if self._consumer is not None:
            return await store.get_cursor(self._consumer)
        return await store.last_position()

    async def _save(self) -> None:
        if self._consumer is not None and self._delivered not in (None, self._saved):
            assert self._delivered is not None
            await self._core.commit([SetCursor(self._consumer, self._delivered)])
            self._saved = self._delivered

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        if self._read is None:
            self._read = self._delivered = self._saved = await self._start()
        while not self._buffer:
            # Asking for more means everything read so far was handled.
            self._delivered = self._read
            if self._closed:
                raise StopAsyncIteration
            await self._save()
            assert self._read is not None
            batch = await self._core.store.read_events(self._read, self._batch_size)
            if not batch:
                await self._core.wait_for_events(self._core.settings.event_poll_interval)
                continue
            self._read = batch[-1].position
            self._buffer.extend(e for e in batch if self._wanted(e))
        event = self._buffer.popleft()
        self._previous, self._delivered = self._delivered, event.position
        return event

    def _wanted(self, event: Event) -> bool:
        if self._conversation_id is not None and event.conversation_id != self._conversation_id:
            return False
        return self._types is None or event.type in self._types

    async def aclose(self) -> None:
        """Stop and save the position (when the subscription has a consumer name)."""
        if not self._closed:
            self._closed = True
            self._buffer.clear()
            await self._save()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            # The event in hand was not handled: deliver it again next time.
            self._delivered = self._previous
        await self.aclose()


class Events(Service):
    """The event outbox: every state change, in commit order.

    Example:
        ```python
        async with kit.events.subscribe(consumer="audit-log") as events:
            async for event in events:
                print(event.position, event.type)
        ```
    """

    async def list(self, *, after: int | str = 0, limit: int = 100) -> Page[Event]:
        """One page of committed events with position greater than ``after``.

        ``next_cursor`` is the position to pass as ``after`` for the next page
        (as it is, or as an int).
        """
        check_limit(limit)
        if isinstance(after, str) and after.isascii() and after.isdigit() and len(after) <= 19:
            after = int(after)
        if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= MAX_POSITION:
            raise InvalidInputError(
                f"after must be a position from 0 to {MAX_POSITION}", field="after"
            )
        store = await self._core.ready()
        items = await store.read_events(after, limit + 1)
        if len(items) <= limit:
            return Page(items=items)
        return Page(items=items[:limit], next_cursor=str(items[limit - 1].position))

    def subscribe(
        self,
        *,
        consumer: str | None = None,
        after: int | None = None,
        conversation_id: str | None = None,
        types: Collection[str] | None = None,
        batch_size: int = 200,
    ) -> Subscription:
        """Follow the outbox as events are committed.

        Args:
            consumer: A durable name; the subscription resumes after the
                position saved under it. Without one, nothing is saved.
            after: Start after this position (overrides the saved one).
                Without ``after`` or a saved position, a named consumer starts
                at the beginning and an anonymous one at the newest event
                committed when you first iterate it.
            conversation_id: Only events of this conversation.
            types: Only events of these types (e.g. ``{"message.created"}``).
            batch_size: Events read from the store per round trip.
        """
        if consumer is not None and (not isinstance(consumer, str) or not consumer.strip()):
            raise InvalidInputError("consumer must be a non-empty name", field="consumer")
        if consumer is not None:
            check_key(consumer, "consumer")
        if conversation_id is not None:
            check_key(conversation_id, "conversation_id")
        if types is not None and (
            isinstance(types, str)
            or not isinstance(types, Collection)
            or not all(isinstance(t, str) for t in types)
        ):
            # A bare string would be a set of letters and silently match nothing.
            raise InvalidInputError("types must be a collection of event type names", field="types")
        if after is not None and (
            isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= MAX_POSITION
        ):
            raise InvalidInputError(
                f"after must be a position from 0 to {MAX_POSITION}", field="after"
            )
        check_limit(batch_size, 10_000)
        return Subscription(
            self._core,
            after=after,
            consumer=consumer,
            conversation_id=conversation_id,
            types=types,
            batch_size=batch_size,
        )

    def dispatcher(
        self,
        group: str,
        handler: EventHandler,
        *,
        batch_size: int = 100,
        lease_seconds: float = 30.0,
        start: Literal["beginning", "end"] = "beginning",
        types: Collection[str] | None = None,
        retry_delay: float = 1.0,
        max_retry_delay: float = 300.0,
    ) -> Dispatcher:
        """A worker of dispatch group ``group``: each event goes to one of the group's workers.

        Start one in every process that should share the work; see
        `Dispatcher` and the guide "Run on PostgreSQL and Redis".

        Args:
            group: The group's durable name (e.g. ``"webhooks"``).
            handler: ``async def handler(events: list[Event]) -> None``; a
                batch counts as handled when it returns.
            batch_size: Most events per batch.
            lease_seconds: How long a batch stays with a dispatcher that
                stopped renewing it (died) before another takes it over.
            start: Where a group that never ran begins: every event in the
                outbox, or only events committed from now on.
            types: Only hand these event types to the handler (others are
                passed over and count as handled).
            retry_delay: Seconds before a failed batch is retried; doubles
                with each attempt up to ``max_retry_delay``.
        """
        check_key(group, "group")
        if not callable(handler):
            raise InvalidInputError("handler must be an async callable", field="handler")
        if types is not None and (
            isinstance(types, str) or not all(isinstance(t, str) for t in types)
        ):
            raise InvalidInputError("types must be a collection of event type names", field="types")
        check_dispatch_options(batch_size, lease_seconds, start, retry_delay, max_retry_delay)
        return Dispatcher(
            self._core,
            group,
            handler,
            batch_size=batch_size,
            lease_seconds=lease_seconds,
            start=start,
            types=types,
            retry_delay=retry_delay,
            max_retry_delay=max(max_retry_delay, retry_delay),
        )

    async def dispatch_status(self, group: str) -> DispatchStatus:
        """Progress of a dispatch group: handed out, done, in flight, expired."""
        check_key(group, "group")
        store = await self._core.ready()
        return await store.dispatch_status(group)

    async def position(self, consumer: str) -> int:
        """The saved position of a named consumer (0 when it has none)."""
        check_key(consumer, "consumer")
        store = await self._core.ready()
        return await store.get_cursor(consumer)

    async def set_position(self, consumer: str, position: int) -> None:
        """Move a named consumer to ``position`` (to replay, or to skip ahead)."""
        check_key(consumer, "consumer")
        if isinstance(position, bool) or not isinstance(position, int) or position < 0:
            raise InvalidInputError("position must be >= 0", field="position")
        await self._core.commit([SetCursor(consumer, position)])
