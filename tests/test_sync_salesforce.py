"""Two-way sync with Salesforce end to end: kit.sync, simple-salesforce over HTTPS, the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("simple_salesforce")
pytest.importorskip("trustme")

from chatkit import AsyncChatKit, Author
from chatkit.models import ConversationStatus, MessageKind, Priority
from chatkit_integrations.salesforce.emulator import SalesforceEmulator
from chatkit_integrations.salesforce.integration import (
    SalesforceConfig,
    SalesforceIntegration,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def org() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator() as emulator:
        yield emulator


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[AsyncChatKit]:
    async with AsyncChatKit(f"sqlite:///{tmp_path / 'salesforce.db'}") as kit:
        yield kit


def integration(org: SalesforceEmulator, **overrides: Any) -> SalesforceIntegration:
    values = {
        "instance_url": org.url,
        "session_id": org.session_id,
        "ca_bundle": org.ca_pem,
        "api_user_id": org.state.api_user_id,
        **overrides,
    }
    return SalesforceIntegration(SalesforceConfig.create(values))


async def test_both_ways_end_to_end(kit: AsyncChatKit, org: SalesforceEmulator) -> None:
    ada = await kit.contacts.create(name="Ada Lovelace", identities=[("email", "ada@example.com")])
    chat = await kit.conversations.create(contact_id=ada.id, subject="Late order")
    await kit.messages.send(chat.id, "Where is my order?", author=Author.customer(ada.id))
    agent = await kit.agents.create(name="Mia", email="mia@example.com")
    await kit.messages.note(chat.id, "VIP customer", agent_id=agent.id)
    async with kit.sync.engine(integration(org)) as engine:
        first = await engine.run_once()
        assert (first.pushed, first.dead) == (4, 0)
        case = org.state.by_external_id("Case", "Chatkit_Id__c", chat.id)
        contact = org.state.by_external_id("Contact", "Chatkit_Id__c", ada.id)
        assert case is not None
        assert contact is not None
        assert case["ContactId"] == contact["Id"]
        comments = org.state.find("CaseComment", ParentId=case["Id"])
        assert {(c["CommentBody"], c["IsPublished"]) for c in comments} == {
            ("Where is my order?", True),
            ("VIP customer", False),
        }

        org.state.reset_calls()
        await engine.run_once()
        assert org.state.write_count() == 0  # a quiet cycle writes nothing

        # An agent works the case in Salesforce.
        org.state.update("Case", case["Id"], {"Status": "Closed", "Priority": "High"})
        org.state.create(
            "CaseComment", {"ParentId": case["Id"], "CommentBody": "Refunded", "IsPublished": True}
        )
        report = await engine.run_once()
        assert report.pulled == 2
        conversation = await kit.conversations.get(chat.id)
        assert conversation.status is ConversationStatus.RESOLVED
        assert conversation.priority is Priority.HIGH
        texts = [(m.kind, m.text) for m in (await kit.messages.list(chat.id)).items]
        assert (MessageKind.TEXT, "Refunded") in texts

        # Resolved: the transcript goes to the case as a file.
        await engine.run_once()
        files = org.state.all("ContentVersion")
        assert len(files) == 1
    status = await kit.sync.status("salesforce")
    assert (status.pending, status.dead, status.parked) == (0, 0, None)


async def test_a_used_up_daily_limit_parks(kit: AsyncChatKit, org: SalesforceEmulator) -> None:
    ada = await kit.contacts.create(name="Ada", identities=[("email", "ada@example.com")])
    await kit.conversations.create(contact_id=ada.id)
    org.fail_next(403, times=1)  # REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.
    async with kit.sync.engine(integration(org)) as engine:
        report = await engine.run_once()
    assert report.parked == "quota_exhausted"
    status = await kit.sync.status("salesforce")
    assert status.parked_until is not None
    assert org.state.all("Contact") == []


def test_the_cli_syncs_through_the_entry_point(org: SalesforceEmulator, tmp_path: Path) -> None:
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
        "CHATKIT_SALESFORCE_INSTANCE_URL": org.url,
        "CHATKIT_SALESFORCE_SESSION_ID": org.session_id,
        "CHATKIT_SALESFORCE_CA_BUNDLE": org.ca_pem,
    }
    result = CliRunner().invoke(app, ["sync", "run", "salesforce", "--url", url], env=env)
    assert result.exit_code == 0, result.output
    assert org.state.by_external_id("Case", "Chatkit_Id__c", conversation.id) is not None
    status = CliRunner().invoke(app, ["sync", "status", "salesforce", "--url", url], env=env)
    assert "running" in status.output
