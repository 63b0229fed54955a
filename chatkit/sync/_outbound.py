"""Sync engine layer: outbound events to queued records, and the push rounds."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from pydantic import JsonValue

from ..errors import (
    IntegrationAuthError,
    IntegrationError,
    IntegrationQuotaError,
    NotFoundError,
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
from ..integrations import ChangeAction, OutboundChange, PushResult, PushStatus, SyncObject
from ..models import (
    Agent,
    Contact,
    Conversation,
    Message,
    MessageKind,
    WebSession,
    Website,
    utcnow,
)
from ..models.sync import SyncLink, link_id
from ..services.attachments import Attachments
from ..services.transcripts import Transcripts
from ..stores.base import In, Lt
from ..transcripts import TranscriptFormat, render
from ._base import _DONE, SCAN, SyncReport, _chunks, _Parked
from ._links import _Links
from ._milestones import event_data, milestones, visitor_of
from ._shared import (
    PARENT_KIND,
    TRANSCRIPT_SUFFIX,
    contact_fields,
    conversation_fields,
    digest,
    key_of,
    message_fields,
)


@dataclass(frozen=True)
class _TranscriptRecord:
    """A transcript as pushed: its conversation, its three renderings, its attachments."""

    conversation: Conversation
    text: str
    html: str
    json: str
    attachments: list[JsonValue]


class _Outbound(_Links):
    """From outbox events to queued links, and from due links to vendor pushes."""

    async def _collect(self, events: list[Event]) -> None:
        """The dispatcher's handler: queue the records ``events`` are about (parents too)."""
        wanted: dict[str, tuple[SyncObject, str | None, bool]] = {}

        def add(
            kind: SyncObject, local_id: str | None, parent: str | None, *, ensure: bool = False
        ) -> None:
            if local_id is None or kind not in self._outbound:
                return
            known = wanted.get(local_id)
            if known is None or (known[2] and not ensure):
                wanted[local_id] = (kind, parent, ensure)

        payloads: dict[str, dict[str, JsonValue]] = {}
        for event in events:
            if SyncObject.EVENT in self._outbound:
                for local_id, conversation_id, payload in milestones(event):
                    if local_id not in wanted:
                        add(SyncObject.EVENT, local_id, conversation_id, ensure=True)
                        payloads[local_id] = payload
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
            await self._queue(wanted, payloads)

    async def _resync(self, objects: Sequence[SyncObject | str] | None) -> int:
        """Queue every local record of ``objects`` (all synced kinds when ``None``) again."""
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

    async def _push_rounds(self, max_rounds: int) -> SyncReport:
        """Rounds of pushes until nothing is due (`SyncEngine.push`): each round takes
        the due links kind by kind, up to `SCAN` of a kind, oldest first, in batches
        of the kind's declared size."""
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
            report.parked = (await self._load_state()).parked
        return report

    async def _records(self, kind: SyncObject, links: list[SyncLink]) -> dict[str, object]:
        store = await self._core.ready()
        ids = [link.local_id for link in links]
        if kind is SyncObject.CONTACT:
            return {c.id: c for c in await store.find(Contact, {"id": In(ids)})}
        if kind is SyncObject.CONVERSATION:
            return {c.id: c for c in await store.find(Conversation, {"id": In(ids)})}
        if kind is SyncObject.EVENT:
            return await self._events(links)
        if kind is SyncObject.TRANSCRIPT:
            out: dict[str, object] = {}
            for local_id in ids:
                cid = local_id.removesuffix(TRANSCRIPT_SUFFIX)
                if await store.get(Conversation, cid) is not None:
                    out[local_id] = await self._transcript(cid)
            return out
        return {m.id: m for m in await store.find(Message, {"id": In(ids)})}

    async def _events(self, links: list[SyncLink]) -> dict[str, object]:
        """What is pushed for each event link: its payload, with timings and the visitor."""
        store = await self._core.ready()
        conversation_ids = sorted(
            {str(link.payload.get("conversation_id") or "") for link in links}
        )
        conversations = {
            c.id: c for c in await store.find(Conversation, {"id": In(conversation_ids)})
        }
        contact_ids = sorted({str(link.payload.get("contact_id") or "") for link in links})
        sessions: dict[str, list[WebSession]] = {}
        for session in await store.find(WebSession, {"contact_id": In(contact_ids)}):
            sessions.setdefault(session.contact_id, []).append(session)
        site_ids = sorted({s.website_id for found in sessions.values() for s in found})
        sites = (
            {w.id: w for w in await store.find(Website, {"id": In(site_ids)})} if site_ids else {}
        )
        visitors = {cid: visitor_of(found, sites) for cid, found in sessions.items()}
        none = visitor_of([], sites)
        out: dict[str, object] = {}
        for link in links:
            payload = link.payload
            conversation = conversations.get(str(payload.get("conversation_id") or ""))
            visitor = visitors.get(str(payload.get("contact_id") or ""), none)
            out[link.local_id] = _EventData(event_data(payload, conversation, visitor))
        return out

    async def _transcript(self, conversation_id: str) -> _TranscriptRecord:
        """A conversation's transcript in every format, with its attachments' bytes
        when the integration wants them (`Integration.transcript_attachment_bytes`)."""
        transcript = await Transcripts(self._core).get(conversation_id)
        zone = ZoneInfo("UTC")
        limit = self.integration.transcript_attachment_bytes
        attachments: list[JsonValue] = []
        for message in transcript.messages:
            for info in message.attachments:
                item: dict[str, JsonValue] = {
                    "id": info.id,
                    "message_id": message.id,
                    "name": info.name,
                    "mime_type": info.mime_type,
                    "size": info.size,
                    "sha256": info.sha256,
                    "content": None,
                }
                if 0 < info.size <= limit:
                    with contextlib.suppress(NotFoundError):  # its bytes were purged
                        content = await Attachments(self._core).read(info.id)
                        item["content"] = base64.b64encode(content).decode("ascii")
                attachments.append(item)
        return _TranscriptRecord(
            conversation=transcript.conversation,
            text=render(transcript, TranscriptFormat.TEXT, zone),
            html=render(transcript, TranscriptFormat.HTML, zone),
            json=render(transcript, TranscriptFormat.JSON, zone),
            attachments=attachments,
        )

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
        if isinstance(record, _EventData):
            return dict(record), {"event": digest(local_id)}
        assert isinstance(record, _TranscriptRecord), kind
        cid = local_id.removesuffix(TRANSCRIPT_SUFFIX)
        conversation = record.conversation
        data: dict[str, JsonValue] = {
            "conversation_id": cid,
            "filename": f"transcript-{cid}.txt",
            "content_type": "text/plain",
            "text": record.text,
            "html": record.html,
            "json": record.json,
            "contact_id": conversation.contact_id,
            "team": conversation.team,
            "status": conversation.status.value,
            "created_at": conversation.created_at.isoformat(),
            "resolved_at": (
                conversation.resolved_at.isoformat() if conversation.resolved_at else None
            ),
            "attachments": list(record.attachments),
        }
        return data, {"hash": digest(record.text)}

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

    async def _settle_cut_off(self, links: list[SyncLink], report: SyncReport) -> list[SyncLink]:
        """Dead-letter the links whose last try was cut off mid-call; the others, to push.

        For kinds sent at most once: the vendor may hold what that try sent and
        cannot say, so it is not sent again (`Sync.retry` sends it anyway).
        """
        cut = [link for link in links if link.sending]
        if cut:
            unknown = "outcome unknown: the worker stopped while this was being sent, so the "
            unknown += "vendor may have it; not sent again (retry it to send it anyway)"
            await self._settle(
                [
                    (
                        link,
                        PushResult(
                            change_id=f"{link.id}:{link.wanted}",
                            status=PushStatus.PERMANENT,
                            error=unknown,
                        ),
                        None,
                    )
                    for link in cut
                ],
                report,
            )
        return [link for link in links if not link.sending]

    async def _push_batch(
        self, kind: SyncObject, links: list[SyncLink], report: SyncReport
    ) -> None:
        records = await self._records(kind, links)
        owners = await self._owners(records)
        parents = await self._parents(kind, links)
        needs_parent = PARENT_KIND.get(kind) in self._outbound
        if self.integration.capabilities.at_most_once(kind):
            links = await self._settle_cut_off(links, report)
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
        groups = [sends]
        if self.integration.capabilities.at_most_once(kind):
            groups = self._one_call_each(sends)
        for group in groups:
            await self._send(group, report)

    def _one_call_each(
        self, sends: list[tuple[SyncLink, OutboundChange, dict[str, JsonValue] | None]]
    ) -> list[list[tuple[SyncLink, OutboundChange, dict[str, JsonValue] | None]]]:
        """``sends`` split as the integration makes its vendor calls (`Integration.split_calls`).

        An at-most-once kind is claimed, pushed and settled one vendor call at a
        time, so a worker that dies cuts off one call, not the whole batch. A
        split that loses or repeats a change is ignored (one group).
        """
        by_id = {change.change_id: (link, change, f) for link, change, f in sends}
        parts = self.integration.split_calls([change for _, change, _ in sends])
        ids = [change.change_id for part in parts for change in part]
        if sorted(ids) != sorted(by_id):
            return [sends]
        return [[by_id[change.change_id] for change in part] for part in parts if part]

    async def _send(
        self,
        sends: list[tuple[SyncLink, OutboundChange, dict[str, JsonValue] | None]],
        report: SyncReport,
    ) -> None:
        """Claim ``sends``, push them in one integration call, and settle the answers."""
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


class _EventData(dict[str, JsonValue]):
    """The data pushed for one event link (a dict, told apart from other records)."""
