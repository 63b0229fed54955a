"""The entry points: `AsyncChatKit` and its synchronous twin `ChatKit`.

There is one implementation, the async one. `ChatKit` runs it on an anyio
blocking portal (an event loop in a background thread) and exposes the same
resources with the same method names, each generated from its async
original, so the two can never drift apart.
"""

from __future__ import annotations

import builtins
import functools
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Concatenate, Generic, Literal, TypeVar, overload

import anyio.to_thread
from anyio.from_thread import BlockingPortal, start_blocking_portal
from typing_extensions import ParamSpec, Self

from .automation.rules import RuleSet
from .blobs import BlobStore, LocalBlobStore
from .errors import ChatKitError, ConfigurationError
from .events import Event
from .integrations import Integration
from .models.sync import SyncState
from .notifications import Notifier
from .services import (
    Abuse,
    Agents,
    Attachments,
    Automation,
    Bots,
    CannedReplies,
    Contacts,
    Conversations,
    Dispatcher,
    Events,
    Exports,
    KnowledgeBase,
    Messages,
    Notifications,
    Previews,
    Retention,
    Reviews,
    Routing,
    Subscription,
    Surveys,
    Teams,
    Tickets,
    Transcripts,
    TypingPreview,
    Understanding,
)
from .services._core import Core
from .settings import ChatKitSettings, default_url
from .stores import Store, open_store
from .stores.base import DispatchStatus
from .sync import Sync, SyncEngine, SyncReport
from .sync.policy import ConflictPolicy
from .transports import Transport, open_transport
from .understanding import Analyzer, Classifier, SentimentAnalyzer

__all__ = ["AsyncChatKit", "ChatKit", "SyncSubscription"]

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")


class AsyncChatKit:
    """The chatkit SDK, async API.

    Args:
        url: Which store to use: ``sqlite:///path/support.db``, ``memory://``,
            or any scheme a store plugin provides. Default: ``$CHATKIT_URL``,
            else ``sqlite:///chatkit.db`` (a file in the working directory).
        store: A store object instead of a URL.
        settings: Behaviour settings; the defaults need no changes.
        blobs: Where attachment bytes go. Default: beside a SQLite file
            (``support.db-blobs/``), in memory for ``memory://``, else
            ``./chatkit-blobs``.
        transport: How commit signals reach other processes:
            ``"redis://host:6379/0"`` or a `Transport`. Default: none leave
            the process (other processes' events are found by polling).

    Attributes:
        contacts: Customers and their identities (`Contacts`).
        attachments: Uploads and downloads (`Attachments`).
        agents: Agent profiles (`Agents`).
        conversations: Conversation lifecycle (`Conversations`).
        messages: Sending, receiving and history (`Messages`).
        tickets: Follow-up tickets (`Tickets`).
        events: The event outbox (`Events`).
        transcripts: Render, export and e-mail transcripts (`Transcripts`).
        retention: Legal holds and purges (`Retention`).
        exports: JSON-lines export and import (`Exports`).
        sync: Two-way sync with CRMs and help desks (`chatkit.sync.Sync`).
        previews: Live typing previews, never stored (`Previews`).
        teams: Teams, their hours and topics (`Teams`).
        routing: Routing conversations to agents, and queues (`Routing`).
        understanding: Intent, entities, sentiment and question patterns
            of customers' messages (`Understanding`).
        automation: Declarative rules run on events (`Automation`).
        canned: Canned replies (agent scripts): saved, suggested, rendered,
            sent, reviewed (`CannedReplies`).
        kb: Knowledge-base articles and full-text search (`KnowledgeBase`).
        bots: Bot flows on conversations, with human handoff (`Bots`).
        surveys: Satisfaction surveys after resolution (`Surveys`).
        reviews: Review queues of the best and worst chats (`Reviews`).
        abuse: Incidents and blocks (`Abuse`).
        notifications: Ticket notifications by e-mail and your notifiers
            (`Notifications`).

    Example:
        ```python
        async with AsyncChatKit("sqlite:///support.db") as kit:
            inbound = await kit.messages.receive(
                channel="web", sender="visitor-42", text="Hi, my parcel is late"
            )
            print(inbound.conversation.id)
        ```
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        store: Store | None = None,
        settings: ChatKitSettings | None = None,
        blobs: BlobStore | None = None,
        transport: str | Transport | None = None,
    ) -> None:
        if url is not None and store is not None:
            raise ConfigurationError("pass either url or store, not both")
        if store is None:
            url = url or default_url()
            store = open_store(url)
        self.url = url
        blobs = blobs or store.default_blob_store() or LocalBlobStore("chatkit-blobs")
        if isinstance(transport, str):
            transport = open_transport(transport)
        self._core = Core(store, settings or ChatKitSettings(), blobs, transport)
        self.contacts = Contacts(self._core)
        self.attachments = Attachments(self._core)
        self.agents = Agents(self._core)
        self.conversations = Conversations(self._core)
        self.messages = Messages(self._core)
        self.tickets = Tickets(self._core)
        self.events = Events(self._core)
        self.transcripts = Transcripts(self._core)
        self.retention = Retention(self._core)
        self.teams = Teams(self._core)
        self.routing = Routing(self._core)
        self.understanding = Understanding(self._core)
        self.automation = Automation(self._core)
        self.canned = CannedReplies(self._core)
        self.kb = KnowledgeBase(self._core)
        self.bots = Bots(self._core)
        self.surveys = Surveys(self._core)
        self.reviews = Reviews(self._core)
        self.abuse = Abuse(self._core)
        self.notifications = Notifications(self._core)
        self.exports = Exports(self._core)
        self.previews = Previews(self._core)
        self.sync = Sync(self._core)

    def __repr__(self) -> str:
        return f"AsyncChatKit(store={self._core.store!r})"

    @property
    def store(self) -> Store:
        """The store this kit writes to."""
        return self._core.store

    @property
    def blobs(self) -> BlobStore:
        """Where attachment bytes go."""
        return self._core.blobs

    @property
    def settings(self) -> ChatKitSettings:
        """The kit's settings."""
        return self._core.settings

    async def open(self) -> None:
        """Open the store (create or upgrade its schema). Done automatically on first use."""
        await self._core.ready()

    async def close(self) -> None:
        """Close the store. Pending writes finish first."""
        await self._core.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


