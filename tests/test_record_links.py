"""Links to synced CRM and help-desk records: `Integration.record_url` per
vendor, the agent API's conversation detail and the console's side panel
(a real sync against chatkit.testing's vendor, a real uvicorn server, Chromium).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")

from chatkit import AsyncChatKit, Author
from chatkit.testing import MemoryIntegration, MemoryVendor
from chatkit.web import WebSettings

from .browser import chromium, fail_on_dialog
from .webserver import serve

pytestmark = pytest.mark.anyio


def test_zendesk_links_tickets_and_users() -> None:
    pytest.importorskip("zenpy")
    from chatkit_integrations.zendesk.integration import ZendeskConfig, ZendeskIntegration

    zendesk = ZendeskIntegration(
        ZendeskConfig(subdomain="acme", email="bot@acme.test", api_token="t0ken")
    )
    assert zendesk.record_url("conversation", "4711") == (
        "https://acme.zendesk.com/agent/tickets/4711"
    )
    assert zendesk.record_url("contact", "99") == "https://acme.zendesk.com/agent/users/99"
    assert zendesk.record_url("note", "1") is None
    # an id is one path segment, whatever it holds
    assert zendesk.record_url("conversation", "1/../x?y") == (
        "https://acme.zendesk.com/agent/tickets/1%2F..%2Fx%3Fy"
    )


def test_salesforce_links_any_record_by_id() -> None:
    pytest.importorskip("simple_salesforce")
    from chatkit_integrations.salesforce.integration import (
        SalesforceConfig,
        SalesforceIntegration,
    )

    salesforce = SalesforceIntegration(
        SalesforceConfig(instance_url="https://acme.my.salesforce.com/", session_id="00D!x")
    )
    assert salesforce.record_url("conversation", "500Dn000003AbCdIAK") == (
        "https://acme.my.salesforce.com/500Dn000003AbCdIAK"
    )
    assert salesforce.record_url("contact", "003Dn000001XyZaIAK") == (
        "https://acme.my.salesforce.com/003Dn000001XyZaIAK"
    )
    assert salesforce.record_url("attachment", "x") is None


def test_hubspot_links_only_with_the_portal_id() -> None:
    pytest.importorskip("hubspot")
    from chatkit_integrations.hubspot.integration import HubSpotConfig, HubSpotIntegration

    without = HubSpotIntegration(HubSpotConfig(access_token="pat-na1-x"))
    assert without.record_url("contact", "151") is None
    hubspot = HubSpotIntegration(HubSpotConfig(access_token="pat-na1-x", portal_id="2470019"))
    assert hubspot.record_url("contact", "151") == (
        "https://app.hubspot.com/contacts/2470019/record/0-1/151"
    )
    assert hubspot.record_url("conversation", "8022") == (
        "https://app.hubspot.com/contacts/2470019/record/0-5/8022"
    )
    assert hubspot.record_url("note", "1") is None
    with pytest.raises(ValueError, match="portal_id"):
        HubSpotConfig(access_token="pat-na1-x", portal_id="24/../x")


class LinkedMemory(MemoryIntegration):
    """The in-memory vendor with a web UI of its own: cases link over https; people
    get a ``javascript:`` address, which the agent API must not pass on."""

    def record_url(self, kind: str, remote_id: str) -> str | None:
        if kind == "conversation":
            return f"https://crm.example/cases/{remote_id}"
        return f"javascript:alert({remote_id!r})"


async def test_the_side_panel_links_synced_records(tmp_path: Any) -> None:
    vendor = MemoryVendor()
    async with AsyncChatKit(f"sqlite:///{tmp_path / 'chat.db'}") as kit:
        agent = await kit.agents.create(name="Ann", role="admin")
        _, token = await kit.agents.create_token(agent.id)
        contact = await kit.contacts.create(name="Ada", identities=[("email", "ada@example.com")])
        conv = await kit.conversations.create(contact_id=contact.id)
        await kit.messages.send(conv.id, "Where is my refund?", author=Author.customer(contact.id))
        await kit.conversations.assign(conv.id, agent.id)
        integration = LinkedMemory(vendor=vendor)
        async with kit.sync.engine(integration, retry_delay=0.01) as engine:
            await engine.run_once()
        case = vendor.find("case", external_id=conv.id)
        assert case is not None

        auth = {"authorization": f"Bearer {token}"}
        # without the integration in the settings: ids only
        async with serve(kit.asgi()) as url, httpx.AsyncClient(base_url=url) as http:
            plain = await http.get(f"/v1/agent/conversations/{conv.id}", headers=auth)
        assert plain.status_code == 200, plain.text
        assert [r["url"] for r in plain.json()["context"]["external_records"]] == [None, None]

        app = kit.asgi(WebSettings(integrations=[integration]))
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
            got = await http.get(f"/v1/agent/conversations/{conv.id}", headers=auth)
            assert got.status_code == 200, got.text
            records = {r["kind"]: r for r in got.json()["context"]["external_records"]}
            assert records["conversation"]["url"] == f"https://crm.example/cases/{case['id']}"
            assert records["contact"]["url"] is None  # javascript: never leaves the server

            async with chromium() as browser:
                page = await browser.new_page()
                fail_on_dialog(page)
                await page.goto(f"{url}/console/")
                await page.fill("#token", token)
                await page.click("#signin-form button[type=submit]")
                await page.wait_for_selector("#app:not([hidden])")
                await page.click("#views [data-view=mine]")
                await page.locator(f"#inbox-list .row[data-id='{conv.id}'] .row-open").click()
                await page.wait_for_selector(".crm-record")
                link = page.locator(".crm-record a")
                assert await link.count() == 1
                assert await link.get_attribute("href") == f"https://crm.example/cases/{case['id']}"
                assert await link.get_attribute("rel") == "noopener noreferrer"
                assert await link.inner_text() == case["id"]
                items = await page.locator(".crm-record").all_inner_texts()
                assert items == [
                    f"memory: person {case['requester_id']}",
                    f"memory: case {case['id']}",
                ]
