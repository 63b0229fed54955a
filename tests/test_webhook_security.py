"""Webhooks in and out: body caps and depth limits inbound, SSRF checks outbound.

Outbound refusals must happen before any connection: every TCP connection
httpcore opens goes through ``anyio.connect_tcp``, which the ``connections``
fixture records (and refuses for anything but loopback, so no test ever sends
traffic elsewhere, whatever the code under test does).
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest

from chatkit import AsyncChatKit, ChatKitSettings, RuleSet
from chatkit.errors import (
    ChatKitError,
    WebhookBodyError,
    WebhookTooLargeError,
    WebhookVerificationError,
)
from chatkit.events import AutomationActionTaken
from chatkit.testing import MemoryIntegration, MemoryVendor
from chatkit.testing.vendor import sign
from chatkit.webhooks import (
    MAX_WEBHOOK_DEPTH,
    WebhookSettings,
    check_webhook_body,
    is_public_address,
    read_webhook_json,
)

pytestmark = pytest.mark.anyio


# -- inbound ----------------------------------------------------------------------------


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[AsyncChatKit]:
    async with AsyncChatKit(f"sqlite:///{tmp_path / 'in.db'}") as k:
        yield k


def _signed(vendor: MemoryVendor, body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    return {
        "X-Memory-Timestamp": stamp,
        "X-Memory-Signature": sign(vendor.webhook_secret, stamp, body),
    }


async def _synced_comment(kit: AsyncChatKit, vendor: MemoryVendor, text: str) -> tuple[str, str]:
    """A conversation pushed to the vendor and a vendor comment on it: (conversation, comment)."""
    contact = await kit.contacts.create(name="Ada", identities=[("email", "ada@example.com")])
    conversation = await kit.conversations.create(contact_id=contact.id)
    async with kit.sync.engine(MemoryIntegration(vendor=vendor)) as engine:
        await engine.run_once()
    case = vendor.find("case", external_id=conversation.id)
    assert case is not None
    comment = vendor.comment(case["id"], text)
    return conversation.id, str(comment["id"])


async def _texts(kit: AsyncChatKit, conversation_id: str) -> list[str]:
    return [m.text for m in (await kit.messages.list(conversation_id)).items]


async def test_a_signed_oversized_body_is_refused_and_nothing_applied(kit: AsyncChatKit) -> None:
    vendor = MemoryVendor()
    conversation_id, comment_id = await _synced_comment(kit, vendor, "From a huge delivery")
    events = {"events": [{"type": "comment", "id": comment_id}]}
    body = json.dumps({**events, "padding": "x" * (20 * 1024 * 1024)}).encode()
    headers = _signed(vendor, body)
    async with kit.sync.engine(MemoryIntegration(vendor=vendor)) as engine:
        with pytest.raises(WebhookTooLargeError) as caught:
            await engine.handle_webhook(headers, body)
    assert isinstance(caught.value, WebhookVerificationError)
    assert (caught.value.size, caught.value.limit) == (len(body), 1024 * 1024)
    assert len(str(caught.value)) < 200
    assert "From a huge delivery" not in await _texts(kit, conversation_id)


async def test_the_body_cap_is_a_setting(tmp_path: Path) -> None:
    vendor = MemoryVendor()
    small = ChatKitSettings(webhooks=WebhookSettings(max_body_bytes=40))
    async with AsyncChatKit(f"sqlite:///{tmp_path / 'cap.db'}", settings=small) as kit:
        conversation_id, comment_id = await _synced_comment(kit, vendor, "Capped")
        headers, body = vendor.webhook("comment", comment_id)
        assert len(body) > 40
        async with kit.sync.engine(MemoryIntegration(vendor=vendor)) as engine:
            with pytest.raises(WebhookTooLargeError, match="at most 40"):
                await engine.handle_webhook(headers, body)
        assert "Capped" not in await _texts(kit, conversation_id)
    roomy = ChatKitSettings(webhooks=WebhookSettings(max_body_bytes=len(body)))
    async with AsyncChatKit(f"sqlite:///{tmp_path / 'cap.db'}", settings=roomy) as kit:
        async with kit.sync.engine(MemoryIntegration(vendor=vendor)) as engine:
            assert (await engine.handle_webhook(headers, body)).pulled == 1
        assert "Capped" in await _texts(kit, conversation_id)


async def test_a_signed_depth_bomb_is_refused_with_a_typed_error(kit: AsyncChatKit) -> None:
    vendor = MemoryVendor()
    conversation_id, comment_id = await _synced_comment(kit, vendor, "From a deep delivery")
    head = json.dumps({"events": [{"type": "comment", "id": comment_id}]})[:-1].encode()
    body = head + b', "x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    assert len(body) < 1024 * 1024
    async with kit.sync.engine(MemoryIntegration(vendor=vendor)) as engine:
        with pytest.raises(WebhookBodyError, match="nested deeper"):
            await engine.handle_webhook(_signed(vendor, body), body)
        # the integration refuses it too when called directly (not through the engine)
        with pytest.raises(WebhookBodyError):
            await engine.integration.verify_webhook(_signed(vendor, body), body)
    assert "From a deep delivery" not in await _texts(kit, conversation_id)


async def test_brackets_inside_strings_do_not_count_as_nesting(kit: AsyncChatKit) -> None:
    vendor = MemoryVendor()
    text = 'quote \\" and [[[[{{{{ ' + "[" * 500
    conversation_id, comment_id = await _synced_comment(kit, vendor, text)
    body = json.dumps(
        {"events": [{"type": "comment", "id": comment_id}], "note": "[" * 500 + '"\\'}
    ).encode()
    async with kit.sync.engine(MemoryIntegration(vendor=vendor)) as engine:
        assert (await engine.handle_webhook(_signed(vendor, body), body)).pulled == 1
    assert text in await _texts(kit, conversation_id)


def test_depth_limit_is_exact_and_hostile_bodies_scan_fast() -> None:
    at_limit = b"[" * MAX_WEBHOOK_DEPTH + b"]" * MAX_WEBHOOK_DEPTH
    assert read_webhook_json(at_limit, integration="t") == json.loads(at_limit)
    over = b"[" + at_limit + b"]"
    with pytest.raises(WebhookBodyError):
        read_webhook_json(over, integration="t")
    with pytest.raises(WebhookBodyError, match="not JSON"):
        read_webhook_json(b'{"a": 1', integration="t")
    with pytest.raises(WebhookBodyError, match="not JSON"):
        read_webhook_json(b'{"a": ' + b"9" * 5000 + b"}", integration="t")
    started = time.perf_counter()
    for hostile in (b'"\\"' * 300_000, b'"' + b"\\" * 900_000, b"{" * 1_000_000):
        with pytest.raises(ChatKitError):
            read_webhook_json(hostile, integration="t")
    check_webhook_body(b'"' + b"[" * 900_000 + b'"', integration="t")  # all inside one string
    assert time.perf_counter() - started < 5


async def test_zendesk_and_hubspot_refuse_signed_depth_bombs() -> None:
    pytest.importorskip("zenpy")
    from chatkit_integrations.hubspot._client import HubSpotConfig
    from chatkit_integrations.hubspot.integration import HubSpotIntegration
    from chatkit_integrations.hubspot.webhooks import build_signed_webhook
    from chatkit_integrations.zendesk._client import ZendeskConfig
    from chatkit_integrations.zendesk.integration import ZendeskIntegration
    from chatkit_integrations.zendesk.webhooks import (
        SIGNATURE_HEADER,
        TIMESTAMP_HEADER,
        sign_webhook,
    )

    nested = b"[" * 100_000 + b"]" * 100_000
    bomb = b'{"type": "zen:event-type:user.created", "detail": ' + nested + b"}"
    zendesk = ZendeskIntegration(
        ZendeskConfig.create(
            {
                "subdomain": "acme",
                "email": "a@example.com",
                "api_token": "t",
                "webhook_secret": "s3cret",
            }
        )
    )
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    headers = {
        SIGNATURE_HEADER: sign_webhook(bomb, secret="s3cret", timestamp=stamp),
        TIMESTAMP_HEADER: stamp,
    }
    with pytest.raises(WebhookBodyError):
        await zendesk.verify_webhook(headers, bomb)

    url = "https://app.example.com/hubspot"
    hubspot = HubSpotIntegration(
        HubSpotConfig.create({"access_token": "t", "client_secret": "c", "webhook_url": url})
    )
    delivery = build_signed_webhook(nested, client_secret="c", url=url)
    with pytest.raises(WebhookBodyError):
        await hubspot.verify_webhook(delivery.headers, delivery.body)


# -- outbound ---------------------------------------------------------------------------


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every host a TCP connection was attempted to; only loopback ones go through."""
    attempts: list[str] = []
    real = anyio.connect_tcp

    async def recording(remote_host: Any, remote_port: int, **kwargs: Any) -> Any:
        attempts.append(str(remote_host))
        try:
            loopback = ipaddress.ip_address(str(remote_host)).is_loopback
        except ValueError:
            loopback = str(remote_host) == "localhost"
        if not loopback:
            raise ConnectionRefusedError(f"test guard: no traffic to {remote_host}")
        return await real(remote_host, remote_port, **kwargs)

    monkeypatch.setattr(anyio, "connect_tcp", recording)
    return attempts


