"""The customer API against a real uvicorn server on 127.0.0.1 (httpx over real sockets)."""

from __future__ import annotations

import secrets
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")

from chatkit import AsyncChatKit, Author, ChatKit, ChatKitSettings
from chatkit.hours import BusinessHours
from chatkit.models import Message, Ticket, WebSession
from chatkit.models._base import utcnow
from chatkit.ratelimit import RateLimit
from chatkit.services._core import bump
from chatkit.settings import AttachmentLimits
from chatkit.stores.base import Update
from chatkit.web import WebSettings, identity_hash

from .services import drop_schema, fresh_schema, postgres_or_skip, redis_or_skip
from .webserver import serve

pytestmark = pytest.mark.anyio

SHOP = "https://shop.example"


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"\x00\xff\x00\x00\x00\xff\x00"
    ihdr = struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@dataclass
class Chat:
    kit: AsyncChatKit
    http: httpx.AsyncClient
    site_key: str
    site_id: str

    async def session(self, **body: Any) -> dict[str, Any]:
        response = await self.http.post(
            "/v1/sessions", json={"website_key": self.site_key, **body}, headers={"origin": SHOP}
        )
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    async def customer(self) -> httpx.AsyncClient:
        token = (await self.session())["token"]
        return httpx.AsyncClient(
            base_url=str(self.http.base_url),
            headers={"authorization": f"Bearer {token}", "origin": SHOP},
        )

    async def count(self, kind: type[Any]) -> int:
        return await self.kit.store.count(kind, {})


@pytest.fixture
async def chat() -> AsyncIterator[Chat]:
    settings = ChatKitSettings(
        event_poll_interval=0.05, attachments=AttachmentLimits(max_bytes=64 * 1024)
    )
    async with AsyncChatKit("memory://", settings=settings) as kit:
        site = await kit.websites.create("Shop", origins=[SHOP], typing_previews=True)
        web = WebSettings(
            max_body_bytes=16 * 1024,
            rate_limits={"new_session": RateLimit(50, 3600)},
        )
        async with serve(kit.asgi(web)) as url, httpx.AsyncClient(base_url=url) as http:
            yield Chat(kit, http, site.public_key, site.id)


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["request_id"] == response.headers["x-request-id"]
    return error


async def test_send_read_and_page_a_conversation(chat: Chat) -> None:
    async with await chat.customer() as me:
        sent = await me.post("/v1/messages", json={"text": "Hi, my parcel is late"})
        assert sent.status_code == 201, sent.text
        first = sent.json()
        assert first["new_conversation"] is True
        conv_id = first["conversation_id"]
        assert first["message"]["author"] == "customer"
        assert first["message"]["text"] == "Hi, my parcel is late"

        again = await me.post("/v1/messages", json={"text": "Order 245"})
        assert again.json()["conversation_id"] == conv_id
        assert again.json()["new_conversation"] is False

        # An agent's reply and a private note: the customer sees the reply only.
        agent = await chat.kit.agents.create(name="Sam", email="sam@example.com")
        await chat.kit.messages.send(conv_id, "On it!", author=Author.agent(agent.id))
        await chat.kit.messages.note(conv_id, "VIP, be nice", agent_id=agent.id)

        listed = await me.get("/v1/conversations")
        assert [c["id"] for c in listed.json()["items"]] == [conv_id]

        history = (await me.get(f"/v1/conversations/{conv_id}/messages")).json()
        texts = [m["text"] for m in history["items"]]
        assert "On it!" in texts
        assert "Hi, my parcel is late" in texts
        assert "VIP, be nice" not in texts
        assert history["next_after"] is None

        page = (await me.get(f"/v1/conversations/{conv_id}/messages?limit=1")).json()
        assert len(page["items"]) == 1
        after = page["items"][0]["seq"]
        assert page["next_after"] == after
        rest = (await me.get(f"/v1/conversations/{conv_id}/messages?after={after}")).json()
        assert all(m["seq"] > after for m in rest["items"])

        reply = await me.post(f"/v1/conversations/{conv_id}/messages", json={"text": "Thanks"})
        assert reply.status_code == 201, reply.text
        assert reply.json()["conversation_id"] == conv_id
        one = await me.get(f"/v1/conversations/{conv_id}")
        assert one.json()["status"] == "open"


