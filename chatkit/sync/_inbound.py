"""Applying vendor changes locally: one idempotent step for pulls and webhooks."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from pydantic import JsonValue

from ..errors import InvalidTransitionError
from ..events import (
    ContactUpdated,
    ConversationPriorityChanged,
    ConversationTagsChanged,
    Event,
)
from ..integrations import ChangeAction, InboundChange, SyncObject
from ..models import (
    Author,
    Contact,
    Conversation,
    ConversationStatus,
    Identity,
    IdentityKind,
    Message,
    MessageKind,
    Priority,
    Record,
    new_id,
    utcnow,
)
from ..models.sync import DecisionOutcome, SyncDecision, SyncLink, link_id
from ..services._core import Core, checked
from ..services.contacts import Contacts
from ..services.conversations import normalize_tags, transition
from ..services.messages import Messages
from ..services.workload import workload_changes
from ..stores.base import Insert, Op, Update
from ._shared import (
    contact_fields,
    conversation_fields,
    digest,
    key_of,
    message_fields,
)
from .policy import ConflictPolicy, FieldPolicy

__all__ = ["ApplyReport", "Applier"]

log = logging.getLogger(__name__)

_MISSING = object()


@dataclass
class ApplyReport:
    """What one apply step did."""

    applied: int = 0
    """Changes that wrote something locally."""
    unchanged: int = 0
    """Changes that matched the local state already (echoes of our writes, replays)."""
    skipped: int = 0
    """Changes about records chatkit does not hold (not created here) or refused."""
    decisions: int = 0


@dataclass
class _Work:
    """Everything one apply step will commit, built up change by change."""

    originals: dict[str, Record] = field(default_factory=dict)
    current: dict[str, Record] = field(default_factory=dict)
    inserts: dict[str, Record] = field(default_factory=dict)
    other_ops: list[Op] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


class Applier:
    """Applies a batch of `InboundChange` for one integration, all in one commit.

    Changes about records that have no link (a case created in the CRM, not
    from a chat) are skipped: chatkit holds the conversations that happened
    here. A contact without a link is linked when its e-mail address leads
    to a local contact.
    """

    def __init__(
        self,
        core: Core,
        integration: str,
        policy: ConflictPolicy,
        remote_types: dict[SyncObject, str],
    ) -> None:
        self._core = core
        self._name = integration
        self._policy = policy
        self._types = remote_types

    def remote_key(self, kind: SyncObject, remote_id: str) -> str:
        """The id map's key of a vendor record: its declared remote type and id."""
        return f"{self._types.get(kind, kind.value)}:{remote_id}"

    async def plan(
        self, changes: tuple[InboundChange, ...] | list[InboundChange]
    ) -> tuple[list[Op], list[Event], ApplyReport]:
        """The ops and events that apply ``changes``, oldest first."""
        work = _Work()
        report = ApplyReport()
        for change in changes:
            outcome = await self._one(change, work, report)
            if outcome == "applied":
                report.applied += 1
            elif outcome == "unchanged":
                report.unchanged += 1
            else:
                report.skipped += 1
        ops: list[Op] = []
        for rid, record in work.current.items():
            if rid in work.inserts:
                continue
            original = work.originals[rid]
            if record == original:
                continue
            ops.append(Update(record.model_copy(update={"version": original.version + 1})))
        for rid, record in work.current.items():
            if isinstance(record, Conversation) and rid not in work.inserts:
                before = work.originals[rid]
                assert isinstance(before, Conversation)
                final = record.model_copy(update={"version": before.version + 1})
                load, after, unassigned = await workload_changes(
                    self._core, before, final, enforce=False
                )
                if after is not final:
                    ops = [Update(after) if _is(op, rid) else op for op in ops]
                ops += load
                work.events += unassigned
        ops += [Insert(record) for record in work.inserts.values()]
        ops += work.other_ops
        return ops, work.events, report

    # -- one change ------------------------------------------------------------

    async def _get(self, work: _Work, kind: type[Record], rid: str) -> Record | None:
        if rid in work.current:
            return work.current[rid]
        store = await self._core.ready()
        found = await store.get(kind, rid)
        if found is not None:
            work.originals[rid] = found
            work.current[rid] = found
        return found

    async def _by_remote(self, work: _Work, remote_key: str) -> SyncLink | None:
        for record in work.current.values():
            if isinstance(record, SyncLink) and record.remote_key == remote_key:
                return record
        store = await self._core.ready()
        found = await store.find(
            SyncLink, {"integration": self._name, "remote_key": remote_key}, limit=1
        )
        if not found:
            return None
        link = await self._get(work, SyncLink, found[0].id)
        return link if isinstance(link, SyncLink) else None

    async def _link_for(self, work: _Work, change: InboundChange) -> SyncLink | None:
        found = await self._by_remote(work, self.remote_key(change.object, change.remote_id))
        if found is not None:
            return found
        if change.local_id:
            link = await self._get(work, SyncLink, link_id(self._name, change.local_id))
            if isinstance(link, SyncLink) and link.remote_id in (None, change.remote_id):
                return link
        return None

    def _set(self, work: _Work, record: Record) -> None:
        work.current[record.id] = record
        if record.id in work.inserts:
            work.inserts[record.id] = record

    def _decide(
        self,
        work: _Work,
        report: ApplyReport,
        change: InboundChange,
        local_id: str,
        name: str,
        local: JsonValue,
        remote: JsonValue,
        outcome: DecisionOutcome,
        policy: str,
        reason: str,
    ) -> None:
        now = utcnow()
        decision = SyncDecision(
            id=new_id("sdc"),
            integration=self._name,
            local_id=local_id,
            remote_id=change.remote_id,
            field=name,
            local_value=local,
            remote_value=remote,
            outcome=outcome,
            policy=policy,
            reason=reason,
            at_key=key_of(now),
        )
        work.other_ops.append(Insert(decision))
        report.decisions += 1

    def _resolve(
        self,
        work: _Work,
        report: ApplyReport,
        change: InboundChange,
        link: SyncLink,
        local_now: dict[str, JsonValue],
        local_updated: datetime,
    ) -> dict[str, JsonValue]:
        """Which of the vendor's values to take, field by field (decisions recorded)."""
        take: dict[str, JsonValue] = {}
        for name, remote in _vendor(change).items():
            if name not in local_now:
                continue
            local = local_now[name]
            if remote == local:
                continue
            synced = link.synced.get(name, _MISSING)
            if remote == synced:
                continue  # only ours changed: it goes out on the next push
            if synced is _MISSING or synced == local:
                policy, wins = "no_conflict", True
            else:
                chosen = self._policy.for_field(name)
                policy = chosen.value
                if chosen is FieldPolicy.REMOTE_WINS:
                    wins = True
                elif chosen is FieldPolicy.LOCAL_WINS:
                    wins = False
                else:
                    wins = change.changed_at >= local_updated
            if wins:
                take[name] = remote
                reason = (
                    "changed only at the vendor"
                    if policy == "no_conflict"
                    else ("both changed; the vendor's value wins")
                )
                outcome = DecisionOutcome.APPLIED
            else:
                reason = "both changed; ours wins and goes out on the next push"
                outcome = DecisionOutcome.KEPT_LOCAL
            self._decide(
                work, report, change, link.local_id, name, local, remote, outcome, policy, reason
            )
        return take

    async def _one(self, change: InboundChange, work: _Work, report: ApplyReport) -> str:
        link = await self._link_for(work, change)
        if (
            link is not None
            and link.remote_changed_at is not None
            and change.changed_at < link.remote_changed_at
        ):
            return "unchanged"  # older than what was applied already: a late replay
        if change.object is SyncObject.CONTACT:
            return await self._contact(change, link, work, report)
        if change.object is SyncObject.CONVERSATION:
            return await self._conversation(change, link, work, report)
        if change.object in (SyncObject.MESSAGE, SyncObject.NOTE):
            return await self._message(change, link, work, report)
        return "skipped"

    def _linked(
        self,
        link: SyncLink,
        change: InboundChange,
        local: dict[str, JsonValue],
        vendor: dict[str, JsonValue] | None = None,
    ) -> SyncLink:
        """``link`` after applying ``change``: what the vendor now holds, field by field.

        Where the vendor's value differs from ours after the decisions (ours
        kept, a guard refused theirs), the link is queued so the next push
        writes ours to the vendor.
        """
        synced = dict(local)
        for name, value in (vendor or {}).items():
            if name in synced:
                synced[name] = value
        update: dict[str, object] = {}
        if synced != local:
            update = {"wanted": link.wanted + 1, "due_key": key_of(utcnow()), "dead": False}
        return link.model_copy(
            update={
                **update,
                "remote_id": change.remote_id,
                "remote_type": change.remote_type,
                "remote_key": self.remote_key(change.object, change.remote_id),
                "remote_version": change.remote_version,
                "synced": synced,
                "synced_at": utcnow(),
                "remote_changed_at": max(
                    change.changed_at, link.remote_changed_at or change.changed_at
                ),
                "updated_at": utcnow(),
            }
        )

    async def _contact(
        self, change: InboundChange, link: SyncLink | None, work: _Work, report: ApplyReport
    ) -> str:
        if change.action is ChangeAction.DELETE:
            return "skipped"
        if link is None:
            email = change.data.get("email")
            if not isinstance(email, str) or not email:
                return "skipped"
            try:
                found = await Contacts(self._core).find(
                    Identity(kind=IdentityKind.EMAIL, value=email)
                )
            except ValueError:
                return "skipped"
            if found is None:
                return "skipped"
            lid = link_id(self._name, found.id)
            if await self._get(work, SyncLink, lid) is not None:
                return "skipped"  # linked to another vendor record already
            link = SyncLink(
                id=lid,
                integration=self._name,
                kind=SyncObject.CONTACT.value,
                local_id=found.id,
                synced=contact_fields(found),
            )
            work.inserts[lid] = link
            work.current[lid] = link
        contact = await self._get(work, Contact, link.local_id)
        if not isinstance(contact, Contact):
            return "skipped"
        local_now = contact_fields(contact)
        take = self._resolve(work, report, change, link, local_now, contact.updated_at)
        name = take.get("name")
        if isinstance(name, str) and name.strip():
            contact = contact.model_copy(
                update={"name": name.strip()[:200], "updated_at": utcnow()}
            )
            self._set(work, contact)
            work.events.append(
                ContactUpdated(contact_id=contact.id, contact=contact, changed=["name"])
            )
        self._set(work, self._linked(link, change, contact_fields(contact), _vendor(change)))
        return "applied" if take else "unchanged"

    async def _conversation(
        self, change: InboundChange, link: SyncLink | None, work: _Work, report: ApplyReport
    ) -> str:
        if link is None:
            return "skipped"
        conversation = await self._get(work, Conversation, link.local_id)
        if not isinstance(conversation, Conversation):
            return "skipped"
        if change.action is ChangeAction.DELETE:
            self._decide(
                work, report, change, link.local_id, "deleted", False, True,
                DecisionOutcome.REFUSED, "no_remote_delete",
                "deleted at the vendor; chatkit keeps its conversation (retention deletes it)",
            )  # fmt: skip
            return "skipped"
        local_now = conversation_fields(conversation)
        take = self._resolve(work, report, change, link, local_now, conversation.updated_at)
        current = conversation
        reason = f"sync:{self._name}"
        if "status" in take:
            target = _status(take["status"])
            if target is None:
                pass
            elif current.status is ConversationStatus.CLOSED and self._policy.closed_stays_closed:
                self._refuse(
                    work, report, change, link, "status", current, target,
                    "closed_stays_closed", "closed in chatkit; closed is final",
                )  # fmt: skip
                del take["status"]
            elif target is not current.status:
                try:
                    current, event = transition(current, target, reason=reason)
                except InvalidTransitionError:
                    self._refuse(
                        work, report, change, link, "status", current, target,
                        "transitions", "the conversation lifecycle forbids the move",
                    )  # fmt: skip
                    del take["status"]
                else:
                    work.events.append(event)
        if "priority" in take:
            try:
                priority = Priority(str(take["priority"]))
            except ValueError:
                del take["priority"]
            else:
                work.events.append(
                    ConversationPriorityChanged(
                        conversation_id=current.id,
                        contact_id=current.contact_id,
                        from_priority=current.priority,
                        to_priority=priority,
                    )
                )
                current = current.model_copy(update={"priority": priority})
        if "tags" in take and isinstance(take["tags"], list):
            try:
                tags = normalize_tags(str(t) for t in take["tags"])
            except Exception:  # an invalid vendor tag: keep ours
                del take["tags"]
            else:
                added = sorted(set(tags) - set(current.tags))
                removed = sorted(set(current.tags) - set(tags))
                work.events.append(
                    ConversationTagsChanged(
                        conversation_id=current.id,
                        contact_id=current.contact_id,
                        added=added,
                        removed=removed,
                        tags=tags,
                    )
                )
                current = current.model_copy(update={"tags": tags})
        if "subject" in take:
            subject = take["subject"]
            current = current.model_copy(
                update={"subject": str(subject)[:500] if subject is not None else None}
            )
        if take:
            current = current.model_copy(update={"updated_at": utcnow()})
            self._set(work, checked(Conversation, **current.model_dump()))
        self._set(work, self._linked(link, change, conversation_fields(current), _vendor(change)))
        return "applied" if take else "unchanged"

    def _refuse(
        self,
        work: _Work,
        report: ApplyReport,
        change: InboundChange,
        link: SyncLink,
        name: str,
        conversation: Conversation,
        target: ConversationStatus,
        policy: str,
        reason: str,
    ) -> None:
        self._decide(
            work, report, change, link.local_id, name, conversation.status.value, target.value,
            DecisionOutcome.REFUSED, policy, reason,
        )  # fmt: skip

    async def _message(
        self, change: InboundChange, link: SyncLink | None, work: _Work, report: ApplyReport
    ) -> str:
        if link is not None or change.action is ChangeAction.DELETE:
            return "unchanged" if link is not None else "skipped"
        store = await self._core.ready()
        if change.parent_remote_id is None:
            return "skipped"
        parent = await self._by_remote(
            work, self.remote_key(SyncObject.CONVERSATION, change.parent_remote_id)
        )
        if parent is None:
            return "skipped"
        conversation = await self._get(work, Conversation, parent.local_id)
        if not isinstance(conversation, Conversation):
            return "skipped"
        text = change.data.get("text")
        if not isinstance(text, str) or not text.strip():
            return "skipped"
        kind = MessageKind.NOTE if change.object is SyncObject.NOTE else MessageKind.TEXT
        if change.data.get("from_integration") is True:
            return await self._adopt(change, conversation, kind, text, work)
        if conversation.status is ConversationStatus.CLOSED:
            self._decide(
                work, report, change, conversation.id, "message", None, text[:200],
                DecisionOutcome.REFUSED, "closed_stays_closed",
                "a comment on a case whose conversation is closed in chatkit",
            )  # fmt: skip
            return "skipped"
        key = f"{self._name}:{change.remote_id}"
        taken = await store.find(
            Message, {"conversation_id": conversation.id, "idempotency_key": key}, limit=1
        )
        if taken or any(
            isinstance(r, Message) and r.idempotency_key == key for r in work.inserts.values()
        ):
            return "unchanged"
        limit = self._core.settings.max_message_length
        author_name = change.data.get("author_name")
        customer = kind is MessageKind.TEXT and change.data.get("from_customer") is True
        message = checked(
            Message,
            id=new_id("msg"),
            conversation_id=conversation.id,
            seq=conversation.last_seq + 1,
            kind=kind,
            author=Author.customer(conversation.contact_id) if customer else Author.bot(self._name),
            channel=conversation.channel,
            text=text[:limit],
            idempotency_key=key,
            metadata={
                "sync": {
                    "integration": self._name,
                    "remote_id": change.remote_id,
                    "author_name": author_name if isinstance(author_name, str) else None,
                }
            },
        )
        ops, events = Messages(self._core)._append(
            conversation, message, conversation.contact_id if customer else None
        )
        updated = ops[0]
        assert isinstance(updated, Update)
        after = updated.record.model_copy(update={"version": conversation.version})
        self._set(work, after)
        work.inserts[message.id] = message
        work.current[message.id] = message
        work.events += events
        lid = link_id(self._name, message.id)
        new_link = SyncLink(
            id=lid,
            integration=self._name,
            kind=change.object.value,
            local_id=message.id,
            parent_local_id=conversation.id,
            remote_type=change.remote_type,
            remote_id=change.remote_id,
            remote_key=self.remote_key(change.object, change.remote_id),
            remote_version=change.remote_version,
            synced=message_fields(message),
            synced_at=utcnow(),
        )
        work.inserts[lid] = new_link
        work.current[lid] = new_link
        return "applied"

    async def _adopt(
        self,
        change: InboundChange,
        conversation: Conversation,
        kind: MessageKind,
        text: str,
        work: _Work,
    ) -> str:
        """Our own comment seen before its push was recorded: link it, create nothing."""
        store = await self._core.ready()
        wanted = digest(kind.value, text)
        for candidate in await store.find(
            SyncLink, {"integration": self._name, "parent_local_id": conversation.id}
        ):
            if candidate.remote_id is not None or candidate.kind not in ("message", "note"):
                continue
            message = await store.get(Message, candidate.local_id)
            if message is not None and message_fields(message)["hash"] == wanted:
                link = await self._get(work, SyncLink, candidate.id)
                assert isinstance(link, SyncLink)
                self._set(
                    work,
                    self._linked(link, change, message_fields(message)).model_copy(
                        update={"pushed": link.wanted, "due_key": None, "attempts": 0}
                    ),
                )
                return "applied"
        return "unchanged"


def _vendor(change: InboundChange) -> dict[str, JsonValue]:
    """The vendor's values in ``change``, tags compared as a sorted set."""
    values = dict(change.data)
    tags = values.get("tags")
    if isinstance(tags, list):
        values["tags"] = cast(
            JsonValue, sorted({str(t).strip().lower() for t in tags if str(t).strip()})
        )
    return values


def _is(op: Op, rid: str) -> bool:
    return isinstance(op, Update) and op.record.id == rid


def _status(value: JsonValue) -> ConversationStatus | None:
    try:
        return ConversationStatus(str(value))
    except ValueError:
        return None
