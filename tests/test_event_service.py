"""Events: typed, ordered, transactional; subscriptions resume by consumer name."""

from __future__ import annotations

import anyio
import pytest

from chatkit import AsyncChatKit, Author
from chatkit.events import ContactCreated, MessageCreated, parse_event
from chatkit.services import Subscription

pytestmark = pytest.mark.anyio


async def _next(events: Subscription) -> object:
    with anyio.fail_after(5):
        return await events.__anext__()


async def test_changes_produce_typed_events_in_commit_order(kit: AsyncChatKit) -> None:
    inbound = await kit.messages.receive(channel="web", sender="v1", text="hi")
    events = (await kit.events.list()).items
    assert [e.type for e in events] == [
        "contact.created",
        "conversation.created",
        "message.created",
    ]
    assert isinstance(events[0], ContactCreated)
    assert isinstance(events[2], MessageCreated)
    assert events[2].message.text == "hi"
    assert events[2].conversation_id == inbound.conversation.id
    positions = [e.position or 0 for e in events]
    assert positions == sorted(set(positions))
    assert parse_event(events[2].model_dump_json()) == events[2]


async def test_failed_operations_leave_no_event(kit: AsyncChatKit) -> None:
    inbound = await kit.messages.receive(channel="web", sender="v1", text="hi")
    await kit.conversations.close(inbound.conversation.id)
    before = await kit.store.last_position()
    for attempt in (
        kit.conversations.reopen(inbound.conversation.id),
        kit.messages.send(inbound.conversation.id, "x", author=Author.customer(inbound.contact.id)),
        kit.contacts.create(identities=[("web", "v1")]),
    ):
        with pytest.raises(Exception):  # noqa: B017, PT011 - each raises its own ChatKitError
            await attempt
    assert await kit.store.last_position() == before


async def test_named_consumer_resumes_without_loss_or_repeat(kit: AsyncChatKit) -> None:
    await kit.messages.receive(channel="web", sender="v1", text="one", verified=True)
    got = []
    async with kit.events.subscribe(consumer="audit") as events:
        for _ in range(3):
            got.append(await _next(events))
    await kit.messages.receive(channel="web", sender="v1", text="two", verified=True)
    async with kit.events.subscribe(consumer="audit") as events:
        resumed = await _next(events)
    assert isinstance(resumed, MessageCreated)
    assert resumed.message.text == "two"
    assert resumed.position == (got[-1].position or 0) + 1
    assert await kit.events.position("audit") == resumed.position


async def test_error_in_the_handler_redelivers_the_event_in_hand(kit: AsyncChatKit) -> None:
    await kit.messages.receive(channel="web", sender="v1", text="one")
    seen: list[object] = []

    async def crashing_handler() -> None:
        async with kit.events.subscribe(consumer="crm") as events:
            seen.append(await _next(events))
            seen.append(await _next(events))
            raise RuntimeError("handler crashed on the second event")

    with pytest.raises(RuntimeError):
        await crashing_handler()
    first, second = seen
    async with kit.events.subscribe(consumer="crm") as events:
        again = await _next(events)
    assert again.id == second.id  # type: ignore[attr-defined]
    assert again.id != first.id  # type: ignore[attr-defined]


async def test_filters_and_anonymous_start_at_now(kit: AsyncChatKit) -> None:
    a = await kit.messages.receive(channel="web", sender="v1", text="a1")
    b = await kit.messages.receive(channel="web", sender="v2", text="b1")
    live = kit.events.subscribe(types={"message.created"})
    mine = kit.events.subscribe(after=0, conversation_id=b.conversation.id)
    got: list[object] = []

    async def listen() -> None:
        got.append(await _next(live))  # starts at the newest event: a1 and b1 are past

    async with anyio.create_task_group() as tg:
        tg.start_soon(listen)
        await anyio.sleep(0.05)
        await kit.messages.send(a.conversation.id, "a2", author=Author.customer(a.contact.id))
    [first_live] = got
    assert isinstance(first_live, MessageCreated)
    assert first_live.message.text == "a2"
    seen = [await _next(mine), await _next(mine)]
    assert {e.conversation_id for e in seen} == {b.conversation.id}
    await live.aclose()
    await mine.aclose()


async def test_waiting_subscriber_wakes_on_a_new_commit(kit: AsyncChatKit) -> None:
    events = kit.events.subscribe()
    received: list[object] = []

    async def consume() -> None:
        received.append(await _next(events))

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        await anyio.sleep(0.05)
        await kit.contacts.create(name="Late")
    assert isinstance(received[0], ContactCreated)
    await events.aclose()


async def test_list_pages_by_position(kit: AsyncChatKit) -> None:
    for n in range(5):
        await kit.contacts.create(name=f"c{n}")
    page = await kit.events.list(limit=2)
    assert page.next_cursor is not None
    nxt = await kit.events.list(after=int(page.next_cursor), limit=10)
    assert [e.position for e in page.items + nxt.items] == [1, 2, 3, 4, 5]
