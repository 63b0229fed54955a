"""Re-snoozing, the last events page, and no lax coercion of times and counts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chatkit import AsyncChatKit, ConversationStatus, InvalidInputError
from chatkit.events import ConversationStatusChanged
from chatkit.models import utcnow

pytestmark = pytest.mark.anyio


async def test_a_snoozed_conversation_can_be_snoozed_to_another_time(kit: AsyncChatKit) -> None:
    contact = await kit.contacts.create(name="C")
    conv = await kit.conversations.create(contact_id=contact.id)
    first, second = utcnow() + timedelta(hours=1), utcnow() + timedelta(days=1)
    await kit.conversations.snooze(conv.id, first)
    before = await kit.store.last_position()
    again = await kit.conversations.snooze(conv.id, second)
    assert again.status is ConversationStatus.SNOOZED
    assert again.snoozed_until == second
    [event] = (await kit.events.list(after=before)).items
    assert isinstance(event, ConversationStatusChanged)
    assert event.snoozed_until == second
    assert await kit.conversations.wake_snoozed(now=first + timedelta(minutes=1)) == []


async def test_a_full_last_page_of_events_has_no_next_cursor(kit: AsyncChatKit) -> None:
    for n in range(4):
        await kit.contacts.create(name=f"c{n}")
    first = await kit.events.list(limit=2)
    assert first.next_cursor is not None
    second = await kit.events.list(after=first.next_cursor, limit=2)
    assert len(second.items) == 2
    assert second.next_cursor is None


@pytest.mark.parametrize("due", ["2030", 1893456000, "2030-01-01T00:00:00Z"])
async def test_due_dates_must_be_datetimes(kit: AsyncChatKit, due: object) -> None:
    contact = await kit.contacts.create(name="C")
    with pytest.raises(InvalidInputError):
        await kit.tickets.create(subject="s", contact_id=contact.id, due_at=due)  # type: ignore[arg-type]
    ticket = await kit.tickets.create(subject="s", contact_id=contact.id)
    with pytest.raises(InvalidInputError):
        await kit.tickets.update(ticket.id, due_at=due)  # type: ignore[arg-type]


@pytest.mark.parametrize("capacity", [True, 2.0, "2"])
async def test_capacity_must_be_a_whole_number(kit: AsyncChatKit, capacity: object) -> None:
    with pytest.raises(InvalidInputError):
        await kit.agents.create(name="A", max_concurrent_chats=capacity)  # type: ignore[arg-type]
    agent = await kit.agents.create(name="B")
    with pytest.raises(InvalidInputError):
        await kit.agents.update(agent.id, max_concurrent_chats=capacity)  # type: ignore[arg-type]
