"""Retention: legal holds and the purge of conversations past their keep period."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from ..errors import InvalidInputError
from ..events import ConversationPurged, Event
from ..models import (
    OPEN_TICKET_STATUSES,
    Agent,
    Attachment,
    Contact,
    Conversation,
    HoldTarget,
    Incident,
    LegalHold,
    Message,
    RetentionPolicy,
    ReviewNote,
    Survey,
    Ticket,
    utcnow,
)
from ..models._base import new_id
from ..stores.base import Delete, DeleteEvents, Insert, Op, Store, Update
from ._core import bump, check_time, checked
from .contacts import Contacts, Service, check_key
from .presence import restatus
from .workload import ACTIVE

__all__ = ["PurgeReport", "Retention", "keep_until"]

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` after each batch of a purge."""


class PurgeReport(BaseModel):
    """What a purge removed (or, in a dry run, would remove).

    Attributes:
        dry_run: Nothing was deleted.
        conversations: Conversations purged.
        messages: Messages purged.
        attachments: Attachments purged (records and bytes).
        attachment_bytes: Bytes of attachment content purged.
        tickets: Solved or closed tickets purged with their conversations.
        surveys: Surveys (answers and comments) purged with their conversations.
        review_notes: Reviewers' notes purged with their conversations.
        incidents: Abuse incidents kept but stripped of their note and
            message ids because their conversation was purged.
        held: Conversations past their period but kept by a legal hold.
        open_tickets: Conversations past their period but kept for an unfinished ticket.
        conversation_ids: The conversations purged.
    """

    model_config = ConfigDict(frozen=True)

    dry_run: bool
    conversations: int = 0
    messages: int = 0
    attachments: int = 0
    attachment_bytes: int = 0
    tickets: int = 0
    surveys: int = 0
    review_notes: int = 0
    incidents: int = 0
    held: int = 0
    open_tickets: int = 0
    conversation_ids: list[str] = []


def keep_until(
    policy: RetentionPolicy, conversation: Conversation, tickets: builtins.list[Ticket]
) -> datetime:
    """When ``conversation`` may be purged under ``policy`` (ignoring holds)."""
    days = [policy.default_days]
    days += [policy.channels[c] for c in conversation.channels if c in policy.channels]
    days += [policy.tags[t] for t in conversation.tags if t in policy.tags]
    days += [
        policy.ticket_statuses[t.status] for t in tickets if t.status in policy.ticket_statuses
    ]
    last = conversation.last_message_at or conversation.updated_at
    return max(last, conversation.updated_at) + timedelta(days=max(days))


