"""Teams and routing: skill and language match, strategies, queues, waits, hours, bad input."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatkit import (
    Agent,
    AgentAtCapacityError,
    AgentStatus,
    AsyncChatKit,
    BusinessHours,
    ChatKitSettings,
    Conversation,
    ConversationStatus,
    InvalidInputError,
    NotFoundError,
    PluginNotFoundError,
)
from chatkit.events import ConversationQueued, TeamCreated
from chatkit.models.agents import routing_list
from chatkit.routing import RoutingContext, RoutingStrategy

pytestmark = pytest.mark.anyio


async def _agent(kit: AsyncChatKit, name: str, **fields: object) -> Agent:
    agent = await kit.agents.create(name=name, **fields)  # type: ignore[arg-type]
    return await kit.agents.set_presence(agent.id, "available")


async def _chat(kit: AsyncChatKit, sender: str, text: str = "hello") -> Conversation:
    return (
        await kit.messages.receive(channel="web", sender=sender, text=text, verified=True)
    ).conversation


async def test_skill_and_language_pick_the_agent_who_can_help(kit: AsyncChatKit) -> None:
    await kit.teams.create("support", categories=["orders & billing", "troubleshooting"])
    mia = await _agent(kit, "Mia", skills=["billing"], languages=["en", "tr"], teams=["support"])
    await _agent(kit, "Leo", skills=["billing"], languages=["ko"], teams=["support"])
    await _agent(kit, "Ada", skills=["troubleshooting"], languages=["tr"], teams=["support"])
    conv = await _chat(kit, "v1", "Siparişim gecikti")
    result = await kit.routing.route(conv.id, team="support", topic="billing", language="tr-TR")
    assert (result.agent_id, result.queued) == (mia.id, False)
    assert result.conversation.assignee_id == mia.id
    assert result.conversation.language == "tr-TR"
    again = await kit.routing.route(conv.id)  # already assigned: nothing moves
    assert again.agent_id == mia.id


async def test_a_category_finds_its_team_and_the_whole_team_handles_it(kit: AsyncChatKit) -> None:
    await kit.teams.create("billing", categories=["Orders & Billing"])
    await kit.teams.create("tech", categories=["troubleshooting"])
    sam = await _agent(kit, "Sam", teams=["billing"])
    await _agent(kit, "Tia", teams=["tech"])
    conv = await _chat(kit, "v1")
    result = await kit.routing.route(conv.id, topic="orders & billing")
    assert result.agent_id == sam.id
    assert result.conversation.team == "billing"
    events = (await kit.events.list(limit=100)).items
    assert any(isinstance(e, TeamCreated) for e in events)
    assert [e.team for e in events if isinstance(e, ConversationQueued)] == ["billing"]


async def test_least_busy_spreads_the_load(kit: AsyncChatKit) -> None:
    a = await _agent(kit, "A", max_concurrent_chats=3)
    b = await _agent(kit, "B", max_concurrent_chats=3)
    owners = [(await kit.routing.route((await _chat(kit, f"v{n}")).id)).agent_id for n in range(4)]
    assert sorted(owners) == sorted([a.id, a.id, b.id, b.id])


async def test_the_router_reads_past_the_first_page_of_candidates(kit: AsyncChatKit) -> None:
    """40 available agents: the only Korean speaker is the last in every order."""
    await kit.teams.create("support")
    for n in range(39):
        await _agent(kit, f"E{n}", languages=["en"], teams=["support"], max_concurrent_chats=2)
    jin = await _agent(kit, "Jin", languages=["ko"], teams=["support"], max_concurrent_chats=2)
    for strategy in ("least_busy", "round_robin", "sticky"):
        conv = await _chat(kit, f"k-{strategy}")
        suggested = await kit.routing.candidates(conv.id, team="support", language="ko")
        assert [a.id for a in suggested] == [jin.id]
        result = await kit.routing.route(conv.id, team="support", language="ko", strategy=strategy)
        assert result.agent_id == jin.id, strategy
        if strategy == "least_busy":
            await kit.conversations.resolve(conv.id)  # Jin has room for the next one
    third = await _chat(kit, "k-full")
    assert await kit.routing.candidates(third.id, team="support", language="ko") == []
    assert (await kit.routing.route(third.id, team="support", language="ko")).queued


async def test_a_language_decision_reads_only_that_languages_list(kit: AsyncChatKit) -> None:
    """40 English speakers and one Korean speaker, last in load order: two agents read."""
    await kit.teams.create("support")
    for n in range(40):
        await _agent(kit, f"E{n}", languages=["en"], teams=["support"])
    jin = await _agent(kit, "Jin", languages=["KO-kr"], teams=["support"])
    conv = await _chat(kit, "k-1")
    read: list[int] = []
    listed = kit.store.find_listed

    async def counting(*args: object, **kwargs: object) -> list[Agent]:
        found: list[Agent] = await listed(*args, **kwargs)  # type: ignore[arg-type]
        read.append(len(found))
        return found

    kit.store.find_listed = counting  # type: ignore[method-assign]
    suggested = await kit.routing.candidates(conv.id, team="support", language="ko", limit=1)
    assert [a.id for a in suggested] == [jin.id]
    assert sum(read) <= 2  # the team's Korean list (and the check for agents of any language)
    assert (await kit.routing.route(conv.id, team="support", language="ko")).agent_id == jin.id


async def test_a_skill_in_a_rare_language_goes_on_in_the_speakers_list(kit: AsyncChatKit) -> None:
    """30 English billing agents first in load order; the Korean one with billing is last."""
    await kit.teams.create("support", categories=["orders"])
    for n in range(30):
        await _agent(kit, f"E{n}", languages=["en"], skills=["billing"], teams=["support"])
    for n in range(3):
        await _agent(kit, f"K{n}", languages=["ko"], skills=["refunds"], teams=["support"])
    min_ji = await _agent(kit, "Min-ji", languages=["ko"], skills=["Billing"], teams=["support"])
    conv = await _chat(kit, "k-1")
    read: list[int] = []
    listed = kit.store.find_listed

    async def counting(*args: object, **kwargs: object) -> list[Agent]:
        found: list[Agent] = await listed(*args, **kwargs)  # type: ignore[arg-type]
        read.append(len(found))
        return found

    kit.store.find_listed = counting  # type: ignore[method-assign]
    best = await kit.routing.candidates(
        conv.id, team="support", topic="billing", language="ko", limit=1
    )
    assert [a.id for a in best] == [min_ji.id]
    assert sum(read) <= 8  # a page of the skill's list, then the four Korean speakers
    result = await kit.routing.route(conv.id, team="support", topic="billing", language="ko")
    assert result.agent_id == min_ji.id
    # Min-ji is busy now (one of one chat): a second Korean billing question waits for her.
    second = await _chat(kit, "k-2")
    assert (
        await kit.routing.candidates(second.id, team="support", topic="billing", language="ko")
        == []
    )
    assert (
        await kit.routing.route(second.id, team="support", topic="billing", language="ko")
    ).queued


async def test_an_agent_who_lists_no_language_serves_any_in_load_order(kit: AsyncChatKit) -> None:
    await kit.teams.create("support")
    jin = await _agent(kit, "Jin", languages=["ko"], teams=["support"], max_concurrent_chats=4)
    first = await _chat(kit, "k-1")
    assert (await kit.routing.route(first.id, team="support", language="ko")).agent_id == jin.id
    any_language = await _agent(kit, "Any", teams=["support"], max_concurrent_chats=4)
    second = await _chat(kit, "k-2")
    # Jin has a chat already, "Any" none: the least busy who can serve Korean is "Any".
    result = await kit.routing.route(second.id, team="support", language="ko")
    assert result.agent_id == any_language.id
    # Languages learnt later count at once: the lists follow every write of the agent.
    await kit.agents.update(any_language.id, languages=["en"])
    third = await _chat(kit, "k-3")
    assert (await kit.routing.route(third.id, team="support", language="ko")).agent_id == jin.id
    fourth = await _chat(kit, "k-4")
    assert await kit.routing.candidates(fourth.id, team="support", language="tr") == []


async def test_skilled_agents_first_and_a_skill_outside_the_categories_is_required(
    kit: AsyncChatKit,
) -> None:
    await kit.teams.create("support", categories=["orders & billing"])
    generalists = [await _agent(kit, f"G{n}", teams=["support"]) for n in range(20)]
    kim = await _agent(kit, "Kim", teams=["support"], skills=["Orders & Billing", "refunds"])
    order = await _chat(kit, "v1")
    best = await kit.routing.candidates(order.id, topic="orders & billing", limit=3)
    assert [a.id for a in best][:1] == [kim.id]
    assert best[1].id in {g.id for g in generalists}
    assert (await kit.routing.route(order.id, topic="orders & billing")).agent_id == kim.id
    # Kim is full: the rest of the team handles its category.
    second = await _chat(kit, "v2")
    result = await kit.routing.route(second.id, topic="orders & billing")
    assert result.agent_id in {g.id for g in generalists}
    # A topic that is no category of the team needs the skill: it waits for Kim.
    refund = await _chat(kit, "v3")
    assert (await kit.routing.route(refund.id, team="support", topic="refunds")).queued


async def test_candidates_change_nothing(kit: AsyncChatKit) -> None:
    a = await _agent(kit, "A", max_concurrent_chats=2)
    conv = await _chat(kit, "v1")
    before = await kit.events.list(limit=100)
    assert [x.id for x in await kit.routing.candidates(conv.id)] == [a.id]
    assert await kit.conversations.get(conv.id) == conv
    assert (await kit.events.list(limit=100)).items == before.items
    with pytest.raises(InvalidInputError):
        await kit.routing.candidates(conv.id, limit=0)
    with pytest.raises(NotFoundError):
        await kit.routing.candidates(conv.id, team="nobody")


async def test_round_robin_and_sticky(kit: AsyncChatKit) -> None:
    a = await _agent(kit, "A", max_concurrent_chats=5)
    b = await _agent(kit, "B", max_concurrent_chats=5)
    first = await kit.routing.route((await _chat(kit, "v1")).id, strategy="round_robin")
    second = await kit.routing.route((await _chat(kit, "v2")).id, strategy="round_robin")
    assert {first.agent_id, second.agent_id} == {a.id, b.id}
    # The customer of the second chat comes back: sticky sends them to the same agent,
    # although least busy would not prefer them over the other.
    await kit.conversations.resolve(second.conversation.id)
    again = await kit.messages.receive(
        channel="web", sender="v2", text="one more thing", verified=True
    )
    assert again.conversation.id == second.conversation.id  # reopened, assignee kept
    fresh = await kit.conversations.create(contact_id=again.contact.id)
    routed = await kit.routing.route(fresh.id, strategy="sticky")
    assert routed.agent_id == second.agent_id


async def test_nobody_available_means_a_queue_with_position_and_wait(kit: AsyncChatKit) -> None:
    await kit.teams.create("support")
    mia = await kit.agents.create(name="Mia", teams=["support"], max_concurrent_chats=1)
    await kit.agents.set_presence(mia.id, "away")
    convs = [await _chat(kit, f"v{n}") for n in range(3)]
    results = [await kit.routing.route(c.id, team="support") for c in convs]
    assert [r.queued for r in results] == [True, True, True]
    assert [r.position for r in results] == [1, 2, 3]
    assert all(r.expected_wait is not None for r in results)
    assert results[0].expected_wait is not None
    assert results[2].expected_wait is not None
    assert results[2].expected_wait >= results[0].expected_wait
    # An urgent one goes to the front.
    await kit.conversations.set_priority(convs[2].id, "urgent")
    queue = await kit.routing.queue(team="support")
    assert [c.id for c in queue.items] == [convs[2].id, convs[0].id, convs[1].id]
    # queue_position reads each one's place again, as it is now.
    places = [await kit.routing.queue_position(c.id) for c in convs]
    assert [(p.queued, p.position) for p in places] == [(True, 2), (True, 3), (True, 1)]
    assert all(p.open_now and p.opens_at is None and p.agent_id is None for p in places)
    assert places[1].expected_wait is not None
    assert places[2].expected_wait is not None
    assert places[1].expected_wait >= places[2].expected_wait
    # Mia comes back and takes the first in line, then she is full.
    await kit.agents.set_presence(mia.id, "available")
    taken = await kit.routing.next_for(mia.id)
    assert taken is not None
    assert taken.id == convs[2].id
    assert (await kit.agents.get(mia.id)).status is AgentStatus.BUSY
    assert await kit.routing.next_for(mia.id) is None
    assert [c.id for c in (await kit.routing.queue()).items] == [convs[0].id, convs[1].id]
    taken_place = await kit.routing.queue_position(convs[2].id)
    assert (taken_place.queued, taken_place.position, taken_place.agent_id) == (False, None, mia.id)
    assert (await kit.routing.queue_position(convs[0].id)).position == 1
    with pytest.raises(NotFoundError):
        await kit.routing.queue_position("conv_nope")


async def test_next_for_skips_what_the_agent_cannot_serve(kit: AsyncChatKit) -> None:
    korean = await _chat(kit, "v1")
    turkish = await _chat(kit, "v2")
    for conv, language in ((korean, "ko"), (turkish, "tr")):
        assert (await kit.routing.route(conv.id, language=language)).queued
    ece = await _agent(kit, "Ece", languages=["tr"])
    taken = await kit.routing.next_for(ece.id)
    assert taken is not None
    assert taken.id == turkish.id


async def test_a_closed_team_queues_and_says_when_it_opens(kit: AsyncChatKit) -> None:
    now = datetime.now(UTC)
    tomorrow = (now + timedelta(days=1)).strftime("%a").lower()
    hours = BusinessHours.weekly("UTC", {tomorrow: "09:00-17:00"})
    await kit.teams.create("night", hours=hours)
    await _agent(kit, "Owl", teams=["night"])
    result = await kit.routing.route((await _chat(kit, "v1")).id, team="night")
    assert result.queued
    assert not result.open_now
    assert result.opens_at is not None
    assert result.opens_at > now
    assert result.opens_at.hour == 9
    assert result.expected_wait is not None
    assert result.expected_wait >= result.opens_at - now - timedelta(seconds=5)
    place = await kit.routing.queue_position(result.conversation.id)
    assert (place.queued, place.position, place.open_now, place.opens_at) == (
        True,
        1,
        False,
        result.opens_at,
    )
    assert place.expected_wait is not None
    assert place.expected_wait >= result.opens_at - now - timedelta(seconds=5)


async def test_custom_strategy_instance(kit: AsyncChatKit) -> None:
    a = await _agent(kit, "A", max_concurrent_chats=5)
    b = await _agent(kit, "B", max_concurrent_chats=5)

    class Alphabetical(RoutingStrategy):
        def rank(
            self, conversation: Conversation, candidates: Sequence[Agent], context: RoutingContext
        ) -> list[Agent]:
            return sorted(candidates, key=lambda agent: agent.name, reverse=True)

    for n in range(2):
        result = await kit.routing.route((await _chat(kit, f"v{n}")).id, strategy=Alphabetical())
        assert result.agent_id == b.id
    assert (await kit.agents.get(a.id)).active_chats == 0


async def test_bad_input_is_typed_and_changes_nothing(kit: AsyncChatKit) -> None:
    conv = await _chat(kit, "v1")
    with pytest.raises(NotFoundError):
        await kit.routing.route(conv.id, team="nobody")
    with pytest.raises(PluginNotFoundError):
        await kit.routing.route(conv.id, strategy="random_guess")
    with pytest.raises(InvalidInputError):
        await kit.routing.route(conv.id, language="  ")
    assert await kit.conversations.get(conv.id) == conv
    await kit.conversations.close(conv.id)
    with pytest.raises(InvalidInputError):
        await kit.routing.route(conv.id)
    with pytest.raises(InvalidInputError):
        await kit.teams.create("  ")
    await kit.teams.create("ops")
    with pytest.raises(InvalidInputError):
        await kit.teams.create("ops")
    with pytest.raises(InvalidInputError):
        await kit.teams.create("hours", hours="9 to 5")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        await kit.agents.create(name="Neg", max_concurrent_chats=-1)
    assert [t.name for t in (await kit.teams.list()).items] == ["ops"]


async def test_concurrent_routing_never_exceeds_capacity(kit: AsyncChatKit) -> None:
    agents = [await _agent(kit, f"A{n}", max_concurrent_chats=2) for n in range(3)]
    convs = [await _chat(kit, f"v{n}") for n in range(10)]
    results = await asyncio.gather(*(kit.routing.route(c.id) for c in convs))
    assert sum(not r.queued for r in results) == 6
    for agent in agents:
        owned = (await kit.conversations.list(assignee_id=agent.id)).items
        assert len(owned) == 2
        assert (await kit.agents.get(agent.id)).active_chats == 2
    assert len((await kit.routing.queue()).items) == 4


# -- the routing state machine, driven at random --------------------------------------

actions = st.lists(
    st.one_of(
        st.tuples(st.just("arrive"), st.integers(0, 3)),
        st.tuples(st.just("resolve"), st.integers(0, 30)),
        st.tuples(st.just("presence"), st.integers(0, 2), st.sampled_from(["available", "away"])),
        st.tuples(st.just("next"), st.integers(0, 2)),
    ),
    max_size=25,
)


def _drive(url: str, steps: list[tuple[object, ...]]) -> None:
    async def run() -> None:
        async with AsyncChatKit(url, settings=ChatKitSettings()) as kit:
            agents = [
                await _agent(kit, f"A{n}", max_concurrent_chats=n + 1, languages=["en"])
                for n in range(3)
            ]
            convs: list[Conversation] = []
            for step in steps:
                if step[0] == "arrive":
                    conv = await _chat(kit, f"v{len(convs)}")
                    convs.append(conv)
                    await kit.routing.route(conv.id, language=["en", "tr", None, "en-GB"][step[1]])  # type: ignore[index]
                elif step[0] == "resolve" and convs:
                    target = convs[int(step[1]) % len(convs)]  # type: ignore[call-overload]
                    current = await kit.conversations.get(target.id)
                    if current.status is ConversationStatus.OPEN:
                        await kit.conversations.resolve(target.id)
                elif step[0] == "presence":
                    await kit.agents.set_presence(agents[step[1]].id, step[2])  # type: ignore[index, arg-type]
                elif step[0] == "next":
                    await kit.routing.next_for(agents[step[1]].id)  # type: ignore[index]
            everyone = await kit.conversations.list(limit=1000)
            for agent in agents:
                fresh = await kit.agents.get(agent.id)
                held = [
                    c
                    for c in everyone.items
                    if c.assignee_id == agent.id
                    and c.status in (ConversationStatus.OPEN, ConversationStatus.PENDING)
                ]
                assert fresh.active_chats == len(held)
                assert fresh.active_chats <= fresh.max_concurrent_chats
            for conv in everyone.items:
                assert not (conv.waiting and conv.assignee_id is not None)
            # The store's lists of available agents match the agents themselves.
            store = kit.store
            listed = await store.find_listed(Agent, routing_list("load"), limit=100)
            available = await store.find(Agent, {"status": AgentStatus.AVAILABLE})
            assert sorted(a.id for a in listed) == sorted(a.id for a in available)
            assert {a.id: a for a in listed} == {a.id: a for a in available}
            english = await store.find_listed(Agent, routing_list("load", language="en"), limit=100)
            assert [a.id for a in english] == [a.id for a in listed]  # all speak English

    asyncio.run(run())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions)
def test_random_arrivals_and_departures_keep_one_owner_within_capacity(
    steps: list[tuple[object, ...]],
) -> None:
    _drive("memory://", steps)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions)
def test_the_same_on_sqlite_keeps_the_agent_lists_in_step(
    steps: list[tuple[object, ...]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _drive(f"sqlite:///{tmp}/routing.db", steps)


async def test_transfer_to_an_agent_keeps_the_context_and_says_why(kit: AsyncChatKit) -> None:
    mia = await _agent(kit, "Mia", max_concurrent_chats=2)
    leo = await _agent(kit, "Leo", max_concurrent_chats=1)
    conv = await _chat(kit, "v1", "My card was charged twice")
    await kit.routing.route(conv.id, strategy="round_robin")
    owner = (await kit.conversations.get(conv.id)).assignee_id
    other = leo.id if owner == mia.id else mia.id
    result = await kit.routing.transfer(
        conv.id, to_agent=other, note="needs a refund, over my limit", by_agent=owner
    )
    assert result.agent_id == other
    context = await kit.conversations.context(conv.id)
    texts = [m.text for m in context.history]
    assert "My card was charged twice" in texts
    assert "Transfer: needs a refund, over my limit" in texts
    assert [n.text for n in context.notes] == ["Transfer: needs a refund, over my limit"]
    assert (await kit.agents.get(owner or "")).active_chats == 0
    assert (await kit.agents.get(other)).active_chats == 1


async def test_transfer_to_a_team_routes_there_or_queues(kit: AsyncChatKit) -> None:
    await kit.teams.create("tier2")
    first = await _agent(kit, "First", max_concurrent_chats=2)
    conv = await _chat(kit, "v1")
    assert (await kit.routing.route(conv.id)).agent_id == first.id
    result = await kit.routing.transfer(conv.id, to_team="tier2", note="escalated")
    assert result.queued  # nobody in tier2 yet
    assert result.conversation.team == "tier2"
    assert (await kit.agents.get(first.id)).active_chats == 0
    expert = await _agent(kit, "Expert", teams=["tier2"])
    taken = await kit.routing.next_for(expert.id)
    assert taken is not None
    assert taken.id == conv.id


async def test_bad_transfers_change_nothing(kit: AsyncChatKit) -> None:
    full = await _agent(kit, "Full", max_concurrent_chats=1)
    other = await _agent(kit, "Other", max_concurrent_chats=1)
    busy = await _chat(kit, "v0")
    await kit.conversations.assign(busy.id, full.id)
    conv = await _chat(kit, "v1")
    await kit.conversations.assign(conv.id, other.id)
    before = await kit.conversations.get(conv.id)
    with pytest.raises(InvalidInputError):
        await kit.routing.transfer(conv.id)
    with pytest.raises(InvalidInputError):
        await kit.routing.transfer(conv.id, to_agent=full.id, to_team="x")
    with pytest.raises(NotFoundError):
        await kit.routing.transfer(conv.id, to_team="nowhere")
    with pytest.raises(AgentAtCapacityError):
        await kit.routing.transfer(conv.id, to_agent=full.id)
    assert await kit.conversations.get(conv.id) == before


async def test_a_callback_request_lands_as_a_task_in_the_team_queue(kit: AsyncChatKit) -> None:
    await kit.teams.create("billing", categories=["refunds"])
    conv = await _chat(kit, "v1", "please call me")
    await kit.routing.route(conv.id, topic="refunds")
    start = datetime.now(UTC) + timedelta(hours=1)
    ticket = await kit.routing.request_callback(
        conv.id, "+90 555 010 00 00", window_start=start, window_end=start + timedelta(hours=2)
    )
    assert ticket.subject == "Call back +905550100000"
    assert ticket.conversation_id == conv.id
    assert ticket.team == "billing"
    assert ticket.due_at == start + timedelta(hours=2)
    assert "+905550100000" in ticket.notes[0].text
    assert [t.id for t in (await kit.tickets.list_open()).items] == [ticket.id]


async def test_bad_callback_requests_change_nothing(kit: AsyncChatKit) -> None:
    conv = await _chat(kit, "v1")
    now = datetime.now(UTC)
    with pytest.raises(InvalidInputError):
        await kit.routing.request_callback(
            conv.id, "call me maybe", window_start=now, window_end=now + timedelta(hours=1)
        )
    with pytest.raises(InvalidInputError):
        await kit.routing.request_callback(
            conv.id, "+15550100", window_start=now, window_end=now - timedelta(hours=1)
        )
    with pytest.raises(InvalidInputError):
        await kit.routing.request_callback(
            conv.id,
            "+15550100",
            window_start=now.replace(tzinfo=None),
            window_end=now + timedelta(hours=1),
        )
    assert (await kit.tickets.list_open()).items == []