# -- the synchronous facade ----------------------------------------------------


class _Runner:
    """Owns the background event loop of one `ChatKit`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cm: AbstractContextManager[BlockingPortal] | None = None
        self._portal: BlockingPortal | None = None
        self._stopped = False

    def portal(self) -> BlockingPortal:
        with self._lock:
            if self._stopped:
                raise ChatKitError("this ChatKit is closed; create a new one")
            if self._portal is None:
                self._cm = start_blocking_portal()
                self._portal = self._cm.__enter__()
            return self._portal

    def stop(self, kit: AsyncChatKit) -> None:
        with self._lock:
            portal, cm = self._portal, self._cm
            self._portal = self._cm = None
            self._stopped = True
        if portal is not None and cm is not None:
            try:
                portal.call(kit.close)
            finally:
                cm.__exit__(None, None, None)


def _blocking(
    runner: _Runner, stream: AsyncIterator[T], close: Callable[[], Awaitable[None]]
) -> Iterator[T]:
    """Iterate an async iterator from blocking code; ``close`` runs when iteration ends."""
    portal = runner.portal()
    try:
        while True:
            try:
                yield portal.call(stream.__anext__)
            except StopAsyncIteration:
                return
    finally:
        portal.call(close)


class _SyncResource(Generic[S]):
    def __init__(self, target: S, runner: _Runner) -> None:
        self._target = target
        self._runner = runner


class _sync(Generic[P, T]):
    """Expose the async method ``method`` as a blocking one with the same signature."""

    def __init__(self, method: Callable[Concatenate[Any, P], Awaitable[T]]) -> None:
        self._method = method
        self.__doc__ = method.__doc__
        self.__name__ = method.__name__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, obj: _SyncResource[Any], owner: type[Any]) -> Callable[P, T]: ...

    def __get__(self, obj: _SyncResource[Any] | None, owner: type[Any]) -> Self | Callable[P, T]:
        if obj is None:
            return self
        bound: Callable[P, Awaitable[T]] = functools.partial(self._method, obj._target)
        runner = obj._runner

        @functools.wraps(getattr(obj._target, self.__name__))
        def call(*args: P.args, **kwargs: P.kwargs) -> T:
            return runner.portal().call(functools.partial(bound, *args, **kwargs))

        return call


class SyncContacts(_SyncResource[Contacts]):
    """Blocking twin of `Contacts`."""

    create = _sync(Contacts.create)
    get = _sync(Contacts.get)
    find = _sync(Contacts.find)
    identify = _sync(Contacts.identify)
    update = _sync(Contacts.update)
    add_identity = _sync(Contacts.add_identity)
    list = _sync(Contacts.list)
    merge = _sync(Contacts.merge)


class SyncAttachments(_SyncResource[Attachments]):
    """Blocking twin of `Attachments`."""

    upload = _sync(Attachments.upload)
    get = _sync(Attachments.get)
    read = _sync(Attachments.read)

    def open(self, attachment_id: str) -> Iterator[bytes]:
        """Blocking twin of `Attachments.open`: iterate the bytes in chunks."""
        stream = self._target.open(attachment_id)
        return _blocking(self._runner, stream, stream.aclose)


class SyncAgents(_SyncResource[Agents]):
    """Blocking twin of `Agents`."""

    create = _sync(Agents.create)
    get = _sync(Agents.get)
    update = _sync(Agents.update)
    list = _sync(Agents.list)
    set_presence = _sync(Agents.set_presence)
    touch = _sync(Agents.touch)
    heartbeat = _sync(Agents.heartbeat)
    refresh = _sync(Agents.refresh)
    on_duty = _sync(Agents.on_duty)


class SyncConversations(_SyncResource[Conversations]):
    """Blocking twin of `Conversations`."""

    create = _sync(Conversations.create)
    get = _sync(Conversations.get)
    list = _sync(Conversations.list)
    set_status = _sync(Conversations.set_status)
    resolve = _sync(Conversations.resolve)
    close = _sync(Conversations.close)
    reopen = _sync(Conversations.reopen)
    snooze = _sync(Conversations.snooze)
    wake_snoozed = _sync(Conversations.wake_snoozed)
    assign = _sync(Conversations.assign)
    claim = _sync(Conversations.claim)
    set_priority = _sync(Conversations.set_priority)
    add_tags = _sync(Conversations.add_tags)
    remove_tags = _sync(Conversations.remove_tags)
    add_watcher = _sync(Conversations.add_watcher)
    remove_watcher = _sync(Conversations.remove_watcher)
    context = _sync(Conversations.context)


class SyncMessages(_SyncResource[Messages]):
    """Blocking twin of `Messages`."""

    send = _sync(Messages.send)
    note = _sync(Messages.note)
    get = _sync(Messages.get)
    list = _sync(Messages.list)
    receive = _sync(Messages.receive)


class SyncTickets(_SyncResource[Tickets]):
    """Blocking twin of `Tickets`."""

    create = _sync(Tickets.create)
    get = _sync(Tickets.get)
    update = _sync(Tickets.update)
    set_status = _sync(Tickets.set_status)
    solve = _sync(Tickets.solve)
    close = _sync(Tickets.close)
    reopen = _sync(Tickets.reopen)
    add_note = _sync(Tickets.add_note)
    respond = _sync(Tickets.respond)
    check_sla = _sync(Tickets.check_sla)
    at_a_glance = _sync(Tickets.at_a_glance)
    list_open = _sync(Tickets.list_open)
    list = _sync(Tickets.list)


class SyncSubscription(Iterator[Event], AbstractContextManager["SyncSubscription"]):
    """Blocking twin of `Subscription`: iterate it, close it (or use ``with``)."""

    def __init__(self, subscription: Subscription, runner: _Runner) -> None:
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

    def __init__(self, dispatcher: Dispatcher, runner: _Runner) -> None:
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


class SyncEvents(_SyncResource[Events]):
    """Blocking twin of `Events`."""

    list = _sync(Events.list)
    dispatch_status = _sync(Events.dispatch_status)
    position = _sync(Events.position)
    set_position = _sync(Events.set_position)

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


class SyncTeams(_SyncResource[Teams]):
    """Blocking twin of `Teams`."""

    create = _sync(Teams.create)
    get = _sync(Teams.get)
    update = _sync(Teams.update)
    list = _sync(Teams.list)
    for_topic = _sync(Teams.for_topic)


class SyncRouting(_SyncResource[Routing]):
    """Blocking twin of `Routing`."""

    route = _sync(Routing.route)
    candidates = _sync(Routing.candidates)
    queue = _sync(Routing.queue)
    next_for = _sync(Routing.next_for)
    transfer = _sync(Routing.transfer)
    set_mood = _sync(Routing.set_mood)
    request_callback = _sync(Routing.request_callback)
    escalate = _sync(Routing.escalate)


class SyncUnderstanding(_SyncResource[Understanding]):
    """Blocking twin of `Understanding`."""

    analyze = _sync(Understanding.analyze)
    patterns = _sync(Understanding.patterns)
    negative_terms = _sync(Understanding.negative_terms)

    def use(
        self,
        *,
        classifier: Classifier | None = None,
        sentiment: SentimentAnalyzer | None = None,
        analyzer: Analyzer | None = None,
    ) -> None:
        self._target.use(classifier=classifier, sentiment=sentiment, analyzer=analyzer)

    use.__doc__ = Understanding.use.__doc__


class SyncAutomation(_SyncResource[Automation]):
    """Blocking twin of `Automation`."""

    drain = _sync(Automation.drain)
    handle = _sync(Automation.handle)
    check_idle = _sync(Automation.check_idle)

    @property
    def rules(self) -> RuleSet:
        """The rules in effect."""
        return self._target.rules

    def dispatcher(self, *, batch_size: int = 50, lease_seconds: float = 30.0) -> SyncDispatcher:
        """Blocking twin of `Automation.dispatcher`."""
        return SyncDispatcher(
            self._target.dispatcher(batch_size=batch_size, lease_seconds=lease_seconds),
            self._runner,
        )


class SyncCannedReplies(_SyncResource[CannedReplies]):
    """Blocking twin of `CannedReplies`."""

    create = _sync(CannedReplies.create)
    get = _sync(CannedReplies.get)
    find = _sync(CannedReplies.find)
    update = _sync(CannedReplies.update)
    delete = _sync(CannedReplies.delete)
    list = _sync(CannedReplies.list)
    suggest = _sync(CannedReplies.suggest)
    render = _sync(CannedReplies.render)
    use = _sync(CannedReplies.use)
    mark_reviewed = _sync(CannedReplies.mark_reviewed)
    due_for_review = _sync(CannedReplies.due_for_review)
    send = _sync(CannedReplies.send)


class SyncKnowledgeBase(_SyncResource[KnowledgeBase]):
    """Blocking twin of `KnowledgeBase`."""

    create = _sync(KnowledgeBase.create)
    get = _sync(KnowledgeBase.get)
    update = _sync(KnowledgeBase.update)
    publish = _sync(KnowledgeBase.publish)
    unpublish = _sync(KnowledgeBase.unpublish)
    delete = _sync(KnowledgeBase.delete)
    list = _sync(KnowledgeBase.list)
    search = _sync(KnowledgeBase.search)
    suggest_for = _sync(KnowledgeBase.suggest_for)


class SyncBots(_SyncResource[Bots]):
    """Blocking twin of `Bots`."""

    start = _sync(Bots.start)
    handle = _sync(Bots.handle)
    receive = _sync(Bots.receive)
    handoff = _sync(Bots.handoff)
    stop = _sync(Bots.stop)
    state = _sync(Bots.state)


class SyncSurveys(_SyncResource[Surveys]):
    """Blocking twin of `Surveys`."""

    send = _sync(Surveys.send)
    answer = _sync(Surveys.answer)
    get = _sync(Surveys.get)
    for_conversation = _sync(Surveys.for_conversation)
    list = _sync(Surveys.list)
    follow_up = _sync(Surveys.follow_up)
    resume_follow_ups = _sync(Surveys.resume_follow_ups)
    expire_due = _sync(Surveys.expire_due)


class SyncReviews(_SyncResource[Reviews]):
    """Blocking twin of `Reviews`."""

    queue = _sync(Reviews.queue)
    add_note = _sync(Reviews.add_note)
    notes = _sync(Reviews.notes)


class SyncAbuse(_SyncResource[Abuse]):
    """Blocking twin of `Abuse`."""

    record = _sync(Abuse.record)
    incidents = _sync(Abuse.incidents)
    block = _sync(Abuse.block)
    unblock = _sync(Abuse.unblock)
    is_blocked = _sync(Abuse.is_blocked)
    blocks = _sync(Abuse.blocks)
    get_block = _sync(Abuse.get_block)
    screen = _sync(Abuse.screen)


class SyncNotifications(_SyncResource[Notifications]):
    """Blocking twin of `Notifications`."""

    drain = _sync(Notifications.drain)
    handle = _sync(Notifications.handle)
    build = _sync(Notifications.build)
    list_log = _sync(Notifications.list_log)
    get_log = _sync(Notifications.get_log)

    def register(self, notifier: Notifier) -> None:
        self._target.register(notifier)

    register.__doc__ = Notifications.register.__doc__

    def dispatcher(
        self,
        *,
        batch_size: int = 50,
        lease_seconds: float = 60.0,
        start: Literal["beginning", "end"] = "beginning",
        retry_delay: float = 5.0,
        max_retry_delay: float = 300.0,
    ) -> SyncDispatcher:
        """Blocking twin of `Notifications.dispatcher`."""
        return SyncDispatcher(
            self._target.dispatcher(
                batch_size=batch_size,
                lease_seconds=lease_seconds,
                start=start,
                retry_delay=retry_delay,
                max_retry_delay=max_retry_delay,
            ),
            self._runner,
        )


class SyncTranscripts(_SyncResource[Transcripts]):
    """Blocking twin of `Transcripts`."""

    get = _sync(Transcripts.get)
    render = _sync(Transcripts.render)
    select = _sync(Transcripts.select)
    export = _sync(Transcripts.export)
    email = _sync(Transcripts.email)


class SyncRetention(_SyncResource[Retention]):
    """Blocking twin of `Retention`."""

    hold = _sync(Retention.hold)
    release = _sync(Retention.release)
    holds = _sync(Retention.holds)
    purge = _sync(Retention.purge)


class SyncExports(_SyncResource[Exports]):
    """Blocking twin of `Exports`."""

    write_jsonl = _sync(Exports.write_jsonl)
    read_jsonl = _sync(Exports.read_jsonl)


class BlockingSyncEngine(AbstractContextManager["BlockingSyncEngine"]):
    """Blocking twin of `chatkit.sync.SyncEngine`."""

    def __init__(self, engine: SyncEngine, runner: _Runner) -> None:
        self.engine = engine
        """The async engine underneath."""
        self._runner = runner

    @property
    def name(self) -> str:
        """The integration's name."""
        return self.engine.name

    def run_once(self) -> SyncReport:
        """One full cycle: queue, push, pull (see `SyncEngine.run_once`)."""
        return self._runner.portal().call(self.engine.run_once)

    def collect(self) -> int:
        """Queue new outbox events; how many were read."""
        return self._runner.portal().call(self.engine.collect)

    def push(self) -> SyncReport:
        """Push what is due (see `SyncEngine.push`)."""
        return self._runner.portal().call(self.engine.push)

    def pull(self) -> SyncReport:
        """Apply the vendor's changes since the saved cursor."""
        return self._runner.portal().call(self.engine.pull)

    def resync(self) -> int:
        """Queue every local record of the synced kinds again."""
        return self._runner.portal().call(self.engine.resync)

    def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> SyncReport:
        """Verify and apply a webhook delivery (see `SyncEngine.handle_webhook`)."""
        return self._runner.portal().call(
            functools.partial(self.engine.handle_webhook, headers, body)
        )

    def state(self) -> SyncState:
        """The integration's saved state."""
        return self._runner.portal().call(self.engine.state)

    def close(self) -> None:
        """Close the integration."""
        self._runner.portal().call(self.engine.close)

    def __exit__(self, *exc: object) -> None:
        self.close()


