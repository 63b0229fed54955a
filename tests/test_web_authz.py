"""The authorization matrix on a real uvicorn server: every route and every event type.

Every route of the app (enumerated from the app itself, so a new route is
covered here or fails this test) is called anonymously, as another
customer, as an agent of another team, and as the right principal: the
wrong ones get 401, 403 or 404 and write nothing; the right one gets 2xx.
Every event type of `chatkit.events` goes through the policy's
`can_receive` for the same principals.
"""

from __future__ import annotations

import asyncio
import typing
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest

pytest.importorskip("fastapi")

from fastapi.routing import APIRoute, APIWebSocketRoute

from chatkit import AsyncChatKit, SMTPSettings
from chatkit.events import Event
from chatkit.models import Author, Conversation, MessageKind
from chatkit.web import CUSTOMER_EVENTS, TEAM_EVENTS, DefaultPolicy, WebContext, WebSettings

from .agentworld import World, build, hook
from .webserver import serve

pytestmark = pytest.mark.anyio

Kind = Literal["agent", "supervisor", "customer", "public", "stream"]


@dataclass
class Target:
    """What one call is about: Alice's conversation in billing, and what the call sends."""

    conversation: Conversation
    path: dict[str, str]
    json: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    content: bytes | None = None


Prepare = Callable[[World], Awaitable[Target]]


async def _conversation(w: World, **body: Any) -> Target:
    conv = await w.conversation()
    return Target(conv, {"conversation_id": conv.id}, **body)


def _with(**body: Any) -> Prepare:
    async def prepare(w: World) -> Target:
        return await _conversation(w, **body)

    return prepare


async def _attachment(w: World) -> Target:
    target = await _conversation(w)
    conv = target.conversation
    attachment = await w.kit.attachments.upload(
        conv.id, b"parcel receipt", name="receipt.txt", author=Author.customer(conv.contact_id)
    )
    await w.kit.messages.send(
        conv.id,
        "the receipt",
        author=Author.customer(conv.contact_id),
        attachments=[attachment.id],
    )
    target.path["attachment_id"] = attachment.id
    return target


async def _survey(w: World) -> Target:
    target = await _conversation(w)
    await w.kit.conversations.resolve(target.conversation.id)
    survey = await w.kit.surveys.send(target.conversation.id)
    answers: dict[str, Any] = {}
    for question in survey.form.questions:
        if question.high is not None:
            answers[question.id] = question.high
        elif getattr(question, "choices", None):
            answers[question.id] = question.choices[0]  # type: ignore[attr-defined]
        else:
            answers[question.id] = "fine"
    target.path["survey_id"] = survey.id
    target.json = {"answers": answers}
    return target


async def _stranger(w: World) -> Target:
    """A conversation of a contact of its own in billing (blocking it leaves Alice alone)."""
    contact = await w.kit.contacts.create(name="Stranger")
    conv = await w.kit.conversations.create(contact_id=contact.id, team="billing")
    await w.kit.messages.send(conv.id, "hello?", author=Author.customer(contact.id))
    return Target(conv, {"conversation_id": conv.id})


_FUTURE = "2999-01-01T00:00:00+00:00"