async def test_sending_is_idempotent(chat: Chat) -> None:
    async with await chat.customer() as me:
        key = {"idempotency-key": "msg-1"}
        first = await me.post("/v1/messages", json={"text": "Hello"}, headers=key)
        second = await me.post("/v1/messages", json={"text": "Hello"}, headers=key)
        assert first.status_code == second.status_code == 201
        assert first.json()["message"]["id"] == second.json()["message"]["id"]
        assert await chat.count(Message) == 1
        conv = first.json()["conversation_id"]
        r1 = await me.post(
            f"/v1/conversations/{conv}/messages", json={"text": "Hello"}, headers=key
        )
        assert r1.json()["message"]["id"] == first.json()["message"]["id"]
        other_text = await me.post("/v1/messages", json={"text": "Bye"}, headers=key)
        _error(other_text, 422, "invalid_input")
        assert await chat.count(Message) == 1
        bad_key = await me.post(
            "/v1/messages", json={"text": "Hello"}, headers={"idempotency-key": "a b"}
        )
        _error(bad_key, 422, "invalid_input")


async def test_another_customers_ids_are_not_found(chat: Chat) -> None:
    async with await chat.customer() as ada, await chat.customer() as eve:
        conv = (await ada.post("/v1/messages", json={"text": "private"})).json()["conversation_id"]
        before = await chat.count(Message)
        foreign = [
            eve.get(f"/v1/conversations/{conv}"),
            eve.get(f"/v1/conversations/{conv}/messages"),
            eve.post(f"/v1/conversations/{conv}/messages", json={"text": "hi"}),
            eve.post(f"/v1/conversations/{conv}/attachments?name=a.png", content=_png()),
            eve.post(f"/v1/conversations/{conv}/typing", json={"draft": "x"}),
            eve.get(f"/v1/conversations/{conv}/bot"),
            eve.get(f"/v1/conversations/{conv}/surveys"),
            eve.get(f"/v1/conversations/{conv}/queue"),
        ]
        for call in foreign:
            response = await call
            error = _error(response, 404, "not_found")
            assert "private" not in response.text
            assert error["message"]
        unknown = await eve.get("/v1/conversations/conv_0000/messages")
        assert unknown.json()["error"]["message"] == (
            await eve.get(f"/v1/conversations/{conv}/messages")
        ).json()["error"]["message"].replace(conv, "conv_0000")
        assert (await eve.get("/v1/conversations")).json()["items"] == []
        assert await chat.count(Message) == before


async def test_bad_input_is_a_typed_4xx_and_writes_nothing(chat: Chat) -> None:
    async with await chat.customer() as me:
        cases = [
            (
                me.post(
                    "/v1/messages",
                    content=b'{"text": ',
                    headers={"content-type": "application/json"},
                ),
                400,
                "malformed_json",
            ),
            (me.post("/v1/messages", json={"text": 42}), 422, "invalid_input"),
            (me.post("/v1/messages", json={"text": ""}), 422, "invalid_input"),
            (me.post("/v1/messages", json={"text": "hi", "extra": 1}), 422, "invalid_input"),
            (me.post("/v1/messages", json={"text": "x" * 20_000}), 413, "payload_too_large"),
            (me.post("/v1/messages", json={"text": "a\u0000b"}), 422, "invalid_input"),
            (me.get("/v1/conversations?limit=0"), 422, "invalid_input"),
            (me.get("/v1/conversations?limit=abc"), 422, "invalid_input"),
            (me.get("/v1/conversations?cursor=%%%"), 422, "invalid_input"),
        ]
        for call, status, code in cases:
            _error(await call, status, code)
        assert await chat.count(Message) == 0
        fields = (await me.post("/v1/messages", json={"text": 42})).json()["error"]
        assert fields["field"] == "text"


