"""Conversations: lifecycle, reopening, work fields, listing, context."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chatkit import (
    AsyncChatKit,
    Author,
    ConversationClosedError,
    ConversationStatus,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
)
from chatkit.events import ConversationStatusChanged, ConversationTagsChanged
from chatkit.models import TRANSITIONS, Conversation, utcnow

pytestmark = pytest.mark.anyio

SOON = timedelta(hours=1)


async def _in_status(kit: AsyncChatKit, status: ConversationStatus) -> Conversation:
    contact = await kit.contacts.create(name="C")
    conv = await kit.conversations.create(contact_id=contact.id)
    path = {
        ConversationStatus.OPEN: [],
        ConversationStatus.PENDING: [ConversationStatus.PENDING],
        ConversationStatus.SNOOZED: [ConversationStatus.SNOOZED],
        ConversationStatus.RESOLVED: [ConversationStatus.RESOLVED],
        ConversationStatus.CLOSED: [ConversationStatus.CLOSED],
    }[status]
    for step in path:
        until = utcnow() + SOON if step is ConversationStatus.SNOOZED else None
        conv = await kit.conversations.set_status(conv.id, step, snoozed_until=until)
    return conv


PAIRS = [(a, b) for a in ConversationStatus for b in ConversationStatus if a is not b]


@pytest.mark.parametrize(("source", "target"), PAIRS)
async def test_transitions_follow_the_table(
    kit: AsyncChatKit, source: ConversationStatus, target: ConversationStatus
) -> None:
    conv = await _in_status(kit, source)
    until = utcnow() + SOON if target is ConversationStatus.SNOOZED else None
    before = await kit.store.last_position()
    if target in TRANSITIONS[source]:
        moved = await kit.conversations.set_status(conv.id, target, snoozed_until=until)
        assert moved.status is target
        [event] = (await kit.events.list(after=before)).items
        assert isinstance(event, ConversationStatusChanged)
        assert (event.from_status, event.to_status) == (source, target)
    else:
        with pytest.raises(InvalidTransitionError) as caught:
            await kit.conversations.set_status(conv.id, target, snoozed_until=until)
        assert (caught.value.from_status, caught.value.to_status) == (source.value, target.value)
        assert (await kit.conversations.get(conv.id)).status is source
        assert await kit.store.last_position() == before


async def test_snooze_needs_an_aware_future_time(kit: AsyncChatKit) -> None:
    conv = await _in_status(kit, ConversationStatus.OPEN)
    for bad in (None, utcnow() - SOON, datetime.now() + SOON):
        with pytest.raises(InvalidInputError):
            await kit.conversations.set_status(conv.id, "snoozed", snoozed_until=bad)
    with pytest.raises(InvalidInputError):
        await kit.conversations.set_status(conv.id, "pending", snoozed_until=utcnow() + SOON)


async def test_wake_snoozed_reopens_only_due_conversations(kit: AsyncChatKit) -> None:
    due = await _in_status(kit, ConversationStatus.OPEN)
    later = await _in_status(kit, ConversationStatus.OPEN)
    await kit.conversations.snooze(due.id, utcnow() + timedelta(minutes=5))
    await kit.conversations.snooze(later.id, utcnow() + timedelta(days=2))
    woken = await kit.conversations.wake_snoozed(now=utcnow() + timedelta(minutes=10))
    assert [c.id for c in woken] == [due.id]
    assert (await kit.conversations.get(due.id)).status is ConversationStatus.OPEN
    assert (await kit.conversations.get(later.id)).status is ConversationStatus.SNOOZED


@pytest.mark.parametrize("status", ["pending", "snoozed", "resolved"])
async def test_customer_message_reopens(kit: AsyncChatKit, status: str) -> None:
    conv = await _in_status(kit, ConversationStatus(status))
    before = await kit.store.last_position()
    await kit.messages.send(conv.id, "hello?", author=Author.customer(conv.contact_id))
    assert (await kit.conversations.get(conv.id)).status is ConversationStatus.OPEN
    events = (await kit.events.list(after=before)).items
    assert [e.type for e in events] == ["conversation.status_changed", "message.created"]
    assert isinstance(events[0], ConversationStatusChanged)
    assert events[0].reason == "customer_message"


async def test_agent_message_does_not_reopen(kit: AsyncChatKit) -> None:
    conv = await _in_status(kit, ConversationStatus.RESOLVED)
    mia = await kit.agents.create(name="Mia")
    await kit.messages.send(conv.id, "Anything else?", author=Author.agent(mia.id))
    assert (await kit.conversations.get(conv.id)).status is ConversationStatus.RESOLVED


async def test_closed_is_final_and_receive_starts_anew(kit: AsyncChatKit) -> None:
    first = await kit.messages.receive(channel="web", sender="v1", text="one", verified=True)
    await kit.conversations.close(first.conversation.id)
    with pytest.raises(ConversationClosedError):
        await kit.messages.send(
            first.conversation.id, "late", author=Author.customer(first.contact.id)
        )
    second = await kit.messages.receive(channel="web", sender="v1", text="two", verified=True)
    assert second.new_conversation
    assert second.conversation.id != first.conversation.id
    assert second.contact.id == first.contact.id


async def test_priority_tags_assignment_and_watchers(kit: AsyncChatKit) -> None:
    conv = await _in_status(kit, ConversationStatus.OPEN)
    mia = await kit.agents.create(name="Mia")
    ali = await kit.agents.create(name="Ali")
    conv = await kit.conversations.set_priority(conv.id, "urgent")
    assert conv.priority.value == "urgent"
    before = await kit.store.last_position()
    conv = await kit.conversations.add_tags(conv.id, " Billing ", "refund", "billing")
    assert conv.tags == ["billing", "refund"]
    conv = await kit.conversations.remove_tags(conv.id, "REFUND", "absent")
    assert conv.tags == ["billing"]
    tag_events = (await kit.events.list(after=before)).items
    assert isinstance(tag_events[0], ConversationTagsChanged)
    assert tag_events[0].added == ["billing", "refund"]
    assert isinstance(tag_events[1], ConversationTagsChanged)
    assert tag_events[1].removed == ["refund"]
    conv = await kit.conversations.assign(conv.id, mia.id, team="billing")
    assert (conv.assignee_id, conv.team) == (mia.id, "billing")
    conv = await kit.conversations.assign(conv.id, None)
    assert (conv.assignee_id, conv.team) == (None, "billing")
    with pytest.raises(NotFoundError):
        await kit.conversations.assign(conv.id, "ag_missing")
    conv = await kit.conversations.add_watcher(conv.id, ali.id)
    conv = await kit.conversations.add_watcher(conv.id, ali.id)
    assert conv.watchers == [ali.id]
    conv = await kit.conversations.remove_watcher(conv.id, ali.id)
    assert conv.watchers == []
    with pytest.raises(InvalidInputError):
        await kit.conversations.set_priority(conv.id, "whenever")


async def test_list_filters_and_orders_by_recent_activity(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia")
    convs = [
        (await kit.messages.receive(channel="web", sender=f"v{n}", text="hi")).conversation
        for n in range(5)
    ]
    await kit.conversations.assign(convs[1].id, mia.id)
    await kit.conversations.resolve(convs[2].id)
    await kit.messages.send(convs[0].id, "bump", author=Author.customer(convs[0].contact_id))
    everything = (await kit.conversations.list()).items
    assert everything[0].id == convs[0].id  # most recently active first
    assert (await kit.conversations.list(assignee_id=mia.id)).items[0].id == convs[1].id
    resolved = (await kit.conversations.list(status="resolved")).items
    assert [c.id for c in resolved] == [convs[2].id]
    open_ones = (await kit.conversations.list(status=["open", "pending"])).items
    assert convs[2].id not in {c.id for c in open_ones}
    mine = (await kit.conversations.list(contact_id=convs[3].contact_id)).items
    assert [c.id for c in mine] == [convs[3].id]
    page1 = await kit.conversations.list(limit=2)
    page2 = await kit.conversations.list(limit=2, cursor=page1.next_cursor)
    page3 = await kit.conversations.list(limit=2, cursor=page2.next_cursor)
    ids = [c.id for p in (page1, page2, page3) for c in p.items]
    assert ids == [c.id for c in everything]
    assert page3.next_cursor is None


async def test_context_has_history_notes_tags_and_open_tickets(kit: AsyncChatKit) -> None:
    old = await kit.messages.receive(
        channel="email", sender="ada@example.com", text="old issue", verified=True
    )
    mia = await kit.agents.create(name="Mia")
    await kit.messages.note(old.conversation.id, "VIP, be nice", agent_id=mia.id)
    await kit.conversations.close(old.conversation.id)
    done = await kit.tickets.create(conversation_id=old.conversation.id, subject="done")
    await kit.tickets.solve(done.id)
    new = await kit.messages.receive(
        channel="email", sender="ada@example.com", text="new issue", verified=True
    )
    await kit.tickets.create(conversation_id=new.conversation.id, subject="open one")
    await kit.conversations.add_tags(new.conversation.id, "returning")
    context = await kit.conversations.context(new.conversation.id)
    assert [m.text for m in context.history] == ["old issue", "VIP, be nice", "new issue"]
    assert [m.text for m in context.notes] == ["VIP, be nice"]
    assert [t.subject for t in context.open_tickets] == ["open one"]
    assert context.conversation.tags == ["returning"]
    assert [c.id for c in context.previous_conversations] == [old.conversation.id]


async def test_unknown_ids(kit: AsyncChatKit) -> None:
    with pytest.raises(NotFoundError) as caught:
        await kit.conversations.get("conv_missing")
    assert (caught.value.resource, caught.value.resource_id) == ("conversation", "conv_missing")
    with pytest.raises(NotFoundError):
        await kit.conversations.create(contact_id="ct_missing")
    with pytest.raises(NotFoundError):
        await kit.conversations.resolve("conv_missing")


def test_transition_table_is_closed_under_statuses() -> None:
    assert set(TRANSITIONS) == set(ConversationStatus)
    assert TRANSITIONS[ConversationStatus.CLOSED] == frozenset()