# Every route of the app: who it is for, and a call the right principal makes.
# A route missing here fails `test_every_route_is_in_the_matrix`: add it.
ROUTES: dict[tuple[str, str], tuple[Kind, Prepare]] = {
    # The public entry points: a website key, no caller yet.
    ("POST", "/v1/sessions"): ("public", _with()),
    ("POST", "/v1/offline-messages"): ("public", _with()),
    # Messaging providers' webhooks: authenticated by the provider's signature
    # (tests/test_channels_twilio.py), not by sessions or agent tokens.
    ("POST", "/channels/{name}/{path:path}"): ("public", _with()),
    ("GET", "/channels/{name}/{path:path}"): ("public", _with()),
    # The real-time event stream (SSE): any signed-in caller gets a never-ending stream of
    # what it may see (per-event authorization: test_can_receive_matrix and
    # tests/test_web_realtime.py); here only the refusal of anonymous callers.
    ("GET", "/v1/realtime/events"): ("stream", _with()),
    # The customer API.
    ("DELETE", "/v1/sessions/current"): ("customer", _with()),
    ("PUT", "/v1/sessions/current/analytics"): (
        "customer",
        _with(json={"analytics_consent": {"analytics": True}}),
    ),
    ("GET", "/v1/conversations"): ("customer", _with()),
    ("GET", "/v1/conversations/{conversation_id}"): ("customer", _with()),
    ("GET", "/v1/conversations/{conversation_id}/messages"): ("customer", _with()),
    ("POST", "/v1/messages"): ("customer", _with(json={"text": "hello again"})),
    ("POST", "/v1/conversations/{conversation_id}/messages"): (
        "customer",
        _with(json={"text": "more"}),
    ),
    ("POST", "/v1/conversations/{conversation_id}/attachments"): (
        "customer",
        _with(params={"name": "note.txt"}, content=b"hello file"),
    ),
    ("GET", "/v1/conversations/{conversation_id}/attachments/{attachment_id}"): (
        "customer",
        _attachment,
    ),
    ("POST", "/v1/conversations/{conversation_id}/typing"): (
        "customer",
        _with(json={"draft": "my ord"}),
    ),
    ("GET", "/v1/conversations/{conversation_id}/bot"): ("customer", _with()),
    ("GET", "/v1/conversations/{conversation_id}/surveys"): ("customer", _with()),
    ("POST", "/v1/surveys/{survey_id}/answers"): ("customer", _survey),
    ("GET", "/v1/conversations/{conversation_id}/queue"): ("customer", _with()),
    # The agent API.
    ("GET", "/v1/agent/me"): ("agent", _with()),
    ("PUT", "/v1/agent/me/presence"): ("agent", _with(json={"presence": "away"})),
    ("POST", "/v1/agent/me/heartbeat"): ("agent", _with()),
    ("GET", "/v1/agent/inbox/{view}"): ("agent", _with()),
    ("GET", "/v1/agent/canned"): ("agent", _with()),
    ("GET", "/v1/agent/conversations/{conversation_id}"): ("agent", _with()),
    ("POST", "/v1/agent/conversations/{conversation_id}/messages"): (
        "agent",
        _with(json={"text": "on its way"}),
    ),
    ("POST", "/v1/agent/conversations/{conversation_id}/notes"): (
        "agent",
        _with(json={"text": "check the carrier"}),
    ),
    ("POST", "/v1/agent/conversations/{conversation_id}/canned"): (
        "agent",
        _with(json={"shortcut": "/hello"}),
    ),
    ("POST", "/v1/agent/conversations/{conversation_id}/assign"): (
        "agent",
        _with(json={"agent_id": None, "note": "anyone?"}),
    ),
    ("POST", "/v1/agent/conversations/{conversation_id}/snooze"): (
        "agent",
        _with(json={"until": _FUTURE}),
    ),
    ("POST", "/v1/agent/conversations/{conversation_id}/resolve"): ("agent", _with()),
    ("POST", "/v1/agent/conversations/{conversation_id}/reopen"): ("agent", _with()),
    ("PUT", "/v1/agent/conversations/{conversation_id}/priority"): (
        "agent",
        _with(json={"priority": "high"}),
    ),
    ("POST", "/v1/agent/conversations/{conversation_id}/tags"): (
        "agent",
        _with(json={"add": ["vip"]}),
    ),
    ("POST", "/v1/agent/conversations/{conversation_id}/tickets"): (
        "agent",
        _with(json={"subject": "Refund"}),
    ),
    ("GET", "/v1/agent/conversations/{conversation_id}/typing"): (
        "agent",
        _with(params={"wait": 0}),
    ),
    ("POST", "/v1/agent/conversations/{conversation_id}/typing"): (
        "agent",
        _with(json={"typing": True}),
    ),
    ("PUT", "/v1/agent/me/capacity"): ("agent", _with(json={"max_concurrent_chats": 5})),
    ("POST", "/v1/agent/conversations/{conversation_id}/attachments"): (
        "agent",
        _with(params={"name": "label.txt"}, content=b"shipping label"),
    ),
    ("GET", "/v1/agent/conversations/{conversation_id}/attachments/{attachment_id}"): (
        "agent",
        _attachment,
    ),
    ("POST", "/v1/agent/conversations/{conversation_id}/canned/prepare"): (
        "agent",
        _with(json={"shortcut": "/hello"}),
    ),
    ("GET", "/v1/agent/conversations/{conversation_id}/suggestions"): ("agent", _with()),
    ("POST", "/v1/agent/conversations/{conversation_id}/block"): ("agent", _stranger),
    ("GET", "/v1/agent/directory"): ("agent", _with()),
    # Supervisors and administrators only: a plain agent gets 403.
    ("GET", "/v1/agent/overview"): ("supervisor", _with()),
    # The agent console's static files (they hold no data; its API calls authenticate).
    ("GET", "/console"): ("public", _with()),
    ("GET", "/console/"): ("public", _with()),
    ("GET", "/console/{name}"): ("public", _with()),
    # The chat widget (chatkit/web/widget.py): its public files and configuration,
    # who is answering, and the transcript by e-mail.
    ("GET", "/widget/loader.js"): ("public", _with()),
    ("GET", "/widget/frame.js"): ("public", _with()),
    ("GET", "/widget/frame.css"): ("public", _with()),
    ("GET", "/widget/frame.html"): ("public", _with()),
    ("GET", "/widget/i18n/{lang}.json"): ("public", _with()),
    ("GET", "/widget/config"): ("public", _with()),
    ("GET", "/v1/conversations/{conversation_id}/agent"): ("customer", _with()),
    ("POST", "/v1/conversations/{conversation_id}/transcript"): (
        "customer",
        _with(json={"email": "alice@example.com"}),
    ),
    # Reports: supervisors of the team asked for, and admins (an agent is refused with 403).
    **{
        ("GET", f"/v1/agent/reports/{name}"): ("supervisor", _with(params={"team": "billing"}))
        for name in ("summary", "heatmap", "trend", "mood", "sla", "staffing")
    },
}

