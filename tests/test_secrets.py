"""Secrets never show: credentials in URLs are masked in reprs, errors, the CLI, logs and events."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from typer.testing import CliRunner

from chatkit import AsyncChatKit, ChatKitSettings, RuleSet
from chatkit.cli import app
from chatkit.errors import StoreError, TransportError
from chatkit.events import AutomationActionTaken, NotificationFailed
from chatkit.notifications import (
    Notification,
    NotificationSettings,
    Notifier,
    PermanentNotificationError,
)
from chatkit.redact import mask_text, mask_url
from chatkit.services.notifications import Notifications
from chatkit.webhooks import WebhookSettings
from tests.services import drop_schema, fresh_schema, postgres_or_skip, redis_or_skip

SECRET = "hunter2-s3cr3t"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        (
            "postgresql://u@h/db?password=X&sslmode=require",
            "postgresql://u@h/db?password=***&sslmode=require",
        ),
        ("postgresql://u@h/db?PassWord=X", "postgresql://u@h/db?PassWord=***"),
        ("postgresql://u@h/db?sslpassword=X", "postgresql://u@h/db?sslpassword=***"),
        ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
        ("redis://default:pw@h:6379/0?namespace=a", "redis://default:***@h:6379/0?namespace=a"),
        ("https://h/x?token=T&a=1", "https://h/x?token=***&a=1"),
        ("https://h/x?a=1&Access_Token=T", "https://h/x?a=1&Access_Token=***"),
        ("https://h/x?client_secret=T;sig=S", "https://h/x?client_secret=***;sig=***"),
        ("https://h/x?api-key=T&apikey=U&key=V", "https://h/x?api-key=***&apikey=***&key=***"),
        ("https://h/x?pwd=T&passwd=U&auth=V", "https://h/x?pwd=***&passwd=***&auth=***"),
        ("https://h/x?signature=T&credentials=U", "https://h/x?signature=***&credentials=***"),
        ("https://h/x?to%6Ben=T", "https://h/x?to%6Ben=***"),
        ("https://h/cb#access_token=T&state=s", "https://h/cb#access_token=***&state=s"),
        ("https://ghp_token@h/repo", "https://***@h/repo"),
        ("https://h/x?monkey=1&keys=2&token=", "https://h/x?monkey=1&keys=2&token="),
        ("sqlite:///tmp/support.db", "sqlite:///tmp/support.db"),
        ("not a url", "not a url"),
        ("http://[::1/x?token=T", "http://[::1/x?token=***"),
    ],
)
def test_mask_url_masks_every_form_and_keeps_the_rest(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_mask_text_masks_urls_inside_messages() -> None:
    text = "Server error '500' for url 'http://127.0.0.1:9/h?token=T'\nsee https://x/y"
    assert (
        mask_text(text)
        == "Server error '500' for url 'http://127.0.0.1:9/h?token=***'\nsee https://x/y"
    )


def test_postgres_password_in_the_query_is_masked_in_repr() -> None:
    kit = AsyncChatKit(f"postgresql://app@db.example/support?password={SECRET}&schema=s")
    assert SECRET not in repr(kit)
    assert "password=***" in repr(kit)
    assert SECRET not in repr(kit.store)


@pytest.mark.anyio
async def test_postgres_password_in_the_query_is_masked_in_store_errors() -> None:
    kit = AsyncChatKit(f"postgresql://app@127.0.0.1:1/db?password={SECRET}&connect_timeout=1")
    with pytest.raises(StoreError) as caught:
        await kit.open()
    assert "127.0.0.1:1" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert "password=***" in str(caught.value)


@pytest.mark.anyio
async def test_a_real_postgres_server_keeps_the_password_out_of_repr() -> None:
    server = postgres_or_skip()
    sep = "&" if "?" in server else "?"
    schema = fresh_schema()  # never the shared public schema, which other versions may have made
    kit = AsyncChatKit(f"{server}{sep}schema={schema}&password={SECRET}")
    try:
        async with kit:  # trust authentication: the password is sent and ignored
            assert SECRET not in repr(kit)
    finally:
        drop_schema(server, schema)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://app@127.0.0.1:1/db?password={SECRET}&connect_timeout=1",
        f"postgresql://app:{SECRET}@127.0.0.1:1/db?connect_timeout=1",
    ],
)
def test_the_cli_masks_store_passwords_in_its_errors(url: str) -> None:
    result = CliRunner().invoke(app, ["migrate", "--url", url])
    assert result.exit_code != 0
    assert "127.0.0.1" in result.output
    assert SECRET not in result.output


def test_the_cli_masks_a_malformed_sqlite_url() -> None:
    result = CliRunner().invoke(app, ["migrate", "--url", f"sqlite://u:{SECRET}@host/x.db"])
    assert result.exit_code != 0
    assert "expected sqlite" in result.output
    assert SECRET not in result.output


@pytest.mark.anyio
async def test_redis_passwords_are_masked_in_repr_and_errors() -> None:
    pytest.importorskip("redis")
    for url in (f"redis://:{SECRET}@127.0.0.1:1/0", f"redis://default:{SECRET}@127.0.0.1:1/0"):
        kit = AsyncChatKit("memory://", transport=url)
        assert SECRET not in repr(kit._core.transport)
        with pytest.raises(TransportError) as caught:
            await kit.open()
        assert "127.0.0.1:1" in str(caught.value)
        assert SECRET not in str(caught.value)


@pytest.mark.anyio
async def test_a_redis_password_in_the_query_is_masked_in_repr_and_errors() -> None:
    pytest.importorskip("redis")
    from chatkit.transports.redis import RedisTransport

    transport = RedisTransport(f"redis://127.0.0.1:1/0?password={SECRET}")
    assert SECRET not in repr(transport)
    assert "password=***" in repr(transport)
    kit = AsyncChatKit("memory://", transport=transport)
    with pytest.raises(TransportError) as caught:
        await kit.open()
    assert SECRET not in str(caught.value)


@pytest.mark.anyio
async def test_a_real_redis_connection_keeps_the_password_out_of_repr() -> None:
    pytest.importorskip("redis")
    server = redis_or_skip()  # no password set: the default user takes any
    host = server.split("://", 1)[1]
    async with AsyncChatKit("memory://", transport=f"redis://default:{SECRET}@{host}") as kit:
        assert SECRET not in repr(kit._core.transport)
        assert "default:***@" in repr(kit._core.transport)


class _Failing(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).hits.append(self.path)
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the server's own access log is not what is tested."""


