"""What the agent console needs from the agent API, on a real uvicorn server.

Inbox rows (unread count, contact, last text, SLA clock, mood filter), prepared
and suggested canned replies, agents' attachments, blocking, the directory,
capacity and the supervisor overview; and the console's static files.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")

from chatkit import AsyncChatKit
from chatkit.models import Author
from chatkit.services._core import bump
from chatkit.stores.base import Update
from chatkit.web.console import CONSOLE_CSP

from .agentworld import World, build, hook
from .webserver import serve

pytestmark = pytest.mark.anyio


@pytest.fixture
async def served() -> AsyncIterator[tuple[World, httpx.AsyncClient]]:
    async with AsyncChatKit("memory://") as kit:
        app = kit.asgi(authenticate=hook(kit))
        async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=20) as http:
            yield await build(kit, http), http


async def _rows(http: httpx.AsyncClient, w: World, **params: Any) -> list[dict[str, Any]]:
    got = await http.get("/v1/agent/inbox/teams", params=params, headers=w.as_agent(w.ann))
    assert got.status_code == 200, got.text
    rows: list[dict[str, Any]] = got.json()["items"]
    return rows


async def test_inbox_rows_carry_unread_contact_last_text_and_mood(
    served: tuple[World, httpx.AsyncClient],
) -> None:
    w, http = served
    await w.kit.contacts.update(w.alice.contact_id, name="Alice")
    conv = await w.conversation(text="first")
    alice = Author.customer(w.alice.contact_id)
    await w.kit.messages.send(conv.id, "second", author=alice)
    (row,) = await _rows(http, w)
    assert row["id"] == conv.id
    assert row["unread"] == 2
    assert row["contact_name"] == "Alice"
    assert row["last_text"] == "second"
    assert row["sla_due_at"] is None
    assert row["waiting_since"]

    await w.kit.messages.send(conv.id, "on it", author=Author.agent(w.ann.id))
    await w.kit.messages.send(conv.id, "private", author=Author.agent(w.ann.id), kind="note")
    (row,) = await _rows(http, w)
    assert row["unread"] == 0
    assert row["last_text"] == "on it"  # never a private note
    await w.kit.messages.send(conv.id, "thanks", author=alice)
    (row,) = await _rows(http, w)
    assert row["unread"] == 1

    current = await w.kit.conversations.get(conv.id)
    await w.kit._core.commit([Update(bump(current, mood=-0.8))])
    assert [r["id"] for r in await _rows(http, w, mood="negative")] == [conv.id]
    assert await _rows(http, w, mood="positive") == []
    bad = await http.get(
        "/v1/agent/inbox/teams", params={"mood": "furious"}, headers=w.as_agent(w.ann)
    )
    assert bad.status_code == 422


async def test_prepared_canned_reply_is_filled_in_and_not_sent(
    served: tuple[World, httpx.AsyncClient],
) -> None:
    w, http = served
    await w.kit.contacts.update(w.alice.contact_id, name="Alice Archer")
    reply = await w.kit.canned.create(
        "/late", "Late order", "Sorry {{ contact.first_name | there }}, {{ agent.name }} here."
    )
    conv = await w.conversation()
    prepared = await http.post(
        f"/v1/agent/conversations/{conv.id}/canned/prepare",
        json={"shortcut": "/late"},
        headers=w.as_agent(w.ann),
    )
    assert prepared.status_code == 200, prepared.text
    assert prepared.json()["text"] == "Sorry Alice, Ann here."
    assert prepared.json()["id"] == reply.id
    assert (await w.kit.conversations.get(conv.id)).last_seq == conv.last_seq  # nothing sent
    assert (await w.kit.canned.get(reply.id)).usage_count == 0
    unknown = await http.post(
        f"/v1/agent/conversations/{conv.id}/canned/prepare",
        json={"shortcut": "/nope"},
        headers=w.as_agent(w.ann),
    )
    assert unknown.status_code == 404
    foreign = await http.post(
        f"/v1/agent/conversations/{conv.id}/canned/prepare",
        json={"shortcut": "/late"},
        headers=w.as_agent(w.bob),
    )
    assert foreign.status_code == 404


async def test_suggestions_follow_the_detected_intent(
    served: tuple[World, httpx.AsyncClient],
) -> None:
    w, http = served
    await w.kit.canned.create("/hello", "Hello", "Hello!")
    await w.kit.canned.create("/where", "Where is it", "It ships today.", intents=["order_status"])
    conv = await w.conversation(text="Where is my order 245-12784?")
    assert (await w.kit.conversations.get(conv.id)).intent == "order_status"
    got = await http.get(
        f"/v1/agent/conversations/{conv.id}/suggestions", headers=w.as_agent(w.ann)
    )
    assert got.status_code == 200, got.text
    assert got.json()[0]["shortcut"] == "/where"


async def test_agent_uploads_sends_and_downloads_attachments(
    served: tuple[World, httpx.AsyncClient],
) -> None:
    w, http = served
    conv = await w.conversation()
    up = await http.post(
        f"/v1/agent/conversations/{conv.id}/attachments",
        params={"name": "label.txt"},
        content=b"shipping label",
        headers={**w.as_agent(w.ann), "content-type": "application/octet-stream"},
    )
    assert up.status_code == 201, up.text
    sent = await http.post(
        f"/v1/agent/conversations/{conv.id}/messages",
        json={"text": "your label", "attachments": [up.json()["id"]]},
        headers=w.as_agent(w.ann),
    )
    assert sent.status_code == 201, sent.text
    assert [a["id"] for a in sent.json()["attachments"]] == [up.json()["id"]]
    path = f"/v1/agent/conversations/{conv.id}/attachments/{up.json()['id']}"
    got = await http.get(path, headers=w.as_agent(w.ann))
    assert got.status_code == 200
    assert got.content == b"shipping label"
    assert "sandbox" in got.headers["content-security-policy"]
    # the customer gets it through the customer API too
    mine = await http.get(
        f"/v1/conversations/{conv.id}/attachments/{up.json()['id']}",
        headers=w.as_customer(w.alice_token),
    )
    assert mine.status_code == 200
    assert (await http.get(path, headers=w.as_agent(w.bob))).status_code == 404
    other = await w.conversation()
    wrong = f"/v1/agent/conversations/{other.id}/attachments/{up.json()['id']}"
    assert (await http.get(wrong, headers=w.as_agent(w.ann))).status_code == 404


async def test_block_directory_and_capacity(served: tuple[World, httpx.AsyncClient]) -> None:
    w, http = served
    conv = await w.conversation()
    blocked = await http.post(f"/v1/agent/conversations/{conv.id}/block", headers=w.as_agent(w.ann))
    assert blocked.status_code == 200, blocked.text
    assert (await w.kit.contacts.get(w.alice.contact_id)).blocked

    directory = await http.get("/v1/agent/directory", headers=w.as_agent(w.bob))
    assert directory.status_code == 200
    assert directory.json()["teams"] == ["billing", "sales"]
    assert [a["name"] for a in directory.json()["agents"]] == ["Ada", "Ann", "Bob", "Carl", "Sue"]

    set_to = await http.put(
        "/v1/agent/me/capacity", json={"max_concurrent_chats": 7}, headers=w.as_agent(w.ann)
    )
    assert set_to.status_code == 200
    assert (await w.kit.agents.get(w.ann.id)).max_concurrent_chats == 7
    bad = await http.put(
        "/v1/agent/me/capacity", json={"max_concurrent_chats": 0}, headers=w.as_agent(w.ann)
    )
    assert bad.status_code == 422
    assert (await w.kit.agents.get(w.ann.id)).max_concurrent_chats == 7


async def test_overview_for_supervisors_and_admins_only(
    served: tuple[World, httpx.AsyncClient],
) -> None:
    w, http = served
    await w.conversation()  # waiting: open, unassigned, the customer wrote last
    assigned = await w.conversation()
    await w.kit.conversations.assign(assigned.id, w.ann.id)
    await w.kit.messages.send(assigned.id, "hello", author=Author.agent(w.ann.id))
    pending = await w.conversation()
    await w.kit.conversations.set_status(pending.id, "pending")
    await w.conversation(team="sales")

    refused = await http.get("/v1/agent/overview", headers=w.as_agent(w.ann))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"

    sue = await http.get("/v1/agent/overview", headers=w.as_agent(w.sue))
    assert sue.status_code == 200, sue.text
    queues = {q["team"]: q for q in sue.json()["queues"]}
    assert list(queues) == ["billing"]  # her teams only
    assert queues["billing"] == {
        "team": "billing",
        "open": 2,
        "unattended": 1,
        "unassigned": 1,
        "pending": 1,
    }
    assert {a["name"] for a in sue.json()["agents"]} == {"Ann", "Sue", "Carl"}

    ada = await http.get("/v1/agent/overview", headers=w.as_agent(w.ada))
    assert ada.status_code == 200
    queues = {q["team"]: q for q in ada.json()["queues"]}
    assert queues["sales"]["open"] == 1
    assert len(ada.json()["agents"]) == 5


async def test_console_files_are_served_with_a_strict_csp(
    served: tuple[World, httpx.AsyncClient],
) -> None:
    _, http = served
    page = await http.get("/console/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONSOLE_CSP
    assert "'unsafe-inline'" not in CONSOLE_CSP
    assert "<script" in page.text
    assert "<script>" not in page.text  # no inline script
    assert "style=" not in page.text
    for name in ("app.js", "api.js", "dom.js", "realtime.js"):
        script = await http.get(f"/console/{name}")
        assert script.headers["content-type"].startswith("text/javascript")
        assert script.headers["content-security-policy"] == CONSOLE_CSP
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in script.text, (name, sink)
    assert (await http.get("/console/console.css")).status_code == 200
    moved = await http.get("/console", follow_redirects=False)
    assert moved.status_code == 308
    for bad in ("../agent.py", "..%2Fagent.py", "nope.js", "app.py", "%2e%2e/app.js"):
        assert (await http.get(f"/console/{bad}")).status_code == 404, bad


async def test_inbox_row_shows_the_sla_clock_of_an_open_ticket() -> None:
    from datetime import timedelta

    from chatkit import ChatKitSettings
    from chatkit.sla import SLAPolicy

    policy = SLAPolicy(name="standard", first_response=timedelta(hours=1))
    settings = ChatKitSettings(sla_policies=(policy,))
    async with AsyncChatKit("memory://", settings=settings) as kit:
        app = kit.asgi(authenticate=hook(kit))
        async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=20) as http:
            w = await build(kit, http)
            conv = await w.conversation()
            (row,) = await _rows(http, w)
            assert row["sla_due_at"] is None
            opened = await http.post(
                f"/v1/agent/conversations/{conv.id}/tickets",
                json={"subject": "Lost parcel"},
                headers=w.as_agent(w.ann),
            )
            assert opened.status_code == 201, opened.text
            ticket = await kit.tickets.get(opened.json()["id"])
            assert ticket.sla is not None
            assert ticket.sla.first_response is not None
            (row,) = await _rows(http, w)
            assert row["sla_due_at"] is not None
            due = ticket.sla.first_response.due_at
            assert due is not None
            assert row["sla_due_at"].replace("Z", "+00:00").startswith(due.isoformat()[:19])


def test_console_ships_in_the_package() -> None:
    from importlib import resources

    folder = resources.files("chatkit.web").joinpath("static", "console")
    names = {p.name for p in folder.iterdir()}
    assert {"index.html", "app.js", "api.js", "dom.js", "realtime.js", "console.css"} <= names