class _Receiver:
    """A real HTTP server on a loopback address that records what it is sent."""

    def __init__(self, host: str, *, redirect_to: str | None = None) -> None:
        received = self.received = []  # type: list[tuple[str, bytes]]

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append((self.path, self.rfile.read(length)))
                if redirect_to is not None:
                    self.send_response(307)
                    self.send_header("Location", redirect_to)
                else:
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[list[_Receiver]]:
    made: list[_Receiver] = []
    yield made
    for receiver in made:
        receiver.close()


def _rules(url: str) -> RuleSet:
    return RuleSet.from_list(
        [
            {
                "name": "hook",
                "on": "message.received",
                "then": [{"type": "webhook", "url": url, "payload": {"who": "{{ contact.name }}"}}],
            }
        ]
    )


async def _fire(
    tmp_path: Path, url: str, webhooks: WebhookSettings | None = None
) -> AutomationActionTaken:
    settings = ChatKitSettings(automation_rules=_rules(url), webhooks=webhooks or WebhookSettings())
    async with AsyncChatKit(
        f"sqlite:///{tmp_path / uuid.uuid4().hex}.db", settings=settings
    ) as kit:
        await kit.messages.receive(channel="web", sender="w1", name="Ada", text="hi")
        await kit.automation.drain()
        events = (await kit.events.list(limit=100)).items
    [taken] = [e for e in events if isinstance(e, AutomationActionTaken)]
    return taken


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/hook",
        "http://[::1]:9/hook",
        "https://[::ffff:169.254.169.254]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "https://[fe80::1]/hook",
        "https://224.0.0.1/hook",
    ],
)
async def test_webhooks_to_non_public_addresses_are_refused_before_connecting(
    tmp_path: Path, connections: list[str], url: str
) -> None:
    taken = await _fire(tmp_path, url)
    assert not taken.ok
    assert taken.error is not None
    assert taken.error.startswith("WebhookTargetError")
    assert connections == []