@pytest.fixture
def failing_server() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 answering every POST with 500."""
    _Failing.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _leaks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if SECRET in r.getMessage() or SECRET in str(r.args)
    ] + ([caplog.text] if SECRET in caplog.text else [])


@pytest.mark.anyio
async def test_a_failing_webhook_never_shows_its_token(
    failing_server: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    url = f"{failing_server}/hook?token={SECRET}&team=support"
    rules = RuleSet.from_list(
        [{"name": "crm", "on": "message.received", "then": [{"type": "webhook", "url": url}]}]
    )
    caplog.set_level(logging.DEBUG)
    # The test server is on loopback, which automation webhooks refuse unless allowed.
    settings = ChatKitSettings(
        automation_rules=rules,
        webhooks=WebhookSettings(allowed_networks=("127.0.0.1/32",)),
    )
    async with AsyncChatKit(f"sqlite:///{tmp_path / 'support.db'}", settings=settings) as kit:
        await kit.messages.receive(channel="web", sender="w1", text="hi")
        await kit.automation.drain()
        events = (await kit.events.list(limit=1000)).items
    assert len(_Failing.hits) == 3  # the server was really called (and retried)
    assert all(SECRET in hit for hit in _Failing.hits)  # the token itself is still sent
    (taken,) = [e for e in events if isinstance(e, AutomationActionTaken)]
    assert (taken.ok, taken.action) == (False, "webhook")
    assert taken.error is not None
    assert "500" in taken.error
    assert SECRET not in taken.error
    assert "token=***" in taken.error
    assert SECRET not in taken.model_dump_json()
    httpx_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert len(httpx_lines) == 3
    assert all("token=***" in line for line in httpx_lines)
    assert any(
        r.name.startswith("chatkit") and r.levelno == logging.WARNING for r in caplog.records
    )
    assert _leaks(caplog) == []


class _WebhookNotifier(Notifier):
    """A notifier posting to a webhook, as the notifications guide shows."""

    name = "hook"

    def __init__(self, webhook_url: str) -> None:
        self.webhook_url = webhook_url

    async def send(self, notification: Notification) -> None:
        async with httpx.AsyncClient() as client:
            reply = await client.post(self.webhook_url, json={"text": notification.text})
            try:
                reply.raise_for_status()
            except httpx.HTTPStatusError as exc:
                raise PermanentNotificationError(str(exc), notifier=self.name) from exc


@pytest.mark.anyio
async def test_a_failing_notification_webhook_never_shows_its_token(
    failing_server: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    async with AsyncChatKit(f"sqlite:///{tmp_path / 'support.db'}") as kit:
        inbound = await kit.messages.receive(channel="email", sender="ayse@example.com", text="hi")
        await kit.agents.create(name="Mia Kim", email="mia@acme.test")
        notifications = Notifications(kit._core, NotificationSettings(retry_delay=0))
        notifications.register(_WebhookNotifier(f"{failing_server}/slack?sig={SECRET}"))
        await kit.tickets.create(conversation_id=inbound.conversation.id, subject="Late parcel")
        await notifications.drain()
        failed = [
            e
            for e in (await kit.events.list(limit=1000)).items
            if isinstance(e, NotificationFailed)
        ]
    assert _Failing.hits
    assert failed
    for event in failed:
        assert "500" in event.error
        assert SECRET not in event.error
        assert "sig=***" in event.error
    assert _leaks(caplog) == []
