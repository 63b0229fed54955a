"""One owner, always: claims and capacity, across tasks and OS processes."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

import pytest

from chatkit import (
    AgentAtCapacityError,
    AlreadyClaimedError,
    AsyncChatKit,
    Author,
    ConversationStatus,
)
from chatkit.models import Agent, Conversation

from .services import drop_schema, fresh_schema, postgres_or_skip

pytestmark = pytest.mark.anyio


async def _conversations(kit: AsyncChatKit, count: int) -> list[Conversation]:
    found = []
    for n in range(count):
        found.append(
            (await kit.messages.receive(channel="web", sender=f"v{n}", text="hi")).conversation
        )
    return found


async def _load(kit: AsyncChatKit, agent_id: str) -> int:
    return (await kit.agents.get(agent_id)).active_chats


async def test_capacity_is_enforced_and_freed_on_resolve(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia", max_concurrent_chats=2)
    a, b, c = await _conversations(kit, 3)
    await kit.conversations.assign(a.id, mia.id)
    await kit.conversations.claim(b.id, mia.id)
    assert await _load(kit, mia.id) == 2
    before = await kit.store.last_position()
    with pytest.raises(AgentAtCapacityError) as caught:
        await kit.conversations.claim(c.id, mia.id)
    assert (caught.value.agent_id, caught.value.limit) == (mia.id, 2)
    assert await kit.store.last_position() == before
    assert (await kit.conversations.get(c.id)).assignee_id is None
    await kit.conversations.resolve(a.id)
    assert await _load(kit, mia.id) == 1
    await kit.conversations.claim(c.id, mia.id)
    assert await _load(kit, mia.id) == 2


async def test_load_follows_reassignment_close_and_reopen(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia", max_concurrent_chats=3)
    ali = await kit.agents.create(name="Ali", max_concurrent_chats=3)
    [conv] = await _conversations(kit, 1)
    await kit.conversations.assign(conv.id, mia.id)
    await kit.conversations.assign(conv.id, ali.id)
    assert (await _load(kit, mia.id), await _load(kit, ali.id)) == (0, 1)
    await kit.conversations.resolve(conv.id)
    assert await _load(kit, ali.id) == 0
    await kit.conversations.reopen(conv.id)
    assert await _load(kit, ali.id) == 1
    await kit.conversations.assign(conv.id, None)
    assert await _load(kit, ali.id) == 0
    await kit.conversations.assign(conv.id, ali.id)
    await kit.conversations.close(conv.id)
    assert await _load(kit, ali.id) == 0


async def test_customer_reopening_a_full_agents_chat_returns_it_to_the_queue(
    kit: AsyncChatKit,
) -> None:
    mia = await kit.agents.create(name="Mia", max_concurrent_chats=1)
    old, new = await _conversations(kit, 2)
    await kit.conversations.assign(old.id, mia.id)
    await kit.conversations.resolve(old.id)
    await kit.conversations.assign(new.id, mia.id)
    await kit.messages.send(old.id, "it broke again", author=Author.customer(old.contact_id))
    reopened = await kit.conversations.get(old.id)
    assert reopened.status is ConversationStatus.OPEN
    assert reopened.assignee_id is None
    assert await _load(kit, mia.id) == 1
    events = (await kit.events.list(limit=500)).items
    types = [e.type for e in events if e.type != "conversation.mood_changed"][-3:]
    assert types == ["conversation.status_changed", "conversation.assigned", "message.created"]


async def test_customer_reopening_with_room_keeps_the_agent(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia", max_concurrent_chats=2)
    [conv] = await _conversations(kit, 1)
    await kit.conversations.assign(conv.id, mia.id)
    await kit.conversations.resolve(conv.id)
    await kit.messages.send(conv.id, "one more thing", author=Author.customer(conv.contact_id))
    assert (await kit.conversations.get(conv.id)).assignee_id == mia.id
    assert await _load(kit, mia.id) == 1


async def test_concurrent_claims_of_one_conversation_have_one_winner(kit: AsyncChatKit) -> None:
    agents = [await kit.agents.create(name=f"A{n}", max_concurrent_chats=3) for n in range(6)]
    [conv] = await _conversations(kit, 1)
    results = await asyncio.gather(
        *(kit.conversations.claim(conv.id, a.id) for a in agents), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, Conversation)]
    assert len(winners) == 1
    assert all(isinstance(r, AlreadyClaimedError) for r in results if r not in winners)
    owner = (await kit.conversations.get(conv.id)).assignee_id
    assert owner == winners[0].assignee_id
    assert sum([await _load(kit, a.id) for a in agents]) == 1


async def test_concurrent_claims_never_exceed_capacity(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia", max_concurrent_chats=2)
    convs = await _conversations(kit, 6)
    results = await asyncio.gather(
        *(kit.conversations.claim(c.id, mia.id) for c in convs), return_exceptions=True
    )
    assert sum(isinstance(r, Conversation) for r in results) == 2
    assert all(isinstance(r, (Conversation, AgentAtCapacityError)) for r in results)
    assert await _load(kit, mia.id) == 2
    owned = (await kit.conversations.list(assignee_id=mia.id)).items
    assert len(owned) == 2


def _claim_everything(url: str, agent_ids: list[str], conversation_ids: list[str]) -> None:
    async def run() -> None:
        async with AsyncChatKit(url) as kit:
            for conversation_id in conversation_ids:
                for agent_id in agent_ids:
                    try:
                        await kit.conversations.claim(conversation_id, agent_id)
                        break
                    except (AlreadyClaimedError, AgentAtCapacityError):
                        continue

    asyncio.run(run())


async def _race(url: str, processes: int = 4) -> None:
    async with AsyncChatKit(url) as kit:
        agents = [await kit.agents.create(name=f"A{n}", max_concurrent_chats=2) for n in range(3)]
        convs = await _conversations(kit, 10)
    ctx = multiprocessing.get_context("spawn")
    workers = [
        ctx.Process(
            target=_claim_everything,
            args=(
                url,
                [a.id for a in agents][n % 3 :] + [a.id for a in agents][: n % 3],
                [c.id for c in convs],
            ),
        )
        for n in range(processes)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    async with AsyncChatKit(url) as kit:
        final = [await kit.conversations.get(c.id) for c in convs]
        owners = [c.assignee_id for c in final if c.assignee_id is not None]
        assert len(owners) == 6  # 3 agents x capacity 2; the other 4 stay unassigned
        for agent in agents:
            count = owners.count(agent.id)
            assert count <= 2
            assert (await kit.agents.get(agent.id)).active_chats == count
        assert all(isinstance(a, Agent) for a in agents)


async def test_processes_racing_on_sqlite_keep_one_owner_and_capacity(tmp_path: Path) -> None:
    await _race(f"sqlite:///{tmp_path}/race.db")


async def test_processes_racing_on_postgres_keep_one_owner_and_capacity() -> None:
    server = postgres_or_skip()
    schema = fresh_schema()
    try:
        await _race(f"{server}?schema={schema}&pool_max=4")
    finally:
        drop_schema(server, schema)
