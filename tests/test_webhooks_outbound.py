"""Signed outbound webhooks (kit.webhooks) against a real uvicorn receiver on 127.0.0.1.

Every store: memory, SQLite and PostgreSQL (the ``store_url`` fixture).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from typer.testing import CliRunner

from chatkit import AsyncChatKit, ChatKit, ChatKitSettings
from chatkit.cli import app
from chatkit.errors import (
    InvalidInputError,
    NotFoundError,
    WebhookSignatureError,
    WebhookTargetError,
)
from chatkit.models import WebhookDeliveryStatus
from chatkit.services.webhooks import GROUP, backoff, parse_retry_after
from chatkit.webhooks import WebhookSettings, sign_payload, verify_signature
from chatkit_integrations._server import BackgroundServer

pytestmark = pytest.mark.anyio

LOOPBACK = ("127.0.0.1/32",)


# -- the receiver --------------------------------------------------------------------


@dataclass
class Received:
    name: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A Starlette app on uvicorn: records every POST; answers as scripted per path."""

    server: BackgroundServer
    requests: list[Received] = field(default_factory=list)
    script: dict[str, list[tuple[int, dict[str, str], float]]] = field(default_factory=dict)
    always: dict[str, tuple[int, dict[str, str], float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, name: str) -> str:
        return f"{self.server.url}/{name}"

    def got(self, name: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.name == name]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    async def endpoint(request: Request) -> Response:
        me = holder[0]
        name = request.path_params["name"]
        body = await request.body()
        with me.lock:
            me.requests.append(Received(name, dict(request.headers), body, time.monotonic()))
            plan = me.script.get(name)
            status, headers, delay = plan.pop(0) if plan else me.always.get(name, (200, {}, 0.0))
        if delay:
            await asyncio.sleep(delay)
        return Response(f"answer from {name}", status_code=status, headers=headers)

    server = BackgroundServer(Starlette(routes=[Route("/{name}", endpoint, methods=["POST"])]))
    server.start()
    holder.append(Receiver(server))
    try:
        yield holder[0]
    finally:
        server.stop()


def _settings(**webhooks: object) -> ChatKitSettings:
    options: dict[str, object] = {"allowed_networks": LOOPBACK, "retry_delay": 0.0}
    options.update(webhooks)
    return ChatKitSettings(
        event_poll_interval=0.05, webhooks=WebhookSettings.model_validate(options)
    )


async def _kit(url: str, tmp_path: Path, **webhooks: object) -> AsyncChatKit:
    blobs = None
    if url.startswith("postgresql"):
        from chatkit.blobs import LocalBlobStore

        blobs = LocalBlobStore(tmp_path / "blobs")
    kit = AsyncChatKit(url, settings=_settings(**webhooks), blobs=blobs)
    await kit.open()
    return kit


@pytest.fixture
async def kit(store_url: str, tmp_path: Path) -> AsyncIterator[AsyncChatKit]:
    k = await _kit(store_url, tmp_path)
    try:
        yield k
    finally:
        await k.close()


# -- the signature helpers -----------------------------------------------------------


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id":"evt_1","type":"ping"}'
    header = sign_payload("whsec_0123456789abcdef", body, timestamp=1_700_000_000)
    expected = hmac.new(
        b"whsec_0123456789abcdef", b"1700000000." + body, hashlib.sha256
    ).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert (
        verify_signature("whsec_0123456789abcdef", header, body, now=1_700_000_100) == 1_700_000_000
    )
    # Headers as any mapping, any case.
    assert verify_signature(
        "whsec_0123456789abcdef", {"chatkit-SIGNATURE": header}, body.decode(), now=1_700_000_000
    )


@pytest.mark.parametrize(
    ("secret", "header", "body", "now", "reason"),
    [
        ("wrong-secret-1234", None, b"{}", 1_700_000_000, "mismatch"),
        ("whsec_0123456789abcdef", None, b"{ }", 1_700_000_000, "mismatch"),
        ("whsec_0123456789abcdef", None, b"{}", 1_700_000_301, "expired"),
        ("whsec_0123456789abcdef", None, b"{}", 1_699_999_000, "expired"),
        ("whsec_0123456789abcdef", "", b"{}", 1_700_000_000, "missing"),
        ("whsec_0123456789abcdef", "v1=abc", b"{}", 1_700_000_000, "malformed"),
        ("whsec_0123456789abcdef", "t=17e8,v1=" + "0" * 64, b"{}", 1_700_000_000, "malformed"),
        ("whsec_0123456789abcdef", "t=1700000000", b"{}", 1_700_000_000, "malformed"),
        ("whsec_0123456789abcdef", "garbage", b"{}", 1_700_000_000, "malformed"),
    ],
)
def test_a_bad_signature_is_refused_with_its_reason(
    secret: str, header: str | None, body: bytes, now: int, reason: str
) -> None:
    good = sign_payload("whsec_0123456789abcdef", b"{}", timestamp=1_700_000_000)
    with pytest.raises(WebhookSignatureError) as caught:
        verify_signature(secret, good if header is None else header, body, now=now)
    assert caught.value.reason == reason


def test_a_missing_header_in_a_mapping_is_refused() -> None:
    with pytest.raises(WebhookSignatureError, match="no Chatkit-Signature") as caught:
        verify_signature("whsec_0123456789abcdef", {"content-type": "application/json"}, b"{}")
    assert caught.value.reason == "missing"


def test_rotation_signs_with_both_secrets_and_either_verifies() -> None:
    header = sign_payload(["new-secret-0123456789", "old-secret-0123456789"], b"x", timestamp=5)
    assert header.count("v1=") == 2
    assert verify_signature("old-secret-0123456789", header, b"x", now=5) == 5
    assert verify_signature(["nope-0123456789abcd", "new-secret-0123456789"], header, b"x", now=5)
    assert verify_signature(
        "new-secret-0123456789", header, b"x", now=datetime.fromtimestamp(5, UTC)
    )


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True), now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_backoff_grows_threefold_with_jitter_up_to_the_cap() -> None:
    settings = WebhookSettings(retry_delay=60, max_retry_delay=3600)
    assert 48 <= backoff(1, settings) <= 72
    assert 144 <= backoff(2, settings) <= 216
    assert backoff(10, settings) == 3600
    total = sum(backoff(n, WebhookSettings()) for n in range(1, 8))
    assert 12 * 3600 < total < 30 * 3600  # the default 8 attempts span about a day