# Routes about the caller alone (no id of anyone else's): another customer or
# agent calling them acts on their own data, so only anonymous callers and
# the other kind of principal are refused; listings must not show the victim.
SELF_SCOPED = {
    ("DELETE", "/v1/sessions/current"),
    ("PUT", "/v1/sessions/current/analytics"),
    ("GET", "/v1/conversations"),
    ("POST", "/v1/messages"),
    ("GET", "/v1/agent/me"),
    ("PUT", "/v1/agent/me/presence"),
    ("POST", "/v1/agent/me/heartbeat"),
    ("GET", "/v1/agent/inbox/{view}"),
    ("GET", "/v1/agent/canned"),
    ("PUT", "/v1/agent/me/capacity"),
    ("GET", "/v1/agent/directory"),
    ("GET", "/v1/agent/overview"),
}

VIEWS = ("mine", "unassigned", "teams", "all")


@pytest.fixture
async def kit() -> AsyncIterator[AsyncChatKit]:
    async with AsyncChatKit("memory://") as k:
        yield k


def _flat(routes: list[Any]) -> list[Any]:
    """Every route, also those of included routers (newer FastAPI keeps them nested)."""
    found = []
    for route in routes:
        nested = getattr(route, "original_router", None)
        found += _flat(nested.routes) if nested is not None else [route]
    return found


