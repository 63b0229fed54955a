"""The real-time layer against a real uvicorn server and real WebSocket clients."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("websockets")

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chatkit import AsyncChatKit, ChatKit, ChatKitSettings
from chatkit.events import ConversationCreated, MessageCreated
from chatkit.models import Author, Conversation, Message, MessageKind
from chatkit.services.previews import TypingPreview
from chatkit.web import AgentPrincipal, CustomerPrincipal, WebSettings
from chatkit.web.policy import RECEIVING
from chatkit.web.realtime import (
    CLOSE_BAD_FRAME,
    CLOSE_SLOW_CONSUMER,
    CLOSE_UNAUTHENTICATED,
    ReceivePolicy,
    realtime_hub,
)

from .services import drop_schema, fresh_schema, postgres_or_skip, redis_or_skip
from .webserver import serve

pytestmark = pytest.mark.anyio

SHOP = "https://shop.example"
EVIL = "https://evil.example"


@dataclass
class Live:
    kit: AsyncChatKit
    url: str
    http: httpx.AsyncClient
    site_key: str
    agent_id: str
    agent_token: str
    app: Any

    @property
    def ws(self) -> str:
        return self.url.replace("http://", "ws://") + "/v1/realtime"

    async def session(self) -> tuple[str, str]:
        """A new customer: (session token, conversation id) after their first message."""
        started = await self.http.post(
            "/v1/sessions", json={"website_key": self.site_key}, headers={"origin": SHOP}
        )
        assert started.status_code == 201, started.text
        token = started.json()["token"]
        sent = await self.http.post(
            "/v1/messages",
            json={"text": "hello"},
            headers={"authorization": f"Bearer {token}", "origin": SHOP},
        )
        assert sent.status_code == 201, sent.text
        conversation_id = sent.json()["conversation_id"]
        return token, conversation_id

    async def customer_says(self, token: str, conversation_id: str, text: str) -> None:
        sent = await self.http.post(
            f"/v1/conversations/{conversation_id}/messages",
            json={"text": text},
            headers={"authorization": f"Bearer {token}", "origin": SHOP},
        )
        assert sent.status_code == 201, sent.text

    async def route_to_agent(self, conversation_id: str) -> None:
        await self.kit.conversations.assign(conversation_id, self.agent_id, team="support")


async def _start(kit: AsyncChatKit, settings: WebSettings | None = None) -> AsyncIterator[Live]:
    site = await kit.websites.create("Shop", origins=[SHOP], typing_previews=True)
    await kit.teams.create("support")
    agent = await kit.agents.create(name="Ana", teams=["support"], max_concurrent_chats=50)
    _, secret = await kit.agents.create_token(agent.id)
    web = settings or WebSettings(
        rate_limits={"new_session": "1000/h", "new_conversation": "1000/h", "message": "10000/min"}
    )
    app = kit.asgi(web)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        yield Live(kit, url, http, site.public_key, agent.id, secret, app)


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    settings = ChatKitSettings(event_poll_interval=0.05)
    async with AsyncChatKit("memory://", settings=settings) as kit:
        async for value in _start(kit):
            yield value


async def _open(live: Live, token: str, *, after: int | None = None, **kw: Any) -> ClientConnection:
    """Connect and authenticate with a first frame (customers from the shop's origin)."""
    origin = SHOP if token.startswith("cks_") else None
    ws = await connect(live.ws, origin=origin, **kw)  # type: ignore[arg-type]
    auth: dict[str, Any] = {"type": "auth", "token": token}
    if after is not None:
        auth["after"] = after
    await ws.send(json.dumps(auth))
    return ws


async def _until(
    ws: ClientConnection,
    kind: str,
    *,
    timeout: float = 5.0,
    seen: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Read frames until one of type ``kind`` (frames read on the way go to ``seen``)."""
    async with asyncio.timeout(timeout):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            assert set(frame) == {"type", "position", "data"}
            if seen is not None:
                seen.append(frame)
            if frame["type"] == kind:
                return frame


async def _close_code(ws: ClientConnection, *, timeout: float = 5.0) -> int | None:
    """Read until the server closes; the code it sent."""
    try:
        async with asyncio.timeout(timeout):
            async for _ in ws:
                pass
    except ConnectionClosed:
        pass
    assert ws.close_code is not None, "the server did not close"
    return ws.close_code


async def _quiet(ws: ClientConnection, seconds: float = 0.5) -> list[dict[str, Any]]:
    """Every frame that arrives within ``seconds`` (pings aside)."""
    frames = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] != "ping":
                    frames.append(frame)
    except TimeoutError:
        return frames


async def test_customer_receives_the_agents_reply_and_never_a_note(live: Live) -> None:
    token, conv = await live.session()
    await live.route_to_agent(conv)
    async with await _open(live, token) as ws:
        ready = await _until(ws, "ready")
        assert ready["data"]["principal"]["kind"] == "customer"
        await live.kit.messages.note(conv, "internal: VIP", agent_id=live.agent_id)
        await live.kit.messages.send(conv, "How can I help?", author=Author.agent(live.agent_id))
        frame = await _until(ws, "message.created")
        assert frame["data"]["message"]["text"] == "How can I help?"
        assert frame["data"]["message"]["author"] == "agent"
        assert frame["position"] > ready["position"]
        # The customer's view: no metadata, no agent-side fields.
        assert set(frame["data"]["message"]) == {
            "id",
            "conversation_id",
            "seq",
            "kind",
            "author",
            "text",
            "attachments",
            "created_at",
        }
        rest = await _quiet(ws)
        assert all("internal" not in json.dumps(f) for f in rest)


async def test_agent_receives_the_customers_message_and_typing(live: Live) -> None:
    token, conv = await live.session()
    await live.route_to_agent(conv)
    async with await _open(live, live.agent_token) as agent:
        ready = await _until(agent, "ready")
        assert ready["data"]["principal"] == {
            "kind": "agent",
            "agent_id": live.agent_id,
            "role": "agent",
        }
        await live.customer_says(token, conv, "where is my order?")
        frame = await _until(agent, "message.created")
        assert frame["data"]["message"]["text"] == "where is my order?"
        assert frame["data"]["conversation_id"] == conv
        typed = await live.http.post(
            f"/v1/conversations/{conv}/typing",
            json={"draft": "and one more th"},
            headers={"authorization": f"Bearer {token}", "origin": SHOP},
        )
        assert typed.status_code == 204, typed.text
        preview = await _until(agent, "typing")
        assert preview["position"] is None
        assert preview["data"]["text"] == "and one more th"


async def test_another_customer_receives_nothing_of_it(live: Live) -> None:
    token, conv = await live.session()
    other_token, other_conv = await live.session()
    await live.route_to_agent(conv)
    async with await _open(live, other_token) as other, await _open(live, token) as me:
        await _until(other, "ready")
        await _until(me, "ready")
        await live.customer_says(token, conv, "secret order 1234")
        await live.kit.messages.send(conv, "on its way", author=Author.agent(live.agent_id))
        await live.kit.conversations.add_tags(conv, "vip")
        await live.kit.previews.send(conv, "typing 1234", author=Author.agent(live.agent_id))
        seen: list[dict[str, Any]] = []
        await _until(me, "message.created", seen=seen)
        await _until(me, "message.created", seen=seen)
        assert [f["data"]["message"]["text"] for f in seen if f["type"] == "message.created"] == [
            "secret order 1234",
            "on its way",
        ]
        assert not [
            f for f in await _quiet(me) if f["type"] in ("typing", "conversation.tags_changed")
        ]
        leaked = await _quiet(other, 1.0)
        assert all(f["data"].get("conversation_id") in (None, other_conv) for f in leaked), leaked
        assert "1234" not in json.dumps(leaked)


async def test_a_merged_contacts_customer_follows_the_survivor(live: Live) -> None:
    token, conv = await live.session()
    _, other_conv = await live.session()
    await live.route_to_agent(other_conv)
    mine = (await live.kit.conversations.get(conv)).contact_id
    survivor = (await live.kit.conversations.get(other_conv)).contact_id
    async with await _open(live, token) as ws:
        await _until(ws, "ready")
        await live.kit.contacts.merge(survivor, mine)
        await live.kit.messages.send(other_conv, "merged reply", author=Author.agent(live.agent_id))
        frame = await _until(ws, "message.created")
        assert frame["data"]["message"]["text"] == "merged reply"


async def test_an_agent_of_another_team_receives_nothing(live: Live) -> None:
    token, conv = await live.session()
    await live.route_to_agent(conv)
    await live.kit.teams.create("sales")
    outsider = await live.kit.agents.create(name="Sam", teams=["sales"])
    admin = await live.kit.agents.create(name="Root", role="admin")
    _, outsider_token = await live.kit.agents.create_token(outsider.id)
    _, admin_token = await live.kit.agents.create_token(admin.id)
    async with await _open(live, outsider_token) as sam, await _open(live, admin_token) as root:
        await _until(sam, "ready")
        await _until(root, "ready")
        await live.customer_says(token, conv, "only for support")
        assert (await _until(root, "message.created"))["data"]["message"]["text"] == (
            "only for support"
        )
        assert "only for support" not in json.dumps(await _quiet(sam))


async def test_a_transfer_moves_the_live_events_to_the_new_team(live: Live) -> None:
    token, conv = await live.session()
    await live.route_to_agent(conv)
    await live.kit.teams.create("sales")
    sam = await live.kit.agents.create(name="Sam", teams=["sales"])
    _, sam_token = await live.kit.agents.create_token(sam.id)
    async with await _open(live, live.agent_token) as ana, await _open(live, sam_token) as desk:
        await _until(ana, "ready")
        await _until(desk, "ready")
        await live.customer_says(token, conv, "before")
        assert (await _until(ana, "message.created"))["data"]["message"]["text"] == "before"
        await live.kit.conversations.assign(conv, sam.id, team="sales")
        await live.customer_says(token, conv, "after")
        assert (await _until(desk, "message.created"))["data"]["message"]["text"] == "after"
        assert '"after"' not in json.dumps(await _quiet(ana))


async def test_a_reassigned_agent_stops_receiving_the_conversation(live: Live) -> None:
    # No team: only the assignment lets Sam see it. The policy's cached lookups must
    # follow the reassignment, or Sam would keep receiving Kim's conversation.
    token, conv = await live.session()
    sam = await live.kit.agents.create(name="Sam")
    kim = await live.kit.agents.create(name="Kim")
    _, sam_token = await live.kit.agents.create_token(sam.id)
    _, kim_token = await live.kit.agents.create_token(kim.id)
    await live.kit.conversations.assign(conv, sam.id)
    async with await _open(live, sam_token) as s, await _open(live, kim_token) as k:
        await _until(s, "ready")
        await _until(k, "ready")
        await live.customer_says(token, conv, "first")
        assert (await _until(s, "message.created"))["data"]["message"]["text"] == "first"
        await live.kit.conversations.assign(conv, kim.id)
        await live.customer_says(token, conv, "second")
        assert (await _until(k, "message.created"))["data"]["message"]["text"] == "second"
        assert '"second"' not in json.dumps(await _quiet(s))


async def test_an_agent_taken_off_the_team_stops_receiving(live: Live) -> None:
    token, conv = await live.session()
    other = await live.kit.agents.create(name="Kim")
    await live.kit.conversations.assign(conv, other.id, team="support")
    async with await _open(live, live.agent_token) as ana:
        await _until(ana, "ready")
        await live.customer_says(token, conv, "for the team")
        assert (await _until(ana, "message.created"))["data"]["message"]["text"] == ("for the team")
        await live.kit.agents.update(live.agent_id, teams=[])
        await live.customer_says(token, conv, "not for Ana")
        await asyncio.sleep(0.3)  # the hub has fanned it out by now
        assert '"not for Ana"' not in json.dumps(await _quiet(ana))


async def test_one_event_reads_the_conversation_once_for_every_agent(live: Live) -> None:
    token, conv = await live.session()
    await live.route_to_agent(conv)
    tokens = [live.agent_token]
    for i in range(5):
        agent = await live.kit.agents.create(name=f"Agent {i}", teams=["support"])
        tokens.append((await live.kit.agents.create_token(agent.id))[1])
    sockets = [await _open(live, t) for t in tokens]
    try:
        for ws in sockets:
            await _until(ws, "ready")
        reads: list[str] = []
        conversations = live.kit.conversations
        real_get = conversations.get

        async def counted(conversation_id: str) -> Conversation:
            if RECEIVING.get():  # asked by the hub (not by the customer API's routes)
                reads.append(conversation_id)
            return await real_get(conversation_id)

        conversations.get = counted  # type: ignore[method-assign]
        try:
            for n in range(3):
                await live.customer_says(token, conv, f"m{n}")
            for ws in sockets:
                await _until(ws, "message.created")
                await _until(ws, "message.created")
                assert (await _until(ws, "message.created"))["data"]["message"]["text"] == "m2"
        finally:
            del conversations.get
        # Once for the hub's index of owners, once for the policy, then from memory:
        # not once per event and connection (six agents, three events: eighteen).
        assert 0 < len(reads) <= 3, reads
    finally:
        for ws in sockets:
            await ws.close()


async def test_the_assignee_and_the_customer_come_first_in_a_fan_out(live: Live) -> None:
    token, conv = await live.session()
    others = [await live.kit.agents.create(name=f"Agent {i}", teams=["support"]) for i in range(4)]
    tokens = [(await live.kit.agents.create_token(a.id))[1] for a in others]
    hub = realtime_hub(live.app.state.chatkit)
    sockets = [await _open(live, t) for t in tokens]
    sockets.append(await _open(live, live.agent_token))
    sockets.append(await _open(live, token))
    try:
        for ws in sockets:
            await _until(ws, "ready")
        await live.route_to_agent(conv)
        await live.customer_says(token, conv, "who first")
        page = await live.kit.events.list(after=0, limit=1000)
        event = [e for e in page.items if isinstance(e, MessageCreated)][-1]
        targets = await hub._targets(event)
        first, second = targets[0].principal, targets[1].principal
        assert isinstance(first, AgentPrincipal)
        assert first.agent_id == live.agent_id
        assert isinstance(second, CustomerPrincipal)
        assert len(targets) == 6
    finally:
        for ws in sockets:
            await ws.close()


async def test_an_idle_socket_holds_no_writer_task(live: Live) -> None:
    token, conv = await live.session()
    await live.route_to_agent(conv)
    hub = realtime_hub(live.app.state.chatkit)
    async with await _open(live, live.agent_token) as ws:
        await _until(ws, "ready")
        await live.customer_says(token, conv, "hi")
        await _until(ws, "message.created")
        (connection,) = hub.connections
        async with asyncio.timeout(2):
            while connection._writer is not None or connection.pending:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        # It still receives what comes next.
        await live.customer_says(token, conv, "again")
        assert (await _until(ws, "message.created"))["data"]["message"]["text"] == "again"


async def test_resume_after_a_disconnect_has_no_gap_and_no_duplicate(live: Live) -> None:
    token, conv = await live.session()
    await live.route_to_agent(conv)
    received: list[str] = []
    positions: list[int] = []

    async def read(ws: ClientConnection, until: str) -> None:
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if frame["type"] == "message.created":
                received.append(frame["data"]["message"]["text"])
                positions.append(frame["position"])
                if frame["data"]["message"]["text"] == until:
                    return

    async with await _open(live, token) as ws:
        await _until(ws, "ready")
        for i in range(5):
            await live.kit.messages.send(conv, f"a{i}", author=Author.agent(live.agent_id))
        await read(ws, "a4")
    last = positions[-1]
    # Written while the customer is away, some while it reconnects.
    for i in range(20):
        await live.kit.messages.send(conv, f"b{i}", author=Author.agent(live.agent_id))

    async def more() -> None:
        for i in range(20):
            await live.kit.messages.send(conv, f"c{i}", author=Author.agent(live.agent_id))
            await asyncio.sleep(0.005)

    writer = asyncio.create_task(more())
    async with await _open(live, token, after=last) as ws:
        await read(ws, "c19")
    await writer
    expected = [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(20)]
    expected += [f"c{i}" for i in range(20)]
    assert received == expected
    assert positions == sorted(set(positions))

    # The position may also come as a query parameter; nothing after it is lost.
    async with await connect(f"{live.ws}?after={positions[30]}", origin=SHOP) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "auth", "token": token}))
        seen: list[dict[str, Any]] = []
        await _until(ws, "ready", seen=seen)
        texts = [f["data"]["message"]["text"] for f in seen if f["type"] == "message.created"]
        assert texts == expected[31:]


async def test_a_slow_consumer_is_closed_with_4008(live: Live) -> None:
    token, conv = await live.session()
    await live.route_to_agent(conv)
    hub = realtime_hub(live.app.state.chatkit)
    ws = await _open(live, token, max_queue=1)
    try:
        await _until(ws, "ready")
        body = "x" * 9_000
        # The client reads nothing while far more than its buffer is written.
        for i in range(1000):
            await live.kit.messages.send(conv, f"{i} {body}", author=Author.agent(live.agent_id))
            if not hub.connections:
                break
        async with asyncio.timeout(10):
            while hub.connections:  # noqa: ASYNC110 - a set, no event to wait on
                await asyncio.sleep(0.05)
        assert await _close_code(ws, timeout=20) == CLOSE_SLOW_CONSUMER
    finally:
        await ws.close()


async def test_handshake_from_a_foreign_origin_is_refused(live: Live) -> None:
    token, _ = await live.session()
    with pytest.raises(InvalidStatus) as refused:
        await connect(live.ws, origin=EVIL)  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    # A bearer token on the handshake from a foreign origin: refused too.
    with pytest.raises(InvalidStatus):
        await connect(
            live.ws,
            origin=EVIL,  # type: ignore[arg-type]
            additional_headers={"authorization": f"Bearer {token}"},
        )
    # Known origin, handshake header auth works.
    async with await connect(
        live.ws,
        origin=SHOP,  # type: ignore[arg-type]
        additional_headers={"authorization": f"Bearer {token}"},
    ) as ws:
        assert (await _until(ws, "ready"))["data"]["principal"]["kind"] == "customer"


async def test_bad_tokens_and_frames_are_closed_with_codes(live: Live) -> None:
    async with await connect(live.ws, origin=SHOP) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "auth", "token": "cks_nothing"}))
        assert await _close_code(ws) == CLOSE_UNAUTHENTICATED
    async with await connect(live.ws, origin=SHOP) as ws:  # type: ignore[arg-type]
        await ws.send("not json")
        assert await _close_code(ws) == CLOSE_BAD_FRAME
    token, _ = await live.session()
    async with await _open(live, token) as ws:
        await _until(ws, "ready")
        await ws.send(json.dumps({"type": "ping"}))
        await _until(ws, "pong")
        for _ in range(150):  # a flood
            await ws.send(json.dumps({"type": "ping"}))
        assert await _close_code(ws) == CLOSE_BAD_FRAME


async def test_no_auth_frame_in_time_is_closed() -> None:
    settings = ChatKitSettings(event_poll_interval=0.05)
    async with AsyncChatKit("memory://", settings=settings) as kit:
        async for live in _start(kit, WebSettings(realtime_auth_seconds=0.3)):
            async with await connect(live.ws, origin=SHOP) as ws:  # type: ignore[arg-type]
                assert await _close_code(ws) == CLOSE_UNAUTHENTICATED


async def test_an_ended_session_is_closed_at_the_next_heartbeat() -> None:
    settings = ChatKitSettings(event_poll_interval=0.05)
    async with AsyncChatKit("memory://", settings=settings) as kit:
        async for live in _start(kit, WebSettings(realtime_ping_seconds=0.2)):
            token, _ = await live.session()
            async with await _open(live, token) as ws:
                await _until(ws, "ping", timeout=2)
                ended = await live.http.delete(
                    "/v1/sessions/current",
                    headers={"authorization": f"Bearer {token}", "origin": SHOP},
                )
                assert ended.status_code == 204
                assert await _close_code(ws) == CLOSE_UNAUTHENTICATED


async def test_an_ended_session_ends_its_event_stream_at_the_next_heartbeat() -> None:
    settings = ChatKitSettings(event_poll_interval=0.05)
    async with AsyncChatKit("memory://", settings=settings) as kit:
        async for live in _start(kit, WebSettings(realtime_ping_seconds=0.2)):
            token, _ = await live.session()
            headers = {"authorization": f"Bearer {token}", "origin": SHOP}

            async def read(response: httpx.Response) -> list[dict[str, Any]]:
                return [
                    json.loads(line[6:])
                    async for line in response.aiter_lines()
                    if line.startswith("data: ")
                ]

            async with live.http.stream("GET", "/v1/realtime/events", headers=headers) as stream:
                assert stream.status_code == 200
                ended = await live.http.delete("/v1/sessions/current", headers=headers)
                assert ended.status_code == 204
                frames = await asyncio.wait_for(read(stream), 5)  # the server ends the stream
            assert frames[-1] == {
                "type": "close",
                "position": None,
                "data": {"code": CLOSE_UNAUTHENTICATED},
            }


async def test_heartbeats_are_sent_to_idle_clients() -> None:
    settings = ChatKitSettings(event_poll_interval=0.05)
    async with AsyncChatKit("memory://", settings=settings) as kit:
        async for live in _start(kit, WebSettings(realtime_ping_seconds=0.2)):
            async with await _open(live, live.agent_token) as ws:
                await _until(ws, "ready")
                await _until(ws, "ping", timeout=2)
                await _until(ws, "ping", timeout=2)


async def test_the_hosts_hook_signs_agents_in_on_the_handshake() -> None:
    from starlette.requests import HTTPConnection

    from chatkit.web import AgentIdentity

    settings = ChatKitSettings(event_poll_interval=0.05)
    async with AsyncChatKit("memory://", settings=settings) as kit:
        site = await kit.websites.create("Shop", origins=[SHOP])
        await kit.teams.create("support")
        agent = await kit.agents.create(name="Ana", teams=["support"])

        async def hook(connection: HTTPConnection) -> AgentIdentity | None:
            name = connection.headers.get("x-agent")
            return AgentIdentity(agent_id=agent.id) if name == "ana" else None

        async with serve(kit.asgi(authenticate=hook)) as url, httpx.AsyncClient() as http:
            started = await http.post(
                f"{url}/v1/sessions",
                json={"website_key": site.public_key},
                headers={"origin": SHOP},
            )
            token = started.json()["token"]
            sent = await http.post(
                f"{url}/v1/messages",
                json={"text": "hi"},
                headers={"authorization": f"Bearer {token}", "origin": SHOP},
            )
            conv = sent.json()["conversation_id"]
            await kit.conversations.assign(conv, agent.id, team="support")
            ws_url = url.replace("http://", "ws://") + "/v1/realtime"
            async with (
                await connect(ws_url, additional_headers={"x-agent": "ana"}) as desk,
                await connect(ws_url, origin=SHOP) as widget,  # type: ignore[arg-type]
            ):
                await widget.send(json.dumps({"type": "auth", "token": token}))
                assert (await _until(desk, "ready"))["data"]["principal"]["agent_id"] == agent.id
                assert (await _until(widget, "ready"))["data"]["principal"]["kind"] == "customer"
                await kit.messages.send(conv, "hello from Ana", author=Author.agent(agent.id))
                for ws in (desk, widget):
                    frame = await _until(ws, "message.created")
                    assert frame["data"]["message"]["text"] == "hello from Ana"


async def test_server_sent_events_fallback(live: Live) -> None:
    token, conv = await live.session()
    await live.route_to_agent(conv)
    headers = {"authorization": f"Bearer {token}", "origin": SHOP}
    anonymous = await live.http.get("/v1/realtime/events")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthenticated"
    frames: list[dict[str, Any]] = []
    ids: list[str] = []

    async def read(response: httpx.Response, until: str) -> None:
        event_id = None
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                event_id = line[4:]
            if line.startswith("data: "):
                frame = json.loads(line[6:])
                frames.append(frame)
                if event_id is not None:
                    ids.append(event_id)
                event_id = None
                if frame["type"] == "message.created" and frame["data"]["message"]["text"] == until:
                    return

    async with live.http.stream("GET", "/v1/realtime/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["access-control-allow-origin"] == SHOP

        async def reply() -> None:
            await asyncio.sleep(0.3)
            await live.kit.messages.send(conv, "over SSE", author=Author.agent(live.agent_id))

        task = asyncio.create_task(reply())
        await asyncio.wait_for(read(response, "over SSE"), 5)
        await task
    assert [f["type"] for f in frames][:1] == ["ready"]
    last_id = ids[-1]
    await live.kit.messages.send(conv, "missed", author=Author.agent(live.agent_id))
    resumed = {**headers, "last-event-id": last_id}
    async with live.http.stream("GET", "/v1/realtime/events", headers=resumed) as response:
        frames.clear()
        await asyncio.wait_for(read(response, "missed"), 5)
    texts = [f["data"]["message"]["text"] for f in frames if f["type"] == "message.created"]
    assert texts == ["missed"]


async def test_connections_leave_the_hub_and_the_reader_stops(live: Live) -> None:
    token, _ = await live.session()
    hub = realtime_hub(live.app.state.chatkit)
    async with await _open(live, token) as ws:
        await _until(ws, "ready")
        assert len(hub.connections) == 1
        assert hub._tasks
    async with asyncio.timeout(5):
        while hub.connections or hub._tasks:  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.02)


async def test_customer_sees_queue_position() -> None:
    settings = ChatKitSettings(event_poll_interval=0.05)
    async with AsyncChatKit("memory://", settings=settings) as kit:
        async for live in _start(kit):
            token, conv = await live.session()
            _, other_conv = await live.session()
            await kit.routing.route(other_conv, team="support")
            await kit.routing.route(conv, team="support")
            async with await _open(live, token) as ws:
                place = await _until(ws, "queue.position")
                assert place["data"]["conversation_id"] == conv
                assert place["data"]["queued"] is True
                assert place["data"]["position"] == 2
                # The conversation ahead is answered: this one moves up.
                await kit.conversations.assign(other_conv, live.agent_id)
                place = await _until(ws, "queue.position")
                assert place["data"]["position"] == 1


def test_a_blocking_kit_on_postgresql_pushes_events() -> None:
    """A blocking kit's calls (and its outbox reader) run on its own loop, not uvicorn's."""
    import anyio

    server = postgres_or_skip()
    schema = fresh_schema()
    settings = ChatKitSettings(event_poll_interval=0.05)
    try:
        with ChatKit(f"{server}?schema={schema}&pool_max=4", settings=settings) as kit:
            site = kit.websites.create("Shop", origins=[SHOP])
            kit.teams.create("support")
            agent = kit.agents.create(name="Ana", teams=["support"])

            async def run() -> list[str]:
                async with serve(kit.asgi()) as url, httpx.AsyncClient(base_url=url) as http:
                    headers = {"origin": SHOP}
                    start = await http.post(
                        "/v1/sessions", json={"website_key": site.public_key}, headers=headers
                    )
                    token = start.json()["token"]
                    auth = {"authorization": f"Bearer {token}", **headers}
                    sent = await http.post("/v1/messages", json={"text": "hi"}, headers=auth)
                    conv = sent.json()["conversation_id"]
                    ws_url = url.replace("http://", "ws://") + "/v1/realtime"
                    texts = []
                    async with await connect(ws_url, origin=SHOP) as ws:  # type: ignore[arg-type]
                        await ws.send(json.dumps({"type": "auth", "token": token, "after": 0}))
                        seen: list[dict[str, Any]] = []
                        await _until(ws, "ready", seen=seen)
                        texts += [
                            f["data"]["message"]["text"]
                            for f in seen
                            if f["type"] == "message.created"
                        ]
                        await anyio.to_thread.run_sync(
                            lambda: kit.messages.send(
                                conv, "from the desk", author=Author.agent(agent.id)
                            )
                        )
                        frame = await _until(ws, "message.created")
                        texts.append(frame["data"]["message"]["text"])
                    return texts

            assert anyio.run(run) == ["hi", "from the desk"]
    finally:
        drop_schema(server, schema)


# -- the default receive policy, without a server ------------------------------------------


async def test_receive_policy_rules() -> None:
    async with AsyncChatKit("memory://") as kit:
        await kit.teams.create("support")
        ana = await kit.agents.create(name="Ana", teams=["support"])
        bob = await kit.agents.create(name="Bob", teams=["sales"])
        ada = await kit.contacts.create(name="Ada")
        eve = await kit.contacts.create(name="Eve")
        conv: Conversation = await kit.conversations.create(contact_id=ada.id, team="support")
        web = kit.asgi().state.chatkit
        policy = ReceivePolicy(web)
        note = await kit.messages.note(conv.id, "private", agent_id=ana.id)
        text = await kit.messages.send(conv.id, "hi", author=Author.customer(ada.id))
        events = (await kit.events.list(limit=500)).items
        by_message = {e.message.id: e for e in events if isinstance(e, MessageCreated)}
        created = next(e for e in events if isinstance(e, ConversationCreated))
        note_event, text_event = by_message[note.id], by_message[text.id]
        assert isinstance(note, Message)
        assert note.kind is MessageKind.NOTE
        customer = CustomerPrincipal(session_id="s", website_id="w", contact_id=ada.id)
        stranger = CustomerPrincipal(session_id="s2", website_id="w", contact_id=eve.id)
        agent = AgentPrincipal(agent_id=ana.id, role="agent")
        outsider = AgentPrincipal(agent_id=bob.id, role="agent")
        admin = AgentPrincipal(agent_id=bob.id, role="admin")
        preview = TypingPreview(
            conversation_id=conv.id, author=Author.agent(ana.id), text="x", at=note.created_at
        )
        assert await policy.can_receive(customer, text_event)
        assert await policy.can_receive(customer, created)
        assert not await policy.can_receive(customer, note_event)
        assert not await policy.can_receive(customer, preview)
        assert not await policy.can_receive(stranger, text_event)
        assert await policy.can_receive(agent, note_event)
        assert await policy.can_receive(agent, preview)
        assert not await policy.can_receive(outsider, text_event)
        assert not await policy.can_receive(outsider, preview)
        assert await policy.can_receive(admin, note_event)
        # Assigned to Bob: now he sees it although it is not his team's.
        await kit.conversations.assign(conv.id, bob.id)
        later = await kit.messages.send(conv.id, "again", author=Author.customer(ada.id))
        events = (await kit.events.list(limit=500)).items
        for event in events:  # as the hub does: the policy sees every event in order
            await policy.can_receive(admin, event)
        again = next(
            e for e in events if isinstance(e, MessageCreated) and e.message.id == later.id
        )
        assert await policy.can_receive(outsider, again)
        # A merged contact's customer sees the survivor's conversations.
        await kit.contacts.merge(ada.id, eve.id)
        merged_events = (await kit.events.list(limit=500)).items
        last = max(merged_events, key=lambda e: e.position or 0)
        await policy.can_receive(customer, last)  # drops the contact cache
        survivor = await kit.contacts.get(eve.id)
        assert await policy.can_receive(
            CustomerPrincipal(session_id="s", website_id="w", contact_id=eve.id), again
        ) is (survivor.id == ada.id)


# -- two processes, one store, Redis -----------------------------------------------------------

ROOT = str(Path(__file__).resolve().parents[1])
SERVER = textwrap.dedent(
    """
    import sys
    import uvicorn
    from chatkit import AsyncChatKit, ChatKit, ChatKitSettings

    url, transport, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    kit = AsyncChatKit(url, transport=transport, settings=ChatKitSettings(event_poll_interval=30))
    uvicorn.run(kit.asgi(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_up(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                if (await client.get(url + "/openapi.json")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


async def test_written_in_process_a_reaches_a_socket_in_process_b(tmp_path: Path) -> None:
    """Two uvicorn processes on one SQLite file, commit signals through Redis.

    The outbox poll interval is 30 s in both, so only the Redis signal can
    deliver the message within the test's few seconds.
    """
    redis_url = redis_or_skip()
    db = f"sqlite:///{tmp_path / 'chat.db'}"
    namespace = f"rt{os.getpid()}"
    transport = f"{redis_url}?namespace={namespace}"
    async with AsyncChatKit(db) as setup:
        site = await setup.websites.create("Shop", origins=[SHOP])
        await setup.teams.create("support")
        agent = await setup.agents.create(name="Ana", teams=["support"])
        _, agent_token = await setup.agents.create_token(agent.id)
    env = {**os.environ, "PYTHONPATH": ROOT}
    ports = [_free_port(), _free_port()]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", SERVER, db, transport, str(p), env=env
        )
        for p in ports
    ]
    try:
        a, b = (f"http://127.0.0.1:{p}" for p in ports)
        await _wait_up(a)
        await _wait_up(b)
        async with httpx.AsyncClient(base_url=a, headers={"origin": SHOP}) as http:
            started = await http.post("/v1/sessions", json={"website_key": site.public_key})
            token = started.json()["token"]
            auth = {"authorization": f"Bearer {token}"}
            first = await http.post("/v1/messages", json={"text": "hi"}, headers=auth)
            conv = first.json()["conversation_id"]
            async with AsyncChatKit(db) as kit:
                await kit.conversations.assign(conv, agent.id, team="support")
            ws_b = b.replace("http://", "ws://") + "/v1/realtime"
            async with await connect(ws_b) as ws:
                await ws.send(json.dumps({"type": "auth", "token": agent_token}))
                await _until(ws, "ready")
                sent = await http.post(
                    f"/v1/conversations/{conv}/messages", json={"text": "via A"}, headers=auth
                )
                assert sent.status_code == 201
                frame = await _until(ws, "message.created", timeout=5)
                assert frame["data"]["message"]["text"] == "via A"
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            await asyncio.wait_for(proc.wait(), 10)


async def test_the_first_request_freezes_the_objects_alive_then(live: Live) -> None:
    import gc

    from chatkit.web import middleware

    was = middleware._frozen
    gc.unfreeze()
    middleware._frozen = False
    try:
        assert gc.get_freeze_count() == 0
        await live.http.get("/v1/conversations")  # any request, answered or refused
        assert middleware._frozen
        assert gc.get_freeze_count() > 1000  # the modules, the app, the kit
        count = gc.get_freeze_count()
        await live.http.get("/v1/conversations")
        assert gc.get_freeze_count() <= count  # once per process (some may have been freed)
    finally:
        middleware._frozen = was


async def test_freeze_gc_can_be_turned_off() -> None:
    import gc

    from chatkit.web import middleware

    was = middleware._frozen
    gc.unfreeze()
    middleware._frozen = False
    try:
        async with AsyncChatKit("memory://") as kit:
            async for live in _start(kit, WebSettings(freeze_gc=False)):
                await live.http.get("/v1/conversations")
                assert gc.get_freeze_count() == 0
                assert not middleware._frozen
    finally:
        middleware._frozen = was
