"""Every integration passes `chatkit.testing.IntegrationContract`: the in-memory reference,
Zendesk (zenpy), Salesforce (simple-salesforce) and HubSpot (hubspot-api-client),
each against its emulator, and the guide's example plugin."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from chatkit.integrations import Integration
from chatkit.testing import IntegrationContract, MemoryIntegration, MemoryVendor

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "plugin"


class TestMemoryIntegration(IntegrationContract):
    @pytest.fixture
    async def integration(self) -> AsyncIterator[Integration]:
        async with MemoryIntegration(vendor=MemoryVendor()) as memory:
            yield memory


class TestZendesk(IntegrationContract):
    @pytest.fixture
    def emulator(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
        pytest.importorskip("zenpy")
        from chatkit_integrations.zendesk.emulator import ZendeskEmulator

        with ZendeskEmulator(
            api_token="contract-token", webhook_secret="contract-webhook-secret"
        ) as zendesk:
            for name, value in zendesk.zenpy_env().items():
                monkeypatch.setenv(name, value)
            zendesk.state.create_user(
                {"name": "chatkit", "email": "sync@example.com", "role": "agent"}
            )
            yield zendesk

    @pytest.fixture
    async def integration(self, emulator: Any) -> AsyncIterator[Integration]:
        from chatkit_integrations.zendesk.integration import ZendeskConfig, ZendeskIntegration

        config = ZendeskConfig.create(
            {
                "subdomain": "acme",
                "email": "sync@example.com",
                "api_token": "contract-token",
                "webhook_secret": "contract-webhook-secret",
                "job_poll_interval": 0,
            }
        )
        async with ZendeskIntegration(config) as zendesk:
            yield zendesk


class TestHubSpot(IntegrationContract):
    @pytest.fixture
    def emulator(self) -> Iterator[Any]:
        pytest.importorskip("hubspot")
        from chatkit_integrations.hubspot.emulator import HubSpotEmulator

        with HubSpotEmulator(access_token="contract-token", client_secret="contract") as hub:
            yield hub

    @pytest.fixture
    async def integration(self, emulator: Any) -> AsyncIterator[Integration]:
        from chatkit_integrations.hubspot.integration import HubSpotConfig, HubSpotIntegration

        config = HubSpotConfig.create(
            {
                "access_token": "contract-token",
                "host": emulator.url,
                "client_secret": "contract",
                "webhook_url": "https://example.com/hooks/hubspot",
            }
        )
        async with HubSpotIntegration(config) as hubspot:
            yield hubspot


class TestSalesforce(IntegrationContract):
    @pytest.fixture
    def emulator(self) -> Iterator[Any]:
        pytest.importorskip("simple_salesforce")
        from chatkit_integrations.salesforce.emulator import SalesforceEmulator

        with SalesforceEmulator() as org:
            yield org

    @pytest.fixture
    async def integration(self, emulator: Any) -> AsyncIterator[Integration]:
        from chatkit_integrations.salesforce.integration import (
            SalesforceConfig,
            SalesforceIntegration,
        )

        config = SalesforceConfig.create(
            {
                "instance_url": emulator.url,
                "session_id": emulator.session_id,
                "ca_bundle": emulator.ca_pem,
            }
        )
        async with SalesforceIntegration(config) as salesforce:
            yield salesforce


class TestExamplePlugin(IntegrationContract):
    """The example plugin of the guide (examples/plugin): outbound only, to a folder."""

    @pytest.fixture
    async def integration(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> AsyncIterator[Integration]:
        monkeypatch.syspath_prepend(str(EXAMPLE))
        from chatkit_example_notes import NotesConfig, NotesIntegration

        config = NotesConfig.create(
            {"folder": str(tmp_path), "signing_key": "contract-signing-key"}
        )
        async with NotesIntegration(config) as notes:
            yield notes