def _routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every HTTP route of ``app``, and of every operation its OpenAPI lists."""
    found = []
    for route in _flat(app.routes):
        if isinstance(route, APIRoute):
            found += [(m, route.path) for m in sorted(route.methods - {"HEAD"})]
    for path, operations in app.openapi()["paths"].items():
        found += [(m.upper(), path) for m in operations if (m.upper(), path) not in found]
    return found


def test_every_route_is_in_the_matrix() -> None:
    app = AsyncChatKit("memory://").asgi()
    missing = [r for r in _routes(app) if r not in ROUTES]
    assert not missing, f"add these routes to the authorization matrix: {missing}"
    assert len(_routes(app)) >= 30


async def _snapshot(w: World, conv: Conversation) -> tuple[int, dict[str, Any], int]:
    store = await w.kit._core.ready()
    current = await w.kit.conversations.get(conv.id)
    messages = await w.kit.messages.list(conv.id, limit=200)
    return await store.last_position(), current.model_dump(), len(messages.items)


class _Inbox:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


async def test_authorization_matrix(kit: AsyncChatKit) -> None:
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mail = Controller(_Inbox(), hostname="127.0.0.1", port=port)
    mail.start()
    smtp = SMTPSettings(host="127.0.0.1", port=port, sender="help@example.com", starttls=False)
    try:
        await _matrix(kit, smtp)
    finally:
        mail.stop()


async def _matrix(kit: AsyncChatKit, smtp: SMTPSettings) -> None:
    app = kit.asgi(WebSettings(smtp=smtp), authenticate=hook(kit))
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=20) as http:
        w = await build(kit, http)
        await kit.canned.create("/hello", "Hello", "Hello!")
        alice = w.as_customer(w.alice_token)
        callers: dict[str, dict[str, str]] = {
            "anonymous": {},
            "another customer": w.as_customer(w.mallory_token),
            "an agent of another team": w.as_agent(w.bob),
        }
        matrix: list[tuple[str, str, str, int]] = []
        for method, path in _routes(app):
            kind, prepare = ROUTES[(method, path)]
            if kind == "public":
                continue
            if kind == "stream":
                anonymous = await http.request(method, path)
                matrix.append((method, path, "anonymous", anonymous.status_code))
                assert anonymous.status_code == 401, (method, path, anonymous.text)
                continue
            target = await prepare(w)
            views = VIEWS if "{view}" in path else (None,)
            for view in views:
                values = {**target.path, "view": view or ""}
                concrete = path.format(**values)

                async def call(
                    headers: dict[str, str],
                    concrete: str = concrete,
                    target: Target = target,
                    method: str = method,
                ) -> httpx.Response:
                    return await http.request(
                        method,
                        concrete,
                        headers=headers,
                        json=target.json,
                        params=target.params,
                        content=target.content,
                    )

                for who, headers in callers.items():
                    before = await _snapshot(w, target.conversation)
                    response = await call(headers)
                    matrix.append((method, concrete, who, response.status_code))
                    same_kind = (kind == "customer" and who == "another customer") or (
                        kind in ("agent", "supervisor") and who == "an agent of another team"
                    )
                    if (method, path) in SELF_SCOPED and same_kind:
                        # Their own data: never the victim's.
                        assert target.conversation.id not in response.text, (method, path, who)
                        if method == "DELETE":  # Mallory ended her own session: start another
                            started = await http.post(
                                "/v1/sessions", json={"website_key": w.site.public_key}
                            )
                            callers[who] = w.as_customer(started.json()["token"])
                        continue
                    assert response.status_code in (401, 403, 404), (
                        method,
                        concrete,
                        who,
                        response.status_code,
                        response.text,
                    )
                    if kind == "supervisor" and who == "an agent of another team":
                        assert response.status_code == 403, (method, concrete, who)
                    elif who == "anonymous" or not same_kind:
                        assert response.status_code == 401, (method, concrete, who)
                    else:
                        assert response.status_code == 404, (method, concrete, who)
                    assert response.json()["error"]["code"] in (
                        "unauthenticated",
                        "forbidden",
                        "not_found",
                    )
                    # A foreign id is told apart from an unknown one by nothing but itself.
                    assert target.conversation.contact_id not in response.text
                    assert "Where is my parcel?" not in response.text
                    assert await _snapshot(w, target.conversation) == before, (method, path, who)

                right = alice if kind == "customer" else w.as_agent(w.ann)
                if kind == "supervisor":
                    refused_agent = await call(w.as_agent(w.ann))
                    assert refused_agent.status_code == 403, (method, concrete)
                    right = w.as_agent(w.sue)
                response = await call(right)
                matrix.append((method, concrete, "the right principal", response.status_code))
                assert 200 <= response.status_code < 300, (method, concrete, response.text)
                if (method, path) == ("DELETE", "/v1/sessions/current"):  # start again
                    started = await http.post(
                        "/v1/sessions", json={"website_key": w.site.public_key}
                    )
                    w.alice_token = started.json()["token"]
                    alice = w.as_customer(w.alice_token)
                    w.alice = w.alice.model_copy(
                        update={
                            "contact_id": started.json()["contact_id"],
                            "session_id": started.json()["session_id"],
                        }
                    )
        refused = [m for m in matrix if m[2] != "the right principal"]
        print(_table(matrix))
        assert len(refused) >= 3 * 30
        assert all(status < 300 for *_, status in matrix if _[2] == "the right principal")

        # Every WebSocket route refuses an anonymous handshake.
        sockets = [r for r in _flat(app.routes) if isinstance(r, APIWebSocketRoute)]
        conv = await w.conversation()
        for route in sockets:
            await _refuses_anonymous_socket(url, route.path.format(conversation_id=conv.id))


async def _refuses_anonymous_socket(url: str, path: str) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    outcome: object
    try:
        async with connect(url.replace("http", "ws") + path) as socket:
            # A message is a leak; silence ends with a close once the auth frame is overdue.
            outcome = await asyncio.wait_for(socket.recv(), 15)
    except InvalidStatus as refused:
        outcome = refused.response.status_code
    except ConnectionClosed as closed:
        outcome = closed.rcvd.code if closed.rcvd is not None else None
    refused_codes = (401, 403, 404, 1008)
    assert isinstance(outcome, int), f"an anonymous socket on {path} got {outcome!r}"
    assert outcome in refused_codes or outcome >= 4000, (path, outcome)


# -- events ------------------------------------------------------------------------


def _event_types() -> list[type[Any]]:
    union = typing.get_args(Event)[0]
    return list(typing.get_args(union))


def _event(kind: type[Any], w: World, conv: Conversation, *, scoped: bool = True) -> Any:
    """An event of type ``kind`` about Alice's conversation (fields the policy reads)."""
    fields: dict[str, Any] = {
        "conversation_id": conv.id if scoped else None,
        "contact_id": conv.contact_id,
    }
    type_name = kind.model_fields["type"].default
    if type_name == "message.created":
        fields["message"] = _message(conv, MessageKind.TEXT)
    if type_name.startswith("agent.token"):
        fields["agent_id"] = w.ann.id
    if type_name.startswith("notification."):
        fields["recipient_kind"] = "agent"
        fields["recipient_id"] = w.ann.id
    if type_name.startswith("ticket."):
        fields["ticket_id"] = "tkt_victim"
    return kind.model_construct(**fields)


