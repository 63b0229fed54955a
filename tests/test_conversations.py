"""Conversations: the lifecycle table, snoozing, reopening by customers, closing,
priority, tags, assignment, watchers, listing and the agent's context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import anyio
import pytest

from chatkit import (
    AsyncChatKit,
    Author,
    ConversationClosedError,
    ConversationStatus,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    Priority,
)
from chatkit.events import (
    ConversationAssigned,
    ConversationCreated,
    ConversationPriorityChanged,
    ConversationStatusChanged,
    ConversationTagsChanged,
    ConversationWatchersChanged,
    Event,
)
from chatkit.models import TRANSITIONS, Conversation, MessageKind, utcnow

pytestmark = pytest.mark.anyio

S = ConversationStatus
HOUR = timedelta(hours=1)

# How to reach each status from a fresh (open) conversation.
PATHS: dict[ConversationStatus, list[ConversationStatus]] = {
    S.OPEN: [],
    S.PENDING: [S.PENDING],
    S.SNOOZED: [S.SNOOZED],
    S.RESOLVED: [S.RESOLVED],
    S.CLOSED: [S.CLOSED],
}

LEGAL = [(a, b) for a, targets in TRANSITIONS.items() for b in sorted(targets)]
ILLEGAL = [(a, b) for a in S for b in S if a is not b and b not in TRANSITIONS[a]]


async def _events_after(kit: AsyncChatKit, position: int) -> list[Event]:
    return (await kit.events.list(after=position, limit=1000)).items


async def _conversation(kit: AsyncChatKit, status: ConversationStatus = S.OPEN) -> Conversation:
    contact = await kit.contacts.create(name="Ada")
    conv = await kit.conversations.create(contact_id=contact.id)
    for step in PATHS[status]:
        until = utcnow() + HOUR if step is S.SNOOZED else None
        conv = await kit.conversations.set_status(conv.id, step, snoozed_until=until)
    assert conv.status is status
    return conv


async def _all(kit: AsyncChatKit, **filters: object) -> list[Conversation]:
    items: list[Conversation] = []
    cursor = None
    while True:
        page = await kit.conversations.list(limit=2, cursor=cursor, **filters)  # type: ignore[arg-type]
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


# -- creation ---------------------------------------------------------------------


async def test_create_starts_open_and_emits_an_event(kit: AsyncChatKit) -> None:
    contact = await kit.contacts.create(name="Ada")
    before = await kit.store.last_position()
    conv = await kit.conversations.create(
        contact_id=contact.id, channel="email", subject="Order 245", priority="high", team="EU"
    )
    stored = await kit.conversations.get(conv.id)
    assert stored == conv
    assert (stored.status, stored.channel, stored.channels) == (S.OPEN, "email", ["email"])
    assert (stored.subject, stored.priority, stored.team) == ("Order 245", Priority.HIGH, "EU")
    assert (stored.last_seq, stored.assignee_id, stored.watchers) == (0, None, [])
    [event] = await _events_after(kit, before)
    assert isinstance(event, ConversationCreated)
    assert event.conversation == conv
    assert (event.conversation_id, event.contact_id) == (conv.id, contact.id)


async def test_create_for_an_unknown_contact_raises_not_found(kit: AsyncChatKit) -> None:
    before = await kit.store.last_position()
    with pytest.raises(NotFoundError):
        await kit.conversations.create(contact_id="ct_missing")
    assert await kit.store.last_position() == before


async def test_get_unknown_conversation_raises_not_found(kit: AsyncChatKit) -> None:
    with pytest.raises(NotFoundError) as caught:
        await kit.conversations.get("conv_missing")
    assert caught.value.resource == "conversation"


# -- the lifecycle -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target"), LEGAL, ids=[f"{a.value}->{b.value}" for a, b in LEGAL]
)
async def test_every_legal_transition_succeeds_with_an_event(
    kit: AsyncChatKit, source: ConversationStatus, target: ConversationStatus
) -> None:
    conv = await _conversation(kit, source)
    until = utcnow() + HOUR if target is S.SNOOZED else None
    before = await kit.store.last_position()
    moved = await kit.conversations.set_status(conv.id, target, snoozed_until=until)
    assert moved.status is target
    assert (await kit.conversations.get(conv.id)).status is target
    [event] = await _events_after(kit, before)
    assert isinstance(event, ConversationStatusChanged)
    assert (event.from_status, event.to_status) == (source, target)
    assert event.conversation_id == conv.id
    assert event.reason is None


@pytest.mark.parametrize(
    ("source", "target"), ILLEGAL, ids=[f"{a.value}->{b.value}" for a, b in ILLEGAL]
)
async def test_every_illegal_transition_raises_and_writes_nothing(
    kit: AsyncChatKit, source: ConversationStatus, target: ConversationStatus
) -> None:
    conv = await _conversation(kit, source)
    until = utcnow() + HOUR if target is S.SNOOZED else None
    before = await kit.store.last_position()
    with pytest.raises(InvalidTransitionError) as caught:
        await kit.conversations.set_status(conv.id, target, snoozed_until=until)
    assert caught.value.resource_id == conv.id
    assert (caught.value.from_status, caught.value.to_status) == (source.value, target.value)
    assert await kit.conversations.get(conv.id) == conv
    assert await kit.store.last_position() == before


async def test_moving_to_the_current_status_is_a_no_op(kit: AsyncChatKit) -> None:
    for status in (S.OPEN, S.PENDING, S.RESOLVED, S.CLOSED):
        conv = await _conversation(kit, status)
        before = await kit.store.last_position()
        assert await kit.conversations.set_status(conv.id, status) == conv, status
        assert await kit.store.last_position() == before


async def test_resolve_records_when_it_was_resolved(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    start = utcnow()
    resolved = await kit.conversations.resolve(conv.id)
    assert resolved.status is S.RESOLVED
    assert resolved.resolved_at is not None
    assert start <= resolved.resolved_at <= utcnow()
    assert (await kit.conversations.get(conv.id)).resolved_at == resolved.resolved_at


async def test_close_reopen_helpers_move_status(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit, S.RESOLVED)
    assert (await kit.conversations.reopen(conv.id)).status is S.OPEN
    assert (await kit.conversations.close(conv.id)).status is S.CLOSED
    with pytest.raises(InvalidTransitionError):
        await kit.conversations.reopen(conv.id)


async def test_unknown_status_is_invalid_input(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    before = await kit.store.last_position()
    with pytest.raises(InvalidInputError):
        await kit.conversations.set_status(conv.id, "archived")
    assert await kit.store.last_position() == before


# -- snoozing ------------------------------------------------------------------------


async def test_snooze_records_the_wake_time_in_utc(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    istanbul = timezone(timedelta(hours=3))
    until = (utcnow() + HOUR).astimezone(istanbul)
    before = await kit.store.last_position()
    snoozed = await kit.conversations.snooze(conv.id, until)
    stored = await kit.conversations.get(conv.id)
    assert stored.status is S.SNOOZED
    assert stored.snoozed_until == until
    assert stored.snoozed_until is not None
    assert stored.snoozed_until.utcoffset() == timedelta(0)
    assert snoozed == stored
    [event] = await _events_after(kit, before)
    assert isinstance(event, ConversationStatusChanged)
    assert event.snoozed_until == until


@pytest.mark.parametrize(
    "until",
    [
        pytest.param(None, id="missing"),
        pytest.param(datetime.now() + HOUR, id="naive"),
        pytest.param(datetime.now(UTC) - HOUR, id="past"),
    ],
)
async def test_snooze_needs_an_aware_future_time(kit: AsyncChatKit, until: datetime | None) -> None:
    conv = await _conversation(kit)
    before = await kit.store.last_position()
    with pytest.raises(InvalidInputError):
        await kit.conversations.set_status(conv.id, "snoozed", snoozed_until=until)
    assert await kit.conversations.get(conv.id) == conv
    assert await kit.store.last_position() == before


async def test_snooze_time_with_another_status_is_invalid(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    with pytest.raises(InvalidInputError):
        await kit.conversations.set_status(conv.id, "pending", snoozed_until=utcnow() + HOUR)
    assert (await kit.conversations.get(conv.id)).status is S.OPEN


async def test_leaving_snoozed_clears_the_wake_time(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit, S.SNOOZED)
    assert conv.snoozed_until is not None
    pending = await kit.conversations.set_status(conv.id, "pending")
    assert pending.snoozed_until is None
    assert (await kit.conversations.get(conv.id)).snoozed_until is None


async def test_wake_snoozed_reopens_only_the_due_ones(kit: AsyncChatKit) -> None:
    due = await _conversation(kit)
    later = await _conversation(kit)
    untouched = await _conversation(kit, S.PENDING)
    now = utcnow()
    await kit.conversations.snooze(due.id, now + timedelta(minutes=5))
    await kit.conversations.snooze(later.id, now + timedelta(days=2))
    before = await kit.store.last_position()
    woken = await kit.conversations.wake_snoozed(now=now + timedelta(minutes=10))
    assert [c.id for c in woken] == [due.id]
    assert woken[0].status is S.OPEN
    assert woken[0].snoozed_until is None
    assert (await kit.conversations.get(due.id)).status is S.OPEN
    assert (await kit.conversations.get(later.id)).status is S.SNOOZED
    assert (await kit.conversations.get(untouched.id)).status is S.PENDING
    [event] = await _events_after(kit, before)
    assert isinstance(event, ConversationStatusChanged)
    assert (event.conversation_id, event.from_status, event.to_status) == (
        due.id,
        S.SNOOZED,
        S.OPEN,
    )
    assert event.reason == "snooze_expired"


async def test_wake_snoozed_before_the_time_wakes_nothing(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    await kit.conversations.snooze(conv.id, utcnow() + HOUR)
    before = await kit.store.last_position()
    assert await kit.conversations.wake_snoozed() == []
    assert await kit.conversations.wake_snoozed(now=utcnow() + timedelta(minutes=59)) == []
    assert (await kit.conversations.get(conv.id)).status is S.SNOOZED
    assert await kit.store.last_position() == before


async def test_wake_snoozed_is_exact_at_the_wake_time(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    until = utcnow() + HOUR
    await kit.conversations.snooze(conv.id, until)
    assert [c.id for c in await kit.conversations.wake_snoozed(now=until)] == [conv.id]
    assert await kit.conversations.wake_snoozed(now=until + HOUR) == []


# -- messages and status ------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.PENDING, S.SNOOZED, S.RESOLVED])
async def test_customer_message_reopens(kit: AsyncChatKit, status: ConversationStatus) -> None:
    conv = await _conversation(kit, status)
    before = await kit.store.last_position()
    await kit.messages.send(conv.id, "hello?", author=Author.customer(conv.contact_id))
    stored = await kit.conversations.get(conv.id)
    assert stored.status is S.OPEN
    assert stored.snoozed_until is None
    events = await _events_after(kit, before)
    assert [e.type for e in events] == ["conversation.status_changed", "message.created"]
    changed = events[0]
    assert isinstance(changed, ConversationStatusChanged)
    assert (changed.from_status, changed.to_status) == (status, S.OPEN)
    assert changed.reason == "customer_message"


@pytest.mark.parametrize("status", [S.PENDING, S.SNOOZED, S.RESOLVED])
async def test_agent_bot_and_system_messages_do_not_reopen(
    kit: AsyncChatKit, status: ConversationStatus
) -> None:
    conv = await _conversation(kit, status)
    mia = await kit.agents.create(name="Mia")
    before = await kit.store.last_position()
    for author in (Author.agent(mia.id), Author.bot(), Author.system()):
        await kit.messages.send(conv.id, "Anything else?", author=author)
        assert (await kit.conversations.get(conv.id)).status is status, author
    assert [e.type for e in await _events_after(kit, before)] == ["message.created"] * 3


async def test_customer_message_to_an_open_conversation_changes_no_status(
    kit: AsyncChatKit,
) -> None:
    conv = await _conversation(kit)
    before = await kit.store.last_position()
    await kit.messages.send(conv.id, "hi", author=Author.customer(conv.contact_id))
    assert [e.type for e in await _events_after(kit, before)] == ["message.created"]


@pytest.mark.parametrize("who", ["customer", "agent"])
async def test_closed_conversation_takes_no_messages(kit: AsyncChatKit, who: str) -> None:
    conv = await _conversation(kit, S.CLOSED)
    author = (
        Author.customer(conv.contact_id)
        if who == "customer"
        else Author.agent((await kit.agents.create(name="Mia")).id)
    )
    before = await kit.store.last_position()
    with pytest.raises(ConversationClosedError) as caught:
        await kit.messages.send(conv.id, "late", author=author)
    assert caught.value.conversation_id == conv.id
    assert await kit.store.last_position() == before
    assert (await kit.messages.list(conv.id)).items == []
    assert await kit.conversations.get(conv.id) == conv


async def test_receive_after_close_starts_a_new_conversation(kit: AsyncChatKit) -> None:
    first = await kit.messages.receive(channel="web", sender="visitor-1", text="one", verified=True)
    await kit.conversations.close(first.conversation.id)
    second = await kit.messages.receive(
        channel="web", sender="visitor-1", text="two", verified=True
    )
    assert second.new_conversation
    assert second.contact.id == first.contact.id
    assert second.conversation.id != first.conversation.id
    assert second.conversation.status is S.OPEN
    assert (await kit.conversations.get(first.conversation.id)).status is S.CLOSED
    assert [m.text for m in (await kit.messages.list(first.conversation.id)).items] == ["one"]
    assert [m.text for m in (await kit.messages.list(second.conversation.id)).items] == ["two"]


async def test_receive_into_a_resolved_conversation_reopens_it(kit: AsyncChatKit) -> None:
    first = await kit.messages.receive(channel="web", sender="visitor-1", text="one", verified=True)
    await kit.conversations.resolve(first.conversation.id)
    second = await kit.messages.receive(
        channel="web", sender="visitor-1", text="two", verified=True
    )
    assert not second.new_conversation
    assert second.conversation.id == first.conversation.id
    assert second.conversation.status is S.OPEN


# -- priority ----------------------------------------------------------------------------


async def test_set_priority_changes_it_with_an_event(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    before = await kit.store.last_position()
    updated = await kit.conversations.set_priority(conv.id, "urgent")
    assert updated.priority is Priority.URGENT
    assert (await kit.conversations.get(conv.id)).priority is Priority.URGENT
    [event] = await _events_after(kit, before)
    assert isinstance(event, ConversationPriorityChanged)
    assert (event.from_priority, event.to_priority) == (Priority.NORMAL, Priority.URGENT)


async def test_set_same_priority_writes_nothing(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    before = await kit.store.last_position()
    assert await kit.conversations.set_priority(conv.id, Priority.NORMAL) == conv
    assert await kit.store.last_position() == before


async def test_unknown_priority_is_invalid(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    with pytest.raises(InvalidInputError):
        await kit.conversations.set_priority(conv.id, "critical")
    assert (await kit.conversations.get(conv.id)).priority is Priority.NORMAL


# -- tags -------------------------------------------------------------------------------------


async def test_tags_are_normalised_on_create(kit: AsyncChatKit) -> None:
    contact = await kit.contacts.create(name="Ada")
    conv = await kit.conversations.create(
        contact_id=contact.id, tags=[" Billing ", "billing", "VIP"]
    )
    assert (await kit.conversations.get(conv.id)).tags == ["billing", "vip"]


async def test_add_tags_normalises_and_reports_what_was_added(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    await kit.conversations.add_tags(conv.id, "refund")
    before = await kit.store.last_position()
    updated = await kit.conversations.add_tags(conv.id, " Billing", "REFUND", "billing ")
    assert updated.tags == ["billing", "refund"]
    assert (await kit.conversations.get(conv.id)).tags == ["billing", "refund"]
    [event] = await _events_after(kit, before)
    assert isinstance(event, ConversationTagsChanged)
    assert (event.added, event.removed, event.tags) == (["billing"], [], ["billing", "refund"])


async def test_remove_tags_reports_what_was_removed(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    await kit.conversations.add_tags(conv.id, "billing", "refund", "vip")
    before = await kit.store.last_position()
    updated = await kit.conversations.remove_tags(conv.id, "REFUND", "absent")
    assert updated.tags == ["billing", "vip"]
    assert (await kit.conversations.get(conv.id)).tags == ["billing", "vip"]
    [event] = await _events_after(kit, before)
    assert isinstance(event, ConversationTagsChanged)
    assert (event.added, event.removed, event.tags) == ([], ["refund"], ["billing", "vip"])


async def test_tag_changes_without_effect_write_nothing(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    conv = await kit.conversations.add_tags(conv.id, "billing")
    before = await kit.store.last_position()
    assert await kit.conversations.add_tags(conv.id, "BILLING") == conv
    assert await kit.conversations.remove_tags(conv.id, "absent") == conv
    assert await kit.store.last_position() == before


@pytest.mark.parametrize("bad", ["", "   ", "x" * 65])
async def test_invalid_tags_are_rejected(kit: AsyncChatKit, bad: str) -> None:
    conv = await _conversation(kit)
    before = await kit.store.last_position()
    with pytest.raises(InvalidInputError):
        await kit.conversations.add_tags(conv.id, "ok", bad)
    assert (await kit.conversations.get(conv.id)).tags == []
    assert await kit.store.last_position() == before


# -- assignment and watchers ------------------------------------------------------------


async def test_assign_sets_assignee_and_team_with_an_event(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    mia = await kit.agents.create(name="Mia")
    before = await kit.store.last_position()
    assigned = await kit.conversations.assign(conv.id, mia.id, team="billing")
    stored = await kit.conversations.get(conv.id)
    assert stored == assigned
    assert (stored.assignee_id, stored.team) == (mia.id, "billing")
    [event] = await _events_after(kit, before)
    assert isinstance(event, ConversationAssigned)
    assert (event.assignee_id, event.previous_assignee_id) == (mia.id, None)
    assert (event.team, event.previous_team) == ("billing", None)


async def test_reassign_keeps_the_team_unless_given(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    mia = await kit.agents.create(name="Mia")
    leo = await kit.agents.create(name="Leo")
    await kit.conversations.assign(conv.id, mia.id, team="billing")
    before = await kit.store.last_position()
    await kit.conversations.assign(conv.id, leo.id)
    stored = await kit.conversations.get(conv.id)
    assert (stored.assignee_id, stored.team) == (leo.id, "billing")
    [event] = await _events_after(kit, before)
    assert isinstance(event, ConversationAssigned)
    assert (event.assignee_id, event.previous_assignee_id) == (leo.id, mia.id)
    assert (event.team, event.previous_team) == ("billing", "billing")


async def test_unassign_clears_the_assignee(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    mia = await kit.agents.create(name="Mia")
    await kit.conversations.assign(conv.id, mia.id, team="billing")
    before = await kit.store.last_position()
    await kit.conversations.assign(conv.id, None, team=None)
    stored = await kit.conversations.get(conv.id)
    assert (stored.assignee_id, stored.team) == (None, None)
    [event] = await _events_after(kit, before)
    assert isinstance(event, ConversationAssigned)
    assert (event.assignee_id, event.previous_assignee_id) == (None, mia.id)
    assert (event.team, event.previous_team) == (None, "billing")


async def test_assign_to_the_current_assignee_writes_nothing(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    mia = await kit.agents.create(name="Mia")
    conv = await kit.conversations.assign(conv.id, mia.id)
    before = await kit.store.last_position()
    assert await kit.conversations.assign(conv.id, mia.id) == conv
    assert await kit.store.last_position() == before


async def test_assign_to_an_unknown_agent_raises_not_found(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    before = await kit.store.last_position()
    with pytest.raises(NotFoundError) as caught:
        await kit.conversations.assign(conv.id, "ag_missing")
    assert caught.value.resource == "agent"
    assert await kit.conversations.get(conv.id) == conv
    assert await kit.store.last_position() == before


async def test_watchers_are_added_and_removed_with_events(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    mia = await kit.agents.create(name="Mia")
    leo = await kit.agents.create(name="Leo")
    before = await kit.store.last_position()
    await kit.conversations.add_watcher(conv.id, mia.id)
    await kit.conversations.add_watcher(conv.id, leo.id)
    await kit.conversations.add_watcher(conv.id, mia.id)  # already watching: nothing
    assert (await kit.conversations.get(conv.id)).watchers == [mia.id, leo.id]
    await kit.conversations.remove_watcher(conv.id, mia.id)
    await kit.conversations.remove_watcher(conv.id, mia.id)  # not watching: nothing
    assert (await kit.conversations.get(conv.id)).watchers == [leo.id]
    events = await _events_after(kit, before)
    assert all(isinstance(e, ConversationWatchersChanged) for e in events)
    assert [(e.added, e.removed, e.watchers) for e in events] == [  # type: ignore[union-attr]
        ([mia.id], [], [mia.id]),
        ([leo.id], [], [mia.id, leo.id]),
        ([], [mia.id], [leo.id]),
    ]


async def test_unknown_agent_cannot_watch(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    with pytest.raises(NotFoundError):
        await kit.conversations.add_watcher(conv.id, "ag_missing")
    assert (await kit.conversations.get(conv.id)).watchers == []


# -- listing ------------------------------------------------------------------------------


async def test_list_filters_by_contact(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(name="Ada")
    bob = await kit.contacts.create(name="Bob")
    ada_convs = {(await kit.conversations.create(contact_id=ada.id)).id for _ in range(3)}
    await kit.conversations.create(contact_id=bob.id)
    assert {c.id for c in await _all(kit, contact_id=ada.id)} == ada_convs


async def test_list_filters_by_one_status_or_several(kit: AsyncChatKit) -> None:
    open_ = await _conversation(kit)
    pending = await _conversation(kit, S.PENDING)
    resolved = await _conversation(kit, S.RESOLVED)
    await _conversation(kit, S.CLOSED)
    assert [c.id for c in await _all(kit, status="pending")] == [pending.id]
    assert {c.id for c in await _all(kit, status=[S.OPEN, "resolved"])} == {
        open_.id,
        resolved.id,
    }


async def test_list_filters_by_assignee(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia")
    mine = await _conversation(kit)
    await _conversation(kit)
    await kit.conversations.assign(mine.id, mia.id)
    assert [c.id for c in await _all(kit, assignee_id=mia.id)] == [mine.id]


async def test_list_combines_filters(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia", max_concurrent_chats=2)
    a = await _conversation(kit)
    b = await _conversation(kit)
    await kit.conversations.assign(a.id, mia.id)
    await kit.conversations.assign(b.id, mia.id)
    await kit.conversations.resolve(b.id)
    assert [c.id for c in await _all(kit, assignee_id=mia.id, status="open")] == [a.id]
    assert [c.id for c in await _all(kit, contact_id=b.contact_id, status="open")] == []


async def test_list_orders_by_most_recent_activity_and_pages_without_repeats(
    kit: AsyncChatKit,
) -> None:
    contact = await kit.contacts.create(name="Ada")
    convs = []
    for _ in range(5):
        convs.append(await kit.conversations.create(contact_id=contact.id))
        await anyio.sleep(0.002)  # distinct activity times
    # Activity on the oldest conversation moves it to the front.
    await kit.messages.send(convs[0].id, "bump", author=Author.customer(contact.id))
    expected = [convs[0].id, convs[4].id, convs[3].id, convs[2].id, convs[1].id]
    listed = await _all(kit, contact_id=contact.id)
    assert [c.id for c in listed] == expected
    first = await kit.conversations.list(contact_id=contact.id, limit=2)
    assert [c.id for c in first.items] == expected[:2]
    assert first.next_cursor is not None


async def test_list_with_an_unknown_status_is_invalid(kit: AsyncChatKit) -> None:
    with pytest.raises(InvalidInputError):
        await kit.conversations.list(status=["open", "archived"])


# -- context -------------------------------------------------------------------------------


async def test_context_gives_history_of_every_conversation_in_order(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia")
    first = await kit.messages.receive(
        channel="email", sender="ada@example.com", text="old q", verified=True
    )
    await kit.messages.send(first.conversation.id, "old a", author=Author.agent(mia.id))
    await kit.conversations.close(first.conversation.id)
    second = await kit.messages.receive(
        channel="email", sender="ada@example.com", text="new q", verified=True
    )
    await kit.messages.note(second.conversation.id, "VIP, be nice", agent_id=mia.id)
    await kit.messages.send(second.conversation.id, "new a", author=Author.agent(mia.id))
    context = await kit.conversations.context(second.conversation.id)
    assert context.conversation.id == second.conversation.id
    assert context.contact.id == second.contact.id
    assert [(m.conversation_id, m.text) for m in context.history] == [
        (first.conversation.id, "old q"),
        (first.conversation.id, "old a"),
        (second.conversation.id, "new q"),
        (second.conversation.id, "VIP, be nice"),
        (second.conversation.id, "new a"),
    ]
    assert [c.id for c in context.previous_conversations] == [first.conversation.id]


async def test_context_lists_the_private_notes(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia")
    first = await kit.messages.receive(channel="web", sender="v1", text="hi")
    await kit.messages.note(first.conversation.id, "note 1", agent_id=mia.id)
    await kit.messages.send(first.conversation.id, "reply", author=Author.agent(mia.id))
    await kit.messages.note(first.conversation.id, "note 2", agent_id=mia.id)
    context = await kit.conversations.context(first.conversation.id)
    assert [m.text for m in context.notes] == ["note 1", "note 2"]
    assert all(m.kind is MessageKind.NOTE for m in context.notes)


async def test_context_has_the_tags_and_only_open_tickets(kit: AsyncChatKit) -> None:
    inbound = await kit.messages.receive(channel="web", sender="v1", text="hi")
    conv_id = inbound.conversation.id
    await kit.conversations.add_tags(conv_id, "Billing", "refund")
    open_ticket = await kit.tickets.create(conversation_id=conv_id, subject="Refund")
    pending = await kit.tickets.create(contact_id=inbound.contact.id, subject="Call back")
    await kit.tickets.set_status(pending.id, "pending")
    solved = await kit.tickets.create(conversation_id=conv_id, subject="Solved one")
    await kit.tickets.solve(solved.id)
    closed = await kit.tickets.create(conversation_id=conv_id, subject="Closed one")
    await kit.tickets.close(closed.id)
    context = await kit.conversations.context(conv_id)
    assert context.conversation.tags == ["billing", "refund"]
    assert {t.id for t in context.open_tickets} == {open_ticket.id, pending.id}


async def test_context_of_an_unknown_conversation_raises_not_found(kit: AsyncChatKit) -> None:
    with pytest.raises(NotFoundError):
        await kit.conversations.context("conv_missing")
