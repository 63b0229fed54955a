"""The entry points: `AsyncChatKit` and its synchronous twin `ChatKit`.

There is one implementation, the async one. `ChatKit` runs it on an anyio
blocking portal (an event loop in a background thread) and exposes the same
resources with the same method names, each generated from its async
original, so the two can never drift apart.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
import threading
import weakref
from collections.abc import Collection, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Self

from ._portal import Runner
from ._sync_crm import BlockingSyncEngine, SyncSync
from ._sync_events import SyncDispatcher, SyncEvents, SyncSubscription
from ._sync_services import (
    SyncAbuse,
    SyncAgents,
    SyncAttachments,
    SyncAutomation,
    SyncBots,
    SyncCannedReplies,
    SyncChannels,
    SyncContacts,
    SyncConversations,
    SyncExports,
    SyncKnowledgeBase,
    SyncMessages,
    SyncNotifications,
    SyncPreviews,
    SyncRetention,
    SyncReviews,
    SyncRouting,
    SyncSurveys,
    SyncTeams,
    SyncTickets,
    SyncTranscripts,
    SyncUnderstanding,
    SyncWebhooks,
    SyncWebsites,
)
from .blobs import BlobStore, LocalBlobStore, default_blobs_url, open_blob_store
from .errors import ConfigurationError
from .integrations import Integration
from .reports import Reports
from .reports._sync import SyncReports
from .services import (
    Abuse,
    Agents,
    Attachments,
    Automation,
    Bots,
    CannedReplies,
    Channels,
    Contacts,
    Conversations,
    Events,
    Exports,
    KnowledgeBase,
    Messages,
    Notifications,
    Previews,
    Retention,
    Reviews,
    Routing,
    Surveys,
    Teams,
    Tickets,
    Transcripts,
    Understanding,
    Webhooks,
    Websites,
)
from .services._core import Core
from .settings import ChatKitSettings, default_url
from .stores import Store, open_store
from .sync import Sync
from .transports import Transport, open_transport
from .worker import Health, PeriodicJob, Worker, read_health

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .web import Authenticate, PolicyFactory, WebSettings

__all__ = [
    "AsyncChatKit",
    "BlockingSyncEngine",
    "ChatKit",
    "SyncAbuse",
    "SyncAgents",
    "SyncAttachments",
    "SyncAutomation",
    "SyncBots",
    "SyncCannedReplies",
    "SyncContacts",
    "SyncConversations",
    "SyncDispatcher",
    "SyncEvents",
    "SyncExports",
    "SyncKnowledgeBase",
    "SyncMessages",
    "SyncNotifications",
    "SyncPreviews",
    "SyncRetention",
    "SyncReviews",
    "SyncRouting",
    "SyncSubscription",
    "SyncSurveys",
    "SyncSync",
    "SyncTeams",
    "SyncTickets",
    "SyncTranscripts",
    "SyncUnderstanding",
    "SyncWebsites",
    "SyncWebhooks",
]


class AsyncChatKit:
    """The chatkit SDK, async API.

    Args:
        url: Which store to use: ``sqlite:///path/support.db``, ``memory://``,
            or any scheme a store plugin provides. Default: ``$CHATKIT_URL``,
            else ``sqlite:///chatkit.db`` (a file in the working directory).
        store: A store object instead of a URL.
        settings: Behaviour settings; the defaults need no changes.
        blobs: Where attachment bytes go: a `BlobStore` or its URL
            (``s3://bucket/prefix``, ``file:///var/lib/chatkit/blobs``,
            ``memory://``; see `chatkit.blobs.open_blob_store`). Default:
            ``$CHATKIT_BLOBS_URL`` when set, else beside a SQLite file
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
        websites: Websites whose visitors chat through the web app
            (`Websites`).
        webhooks: Signed outbound webhooks: subscriptions and the
            delivery log (`Webhooks`).
        channels: SMS and WhatsApp accounts (Twilio): provider webhooks in,
            replies out, delivery states (`Channels`).

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
        blobs: BlobStore | str | None = None,
        transport: str | Transport | None = None,
    ) -> None:
        if url is not None and store is not None:
            raise ConfigurationError("pass either url or store, not both")
        if store is None:
            url = url or default_url()
            store = open_store(url)
        self.url = url
        blobs = blobs if blobs is not None else default_blobs_url()
        if isinstance(blobs, str):
            blobs = open_blob_store(blobs)
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
        self.webhooks = Webhooks(self._core)
        self.reports = Reports(self._core)
        self.channels = Channels(self._core)
        self.exports = Exports(self._core)
        self.previews = Previews(self._core)
        self.websites = Websites(self._core)
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

    async def run_worker(
        self,
        *,
        only: Collection[str] | None = None,
        skip: Collection[str] = (),
        every: Mapping[str, float] | None = None,
        sync: Sequence[str | Integration] = (),
        jobs: Sequence[PeriodicJob] = (),
        duration: float | None = None,
        handle_signals: bool = False,
        lease_seconds: float = 60.0,
        heartbeat: float = 10.0,
    ) -> None:
        """Run the background jobs (a `chatkit.worker.Worker`) until stopped.

        Periodic jobs (snoozes, SLA checks, idle rules, agent presence,
        escalations, survey expiry and follow-ups, purges) run on one worker
        at a time under a lease in the store; dispatchers (automation,
        notifications, webhooks, sync) share their dispatch groups with every other
        worker. Start as many workers as you like, in any processes. A job
        that fails is logged, recorded for `health`, and tried again.

        Args:
            only: Run only these jobs.
            skip: Do not run these jobs.
            every: Intervals in seconds by job name, e.g. ``{"check_sla": 30}``.
            sync: Integrations to sync (installed names configured from the
                environment, or `Integration` objects).
            jobs: Extra periodic jobs of your own.
            duration: Return after this many seconds (default: run until
                cancelled, or until a signal with ``handle_signals``).
            handle_signals: Stop cleanly on SIGTERM and SIGINT (main thread only).
            lease_seconds: How long a dead worker's periodic job waits
                before another worker takes it.
            heartbeat: Seconds between the worker's heartbeats in the store.

        Cancelling the task stops it too: the job in hand is interrupted and
        its lease released.

        Raises:
            InvalidInputError: An unknown job name or a bad interval.
            ConfigurationError: A notifier or an integration cannot be built.

        Example:
            ```python
            async with AsyncChatKit("postgresql://chat@db/support") as kit:
                await kit.run_worker(handle_signals=True)
            ```
        """
        worker = Worker(
            self,
            only=only,
            skip=skip,
            every=every,
            sync=sync,
            jobs=jobs,
            lease_seconds=lease_seconds,
            heartbeat=heartbeat,
        )
        await worker.run(duration=duration, handle_signals=handle_signals)

    async def health(self, *, max_lag: int = 1000, groups: Collection[str] = ()) -> Health:
        """The health of the background work on this store, for a health endpoint.

        Per job: last run, last success, last error, next due, whether it is
        running and where; per dispatch group: how far behind the outbox it
        is, and the sync dead letters; the workers alive. ``status`` is
        ``degraded`` when no worker runs, a job's last run failed, a
        periodic job is overdue, a group lags more than ``max_lag`` events,
        or a sync has dead letters or is parked. Read from the store, so it
        sees workers in every process.

        Args:
            max_lag: Events a dispatch group may be behind the outbox.
            groups: More dispatch groups to report (your own dispatchers').

        Raises:
            InvalidInputError: A negative ``max_lag``, or ``groups`` not a list of names.

        Example:
            ```python
            health = await kit.health()
            return JSONResponse(health.model_dump(mode="json"),
                                status_code=200 if health.status == "ok" else 503)
            ```
        """
        return await read_health(self._core, max_lag=max_lag, groups=groups)

    def asgi(
        self,
        settings: WebSettings | None = None,
        *,
        authenticate: Authenticate | None = None,
        policy: PolicyFactory | None = None,
    ) -> FastAPI:
        """The web app of this kit: an ASGI application to mount or serve (``chatkit[web]``).

        It uses this kit (its store, transport and settings) on the event loop
        that serves it. Mount it in a FastAPI or Starlette app
        (``app.mount("/chat", kit.asgi())``) or serve it with uvicorn; it
        opens what it needs on its first request, so it works without the
        host running its lifespan. See `chatkit.web.create_app`.

        Args:
            settings: The web app's settings (`chatkit.web.WebSettings`).
            authenticate: Who an agent's request comes from
                (`chatkit.web.Authenticate`).
            policy: The authorization policy's factory
                (`chatkit.web.PolicyFactory`); `chatkit.web.DefaultPolicy` otherwise.

        Raises:
            MissingDependencyError: ``chatkit[web]`` is not installed.
        """
        from .web import create_app

        return create_app(self, settings, authenticate=authenticate, policy=policy)

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
        blobs: BlobStore | str | None = None,
        transport: str | Transport | None = None,
    ) -> None:
        self.aio = AsyncChatKit(
            url, store=store, settings=settings, blobs=blobs, transport=transport
        )
        """The async kit underneath, for code that mixes both styles."""
        self._runner = Runner()
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
        self.websites = SyncWebsites(self.aio.websites, self._runner)
        self.webhooks = SyncWebhooks(self.aio.webhooks, self._runner)
        self.reports = SyncReports(self.aio.reports, self._runner)
        self.channels = SyncChannels(self.aio.channels, self._runner)

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

    def worker(
        self,
        *,
        only: Collection[str] | None = None,
        skip: Collection[str] = (),
        every: Mapping[str, float] | None = None,
        sync: Sequence[str | Integration] = (),
        jobs: Sequence[PeriodicJob] = (),
        duration: float | None = None,
        handle_signals: bool = True,
        lease_seconds: float = 60.0,
        heartbeat: float = 10.0,
    ) -> None:
        """Blocking twin of `AsyncChatKit.run_worker`: run the background jobs until stopped.

        Called from the main thread it stops cleanly on SIGTERM and Ctrl-C
        (``handle_signals``, on by default here): the step in hand finishes,
        leases are released, and it returns. A second signal interrupts the
        job in hand (its lease is released) and raises `KeyboardInterrupt`.
        Otherwise it runs for ``duration`` seconds, or until the process ends.

        Example:
            ```python
            with ChatKit("postgresql://chat@db/support") as kit:
                kit.worker()  # until SIGTERM or Ctrl-C
            ```
        """
        worker = Worker(
            self.aio,
            only=only,
            skip=skip,
            every=every,
            sync=sync,
            jobs=jobs,
            lease_seconds=lease_seconds,
            heartbeat=heartbeat,
        )
        portal = self._runner.portal()
        restore: dict[signal.Signals, object] = {}
        if handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                restore[sig] = signal.signal(sig, lambda *_: worker.signal())
        try:
            portal.call(lambda: worker.run(duration=duration))
        except (asyncio.CancelledError, concurrent.futures.CancelledError):
            raise KeyboardInterrupt from None  # a second signal interrupted the job in hand
        finally:
            for sig, previous in restore.items():
                signal.signal(sig, previous)  # type: ignore[arg-type]

    def health(self, *, max_lag: int = 1000, groups: Collection[str] = ()) -> Health:
        """Blocking twin of `AsyncChatKit.health`."""
        return self._runner.portal().call(lambda: self.aio.health(max_lag=max_lag, groups=groups))

    def asgi(
        self,
        settings: WebSettings | None = None,
        *,
        authenticate: Authenticate | None = None,
        policy: PolicyFactory | None = None,
    ) -> FastAPI:
        """The web app of this kit, as `AsyncChatKit.asgi` (``chatkit[web]``).

        The server's event loop is not this kit's: every kit call the app
        makes runs on this kit's own background loop (where its store's
        connections live) and the server's loop awaits the result, so a
        PostgreSQL pool is only ever used from the loop that opened it.

        Raises:
            MissingDependencyError: ``chatkit[web]`` is not installed.
        """
        from .web import create_app

        return create_app(self, settings, authenticate=authenticate, policy=policy)

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
