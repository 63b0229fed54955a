"""Real time: WebSocket (and Server-Sent Events) delivery of events to customers and agents.

One `RealtimeHub` per app and process reads the event outbox
(``kit.events.subscribe``) and the kit's typing previews
(``kit.previews.watch``) and fans them out to every connection, asking
`RealtimeHub.policy` (``can_receive(principal, event)``) for each pushed
event. A client that (re)connects with the last position it saw first gets
what it missed from the outbox, then live events: no gap, no duplicate.

Endpoints (relative to where the app is mounted):

- ``GET /v1/realtime`` (WebSocket): frames are JSON text
  ``{"type": ..., "position": ..., "data": {...}}``.
- ``GET /v1/realtime/events`` (Server-Sent Events): the same frames as
  ``data:`` lines, the outbox position as the event ``id``.

The protocol, the close codes and scaling over Redis are described on the
docs page "The web app" (section "Real time").
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, Final, NamedTuple, Protocol, TypeAlias, runtime_checkable

from ..errors import InvalidTokenError, NotFoundError
from ..events import (
    ContactMerged,
    ConversationAssigned,
    ConversationStatusChanged,
    Event,
    MessageCreated,
)
from ..models import AuthorRole, Conversation, MessageKind, WebSession
from ..models._base import utcnow
from ..services.events import MAX_POSITION
from ..services.previews import TypingPreview
from ..stores.base import Gt
from ._deps import APIRouter, Header, HTTPConnection, Query, Request, StreamingResponse
from .auth import (
    ADMIN,
    AgentPrincipal,
    CustomerPrincipal,
    _agent_origin,
    authenticate_customer,
    bearer_token,
    current_agent,
    get_context,
)
from .context import WebContext
from .errors import AuthenticationError, PermissionDeniedError
from .origins import origin_allowed, request_origin, same_origin
from .policy import CUSTOMER_EVENTS, RECEIVING
from .sessions import TOKEN_PREFIX

try:
    from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
except ImportError as exc:  # pragma: no cover - fastapi brings starlette
    from .._optional import missing

    raise missing("fastapi", "the web app (chatkit.web)", exc) from exc

__all__ = [
    "CLOSE_BAD_FRAME",
    "CLOSE_FORBIDDEN",
    "CLOSE_SLOW_CONSUMER",
    "CLOSE_UNAUTHENTICATED",
    "CUSTOMER_EVENT_TYPES",
    "CanReceive",
    "ReceivePolicy",
    "RealtimeConnection",
    "RealtimeHub",
    "realtime_hub",
    "router",
]

logger = logging.getLogger("chatkit.web.realtime")

router = APIRouter(tags=["realtime"])

CLOSE_BAD_FRAME: Final = 4000
"""Close code: the client sent a frame that is not valid JSON of the protocol, or too many."""
CLOSE_UNAUTHENTICATED: Final = 4001
"""Close code: no ``auth`` frame in time, or an unknown, expired or revoked token."""
CLOSE_FORBIDDEN: Final = 4003
"""Close code: the credentials are valid but not from this origin."""
CLOSE_SLOW_CONSUMER: Final = 4008
"""Close code: the client read too slowly and its buffer (`WebSettings.realtime_buffer`) filled."""

CUSTOMER_EVENT_TYPES: Final = CUSTOMER_EVENTS
"""The outbox event types a customer may receive (of their own conversations; never notes):
the authorization policy's `chatkit.web.policy.CUSTOMER_EVENTS`, one list for both."""

_QUEUE_EVENTS: Final = frozenset(
    {"conversation.queued", "conversation.assigned", "conversation.status_changed"}
)
_MAX_CLIENT_FRAME: Final = 4096
_CLIENT_FRAMES_PER_10S: Final = 100

Receivable: TypeAlias = Event | TypingPreview
"""What is pushed: an outbox event, or a typing preview (which is never stored)."""
Principal: TypeAlias = CustomerPrincipal | AgentPrincipal


_OWNERS_SECONDS: Final = 30.0
"""At most this old a cached conversation's owners; events about it drop them sooner."""


class _Owners(NamedTuple):
    """What the default policy needs of a conversation (kept small: one per conversation)."""

    contact_id: str
    team: str | None
    assignee_id: str | None


@runtime_checkable
class CanReceive(Protocol):
    """Decides whether a connected client may receive one pushed event.

    ``can_receive`` may be a plain or an ``async`` method; it is called for
    every event and every connection, in one process's serving loop, so it
    should answer from memory (cache what it reads). A policy with a
    ``follow(event)`` method (as `chatkit.web.DefaultPolicy` has) is shown
    every outbox event, in commit order, before it is asked about it, and
    ``follow(None)`` when the hub starts reading (forget what you cached):
    the place to drop what an event changes.
    """

    def can_receive(
        self, principal: Principal, event: Receivable
    ) -> bool | Awaitable[bool]:  # pragma: no cover - a protocol
        """Whether ``principal`` may receive ``event``."""
        ...


