"""Tickets: follow-up work opened from conversations."""

from __future__ import annotations

import builtins
import heapq
from collections.abc import Sequence
from datetime import datetime

from ..errors import (
    InvalidInputError,
    InvalidTransitionError,
    MessageTooLargeError,
    NotFoundError,
)
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
from ..models._base import new_id, utcnow
from ..sla import SLAEvent, breach_risk, sweep, track
from ..stores.base import Gt, In, Insert, Op, Update
from ._core import UNSET, Unset, bump, changed, check_limit, checked, choice
from .contacts import Contacts, Service, check_key
from .ticket_clocks import team_hours

__all__ = ["Tickets"]


def _check_due(due_at: object) -> None:
    if due_at is not None and not isinstance(due_at, (datetime, Unset)):
        raise InvalidInputError("due_at must be a timezone-aware datetime", field="due_at")


def _check_now(now: object) -> datetime:
    if now is None:
        return utcnow()
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise InvalidInputError("now must be a timezone-aware datetime", field="now")
    return now


class Tickets(Service):
    """Tickets with status, priority, owner, team, due date, notes and SLA clocks.

    SLA clocks follow the policies of `ChatKitSettings.sla_policies` (see
    `chatkit.sla`): `respond` stops the response clocks, solving stops them
    all, and `check_sla` publishes warnings and breaches.

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
        team: str | None = None,
    ) -> Ticket:
        """Open a ticket, from a conversation (the usual way) or for a contact.

        The ticket's team is ``team``, else the conversation's team. The
        first SLA policy matching its priority and team starts its clocks.

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
            team = team if team is not None else conversation.team
        elif contact_id is not None:
            contact_id = (await Contacts(self._core).get(contact_id)).id
        else:
            raise InvalidInputError("a ticket needs a conversation_id or a contact_id")
        if owner_id is not None:
            await self._load(Agent, owner_id, "agent")
        notes = [self._note(note, author_id=owner_id)] if note else []
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
            team=team,
        )
        sla, _ = track(
            None,
            ticket,
            self._core.settings.sla_policies,
            ticket.created_at,
            team_hours=await team_hours(self._core, ticket),
        )
        ticket = ticket.model_copy(update={"sla": sla})
        event = TicketCreated(conversation_id=conversation_id, contact_id=contact_id, ticket=ticket)

        async def attempt() -> Ticket:
            ops: builtins.list[Op] = [Insert(ticket)]
            if conversation_id is not None:
                ops += await self._listed(conversation_id, ticket.id, open_=True)
            await self._core.commit(ops, [event])
            return ticket

        return await self._core.retry(attempt)

    async def _listed(
        self, conversation_id: str, ticket_id: str, *, open_: bool
    ) -> builtins.list[Op]:
        """The conversation update that adds or removes a ticket in `Conversation.open_tickets`."""
        store = await self._core.ready()
        conversation = await store.get(Conversation, conversation_id)
        if conversation is None:
            return []  # purged meanwhile
        listed = ticket_id in conversation.open_tickets
        if listed == open_:
            return []
        ids = (
            [*conversation.open_tickets, ticket_id]
            if open_
            else [i for i in conversation.open_tickets if i != ticket_id]
        )
        return [Update(bump(conversation, open_tickets=ids))]

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
        team: str | Unset | None = UNSET,
    ) -> Ticket:
        """Change subject, priority, owner, due date or team; arguments not given stay as they are.

        A new priority or team can bring another SLA policy: running clocks
        keep their start and are rescheduled by its targets (``"sla"`` is
        then among the changed fields of ``ticket.updated``).
        """
        _check_due(due_at)
        updates = {
            k: v
            for k, v in {
                "subject": subject,
                "priority": priority,
                "owner_id": owner_id,
                "due_at": due_at,
                "team": team,
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
            sla, breaches = track(
                ticket,
                new,
                self._core.settings.sla_policies,
                utcnow(),
                team_hours=await team_hours(self._core, new),
            )
            new = new.model_copy(update={"sla": sla})
            if sla != ticket.sla:
                diff = sorted([*diff, "sla"])
            event = TicketUpdated(
                conversation_id=new.conversation_id,
                contact_id=new.contact_id,
                ticket=new,
                changed=diff,
            )
            await self._core.commit([Update(new)], [event, *breaches])
            return new

        return await self._core.retry(attempt)

    async def set_status(self, ticket_id: str, status: TicketStatus | str) -> Ticket:
        """Move a ticket to ``status``.

        SLA clocks follow: pending and on hold pause the resolution clock,
        solved and closed stop every clock, and a return to open resumes the
        resolution clock and, after a response, starts a next-response clock.
        A clock stopped or paused past its due time publishes its breach.

        Raises:
            InvalidTransitionError: The lifecycle forbids it (closed is final).
        """
        target = choice(TicketStatus, status, "status", "ticket status")

        async def attempt() -> Ticket:
            ticket = await self.get(ticket_id)
            if ticket.status is target:
                return ticket
            if target not in TICKET_TRANSITIONS[ticket.status]:
                raise InvalidTransitionError(
                    resource_id=ticket.id, from_status=ticket.status.value, to_status=target.value
                )
            new = changed(ticket, status=target)
            sla, breaches = track(
                ticket,
                new,
                self._core.settings.sla_policies,
                utcnow(),
                team_hours=await team_hours(self._core, new),
            )
            new = new.model_copy(update={"sla": sla})
            events: builtins.list[Event] = [
                TicketStatusChanged(
                    conversation_id=new.conversation_id,
                    contact_id=new.contact_id,
                    ticket_id=new.id,
                    from_status=ticket.status,
                    to_status=target,
                ),
                *breaches,
            ]
            ops: builtins.list[Op] = [Update(new)]
            if new.conversation_id is not None:
                ops += await self._listed(
                    new.conversation_id, new.id, open_=target in OPEN_TICKET_STATUSES
                )
            await self._core.commit(ops, events)
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

    def _note(self, text: str, *, author_id: str | None, response: bool = False) -> TicketNote:
        """A note, its text at most `ChatKitSettings.max_message_length` characters."""
        limit = self._core.settings.max_message_length
        if isinstance(text, str) and len(text) > limit:
            raise MessageTooLargeError(length=len(text), limit=limit)
        return checked(TicketNote, text=text, author_id=author_id, response=response)

    async def add_note(self, ticket_id: str, text: str, *, author_id: str | None = None) -> Ticket:
        """Append an internal note to a ticket (it does not stop SLA clocks; see `respond`)."""
        note = self._note(text, author_id=author_id)
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

    async def respond(self, ticket_id: str, text: str, *, agent_id: str) -> Ticket:
        """Record an agent's response to the customer, as a note with ``response=True``.

        Call it when the agent answers the customer (in the chat, by e-mail,
        on the phone). The first response sets `Ticket.first_responded_at`
        and stops the first-response clock; every response stops a running
        next-response clock. A response after the due time publishes its
        breach (``ticket.sla_breached``) with the ``ticket.note_added`` event.

        Raises:
            NotFoundError: Unknown ticket or agent.
            InvalidInputError: Empty text, or longer than
                `ChatKitSettings.max_message_length` (`MessageTooLargeError`).
        """
        note = self._note(text, author_id=agent_id, response=True)
        await self._load(Agent, agent_id, "agent")

        async def attempt() -> Ticket:
            ticket = await self.get(ticket_id)
            now = utcnow()
            response = note.model_copy(update={"created_at": now})
            new = changed(
                ticket,
                notes=[*ticket.notes, response],
                first_responded_at=ticket.first_responded_at or now,
            )
            sla, breaches = track(
                ticket,
                new,
                self._core.settings.sla_policies,
                now,
                responded=True,
                team_hours=await team_hours(self._core, new),
            )
            new = new.model_copy(update={"sla": sla})
            event = TicketNoteAdded(
                conversation_id=new.conversation_id,
                contact_id=new.contact_id,
                ticket_id=new.id,
                note=response,
            )
            await self._core.commit([Update(new)], [event, *breaches])
            return new

        return await self._core.retry(attempt)

    async def check_sla(
        self, *, now: datetime | None = None, batch_size: int = 200
    ) -> builtins.list[SLAEvent]:
        """Publish SLA warnings and breaches that have come due.

        Run it periodically (every minute or so) from one or more processes.
        Each warning and breach is written with its flag on the ticket in one
        version-checked commit, so it is published once however many
        processes check at the same time.

        Args:
            now: The time to check at (default: now).
            batch_size: Tickets read per store query.

        Returns:
            The ``ticket.sla_warning`` and ``ticket.sla_breached`` events published.
        """
        at = _check_now(now)
        check_limit(batch_size)
        store = await self._core.ready()
        published: builtins.list[SLAEvent] = []
        cursor = ""
        while True:
            where: dict[str, object] = {"status": In(sorted(OPEN_TICKET_STATUSES))}
            if cursor:
                where["id"] = Gt(cursor)
            tickets = await store.find(Ticket, where, limit=batch_size)
            if not tickets:
                return published
            for ticket in tickets:
                if sweep(ticket, at)[1]:
                    published += await self._flag(ticket.id, at)
            cursor = tickets[-1].id

    async def _flag(self, ticket_id: str, now: datetime) -> builtins.list[SLAEvent]:
        async def attempt() -> builtins.list[SLAEvent]:
            try:
                ticket = await self.get(ticket_id)
            except NotFoundError:
                return []  # purged meanwhile
            sla, events = sweep(ticket, now)
            if events:
                await self._core.commit([Update(bump(ticket, sla=sla))], events)
            return events

        return await self._core.retry(attempt)

    async def at_a_glance(
        self,
        *,
        owner_id: str | None = None,
        team: str | None = None,
        limit: int = 50,
        now: datetime | None = None,
    ) -> builtins.list[Ticket]:
        """Open, pending and on-hold tickets, most at risk of breaching their SLA first.

        Tickets with a clock past due come first (the longest overdue
        first), then by the nearest due time of a running clock, then by
        priority; tickets without a running clock come last, most urgent
        first. This reads every open ticket (of the owner, if given).

        Args:
            owner_id: Only this agent's tickets.
            team: Only this team's tickets.
            limit: How many to return (1 to 1000).
            now: The time to judge "past due" at (default: now).
        """
        at = _check_now(now)
        check_limit(limit)
        where: dict[str, object] = {"status": In(sorted(OPEN_TICKET_STATUSES))}
        if owner_id is not None:
            where["owner_id"] = check_key(owner_id, "owner_id")
        store = await self._core.ready()
        tickets = await store.find(Ticket, where)
        if team is not None:
            tickets = [t for t in tickets if t.team == team]
        return heapq.nsmallest(limit, tickets, key=lambda t: breach_risk(t, at))

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
            if not isinstance(status, str | list | tuple | set | frozenset):
                raise InvalidInputError("status is a status or a list of them", field="status")
            statuses = [status] if isinstance(status, str) else list(status)
            where["status"] = In([choice(TicketStatus, s, "status", "status") for s in statuses])
        return await self._core.paged(
            Ticket, where, order_by="queue_key", limit=limit, cursor=cursor
        )
