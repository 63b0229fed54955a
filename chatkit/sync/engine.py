"""The sync engine: keeps chatkit and one vendor in step, both ways."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import NoReturn, TypeVar

from pydantic import BaseModel, ConfigDict, JsonValue
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from ..errors import (
    ConflictError,
    DuplicateKeyError,
    IntegrationAuthError,
    IntegrationError,
    IntegrationQuotaError,
    PermanentIntegrationError,
    RetryableIntegrationError,
)
from ..events import (
    ContactCreated,
    ContactIdentityAdded,
    ContactMerged,
    ContactUpdated,
    ConversationAssigned,
    ConversationCreated,
    ConversationPriorityChanged,
    ConversationPurged,
    ConversationStatusChanged,
    ConversationTagsChanged,
    Event,
    MessageCreated,
)
from ..integrations import (
    ChangeAction,
    Direction,
    HealthState,
    InboundChange,
    Integration,
    OutboundChange,
    PushResult,
    PushStatus,
    SyncObject,
)
from ..models import Agent, Contact, Conversation, ConversationStatus, Message, MessageKind, utcnow
from ..models.sync import SyncLink, SyncState, link_id, state_id
from ..services._core import Core
from ..services.dispatch import Dispatcher
from ..services.transcripts import Transcripts
from ..stores.base import Delete, In, Insert, Lt, Op, Update
from ._inbound import Applier, ApplyReport
from ._shared import (
    PARENT_KIND,
    TRANSCRIPT_SUFFIX,
    RateLimiter,
    contact_fields,
    conversation_fields,
    digest,
    key_of,
    message_fields,
    next_midnight,
)
from .policy import ConflictPolicy

__all__ = ["SyncEngine", "SyncReport"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_ORDER = (
    SyncObject.CONTACT,
    SyncObject.CONVERSATION,
    SyncObject.MESSAGE,
    SyncObject.NOTE,
    SyncObject.TRANSCRIPT,
)
_DONE = (ConversationStatus.RESOLVED, ConversationStatus.CLOSED)

_PARENTS = (SyncObject.CONTACT.value, SyncObject.CONVERSATION.value)

SCAN = 10_000
"""The most due records of one kind a push round takes at once."""


class SyncReport(BaseModel):
    """What one `SyncEngine.run_once` (or one of its steps) did.

    Attributes:
        events: Outbox events read and queued for the vendor.
        pushed: Records the vendor confirmed.
        unchanged: Queued records that needed no call (nothing the vendor
            holds changed: a re-sync, or the echo of a change it sent us).
        retried: Records sent back to the queue (passing failures).
        dead: Records put on the dead-letter list.
        waiting: Records whose parent is not at the vendor yet.
        pulled: Inbound changes that wrote something locally.
        pulled_unchanged: Inbound changes that matched the local state
            (echoes of our writes, replays).
        pulled_skipped: Inbound changes about records chatkit does not hold.
        calls: Calls made to the integration (push, pull, check).
        parked: Why the integration is parked, when it is.
    """

    model_config = ConfigDict(extra="forbid")

    events: int = 0
    pushed: int = 0
    unchanged: int = 0
    retried: int = 0
    dead: int = 0
    waiting: int = 0
    pulled: int = 0
    pulled_unchanged: int = 0
    pulled_skipped: int = 0
    calls: int = 0
    parked: str | None = None

    def add(self, other: SyncReport) -> None:
        """Add ``other``'s counts to this report (``parked`` is taken over)."""
        for name in type(self).model_fields:
            if name == "parked":
                self.parked = other.parked or self.parked
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))


_Outcome = tuple[SyncLink, PushResult | None, dict[str, JsonValue] | None]
"""A pushed (or settled without a call) link, the vendor's answer, its synced fields."""


class _Parked(Exception):
    """Raised inside a step when the integration had to be parked."""


