"""The agent API on a real uvicorn server: every route's happy path, agent tokens, the policy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")

from chatkit import AsyncChatKit
from chatkit.models import Author, Channel
from chatkit.models._base import utcnow
from chatkit.services._core import bump
from chatkit.services.previews import TypingPreview
from chatkit.stores.base import Update
from chatkit.web import DefaultPolicy, Policy, WebContext, WebSettings

from .agentworld import World, build, hook
from .webserver import serve

pytestmark = pytest.mark.anyio


@pytest.fixture
async def kit() -> AsyncIterator[AsyncChatKit]:
    async with AsyncChatKit("memory://") as k:
        yield k


@pytest.fixture
async def served(kit: AsyncChatKit) -> AsyncIterator[tuple[World, httpx.AsyncClient]]:
    app = kit.asgi(authenticate=hook(kit))
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=20) as http:
        yield await build(kit, http), http


def _ids(body: dict[str, Any]) -> list[str]:
    return [c["id"] for c in body["items"]]


async def test_me_presence_and_heartbeat(served: tuple[World, httpx.AsyncClient]) -> None:
    w, http = served
    me = await http.get("/v1/agent/me", headers=w.as_agent(w.ann))
    assert me.status_code == 200
    assert me.json()["id"] == w.ann.id
    assert me.json()["teams"] == ["billing"]
    assert me.json()["role"] == "agent"
    assert me.json()["presence"] == "offline"

    sue = (await http.get("/v1/agent/me", headers=w.as_agent(w.sue))).json()
    assert sue["role"] == "supervisor"

    set_to = await http.put(
        "/v1/agent/me/presence", json={"presence": "available"}, headers=w.as_agent(w.ann)
    )
    assert set_to.status_code == 200, set_to.text
    assert set_to.json()["presence"] == "available"
    beat = await http.post("/v1/agent/me/heartbeat", headers=w.as_agent(w.ann))
    assert beat.status_code == 200
    assert beat.json()["status"] == "available"
    assert (await w.kit.agents.get(w.ann.id)).heartbeat_at is not None

    bad = await http.put(
        "/v1/agent/me/presence", json={"presence": "dancing"}, headers=w.as_agent(w.ann)
    )
    assert bad.status_code == 422
    assert (await w.kit.agents.get(w.ann.id)).presence.value == "available"


async def test_inbox_views_filters_and_order(served: tuple[World, httpx.AsyncClient]) -> None:
    w, http = served
    older = await w.conversation(text="first")
    mine = await w.conversation(text="second")
    newer = await w.conversation(text="third")
    sales = await w.conversation(team="sales")
    await w.kit.conversations.assign(mine.id, w.ann.id)
    await w.kit.conversations.add_tags(newer.id, "vip")
    await w.kit.conversations.set_priority(older.id, "high")
    resolved = await w.conversation()
    await w.kit.conversations.resolve(resolved.id)
    core = w.kit._core
    current = await w.kit.conversations.get(newer.id)
    await core.commit([Update(bump(current, language="ko-KR", channel=Channel.EMAIL))])
    ann = w.as_agent(w.ann)

    async def view(name: str, headers: dict[str, str] = ann, **params: Any) -> list[str]:
        got = await http.get(f"/v1/agent/inbox/{name}", params=params, headers=headers)
        assert got.status_code == 200, got.text
        assert got.json()["view"] == name
        return _ids(got.json())

    assert await view("teams") == [older.id, mine.id, newer.id]  # waiting longest first
    assert await view("mine") == [mine.id]
    assert await view("unassigned") == [older.id, newer.id]
    assert await view("all") == [older.id, mine.id, newer.id]
    assert sales.id not in await view("all")
    assert sales.id in await view("all", w.as_agent(w.ada))
    assert await view("teams", w.as_agent(w.bob)) == [sales.id]
    assert await view("teams", tag="VIP") == [newer.id]
    assert await view("teams", priority="high") == [older.id]
    assert await view("teams", channel="email") == [newer.id]
    assert await view("teams", language="ko") == [newer.id]
    assert await view("teams", status="resolved") == [resolved.id]
    assert set(await view("teams", status=["open", "resolved"])) == {
        older.id,
        mine.id,
        newer.id,
        resolved.id,
    }
    limited = await http.get("/v1/agent/inbox/teams", params={"limit": 1}, headers=ann)
    assert _ids(limited.json()) == [older.id]
    assert limited.json()["total"] == 3
    unknown = await http.get("/v1/agent/inbox/everything", headers=ann)
    assert unknown.status_code == 422


async def test_conversation_with_context(served: tuple[World, httpx.AsyncClient]) -> None:
    w, http = served
    conv = await w.conversation()
    await w.kit.messages.send(conv.id, "VIP, be nice", author=Author.agent(w.ann.id), kind="note")
    ticket = await w.kit.tickets.create(subject="Lost parcel", conversation_id=conv.id)
    current = await w.kit.conversations.get(conv.id)
    await w.kit._core.commit([Update(bump(current, intent="order_status", mood=-0.5))])
    got = await http.get(f"/v1/agent/conversations/{conv.id}", headers=w.as_agent(w.ann))
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["context"]["conversation"]["id"] == conv.id
    assert body["context"]["contact"]["id"] == w.alice.contact_id
    assert [m["text"] for m in body["context"]["history"]] == [
        "Where is my parcel?",
        "VIP, be nice",
    ]
    assert [m["text"] for m in body["context"]["notes"]] == ["VIP, be nice"]
    assert [t["id"] for t in body["context"]["open_tickets"]] == [ticket.id]
    assert body["bot_summary"] is None
    assert (body["intent"], body["mood"]) == ("order_status", -0.5)


async def test_reply_and_private_note(served: tuple[World, httpx.AsyncClient]) -> None:
    w, http = served
    conv = await w.conversation()
    ann = w.as_agent(w.ann)
    sent = await http.post(
        f"/v1/agent/conversations/{conv.id}/messages",
        json={"text": "On its way!", "idempotency_key": "r-1"},
        headers=ann,
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["author"] == {"role": "agent", "id": w.ann.id}
    again = await http.post(
        f"/v1/agent/conversations/{conv.id}/messages",
        json={"text": "On its way!", "idempotency_key": "r-1"},
        headers=ann,
    )
    assert again.json()["id"] == sent.json()["id"]
    noted = await http.post(
        f"/v1/agent/conversations/{conv.id}/notes", json={"text": "check DHL"}, headers=ann
    )
    assert noted.status_code == 201
    assert noted.json()["kind"] == "note"

    history = await http.get(
        f"/v1/conversations/{conv.id}/messages", headers=w.as_customer(w.alice_token)
    )
    texts = [m["text"] for m in history.json()["items"]]
    assert texts == ["Where is my parcel?", "On its way!"]  # the note never reaches Alice

    empty = await http.post(
        f"/v1/agent/conversations/{conv.id}/messages", json={"text": ""}, headers=ann
    )
    assert empty.status_code == 422
    assert len((await w.kit.messages.list(conv.id)).items) == 3


async def test_canned_replies(served: tuple[World, httpx.AsyncClient]) -> None:
    w, http = served
    await w.kit.canned.create("/greet", "Greeting", "Hello, I am {{agent.first_name}}.")
    await w.kit.canned.create("/bye", "Goodbye", "Bye!")
    conv = await w.conversation()
    ann = w.as_agent(w.ann)
    listed = await http.get("/v1/agent/canned", params={"q": "/gr"}, headers=ann)
    assert [r["shortcut"] for r in listed.json()] == ["/greet"]
    every = await http.get("/v1/agent/canned", headers=ann)
    assert [r["shortcut"] for r in every.json()] == ["/bye", "/greet"]
    sent = await http.post(
        f"/v1/agent/conversations/{conv.id}/canned", json={"shortcut": "/greet"}, headers=ann
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["text"].endswith("I am Ann.")
    assert (await w.kit.canned.find("/greet")).usage_count == 1
    missing = await http.post(
        f"/v1/agent/conversations/{conv.id}/canned", json={"shortcut": "/nope"}, headers=ann
    )
    assert missing.status_code == 404


async def test_assign_transfer_snooze_resolve_priority_tags_ticket(
    served: tuple[World, httpx.AsyncClient],
) -> None:
    w, http = served
    conv = await w.conversation()
    ann = w.as_agent(w.ann)
    base = f"/v1/agent/conversations/{conv.id}"

    assigned = await http.post(f"{base}/assign", json={"agent_id": w.ann.id}, headers=ann)
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["assignee_id"] == w.ann.id

    prio = await http.put(f"{base}/priority", json={"priority": "urgent"}, headers=ann)
    assert prio.json()["priority"] == "urgent"
    tagged = await http.post(f"{base}/tags", json={"add": ["VIP", "parcel"]}, headers=ann)
    assert tagged.json()["tags"] == ["parcel", "vip"]
    untagged = await http.post(f"{base}/tags", json={"remove": ["parcel"]}, headers=ann)
    assert untagged.json()["tags"] == ["vip"]

    ticket = await http.post(
        f"{base}/tickets", json={"subject": "Refund", "priority": "high"}, headers=ann
    )
    assert ticket.status_code == 201, ticket.text
    assert ticket.json()["conversation_id"] == conv.id
    assert ticket.json()["team"] == "billing"

    until = (utcnow() + timedelta(hours=2)).isoformat()
    snoozed = await http.post(f"{base}/snooze", json={"until": until}, headers=ann)
    assert snoozed.json()["status"] == "snoozed"
    past = await http.post(
        f"{base}/snooze", json={"until": (utcnow() - timedelta(hours=1)).isoformat()}, headers=ann
    )
    assert past.status_code == 422
    reopened = await http.post(f"{base}/reopen", headers=ann)
    assert reopened.json()["status"] == "open"
    resolved = await http.post(f"{base}/resolve", headers=ann)
    assert resolved.json()["status"] == "resolved"
    await http.post(f"{base}/reopen", headers=ann)

    nobody = await http.post(f"{base}/assign", json={"agent_id": "agent_nope"}, headers=ann)
    assert nobody.status_code == 422
    no_team = await http.post(f"{base}/assign", json={"team": "nope"}, headers=ann)
    assert no_team.status_code == 422
    assert (await w.kit.conversations.get(conv.id)).assignee_id == w.ann.id

    # Transfer to sales with a note: Bob sees it now, Ann no longer does.
    moved = await http.post(
        f"{base}/assign",
        json={"agent_id": w.bob.id, "team": "sales", "note": "Billing is fine, over to sales"},
        headers=ann,
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["assignee_id"], moved.json()["team"]) == (w.bob.id, "sales")
    notes = (await w.kit.conversations.context(conv.id)).notes
    assert [n.text for n in notes] == ["Billing is fine, over to sales"]
    assert (await http.get(base, headers=ann)).status_code == 404
    assert (await http.get(base, headers=w.as_agent(w.bob))).status_code == 200

    # A refused transfer (Sue holds her one chat already) moves nothing and leaves no note.
    first, second = await w.conversation(), await w.conversation()
    await w.kit.conversations.assign(first.id, w.sue.id)
    full = await http.post(
        f"/v1/agent/conversations/{second.id}/assign",
        json={"agent_id": w.sue.id, "note": "yours, Sue"},
        headers=ann,
    )
    assert full.status_code == 409, full.text
    assert (await w.kit.conversations.get(second.id)).assignee_id is None
    notes = (await w.kit.conversations.context(second.id)).notes
    assert [n for n in notes if n.conversation_id == second.id] == []


async def test_live_typing_preview(served: tuple[World, httpx.AsyncClient]) -> None:
    w, http = served
    conv = await w.conversation()
    ann = w.as_agent(w.ann)
    url = f"/v1/agent/conversations/{conv.id}/typing"
    quiet = await http.get(url, params={"wait": 0.2}, headers=ann)
    assert quiet.status_code == 204

    waiting = asyncio.create_task(http.get(url, params={"wait": 10}, headers=ann))
    await asyncio.sleep(0.3)
    typed = await http.post(
        f"/v1/conversations/{conv.id}/typing",
        json={"draft": "my order number is"},
        headers=w.as_customer(w.alice_token),
    )
    assert typed.status_code == 204, typed.text
    preview = await waiting
    assert preview.status_code == 200, preview.text
    assert preview.json()["text"] == "my order number is"
    assert preview.json()["author"]["role"] == "customer"


async def test_agent_api_tokens(served: tuple[World, httpx.AsyncClient]) -> None:
    w, http = served
    token, secret = await w.kit.agents.create_token(w.sue.id, name="console")
    me = await http.get("/v1/agent/me", headers={"authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    assert (me.json()["id"], me.json()["role"]) == (w.sue.id, "supervisor")
    await w.kit.agents.revoke_token(token.id)
    revoked = await http.get("/v1/agent/me", headers={"authorization": f"Bearer {secret}"})
    assert revoked.status_code == 401
    assert revoked.json()["error"]["code"] == "unauthenticated"
    unknown = await http.get("/v1/agent/me", headers={"authorization": "Bearer ckat_nope"})
    assert unknown.status_code == 401


async def test_default_policy_rules(served: tuple[World, httpx.AsyncClient]) -> None:
    w, _ = served
    policy = DefaultPolicy(WebContext(w.kit, WebSettings()))
    assert isinstance(policy, Policy)
    billing = await w.conversation()
    carls = await w.conversation(team=None)
    await w.kit.conversations.assign(carls.id, w.carl.id)
    sales = await w.conversation(team="sales")
    carls = await w.kit.conversations.get(carls.id)

    async def sees(who: Any, conv: Any) -> bool:
        return await policy.can_see(who, conv)

    assert await sees(w.principal(w.ann), billing)
    assert not await sees(w.principal(w.ann), carls)  # not her team, not hers
    assert not await sees(w.principal(w.ann), sales)
    assert await sees(w.principal(w.carl), carls)  # assigned to him
    assert await sees(w.principal(w.sue), carls)  # her report's
    assert not await sees(w.principal(w.sue), sales)
    assert not await sees(w.principal(w.bob), billing)
    assert await sees(w.principal(w.bob), sales)
    for conv in (billing, carls, sales):
        assert await sees(w.principal(w.ada), conv)
        assert await sees(w.alice, conv)
        assert not await sees(w.mallory, conv)
    assert await policy.can_act(w.alice, billing, "reply")
    assert not await policy.can_act(w.alice, billing, "note")
    assert not await policy.can_act(w.alice, billing, "assign")
    assert await policy.can_act(w.principal(w.ann), billing, "assign")

    # A merged contact's conversations are the survivor's.
    other = await w.kit.contacts.create(name="Alice, elsewhere")
    old = await w.kit.conversations.create(contact_id=other.id, team="billing")
    await w.kit.contacts.merge(w.alice.contact_id, other.id)
    old = await w.kit.conversations.get(old.id)
    assert await sees(w.alice, old)
    assert not await sees(w.mallory, old)

    # Typing previews reach the agents who see the conversation, never a customer.
    preview = TypingPreview(
        conversation_id=billing.id,
        author=Author.customer(w.alice.contact_id),
        text="hi",
        at=utcnow(),
    )
    assert await policy.can_receive(w.principal(w.ann), preview)
    assert not await policy.can_receive(w.principal(w.bob), preview)
    assert not await policy.can_receive(w.alice, preview)


async def test_a_custom_policy_plugs_in(kit: AsyncChatKit) -> None:
    class NoTransfers(DefaultPolicy):
        async def can_act(self, principal: Any, conversation: Any, action: Any) -> bool:
            if action == "assign" and getattr(principal, "role", None) == "agent":
                return False
            return await super().can_act(principal, conversation, action)

    app = kit.asgi(authenticate=hook(kit), policy=NoTransfers)
    assert isinstance(app.state.chatkit.policy, NoTransfers)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        w = await build(kit, http)
        conv = await w.conversation()
        refused = await http.post(
            f"/v1/agent/conversations/{conv.id}/assign",
            json={"agent_id": w.ann.id},
            headers=w.as_agent(w.ann),
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        assert (await kit.conversations.get(conv.id)).assignee_id is None
        by_sue = await http.post(
            f"/v1/agent/conversations/{conv.id}/assign",
            json={"agent_id": w.ann.id},
            headers=w.as_agent(w.sue),
        )
        assert by_sue.status_code == 200
