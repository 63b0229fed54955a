"""What a conversation's messages do to the SLA clocks of its open tickets.

A ticket opened from a conversation is worked in that conversation: an
agent's message to the customer is a response (it stops the first- and
next-response clocks, like `Tickets.respond`), and the customer's message
after a response starts the next-response clock, reopening a ticket that was
pending on them. `Messages.send` applies these changes in the same commit as
the message, for the tickets listed in `Conversation.open_tickets`.
"""

from __future__ import annotations

from datetime import datetime

from ..events import Event, TicketStatusChanged, TicketUpdated
from ..hours import BusinessHours
from ..models import AuthorRole, Conversation, Message, MessageKind, Team, Ticket, TicketStatus
from ..sla import find_policy, track
from ..stores.base import Op, Update
from ._core import Core, bump
from .pipeline import MessageDraft, standard_step

__all__ = ["message_clocks", "team_hours"]


async def team_hours(core: Core, ticket: Ticket) -> BusinessHours | None:
    """The hours of the ticket's team when its SLA policy has none of its own (else ``None``)."""
    policy = find_policy(core.settings.sla_policies, priority=ticket.priority, team=ticket.team)
    if policy is None or policy.hours is not None or ticket.team is None:
        return None
    store = await core.ready()
    found = await store.find(Team, {"name": ticket.team}, limit=1)
    return found[0].hours if found else None


async def message_clocks(
    core: Core, conversation: Conversation, message: Message, now: datetime
) -> tuple[list[Op], list[Event]]:
    """Ticket updates and events for ``message`` (none for notes, system and bot messages)."""
    if not conversation.open_tickets or message.kind is not MessageKind.TEXT:
        return [], []
    role = message.author.role
    if role not in (AuthorRole.AGENT, AuthorRole.CUSTOMER):
        return [], []
    store = await core.ready()
    ops: list[Op] = []
    events: list[Event] = []
    for ticket_id in conversation.open_tickets:
        ticket = await store.get(Ticket, ticket_id)
        if ticket is None or ticket.status in (TicketStatus.SOLVED, TicketStatus.CLOSED):
            continue
        fields: dict[str, object] = {}
        if role is AuthorRole.AGENT:
            if ticket.first_responded_at is None:
                fields["first_responded_at"] = now
        elif ticket.first_responded_at is None:
            continue  # still waiting for the first response: nothing moves
        elif ticket.status is TicketStatus.PENDING:
            fields["status"] = TicketStatus.OPEN  # the customer answered
        new = bump(ticket, **fields)
        sla, breaches = track(
            ticket,
            new,
            core.settings.sla_policies,
            now,
            responded=role is AuthorRole.AGENT,
            customer_replied=role is AuthorRole.CUSTOMER,
            team_hours=await team_hours(core, new),
        )
        if sla == ticket.sla and not fields:
            continue
        new = new.model_copy(update={"sla": sla})
        ops.append(Update(new))
        if "status" in fields:
            events.append(
                TicketStatusChanged(
                    conversation_id=new.conversation_id,
                    contact_id=new.contact_id,
                    ticket_id=new.id,
                    from_status=ticket.status,
                    to_status=new.status,
                )
            )
        changed = sorted({*fields, *(["sla"] if sla != ticket.sla else [])} - {"status"})
        if changed:
            events.append(
                TicketUpdated(
                    conversation_id=new.conversation_id,
                    contact_id=new.contact_id,
                    ticket=new,
                    changed=changed,
                )
            )
        events += breaches
    return ops, events


@standard_step("clocks", order=300)
async def _clocks(draft: MessageDraft) -> None:
    """The ``clocks`` step of every message commit: the SLA clocks of open tickets."""
    ops, events = await message_clocks(
        draft.core, draft.conversation, draft.message, draft.message.created_at
    )
    draft.ops += ops
    draft.trailing += events