class SyncEngine:
    """Keeps one integration in step with the kit, in both directions.

    Get one from `Sync.engine`. Any number of engines of the same
    integration may run, in any process on the same store: outbox events
    are shared through the dispatch group ``sync:<name>``, and every write
    to the id map is optimistic, so two workers never push one change
    twice as new.

    **Outbound.** Events about contacts, conversations and messages queue
    their records in the id map (`SyncLink`). `push` sends what is due in
    the largest batches the integration declares, parents first, and marks
    each record done only when the vendor confirmed it. Records whose synced
    fields did not change since the vendor last had them need no call.

    **Inbound.** `pull` reads the vendor's changes after the saved cursor and
    applies them in one transaction with the new cursor; `handle_webhook`
    applies verified deliveries through the same idempotent step.

    **Failures.** Passing failures are retried with tenacity, waiting what
    the vendor's ``Retry-After`` says, then go back to the queue with
    backoff; a record refused for good (or out of retries) goes to the
    dead-letter list with the vendor's message and blocks nothing else. A
    refused credential or used-up quota parks the integration (see
    `Sync.status`) until a check passes again.

    Example:
        ```python
        zendesk = ZendeskIntegration(ZendeskConfig.from_env("zendesk"))
        async with kit.sync.engine(zendesk) as engine:
            report = await engine.run_once()
        ```
    """

    def __init__(
        self,
        core: Core,
        integration: Integration,
        *,
        policy: ConflictPolicy | None = None,
        max_attempts: int = 8,
        call_retries: int = 3,
        max_wait: float = 60.0,
        retry_delay: float = 1.0,
        max_retry_delay: float = 3600.0,
        park_seconds: float = 300.0,
        claim_seconds: float = 60.0,
        page_size: int = 100,
        max_pages: int = 100,
    ) -> None:
        self._core = core
        self.integration = integration
        self.name = integration.name
        self.policy = policy or ConflictPolicy()
        self._max_attempts = max_attempts
        self._call_retries = call_retries
        self._max_wait = max_wait
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._park_seconds = park_seconds
        self._claim_seconds = claim_seconds
        self._page_size = page_size
        self._max_pages = max_pages
        caps = integration.capabilities
        self._outbound = [k for k in _ORDER if caps.supports(k, Direction.OUTBOUND)]
        self._remote_types = {item.object: item.remote_type for item in caps.objects}
        self._limiter = RateLimiter(caps.rate) if caps.rate is not None else None
        self._applier = Applier(core, self.name, self.policy, self._remote_types)
        self._dispatcher: Dispatcher | None = None
        self._opened = False
        self._calls = 0
        self._unsaved_calls = 0
        self.on_progress: Callable[[str, SyncReport], None] | None = None
        """Called after each pushed batch (``"push"``) and applied page (``"pull"``)
        with the step's running report: for progress bars."""
        self.calls = 0
        """Calls made to the integration by this engine (push, pull, check)."""

    def __repr__(self) -> str:
        return f"<SyncEngine {self.name!r}>"

    # -- lifecycle ---------------------------------------------------------------

    async def open(self) -> None:
        """Open the integration (idempotent)."""
        if not self._opened:
            await self.integration.open()
            self._opened = True

    async def close(self) -> None:
        """Close the integration and release the dispatcher (idempotent)."""
        if self._dispatcher is not None:
            await self._dispatcher.close()
            self._dispatcher = None
        if self._opened:
            self._opened = False
            await self.integration.close()

    async def __aenter__(self) -> SyncEngine:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def group(self) -> str:
        """The dispatch group its outbound events go through."""
        return f"sync:{self.name}"

    def _dispatch(self) -> Dispatcher:
        if self._dispatcher is None:
            self._dispatcher = Dispatcher(
                self._core,
                self.group,
                self._collect,
                batch_size=500,
                lease_seconds=60.0,
                start="beginning",
                types=None,
                retry_delay=self._retry_delay,
                max_retry_delay=60.0,
            )
        return self._dispatcher

    # -- the whole cycle -------------------------------------------------------

    async def run_once(self) -> SyncReport:
        """One full cycle: queue new outbox events, push what is due, pull what changed.

        Returns at once (with ``parked`` set) while the integration is parked
        and its next check is not due.
        """
        await self.open()
        report = SyncReport()
        if not await self._unparked(report):
            return report
        report.events = await self.collect()
        try:
            report.add(await self.push())
            if self.integration.capabilities.inbound:
                report.add(await self.pull())
        finally:
            report.calls = self._take_calls()
        return report

    async def run(self, *, interval: float = 30.0, stop: asyncio.Event | None = None) -> None:
        """Run cycles until ``stop`` is set, waking early when the kit commits.

        Args:
            interval: The longest wait between cycles (pulls happen at least
                this often).
            stop: Set it to end the loop after the current cycle.
        """
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.run_once()
            except (ConflictError, IntegrationError) as exc:
                log.warning("sync %s: cycle failed: %s", self.name, exc)
            with contextlib.suppress(asyncio.TimeoutError):
                waiter = asyncio.ensure_future(stop.wait())
                changed = asyncio.ensure_future(self._core.wait_for_events(interval))
                try:
                    await asyncio.wait(
                        {waiter, changed}, timeout=interval, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    for task in (waiter, changed):
                        task.cancel()

    def _take_calls(self) -> int:
        calls, self._calls = self._calls, 0
        return calls

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        """One integration call under the rate budget, retried while passing failures last."""

        def wait(state: RetryCallState) -> float:
            outcome = state.outcome
            exc = outcome.exception() if outcome is not None else None
            after = getattr(exc, "retry_after", None)
            backoff = self._retry_delay * 2 ** (state.attempt_number - 1)
            return float(after) if after is not None else backoff

        def stop(state: RetryCallState) -> bool:
            if stop_after_attempt(self._call_retries)(state):
                return True
            return wait(state) > self._max_wait  # the vendor asks for longer: requeue instead

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(RetryableIntegrationError),
            stop=stop,
            wait=wait,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if self._limiter is not None:
                    await self._limiter.acquire()
                self._calls += 1
                self._unsaved_calls += 1
                self.calls += 1
                return await call()
        raise AssertionError("unreachable")  # pragma: no cover

    # -- state and parking ---------------------------------------------------------

    async def state(self) -> SyncState:
        """The integration's saved state (created empty on first use)."""
        store = await self._core.ready()
        found = await store.get(SyncState, state_id(self.name))
        if found is not None:
            return found
        fresh = SyncState(id=state_id(self.name), integration=self.name)
        with contextlib.suppress(ConflictError):
            await self._core.commit([Insert(fresh)])
        again = await store.get(SyncState, state_id(self.name))
        assert again is not None
        return again

    def _with_calls(self, state: SyncState, **updates: object) -> SyncState:
        now = utcnow()
        day = now.strftime("%Y-%m-%d")
        calls = (state.calls_today if state.day == day else 0) + self._unsaved_calls
        return state.model_copy(
            update={
                **updates,
                "day": day,
                "calls_today": calls,
                "version": state.version + 1,
                "updated_at": now,
            }
        )

    async def _commit_with_state(
        self, ops: list[Op], state: SyncState, events: Sequence[Event] = (), /, **updates: object
    ) -> None:
        """Commit ``ops`` with the state updated, counting the calls made since the last save."""
        unsaved = self._unsaved_calls
        await self._core.commit([*ops, Update(self._with_calls(state, **updates))], events)
        self._unsaved_calls -= unsaved

    async def _save_state(self, **updates: object) -> None:
        async def attempt() -> None:
            await self._commit_with_state([], await self.state(), **updates)

        await self._core.retry(attempt)

    async def _park(self, reason: HealthState, detail: str, until: datetime) -> None:
        log.warning("sync %s parked (%s) until %s", self.name, reason.value, until.isoformat())
        await self._save_state(parked=reason.value, parked_detail=detail[:500], parked_until=until)

    async def _park_for(self, exc: IntegrationAuthError | IntegrationQuotaError) -> NoReturn:
        """Park after a refused credential or a used-up quota, then raise `_Parked`.

        Credentials are checked again after ``park_seconds``; a quota when
        the vendor said it resets, else at the next UTC midnight.
        """
        now = utcnow()
        if isinstance(exc, IntegrationAuthError):
            await self._park(HealthState.AUTH_FAILED, str(exc), now + _seconds(self._park_seconds))
        else:
            until = now + _seconds(exc.retry_after) if exc.retry_after else next_midnight(now)
            await self._park(HealthState.QUOTA_EXHAUSTED, str(exc), until)
        raise _Parked from exc

    async def _unparked(self, report: SyncReport) -> bool:
        """Whether sync may run now; checks a parked integration once its time came."""
        state = await self.state()
        rate = self.integration.capabilities.rate
        now = utcnow()
        today = now.strftime("%Y-%m-%d")
        if (
            rate is not None
            and rate.daily_calls is not None
            and state.day == today
            and state.calls_today >= rate.daily_calls
            and state.parked is None
        ):
            await self._park(
                HealthState.QUOTA_EXHAUSTED, "the daily call budget is used up", next_midnight(now)
            )
            state = await self.state()
        if state.parked is None:
            return True
        if state.parked_until is not None and now < state.parked_until:
            report.parked = state.parked
            return False
        health = await self._call(self.integration.check)
        report.calls += 1
        if health.ok:
            await self._save_state(parked=None, parked_detail=None, parked_until=None)
            log.info("sync %s resumed: %s", self.name, health.detail)
            return True
        until = now + timedelta(seconds=self._park_seconds)
        if health.state is HealthState.QUOTA_EXHAUSTED:
            until = max(until, next_midnight(now)) if state.parked == "quota_exhausted" else until
        await self._park(health.state, health.detail, until)
        report.parked = health.state.value
        return False

    # -- outbound: queueing ------------------------------------------------------

    async def collect(self) -> int:
        """Queue every outbox event not seen yet; returns how many were read."""
        return await self._dispatch().drain()

    async def _collect(self, events: list[Event]) -> None:
        wanted: dict[str, tuple[SyncObject, str | None, bool]] = {}

        def add(
            kind: SyncObject, local_id: str | None, parent: str | None, *, ensure: bool = False
        ) -> None:
            if local_id is None or kind not in self._outbound:
                return
            known = wanted.get(local_id)
            if known is None or (known[2] and not ensure):
                wanted[local_id] = (kind, parent, ensure)

        for event in events:
            if isinstance(event, (ContactCreated, ContactUpdated, ContactMerged)):
                add(SyncObject.CONTACT, event.contact.id, None)
            elif isinstance(event, ContactIdentityAdded):
                add(SyncObject.CONTACT, event.contact_id, None)
            elif isinstance(event, ConversationCreated):
                conversation = event.conversation
                add(SyncObject.CONTACT, conversation.contact_id, None, ensure=True)
                add(SyncObject.CONVERSATION, conversation.id, conversation.contact_id)
            elif isinstance(
                event,
                (
                    ConversationStatusChanged,
                    ConversationAssigned,
                    ConversationPriorityChanged,
                    ConversationTagsChanged,
                    ConversationPurged,
                ),
            ):
                add(SyncObject.CONTACT, event.contact_id, None, ensure=True)
                add(SyncObject.CONVERSATION, event.conversation_id, event.contact_id)
                if isinstance(event, ConversationStatusChanged) and event.to_status in _DONE:
                    cid = event.conversation_id
                    if cid is not None:
                        add(SyncObject.TRANSCRIPT, cid + TRANSCRIPT_SUFFIX, cid)
            elif isinstance(event, MessageCreated):
                message = event.message
                if message.kind is MessageKind.SYSTEM:
                    continue
                kind = SyncObject.NOTE if message.kind is MessageKind.NOTE else SyncObject.MESSAGE
                add(SyncObject.CONTACT, event.contact_id, None, ensure=True)
                add(SyncObject.CONVERSATION, message.conversation_id, event.contact_id, ensure=True)
                add(kind, message.id, message.conversation_id)
        if wanted:
            await self._queue(wanted)

    async def _queue(self, wanted: Mapping[str, tuple[SyncObject, str | None, bool]]) -> None:
        store = await self._core.ready()
        ids = {link_id(self.name, local_id): local_id for local_id in wanted}

        async def attempt() -> None:
            found = {
                link.id: link
                for chunk in _chunks(list(ids), 500)
                for link in await store.find(SyncLink, {"id": In(chunk)})
            }
            now = utcnow()
            due = key_of(now)
            ops: list[Op] = []
            for lid, local_id in ids.items():
                kind, parent, ensure = wanted[local_id]
                link = found.get(lid)
                if link is None:
                    ops.append(
                        Insert(
                            SyncLink(
                                id=lid,
                                integration=self.name,
                                kind=kind.value,
                                local_id=local_id,
                                parent_local_id=parent,
                                wanted=1,
                                due_key=due,
                            )
                        )
                    )
                elif not ensure:
                    ops.append(
                        Update(
                            link.model_copy(
                                update={
                                    "wanted": link.wanted + 1,
                                    "due_key": link.due_key if link.pending else due,
                                    "dead": False,
                                    "attempts": min(link.attempts, 1),
                                    "parent_local_id": parent or link.parent_local_id,
                                    "version": link.version + 1,
                                    "updated_at": now,
                                }
                            )
                        )
                    )
            if ops:
                await self._core.commit(ops)

        await self._core.retry(attempt)

    async def resync(self, objects: Sequence[SyncObject | str] | None = None) -> int:
        """Queue every local record of the synced kinds again (a full re-sync).

        Records the vendor already holds in their current state need no
        call when pushed, so a re-sync with nothing changed writes nothing.

        Returns:
            How many records were queued.
        """
        kinds = {SyncObject(k) for k in objects} if objects is not None else set(self._outbound)
        store = await self._core.ready()
        wanted: dict[str, tuple[SyncObject, str | None, bool]] = {}
        if SyncObject.CONTACT in kinds and SyncObject.CONTACT in self._outbound:
            for contact in await store.find(Contact, {"merged_into": None}):
                wanted[contact.id] = (SyncObject.CONTACT, None, False)
        conversations = await store.find(Conversation)
        if SyncObject.CONVERSATION in kinds and SyncObject.CONVERSATION in self._outbound:
            for conversation in conversations:
                wanted[conversation.id] = (
                    SyncObject.CONVERSATION,
                    conversation.contact_id,
                    False,
                )
        messages = {SyncObject.MESSAGE, SyncObject.NOTE} & kinds & set(self._outbound)
        if messages:
            for conversation in conversations:
                for message in await store.find(Message, {"conversation_id": conversation.id}):
                    kind = (
                        SyncObject.NOTE if message.kind is MessageKind.NOTE else SyncObject.MESSAGE
                    )
                    if message.kind is not MessageKind.SYSTEM and kind in messages:
                        wanted[message.id] = (kind, conversation.id, False)
        if wanted:
            await self._queue(wanted)
        return len(wanted)

    # -- outbound: pushing ---------------------------------------------------------

    async def push(self, *, max_rounds: int = 50) -> SyncReport:
        """Push every record that is due, parents first, in the largest batches allowed.

        Each round takes the due records kind by kind (contacts, conversations,
        messages, notes, transcripts), up to `SCAN` of a kind, oldest first, and
        pushes them in batches of the kind's declared size; rounds repeat while
        anything is due.
        """
        await self.open()
        report = SyncReport()
        store = await self._core.ready()
        try:
            for _ in range(max_rounds):
                pushed_any = False
                for kind in self._outbound:
                    due = await store.find(
                        SyncLink,
                        {
                            "integration": self.name,
                            "kind": kind.value,
                            "due_key": Lt(key_of(utcnow() + timedelta(microseconds=1))),
                        },
                        order_by="due_key",
                        limit=SCAN,
                    )
                    size = self.integration.capabilities.batch_size(kind)
                    for chunk in _chunks(due, size):
                        pushed_any = True
                        await self._push_batch(kind, chunk, report)
                        if self.on_progress is not None:
                            self.on_progress("push", report)
                if not pushed_any:
                    break
        except _Parked:
            report.parked = (await self.state()).parked
        return report

    async def _records(self, kind: SyncObject, links: list[SyncLink]) -> dict[str, object]:
        store = await self._core.ready()
        ids = [link.local_id for link in links]
        if kind is SyncObject.CONTACT:
            return {c.id: c for c in await store.find(Contact, {"id": In(ids)})}
        if kind is SyncObject.CONVERSATION:
            return {c.id: c for c in await store.find(Conversation, {"id": In(ids)})}
        if kind is SyncObject.TRANSCRIPT:
            out: dict[str, object] = {}
            transcripts = Transcripts(self._core)
            for local_id in ids:
                cid = local_id.removesuffix(TRANSCRIPT_SUFFIX)
                if await store.get(Conversation, cid) is not None:
                    out[local_id] = await transcripts.render(cid, format="text")
            return out
        return {m.id: m for m in await store.find(Message, {"id": In(ids)})}

    async def _owners(self, records: Mapping[str, object]) -> dict[str, Agent]:
        """The agents assigned to the conversations among ``records``, by id."""
        ids = {r.assignee_id for r in records.values() if isinstance(r, Conversation)}
        ids.discard(None)
        if not ids:
            return {}
        store = await self._core.ready()
        return {a.id: a for a in await store.find(Agent, {"id": In(sorted(ids))})}

    def _outbound_data(
        self, kind: SyncObject, record: object, local_id: str, owners: Mapping[str, Agent]
    ) -> tuple[dict[str, JsonValue], dict[str, JsonValue]]:
        """The data pushed for ``record`` and its synced fields."""
        if isinstance(record, Contact):
            fields = contact_fields(record)
            return {**record.model_dump(mode="json"), **fields}, fields
        if isinstance(record, Conversation):
            owner = owners.get(record.assignee_id or "")
            dumped = record.model_dump(mode="json")
            dumped["assignee_email"] = owner.email if owner is not None else None
            dumped["assignee_name"] = owner.name if owner is not None else None
            return dumped, conversation_fields(record)
        if isinstance(record, Message):
            return record.model_dump(mode="json"), message_fields(record)
        assert isinstance(record, str), kind
        cid = local_id.removesuffix(TRANSCRIPT_SUFFIX)
        data: dict[str, JsonValue] = {
            "conversation_id": cid,
            "filename": f"transcript-{cid}.txt",
            "content_type": "text/plain",
            "text": record,
        }
        return data, {"hash": digest(record)}

    async def _parents(self, kind: SyncObject, links: list[SyncLink]) -> dict[str, SyncLink]:
        parent_kind = PARENT_KIND.get(kind)
        if parent_kind is None or parent_kind not in self._outbound:
            return {}
        store = await self._core.ready()
        ids = list(
            {link_id(self.name, link.parent_local_id) for link in links if link.parent_local_id}
        )
        found = await store.find(SyncLink, {"id": In(ids)}) if ids else []
        return {link.local_id: link for link in found}

    async def _push_batch(
        self, kind: SyncObject, links: list[SyncLink], report: SyncReport
    ) -> None:
        records = await self._records(kind, links)
        owners = await self._owners(records)
        parents = await self._parents(kind, links)
        needs_parent = PARENT_KIND.get(kind) in self._outbound
        sends: list[tuple[SyncLink, OutboundChange, dict[str, JsonValue] | None]] = []
        settled: list[tuple[SyncLink, PushResult | None, dict[str, JsonValue] | None]] = []
        waiting: list[SyncLink] = []
        for link in links:
            record = records.get(link.local_id)
            parent = parents.get(link.parent_local_id or "")
            if record is None:
                if link.remote_id is None:
                    settled.append((link, None, None))  # gone before it ever reached the vendor
                    continue
                change = OutboundChange(
                    change_id=f"{link.id}:{link.wanted}",
                    object=kind,
                    action=ChangeAction.DELETE,
                    local_id=link.local_id,
                    remote_id=link.remote_id,
                    parent_local_id=link.parent_local_id,
                    parent_remote_id=parent.remote_id if parent else None,
                    attempt=link.attempts + 1,
                )
                sends.append((link, change, None))
                continue
            data, fields = self._outbound_data(kind, record, link.local_id, owners)
            if needs_parent and (parent is None or parent.remote_id is None):
                waiting.append(link)
                continue
            if link.synced and fields == link.synced:  # the vendor has it like this
                settled.append((link, None, fields))
                continue
            change = OutboundChange(
                change_id=f"{link.id}:{link.wanted}",
                object=kind,
                local_id=link.local_id,
                remote_id=link.remote_id,
                parent_local_id=link.parent_local_id,
                parent_remote_id=parent.remote_id if parent else None,
                data=data,
                occurred_at=link.updated_at,
                attempt=link.attempts + 1,
            )
            sends.append((link, change, fields))
        if waiting:
            await self._wait_for_parents(waiting)
            report.waiting += len(waiting)
        if settled:
            await self._settle([(link, None, fields) for link, _, fields in settled], report)
        if not sends:
            return
        claimed = await self._claim([link for link, _, _ in sends])
        sends = [
            (claimed[link.id], change.model_copy(update={"attempt": claimed[link.id].attempts}), f)
            for link, change, f in sends
            if link.id in claimed
        ]
        if not sends:
            return
        changes = [change for _, change, _ in sends]
        try:
            async with self._claim_kept([link for link, _, _ in sends]):
                results = await self._call(lambda: self.integration.push(changes))
        except (IntegrationAuthError, IntegrationQuotaError) as exc:
            await self._release([link for link, _, _ in sends])
            await self._park_for(exc)
        except RetryableIntegrationError as exc:
            results = [
                PushResult.retryable(change, str(exc) or "retry", retry_after=exc.retry_after)
                for change in changes
            ]
        except PermanentIntegrationError as exc:
            results = [PushResult.permanent(change, str(exc) or "refused") for change in changes]
        except IntegrationError as exc:
            results = [PushResult.retryable(change, str(exc) or "failed") for change in changes]
        by_id = {result.change_id: result for result in results}
        outcome: list[tuple[SyncLink, PushResult | None, dict[str, JsonValue] | None]] = []
        for link, change, synced in sends:
            result = by_id.get(change.change_id) or PushResult.retryable(
                change, f"{self.name} returned no result for this record"
            )
            outcome.append((link, result, synced))
        await self._settle(outcome, report)

    async def _claim(self, links: list[SyncLink]) -> dict[str, SyncLink]:
        """Claim ``links`` for this worker and count the try, before making it.

        The try is counted first, so a crash after the vendor got it is known
        (the next try looks the record up before creating it). The claim moves
        ``due_key`` ``claim_seconds`` ahead: no other worker pushes these
        records meanwhile, and if this one dies they come due again. A link
        another worker changed since it was read is left out.

        Returns:
            The claimed links (a subset of ``links``), by id.
        """
        store = await self._core.ready()
        wanted = {link.id: link for link in links}
        for _ in range(self._core.settings.conflict_retries + 1):
            if not wanted:
                break
            now = utcnow()
            lease = key_of(now + _seconds(self._claim_seconds))
            new = [
                link.model_copy(
                    update={
                        "attempts": link.attempts + 1,
                        "waiting": False,
                        "due_key": lease,
                        "version": link.version + 1,
                        "updated_at": now,
                    }
                )
                for link in wanted.values()
            ]
            try:
                await self._core.commit([Update(link) for link in new])
            except ConflictError:
                current = await store.find(SyncLink, {"id": In(list(wanted))})
                due = key_of(now)
                wanted = {
                    link.id: link
                    for link in current
                    if link.version == wanted[link.id].version
                    and link.pending
                    and (link.due_key or "~") <= due
                }
                continue
            return {link.id: link for link in new}
        return {}

    @contextlib.asynccontextmanager
    async def _claim_kept(self, links: list[SyncLink]) -> AsyncIterator[None]:
        """Keep the claim on ``links`` alive while the body runs."""
        keeper = asyncio.get_running_loop().create_task(self._keep_claim(links))
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _keep_claim(self, links: list[SyncLink]) -> None:
        """Extend the claim on ``links`` while a long push runs (until cancelled).

        A link is still ours while its due time is the one this worker set
        (queueing a new local change keeps it); one another worker took over
        is let go.
        """
        store = await self._core.ready()
        ours = {link.id: link.due_key for link in links}
        while ours:
            await asyncio.sleep(max(0.05, self._claim_seconds / 3))
            current = await store.find(SyncLink, {"id": In(list(ours))})
            lease = key_of(utcnow() + _seconds(self._claim_seconds))
            renewed = [
                link.model_copy(update={"due_key": lease, "version": link.version + 1})
                for link in current
                if link.due_key is not None and ours.get(link.id) == link.due_key
            ]
            with contextlib.suppress(ConflictError):  # changed meanwhile: read again
                await self._core.commit([Update(link) for link in renewed])
                ours = {link.id: lease for link in renewed}

    async def _rewrite(
        self,
        where: Mapping[str, object],
        change: Callable[[SyncLink], Mapping[str, object] | None],
    ) -> None:
        """Read the links matching ``where`` and commit ``change(link)``'s updates to each.

        ``change`` returns the fields to set, or ``None`` to leave a link be.
        A lost write race reads the links again (`Core.retry`).
        """
        store = await self._core.ready()

        async def attempt() -> None:
            ops: list[Op] = []
            for link in await store.find(SyncLink, where):
                updates = change(link)
                if updates is not None:
                    ops.append(
                        Update(link.model_copy(update={**updates, "version": link.version + 1}))
                    )
            if ops:
                await self._core.commit(ops)

        await self._core.retry(attempt)

    async def _release(self, links: list[SyncLink]) -> None:
        """Give claimed links back untried: the vendor refused the whole call, wrote nothing."""
        now = key_of(utcnow())
        await self._rewrite(
            {"id": In([link.id for link in links])},
            lambda link: {
                "attempts": max(0, link.attempts - 1),
                "due_key": now if link.pending else None,
            },
        )

    async def _wait_for_parents(self, links: list[SyncLink]) -> None:
        later = key_of(utcnow() + _seconds(self._retry_delay))
        await self._rewrite(
            {"id": In([link.id for link in links])},
            lambda link: {
                "due_key": later if link.pending else link.due_key,
                "last_error": "waiting for its parent to reach the vendor",
                "waiting": True,
            },
        )

    def _backoff(self, attempts: int) -> float:
        return float(min(self._max_retry_delay, self._retry_delay * 2 ** max(0, attempts - 1)))

    def _settled_link(
        self,
        sent: SyncLink,
        now_link: SyncLink,
        result: PushResult | None,
        fields: dict[str, JsonValue] | None,
        report: SyncReport,
    ) -> Op:
        now = utcnow()
        more = now_link.wanted > sent.wanted  # changed again while we pushed
        due_now = key_of(now)
        base: dict[str, object] = {"version": now_link.version + 1, "updated_at": now}
        if result is None or result.status is PushStatus.OK:
            if fields is None:  # the record is gone here, and now at the vendor too
                if result is not None:
                    report.pushed += 1
                return Delete(SyncLink, now_link.id)
            if result is None:
                report.unchanged += 1
            else:
                report.pushed += 1
            kind = SyncObject(now_link.kind)
            remote_id = result.remote_id if result is not None else now_link.remote_id
            remote_type = self._remote_types.get(kind, kind.value)
            update: dict[str, object] = {
                **base,
                "pushed": max(now_link.pushed, sent.wanted),
                "due_key": due_now if more else None,
                "attempts": 0,
                "last_error": None,
                "dead": False,
            }
            if remote_id is not None:
                update["remote_id"] = remote_id
                update["remote_type"] = (result.remote_type if result else None) or remote_type
                update["remote_key"] = f"{remote_type}:{remote_id}"
            if result is not None and result.remote_version is not None:
                update["remote_version"] = result.remote_version
            if fields is not None:
                update["synced"] = fields
                update["synced_at"] = now
            return Update(now_link.model_copy(update=update))
        if result.status is PushStatus.RETRYABLE and now_link.attempts < self._max_attempts:
            report.retried += 1
            delay = max(result.retry_after or 0.0, self._backoff(now_link.attempts))
            return Update(
                now_link.model_copy(
                    update={
                        **base,
                        "due_key": key_of(now + _seconds(delay)),
                        "last_error": (result.error or "")[:1000],
                    }
                )
            )
        report.dead += 1
        log.warning("sync %s: %s dead-lettered: %s", self.name, now_link.local_id, result.error)
        return Update(
            now_link.model_copy(
                update={
                    **base,
                    "dead": True,
                    "due_key": due_now if more else None,
                    "last_error": (result.error or "")[:1000],
                }
            )
        )

    async def _settle(
        self,
        outcome: list[tuple[SyncLink, PushResult | None, dict[str, JsonValue] | None]],
        report: SyncReport,
    ) -> None:
        """Record the vendor's answers in the id map, in one transaction when possible."""
        store = await self._core.ready()

        async def attempt(
            items: list[tuple[SyncLink, PushResult | None, dict[str, JsonValue] | None]],
        ) -> SyncReport:
            part = SyncReport()
            current = {
                link.id: link
                for link in await store.find(SyncLink, {"id": In([item[0].id for item in items])})
            }
            ops: list[Op] = []
            for sent, result, fields in items:
                now_link = current.get(sent.id)
                if now_link is not None:
                    ops.append(self._settled_link(sent, now_link, result, fields, part))
            ops += await self._children_of_deleted(ops, current)
            state = await self.state()
            await self._commit_with_state(
                ops,
                state,
                pushed=state.pushed + part.pushed,
                last_push_at=utcnow() if part.pushed else state.last_push_at,
            )
            return part

        try:
            report.add(await self._core.retry(lambda: attempt(outcome)))
            await self._wake_children([item for item in outcome if item[0].remote_id is None])
        except DuplicateKeyError:
            # Two local records answered with one vendor id: settle one by one,
            # and dead-letter the record whose id is taken.
            for item in outcome:
                try:
                    report.add(await self._core.retry(functools.partial(attempt, [item])))
                except DuplicateKeyError:
                    link, result, _ = item
                    taken = PushResult(
                        change_id=result.change_id if result else link.id,
                        status=PushStatus.PERMANENT,
                        error=f"the vendor record {result.remote_id if result else '?'} "
                        "is linked to another local record",
                    )
                    refused: list[_Outcome] = [(link, taken, None)]
                    report.add(await self._core.retry(functools.partial(attempt, refused)))

    async def _wake_children(self, parents: list[_Outcome]) -> None:
        """Make the children waiting for these parents, now at the vendor, due at once.

        Any worker's children: the one that found a parent missing may not be
        the one that pushed it.
        """
        done = [
            link.local_id
            for link, result, _ in parents
            if link.kind in _PARENTS and result is not None and result.status is PushStatus.OK
        ]
        if not done:
            return
        now = key_of(utcnow())
        await self._rewrite(
            {"integration": self.name, "parent_local_id": In(done)},
            lambda child: (
                {"due_key": now, "waiting": False}
                if child.waiting and child.pending and (child.due_key or "") > now
                else None
            ),
        )

    async def _children_of_deleted(
        self, ops: list[Op], current: Mapping[str, SyncLink]
    ) -> list[Op]:
        deleted = [
            current[op.id].local_id for op in ops if isinstance(op, Delete) and op.id in current
        ]
        if not deleted:
            return []
        store = await self._core.ready()
        children = await store.find(
            SyncLink, {"integration": self.name, "parent_local_id": In(deleted)}
        )
        return [Delete(SyncLink, child.id) for child in children if child.id not in current]

    # -- inbound -------------------------------------------------------------------

    async def pull(self) -> SyncReport:
        """Read and apply the vendor's changes since the saved cursor, page by page.

        Each page is applied in one transaction with its cursor, so a crash
        replays a page (the apply step is idempotent) and never skips one.
        """
        await self.open()
        report = SyncReport()
        try:
            for _ in range(self._max_pages):
                state = await self.state()
                cursor = state.cursor
                try:
                    page = await self._call(
                        lambda cursor=cursor: self.integration.pull(cursor, limit=self._page_size)  # type: ignore[misc]
                    )
                except (IntegrationAuthError, IntegrationQuotaError) as exc:
                    await self._park_for(exc)
                applied = await self._apply(page.changes, cursor=page.cursor, expect=cursor)
                report.pulled += applied.applied
                report.pulled_unchanged += applied.unchanged
                report.pulled_skipped += applied.skipped
                if self.on_progress is not None:
                    self.on_progress("pull", report)
                if not page.has_more:
                    break
        except _Parked:
            report.parked = (await self.state()).parked
        return report

    async def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> SyncReport:
        """Verify a webhook delivery and apply its changes (duplicates change nothing).

        Raises:
            WebhookVerificationError: Bad signature, too old, or malformed;
                nothing was applied. Answer the vendor with 401.
        """
        await self.open()
        changes = await self.integration.verify_webhook(headers, body)
        applied = await self._apply(tuple(changes), cursor=None, expect=None, keep_cursor=True)
        return SyncReport(
            pulled=applied.applied,
            pulled_unchanged=applied.unchanged,
            pulled_skipped=applied.skipped,
        )

    async def apply(self, changes: Sequence[InboundChange]) -> SyncReport:
        """Apply inbound changes obtained elsewhere (a queue, a test) without moving the cursor."""
        applied = await self._apply(tuple(changes), cursor=None, expect=None, keep_cursor=True)
        return SyncReport(
            pulled=applied.applied,
            pulled_unchanged=applied.unchanged,
            pulled_skipped=applied.skipped,
        )

    async def _apply(
        self,
        changes: Sequence[InboundChange],
        *,
        cursor: str | None,
        expect: str | None,
        keep_cursor: bool = False,
    ) -> ApplyReport:
        async def attempt() -> ApplyReport:
            state = await self.state()
            if not keep_cursor and state.cursor != expect:
                return ApplyReport()  # another worker applied this page already
            ops, events, report = await self._applier.plan(list(changes))
            updates: dict[str, object] = {
                "pulled": state.pulled + report.applied,
                "last_pull_at": utcnow(),
            }
            if not keep_cursor:
                updates["cursor"] = cursor
            await self._commit_with_state(ops, state, events, **updates)
            return report

        return await self._core.retry(attempt)


def _chunks(items: list[T], size: int) -> list[list[T]]:
    size = max(1, size)
    return [items[i : i + size] for i in range(0, len(items), size)]


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=max(0.0, value))
