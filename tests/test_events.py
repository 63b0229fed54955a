"""Events: one typed event per state change, in commit order, never for failed work;
durable subscriptions that resume without loss or repeats."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import anyio
import pytest

from chatkit import (
    AsyncChatKit,
    Author,
    ChatKitError,
    ChatKitSettings,
    ConversationStatus,
    Priority,
    TicketStatus,
)
from chatkit.blobs import MemoryBlobStore
from chatkit.events import (
    AgentCreated,
    AgentUpdated,
    ContactCreated,
    ContactIdentityAdded,
    ContactMerged,
    ContactUpdated,
    ConversationAssigned,
    ConversationCreated,
    ConversationPriorityChanged,
    ConversationStatusChanged,
    ConversationTagsChanged,
    ConversationWatchersChanged,
    Event,
    MessageCreated,
    TicketCreated,
    TicketNoteAdded,
    TicketStatusChanged,
    TicketUpdated,
    parse_event,
)
from chatkit.models import Conversation, utcnow
from chatkit.services import Subscription

pytestmark = pytest.mark.anyio


async def _next(events: Subscription) -> Event:
    with anyio.fail_after(5):
        return await events.__anext__()


async def _events_after(kit: AsyncChatKit, position: int) -> list[Event]:
    return (await kit.events.list(after=position, limit=1000)).items


async def _conversation(kit: AsyncChatKit, name: str = "Ada") -> Conversation:
    contact = await kit.contacts.create(name=name)
    return await kit.conversations.create(contact_id=contact.id)


async def _say(kit: AsyncChatKit, conv: Conversation, *texts: str) -> list[str]:
    """Send messages as the bot; return the ids of their message.created events."""
    ids = []
    for text in texts:
        before = await kit.store.last_position()
        await kit.messages.send(conv.id, text, author=Author.bot())
        [event] = await _events_after(kit, before)
        ids.append(event.id)
    return ids


@pytest.fixture
async def quiet_kit(store_url: str) -> AsyncIterator[AsyncChatKit]:
    """A kit whose subscribers poll the store only every 30 s: anything they get
    sooner was delivered by the in-process notification."""
    settings = ChatKitSettings(event_poll_interval=30)
    async with AsyncChatKit(store_url, settings=settings, blobs=MemoryBlobStore()) as k:
        yield k


# -- the outbox ---------------------------------------------------------------------


async def test_every_kind_of_change_emits_its_typed_event(kit: AsyncChatKit) -> None:
    start = await kit.store.last_position()
    ada = await kit.contacts.create(name="Ada", identities=[("email", "ada@example.com")])
    await kit.contacts.add_identity(ada.id, ("phone", "+15550100000"))
    await kit.contacts.update(ada.id, attributes={"plan": "pro"})
    mia = await kit.agents.create(name="Mia")
    await kit.agents.update(mia.id, skills=["billing"])
    conv = await kit.conversations.create(contact_id=ada.id)
    await kit.messages.send(conv.id, "Hello", author=Author.customer(ada.id))
    await kit.conversations.assign(conv.id, mia.id, team="billing")
    await kit.conversations.set_priority(conv.id, "high")
    await kit.conversations.add_tags(conv.id, "Refund")
    await kit.conversations.add_watcher(conv.id, mia.id)
    await kit.conversations.set_status(conv.id, "pending")
    ticket = await kit.tickets.create(conversation_id=conv.id, subject="Refund")
    await kit.tickets.update(ticket.id, priority="urgent")
    await kit.tickets.add_note(ticket.id, "Asked the warehouse", author_id=mia.id)
    await kit.tickets.set_status(ticket.id, "solved")
    dup = await kit.contacts.create(name="Dup")
    await kit.contacts.merge(ada.id, dup.id)

    events = await _events_after(kit, start)
    assert [type(e) for e in events] == [
        ContactCreated,
        ContactIdentityAdded,
        ContactUpdated,
        AgentCreated,
        AgentUpdated,
        ConversationCreated,
        MessageCreated,
        ConversationAssigned,
        ConversationPriorityChanged,
        ConversationTagsChanged,
        ConversationWatchersChanged,
        ConversationStatusChanged,
        TicketCreated,
        TicketUpdated,
        TicketNoteAdded,
        TicketStatusChanged,
        ContactCreated,
        ContactMerged,
    ]
    by_type = {type(e): e for e in events}
    message = by_type[MessageCreated]
    assert isinstance(message, MessageCreated)
    assert message.message.text == "Hello"
    assert message.message.author == Author.customer(ada.id)
    identity = by_type[ContactIdentityAdded]
    assert isinstance(identity, ContactIdentityAdded)
    assert identity.identity.key == "phone:+15550100000"
    agent = by_type[AgentUpdated]
    assert isinstance(agent, AgentUpdated)
    assert (agent.agent.skills, agent.changed) == (["billing"], ["skills"])
    assigned = by_type[ConversationAssigned]
    assert isinstance(assigned, ConversationAssigned)
    assert (assigned.assignee_id, assigned.team) == (mia.id, "billing")
    priority = by_type[ConversationPriorityChanged]
    assert isinstance(priority, ConversationPriorityChanged)
    assert priority.to_priority is Priority.HIGH
    tags = by_type[ConversationTagsChanged]
    assert isinstance(tags, ConversationTagsChanged)
    assert tags.added == ["refund"]
    status = by_type[ConversationStatusChanged]
    assert isinstance(status, ConversationStatusChanged)
    assert status.to_status is ConversationStatus.PENDING
    note = by_type[TicketNoteAdded]
    assert isinstance(note, TicketNoteAdded)
    assert (note.ticket_id, note.note.text) == (ticket.id, "Asked the warehouse")
    solved = by_type[TicketStatusChanged]
    assert isinstance(solved, TicketStatusChanged)
    assert solved.to_status is TicketStatus.SOLVED
    merged = by_type[ContactMerged]
    assert isinstance(merged, ContactMerged)
    assert (merged.contact_id, merged.merged_contact_id) == (ada.id, dup.id)
    assert merged.moved_conversation_ids == []
    assert merged.moved_ticket_ids == []


async def test_conversation_events_carry_conversation_and_contact_ids(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    start = await kit.store.last_position()
    await kit.messages.send(conv.id, "hi", author=Author.customer(conv.contact_id))
    await kit.conversations.add_tags(conv.id, "x")
    await kit.conversations.resolve(conv.id)
    await kit.tickets.create(conversation_id=conv.id, subject="t")
    events = await _events_after(kit, start)
    assert len(events) == 4
    assert all((e.conversation_id, e.contact_id) == (conv.id, conv.contact_id) for e in events)


async def test_events_survive_a_json_round_trip(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    await kit.messages.send(conv.id, "héllo 👋", author=Author.bot())
    for event in await _events_after(kit, 0):
        assert parse_event(event.model_dump_json()) == event


async def test_positions_are_strictly_increasing_and_ids_unique(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    await asyncio.gather(
        *(kit.messages.send(conv.id, f"m{n}", author=Author.bot()) for n in range(10))
    )
    await kit.conversations.add_tags(conv.id, "a")
    events = await _events_after(kit, 0)
    positions = [e.position for e in events]
    assert all(p is not None for p in positions)
    assert all(a < b for a, b in itertools.pairwise(positions))  # type: ignore[operator]
    assert len({e.id for e in events}) == len(events)
    # Commit order within the conversation is sequence order.
    seqs = [e.message.seq for e in events if isinstance(e, MessageCreated)]
    assert seqs == list(range(1, 11))


async def test_list_pages_through_the_outbox(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    await _say(kit, conv, *(f"m{n}" for n in range(8)))
    everything = await _events_after(kit, 0)
    assert len(everything) == 10
    seen: list[Event] = []
    page = await kit.events.list(limit=4)
    while True:
        assert len(page.items) <= 4
        seen += page.items
        if page.next_cursor is None:
            break
        page = await kit.events.list(after=page.next_cursor, limit=4)  # type: ignore[arg-type]
    assert [e.id for e in seen] == [e.id for e in everything]


async def test_list_after_the_last_position_is_empty(kit: AsyncChatKit) -> None:
    await _conversation(kit)
    page = await kit.events.list(after=await kit.store.last_position())
    assert page.items == []
    assert page.next_cursor is None


# -- failed work leaves no trace --------------------------------------------------------------


async def test_failed_operations_emit_no_events(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(identities=[("email", "ada@example.com")])
    bob = await kit.contacts.create(name="Bob")
    closed = await _conversation(kit)
    await kit.conversations.close(closed.id)
    conv = await kit.conversations.create(contact_id=ada.id)
    await kit.messages.send(conv.id, "hi", author=Author.bot(), idempotency_key="k")
    mia = await kit.agents.create(name="Mia", email="mia@example.com")
    ticket = await kit.tickets.create(conversation_id=conv.id, subject="t")
    await kit.tickets.close(ticket.id)
    before = await kit.store.last_position()
    failing = [
        kit.contacts.create(identities=[("email", "ADA@example.com")]),
        kit.contacts.add_identity(bob.id, ("email", "ada@example.com")),
        kit.contacts.merge(ada.id, ada.id),
        kit.conversations.reopen(closed.id),
        kit.conversations.assign(conv.id, "ag_missing"),
        kit.messages.send(closed.id, "late", author=Author.bot()),
        kit.messages.send(conv.id, "other", author=Author.bot(), idempotency_key="k"),
        kit.messages.send(conv.id, "x" * 10_001, author=Author.bot()),
        kit.messages.send(conv.id, "psst", author=Author.system(), kind="note"),
        kit.agents.create(name="Mia 2", email="MIA@example.com"),
        kit.agents.update(mia.id, max_concurrent_chats=0),
        kit.tickets.reopen(ticket.id),
    ]
    for attempt in failing:
        with pytest.raises(ChatKitError):
            await attempt
    assert await _events_after(kit, before) == []
    assert await kit.store.last_position() == before


async def test_failures_committed_alongside_successes_leave_only_the_successes(
    kit: AsyncChatKit,
) -> None:
    ada = await kit.contacts.create(identities=[("email", "ada@example.com")])
    bob = await kit.contacts.create(name="Bob")
    conv = await kit.conversations.create(contact_id=ada.id)
    closed = await _conversation(kit)
    await kit.conversations.close(closed.id)
    before = await kit.store.last_position()
    results = await asyncio.gather(
        kit.messages.send(conv.id, "ok 1", author=Author.bot()),
        kit.contacts.create(identities=[("email", "ada@example.com")]),
        kit.contacts.add_identity(bob.id, ("email", "ada@example.com")),
        kit.messages.send(conv.id, "ok 2", author=Author.bot()),
        kit.conversations.set_status(closed.id, "open"),
        kit.contacts.create(name="Cy", identities=[("email", "cy@example.com")]),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 3
    assert all(isinstance(f, ChatKitError) for f in failures)
    events = await _events_after(kit, before)
    assert sorted(e.type for e in events) == [
        "contact.created",
        "message.created",
        "message.created",
    ]
    assert sorted(e.message.text for e in events if isinstance(e, MessageCreated)) == [
        "ok 1",
        "ok 2",
    ]
    assert (await kit.contacts.get(bob.id)).identities == []


# -- subscriptions --------------------------------------------------------------------------


async def test_named_consumer_starts_at_the_beginning(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    first = (await _events_after(kit, 0))[0]
    async with kit.events.subscribe(consumer="audit") as events:
        got = [await _next(events) for _ in range(2)]
    assert got[0].id == first.id
    assert got[1].type == "conversation.created"
    assert got[1].conversation_id == conv.id


async def test_consumer_receives_in_order_and_resumes_without_repeats_or_loss(
    kit: AsyncChatKit,
) -> None:
    conv = await _conversation(kit)
    await kit.events.set_position("crm", await kit.store.last_position())
    ids = await _say(kit, conv, "m1", "m2", "m3", "m4", "m5")
    async with kit.events.subscribe(consumer="crm") as events:
        first = [await _next(events) for _ in range(3)]
    ids += await _say(kit, conv, "m6", "m7")
    async with kit.events.subscribe(consumer="crm") as events:
        rest = [await _next(events) for _ in range(4)]
    assert [e.id for e in first + rest] == ids
    assert [e.message.text for e in first + rest if isinstance(e, MessageCreated)] == [
        f"m{n}" for n in range(1, 8)
    ]
    assert await kit.events.position("crm") == rest[-1].position


async def test_aclose_saves_the_position_of_the_last_handled_event(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    await kit.events.set_position("crm", await kit.store.last_position())
    await _say(kit, conv, "m1", "m2", "m3")
    events = kit.events.subscribe(consumer="crm")
    handled = await _next(events)
    await events.aclose()
    assert await kit.events.position("crm") == handled.position
    again = kit.events.subscribe(consumer="crm")
    following = await _next(again)
    await again.aclose()
    assert isinstance(following, MessageCreated)
    assert following.message.text == "m2"


async def test_exception_in_the_block_delivers_the_event_in_hand_again(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    await kit.events.set_position("mailer", await kit.store.last_position())
    ids = await _say(kit, conv, "m1", "m2", "m3")
    handled: list[str] = []

    async def mail_out() -> None:
        async with kit.events.subscribe(consumer="mailer") as events:
            async for event in events:
                if len(handled) == 1:
                    raise RuntimeError("mail server down")
                handled.append(event.id)

    with pytest.raises(RuntimeError, match="mail server down"):
        await mail_out()
    assert handled == ids[:1]
    async with kit.events.subscribe(consumer="mailer") as events:
        retried = [await _next(events) for _ in range(2)]
    assert [e.id for e in retried] == ids[1:]


async def test_exception_on_the_first_event_of_a_later_batch_redelivers_it(
    kit: AsyncChatKit,
) -> None:
    conv = await _conversation(kit)
    await kit.events.set_position("mailer", await kit.store.last_position())
    [first] = await _say(kit, conv, "m1")
    seen: list[str] = []

    async def crash_on_second() -> None:
        async with kit.events.subscribe(consumer="mailer") as events:
            seen.append((await _next(events)).id)
            seen.extend(await _say(kit, conv, "m2"))  # committed while subscribed
            seen.append((await _next(events)).id)
            raise RuntimeError("crash while handling m2")

    with pytest.raises(RuntimeError, match="crash while handling m2"):
        await crash_on_second()
    second = seen[1]
    assert seen == [first, second, second]
    async with kit.events.subscribe(consumer="mailer") as events:
        assert (await _next(events)).id == second


async def test_subscription_filtered_by_conversation(kit: AsyncChatKit) -> None:
    a = await _conversation(kit, "A")
    b = await _conversation(kit, "B")
    start = await kit.store.last_position()
    await _say(kit, a, "a1")
    await _say(kit, b, "b1")
    await kit.conversations.add_tags(b.id, "x")
    await _say(kit, a, "a2")
    await kit.conversations.add_tags(a.id, "y")
    events = kit.events.subscribe(after=start, conversation_id=a.id)
    got = [await _next(events) for _ in range(3)]
    await events.aclose()
    assert all(e.conversation_id == a.id for e in got)
    assert [e.type for e in got] == [
        "message.created",
        "message.created",
        "conversation.tags_changed",
    ]


async def test_subscription_filtered_by_type(kit: AsyncChatKit) -> None:
    a = await _conversation(kit, "A")
    b = await _conversation(kit, "B")
    await _say(kit, a, "a1")
    await kit.conversations.add_tags(a.id, "x")
    await _say(kit, b, "b1")
    events = kit.events.subscribe(after=0, types={"message.created", "conversation.tags_changed"})
    got = [await _next(events) for _ in range(3)]
    await events.aclose()
    assert [e.type for e in got] == [
        "message.created",
        "conversation.tags_changed",
        "message.created",
    ]


async def test_filtered_consumer_resumes_after_skipped_events(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    await kit.events.set_position("tags", await kit.store.last_position())
    await kit.conversations.add_tags(conv.id, "one")
    await _say(kit, conv, "noise 1", "noise 2")
    async with kit.events.subscribe(consumer="tags", types={"conversation.tags_changed"}) as ev:
        first = await _next(ev)
    await _say(kit, conv, "noise 3")
    await kit.conversations.add_tags(conv.id, "two")
    async with kit.events.subscribe(consumer="tags", types={"conversation.tags_changed"}) as ev:
        second = await _next(ev)
    assert isinstance(first, ConversationTagsChanged)
    assert isinstance(second, ConversationTagsChanged)
    assert (first.added, second.added) == (["one"], ["two"])


async def test_anonymous_subscription_starts_at_the_present(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    await _say(kit, conv, "old 1", "old 2")
    events = kit.events.subscribe()
    got: list[Event] = []

    async def read() -> None:
        got.append(await _next(events))

    async with anyio.create_task_group() as tg:
        tg.start_soon(read)
        with anyio.fail_after(5):
            # Until the subscription has taken its start position.
            while events.position is None:  # noqa: ASYNC110 - a property, no event to wait on
                await anyio.sleep(0.01)
        assert got == []
        [new] = await _say(kit, conv, "new")
    await events.aclose()
    assert [e.id for e in got] == [new]


async def test_waiting_subscriber_gets_an_event_committed_later_at_once(
    quiet_kit: AsyncChatKit,
) -> None:
    kit = quiet_kit
    conv = await _conversation(kit)
    events = kit.events.subscribe(after=await kit.store.last_position(), consumer="live")
    got: list[tuple[Event, float]] = []

    async def read() -> None:
        event = await _next(events)
        got.append((event, time.monotonic()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(read)
        await anyio.sleep(0.2)
        assert got == []  # nothing to deliver yet: the reader waits
        sent_at = time.monotonic()
        await kit.messages.send(conv.id, "ping", author=Author.bot())
    await events.aclose()
    [(event, received_at)] = got
    assert isinstance(event, MessageCreated)
    assert event.message.text == "ping"
    # Delivered by the local notification, long before the 30 s poll.
    assert received_at - sent_at < 2


async def test_several_waiting_subscribers_all_get_the_event(quiet_kit: AsyncChatKit) -> None:
    kit = quiet_kit
    conv = await _conversation(kit)
    start = await kit.store.last_position()
    subscriptions = [kit.events.subscribe(after=start) for _ in range(3)]
    got: list[Event] = []

    async def read(events: Subscription) -> None:
        got.append(await _next(events))

    async with anyio.create_task_group() as tg:
        for events in subscriptions:
            tg.start_soon(read, events)
        await anyio.sleep(0.1)
        [sent] = await _say(kit, conv, "to everyone")
    assert [e.id for e in got] == [sent] * 3
    for events in subscriptions:
        await events.aclose()


async def test_set_position_replays_from_an_earlier_point(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    start = await kit.store.last_position()
    ids = await _say(kit, conv, "m1", "m2", "m3")
    await kit.events.set_position("replay", await kit.store.last_position())
    assert await kit.events.position("replay") == await kit.store.last_position()
    await kit.events.set_position("replay", start)
    async with kit.events.subscribe(consumer="replay") as events:
        assert [(await _next(events)).id for _ in range(3)] == ids


async def test_unknown_consumer_position_is_zero(kit: AsyncChatKit) -> None:
    assert await kit.events.position("never-seen") == 0


async def test_after_overrides_the_saved_position(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    start = await kit.store.last_position()
    ids = await _say(kit, conv, "m1", "m2")
    await kit.events.set_position("x", await kit.store.last_position())
    async with kit.events.subscribe(consumer="x", after=start) as events:
        assert (await _next(events)).id == ids[0]


async def test_snooze_expiry_and_customer_reopen_are_reported_with_reasons(
    kit: AsyncChatKit,
) -> None:
    conv = await _conversation(kit)
    until = utcnow() + timedelta(minutes=5)
    await kit.conversations.snooze(conv.id, until)
    start = await kit.store.last_position()
    await kit.conversations.wake_snoozed(now=until)
    await kit.conversations.resolve(conv.id)
    await kit.messages.send(conv.id, "one more thing", author=Author.customer(conv.contact_id))
    reasons = [
        (e.from_status.value, e.to_status.value, e.reason)
        for e in await _events_after(kit, start)
        if isinstance(e, ConversationStatusChanged)
    ]
    assert reasons == [
        ("snoozed", "open", "snooze_expired"),
        ("open", "resolved", None),
        ("resolved", "open", "customer_message"),
    ]