async def test_wrong_origin_is_refused(chat: Chat) -> None:
    evil = {"origin": "https://evil.example"}
    refused = await chat.http.post(
        "/v1/sessions", json={"website_key": chat.site_key}, headers=evil
    )
    _error(refused, 403, "origin_not_allowed")
    token = (await chat.session())["token"]
    auth = {"authorization": f"Bearer {token}"}
    _error(
        await chat.http.post("/v1/messages", json={"text": "hi"}, headers={**auth, **evil}),
        403,
        "origin_not_allowed",
    )
    suffix = {"origin": "https://shop.example.evil.test"}
    _error(
        await chat.http.get("/v1/conversations", headers={**auth, **suffix}),
        403,
        "origin_not_allowed",
    )
    assert await chat.count(Message) == 0
    # Without an Origin (a mobile app) the token alone is enough.
    assert (await chat.http.get("/v1/conversations", headers=auth)).status_code == 200


async def test_expired_revoked_and_unknown_tokens_are_401(chat: Chat) -> None:
    session = await chat.session()
    auth = {"authorization": f"Bearer {session['token']}"}
    assert (await chat.http.get("/v1/conversations", headers=auth)).status_code == 200

    record = await chat.kit.store.get(WebSession, session["session_id"])
    assert record is not None
    assert session["token"] not in record.model_dump_json()  # only the hash is stored
    await chat.kit._core.commit([Update(bump(record, expires_at=utcnow() - timedelta(seconds=1)))])
    expired = await chat.http.get("/v1/conversations", headers=auth)
    _error(expired, 401, "unauthenticated")
    assert expired.headers["www-authenticate"] == "Bearer"

    other = await chat.session()
    auth = {"authorization": f"Bearer {other['token']}"}
    assert (await chat.http.delete("/v1/sessions/current", headers=auth)).status_code == 204
    _error(
        await chat.http.post("/v1/messages", json={"text": "x"}, headers=auth),
        401,
        "unauthenticated",
    )
    for header in ("Bearer cks_nope", "Bearer", "Basic abc", "cks_x"):
        _error(
            await chat.http.get("/v1/conversations", headers={"authorization": header}),
            401,
            "unauthenticated",
        )
    _error(
        await chat.http.post("/v1/sessions", json={"website_key": "wk_unknown"}),
        401,
        "unauthenticated",
    )
    assert await chat.count(Message) == 0


async def test_identified_sessions_need_a_valid_identity_hash(chat: Chat) -> None:
    site = await chat.kit.websites.get(chat.site_id)
    good = identity_hash(site.identity_secret, "ada@example.com")
    started = await chat.session(email="ada@example.com", name="Ada", identity_hash=good)
    assert started["identified"] is True
    contact = await chat.kit.contacts.get(started["contact_id"])
    assert "email:ada@example.com" in [i.key for i in contact.identities]
    assert contact.name == "Ada"
    # The same user again lands on the same contact.
    again = await chat.session(email="ada@example.com", identity_hash=good)
    assert again["contact_id"] == contact.id
    by_id = await chat.session(
        user_id="u-42", identity_hash=identity_hash(site.identity_secret, "u-42")
    )
    assert by_id["contact_id"] != contact.id

    for body in (
        {"email": "ada@example.com", "identity_hash": "0" * 64},
        {"email": "ada@example.com", "identity_hash": identity_hash("other", "ada@example.com")},
        {"email": "eve@example.com", "identity_hash": good},
        {"email": "ada@example.com"},
        {"identity_hash": good},
    ):
        refused = await chat.http.post("/v1/sessions", json={"website_key": chat.site_key, **body})
        _error(refused, 401, "unauthenticated")

    # An identified session's messages come from the verified identity.
    token = started["token"]
    sent = await chat.http.post(
        "/v1/messages", json={"text": "Hello"}, headers={"authorization": f"Bearer {token}"}
    )
    assert sent.status_code == 201, sent.text
    conv = await chat.kit.conversations.get(sent.json()["conversation_id"])
    assert conv.contact_id == contact.id

    rotated = await chat.kit.websites.rotate_identity_secret(chat.site_id)
    assert rotated.identity_secret != site.identity_secret
    stale = await chat.http.post(
        "/v1/sessions",
        json={"website_key": chat.site_key, "email": "ada@example.com", "identity_hash": good},
    )
    _error(stale, 401, "unauthenticated")


