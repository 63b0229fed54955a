"""Tickets: link to the conversation, lifecycle, updates, notes, the open queue."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chatkit import AsyncChatKit, InvalidInputError, InvalidTransitionError, NotFoundError
from chatkit.events import TicketUpdated
from chatkit.models import utcnow

pytestmark = pytest.mark.anyio


async def test_ticket_from_a_conversation_keeps_the_link(kit: AsyncChatKit) -> None:
    inbound = await kit.messages.receive(channel="web", sender="v1", text="refund please")
    mia = await kit.agents.create(name="Mia")
    ticket = await kit.tickets.create(
        conversation_id=inbound.conversation.id, subject="Refund", owner_id=mia.id, note="check"
    )
    assert ticket.conversation_id == inbound.conversation.id
    assert ticket.contact_id == inbound.contact.id
    assert [n.text for n in ticket.notes] == ["check"]
    assert await kit.tickets.get(ticket.id) == ticket


async def test_ticket_needs_a_conversation_or_contact(kit: AsyncChatKit) -> None:
    with pytest.raises(InvalidInputError):
        await kit.tickets.create(subject="orphan")
    a = await kit.messages.receive(channel="web", sender="v1", text="a")
    b = await kit.contacts.create(name="B")
    with pytest.raises(InvalidInputError):
        await kit.tickets.create(subject="x", conversation_id=a.conversation.id, contact_id=b.id)
    with pytest.raises(NotFoundError):
        await kit.tickets.create(subject="x", contact_id=b.id, owner_id="ag_missing")
    direct = await kit.tickets.create(subject="call back", contact_id=b.id)
    assert direct.conversation_id is None


async def test_lifecycle_and_closed_is_final(kit: AsyncChatKit) -> None:
    contact = await kit.contacts.create(name="C")
    ticket = await kit.tickets.create(subject="t", contact_id=contact.id)
    for status in ("pending", "on_hold", "open", "solved", "open", "closed"):
        ticket = await kit.tickets.set_status(ticket.id, status)
        assert ticket.status.value == status
    with pytest.raises(InvalidTransitionError):
        await kit.tickets.reopen(ticket.id)
    with pytest.raises(InvalidInputError):
        await kit.tickets.set_status(ticket.id, "archived")


async def test_updates_emit_changed_fields_and_notes_accumulate(kit: AsyncChatKit) -> None:
    contact = await kit.contacts.create(name="C")
    mia = await kit.agents.create(name="Mia")
    ticket = await kit.tickets.create(subject="t", contact_id=contact.id)
    before = await kit.store.last_position()
    due = utcnow() + timedelta(days=1)
    ticket = await kit.tickets.update(ticket.id, priority="high", owner_id=mia.id, due_at=due)
    [event] = (await kit.events.list(after=before)).items
    assert isinstance(event, TicketUpdated)
    assert event.changed == ["due_at", "owner_id", "priority"]
    ticket = await kit.tickets.add_note(ticket.id, "first", author_id=mia.id)
    ticket = await kit.tickets.add_note(ticket.id, "second")
    assert [n.text for n in ticket.notes] == ["first", "second"]
    with pytest.raises(InvalidInputError):
        await kit.tickets.update(ticket.id, due_at=due.replace(tzinfo=None))


async def test_open_queue_is_sorted_by_priority_then_due_date(kit: AsyncChatKit) -> None:
    contact = await kit.contacts.create(name="C")
    now = utcnow()
    specs = [
        ("low, due soon", "low", now + timedelta(hours=1)),
        ("urgent, undated", "urgent", None),
        ("urgent, due later", "urgent", now + timedelta(days=2)),
        ("urgent, due first", "urgent", now + timedelta(hours=3)),
        ("normal, due", "normal", now + timedelta(hours=2)),
    ]
    for subject, priority, due in specs:
        await kit.tickets.create(
            subject=subject, contact_id=contact.id, priority=priority, due_at=due
        )
    solved = await kit.tickets.create(subject="solved", contact_id=contact.id, priority="urgent")
    await kit.tickets.solve(solved.id)
    first = await kit.tickets.list_open(limit=3)
    rest = await kit.tickets.list_open(limit=3, cursor=first.next_cursor)
    assert [t.subject for t in first.items + rest.items] == [
        "urgent, due first",
        "urgent, due later",
        "urgent, undated",
        "normal, due",
        "low, due soon",
    ]
    assert rest.next_cursor is None
    solved_list = await kit.tickets.list(status="solved")
    assert [t.subject for t in solved_list.items] == ["solved"]