class ReceivePolicy:
    """A `CanReceive` that follows who owns each conversation from the outbox.

    The hub keeps one as its index of conversation owners (which contact's
    connections an event may concern) when the app's policy narrows
    customers (``narrows_customers``, as `chatkit.web.DefaultPolicy` does),
    and decides with it only for a context without a ``policy`` of its own.
    Its rules:

    - A customer receives only `CUSTOMER_EVENT_TYPES` of conversations of
      their own contact (a merged contact's survivor included), never a
      private note and never a typing preview.
    - An agent receives the events and typing previews of conversations of
      their teams or assigned to them, and ``agent.status_changed``; an
      administrator (role ``admin``) receives everything.

    Who owns a conversation (contact, team, assignee) is cached until an
    event about the conversation (``conversation.*``, a merge) or for 30
    seconds at most; agents' teams are cached until an ``agent.updated`` or ``team.updated``
    event, contacts until a ``contact.merged`` event (the hub shows the policy
    every event, so the caches never go stale), or for ``cache_seconds`` when
    it is set.
    """

    narrows_customers: bool = True
    """Let the hub offer an event only to the customers of the conversation's contact
    (and every agent) before asking `can_receive`: one check per interested
    connection instead of one per connection. A subclass that lets customers
    receive more than this class does sets it to ``False``."""

    def __init__(self, web: WebContext, *, cache_seconds: float | None = None) -> None:
        self.web = web
        self.cache_seconds = cache_seconds
        self._conversations: dict[str, tuple[int | None, float, _Owners | None]] = {}
        self._contacts: dict[str, str | None] = {}
        self._teams: dict[str, tuple[float, frozenset[str]]] = {}
        self._seen: int | None = None

    async def can_receive(self, principal: Principal, event: Receivable) -> bool:
        """Whether ``principal`` may receive ``event`` (see the class description)."""
        if isinstance(event, TypingPreview):
            if isinstance(principal, CustomerPrincipal):
                return False
            conversation = await self._conversation(event.conversation_id, None)
            return await self._agent_sees(principal, conversation)
        self._invalidate(event)
        if isinstance(principal, CustomerPrincipal):
            if event.type not in CUSTOMER_EVENT_TYPES or event.conversation_id is None:
                return False
            if isinstance(event, MessageCreated) and event.message.kind is MessageKind.NOTE:
                return False
            conversation = await self._conversation(event.conversation_id, event.position)
            if conversation is None:
                return False
            return conversation.contact_id == await self._contact(principal.contact_id)
        if principal.role == ADMIN:
            return True
        if event.conversation_id is None:
            return event.type == "agent.status_changed"
        conversation = await self._conversation(event.conversation_id, event.position)
        return await self._agent_sees(principal, conversation)

    def _invalidate(self, event: Event) -> None:
        if event.position is None or event.position == self._seen:
            return
        self._seen = event.position
        if event.conversation_id is not None and event.type.startswith("conversation."):
            # Assigned, queued (a team), status, purged...: read it again when needed.
            self._conversations.pop(event.conversation_id, None)
        if isinstance(event, ContactMerged):
            self._contacts.clear()
            for moved in event.moved_conversation_ids:
                self._conversations.pop(moved, None)
        elif event.type in ("agent.updated", "team.updated"):
            self._teams.clear()

    async def _agent_sees(self, agent: AgentPrincipal, conversation: _Owners | None) -> bool:
        if agent.role == ADMIN:
            return True
        if conversation is None:
            return False
        if conversation.assignee_id == agent.agent_id:
            return True
        return conversation.team is not None and conversation.team in await self._agent_teams(
            agent.agent_id
        )

    async def _conversation(self, conversation_id: str, position: int | None) -> _Owners | None:
        now = time.monotonic()
        cached = self._conversations.get(conversation_id)
        if cached is not None and now - cached[1] < _OWNERS_SECONDS:
            return cached[2]
        try:
            conversation: Conversation = await self.web.call(
                self.web.kit.conversations.get, conversation_id
            )
            found: _Owners | None = _Owners(
                conversation.contact_id, conversation.team, conversation.assignee_id
            )
        except NotFoundError:
            found = None
        if len(self._conversations) > 1_000:
            self._conversations.clear()
        self._conversations[conversation_id] = (position, now, found)
        return found

    async def _contact(self, contact_id: str) -> str | None:
        if contact_id not in self._contacts:
            try:
                contact = await self.web.call(self.web.kit.contacts.get, contact_id)
                self._contacts[contact_id] = contact.id
            except NotFoundError:
                self._contacts[contact_id] = None
        return self._contacts[contact_id]

    async def _agent_teams(self, agent_id: str) -> frozenset[str]:
        now = time.monotonic()
        cached = self._teams.get(agent_id)
        if cached is not None and (
            self.cache_seconds is None or now - cached[0] < self.cache_seconds
        ):
            return cached[1]
        try:
            agent = await self.web.call(self.web.kit.agents.get, agent_id)
            teams = frozenset(agent.teams)
        except NotFoundError:
            teams = frozenset()
        self._teams[agent_id] = (now, teams)
        return teams