class Retention(Service):
    """Keep what you must, delete what you may.

    The policy comes from `ChatKitSettings.retention` unless one is passed.

    Example:
        ```python
        report = await kit.retention.purge(dry_run=True)
        print(report.conversations, "conversations would go")
        await kit.retention.hold(contact_id=ada.id, reason="case 2026-114")
        ```
    """

    async def hold(
        self,
        *,
        reason: str,
        conversation_id: str | None = None,
        contact_id: str | None = None,
    ) -> LegalHold:
        """Place a legal hold on one conversation or on all of a contact's.

        Raises:
            InvalidInputError: Not exactly one target, or no reason.
            NotFoundError: Unknown conversation or contact.
        """
        if (conversation_id is None) == (contact_id is None):
            raise InvalidInputError("hold one conversation_id or one contact_id")
        if conversation_id is not None:
            target, target_id = HoldTarget.CONVERSATION, conversation_id
            await self._load(Conversation, conversation_id, "conversation")
        else:
            assert contact_id is not None
            target, target_id = HoldTarget.CONTACT, (await Contacts(self._core).get(contact_id)).id
        hold = checked(
            LegalHold, id=new_id("hold"), target=target, target_id=target_id, reason=reason
        )
        await self._core.commit([Insert(hold)])
        return hold

    async def release(self, hold_id: str) -> None:
        """Lift a legal hold (idempotent).

        Raises:
            InvalidInputError: ``hold_id`` is not an id.
        """
        await self._core.commit([Delete(LegalHold, check_key(hold_id, "hold_id"))])

    async def holds(self) -> builtins.list[LegalHold]:
        """Every legal hold in force."""
        store = await self._core.ready()
        return await store.find(LegalHold)

    @staticmethod
    async def _root(store: Store, contact_id: str, roots: dict[str, str]) -> str:
        """The contact that ``contact_id`` was merged into, at the end of the chain."""
        if contact_id in roots:
            return roots[contact_id]
        seen: builtins.list[str] = []
        current = contact_id
        while current not in roots and current not in seen:
            seen.append(current)
            contact = await store.get(Contact, current)
            if contact is None or contact.merged_into is None:
                break
            current = contact.merged_into
        root = roots.get(current, current)
        for visited in seen:
            roots[visited] = root
        return root

    async def purge(
        self,
        *,
        policy: RetentionPolicy | None = None,
        dry_run: bool = False,
        batch_size: int = 100,
        now: datetime | None = None,
        progress: Progress | None = None,
    ) -> PurgeReport:
        """Delete conversations past their keep period, with everything they hold.

        Per conversation: attachment bytes first, then in one commit its
        messages, attachments, solved or closed tickets, surveys (answers and
        comments), reviewers' notes, outbox events and the conversation
        itself, plus one ``conversation.purged`` event that carries ids only.
        Abuse incidents about the conversation are kept (they are the record
        of what a contact did) but lose their note and message ids in that
        same commit. Conversations with an unfinished ticket are kept, and so
        are conversations under a legal hold: a hold on a contact covers the
        conversations of every contact merged with it (before or after the
        hold), wherever a merge, transfer or import put them. Batches commit one by one, so an
        interrupted purge simply resumes on the next run. Afterwards the store
        is scrubbed (`Store.scrub`) so the text cannot be read from its files.

        Args:
            policy: Overrides `ChatKitSettings.retention`.
            dry_run: Only report what would go.
            batch_size: Conversations per commit.
            now: The present (for tests and replays); default: the clock.
            progress: Called with ``(done, total)`` after each batch.
        """
        if policy is not None and not isinstance(policy, RetentionPolicy):
            raise InvalidInputError("policy must be a RetentionPolicy", field="policy")
        if not isinstance(dry_run, bool):
            raise InvalidInputError("dry_run must be True or False", field="dry_run")
        if progress is not None and not callable(progress):
            raise InvalidInputError("progress must be a callable", field="progress")
        rules = policy or self._core.settings.retention
        moment = check_time(now)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInputError(
                "batch_size must be an integer of at least 1", field="batch_size"
            )
        store = await self._core.ready()
        holds = await store.find(LegalHold)
        held_ids = {h.target_id for h in holds if h.target is HoldTarget.CONVERSATION}
        roots: dict[str, str] = {}
        held_people = {
            await self._root(store, h.target_id, roots)
            for h in holds
            if h.target is HoldTarget.CONTACT
        }
        due: builtins.list[tuple[Conversation, builtins.list[Ticket]]] = []
        held = unfinished = 0
        for conv in await store.find(Conversation, order_by="activity_key"):
            tickets = await store.find(Ticket, {"conversation_id": conv.id})
            if keep_until(rules, conv, tickets) > moment:
                continue
            if conv.id in held_ids or (
                held_people and await self._root(store, conv.contact_id, roots) in held_people
            ):
                held += 1
            elif any(t.status in OPEN_TICKET_STATUSES for t in tickets):
                unfinished += 1
            else:
                due.append((conv, tickets))
        totals = dict.fromkeys(
            (
                "messages",
                "attachments",
                "attachment_bytes",
                "tickets",
                "surveys",
                "review_notes",
                "incidents",
            ),
            0,
        )
        # Incidents keep the contact they were recorded for, which a merge may
        # have left behind: find them by conversation, whoever they are about.
        due_ids = {conv.id for conv, _ in due}
        reported: dict[str, builtins.list[Incident]] = {}
        for incident in await store.find(Incident) if due else []:
            where = incident.conversation_id
            if where in due_ids and (incident.note is not None or incident.message_ids):
                assert where is not None
                reported.setdefault(where, []).append(incident)
        for start in range(0, len(due), batch_size):
            batch = due[start : start + batch_size]
            ops: builtins.list[Op] = []
            events: list[Event] = []
            freed: dict[str, int] = {}
            blob_keys: builtins.list[str] = []
            for conv, tickets in batch:
                messages = await store.find(Message, {"conversation_id": conv.id})
                attachments = await store.find(Attachment, {"conversation_id": conv.id})
                totals["messages"] += len(messages)
                totals["attachments"] += len(attachments)
                totals["attachment_bytes"] += sum(a.size for a in attachments)
                surveys = await store.find(Survey, {"conversation_id": conv.id})
                notes = await store.find(ReviewNote, {"conversation_id": conv.id})
                incidents = reported.get(conv.id, [])
                totals["tickets"] += len(tickets)
                totals["surveys"] += len(surveys)
                totals["review_notes"] += len(notes)
                totals["incidents"] += len(incidents)
                if dry_run:
                    continue
                blob_keys += [a.blob_key for a in attachments]
                ops += [Delete(Attachment, a.id) for a in attachments]
                ops += [Delete(Message, m.id) for m in messages]
                ops += [Delete(Ticket, t.id) for t in tickets]
                ops += [Delete(Survey, s.id) for s in surveys]
                ops += [Delete(ReviewNote, n.id) for n in notes]
                ops += [Update(bump(i, note=None, message_ids=[])) for i in incidents]
                ops += [DeleteEvents(conv.id), Delete(Conversation, conv.id)]
                if conv.status in ACTIVE and conv.assignee_id is not None:
                    freed[conv.assignee_id] = freed.get(conv.assignee_id, 0) + 1
                events.append(
                    ConversationPurged(
                        conversation_id=conv.id,
                        contact_id=conv.contact_id,
                        messages=len(messages),
                        attachments=len(attachments),
                    )
                )
            if blob_keys:
                # One call per batch: an S3 bucket deletes up to 1,000 keys a request.
                await self._core.blobs.delete_many(blob_keys)
            for agent_id, count in freed.items():
                agent = await store.get(Agent, agent_id)
                if agent is not None:
                    updated, changed = restatus(
                        bump(agent, active_chats=max(0, agent.active_chats - count)),
                        self._core.settings.presence,
                        utcnow(),
                        "load",
                    )
                    ops.append(Update(updated))
                    events.extend(changed)
            if ops:
                await self._core.commit(ops, events)
            if progress is not None:
                progress(min(start + batch_size, len(due)), len(due))
        if due and not dry_run:
            await store.scrub()
        return PurgeReport(
            dry_run=dry_run,
            conversations=len(due),
            held=held,
            open_tickets=unfinished,
            conversation_ids=[c.id for c, _ in due],
            **totals,
        )