# -- delivering ----------------------------------------------------------------------


async def test_a_delivery_is_signed_and_verifies_with_the_helper(
    kit: AsyncChatKit, receiver: Receiver
) -> None:
    hook = await kit.webhooks.subscribe(receiver.url("a"), ["contact.created"], description="crm")
    assert hook.secret is not None
    assert hook.secret.startswith("whsec_")
    contact = await kit.contacts.create(name="Ada")
    assert await kit.webhooks.drain() == 1

    [request] = receiver.got("a")
    assert verify_signature(hook.secret, request.headers, request.body) <= time.time()
    payload = json.loads(request.body)
    assert payload["type"] == "contact.created"
    assert payload["data"]["contact"]["id"] == contact.id
    assert payload["data"]["id"] == payload["id"]
    assert payload["occurred_at"].endswith("Z")
    assert isinstance(payload["position"], int)
    assert request.headers["chatkit-event"] == "contact.created"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["chatkit-timestamp"] == request.headers["chatkit-signature"][2:12]

    [delivery] = (await kit.webhooks.deliveries()).items
    assert request.headers["chatkit-delivery"] == delivery.id
    assert delivery.status is WebhookDeliveryStatus.DELIVERED
    assert (delivery.attempts, delivery.status_code) == (1, 200)
    assert delivery.response_snippet == "answer from a"
    assert delivery.event_id == payload["id"]
    assert delivery.duration_ms is not None
    assert delivery.body.encode() == request.body

    # Tampered body, wrong secret, replayed late: refused.
    with pytest.raises(WebhookSignatureError):
        verify_signature(hook.secret, request.headers, request.body.replace(b"Ada", b"Eve"))
    with pytest.raises(WebhookSignatureError):
        verify_signature("whsec_not-the-right-one", request.headers, request.body)
    with pytest.raises(WebhookSignatureError, match="off"):
        verify_signature(hook.secret, request.headers, request.body, now=time.time() + 301)

    # The secret is returned once; reads never carry it.
    assert (await kit.webhooks.get(hook.id)).secret is None
    assert all(s.secret is None for s in await kit.webhooks.list())
    # Handling the same events again writes nothing twice and sends nothing again.
    events = (await kit.events.list()).items
    assert await kit.webhooks.handle(events) == 0
    assert await kit.webhooks.deliver_pending() == 0
    assert len(receiver.got("a")) == 1


