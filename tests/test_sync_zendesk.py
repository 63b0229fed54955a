"""Two-way sync with Zendesk end to end: kit.sync, the zenpy integration, the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("zenpy")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from typer.testing import CliRunner

from chatkit import AsyncChatKit, Author
from chatkit.cli import app
from chatkit.models import ConversationStatus, MessageKind, Priority
from chatkit_integrations.zendesk.emulator import ZendeskEmulator
from chatkit_integrations.zendesk.integration import (
    ZendeskConfig,
    ZendeskIntegration,
)

pytestmark = pytest.mark.anyio

TOKEN = "zendesk-api-token"
SECRET = "zendesk-webhook-secret"
API_EMAIL = "sync@example.com"
SETTINGS = {
    "CHATKIT_ZENDESK_SUBDOMAIN": "chatkit",
    "CHATKIT_ZENDESK_EMAIL": API_EMAIL,
    "CHATKIT_ZENDESK_API_TOKEN": TOKEN,
    "CHATKIT_ZENDESK_WEBHOOK_SECRET": SECRET,
    "CHATKIT_ZENDESK_JOB_POLL_INTERVAL": "0",
}


@pytest.fixture
def zendesk(monkeypatch: pytest.MonkeyPatch) -> Iterator[ZendeskEmulator]:
    with ZendeskEmulator(api_token=TOKEN, webhook_secret=SECRET) as emulator:
        for name, value in {**emulator.zenpy_env(), **SETTINGS}.items():
            monkeypatch.setenv(name, value)
        emulator.state.create_user({"name": "chatkit", "email": API_EMAIL, "role": "agent"})
        yield emulator


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[AsyncChatKit]:
    async with AsyncChatKit(f"sqlite:///{tmp_path / 'zendesk.db'}") as kit:
        yield kit


def writes(zendesk: ZendeskEmulator) -> list[tuple[str, str]]:
    return [(method, path) for method, path in zendesk.state.requests if method != "GET"]


async def chat(kit: AsyncChatKit, n: int) -> list[str]:
    ids = []
    for i in range(n):
        contact = await kit.contacts.create(
            name=f"Customer {i}", identities=[("email", f"c{i}@example.com")]
        )
        conversation = await kit.conversations.create(contact_id=contact.id)
        await kit.messages.send(
            conversation.id, f"Order {i} is late", author=Author.customer(contact.id)
        )
        ids.append(conversation.id)
    return ids


def ticket_of(zendesk: ZendeskEmulator, conversation_id: str) -> dict[str, Any]:
    [ticket] = zendesk.state.find_tickets(external_id=conversation_id)
    return ticket


async def test_both_ways_end_to_end(kit: AsyncChatKit, zendesk: ZendeskEmulator) -> None:
    ids = await chat(kit, 3)
    agent = await kit.agents.create(name="Mia", email="mia@example.com")
    await kit.messages.note(ids[0], "Called the warehouse", agent_id=agent.id)
    async with kit.sync.engine(ZendeskIntegration.from_env()) as engine:
        first = await engine.run_once()
        assert first.dead == 0
        assert first.pushed == 3 + 3 + 3 + 1  # users, tickets, comments, the note
        ticket = ticket_of(zendesk, ids[0])
        comments = zendesk.state.list_comments(ticket["id"])
        assert [(c["body"], c["public"]) for c in comments][-2:] == [
            ("Order 0 is late", True),
            ("Called the warehouse", False),
        ]
        requester = zendesk.state.get_user(ticket["requester_id"])
        contact = await kit.contacts.get((await kit.conversations.get(ids[0])).contact_id)
        assert requester["external_id"] == contact.id
        assert requester["email"] == "c0@example.com"

        # Nothing changed: another run writes nothing to Zendesk.
        zendesk.state.requests.clear()
        again = await engine.run_once()
        assert writes(zendesk) == []
        assert again.pushed == 0

        # An agent works the ticket in Zendesk; the chat follows.
        zendesk.state.update_ticket(ticket["id"], {"status": "solved", "priority": "urgent"})
        zendesk.state.add_comment(ticket["id"], "It ships today")
        report = await engine.run_once()
        assert report.pulled >= 2
        conversation = await kit.conversations.get(ids[0])
        assert conversation.status is ConversationStatus.RESOLVED
        assert conversation.priority is Priority.URGENT
        texts = [(m.kind, m.text) for m in (await kit.messages.list(ids[0])).items]
        assert (MessageKind.TEXT, "It ships today") in texts

        # What we applied does not go back as a change; the transcript does go up.
        zendesk.state.requests.clear()
        await engine.run_once()
        assert all("uploads" in p or "tickets" in p for _, p in writes(zendesk))
        assert ticket_of(zendesk, ids[0])["status"] == "solved"

        # The customer answers the ticket by e-mail: it is the customer's message.
        zendesk.state.add_comment(ticket["id"], "Thanks, got it", author_id=ticket["requester_id"])
        await engine.run_once()
        last = (await kit.messages.list(ids[0])).items[-1]
        assert (last.text, last.author.role.value) == ("Thanks, got it", "customer")

        # A local change goes out.
        await kit.conversations.set_priority(ids[1], "high")
        await engine.run_once()
        assert ticket_of(zendesk, ids[1])["priority"] == "high"

    status = await kit.sync.status("zendesk")
    assert (status.pending, status.dead, status.parked) == (0, 0, None)


async def test_rate_limits_and_outages_lose_and_duplicate_nothing(
    kit: AsyncChatKit, zendesk: ZendeskEmulator
) -> None:
    ids = await chat(kit, 12)
    zendesk.fail_next(429, times=2, retry_after=0)
    zendesk.fail_next(500, times=1, after=3)
    async with kit.sync.engine(ZendeskIntegration.from_env(), retry_delay=0.01) as engine:
        for _ in range(5):
            await engine.run_once()
    for conversation_id in ids:
        ticket = ticket_of(zendesk, conversation_id)  # exactly one each
        bodies = [c["body"] for c in zendesk.state.list_comments(ticket["id"])]
        assert bodies.count(f"Order {ids.index(conversation_id)} is late") == 1
    status = await kit.sync.status("zendesk")
    assert (status.pending, status.dead) == (0, 0)


async def test_refused_credentials_park_the_integration(
    kit: AsyncChatKit, zendesk: ZendeskEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    await chat(kit, 1)
    monkeypatch.setenv("CHATKIT_ZENDESK_API_TOKEN", "wrong-token")
    async with kit.sync.engine(ZendeskIntegration.from_env()) as engine:
        report = await engine.run_once()
    assert report.parked == "auth_failed"
    status = await kit.sync.status("zendesk")
    assert status.parked == "auth_failed"
    assert "wrong-token" not in (status.parked_detail or "")
    assert (
        zendesk.state.find_tickets(external_id=(await kit.conversations.list()).items[0].id) == []
    )


async def test_webhooks_apply_once(kit: AsyncChatKit, zendesk: ZendeskEmulator) -> None:
    [conversation_id] = await chat(kit, 1)
    async with kit.sync.engine(ZendeskIntegration.from_env()) as engine:
        await engine.run_once()
        ticket = ticket_of(zendesk, conversation_id)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "type": "zen:event-type:ticket.comment_added",
            "account_id": 1,
            "id": "5b3c9a1e-0000-4000-8000-000000000001",
            "time": now,
            "zendesk_event_version": "2022-11-06",
            "subject": f"zen:ticket:{ticket['id']}",
            "detail": {
                "id": str(ticket["id"]),
                "external_id": conversation_id,
                "subject": ticket["subject"],
                "status": "PENDING",
                "priority": "NORMAL",
                "tags": [],
                "requester_id": str(ticket["requester_id"]),
                "updated_at": now,
            },
            "event": {
                "comment": {
                    "id": "99000001",
                    "body": "We are on it",
                    "is_public": True,
                    "author": {"id": "1", "is_staff": True, "name": "Agent Smith"},
                }
            },
        }
        delivery = zendesk.signed_webhook(event)
        first = await engine.handle_webhook(delivery.headers, delivery.body)
        second = await engine.handle_webhook(delivery.headers, delivery.body)
    assert first.pulled == 2  # the status and the comment
    assert second.pulled == 0
    conversation = await kit.conversations.get(conversation_id)
    assert conversation.status is ConversationStatus.PENDING
    messages = (await kit.messages.list(conversation_id)).items
    assert [m.text for m in messages].count("We are on it") == 1
    assert messages[-1].metadata["sync"] == {
        "integration": "zendesk",
        "remote_id": "99000001",
        "author_name": "Agent Smith",
    }


def test_the_cli_syncs_through_the_entry_point(zendesk: ZendeskEmulator, tmp_path: Path) -> None:
    from chatkit import ChatKit

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    with ChatKit(url) as kit:
        ada = kit.contacts.create(name="Ada", identities=[("email", "ada@example.com")])
        conversation = kit.conversations.create(contact_id=ada.id)
        kit.messages.send(conversation.id, "Hello", author=Author.customer(ada.id))
    runner = CliRunner()
    listed = runner.invoke(app, ["integrations", "list"], env={"COLUMNS": "250"})
    assert "zendesk" in listed.output
    result = runner.invoke(app, ["sync", "run", "zendesk", "--url", url], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert ticket_of(zendesk, conversation.id)["external_id"] == conversation.id
    status = runner.invoke(app, ["sync", "status", "zendesk", "--url", url], env={"COLUMNS": "250"})
    assert "running" in status.output


def test_config_types_from_the_environment() -> None:
    config = ZendeskConfig.from_env("zendesk", environ=SETTINGS)
    assert config.job_poll_interval == 0
    assert TOKEN not in repr(config)