async def test_a_host_name_that_resolves_to_loopback_is_refused(
    tmp_path: Path, connections: list[str], receivers: list[_Receiver]
) -> None:
    receiver = _Receiver("127.0.0.1")
    receivers.append(receiver)
    taken = await _fire(tmp_path, f"http://localhost:{receiver.port}/hook")
    assert not taken.ok
    assert taken.error is not None
    assert "127.0.0.1" in taken.error
    assert receiver.received == []
    assert connections == []


async def test_private_targets_are_reached_only_when_allowed(
    tmp_path: Path, connections: list[str], receivers: list[_Receiver]
) -> None:
    receiver = _Receiver("127.0.0.1")
    receivers.append(receiver)
    url = f"http://127.0.0.1:{receiver.port}/hook"
    allowed = await _fire(tmp_path, url, WebhookSettings(allowed_networks=("127.0.0.1/32",)))
    assert (allowed.ok, allowed.detail) == (True, "200")
    assert json.loads(receiver.received[-1][1])["data"] == {"who": "Ada"}
    by_name = await _fire(
        tmp_path, f"http://localhost:{receiver.port}/x", WebhookSettings(allow_private_targets=True)
    )
    assert by_name.ok
    assert [path for path, _ in receiver.received] == ["/hook", "/x"]
    other = await _fire(tmp_path, url, WebhookSettings(allowed_networks=("10.0.0.0/8",)))
    assert not other.ok
    assert len(receiver.received) == 2


async def test_a_redirect_to_a_private_target_is_refused_at_that_hop(
    tmp_path: Path, connections: list[str], receivers: list[_Receiver]
) -> None:
    inner = _Receiver("127.0.0.2")
    outer = _Receiver("127.0.0.1", redirect_to=f"http://127.0.0.2:{inner.port}/internal")
    receivers.extend([inner, outer])
    url = f"http://127.0.0.1:{outer.port}/hook"
    only_first = WebhookSettings(allowed_networks=("127.0.0.1/32",))
    taken = await _fire(tmp_path, url, only_first)
    assert not taken.ok
    assert taken.error is not None
    assert taken.error.startswith("WebhookTargetError")
    assert "127.0.0.2" in taken.error
    assert len(outer.received) == 1
    assert inner.received == []
    assert "127.0.0.2" not in connections
    both = await _fire(tmp_path, url, WebhookSettings(allowed_networks=("127.0.0.0/8",)))
    assert both.ok
    assert [path for path, _ in inner.received] == ["/internal"]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("::ffff:93.184.216.34", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.251", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("ff02::1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


def test_allowed_networks_are_validated() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="not a network"):
        WebhookSettings(allowed_networks=("intranet",))