class SyncSync(_SyncResource[Sync]):
    """Blocking twin of `chatkit.sync.Sync`."""

    integrations = _sync(Sync.integrations)
    status = _sync(Sync.status)
    link = _sync(Sync.link)
    dead_letters = _sync(Sync.dead_letters)
    retry = _sync(Sync.retry)
    resume = _sync(Sync.resume)
    decisions = _sync(Sync.decisions)

    def engine(
        self,
        integration: Integration | str,
        *,
        policy: ConflictPolicy | None = None,
        max_attempts: int = 8,
        call_retries: int = 3,
        max_wait: float = 60.0,
        retry_delay: float = 1.0,
        park_seconds: float = 300.0,
        claim_seconds: float = 60.0,
        page_size: int = 100,
    ) -> BlockingSyncEngine:
        """Blocking twin of `chatkit.sync.Sync.engine`."""
        return BlockingSyncEngine(
            self._target.engine(
                integration,
                policy=policy,
                max_attempts=max_attempts,
                call_retries=call_retries,
                max_wait=max_wait,
                retry_delay=retry_delay,
                park_seconds=park_seconds,
                claim_seconds=claim_seconds,
                page_size=page_size,
            ),
            self._runner,
        )


class SyncPreviews(_SyncResource[Previews]):
    """Blocking twin of `Previews`."""

    send = _sync(Previews.send)

    def watch(self, conversation_id: str | None = None) -> Iterator[TypingPreview]:
        """Blocking twin of `Previews.watch`: iterate previews as they come."""
        stream = self._target.watch(conversation_id)

        async def close() -> None:
            stream.close()

        return _blocking(self._runner, stream, close)