async def test_require_identity_refuses_anonymous_visitors(chat: Chat) -> None:
    await chat.kit.websites.update(chat.site_id, require_identity=True)
    refused = await chat.http.post("/v1/sessions", json={"website_key": chat.site_key})
    _error(refused, 403, "forbidden")
    site = await chat.kit.websites.get(chat.site_id)
    ok = await chat.session(user_id="u-1", identity_hash=identity_hash(site.identity_secret, "u-1"))
    assert ok["identified"] is True


async def test_an_identified_session_proves_its_identity(chat: Chat) -> None:
    """A valid identity hash is proof: the session's contact holds the address verified,
    while a bare claim of the same address elsewhere never joins that contact."""
    site = await chat.kit.websites.get(chat.site_id)
    claimed = await chat.kit.messages.receive(
        channel="web", sender=("email", "ada@example.com"), text="hello"
    )
    started = await chat.session(
        email="ada@example.com",
        identity_hash=identity_hash(site.identity_secret, "ada@example.com"),
    )
    contact = await chat.kit.contacts.get(started["contact_id"])
    assert contact.id == claimed.contact.id
    assert [(i.key, i.verified) for i in contact.identities] == [("email:ada@example.com", True)]
    impostor = await chat.kit.messages.receive(
        channel="web", sender=("email", "ada@example.com"), text="show me my orders"
    )
    assert impostor.contact.id != contact.id


async def test_sessions_are_rate_limited_per_ip(chat: Chat) -> None:
    kit = chat.kit
    app = kit.asgi(WebSettings(rate_limits={"new_session": "2/min"}))
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        body = {"website_key": chat.site_key}
        assert (await http.post("/v1/sessions", json=body)).status_code == 201
        assert (await http.post("/v1/sessions", json=body)).status_code == 201
        limited = await http.post("/v1/sessions", json=body)
        _error(limited, 429, "rate_limited")
        assert limited.json()["error"]["message"].startswith("rate limit 'new_session'")
        assert limited.headers["retry-after"] == "30"  # 2 a minute: one more every 30 s
        assert limited.headers["ratelimit-limit"] == "2"
        assert limited.headers["ratelimit-remaining"] == "0"
        assert limited.headers["ratelimit-reset"] == "60"
        assert await kit.store.count(WebSession, {}) == 2  # the refused one wrote nothing


