"""A small support team and two customers, for the agent API and authorization tests.

Teams ``billing`` and ``sales``; agents Ann (billing), Bob (sales), Sue
(supervisor of billing), Ada (admin, no team), Carl (billing, Sue's report);
customers Alice and Mallory, each with a customer session of the website.
The app authenticates agents by an ``X-Agent`` header (the host's hook),
with the role stored on the agent.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from starlette.requests import HTTPConnection

from chatkit import AsyncChatKit
from chatkit.errors import NotFoundError
from chatkit.models import Agent, Author, Conversation, Website
from chatkit.web import AgentIdentity, AgentPrincipal, CustomerPrincipal


@dataclass
class World:
    kit: AsyncChatKit
    site: Website
    ann: Agent
    bob: Agent
    sue: Agent
    ada: Agent
    carl: Agent
    alice_token: str
    alice: CustomerPrincipal
    mallory_token: str
    mallory: CustomerPrincipal

    def as_agent(self, agent: Agent) -> dict[str, str]:
        return {"x-agent": agent.id}

    def principal(self, agent: Agent) -> AgentPrincipal:
        return AgentPrincipal(agent_id=agent.id, role=agent.role.value)

    def as_customer(self, token: str) -> dict[str, str]:
        return {"authorization": f"Bearer {token}"}

    async def conversation(
        self, *, team: str | None = "billing", text: str = "Where is my parcel?"
    ) -> Conversation:
        """A new conversation of Alice's (with one message from her)."""
        conv = await self.kit.conversations.create(contact_id=self.alice.contact_id, team=team)
        await self.kit.messages.send(conv.id, text, author=Author.customer(self.alice.contact_id))
        return await self.kit.conversations.get(conv.id)


def hook(kit: AsyncChatKit):  # type: ignore[no-untyped-def]
    """The host's authentication: ``X-Agent: <agent id>``; the role is the agent's."""

    async def authenticate(connection: HTTPConnection) -> AgentIdentity | None:
        agent_id = connection.headers.get("x-agent")
        if not agent_id:
            return None
        try:
            agent = await kit.agents.get(agent_id)
        except NotFoundError:
            return None
        return AgentIdentity(agent_id=agent.id, role=agent.role.value)

    return authenticate


async def build(kit: AsyncChatKit, http: httpx.AsyncClient) -> World:
    """Create the team and the customers' sessions through the running app ``http`` talks to."""
    await kit.teams.create("billing")
    await kit.teams.create("sales")
    ann = await kit.agents.create(name="Ann", teams=["billing"], max_concurrent_chats=20)
    bob = await kit.agents.create(name="Bob", teams=["sales"], max_concurrent_chats=20)
    sue = await kit.agents.create(name="Sue", teams=["billing"], role="supervisor")
    ada = await kit.agents.create(name="Ada", role="admin", max_concurrent_chats=20)
    carl = await kit.agents.create(name="Carl", teams=["billing"], max_concurrent_chats=20)
    site = await kit.websites.create("Shop", typing_previews=True)
    sessions = []
    for _ in range(2):
        started = await http.post("/v1/sessions", json={"website_key": site.public_key})
        assert started.status_code == 201, started.text
        sessions.append(started.json())
    alice, mallory = sessions
    return World(
        kit=kit,
        site=site,
        ann=ann,
        bob=bob,
        sue=sue,
        ada=ada,
        carl=carl,
        alice_token=alice["token"],
        alice=CustomerPrincipal(
            session_id=alice["session_id"],
            website_id=site.id,
            contact_id=alice["contact_id"],
        ),
        mallory_token=mallory["token"],
        mallory=CustomerPrincipal(
            session_id=mallory["session_id"],
            website_id=site.id,
            contact_id=mallory["contact_id"],
        ),
    )