def _message(conv: Conversation, kind: MessageKind) -> Any:
    from chatkit.models import Message

    return Message.model_construct(
        conversation_id=conv.id,
        seq=1,
        kind=kind,
        author=Author.customer(conv.contact_id),
        text="hi",
    )


async def test_every_event_type_through_can_receive(kit: AsyncChatKit) -> None:
    app = kit.asgi(authenticate=hook(kit))
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=20) as http:
        w = await build(kit, http)
        policy = DefaultPolicy(WebContext(kit, WebSettings()))
        conv = await w.conversation()
        ticket = await kit.tickets.create(subject="Refund", conversation_id=conv.id)
        types = _event_types()
        assert len(types) >= 50
        names = {t.model_fields["type"].default for t in types}
        assert names >= CUSTOMER_EVENTS
        assert names >= TEAM_EVENTS

        for kind in types:
            name = kind.model_fields["type"].default
            for scoped in (True, False):
                event = _event(kind, w, conv, scoped=scoped)
                if name.startswith("ticket."):
                    event = _event(kind, w, conv, scoped=scoped).model_copy(
                        update={"ticket_id": ticket.id}
                    )
                    if name in ("ticket.created", "ticket.updated"):
                        event = event.model_copy(update={"ticket": ticket})
                label = (name, scoped)
                # Another customer never receives anything of Alice's.
                assert not await policy.can_receive(w.mallory, event), label
                # An agent of another team receives only the team-wide events.
                assert await policy.can_receive(w.principal(w.bob), event) == (
                    name in TEAM_EVENTS
                ), label
                # The admin receives everything.
                assert await policy.can_receive(w.principal(w.ada), event), label
                if scoped:
                    # Alice receives the customer-facing events of her conversation.
                    assert await policy.can_receive(w.alice, event) == (name in CUSTOMER_EVENTS), (
                        label
                    )
                    # Ann, of the conversation's team, receives all of its events.
                    assert await policy.can_receive(w.principal(w.ann), event), label
                else:
                    assert not await policy.can_receive(w.alice, event), label

        # Private notes never reach a customer; agents of the team get them.
        note = _event(_kind("message.created"), w, conv).model_copy(
            update={"message": _message(conv, MessageKind.NOTE)}
        )
        assert not await policy.can_receive(w.alice, note)
        assert await policy.can_receive(w.principal(w.ann), note)
        # Events about a contact reach the agents who see one of their conversations.
        contact = _event(_kind("contact.updated"), w, conv, scoped=False)
        assert await policy.can_receive(w.principal(w.ann), contact)
        assert await policy.can_receive(w.principal(w.sue), contact)
        # Tickets reach their team; privileged events without a conversation only supervisors.
        ticket_event = _event(_kind("ticket.status_changed"), w, conv, scoped=False)
        ticket_event = ticket_event.model_copy(update={"ticket_id": ticket.id})
        assert await policy.can_receive(w.principal(w.ann), ticket_event)
        abuse = _event(_kind("abuse.incident_recorded"), w, conv, scoped=False)
        assert not await policy.can_receive(w.principal(w.ann), abuse)
        assert await policy.can_receive(w.principal(w.sue), abuse)


def _kind(name: str) -> type[Any]:
    return next(t for t in _event_types() if t.model_fields["type"].default == name)


def _table(matrix: list[tuple[str, str, str, int]]) -> str:
    """The matrix as text: one line per route, the status each caller got."""
    rows: dict[tuple[str, str], dict[str, int]] = {}
    for method, path, who, status in matrix:
        rows.setdefault((method, path.split("?")[0]), {})[who] = status
    lines = []
    for (method, path), got in rows.items():
        cells = " ".join(f"{who.split()[-1]}={status}" for who, status in got.items())
        lines.append(f"{method:6} {path[:70]:70} {cells}")
    return "\n".join(lines)