def _frame(kind: str, position: int | None, data: dict[str, Any]) -> str:
    return json.dumps({"type": kind, "position": position, "data": data}, default=str)


_PING: Final = _frame("ping", None, {})
_PONG: Final = _frame("pong", None, {})


def _customer_data(event: Event) -> dict[str, Any]:
    """What a customer is shown of an event: nothing an agent keeps to themselves."""
    if isinstance(event, MessageCreated):
        from .customer import _message_view

        view = _message_view(event.message)
        return {"conversation_id": event.conversation_id, "message": view.model_dump(mode="json")}
    data: dict[str, Any] = {"conversation_id": event.conversation_id}
    if isinstance(event, ConversationStatusChanged):
        data.update(from_status=event.from_status.value, to_status=event.to_status.value)
    elif isinstance(event, ConversationAssigned):
        data.update(assigned=event.assignee_id is not None)
    return data


class RealtimeConnection:
    """One connected client: its principal, position and bounded buffer of frames.

    An idle WebSocket connection holds no task, timer or queue of its own:
    frames go to a buffer made when the first one comes, a writer task runs
    only while there are frames to send, and the hub's heartbeat pings the
    connections that were sent nothing for `WebSettings.realtime_ping_seconds`.

    Attributes:
        principal: Who is connected.
        last: The outbox position this connection is past (events up to it
            were sent or not meant for it).
        live: Whether it caught up with the outbox and receives live events.
        overflowed: Whether its buffer filled (it is being closed with
            `CLOSE_SLOW_CONSUMER`).
        gone: Whether the server ended it (signed out, slow consumer, failure).
    """

    __slots__ = (
        "_catch_up",
        "_frames",
        "_limit",
        "_send",
        "_space",
        "_waiter",
        "_writer",
        "contact_key",
        "ended",
        "gone",
        "hub",
        "last",
        "live",
        "on_gone",
        "overflowed",
        "principal",
        "queue_views",
        "queued",
        "quiet_since",
        "refreshing",
    )

    def __init__(
        self,
        hub: RealtimeHub,
        principal: Principal,
        last: int,
        buffer: int,
        send: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.hub = hub
        self.principal = principal
        self.last = last
        self.live = False
        self.overflowed = False
        self.ended = False
        self.gone = False
        self.queued: set[str] = set()
        self.queue_views: dict[str, str] = {}
        self.refreshing = False
        self.on_gone: Callable[[], object] | None = None
        self.contact_key: str | None = None
        self.quiet_since = time.monotonic()
        self._limit = buffer
        self._send = send
        self._frames: deque[str] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._space: asyncio.Future[None] | None = None
        self._catch_up: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Frames queued and not yet sent."""
        return len(self._frames) if self._frames is not None else 0

    def end(self) -> None:
        """Close the connection from the server's side (slow consumer, failure)."""
        if self.gone:
            return
        self.gone = True
        self._frames = None
        writer, self._writer = self._writer, None
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()
        _wake(self._waiter)
        _wake(self._space)
        if self.on_gone is not None:
            self.on_gone()

    def offer(self, frame: str) -> None:
        """Queue a live frame; a full buffer marks the connection as a slow consumer."""
        if self.overflowed or self.gone:
            return
        frames = self._frames
        if frames is None:
            frames = self._frames = deque()
        elif len(frames) >= self._limit:
            self.overflowed = True
            self.hub.disconnect(self)
            self.end()
            return
        frames.append(frame)
        self._queued()

    async def put(self, frame: str) -> None:
        """Queue a frame, waiting while the buffer is full (catching up: never overflows)."""
        while self._frames is not None and len(self._frames) >= self._limit and not self.gone:
            self._space = asyncio.get_running_loop().create_future()
            await self._space
        if self.gone:
            return
        if self._frames is None:
            self._frames = deque()
        self._frames.append(frame)
        self._queued()

    def _queued(self) -> None:
        self.quiet_since = time.monotonic()
        if self._send is not None:
            if self._writer is None:
                self._writer = asyncio.create_task(self._write())
        else:
            _wake(self._waiter)

    def _take(self) -> str | None:
        frames = self._frames
        if not frames:
            return None
        frame = frames.popleft()
        if not frames:
            self._frames = None  # an idle connection keeps no buffer
        _wake(self._space)
        return frame

    async def _write(self) -> None:
        """Send the queued frames, then end (a writer runs only while there are frames)."""
        send = self._send
        assert send is not None
        try:
            while (frame := self._take()) is not None:
                await send(frame)
        except Exception:  # the client left: its reader sees the disconnect
            self._frames = None
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None

    async def next_frame(self, timeout: float) -> str | None:
        """The next frame to send, or ``None`` when ``timeout`` passed (send a heartbeat).

        For a connection without a ``send`` function (Server-Sent Events),
        which pulls its frames.
        """
        frame = self._take()
        if frame is not None or self.gone:
            return frame
        self._waiter = waiter = asyncio.get_running_loop().create_future()
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
        # cancellation that races with a frame arriving.
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            return None
        finally:
            self._waiter = None
        return self._take()


def _wake(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


class RealtimeHub:
    """The real-time fan-out of one app in one process: one outbox reader, many connections.

    Get it with `realtime_hub`. It starts with the first connection and
    stops when the last one leaves. Its tasks: the outbox reader, the
    typing previews' reader, and the heartbeat that pings idle WebSocket
    clients (and closes those whose customer session ended).

    Attributes:
        web: The app's context.
        policy: Decides what each connection receives (`CanReceive`): the
            app's authorization policy (``kit.asgi(policy=...)``,
            `chatkit.web.DefaultPolicy` by default).
        position: The newest outbox position the reader handed out.
        connections: The connected clients.
    """

    def __init__(self, web: WebContext) -> None:
        self.web = web
        policy = getattr(web, "policy", None)
        self.policy: CanReceive = policy if isinstance(policy, CanReceive) else ReceivePolicy(web)
        # Who owns each conversation, followed from the outbox: with a policy under which
        # customers receive only their own contact's conversations (``narrows_customers``),
        # an event is offered to the agents and that contact's connections alone.
        self._owners: ReceivePolicy | None = None
        if isinstance(self.policy, ReceivePolicy):
            self._owners = self.policy if self.policy.narrows_customers else None
        elif getattr(self.policy, "narrows_customers", False):
            self._owners = ReceivePolicy(web)
        # A policy that caches what it reads for `can_receive` (`DefaultPolicy`) is shown
        # every event, in commit order, before it is asked about it.
        follow = getattr(self.policy, "follow", None)
        self._follow: Callable[[Event | None], object] | None = follow if callable(follow) else None
        self.position = 0
        self.connections: set[RealtimeConnection] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._agents: set[RealtimeConnection] = set()
        self._by_contact: dict[str, set[RealtimeConnection]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()

    async def _can_receive(self, principal: Principal, event: Receivable) -> bool:
        answer = self.policy.can_receive(principal, event)
        if inspect.isawaitable(answer):
            answer = await answer
        return bool(answer)

    # -- lifecycle -----------------------------------------------------------

    async def _start(self) -> None:
        async with self._lock:
            if self._tasks and not any(t.done() for t in self._tasks):
                return
            for task in self._tasks:
                task.cancel()
            if not any(c.live for c in self.connections):
                # A fresh start; with live connections the reader goes on from
                # where it was, so they miss nothing.
                store = await self.web.call(self.web.kit._core.ready)
                self.position = await self.web.call(store.last_position)
            if self._follow is not None:
                self._follow(None)  # it saw no event while the reader was stopped
            self._tasks = [
                asyncio.create_task(self._read_outbox(), name="chatkit-realtime-outbox"),
                asyncio.create_task(self._read_previews(), name="chatkit-realtime-previews"),
                asyncio.create_task(self._heartbeat(), name="chatkit-realtime-heartbeat"),
            ]

    def _stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()

    async def _read_outbox(self) -> None:
        RECEIVING.set(True)  # this task's context only: the policy may answer from its cache
        delay = 0.5
        while True:
            subscription = self.web.kit.events.subscribe(after=self.position)
            try:
                async for event in self.web.stream(subscription):
                    await self._fan_out(event)
                    delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store is down: retry from the same position
                logger.warning(
                    "real-time outbox reader failed (%s); retrying in %.1fs",
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _heartbeat(self) -> None:
        """Ping the WebSocket clients that were sent nothing for ``realtime_ping_seconds``.

        A customer's session is checked first: one that ended or expired is
        closed with `CLOSE_UNAUTHENTICATED` instead.
        """
        every = self.web.settings.realtime_ping_seconds
        while True:
            await asyncio.sleep(every / 4)
            now = time.monotonic()
            for connection in list(self.connections):
                if connection._send is None or connection.gone:
                    continue
                if now - connection.quiet_since < every:
                    continue
                connection.quiet_since = now
                if isinstance(connection.principal, CustomerPrincipal):
                    signed_in = await _still_signed_in(self.web, connection.principal)
                    await asyncio.sleep(0)  # many at once: let the loop breathe between reads
                    if not signed_in:
                        connection.ended = True
                        self.disconnect(connection)
                        connection.end()
                        continue
                connection.offer(_PING)

    async def _read_previews(self) -> None:
        RECEIVING.set(True)
        watch = await self.web.call(self._watch)
        try:
            async for preview in self.web.stream(watch):
                await self._fan_out_preview(preview)
        finally:
            await self.web.call(self._close_watch, watch)

    async def _watch(self) -> Any:
        return self.web.kit.previews.watch()

    @staticmethod
    async def _close_watch(watch: Any) -> None:
        watch.close()

    # -- connections ---------------------------------------------------------

    async def connect(
        self,
        principal: Principal,
        after: int | None,
        send: Callable[[str], Awaitable[None]] | None = None,
    ) -> RealtimeConnection:
        """Register a client; it first catches up from ``after`` (``None``: from now).

        A position past the newest committed one counts as the newest. With
        ``send`` (a WebSocket's ``send_text``), frames are pushed through it
        and the hub's heartbeat pings the client when idle; without it, the
        caller pulls them with `RealtimeConnection.next_frame`.
        """
        connection = RealtimeConnection(self, principal, 0, self.web.settings.realtime_buffer, send)
        # Counted before the reader starts, so another client leaving meanwhile
        # does not stop it.
        self.connections.add(connection)
        try:
            await self._start()
            store = await self.web.call(self.web.kit._core.ready)
            newest = max(self.position, await self.web.call(store.last_position))
        except BaseException:
            self.disconnect(connection)
            raise
        connection.last = self.position if after is None else min(after, newest)
        principal = connection.principal
        if isinstance(principal, AgentPrincipal):
            self._agents.add(connection)
        elif self._owners is not None:
            contact = await self._owners._contact(principal.contact_id)
            connection.contact_key = contact
            if contact is not None and connection in self.connections:
                self._by_contact.setdefault(contact, set()).add(connection)
        connection._catch_up = asyncio.create_task(self._catch_up(connection))
        return connection

    def disconnect(self, connection: RealtimeConnection) -> None:
        """Forget a client (idempotent); the hub stops with the last one."""
        self.connections.discard(connection)
        self._agents.discard(connection)
        if connection.contact_key is not None:
            group = self._by_contact.get(connection.contact_key)
            if group is not None:
                group.discard(connection)
                if not group:
                    del self._by_contact[connection.contact_key]
        task = connection._catch_up
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
        if not self.connections:
            self._stop()

    async def _catch_up(self, connection: RealtimeConnection) -> None:
        """Send what the outbox holds after the connection's position, then go live."""
        RECEIVING.set(True)
        try:
            while True:
                page = await self.web.call(
                    self.web.kit.events.list, after=connection.last, limit=200
                )
                for event in page.items:
                    frame = await self._frame_for(connection, event)
                    assert event.position is not None
                    connection.last = event.position
                    if frame is not None:
                        await connection.put(frame)
                # No await between this check and going live: the reader's next
                # event is past both positions, so nothing is missed or sent twice.
                if not page.items and connection.last >= self.position:
                    connection.live = True
                    break
            connection.offer(_frame("ready", connection.last, {"principal": _who(connection)}))
            if isinstance(connection.principal, CustomerPrincipal):
                await self._watch_queue(connection)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("real-time catch-up failed (%s)", type(exc).__name__)
            connection.end()
        finally:
            connection._catch_up = None

    async def _frame_for(self, connection: RealtimeConnection, event: Event) -> str | None:
        if not await self._can_receive(connection.principal, event):
            return None
        if isinstance(connection.principal, CustomerPrincipal):
            if event.type in _QUEUE_EVENTS and event.conversation_id is not None:
                connection.queued.add(event.conversation_id)
            return _frame(event.type, event.position, _customer_data(event))
        data = event.model_dump(mode="json", exclude={"type", "position"})
        return _frame(event.type, event.position, data)

    async def _targets(self, event: Event) -> list[RealtimeConnection]:
        """The connections that may receive ``event``: all, or fewer when the policy narrows."""
        if self._follow is not None:
            self._follow(event)
        policy = self._owners
        if policy is None:
            return list(self.connections)
        policy._invalidate(event)  # it may not be asked about this event at all
        if isinstance(event, ContactMerged):
            moved = self._by_contact.pop(event.merged_contact_id, set())
            if moved and event.contact_id is not None:
                self._by_contact.setdefault(event.contact_id, set()).update(moved)
                for connection in moved:
                    connection.contact_key = event.contact_id
        if event.conversation_id is None:
            return list(self._agents)
        owners = await policy._conversation(event.conversation_id, event.position)
        if owners is None:
            return list(self._agents)
        # Those the event concerns most come first: the conversation's assignee, then its
        # contact's customers, then everyone else who may see it (the rest of the team).
        first: list[RealtimeConnection] = []
        rest: list[RealtimeConnection] = []
        assignee = owners.assignee_id
        for connection in self._agents:
            principal = connection.principal
            mine = isinstance(principal, AgentPrincipal) and principal.agent_id == assignee
            (first if mine else rest).append(connection)
        if event.type in CUSTOMER_EVENT_TYPES:
            first.extend(self._by_contact.get(owners.contact_id, ()))
        first.extend(rest)
        return first

    async def _fan_out(self, event: Event) -> None:
        assert event.position is not None
        self.position = event.position
        frames: dict[str, str] = {}
        queue_event = event.type in _QUEUE_EVENTS
        for connection in await self._targets(event):
            if not connection.live or event.position <= connection.last:
                continue
            connection.last = event.position
            if not await self._can_receive(connection.principal, event):
                continue
            customer = isinstance(connection.principal, CustomerPrincipal)
            key = "customer" if customer else "agent"
            if key not in frames:
                data = (
                    _customer_data(event)
                    if customer
                    else event.model_dump(mode="json", exclude={"type", "position"})
                )
                frames[key] = _frame(event.type, event.position, data)
            connection.offer(frames[key])
            if customer and queue_event and event.conversation_id is not None:
                connection.queued.add(event.conversation_id)
        if queue_event:
            # Another conversation leaving the queue moves the waiting ones up.
            for connection in list(self.connections):
                if connection.queued and connection.live:
                    self._refresh_queue(connection)

    async def _fan_out_preview(self, preview: TypingPreview) -> None:
        await self._agent_typing(preview)
        frame: str | None = None
        for connection in list(self.connections):
            if not connection.live or not await self._can_receive(connection.principal, preview):
                continue
            if frame is None:
                frame = _frame(
                    "typing",
                    None,
                    {
                        "conversation_id": preview.conversation_id,
                        "author": preview.author.model_dump(mode="json"),
                        "text": preview.text,
                        "at": preview.at.isoformat(),
                    },
                )
            connection.offer(frame)

    async def _agent_typing(self, preview: TypingPreview) -> None:
        """Tell the conversation's customer that an agent is typing (never what).

        Only with a policy that narrows customers to their own contact's
        conversations (`DefaultPolicy`): the frame goes to that contact's
        connections alone.
        """
        if preview.author.role is not AuthorRole.AGENT or self._owners is None:
            return
        try:
            conversation = await self.web.call(
                self.web.kit.conversations.get, preview.conversation_id
            )
        except NotFoundError:
            return
        targets = self._by_contact.get(conversation.contact_id, ())
        frame = _frame(
            "agent.typing",
            None,
            {"conversation_id": conversation.id, "typing": preview.text != ""},
        )
        for connection in list(targets):
            if connection.live:
                connection.offer(frame)

    # -- queue positions (customers) -------------------------------------------

    async def _watch_queue(self, connection: RealtimeConnection) -> None:
        assert isinstance(connection.principal, CustomerPrincipal)
        contact_id = connection.contact_key
        if contact_id is None:
            try:
                contact = await self.web.call(
                    self.web.kit.contacts.get, connection.principal.contact_id
                )
            except NotFoundError:
                return
            contact_id = contact.id
        # Only the contact's conversations waiting in a queue (most customers have none):
        # nothing else is read, or kept in the store's record cache, per connection.
        store = await self.web.call(self.web.kit._core.ready)
        waiting: list[Conversation] = await self.web.call(
            store.find,
            Conversation,
            {"contact_id": contact_id, "queue_key": Gt("")},
            order_by="queue_key",
            limit=20,
        )
        connection.queued.update(c.id for c in waiting)
        if connection.queued:
            await self._send_queue(connection)

    def _refresh_queue(self, connection: RealtimeConnection) -> None:
        if connection.refreshing:
            return
        connection.refreshing = True

        async def later() -> None:
            try:
                await asyncio.sleep(0.2)
                await self._send_queue(connection)
            except Exception as exc:
                logger.warning("queue position update failed (%s)", type(exc).__name__)
            finally:
                connection.refreshing = False

        task = asyncio.create_task(later())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_queue(self, connection: RealtimeConnection) -> None:
        from .customer import _queue_view

        for conversation_id in sorted(connection.queued):
            if connection not in self.connections:
                return
            try:
                conversation = await self.web.call(self.web.kit.conversations.get, conversation_id)
            except NotFoundError:
                connection.queued.discard(conversation_id)
                continue
            view = await self.web.call(_queue_view, self.web, conversation)
            frame = _frame(
                "queue.position",
                None,
                {"conversation_id": conversation_id, **view.model_dump(mode="json")},
            )
            if connection.queue_views.get(conversation_id) != frame:
                connection.queue_views[conversation_id] = frame
                connection.offer(frame)
            if not view.queued:
                connection.queued.discard(conversation_id)


_HUBS: weakref.WeakKeyDictionary[WebContext, RealtimeHub] = weakref.WeakKeyDictionary()


def realtime_hub(web: WebContext) -> RealtimeHub:
    """The `RealtimeHub` of an app's context in this process (made on first use).

    Example:
        ```python
        from chatkit.web.realtime import realtime_hub

        app = kit.asgi()
        hub = realtime_hub(app.state.chatkit)
        print(len(hub.connections), "clients connected")
        ```
    """
    hub = _HUBS.get(web)
    if hub is None:
        hub = _HUBS[web] = RealtimeHub(web)
    return hub


def _who(connection: RealtimeConnection) -> dict[str, str]:
    principal = connection.principal
    if isinstance(principal, CustomerPrincipal):
        return {"kind": "customer", "contact_id": principal.contact_id}
    return {"kind": "agent", "agent_id": principal.agent_id, "role": principal.role}


# -- authentication ---------------------------------------------------------------


async def _authenticate(
    connection: HTTPConnection, web: WebContext, token: str | None
) -> Principal:
    """The caller: a customer session token, else an agent (the host's hook or an agent token).

    Raises:
        AuthenticationError: Nobody recognised.
        PermissionDeniedError: Recognised, from a foreign origin.
    """
    token = token if token is not None else bearer_token(connection)
    if token is not None and token.startswith(TOKEN_PREFIX):
        return await authenticate_customer(connection, token)
    if token is None or token == bearer_token(connection):
        return await current_agent(connection)
    _agent_origin(connection, web)
    if web.authenticate is not None:
        identity = await web.authenticate(connection)
        if identity is not None:
            return AgentPrincipal(agent_id=identity.agent_id, role=identity.role)
    if len(token) > 512:
        raise AuthenticationError("the token is not valid")
    try:
        agent = await web.call(web.kit.agents.authenticate_token, token)
    except (InvalidTokenError, NotFoundError):
        raise AuthenticationError("the token is not valid (unknown, expired or revoked)") from None
    role = getattr(agent.role, "value", agent.role)
    return AgentPrincipal(agent_id=agent.id, role=str(role))


async def _origin_known(connection: HTTPConnection, web: WebContext) -> bool:
    """Whether a handshake's Origin is one some website or the agent console may use."""
    origin = request_origin(connection)
    if origin is None or same_origin(connection, origin):
        return True
    if origin_allowed(origin, web.settings.agent_origins):
        return True
    return origin_allowed(origin, await web.website_origins())


def _position(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_POSITION:
        raise ValueError("a position is an integer from 0 to 2**63-1")
    return value


# -- WebSocket ----------------------------------------------------------------------------


@router.websocket("/v1/realtime")
async def realtime_socket(websocket: WebSocket) -> None:
    """The real-time WebSocket of a customer session or an agent (see the module description)."""
    web = get_context(websocket)
    try:
        after = _position(websocket.query_params.get("after"))
    except ValueError:
        await websocket.close(code=1008)
        return
    if not await _origin_known(websocket, web):
        await websocket.close(code=1008)  # refused handshake: HTTP 403
        return
    principal: Principal | None = None
    if bearer_token(websocket) is not None:
        try:
            principal = await _authenticate(websocket, web, None)
        except (AuthenticationError, PermissionDeniedError):
            await websocket.close(code=1008)  # refused handshake: HTTP 403
            return
    elif web.authenticate is not None:
        # The host's hook (a cookie, say); a customer's handshake passes on to the auth frame.
        with contextlib.suppress(AuthenticationError, PermissionDeniedError):
            principal = await _authenticate(websocket, web, None)
    await websocket.accept()
    if principal is None:
        try:
            principal, first_after = await _auth_frame(websocket, web)
        except _Closed as closed:
            await _close(websocket, closed.code, closed.reason)
            return
        except WebSocketDisconnect:
            return
        after = first_after if first_after is not None else after
    hub = realtime_hub(web)
    connection = await hub.connect(principal, after, websocket.send_text)
    try:
        await _serve_socket(websocket, connection, web)
    finally:
        hub.disconnect(connection)


async def _still_signed_in(web: WebContext, principal: Principal) -> bool:
    """Whether a customer's session is still live (checked at each heartbeat)."""
    if not isinstance(principal, CustomerPrincipal):
        return True
    try:
        store = await web.call(web.kit._core.ready)
        session: WebSession | None = await web.call(store.get, WebSession, principal.session_id)
    except Exception:  # the store is down: keep the connection; the next heartbeat asks again
        return True
    return session is not None and session.revoked_at is None and session.expires_at > utcnow()


class _Closed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


async def _auth_frame(websocket: WebSocket, web: WebContext) -> tuple[Principal, int | None]:
    try:
        async with asyncio.timeout(web.settings.realtime_auth_seconds):
            text = await websocket.receive_text()
    except TimeoutError:
        raise _Closed(CLOSE_UNAUTHENTICATED, "no auth frame") from None
    except KeyError:  # a binary frame
        raise _Closed(CLOSE_BAD_FRAME, "frames are JSON text") from None
    try:
        if len(text) > _MAX_CLIENT_FRAME:
            raise ValueError("too long")
        frame = json.loads(text)
        if not isinstance(frame, dict) or frame.get("type") != "auth":
            raise ValueError("not an auth frame")
        token = frame.get("token")
        if token is not None and (not isinstance(token, str) or not 0 < len(token) <= 512):
            raise ValueError("bad token")
        after = _position(frame.get("after"))
    except ValueError:
        raise _Closed(CLOSE_BAD_FRAME, 'expected {"type": "auth", "token": ...}') from None
    try:
        if token is None:
            return await _authenticate(websocket, web, None), after
        return await _authenticate(websocket, web, token), after
    except AuthenticationError:
        raise _Closed(CLOSE_UNAUTHENTICATED, "unknown, expired or revoked token") from None
    except PermissionDeniedError:
        raise _Closed(CLOSE_FORBIDDEN, "origin not allowed") from None


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        if websocket.application_state is not WebSocketState.DISCONNECTED:
            async with asyncio.timeout(5):
                await websocket.close(code=code, reason=reason)


async def _serve_socket(
    websocket: WebSocket, connection: RealtimeConnection, web: WebContext
) -> None:
    """Read the client's frames until it leaves; frames to it go through the connection."""
    hub = connection.hub

    def closing() -> None:
        # Signed out, a slow consumer (its buffer filled) or a failed catch-up.
        task = asyncio.create_task(_close_ended(websocket, connection))
        hub._background.add(task)
        task.add_done_callback(hub._background.discard)

    connection.on_gone = closing
    if connection.gone:
        closing()
    code = 0
    try:
        window, count = time.monotonic(), 0
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            now = time.monotonic()
            if now - window > 10:
                window, count = now, 0
            count += 1
            text = message.get("text")
            if count > _CLIENT_FRAMES_PER_10S or text is None or len(text) > _MAX_CLIENT_FRAME:
                code = CLOSE_BAD_FRAME
                break
            try:
                frame = json.loads(text)
            except ValueError:
                code = CLOSE_BAD_FRAME
                break
            if isinstance(frame, dict) and frame.get("type") == "ping":
                connection.offer(_PONG)
    finally:
        connection.on_gone = None
        writer = connection._writer
        if writer is not None and not connection.gone:
            writer.cancel()  # the client left
    if code:
        await _close(websocket, code, "unexpected frame")


async def _close_ended(websocket: WebSocket, connection: RealtimeConnection) -> None:
    """Close a connection the server ended, with the code saying why."""
    if connection.ended:
        code, reason = CLOSE_UNAUTHENTICATED, "the session ended"
    elif connection.overflowed:
        code, reason = CLOSE_SLOW_CONSUMER, "slow consumer: reconnect with your last position"
    else:
        code, reason = 1011, "server error: reconnect with your last position"
    await _close(websocket, code, reason)


# -- Server-Sent Events -------------------------------------------------------------


def _sse(frame: str) -> bytes:
    parsed = json.loads(frame)
    lines = []
    if parsed["position"] is not None:
        lines.append(f"id: {parsed['position']}")
    lines.append(f"event: {parsed['type']}")
    lines.append(f"data: {frame}")
    return ("\n".join(lines) + "\n\n").encode()


@router.get(
    "/v1/realtime/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An event stream"}},
)
async def realtime_events(
    request: Request,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_POSITION, description="Resume after this position.")
    ] = None,
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", max_length=19, pattern=r"^[0-9]+$")
    ] = None,
) -> StreamingResponse:
    """The real-time events of the caller as Server-Sent Events (the WebSocket's fallback).

    Authenticated like any request (``Authorization: Bearer`` with a customer
    session token or an agent token, or the host's hook). Resumes after
    ``after``, or after ``Last-Event-ID`` (sent by ``EventSource`` when it
    reconnects). Each event's ``data`` is the WebSocket frame, its ``id`` the
    outbox position; a comment line is sent as a heartbeat.
    """
    web = get_context(request)
    principal = await _authenticate(request, web, None)
    start = after if after is not None else (int(last_event_id) if last_event_id else None)
    if start is not None:
        start = min(start, MAX_POSITION)
    hub = realtime_hub(web)
    connection = await hub.connect(principal, start)
    return StreamingResponse(
        _sse_body(connection, web),
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no"},
    )


async def _sse_body(connection: RealtimeConnection, web: WebContext) -> AsyncIterator[bytes]:
    try:
        yield b": connected\n\n"
        while not connection.gone:
            frame = await connection.next_frame(web.settings.realtime_ping_seconds)
            if connection.overflowed:
                yield _sse(_frame("close", None, {"code": CLOSE_SLOW_CONSUMER}))
                return
            if frame is None and not await _still_signed_in(web, connection.principal):
                yield _sse(_frame("close", None, {"code": CLOSE_UNAUTHENTICATED}))
                return
            yield b": ping\n\n" if frame is None else _sse(frame)
    finally:
        connection.hub.disconnect(connection)