class ChatKit:
    """The chatkit SDK, blocking API for scripts, Django, Flask and the REPL.

    Same arguments, resources and method names as `AsyncChatKit`; every call
    blocks until done. The async implementation runs on an event loop in a
    background thread, started on first use and stopped by `close`.

    Example:
        ```python
        with ChatKit("sqlite:///support.db") as kit:
            ada = kit.contacts.identify(("email", "ada@example.com"), name="Ada")
            conv = kit.conversations.create(contact_id=ada.id)
            kit.messages.send(conv.id, "Hello!", author=Author.customer(ada.id))
        ```
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        store: Store | None = None,
        settings: ChatKitSettings | None = None,
        blobs: BlobStore | None = None,
        transport: str | Transport | None = None,
    ) -> None:
        self.aio = AsyncChatKit(
            url, store=store, settings=settings, blobs=blobs, transport=transport
        )
        """The async kit underneath, for code that mixes both styles."""
        self._runner = _Runner()
        self._finalizer = weakref.finalize(self, self._runner.stop, self.aio)
        self.contacts = SyncContacts(self.aio.contacts, self._runner)
        self.attachments = SyncAttachments(self.aio.attachments, self._runner)
        self.agents = SyncAgents(self.aio.agents, self._runner)
        self.conversations = SyncConversations(self.aio.conversations, self._runner)
        self.messages = SyncMessages(self.aio.messages, self._runner)
        self.tickets = SyncTickets(self.aio.tickets, self._runner)
        self.events = SyncEvents(self.aio.events, self._runner)
        self.transcripts = SyncTranscripts(self.aio.transcripts, self._runner)
        self.retention = SyncRetention(self.aio.retention, self._runner)
        self.exports = SyncExports(self.aio.exports, self._runner)
        self.previews = SyncPreviews(self.aio.previews, self._runner)
        self.sync = SyncSync(self.aio.sync, self._runner)
        self.teams = SyncTeams(self.aio.teams, self._runner)
        self.routing = SyncRouting(self.aio.routing, self._runner)
        self.understanding = SyncUnderstanding(self.aio.understanding, self._runner)
        self.automation = SyncAutomation(self.aio.automation, self._runner)
        self.canned = SyncCannedReplies(self.aio.canned, self._runner)
        self.kb = SyncKnowledgeBase(self.aio.kb, self._runner)
        self.bots = SyncBots(self.aio.bots, self._runner)
        self.surveys = SyncSurveys(self.aio.surveys, self._runner)
        self.reviews = SyncReviews(self.aio.reviews, self._runner)
        self.abuse = SyncAbuse(self.aio.abuse, self._runner)
        self.notifications = SyncNotifications(self.aio.notifications, self._runner)

    def __repr__(self) -> str:
        return f"ChatKit(store={self.aio.store!r})"

    @property
    def url(self) -> str | None:
        """The store URL, when built from one."""
        return self.aio.url

    @property
    def store(self) -> Store:
        """The store this kit writes to."""
        return self.aio.store

    @property
    def settings(self) -> ChatKitSettings:
        """The kit's settings."""
        return self.aio.settings

    def open(self) -> None:
        """Open the store now (otherwise done on first use)."""
        self._runner.portal().call(self.aio.open)

    def close(self) -> None:
        """Close the store and stop the background loop. Idempotent."""
        self._finalizer()

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
