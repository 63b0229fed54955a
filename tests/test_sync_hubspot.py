"""Two-way sync with HubSpot end to end: kit.sync, hubspot-api-client, the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("hubspot")
pytest.importorskip("starlette")

from chatkit import AsyncChatKit, Author
from chatkit.models import ConversationStatus, MessageKind, Priority
from chatkit_integrations.hubspot.emulator import HubSpotEmulator
from chatkit_integrations.hubspot.integration import (
    HubSpotConfig,
    HubSpotIntegration,
)

pytestmark = pytest.mark.anyio

HOOK_URL = "https://support.example.com/hooks/hubspot"


@pytest.fixture
def hubspot() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(access_token="hs-token", client_secret="hs-client-secret") as emulator:
        yield emulator


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[AsyncChatKit]:
    async with AsyncChatKit(f"sqlite:///{tmp_path / 'hubspot.db'}") as kit:
        yield kit


def integration(hubspot: HubSpotEmulator) -> HubSpotIntegration:
    return HubSpotIntegration(
        HubSpotConfig.create(
            {
                "access_token": "hs-token",
                "host": hubspot.url,
                "client_secret": "hs-client-secret",
                "webhook_url": HOOK_URL,
            }
        )
    )


def ticket_of(hubspot: HubSpotEmulator, conversation_id: str) -> dict[str, Any]:
    [ticket] = hubspot.state.find("tickets", "chatkit_id", conversation_id)
    return ticket


async def test_both_ways_end_to_end(kit: AsyncChatKit, hubspot: HubSpotEmulator) -> None:
    contact = await kit.contacts.create(
        name="Ada Lovelace", identities=[("email", "ada@example.com")]
    )
    conversation = await kit.conversations.create(contact_id=contact.id, subject="Late order")
    await kit.messages.send(
        conversation.id, "Where is my order?", author=Author.customer(contact.id)
    )
    async with kit.sync.engine(integration(hubspot)) as engine:
        first = await engine.run_once()
        assert (first.pushed, first.dead) == (3, 0)
        ticket = ticket_of(hubspot, conversation.id)
        [person] = hubspot.state.find("contacts", "chatkit_id", contact.id)
        assert person["properties"]["email"] == "ada@example.com"
        assert [
            a["toObjectId"] for a in hubspot.state.associated("tickets", ticket["id"], "contacts")
        ] == [int(person["id"])]

        hubspot.reset_calls()
        await engine.run_once()
        assert hubspot.write_calls() == 0  # a quiet cycle writes nothing

        # An agent closes the ticket and writes a note in HubSpot.
        hubspot.state.update("tickets", ticket["id"], {"hs_pipeline_stage": "4"}, source="CRM_UI")
        note = hubspot.state.create(
            "notes",
            {"hs_note_body": "Refund approved", "hs_timestamp": "2026-12-01T05:00:00Z"},
            source="CRM_UI",
        )
        hubspot.state.associate_default("notes", note["id"], "tickets", ticket["id"])
        report = await engine.run_once()
        assert report.pulled == 2
        assert (await kit.conversations.get(conversation.id)).status is ConversationStatus.RESOLVED
        notes = [
            m
            for m in (await kit.messages.list(conversation.id)).items
            if m.kind is MessageKind.NOTE
        ]
        assert [m.text for m in notes] == ["Refund approved"]

        # A webhook brings a priority change at once.
        hubspot.take_events()
        hubspot.state.update(
            "tickets", ticket["id"], {"hs_ticket_priority": "HIGH"}, source="CRM_UI"
        )
        delivery = hubspot.signed_webhook(url=HOOK_URL)
        applied = await engine.handle_webhook(delivery.headers, delivery.body)
        assert applied.pulled == 1
        assert (await kit.conversations.get(conversation.id)).priority is Priority.HIGH
        assert (await engine.handle_webhook(delivery.headers, delivery.body)).pulled == 0
    status = await kit.sync.status("hubspot")
    assert (status.pending, status.dead, status.parked) == (0, 0, None)


async def test_a_daily_limit_parks_and_a_passing_check_resumes(
    kit: AsyncChatKit, hubspot: HubSpotEmulator
) -> None:
    contact = await kit.contacts.create(name="Ada", identities=[("email", "ada@example.com")])
    await kit.conversations.create(contact_id=contact.id)
    hubspot.fail_next(429, times=1, policy="DAILY", retry_after=0.2)
    async with kit.sync.engine(integration(hubspot)) as engine:
        assert (await engine.run_once()).parked == "quota_exhausted"
        calls = hubspot.calls()
        assert (await engine.run_once()).parked == "quota_exhausted"
        assert hubspot.calls() == calls  # parked: the vendor is left alone
        status = await kit.sync.status("hubspot")
        assert status.parked_until is not None
        await kit.sync.resume("hubspot")
        report = await engine.run_once()
    assert report.parked is None
    assert report.pushed == 2


def test_the_cli_syncs_through_the_entry_point(hubspot: HubSpotEmulator, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from chatkit import ChatKit
    from chatkit.cli import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    with ChatKit(url) as kit:
        ada = kit.contacts.create(name="Ada", identities=[("email", "ada@example.com")])
        conversation = kit.conversations.create(contact_id=ada.id)
        kit.messages.send(conversation.id, "Hello", author=Author.customer(ada.id))
    env = {
        "COLUMNS": "250",
        "CHATKIT_HUBSPOT_ACCESS_TOKEN": "hs-token",
        "CHATKIT_HUBSPOT_HOST": hubspot.url,
    }
    result = CliRunner().invoke(app, ["sync", "run", "hubspot", "--url", url], env=env)
    assert result.exit_code == 0, result.output
    assert ticket_of(hubspot, conversation.id)["properties"]["chatkit_id"] == conversation.id
    status = CliRunner().invoke(app, ["sync", "status", "hubspot", "--url", url], env=env)
    assert "running" in status.output
