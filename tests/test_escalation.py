"""The escalation matrix: conditions, actions, once per conversation, typed errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from chatkit import (
    AsyncChatKit,
    ChatKitSettings,
    EscalationRule,
    InvalidInputError,
    Priority,
)
from chatkit.blobs import LocalBlobStore
from chatkit.events import ConversationEscalated

pytestmark = pytest.mark.anyio

RULES = (
    EscalationRule(
        name="long wait", waiting_longer_than=timedelta(minutes=1), raise_priority_to="high"
    ),
    EscalationRule(name="angry", mood_below=-0.5, reassign_to="Boss@example.com"),
    EscalationRule(name="legal", topics={"Legal"}, mode="ticket", move_to_team="legal"),
    EscalationRule(name="vip", vip=True, raise_priority_to="urgent"),
)


@pytest.fixture
async def esc(store_url: str, tmp_path: Path) -> AsyncIterator[AsyncChatKit]:
    settings = ChatKitSettings(escalation_rules=RULES)
    async with AsyncChatKit(
        store_url, settings=settings, blobs=LocalBlobStore(tmp_path / "b")
    ) as kit:
        yield kit


def later(minutes: float) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


async def test_a_long_wait_raises_priority_once(esc: AsyncChatKit) -> None:
    conv = (await esc.messages.receive(channel="web", sender="v1", text="hello?")).conversation
    assert (await esc.routing.route(conv.id)).queued
    assert await esc.routing.escalate(now=later(0.5)) == []
    [fired] = await esc.routing.escalate(now=later(2))
    assert (fired.rule, fired.actions) == ("long wait", ["priority:high"])
    assert fired.reason.startswith("waiting ")
    assert (await esc.conversations.get(conv.id)).priority is Priority.HIGH
    assert await esc.routing.escalate(now=later(5)) == []  # once per conversation
    events = (await esc.events.list(limit=500)).items
    assert [e.rule for e in events if isinstance(e, ConversationEscalated)] == ["long wait"]


async def test_an_angry_customer_goes_to_the_supervisor(esc: AsyncChatKit) -> None:
    boss = await esc.agents.create(name="Boss", email="boss@example.com", max_concurrent_chats=2)
    conv = (await esc.messages.receive(channel="web", sender="v1", text="terrible")).conversation
    await esc.routing.set_mood(conv.id, -0.2)
    assert await esc.routing.escalate() == []
    await esc.routing.set_mood(conv.id, -0.9)
    [fired] = await esc.routing.escalate()
    assert fired.actions == [f"reassigned:{boss.id}"]
    assert (await esc.conversations.get(conv.id)).assignee_id == boss.id
    assert (await esc.agents.get(boss.id)).active_chats == 1
    with pytest.raises(InvalidInputError):
        await esc.routing.set_mood(conv.id, -3)


async def test_a_legal_topic_moves_team_and_opens_a_ticket(esc: AsyncChatKit) -> None:
    await esc.teams.create("legal")
    conv = (await esc.messages.receive(channel="web", sender="v1", text="lawyer")).conversation
    await esc.routing.route(conv.id, topic="legal")
    [fired] = await esc.routing.escalate()
    assert fired.actions[:2] == ["team:legal", "mode:ticket"]
    assert fired.actions[2].startswith("ticket:")
    fresh = await esc.conversations.get(conv.id)
    assert fresh.team == "legal"
    assert fresh.waiting
    tickets = (await esc.tickets.list_open()).items
    assert [t.conversation_id for t in tickets] == [conv.id]


async def test_vip_customers_and_racing_escalators(esc: AsyncChatKit) -> None:
    ada = await esc.contacts.create(name="Ada", attributes={"vip": True})
    conv = await esc.conversations.create(contact_id=ada.id)
    results = await asyncio.gather(esc.routing.escalate(), esc.routing.escalate())
    fired = [f for batch in results for f in batch]
    assert [(f.rule, f.conversation.id) for f in fired] == [("vip", conv.id)]
    assert (await esc.conversations.get(conv.id)).priority is Priority.URGENT


def test_rules_are_validated() -> None:
    with pytest.raises(ValidationError, match="no condition"):
        EscalationRule(name="nothing", raise_priority_to="high")
    with pytest.raises(ValidationError, match="negative"):
        EscalationRule(name="neg", waiting_longer_than=timedelta(seconds=-1))
    with pytest.raises(ValidationError, match="exclude"):
        EscalationRule(name="both", vip=True, reassign_to="ag_1", move_to_team="x")
    with pytest.raises(ValidationError):
        EscalationRule(name="mood", mood_below=-2)
