"""Conversations: lifecycle, assignment, priority, tags, watchers, context."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TypeAlias

from ..errors import AlreadyClaimedError, InvalidInputError, InvalidTransitionError, quoted
from ..events import (
    ConversationAssigned,
    ConversationCreated,
    ConversationPriorityChanged,
    ConversationStatusChanged,
    ConversationTagsChanged,
    ConversationWatchersChanged,
    Event,
)
from ..models import (
    OPEN_TICKET_STATUSES,
    TRANSITIONS,
    Agent,
    Channel,
    Contact,
    Conversation,
    ConversationContext,
    ConversationStatus,
    Message,
    MessageKind,
    Page,
    Priority,
    Ticket,
)
from ..models._base import new_id, utcnow
from ..models.context import ExternalRecord
from ..models.sync import SyncLink, SyncState, link_id
from ..stores.base import In, Insert, Update
from ._core import UNSET, Unset, bump, changed, checked, choice
from .contacts import Contacts, Service, check_key, encodable
from .workload import workload_changes

__all__ = ["Conversations", "normalize_tags", "transition"]

_S = ConversationStatus
_Compute: TypeAlias = Callable[[Conversation], "tuple[Conversation, list[Event]] | None"]


def normalize_tags(tags: Iterable[str]) -> builtins.list[str]:
    """Lower-case, strip and de-duplicate tags; reject empty or over-long ones."""
    if isinstance(tags, str) or not isinstance(tags, Iterable):
        raise InvalidInputError("tags must be a list of strings", field="tags")
    result = set()
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip() or len(tag) > 64:
            raise InvalidInputError(f"invalid tag {quoted(tag)}: 1 to 64 characters", field="tags")
        if "\x00" in tag or not encodable(tag):
            raise InvalidInputError(
                f"invalid tag {quoted(tag)}: NUL or invalid unicode", field="tags"
            )
        result.add(tag.strip().lower())
    return sorted(result)


def transition(
    conversation: Conversation,
    status: ConversationStatus,
    *,
    snoozed_until: datetime | None = None,
    reason: str | None = None,
) -> tuple[Conversation, ConversationStatusChanged]:
    """Compute the next version of ``conversation`` in ``status`` and its event.

    Raises:
        InvalidTransitionError: The lifecycle does not allow the move.
    """
    resnooze = status is _S.SNOOZED and conversation.status is _S.SNOOZED
    if status not in TRANSITIONS[conversation.status] and not resnooze:
        raise InvalidTransitionError(
            resource_id=conversation.id,
            from_status=conversation.status.value,
            to_status=status.value,
        )
    now = utcnow()
    updates: dict[str, object] = {"status": status, "snoozed_until": snoozed_until}
    if status is _S.RESOLVED:
        updates["resolved_at"] = now
    new = changed(conversation, **updates)
    event = ConversationStatusChanged(
        conversation_id=new.id,
        contact_id=new.contact_id,
        from_status=conversation.status,
        to_status=status,
        snoozed_until=snoozed_until,
        reason=reason,
    )
    return new, event


class Conversations(Service):
    """Conversations between a contact and the team.

    Statuses follow `chatkit.models.TRANSITIONS`: open, pending, snoozed,
    resolved (a customer message reopens it) and closed (final).

    Example:
        ```python
        conv = await kit.conversations.create(contact_id=ada.id, channel="web")
        await kit.conversations.assign(conv.id, mia.id)
        await kit.conversations.add_tags(conv.id, "billing")
        await kit.conversations.resolve(conv.id)
        ```
    """

    async def create(
        self,
        *,
        contact_id: str,
        channel: Channel | str = Channel.WEB,
        subject: str | None = None,
        priority: Priority | str = Priority.NORMAL,
        tags: Sequence[str] = (),
        team: str | None = None,
    ) -> Conversation:
        """Start a conversation for a contact.

        Raises:
            NotFoundError: No such contact.
        """
        contact = await Contacts(self._core).get(contact_id)
        conversation = checked(
            Conversation,
            id=new_id("conv"),
            contact_id=contact.id,
            channel=channel,
            channels=[channel],
            subject=subject,
            priority=priority,
            tags=normalize_tags(tags),
            team=team,
        )
        event = ConversationCreated(
            conversation_id=conversation.id, contact_id=contact.id, conversation=conversation
        )
        await self._core.commit([Insert(conversation)], [event])
        return conversation

    async def get(self, conversation_id: str) -> Conversation:
        """Return a conversation.

        Raises:
            NotFoundError: No such conversation.
        """
        return await self._load(Conversation, conversation_id, "conversation")

    async def list(
        self,
        *,
        contact_id: str | None = None,
        status: ConversationStatus | str | Sequence[ConversationStatus | str] | None = None,
        assignee_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Conversation]:
        """Page through conversations, most recently active first."""
        where: dict[str, object] = {}
        if contact_id is not None:
            where["contact_id"] = (await Contacts(self._core).get(contact_id)).id
        if status is not None:
            if not isinstance(status, str | list | tuple | set | frozenset):
                raise InvalidInputError("status is a status or a list of them", field="status")
            statuses = [status] if isinstance(status, str) else list(status)
            where["status"] = In(
                [choice(ConversationStatus, s, "status", "status") for s in statuses]
            )
        if assignee_id is not None:
            where["assignee_id"] = check_key(assignee_id, "assignee_id")
        return await self._core.paged(
            Conversation,
            where,
            order_by="activity_key",
            descending=True,
            limit=limit,
            cursor=cursor,
        )

    async def _change(
        self, conversation_id: str, compute: _Compute, *, enforce_capacity: bool = False
    ) -> Conversation:
        async def attempt() -> Conversation:
            current = await self.get(conversation_id)
            result = compute(current)
            if result is None:
                return current
            new, events = result
            load, new, unassigned = await workload_changes(
                self._core, current, new, enforce=enforce_capacity
            )
            await self._core.commit([Update(new), *load], [*events, *unassigned])
            return new

        return await self._core.retry(attempt)

    async def set_status(
        self,
        conversation_id: str,
        status: ConversationStatus | str,
        *,
        snoozed_until: datetime | None = None,
    ) -> Conversation:
        """Move a conversation to ``status``.

        Args:
            conversation_id: The conversation.
            status: The new status.
            snoozed_until: Required with ``snoozed``: when it wakes up (aware datetime, future).

        Raises:
            InvalidTransitionError: The lifecycle forbids the move (e.g. closed -> open).
            InvalidInputError: ``snoozed`` without a future ``snoozed_until``, or the reverse.
        """
        target = choice(ConversationStatus, status, "status", "status")
        if target is _S.SNOOZED:
            if (
                not isinstance(snoozed_until, datetime)
                or snoozed_until.utcoffset() is None
                or snoozed_until <= utcnow()
            ):
                raise InvalidInputError(
                    "snoozing needs snoozed_until: a timezone-aware time in the future",
                    field="snoozed_until",
                )
        elif snoozed_until is not None:
            raise InvalidInputError(
                "snoozed_until goes with status 'snoozed'", field="snoozed_until"
            )

        def compute(c: Conversation) -> tuple[Conversation, builtins.list[Event]] | None:
            if c.status is target and target is not _S.SNOOZED:
                return None
            new, event = transition(c, target, snoozed_until=snoozed_until)
            return new, [event]

        return await self._change(conversation_id, compute)

    async def resolve(self, conversation_id: str) -> Conversation:
        """Mark resolved; a new customer message reopens it."""
        return await self.set_status(conversation_id, _S.RESOLVED)

    async def close(self, conversation_id: str) -> Conversation:
        """Close for good."""
        return await self.set_status(conversation_id, _S.CLOSED)

    async def reopen(self, conversation_id: str) -> Conversation:
        """Back to open."""
        return await self.set_status(conversation_id, _S.OPEN)

    async def snooze(self, conversation_id: str, until: datetime) -> Conversation:
        """Hide until ``until`` (or until the customer writes)."""
        return await self.set_status(conversation_id, _S.SNOOZED, snoozed_until=until)

    async def wake_snoozed(self, *, now: datetime | None = None) -> builtins.list[Conversation]:
        """Reopen every snoozed conversation whose time has come. Call it periodically.

        Returns:
            The conversations reopened.
        """
        if now is not None and (not isinstance(now, datetime) or now.utcoffset() is None):
            raise InvalidInputError("now must be a timezone-aware datetime", field="now")
        moment = now or utcnow()
        store = await self._core.ready()
        woken = []
        for conv in await store.find(Conversation, {"status": _S.SNOOZED}):
            if conv.snoozed_until is not None and conv.snoozed_until <= moment:

                def compute(c: Conversation) -> tuple[Conversation, builtins.list[Event]] | None:
                    if c.status is not _S.SNOOZED or (c.snoozed_until or moment) > moment:
                        return None
                    new, event = transition(c, _S.OPEN, reason="snooze_expired")
                    return new, [event]

                woken.append(await self._change(conv.id, compute))
        return woken

    async def assign(
        self,
        conversation_id: str,
        agent_id: str | None,
        *,
        team: str | Unset | None = UNSET,
    ) -> Conversation:
        """Give the conversation to an agent (``None`` unassigns), optionally setting the team.

        Raises:
            NotFoundError: No such conversation or agent.
            AgentAtCapacityError: The agent already holds ``max_concurrent_chats``
                active conversations.
        """
        return await self._assign(conversation_id, agent_id, team, exclusive=False)

    async def claim(
        self,
        conversation_id: str,
        agent_id: str,
        *,
        team: str | Unset | None = UNSET,
    ) -> Conversation:
        """Take an unassigned conversation for ``agent_id``; exactly one claimer wins.

        Safe across tasks, processes and machines: the conversation and the
        agent are both written with version checks in one commit, so of two
        racing claims one lands and the other sees the winner.

        Raises:
            AlreadyClaimedError: Another agent owns it.
            AgentAtCapacityError: The agent already holds ``max_concurrent_chats``.
            NotFoundError: No such conversation or agent.
        """
        return await self._assign(conversation_id, agent_id, team, exclusive=True)

    async def _assign(
        self,
        conversation_id: str,
        agent_id: str | None,
        team: str | Unset | None,
        *,
        exclusive: bool,
    ) -> Conversation:
        if agent_id is not None:
            await self._load(Agent, agent_id, "agent")

        def compute(c: Conversation) -> tuple[Conversation, builtins.list[Event]] | None:
            if exclusive and c.assignee_id not in (None, agent_id):
                raise AlreadyClaimedError(conversation_id=c.id, assignee_id=c.assignee_id)
            new_team = c.team if isinstance(team, Unset) else team
            if c.assignee_id == agent_id and c.team == new_team:
                return None
            new = changed(c, assignee_id=agent_id, team=new_team)
            event = ConversationAssigned(
                conversation_id=c.id,
                contact_id=c.contact_id,
                assignee_id=agent_id,
                previous_assignee_id=c.assignee_id,
                team=new_team,
                previous_team=c.team,
            )
            return new, [event]

        return await self._change(conversation_id, compute, enforce_capacity=True)

    async def set_priority(self, conversation_id: str, priority: Priority | str) -> Conversation:
        """Change the priority."""
        target = choice(Priority, priority, "priority", "priority")

        def compute(c: Conversation) -> tuple[Conversation, builtins.list[Event]] | None:
            if c.priority is target:
                return None
            event = ConversationPriorityChanged(
                conversation_id=c.id,
                contact_id=c.contact_id,
                from_priority=c.priority,
                to_priority=target,
            )
            return bump(c, priority=target), [event]

        return await self._change(conversation_id, compute)

    async def add_tags(self, conversation_id: str, *tags: str) -> Conversation:
        """Add tags (lower-cased); existing ones are left alone."""
        return await self._retag(conversation_id, normalize_tags(tags), [])

    async def remove_tags(self, conversation_id: str, *tags: str) -> Conversation:
        """Remove tags; absent ones are ignored."""
        return await self._retag(conversation_id, [], normalize_tags(tags))

    async def _retag(
        self, conversation_id: str, add: builtins.list[str], remove: builtins.list[str]
    ) -> Conversation:
        def compute(c: Conversation) -> tuple[Conversation, builtins.list[Event]] | None:
            tags = sorted((set(c.tags) | set(add)) - set(remove))
            if tags == c.tags:
                return None
            event = ConversationTagsChanged(
                conversation_id=c.id,
                contact_id=c.contact_id,
                added=sorted(set(tags) - set(c.tags)),
                removed=sorted(set(c.tags) - set(tags)),
                tags=tags,
            )
            return bump(c, tags=tags), [event]

        return await self._change(conversation_id, compute)

    async def add_watcher(self, conversation_id: str, agent_id: str) -> Conversation:
        """Let an agent follow the conversation without owning it."""
        await self._load(Agent, agent_id, "agent")
        return await self._rewatch(conversation_id, agent_id, add=True)

    async def remove_watcher(self, conversation_id: str, agent_id: str) -> Conversation:
        """Stop an agent following the conversation."""
        return await self._rewatch(conversation_id, agent_id, add=False)

    async def _rewatch(self, conversation_id: str, agent_id: str, *, add: bool) -> Conversation:
        def compute(c: Conversation) -> tuple[Conversation, builtins.list[Event]] | None:
            if (agent_id in c.watchers) == add:
                return None
            watchers = [*c.watchers, agent_id] if add else [w for w in c.watchers if w != agent_id]
            event = ConversationWatchersChanged(
                conversation_id=c.id,
                contact_id=c.contact_id,
                added=[agent_id] if add else [],
                removed=[] if add else [agent_id],
                watchers=watchers,
            )
            return bump(c, watchers=watchers), [event]

        return await self._change(conversation_id, compute)

    async def context(self, conversation_id: str) -> ConversationContext:
        """Everything an agent needs to take over without asking the customer again.

        The full history of every conversation of this contact, on every
        channel, oldest first; the private notes of earlier agents; tags;
        and the contact's open tickets.
        """
        conversation = await self.get(conversation_id)
        contact: Contact = await Contacts(self._core).get(conversation.contact_id)
        store = self._core.store
        conversations = await store.find(
            Conversation, {"contact_id": contact.id}, order_by="activity_key", descending=True
        )
        history: builtins.list[Message] = []
        for conv in reversed(conversations):
            history += await store.find(Message, {"conversation_id": conv.id}, order_by="seq")
        history.sort(key=lambda m: (m.created_at, m.conversation_id, m.seq))
        tickets = await store.find(
            Ticket,
            {"contact_id": contact.id, "status": In(sorted(OPEN_TICKET_STATUSES))},
            order_by="queue_key",
        )
        return ConversationContext(
            conversation=conversation,
            contact=contact,
            history=history,
            notes=[m for m in history if m.kind is MessageKind.NOTE],
            open_tickets=tickets,
            previous_conversations=[c for c in conversations if c.id != conversation.id],
            external_records=await self._external(contact.id, conversation.id),
        )

    async def _external(self, *local_ids: str) -> builtins.list[ExternalRecord]:
        """The synced twins of ``local_ids`` in every integration that synced here."""
        store = self._core.store
        found = []
        for state in await store.find(SyncState, order_by="integration"):
            for local_id in local_ids:
                link = await store.get(SyncLink, link_id(state.integration, local_id))
                if link is not None and link.remote_id is not None:
                    found.append(
                        ExternalRecord(
                            integration=link.integration,
                            kind=link.kind,
                            local_id=local_id,
                            remote_type=link.remote_type,
                            remote_id=link.remote_id,
                            synced_at=link.synced_at,
                        )
                    )
        return found