async def test_two_servers_on_one_sqlite_file_share_an_ips_session_budget(tmp_path: Path) -> None:
    """Two kits on one SQLite file, each its own uvicorn server: one budget of 5 sessions."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    web = WebSettings(rate_limit_secret="one-secret-every-process-shares")
    async with AsyncChatKit(url) as first, AsyncChatKit(url) as second:
        site = await first.websites.create("Shop", origins=[SHOP])
        body = {"website_key": site.public_key}
        async with (
            serve(first.asgi(web)) as url_a,
            serve(second.asgi(web)) as url_b,
            httpx.AsyncClient(base_url=url_a) as a,
            httpx.AsyncClient(base_url=url_b) as b,
        ):
            statuses = []
            for client in (a, b, a, b, a, b, a):
                statuses.append((await client.post("/v1/sessions", json=body)).status_code)
            assert statuses == [201] * 5 + [429, 429]
            refused = await b.post("/v1/sessions", json=body)
            assert refused.headers["ratelimit-limit"] == "5"
            assert refused.headers["ratelimit-remaining"] == "0"
            assert 700 < int(refused.headers["retry-after"]) <= 720  # one more every 12 minutes
        assert await second.store.count(WebSession, {}) == 5
        # one cell, keyed by a hash of the address (never the address itself)
        limiter = first.asgi(web).state.chatkit.limiter
        assert await first.store.rate_peek(limiter.hashed("new_session", "127.0.0.1")) is not None


async def test_two_servers_on_separate_stores_share_a_budget_through_redis() -> None:
    """With rate_limit_url naming Redis, even kits on different stores count together."""
    secret = f"redis-shared-{secrets.token_hex(8)}"  # a fresh secret: keys no other run has
    web = WebSettings(
        rate_limit_url=redis_or_skip(), rate_limit_secret=secret, rate_limits={"new_session": "3/h"}
    )
    async with AsyncChatKit("memory://") as first, AsyncChatKit("memory://") as second:
        keys = [(await kit.websites.create("Shop")).public_key for kit in (first, second)]
        app_a, app_b = first.asgi(web), second.asgi(web)
        async with (
            serve(app_a) as url_a,
            serve(app_b) as url_b,
            httpx.AsyncClient(base_url=url_a) as a,
            httpx.AsyncClient(base_url=url_b) as b,
        ):
            statuses = []
            for client, key in ((a, keys[0]), (b, keys[1])) * 2:
                started = await client.post("/v1/sessions", json={"website_key": key})
                statuses.append(started.status_code)
            assert statuses == [201, 201, 201, 429]
        for app in (app_a, app_b):
            await app.state.chatkit.limiter.close()
        assert (
            await first.store.rate_peek(
                app_a.state.chatkit.limiter.hashed("new_session", "127.0.0.1")
            )
            is None
        )


async def test_conversations_messages_and_offline_messages_are_rate_limited(chat: Chat) -> None:
    kit = chat.kit
    limits = {"new_conversation": "1/h", "message": "3/min", "offline_message": "1/h"}
    app = kit.asgi(WebSettings(rate_limits=limits))
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        started = await http.post("/v1/sessions", json={"website_key": chat.site_key})
        auth = {"authorization": f"Bearer {started.json()['token']}"}
        first = await http.post("/v1/messages", json={"text": "hi"}, headers=auth)
        assert first.status_code == 201, first.text
        await kit.conversations.resolve(first.json()["conversation_id"])
        await kit.conversations.close(first.json()["conversation_id"])
        second = await http.post("/v1/messages", json={"text": "again"}, headers=auth)
        _error(second, 429, "rate_limited")  # a second new conversation from this IP
        assert "new_conversation" in second.json()["error"]["message"]
        assert int(second.headers["retry-after"]) > 3500
        assert await kit.store.count(Message, {}) == 1
        other = await http.post("/v1/sessions", json={"website_key": chat.site_key})
        other_auth = {"authorization": f"Bearer {other.json()['token']}"}
        # per session: the first session used one message (and one refused), this one none
        third = await http.post("/v1/messages", json={"text": "x"}, headers=other_auth)
        _error(third, 429, "rate_limited")  # still a new conversation from the same IP
        assert "new_conversation" in third.json()["error"]["message"]

        closed = await kit.teams.create("night", hours=BusinessHours.weekly("UTC", {}))
        note = {"text": "call me", "team": closed.name}
        assert (await http.post("/v1/offline-messages", json=note, headers=auth)).status_code == 201
        again = await http.post("/v1/offline-messages", json=note, headers=auth)
        _error(again, 429, "rate_limited")
        assert again.headers["ratelimit-limit"] == "1"


async def test_messages_are_rate_limited_per_session(chat: Chat) -> None:
    app = chat.kit.asgi(WebSettings(rate_limits={"message": "2/min", "typing": "1/min"}))
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        tokens = [
            (await http.post("/v1/sessions", json={"website_key": chat.site_key})).json()["token"]
            for _ in range(2)
        ]
        mine, theirs = ({"authorization": f"Bearer {t}", "origin": SHOP} for t in tokens)
        sent = await http.post("/v1/messages", json={"text": "one"}, headers=mine)
        conv = sent.json()["conversation_id"]
        assert (
            await http.post("/v1/messages", json={"text": "two"}, headers=mine)
        ).status_code == 201
        limited = await http.post("/v1/messages", json={"text": "three"}, headers=mine)
        _error(limited, 429, "rate_limited")
        assert limited.headers["retry-after"] == "30"
        # another session (same IP) has its own budget
        assert (
            await http.post("/v1/messages", json={"text": "hi"}, headers=theirs)
        ).status_code == 201
        typing = f"/v1/conversations/{conv}/typing"
        assert (await http.post(typing, json={"draft": "h"}, headers=mine)).status_code == 204
        _error(await http.post(typing, json={"draft": "he"}, headers=mine), 429, "rate_limited")


async def test_failed_authentication_is_rate_limited_per_ip(chat: Chat) -> None:
    app = chat.kit.asgi(WebSettings(rate_limits={"failed_auth": "2/min"}))
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        wrong = await http.post("/v1/sessions", json={"website_key": "wk_nope"})
        _error(wrong, 401, "unauthenticated")
        forged = {"website_key": chat.site_key, "user_id": "u-1", "identity_hash": "00" * 32}
        _error(await http.post("/v1/sessions", json=forged), 401, "unauthenticated")
        locked = await http.post("/v1/sessions", json={"website_key": chat.site_key})
        _error(locked, 429, "rate_limited")  # even a right key, until the budget comes back
        assert "failed_auth" in locked.json()["error"]["message"]
        assert locked.headers["retry-after"] == "30"
        assert await chat.kit.store.count(WebSession, {}) == 0


async def test_attachments_stream_with_the_kits_limits(chat: Chat) -> None:
    async with await chat.customer() as me:
        conv = (await me.post("/v1/messages", json={"text": "photo"})).json()["conversation_id"]
        uploaded = await me.post(
            f"/v1/conversations/{conv}/attachments?name=receipt.png",
            content=_png(),
            headers={"content-type": "application/octet-stream"},
        )
        assert uploaded.status_code == 201, uploaded.text
        attachment = uploaded.json()
        assert attachment["mime_type"] == "image/png"
        sent = await me.post(
            f"/v1/conversations/{conv}/messages",
            json={"text": "", "attachments": [attachment["id"]]},
        )
        assert sent.status_code == 201, sent.text
        assert sent.json()["message"]["attachments"][0]["id"] == attachment["id"]
        path = f"/v1/conversations/{conv}/attachments/{attachment['id']}"
        downloaded = await me.get(path)
        assert downloaded.status_code == 200, downloaded.text
        assert downloaded.content == _png()
        assert downloaded.headers["content-type"] == "image/png"
        assert downloaded.headers["content-disposition"].startswith("attachment;")
        assert "sandbox" in downloaded.headers["content-security-policy"]
        assert downloaded.headers["x-content-type-options"] == "nosniff"

        # A file on a private note is never given to the customer.
        agent = await chat.kit.agents.create(name="Sam", email="sam@example.com")
        secret = await chat.kit.attachments.upload(
            conv, _png(), name="internal.png", author=Author.agent(agent.id)
        )
        _error(await me.get(f"/v1/conversations/{conv}/attachments/{secret.id}"), 404, "not_found")
        await chat.kit.messages.send(
            conv, "internal", author=Author.agent(agent.id), kind="note", attachments=[secret.id]
        )
        _error(await me.get(f"/v1/conversations/{conv}/attachments/{secret.id}"), 404, "not_found")
        async with await chat.customer() as eve:
            _error(await eve.get(path), 404, "not_found")

        html = await me.post(
            f"/v1/conversations/{conv}/attachments?name=x.html",
            content=b"<html><script>alert(1)</script></html>",
        )
        assert html.status_code in (415, 422), html.text
        assert html.json()["error"]["code"] in ("active_content", "attachment_type")
        huge = await me.post(
            f"/v1/conversations/{conv}/attachments?name=big.png", content=_png() + b"\0" * 70_000
        )
        _error(huge, 413, "payload_too_large")
        missing_name = await me.post(f"/v1/conversations/{conv}/attachments", content=_png())
        _error(missing_name, 422, "invalid_input")


async def test_typing_previews_only_where_the_website_enables_them(chat: Chat) -> None:
    async with await chat.customer() as me:
        conv = (await me.post("/v1/messages", json={"text": "hi"})).json()["conversation_id"]
        seen: list[str] = []

        import asyncio

        async def watch() -> None:
            async with chat.kit.previews.watch(conv) as previews:
                async for preview in previews:
                    seen.append(preview.text)

        watching = asyncio.create_task(watch())
        await asyncio.sleep(0.1)
        typed = await me.post(f"/v1/conversations/{conv}/typing", json={"draft": "my order is 24"})
        assert typed.status_code == 204, typed.text
        for _ in range(50):
            if seen:
                break
            await asyncio.sleep(0.05)
        watching.cancel()
        assert seen == ["my order is 24"]

        await chat.kit.websites.update(chat.site_id, typing_previews=False)
        _error(
            await me.post(f"/v1/conversations/{conv}/typing", json={"draft": "x"}), 403, "forbidden"
        )


async def test_closed_conversations_take_no_replies(chat: Chat) -> None:
    async with await chat.customer() as me:
        conv = (await me.post("/v1/messages", json={"text": "hi"})).json()["conversation_id"]
        await chat.kit.conversations.close(conv)
        before = await chat.count(Message)
        _error(
            await me.post(f"/v1/conversations/{conv}/messages", json={"text": "x"}), 409, "conflict"
        )
        assert await chat.count(Message) == before
        fresh = await me.post("/v1/messages", json={"text": "new question"})
        assert fresh.json()["new_conversation"] is True


async def test_surveys_are_answered_once(chat: Chat) -> None:
    async with await chat.customer() as me, await chat.customer() as eve:
        conv = (await me.post("/v1/messages", json={"text": "hi"})).json()["conversation_id"]
        await chat.kit.conversations.resolve(conv)
        survey = await chat.kit.surveys.send(conv)
        listed = (await me.get(f"/v1/conversations/{conv}/surveys")).json()
        assert [s["id"] for s in listed] == [survey.id]
        answer = {
            q["id"]: "agree" if q["kind"] == "agreement" else q.get("high") or 5
            for q in listed[0]["questions"]
        }
        _error(
            await eve.post(f"/v1/surveys/{survey.id}/answers", json={"answers": answer}),
            404,
            "not_found",
        )
        done = await me.post(f"/v1/surveys/{survey.id}/answers", json={"answers": answer})
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "answered"
        twice = await me.post(f"/v1/surveys/{survey.id}/answers", json={"answers": answer})
        _error(twice, 409, "invalid_transition")


async def test_bot_view_and_queue_position(chat: Chat) -> None:
    async with await chat.customer() as me:
        conv = (await me.post("/v1/messages", json={"text": "hi"})).json()["conversation_id"]
        bot = await me.get(f"/v1/conversations/{conv}/bot")
        assert bot.status_code == 200
        assert bot.json() is None
        assert (await me.get(f"/v1/conversations/{conv}/queue")).json()["queued"] is False

        await chat.kit.teams.create("support")
        routed = await chat.kit.routing.route(conv, team="support")
        assert routed.queued
        place = (await me.get(f"/v1/conversations/{conv}/queue")).json()
        assert place["queued"] is True
        assert place["position"] == 1
        assert place["expected_wait_seconds"] > 0
        assert place["open_now"] is True


async def test_offline_messages_open_a_ticket_while_the_team_is_closed(chat: Chat) -> None:
    async with await chat.customer() as me:
        await chat.kit.teams.create("open-team")
        refused = await me.post("/v1/offline-messages", json={"text": "call me"})
        _error(refused, 409, "conflict")
        assert await chat.count(Ticket) == 0

        never = BusinessHours.weekly("UTC", {})
        await chat.kit.teams.create("night", hours=never)
        left = await me.post(
            "/v1/offline-messages",
            json={"text": "Please call me back", "email": "ada@example.com", "team": "night"},
        )
        assert left.status_code == 201, left.text
        ticket = await chat.kit.tickets.get(left.json()["ticket_id"])
        assert ticket.team == "night"
        assert "Please call me back" in ticket.subject
        contact = await chat.kit.contacts.get(ticket.contact_id)
        assert "email:ada@example.com" not in [i.key for i in contact.identities]
        _error(
            await me.post("/v1/offline-messages", json={"text": "x", "team": "nope"}),
            404,
            "not_found",
        )


async def test_merged_contacts_see_their_conversations(chat: Chat) -> None:
    async with await chat.customer() as first, await chat.customer() as second:
        one = (await first.post("/v1/messages", json={"text": "a"})).json()["conversation_id"]
        two = (await second.post("/v1/messages", json={"text": "b"})).json()["conversation_id"]
        c1 = (await chat.kit.conversations.get(one)).contact_id
        c2 = (await chat.kit.conversations.get(two)).contact_id
        await chat.kit.contacts.merge(c1, c2)
        mine = {c["id"] for c in (await second.get("/v1/conversations")).json()["items"]}
        assert mine == {one, two}
        assert (await second.get(f"/v1/conversations/{one}/messages")).status_code == 200


def test_a_blocking_kit_on_postgresql_serves_through_a_real_server(tmp_path: Path) -> None:
    """PostgreSQL's pool belongs to the blocking kit's loop; uvicorn's loop never touches it."""
    import anyio

    server = postgres_or_skip()
    schema = fresh_schema()
    try:
        from chatkit.blobs import LocalBlobStore

        with ChatKit(f"{server}?schema={schema}&pool_max=4", blobs=LocalBlobStore(tmp_path)) as kit:
            site = kit.websites.create("Shop", origins=[SHOP])

            async def run() -> str:
                async with serve(kit.asgi()) as url, httpx.AsyncClient(base_url=url) as http:
                    start = await http.post("/v1/sessions", json={"website_key": site.public_key})
                    assert start.status_code == 201, start.text
                    auth = {"authorization": f"Bearer {start.json()['token']}"}
                    sent = await http.post("/v1/messages", json={"text": "hi"}, headers=auth)
                    assert sent.status_code == 201, sent.text
                    conv = sent.json()["conversation_id"]
                    up = await http.post(
                        f"/v1/conversations/{conv}/attachments?name=r.png",
                        content=_png(),
                        headers=auth,
                    )
                    assert up.status_code == 201, up.text
                    down = await http.get(
                        f"/v1/conversations/{conv}/attachments/{up.json()['id']}", headers=auth
                    )
                    assert down.content == _png()
                    listed = await http.get(f"/v1/conversations/{conv}/messages", headers=auth)
                    assert next(m["text"] for m in listed.json()["items"]) == "hi"
                    return str(conv)

            conv_id = anyio.run(run)
            assert kit.messages.list(conv_id).items[0].text == "hi"
    finally:
        drop_schema(server, schema)


