from __future__ import annotations

import pytest

from chatkit import AsyncChatKit, Author

pytestmark = pytest.mark.anyio


async def test_customer_agent_round_trip(kit: AsyncChatKit) -> None:
    inbound = await kit.messages.receive(channel="web", sender="visitor-1", text="Hello")
    agent = await kit.agents.create(name="Mia")
    reply = await kit.messages.send(
        inbound.conversation.id, "Hi there", author=Author.agent(agent.id)
    )
    page = await kit.messages.list(inbound.conversation.id)
    assert [m.text for m in page.items] == ["Hello", "Hi there"]
    assert [m.seq for m in page.items] == [1, 2]
    assert reply.seq == 2