async def test_a_500_is_retried_until_a_200(kit: AsyncChatKit, receiver: Receiver) -> None:
    receiver.script["flaky"] = [(500, {}, 0.0), (502, {}, 0.0)]
    hook = await kit.webhooks.subscribe(receiver.url("flaky"), ["contact.created"])
    await kit.contacts.create(name="Ada")
    assert await kit.webhooks.drain() == 3

    requests = receiver.got("flaky")
    assert len(requests) == 3
    assert len({r.headers["chatkit-delivery"] for r in requests}) == 1
    assert all(verify_signature(hook.secret or "", r.headers, r.body) for r in requests)
    [delivery] = (await kit.webhooks.deliveries()).items
    assert delivery.status is WebhookDeliveryStatus.DELIVERED
    assert delivery.attempts == 3
    assert delivery.error is None


async def test_retry_after_of_a_429_is_respected(kit: AsyncChatKit, receiver: Receiver) -> None:
    receiver.script["busy"] = [(429, {"Retry-After": "1"}, 0.0)]
    await kit.webhooks.subscribe(receiver.url("busy"), ["contact.created"])
    await kit.contacts.create(name="Ada")
    assert await kit.webhooks.drain() == 1  # retry_delay is 0, but the answer said 1 s

    [waiting] = (await kit.webhooks.deliveries()).items
    assert waiting.status is WebhookDeliveryStatus.PENDING
    assert waiting.status_code == 429
    assert waiting.next_attempt_at is not None
    assert waiting.last_attempt_at is not None
    assert 0.9 <= (waiting.next_attempt_at - waiting.last_attempt_at).total_seconds() <= 1.5
    assert await kit.webhooks.deliver_pending() == 0  # not due yet
    await asyncio.sleep(1.1)
    assert await kit.webhooks.deliver_pending() == 1

    first, second = receiver.got("busy")
    assert second.at - first.at >= 0.9
    [done] = (await kit.webhooks.deliveries()).items
    assert done.status is WebhookDeliveryStatus.DELIVERED
    assert done.attempts == 2


