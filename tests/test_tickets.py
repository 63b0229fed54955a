"""Tickets: opening from conversations, the lifecycle, updates, notes and work queues."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chatkit import (
    AsyncChatKit,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    Priority,
    TicketStatus,
)
from chatkit.events import Event, TicketCreated, TicketNoteAdded, TicketStatusChanged, TicketUpdated
from chatkit.models import TICKET_TRANSITIONS, Conversation, Ticket, utcnow

pytestmark = pytest.mark.anyio

T = TicketStatus
PATHS: dict[TicketStatus, list[TicketStatus]] = {
    T.OPEN: [],
    T.PENDING: [T.PENDING],
    T.ON_HOLD: [T.ON_HOLD],
    T.SOLVED: [T.SOLVED],
    T.CLOSED: [T.CLOSED],
}
LEGAL = [(a, b) for a, targets in TICKET_TRANSITIONS.items() for b in sorted(targets)]
ILLEGAL = [(a, b) for a in T for b in T if a is not b and b not in TICKET_TRANSITIONS[a]]


async def _events_after(kit: AsyncChatKit, position: int) -> list[Event]:
    return (await kit.events.list(after=position, limit=1000)).items


async def _conversation(kit: AsyncChatKit) -> Conversation:
    contact = await kit.contacts.create(name="Ada")
    return await kit.conversations.create(contact_id=contact.id)


async def _ticket(kit: AsyncChatKit, status: TicketStatus = T.OPEN) -> Ticket:
    conv = await _conversation(kit)
    ticket = await kit.tickets.create(conversation_id=conv.id, subject="Refund")
    for step in PATHS[status]:
        ticket = await kit.tickets.set_status(ticket.id, step)
    assert ticket.status is status
    return ticket


async def _all_open(kit: AsyncChatKit, **filters: object) -> list[Ticket]:
    items: list[Ticket] = []
    cursor = None
    while True:
        page = await kit.tickets.list_open(limit=2, cursor=cursor, **filters)  # type: ignore[arg-type]
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


async def _all(kit: AsyncChatKit, **filters: object) -> list[Ticket]:
    items: list[Ticket] = []
    cursor = None
    while True:
        page = await kit.tickets.list(limit=2, cursor=cursor, **filters)  # type: ignore[arg-type]
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


# -- creating -------------------------------------------------------------------------


async def test_create_from_a_conversation_keeps_the_link_and_the_contact(
    kit: AsyncChatKit,
) -> None:
    conv = await _conversation(kit)
    before = await kit.store.last_position()
    ticket = await kit.tickets.create(conversation_id=conv.id, subject="Refund order 245")
    stored = await kit.tickets.get(ticket.id)
    assert stored == ticket
    assert (stored.conversation_id, stored.contact_id) == (conv.id, conv.contact_id)
    assert (stored.status, stored.priority, stored.owner_id, stored.due_at) == (
        T.OPEN,
        Priority.NORMAL,
        None,
        None,
    )
    [event] = await _events_after(kit, before)
    assert isinstance(event, TicketCreated)
    assert event.ticket == ticket
    assert (event.conversation_id, event.contact_id) == (conv.id, conv.contact_id)


async def test_create_for_a_contact_alone(kit: AsyncChatKit) -> None:
    contact = await kit.contacts.create(name="Ada")
    ticket = await kit.tickets.create(contact_id=contact.id, subject="Call back")
    stored = await kit.tickets.get(ticket.id)
    assert (stored.contact_id, stored.conversation_id) == (contact.id, None)


async def test_create_with_all_fields(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    mia = await kit.agents.create(name="Mia")
    due = utcnow() + timedelta(days=2)
    ticket = await kit.tickets.create(
        conversation_id=conv.id,
        contact_id=conv.contact_id,
        subject="Refund",
        priority="urgent",
        owner_id=mia.id,
        due_at=due,
        note="Customer sent the receipt",
    )
    stored = await kit.tickets.get(ticket.id)
    assert (stored.priority, stored.owner_id, stored.due_at) == (Priority.URGENT, mia.id, due)
    assert [(n.text, n.author_id) for n in stored.notes] == [("Customer sent the receipt", mia.id)]


async def test_create_needs_a_conversation_or_a_contact(kit: AsyncChatKit) -> None:
    before = await kit.store.last_position()
    with pytest.raises(InvalidInputError):
        await kit.tickets.create(subject="Orphan")
    assert await kit.store.last_position() == before


async def test_create_with_a_contact_that_is_not_the_conversations_is_invalid(
    kit: AsyncChatKit,
) -> None:
    conv = await _conversation(kit)
    other = await kit.contacts.create(name="Bob")
    before = await kit.store.last_position()
    with pytest.raises(InvalidInputError):
        await kit.tickets.create(conversation_id=conv.id, contact_id=other.id, subject="x")
    assert await kit.store.last_position() == before


@pytest.mark.parametrize("missing", ["conversation_id", "contact_id", "owner_id"])
async def test_create_with_unknown_references_raises_not_found(
    kit: AsyncChatKit, missing: str
) -> None:
    contact = await kit.contacts.create(name="Ada")
    args: dict[str, str] = {"contact_id": contact.id}
    args[missing] = "x_missing"
    if missing == "conversation_id":
        del args["contact_id"]
    before = await kit.store.last_position()
    with pytest.raises(NotFoundError):
        await kit.tickets.create(subject="x", **args)  # type: ignore[arg-type]
    assert await kit.store.last_position() == before


async def test_create_for_a_merged_contact_goes_to_the_survivor(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(name="Ada")
    dup = await kit.contacts.create(name="Dup")
    await kit.contacts.merge(ada.id, dup.id)
    ticket = await kit.tickets.create(contact_id=dup.id, subject="x")
    assert ticket.contact_id == ada.id


async def test_get_unknown_ticket_raises_not_found(kit: AsyncChatKit) -> None:
    with pytest.raises(NotFoundError) as caught:
        await kit.tickets.get("tkt_missing")
    assert caught.value.resource == "ticket"


# -- lifecycle ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target"), LEGAL, ids=[f"{a.value}->{b.value}" for a, b in LEGAL]
)
async def test_every_legal_transition_succeeds_with_an_event(
    kit: AsyncChatKit, source: TicketStatus, target: TicketStatus
) -> None:
    ticket = await _ticket(kit, source)
    before = await kit.store.last_position()
    moved = await kit.tickets.set_status(ticket.id, target)
    assert moved.status is target
    assert (await kit.tickets.get(ticket.id)).status is target
    [event] = await _events_after(kit, before)
    assert isinstance(event, TicketStatusChanged)
    assert (event.ticket_id, event.from_status, event.to_status) == (ticket.id, source, target)
    assert event.conversation_id == ticket.conversation_id


@pytest.mark.parametrize(
    ("source", "target"), ILLEGAL, ids=[f"{a.value}->{b.value}" for a, b in ILLEGAL]
)
async def test_every_illegal_transition_raises_and_writes_nothing(
    kit: AsyncChatKit, source: TicketStatus, target: TicketStatus
) -> None:
    ticket = await _ticket(kit, source)
    before = await kit.store.last_position()
    with pytest.raises(InvalidTransitionError) as caught:
        await kit.tickets.set_status(ticket.id, target)
    assert (caught.value.from_status, caught.value.to_status) == (source.value, target.value)
    assert await kit.tickets.get(ticket.id) == ticket
    assert await kit.store.last_position() == before


async def test_closed_is_final(kit: AsyncChatKit) -> None:
    ticket = await _ticket(kit, T.CLOSED)
    for target in (T.OPEN, T.PENDING, T.ON_HOLD, T.SOLVED):
        with pytest.raises(InvalidTransitionError):
            await kit.tickets.set_status(ticket.id, target)
    with pytest.raises(InvalidTransitionError):
        await kit.tickets.reopen(ticket.id)
    assert (await kit.tickets.get(ticket.id)).status is T.CLOSED


async def test_solve_reopen_and_close_helpers(kit: AsyncChatKit) -> None:
    ticket = await _ticket(kit)
    assert (await kit.tickets.solve(ticket.id)).status is T.SOLVED
    assert (await kit.tickets.reopen(ticket.id)).status is T.OPEN
    assert (await kit.tickets.close(ticket.id)).status is T.CLOSED


async def test_setting_the_current_status_writes_nothing(kit: AsyncChatKit) -> None:
    ticket = await _ticket(kit, T.PENDING)
    before = await kit.store.last_position()
    assert await kit.tickets.set_status(ticket.id, "pending") == ticket
    assert await kit.store.last_position() == before


async def test_unknown_ticket_status_is_invalid(kit: AsyncChatKit) -> None:
    ticket = await _ticket(kit)
    with pytest.raises(InvalidInputError):
        await kit.tickets.set_status(ticket.id, "archived")
    assert (await kit.tickets.get(ticket.id)).status is T.OPEN


# -- updates and notes --------------------------------------------------------------------------


async def test_update_changes_fields_and_lists_them_in_the_event(kit: AsyncChatKit) -> None:
    ticket = await _ticket(kit)
    mia = await kit.agents.create(name="Mia")
    due = utcnow() + timedelta(days=1)
    before = await kit.store.last_position()
    updated = await kit.tickets.update(
        ticket.id, subject="Refund (partial)", priority="high", owner_id=mia.id, due_at=due
    )
    stored = await kit.tickets.get(ticket.id)
    assert stored == updated
    assert (stored.subject, stored.priority, stored.owner_id, stored.due_at) == (
        "Refund (partial)",
        Priority.HIGH,
        mia.id,
        due,
    )
    [event] = await _events_after(kit, before)
    assert isinstance(event, TicketUpdated)
    assert event.changed == ["due_at", "owner_id", "priority", "subject"]
    assert event.ticket == updated


async def test_update_lists_only_the_fields_that_changed(kit: AsyncChatKit) -> None:
    ticket = await _ticket(kit)
    before = await kit.store.last_position()
    await kit.tickets.update(ticket.id, subject=ticket.subject, priority="urgent")
    [event] = await _events_after(kit, before)
    assert isinstance(event, TicketUpdated)
    assert event.changed == ["priority"]


async def test_update_can_clear_owner_and_due_date(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia")
    ticket = await _ticket(kit)
    await kit.tickets.update(ticket.id, owner_id=mia.id, due_at=utcnow() + timedelta(days=1))
    cleared = await kit.tickets.update(ticket.id, owner_id=None, due_at=None)
    assert (cleared.owner_id, cleared.due_at) == (None, None)
    assert (await kit.tickets.get(ticket.id)).owner_id is None


async def test_update_without_a_change_writes_nothing(kit: AsyncChatKit) -> None:
    ticket = await _ticket(kit)
    before = await kit.store.last_position()
    assert await kit.tickets.update(ticket.id, subject="Refund", priority="normal") == ticket
    assert await kit.store.last_position() == before


async def test_update_to_an_unknown_owner_raises_not_found(kit: AsyncChatKit) -> None:
    ticket = await _ticket(kit)
    before = await kit.store.last_position()
    with pytest.raises(NotFoundError):
        await kit.tickets.update(ticket.id, owner_id="ag_missing")
    assert await kit.tickets.get(ticket.id) == ticket
    assert await kit.store.last_position() == before


async def test_add_note_appends_in_order_with_an_event(kit: AsyncChatKit) -> None:
    ticket = await _ticket(kit)
    mia = await kit.agents.create(name="Mia")
    await kit.tickets.add_note(ticket.id, "Asked the warehouse", author_id=mia.id)
    before = await kit.store.last_position()
    await kit.tickets.add_note(ticket.id, "Warehouse confirmed")
    stored = await kit.tickets.get(ticket.id)
    assert [(n.text, n.author_id) for n in stored.notes] == [
        ("Asked the warehouse", mia.id),
        ("Warehouse confirmed", None),
    ]
    [event] = await _events_after(kit, before)
    assert isinstance(event, TicketNoteAdded)
    assert event.ticket_id == ticket.id
    assert event.note == stored.notes[1]


async def test_add_note_by_an_unknown_agent_raises_not_found(kit: AsyncChatKit) -> None:
    ticket = await _ticket(kit)
    with pytest.raises(NotFoundError):
        await kit.tickets.add_note(ticket.id, "x", author_id="ag_missing")
    assert (await kit.tickets.get(ticket.id)).notes == []


async def test_empty_note_is_invalid(kit: AsyncChatKit) -> None:
    ticket = await _ticket(kit)
    with pytest.raises(InvalidInputError):
        await kit.tickets.add_note(ticket.id, "")
    assert (await kit.tickets.get(ticket.id)).notes == []


# -- work queues ---------------------------------------------------------------------------------


async def test_list_open_sorts_by_priority_then_due_date_with_undated_last(
    kit: AsyncChatKit,
) -> None:
    contact = await kit.contacts.create(name="Ada")
    now = utcnow()
    specs = [
        ("low, due soon", "low", now + timedelta(hours=1)),
        ("normal, undated", "normal", None),
        ("urgent, undated", "urgent", None),
        ("normal, due later", "normal", now + timedelta(days=3)),
        ("urgent, due later", "urgent", now + timedelta(days=2)),
        ("high, due", "high", now + timedelta(days=5)),
        ("urgent, due first", "urgent", now + timedelta(hours=2)),
        ("normal, due first", "normal", now + timedelta(days=1)),
    ]
    for subject, priority, due in specs:
        await kit.tickets.create(
            contact_id=contact.id, subject=subject, priority=priority, due_at=due
        )
    assert [t.subject for t in await _all_open(kit)] == [
        "urgent, due first",
        "urgent, due later",
        "urgent, undated",
        "high, due",
        "normal, due first",
        "normal, due later",
        "normal, undated",
        "low, due soon",
    ]


async def test_list_open_leaves_out_solved_and_closed_tickets(kit: AsyncChatKit) -> None:
    kept = {(await _ticket(kit, status)).id for status in (T.OPEN, T.PENDING, T.ON_HOLD)}
    await _ticket(kit, T.SOLVED)
    await _ticket(kit, T.CLOSED)
    assert {t.id for t in await _all_open(kit)} == kept


async def test_list_open_pages_through_every_ticket_once(kit: AsyncChatKit) -> None:
    contact = await kit.contacts.create(name="Ada")
    created = [
        (await kit.tickets.create(contact_id=contact.id, subject=f"t{n}", priority=p)).id
        for n, p in enumerate(["low", "urgent", "normal", "high", "normal", "urgent", "low"])
    ]
    pages = []
    cursor = None
    while True:
        page = await kit.tickets.list_open(limit=3, cursor=cursor)
        pages.append([t.id for t in page.items])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [len(p) for p in pages] == [3, 3, 1]
    seen = [i for p in pages for i in p]
    assert sorted(seen) == sorted(created)


async def test_list_open_filters_by_owner(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia")
    contact = await kit.contacts.create(name="Ada")
    mine = await kit.tickets.create(contact_id=contact.id, subject="mine", owner_id=mia.id)
    await kit.tickets.create(contact_id=contact.id, subject="nobody's")
    assert [t.id for t in await _all_open(kit, owner_id=mia.id)] == [mine.id]


async def test_list_open_follows_priority_changes(kit: AsyncChatKit) -> None:
    contact = await kit.contacts.create(name="Ada")
    first = await kit.tickets.create(contact_id=contact.id, subject="first", priority="high")
    second = await kit.tickets.create(contact_id=contact.id, subject="second", priority="low")
    await kit.tickets.update(second.id, priority="urgent")
    assert [t.id for t in await _all_open(kit)] == [second.id, first.id]


async def test_list_filters_by_contact_conversation_and_status(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    other = await _conversation(kit)
    a = await kit.tickets.create(conversation_id=conv.id, subject="a")
    b = await kit.tickets.create(conversation_id=conv.id, subject="b")
    c = await kit.tickets.create(contact_id=conv.contact_id, subject="c")
    d = await kit.tickets.create(conversation_id=other.id, subject="d")
    await kit.tickets.solve(b.id)
    assert {t.id for t in await _all(kit, contact_id=conv.contact_id)} == {a.id, b.id, c.id}
    assert {t.id for t in await _all(kit, conversation_id=conv.id)} == {a.id, b.id}
    assert {t.id for t in await _all(kit, status="solved")} == {b.id}
    assert {t.id for t in await _all(kit, status=["open", T.SOLVED])} == {a.id, b.id, c.id, d.id}
    assert [t.id for t in await _all(kit, contact_id=conv.contact_id, status="solved")] == [b.id]


async def test_list_with_an_unknown_status_is_invalid(kit: AsyncChatKit) -> None:
    with pytest.raises(InvalidInputError):
        await kit.tickets.list(status="archived")
