"""Tickets: follow-up work opened from conversations."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime

from ..errors import InvalidInputError, InvalidTransitionError
from ..events import Event, TicketCreated, TicketNoteAdded, TicketStatusChanged, TicketUpdated
from ..models import (
    OPEN_TICKET_STATUSES,
    TICKET_TRANSITIONS,
    Agent,
    Conversation,
    Page,
    Priority,
    Ticket,
    TicketNote,
    TicketStatus,
)
from ..models._base import new_id
from ..stores.base import In, Insert, Update
from ._core import UNSET, Unset, changed, checked
from .contacts import Contacts, Service, check_key

__all__ = ["Tickets"]


def _check_due(due_at: object) -> None:
    if due_at is not None and not isinstance(due_at, (datetime, Unset)):
        raise InvalidInputError("due_at must be a timezone-aware datetime", field="due_at")


class Tickets(Service):
    """Tickets with status, priority, owner, due date and notes.

    Example:
        ```python
        ticket = await kit.tickets.create(
            conversation_id=conv.id, subject="Refund order 245-12784", priority="high"
        )
        for t in (await kit.tickets.list_open()).items:
            print(t.priority, t.due_at, t.subject)
        ```
    """

    async def create(
        self,
        *,
        subject: str,
        conversation_id: str | None = None,
        contact_id: str | None = None,
        priority: Priority | str = Priority.NORMAL,
        owner_id: str | None = None,
        due_at: datetime | None = None,
        note: str | None = None,
    ) -> Ticket:
        """Open a ticket, from a conversation (the usual way) or for a contact.

        Raises:
            InvalidInputError: Neither a conversation nor a contact, or they disagree.
            NotFoundError: Unknown conversation, contact or owner.
        """
        _check_due(due_at)
        if conversation_id is not None:
            conversation = await self._load(Conversation, conversation_id, "conversation")
            if (
                contact_id is not None
                and (await Contacts(self._core).get(contact_id)).id != conversation.contact_id
            ):
                raise InvalidInputError(
                    "contact_id is not the conversation's contact", field="contact_id"
                )
            contact_id = conversation.contact_id
        elif contact_id is not None:
            contact_id = (await Contacts(self._core).get(contact_id)).id
        else:
            raise InvalidInputError("a ticket needs a conversation_id or a contact_id")
        if owner_id is not None:
            await self._load(Agent, owner_id, "agent")
        notes = [checked(TicketNote, text=note, author_id=owner_id)] if note else []
        ticket = checked(
            Ticket,
            id=new_id("tkt"),
            subject=subject,
            conversation_id=conversation_id,
            contact_id=contact_id,
            priority=priority,
            owner_id=owner_id,
            due_at=due_at,
            notes=notes,
        )
        event = TicketCreated(conversation_id=conversation_id, contact_id=contact_id, ticket=ticket)
        await self._core.commit([Insert(ticket)], [event])
        return ticket

    async def get(self, ticket_id: str) -> Ticket:
        """Return a ticket.

        Raises:
            NotFoundError: No such ticket.
        """
        return await self._load(Ticket, ticket_id, "ticket")

    async def update(
        self,
        ticket_id: str,
        *,
        subject: str | Unset = UNSET,
        priority: Priority | str | Unset = UNSET,
        owner_id: str | Unset | None = UNSET,
        due_at: datetime | Unset | None = UNSET,
    ) -> Ticket:
        """Change subject, priority, owner or due date; arguments not given stay as they are."""
        _check_due(due_at)
        updates = {
            k: v
            for k, v in {
                "subject": subject,
                "priority": priority,
                "owner_id": owner_id,
                "due_at": due_at,
            }.items()
            if not isinstance(v, Unset)
        }
        if isinstance(owner_id, str):
            await self._load(Agent, owner_id, "agent")

        async def attempt() -> Ticket:
            ticket = await self.get(ticket_id)
            new = changed(ticket, **updates)
            diff = sorted(k for k in updates if getattr(new, k) != getattr(ticket, k))
            if not diff:
                return ticket
            event = TicketUpdated(
                conversation_id=new.conversation_id,
                contact_id=new.contact_id,
                ticket=new,
                changed=diff,
            )
            await self._core.commit([Update(new)], [event])
            return new

        return await self._core.retry(attempt)

    async def set_status(self, ticket_id: str, status: TicketStatus | str) -> Ticket:
        """Move a ticket to ``status``.

        Raises:
            InvalidTransitionError: The lifecycle forbids it (closed is final).
        """
        try:
            target = TicketStatus(status)
        except ValueError as exc:
            raise InvalidInputError(f"unknown ticket status {status!r}", field="status") from exc

        async def attempt() -> Ticket:
            ticket = await self.get(ticket_id)
            if ticket.status is target:
                return ticket
            if target not in TICKET_TRANSITIONS[ticket.status]:
                raise InvalidTransitionError(
                    resource_id=ticket.id, from_status=ticket.status.value, to_status=target.value
                )
            new = changed(ticket, status=target)
            events: builtins.list[Event] = [
                TicketStatusChanged(
                    conversation_id=new.conversation_id,
                    contact_id=new.contact_id,
                    ticket_id=new.id,
                    from_status=ticket.status,
                    to_status=target,
                )
            ]
            await self._core.commit([Update(new)], events)
            return new

        return await self._core.retry(attempt)

    async def solve(self, ticket_id: str) -> Ticket:
        """Mark solved (it can still be reopened)."""
        return await self.set_status(ticket_id, TicketStatus.SOLVED)

    async def close(self, ticket_id: str) -> Ticket:
        """Close for good."""
        return await self.set_status(ticket_id, TicketStatus.CLOSED)

    async def reopen(self, ticket_id: str) -> Ticket:
        """Back to open."""
        return await self.set_status(ticket_id, TicketStatus.OPEN)

    async def add_note(self, ticket_id: str, text: str, *, author_id: str | None = None) -> Ticket:
        """Append a note to a ticket."""
        note = checked(TicketNote, text=text, author_id=author_id)
        if author_id is not None:
            await self._load(Agent, author_id, "agent")

        async def attempt() -> Ticket:
            ticket = await self.get(ticket_id)
            new = changed(ticket, notes=[*ticket.notes, note])
            event = TicketNoteAdded(
                conversation_id=new.conversation_id,
                contact_id=new.contact_id,
                ticket_id=new.id,
                note=note,
            )
            await self._core.commit([Update(new)], [event])
            return new

        return await self._core.retry(attempt)

    async def list_open(
        self, *, owner_id: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page[Ticket]:
        """Open, pending and on-hold tickets.

        Sorted most urgent first, then earliest due (undated last).
        """
        where: dict[str, object] = {"status": In(sorted(OPEN_TICKET_STATUSES))}
        if owner_id is not None:
            where["owner_id"] = check_key(owner_id, "owner_id")
        return await self._core.paged(
            Ticket, where, order_by="queue_key", limit=limit, cursor=cursor
        )

    async def list(
        self,
        *,
        contact_id: str | None = None,
        conversation_id: str | None = None,
        status: TicketStatus | str | Sequence[TicketStatus | str] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Ticket]:
        """Page through tickets matching the filters, in work-queue order."""
        where: dict[str, object] = {}
        if contact_id is not None:
            where["contact_id"] = (await Contacts(self._core).get(contact_id)).id
        if conversation_id is not None:
            where["conversation_id"] = check_key(conversation_id, "conversation_id")
        if status is not None:
            try:
                statuses = [status] if isinstance(status, str) else list(status)
                where["status"] = In([TicketStatus(s) for s in statuses])
            except (TypeError, ValueError) as exc:
                raise InvalidInputError(f"unknown status {status!r}", field="status") from exc
        return await self._core.paged(
            Ticket, where, order_by="queue_key", limit=limit, cursor=cursor
        )