async def test_dead_lettered_after_the_limit_then_redelivered(
    store_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    kit = await _kit(store_url, tmp_path, max_attempts=3)
    try:
        receiver.always["down"] = (500, {}, 0.0)
        await kit.webhooks.subscribe(receiver.url("down"), ["contact.created"])
        await kit.contacts.create(name="Ada")
        assert await kit.webhooks.drain() == 3
        [dead] = (await kit.webhooks.deliveries(status="dead")).items
        assert (dead.attempts, dead.status_code, dead.error) == (3, 500, "HTTP 500")
        assert dead.next_attempt_at is None
        assert dead.due_key is None
        assert await kit.webhooks.deliver_pending() == 0

        receiver.always["down"] = (200, {}, 0.0)
        again = await kit.webhooks.redeliver(dead.id)
        assert again.status is WebhookDeliveryStatus.PENDING
        assert again.attempts == 0
        assert await kit.webhooks.deliver_pending() == 1
        done = await kit.webhooks.get_delivery(dead.id)
        assert done.status is WebhookDeliveryStatus.DELIVERED
        assert done.attempts == 1
        assert len(receiver.got("down")) == 4
        with pytest.raises(NotFoundError):
            await kit.webhooks.redeliver("whd_nope")
    finally:
        await kit.close()


async def test_410_gone_dead_letters_and_pauses_the_subscription(
    kit: AsyncChatKit, receiver: Receiver
) -> None:
    receiver.always["gone"] = (410, {}, 0.0)
    hook = await kit.webhooks.subscribe(receiver.url("gone"), ["contact.created"])
    await kit.contacts.create(name="Ada")
    assert await kit.webhooks.drain() == 1
    [dead] = (await kit.webhooks.deliveries()).items
    assert dead.status is WebhookDeliveryStatus.DEAD
    assert dead.status_code == 410
    paused = await kit.webhooks.get(hook.id)
    assert not paused.active
    assert paused.paused_reason == "the endpoint answered 410 Gone"

    await kit.contacts.create(name="Bob")  # paused: not queued
    assert await kit.webhooks.drain() == 0
    assert len((await kit.webhooks.deliveries()).items) == 1
    resumed = await kit.webhooks.update(hook.id, active=True)
    assert resumed.active
    assert resumed.paused_reason is None


async def test_a_slow_endpoint_does_not_hold_up_another(
    kit: AsyncChatKit, receiver: Receiver
) -> None:
    receiver.always["slow"] = (200, {}, 3.0)
    slow = await kit.webhooks.subscribe(receiver.url("slow"), ["contact.created"])
    fast = await kit.webhooks.subscribe(receiver.url("fast"), ["contact.created"])
    dispatcher = kit.webhooks.dispatcher()
    running = asyncio.ensure_future(dispatcher.run())
    try:
        started = time.monotonic()
        for n in range(3):
            await kit.contacts.create(name=f"customer {n}")
        delivered = WebhookDeliveryStatus.DELIVERED

        async def fast_done() -> bool:
            log = await kit.webhooks.deliveries(subscription_id=fast.id)
            return len(log.items) == 3 and all(d.status is delivered for d in log.items)

        while not await fast_done() and time.monotonic() - started < 2.5:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        assert await fast_done()  # while the slow one still answers its first
        assert time.monotonic() - started < 2.5
        assert len(receiver.got("fast")) == 3
        slow_log = await kit.webhooks.deliveries(subscription_id=slow.id)
        assert {d.status for d in slow_log.items} == {WebhookDeliveryStatus.PENDING}
        # The outbox moved on for every event, whatever the slow endpoint does.
        status = await kit.events.dispatch_status(GROUP)
        assert status.claimed_upto == await kit.store.last_position()
    finally:
        dispatcher.stop()
        await running  # waits for the slow attempts in flight
    assert {d.status for d in (await kit.webhooks.deliveries(subscription_id=slow.id)).items} == {
        WebhookDeliveryStatus.DELIVERED
    }


async def test_events_are_filtered_by_type_and_never_from_before_subscribing(
    kit: AsyncChatKit, receiver: Receiver
) -> None:
    before = await kit.contacts.create(name="Before")
    tickets = await kit.webhooks.subscribe(receiver.url("tickets"), ["ticket.*"])
    contacts = await kit.webhooks.subscribe(receiver.url("contacts"), ["contact.created"])
    everything = await kit.webhooks.subscribe(receiver.url("all"))
    ada = await kit.contacts.create(name="Ada")
    await kit.tickets.create(subject="Refund", contact_id=ada.id)
    await kit.webhooks.drain()

    def types(name: str) -> list[str]:
        return [json.loads(r.body)["type"] for r in receiver.got(name)]

    assert types("tickets") == ["ticket.created"]
    assert types("contacts") == ["contact.created"]
    assert sorted(types("all")) == sorted({*types("tickets"), *types("contacts")})
    assert all(before.id not in r.body.decode() for r in receiver.requests)
    by_sub = Counter(d.subscription_id for d in (await kit.webhooks.deliveries()).items)
    assert by_sub == {tickets.id: 1, contacts.id: 1, everything.id: 2}


async def test_a_private_target_is_refused_unless_allowed(
    store_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    strict = await _kit(store_url, tmp_path, allowed_networks=())
    try:
        with pytest.raises(WebhookTargetError):
            await strict.webhooks.subscribe(receiver.url("x"))  # a literal 127.0.0.1
        # A name is checked after DNS, when delivering: dead at once, nothing sent.
        named = receiver.url("x").replace("127.0.0.1", "localhost")
        await strict.webhooks.subscribe(named, ["contact.created"])
        await strict.contacts.create(name="Ada")
        assert await strict.webhooks.drain() == 1
        [dead] = (await strict.webhooks.deliveries()).items
        assert dead.status is WebhookDeliveryStatus.DEAD
        assert dead.attempts == 1
        assert "not a public address" in (dead.error or "")
        assert receiver.got("x") == []

        # The same store, with private targets allowed: it goes through.
        settings = ChatKitSettings(webhooks=WebhookSettings(allow_private_targets=True))
        allowed = AsyncChatKit(store=strict.store, settings=settings, blobs=strict.blobs)
        await allowed.webhooks.redeliver(dead.id)
        assert await allowed.webhooks.deliver_pending() == 1
        assert len(receiver.got("x")) == 1
        assert (await allowed.webhooks.get_delivery(dead.id)).status_code == 200
    finally:
        await strict.close()


async def test_no_secret_or_url_token_reaches_the_logs(
    kit: AsyncChatKit, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.script["tok"] = [(500, {}, 0.0)]
    hook = await kit.webhooks.subscribe(
        receiver.url("tok") + "?token=sup3rs3cr3t-token", ["contact.created"]
    )
    # A second subscription whose endpoint refuses connections: the error text has the URL.
    closed = await kit.webhooks.subscribe(
        "http://127.0.0.1:9/hook?api_key=sup3rs3cr3t-key", ["contact.created"]
    )
    await kit.contacts.create(name="Ada")
    await kit.webhooks.drain()
    rotated = await kit.webhooks.rotate_secret(hook.id)
    assert len(receiver.got("tok")) == 2
    text = caplog.text
    for secret in ("sup3rs3cr3t", hook.secret or "?", rotated.secret or "?"):
        assert secret not in text
        assert secret not in repr(await kit.webhooks.get(hook.id))
    assert "token=***" in text
    for delivery in (await kit.webhooks.deliveries(subscription_id=closed.id)).items:
        assert "sup3rs3cr3t" not in (delivery.error or "") + (delivery.response_snippet or "")
    assert "sup3rs3cr3t" not in repr(hook)


async def test_the_delivery_log_pages_newest_first(kit: AsyncChatKit, receiver: Receiver) -> None:
    receiver.always["fail"] = (500, {}, 0.0)
    ok = await kit.webhooks.subscribe(receiver.url("ok"), ["contact.created"])
    bad = await kit.webhooks.subscribe(receiver.url("fail"), ["contact.created"])
    for n in range(5):
        await kit.contacts.create(name=f"c{n}")
    async with kit.webhooks.dispatcher() as dispatcher:
        await dispatcher.drain()  # writes 10 deliveries, sends the due ones

    seen, cursor, pages = [], None, 0
    while True:
        page = await kit.webhooks.deliveries(subscription_id=ok.id, limit=2, cursor=cursor)
        seen += page.items
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 3
    assert len({d.id for d in seen}) == 5
    positions = [d.event_position or 0 for d in seen]
    assert positions == sorted(positions, reverse=True)
    assert {d.status for d in seen} == {WebhookDeliveryStatus.DELIVERED}
    failing = await kit.webhooks.deliveries(subscription_id=bad.id, status="dead", limit=1000)
    assert len(failing.items) == 5
    assert len((await kit.webhooks.deliveries(limit=1000)).items) == 10
    with pytest.raises(InvalidInputError):
        await kit.webhooks.deliveries(status="lost")
    with pytest.raises(InvalidInputError):
        await kit.webhooks.deliveries(cursor="%%%")
    with pytest.raises(InvalidInputError):
        await kit.webhooks.deliveries(limit=0)


async def test_two_dispatchers_on_one_store_never_double_deliver(
    store_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    # Two kits (two connections, as two processes would have) on memory share nothing,
    # so there both dispatchers run on one kit; SQLite and PostgreSQL get two kits.
    one = await _kit(store_url, tmp_path)
    two = one if store_url == "memory://" else await _kit(store_url, tmp_path)
    try:
        await one.webhooks.subscribe(receiver.url("once"), ["contact.created"])
        await one.webhooks.subscribe(receiver.url("twice"), ["contact.*"])
        first = one.webhooks.dispatcher(batch_size=3)
        second = two.webhooks.dispatcher(batch_size=3)
        runs = [asyncio.ensure_future(d.run()) for d in (first, second)]
        for n in range(20):
            await one.contacts.create(name=f"c{n}")
        deadline = time.monotonic() + 15
        while len(receiver.requests) < 40 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # room for any duplicate to arrive
        for d in (first, second):
            d.stop()
        await asyncio.gather(*runs)
    finally:
        await one.close()
        if two is not one:
            await two.close()
    for name in ("once", "twice"):
        counts = Counter(json.loads(r.body)["id"] for r in receiver.got(name))
        assert len(counts) == 20, name
        assert set(counts.values()) == {1}, name


async def test_the_worker_delivers_by_default(kit: AsyncChatKit, receiver: Receiver) -> None:
    await kit.webhooks.subscribe(receiver.url("w"), ["contact.created"])
    await kit.contacts.create(name="Ada")
    await kit.run_worker(duration=1.5, every={"webhooks": 0.1}, heartbeat=0.5)
    assert len(receiver.got("w")) == 1
    health = await kit.health()
    assert GROUP in {g.group for g in health.dispatchers}


async def test_rotated_secret_signs_twice_during_the_grace(
    kit: AsyncChatKit, receiver: Receiver
) -> None:
    hook = await kit.webhooks.subscribe(receiver.url("r"), ["contact.created"])
    rotated = await kit.webhooks.rotate_secret(hook.id)
    assert rotated.secret
    assert rotated.secret != hook.secret
    await kit.contacts.create(name="Ada")
    await kit.webhooks.drain()
    [request] = receiver.got("r")
    assert request.headers["chatkit-signature"].count("v1=") == 2
    assert verify_signature(hook.secret or "", request.headers, request.body)
    assert verify_signature(rotated.secret, request.headers, request.body)


async def test_ping_sends_a_signed_webhook_ping(kit: AsyncChatKit, receiver: Receiver) -> None:
    hook = await kit.webhooks.subscribe(receiver.url("p"), ["ticket.created"], secret="s" * 20)
    delivery = await kit.webhooks.ping(hook.id)
    assert delivery.status is WebhookDeliveryStatus.DELIVERED
    assert delivery.event_type == "webhook.ping"
    [request] = receiver.got("p")
    assert verify_signature("s" * 20, request.headers, request.body)
    assert json.loads(request.body)["data"] == {"subscription_id": hook.id}
    receiver.always["p"] = (500, {}, 0.0)
    failed = await kit.webhooks.ping(hook.id)
    assert failed.status is WebhookDeliveryStatus.DEAD
    assert failed.status_code == 500


async def test_bad_input_is_refused_and_changes_nothing(kit: AsyncChatKit) -> None:
    for url in ("", "ftp://example.com/x", "https://", "https://exa mple.com/", 42, "x" * 3000):
        with pytest.raises(InvalidInputError):
            await kit.webhooks.subscribe(url)  # type: ignore[arg-type]
    for events in ("message.created", ["nope"], [], ["message.*x"], [1]):
        with pytest.raises(InvalidInputError):
            await kit.webhooks.subscribe("https://example.com/h", events)  # type: ignore[arg-type]
    for secret in ("short", "x" * 300, "with space in it 123", "ünïcödé-secret-123"):
        with pytest.raises(InvalidInputError):
            await kit.webhooks.subscribe("https://example.com/h", secret=secret)
    assert await kit.webhooks.list() == []
    with pytest.raises(NotFoundError):
        await kit.webhooks.get("whs_nope")
    with pytest.raises(NotFoundError):
        await kit.webhooks.unsubscribe("whs_nope")
    hook = await kit.webhooks.subscribe("https://example.com/h", ["message.created"])
    with pytest.raises(InvalidInputError):
        await kit.webhooks.update(hook.id, events=["bogus.type"])
    with pytest.raises(InvalidInputError):
        await kit.webhooks.update(hook.id, url="mailto:a@b.c")
    assert (await kit.webhooks.get(hook.id)).events == ["message.created"]
    changed = await kit.webhooks.update(hook.id, events=["message.*"], description="note")
    assert changed.events == ["message.*"]
    assert changed.description == "note"
    await kit.webhooks.unsubscribe(hook.id)
    assert await kit.webhooks.list() == []


async def test_unsubscribing_dead_letters_what_was_pending(
    kit: AsyncChatKit, receiver: Receiver
) -> None:
    hook = await kit.webhooks.subscribe(receiver.url("u"), ["contact.created"])
    await kit.contacts.create(name="Ada")
    receiver.always["u"] = (200, {}, 1.0)
    async with kit.webhooks.dispatcher() as dispatcher:
        await dispatcher.run_once()  # written, and its attempt under way
        await kit.webhooks.unsubscribe(hook.id)
    for delivery in (await kit.webhooks.deliveries(limit=10)).items:
        assert delivery.status is not WebhookDeliveryStatus.PENDING


# -- the blocking kit and the command line -------------------------------------------


def test_the_blocking_kit_and_the_cli(tmp_path: Path, receiver: Receiver) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    with ChatKit(url, settings=_settings()) as kit:
        hook = kit.webhooks.subscribe(receiver.url("cli"), ["contact.created"])
        kit.contacts.create(name="Ada")
        dispatcher = kit.webhooks.dispatcher()
        assert dispatcher.group == "webhook-deliveries"
        assert dispatcher.drain() == 1
        dispatcher.close()
        kit.contacts.create(name="Bob")
        assert kit.webhooks.drain() == 1
        delivery = kit.webhooks.deliveries().items[-1]
        assert delivery.status is WebhookDeliveryStatus.DELIVERED

    runner = CliRunner()
    listed = runner.invoke(app, ["webhooks", "list", "--url", url])
    assert listed.exit_code == 0
    assert hook.id in listed.output
    log = runner.invoke(app, ["webhooks", "deliveries", "--url", url, "--status", "delivered"])
    assert log.exit_code == 0
    assert delivery.id in log.output
    assert "contact.created" in log.output
    ping = runner.invoke(app, ["webhooks", "test", hook.id, "--url", url, "--allow-private"])
    assert ping.exit_code == 0, ping.output
    assert "webhook.ping" in ping.output
    assert len(receiver.got("cli")) == 3  # two events and the ping
    refused = runner.invoke(app, ["webhooks", "test", hook.id, "--url", url])
    assert refused.exit_code == 1
    assert "dead" in refused.output
    added = runner.invoke(
        app,
        ["webhooks", "add", "https://hooks.example.com/x?token=abc123", "--event", "ticket.*",
         "--url", url],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "token=***" in added.output
    assert "abc123" not in added.output
    assert "whsec_" in added.output
    bad = runner.invoke(
        app, ["webhooks", "add", "https://x.example/y", "--event", "nope", "--url", url]
    )
    assert bad.exit_code == 1
    assert "unknown event type" in bad.output
    rotated = runner.invoke(app, ["webhooks", "rotate-secret", hook.id, "--url", url])
    assert rotated.exit_code == 0
    assert "whsec_" in rotated.output
    paused = runner.invoke(app, ["webhooks", "pause", hook.id, "--url", url])
    assert paused.exit_code == 0
    redo = runner.invoke(app, ["webhooks", "redeliver", delivery.id, "--url", url])
    assert redo.exit_code == 0
    assert "pending" in redo.output
    removed = runner.invoke(app, ["webhooks", "remove", hook.id, "--url", url])
    assert removed.exit_code == 0
    after = runner.invoke(app, ["webhooks", "list", "--url", url])
    assert hook.id not in after.output


async def test_prune_deletes_old_finished_deliveries_only(
    kit: AsyncChatKit, receiver: Receiver
) -> None:
    receiver.always["gone"] = (500, {}, 0.0)
    done = await kit.webhooks.subscribe(receiver.url("done"), ["contact.created"])
    await kit.webhooks.subscribe(receiver.url("gone"), ["contact.created"])
    await kit.contacts.create(name="Ada")
    await kit.webhooks.handle((await kit.events.list()).items)
    await kit.webhooks.deliver_pending()  # one delivered; the other retried until dead
    await kit.contacts.create(name="Bob")
    await kit.webhooks.drain()
    await kit.webhooks.update(done.id, active=False)
    await kit.contacts.create(name="Cy")  # paused: nothing queued
    assert await kit.webhooks.prune() == 0  # younger than log_days
    with pytest.raises(InvalidInputError):
        await kit.webhooks.prune(older_than=timedelta(seconds=-1))
    pending = await kit.webhooks.redeliver(
        (await kit.webhooks.deliveries(status="dead", limit=1)).items[0].id
    )
    assert await kit.webhooks.prune(older_than=timedelta(0)) == 3
    [left] = (await kit.webhooks.deliveries()).items
    assert left.id == pending.id
    assert left.status is WebhookDeliveryStatus.PENDING


def test_two_worker_processes_share_the_deliveries_without_doubles(
    store_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    if store_url == "memory://":
        pytest.skip("a memory store is not shared between processes")
    settings_file = tmp_path / "settings.json"
    settings_file.write_text(_settings().model_dump_json())
    with ChatKit(store_url, settings=_settings()) as kit:
        kit.webhooks.subscribe(receiver.url("procs"), ["contact.created"])
        kit.open()
    chatkit = Path(sys.executable).parent / "chatkit"
    command = [
        str(chatkit), "worker", "--url", store_url, "--settings", str(settings_file),
        "--only", "webhooks", "--every", "webhooks=0.1",
    ]  # fmt: skip
    workers = [
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        with ChatKit(store_url, settings=_settings()) as kit:
            for n in range(30):
                kit.contacts.create(name=f"c{n}")
        deadline = time.monotonic() + 60
        while len(receiver.got("procs")) < 30 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # room for any duplicate to arrive
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        outputs = [process.communicate(timeout=30)[1] for process in workers]
    assert all(process.returncode == 0 for process in workers), outputs
    counts = Counter(json.loads(r.body)["id"] for r in receiver.got("procs"))
    assert len(counts) == 30
    assert set(counts.values()) == {1}
    with ChatKit(store_url) as kit:
        log = kit.webhooks.deliveries(limit=100).items
        workers_seen = kit.health().workers
    assert len(log) == 30
    assert {d.status for d in log} == {WebhookDeliveryStatus.DELIVERED}
    assert all(d.attempts == 1 for d in log)
    # Both processes ran the webhooks job and stopped cleanly.
    assert len(workers_seen) == 2
    assert all(w.jobs == ["webhooks"] and w.stopped_at is not None for w in workers_seen)


async def test_a_timeout_or_a_redirect_is_a_failed_attempt(
    store_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    kit = await _kit(store_url, tmp_path, timeout=0.5, retry_delay=60.0)
    try:
        receiver.always["sleepy"] = (200, {}, 2.0)
        receiver.always["moved"] = (301, {"Location": receiver.url("elsewhere")}, 0.0)
        sleepy = await kit.webhooks.subscribe(receiver.url("sleepy"), ["contact.created"])
        moved = await kit.webhooks.subscribe(receiver.url("moved"), ["contact.created"])
        await kit.contacts.create(name="Ada")
        started = time.monotonic()
        assert await kit.webhooks.drain() == 2
        assert time.monotonic() - started < 1.8  # the sleepy endpoint was not waited for
        [late] = (await kit.webhooks.deliveries(subscription_id=sleepy.id)).items
        assert late.status is WebhookDeliveryStatus.PENDING
        assert late.error == "no answer within 0.5 s"
        assert late.status_code is None
        [redirected] = (await kit.webhooks.deliveries(subscription_id=moved.id)).items
        assert redirected.status is WebhookDeliveryStatus.PENDING
        assert redirected.status_code == 301
        assert "redirects are not followed" in (redirected.error or "")
        assert receiver.got("elsewhere") == []
    finally:
        await kit.close()