async def test_every_customer_route_needs_a_session(chat: Chat) -> None:
    """Anonymous callers get 401 on every route of the document but starting a session."""
    spec = (await chat.http.get("/openapi.json")).json()
    checked = 0
    for path, operations in spec["paths"].items():
        for method in operations:
            if (method, path) == ("post", "/v1/sessions"):
                continue
            concrete = (
                path.replace("{conversation_id}", "conv_x")
                .replace("{attachment_id}", "att_x")
                .replace("{survey_id}", "srv_x")
            )
            response = await chat.http.request(
                method.upper(), concrete + "?name=x", json={"text": "x"}
            )
            _error(response, 401, "unauthenticated")
            checked += 1
    assert checked >= 14
    assert await chat.count(Message) == 0


async def test_timestamped_identity_hashes_cannot_be_replayed_later(chat: Chat) -> None:
    site = await chat.kit.websites.get(chat.site_id)
    now = int(utcnow().timestamp())

    def signed(at: int) -> dict[str, Any]:
        return {
            "website_key": chat.site_key,
            "user_id": "u-7",
            "identity_timestamp": at,
            "identity_hash": identity_hash(site.identity_secret, f"u-7:{at}"),
        }

    assert (await chat.session(**{k: v for k, v in signed(now).items() if k != "website_key"}))[
        "identified"
    ]
    for stale in (now - 3600, now + 3600):
        _error(await chat.http.post("/v1/sessions", json=signed(stale)), 401, "unauthenticated")
    # The timestamp is part of what is signed: another one does not match.
    forged = {**signed(now), "identity_timestamp": now - 1}
    _error(await chat.http.post("/v1/sessions", json=forged), 401, "unauthenticated")

    strict = chat.kit.asgi(WebSettings(identity_max_age=60))
    async with serve(strict) as url, httpx.AsyncClient(base_url=url) as http:
        plain = {
            "website_key": chat.site_key,
            "user_id": "u-7",
            "identity_hash": identity_hash(site.identity_secret, "u-7"),
        }
        _error(await http.post("/v1/sessions", json=plain), 401, "unauthenticated")
        _error(await http.post("/v1/sessions", json=signed(now - 120)), 401, "unauthenticated")
        assert (await http.post("/v1/sessions", json=signed(now))).status_code == 201
