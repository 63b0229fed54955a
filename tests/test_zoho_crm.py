"""Zoho CRM: the emulator's shapes, the contract suite, and two-way sync end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("starlette")

from chatkit import AsyncChatKit, Author
from chatkit.errors import (
    IntegrationAuthError,
    IntegrationConfigError,
    PermanentIntegrationError,
    RetryableIntegrationError,
    WebhookVerificationError,
)
from chatkit.integrations import ChangeAction, OutboundChange, PushStatus, SyncObject
from chatkit.models import ConversationStatus, MessageKind, Priority
from chatkit.testing import IntegrationContract
from chatkit_integrations.zoho_crm._client import ZohoHTTPError, api_domain_for, classify
from chatkit_integrations.zoho_crm.emulator import ZohoCRMEmulator
from chatkit_integrations.zoho_crm.integration import ZohoCRMConfig, ZohoCRMIntegration

pytestmark = pytest.mark.anyio

HOOK = "https://support.example.com/hooks/zoho"
TOKEN = "chan-secret-42"


@pytest.fixture
def zoho() -> Iterator[ZohoCRMEmulator]:
    with ZohoCRMEmulator() as emulator:
        yield emulator


def settings(zoho: ZohoCRMEmulator, **extra: Any) -> ZohoCRMConfig:
    return ZohoCRMConfig.create(
        {
            "client_id": zoho.client_id,
            "client_secret": zoho.client_secret,
            "refresh_token": zoho.refresh_token,
            "accounts_url": zoho.url,
            "notify_url": HOOK,
            "channel_token": TOKEN,
            **extra,
        }
    )


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[AsyncChatKit]:
    async with AsyncChatKit(f"sqlite:///{tmp_path / 'zoho.db'}") as kit:
        yield kit


class TestZohoCRMContract(IntegrationContract):
    @pytest.fixture
    async def integration(self, zoho: ZohoCRMEmulator) -> AsyncIterator[ZohoCRMIntegration]:
        async with ZohoCRMIntegration(settings(zoho)) as integration:
            yield integration


# -- the emulator answers in Zoho's shapes -------------------------------------------


def _token(zoho: ZohoCRMEmulator) -> str:
    answer = httpx.post(
        f"{zoho.url}/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": zoho.client_id,
            "client_secret": zoho.client_secret,
            "refresh_token": zoho.refresh_token,
        },
    )
    body = answer.json()
    assert set(body) >= {"access_token", "api_domain", "token_type", "expires_in"}
    return str(body["access_token"])


def test_upsert_answers_per_record_with_partial_failure(zoho: ZohoCRMEmulator) -> None:
    """Upsert answers one entry per record, in the API reference's shape.

    Source: zoho.com/crm/developer/docs/api/v7/upsert-records.html, "Sample Response"
    (code, duplicate_field, action, details {Modified_Time, Modified_By, Created_Time, id,
    Created_By}, message, status) and "Possible Errors"; 207 for a partial success from
    zoho.com/crm/developer/docs/api/v8/status-codes.html.
    """
    auth = {"Authorization": f"Zoho-oauthtoken {_token(zoho)}"}
    records = [
        {"Last_Name": "Boyle", "Email": "p.boyle@zylker.com", "Chatkit_Id": "ct_1"},
        {"Last_Name": "Bad", "Email": "not-an-email", "Chatkit_Id": "ct_2"},
        {"Email": "x@zylker.com", "Chatkit_Id": "ct_3"},
    ]
    body = {"data": records, "duplicate_check_fields": ["Chatkit_Id"]}
    answer = httpx.post(f"{zoho.url}/crm/v7/Contacts/upsert", json=body, headers=auth)
    assert answer.status_code == 207
    ok, bad, missing = answer.json()["data"]
    assert list(ok) == ["code", "duplicate_field", "action", "details", "message", "status"]
    assert (ok["code"], ok["action"], ok["status"]) == ("SUCCESS", "insert", "success")
    assert (ok["duplicate_field"], ok["message"]) == (None, "record added")
    assert set(ok["details"]["Created_By"]) == {"name", "id"}
    assert set(ok["details"]) == {
        "Modified_Time",
        "Modified_By",
        "Created_Time",
        "id",
        "Created_By",
    }
    assert bad["code"] == "INVALID_DATA"
    assert bad["details"]["json_path"] == "$.data[1].Email"
    assert missing["code"] == "MANDATORY_NOT_FOUND"
    again = httpx.post(
        f"{zoho.url}/crm/v7/Contacts/upsert", json={**body, "data": records[:1]}, headers=auth
    )
    assert again.status_code == 200
    [update] = again.json()["data"]
    assert (update["action"], update["duplicate_field"]) == ("update", "Chatkit_Id")
    assert update["details"]["id"] == ok["details"]["id"]
    too_many = httpx.post(
        f"{zoho.url}/crm/v7/Contacts/upsert", json={"data": records[:1] * 101}, headers=auth
    )
    assert too_many.status_code == 400


# The key sets and values of the official SDK's models, from zoho/zohocrm-python-sdk-8.0,
# versions/6.0.0/zohocrmsdk/src/json_details.json (record.SuccessResponse,
# record.APIException, record.DeletedRecord, record.DeletedRecordsWrapper, record.Info).
SDK_SUCCESS_KEYS = {"code", "duplicate_field", "action", "details", "message", "status"}
SDK_SUCCESS_MESSAGES = {"record added", "record updated", "record deleted"}
SDK_ERROR_KEYS = {"code", "details", "message", "status"}
SDK_ERROR_CODES = {
    "INVALID_DATA",
    "MANDATORY_NOT_FOUND",
    "DUPLICATE_DATA",
    "INVALID_TOKEN",
    "AUTHENTICATION_FAILURE",
    "LIMIT_EXCEEDED",
    "LIMIT_REACHED",
    "REQUIRED_PARAM_MISSING",
    "INVALID_MODULE",
    "INTERNAL_ERROR",
}
SDK_ERROR_MESSAGES = {
    "invalid data",
    "duplicate data",
    "required field not found",
    "invalid oauth token",
    "the id given seems to be invalid",
    "The module name given seems to be invalid",
    "One of the expected parameter is missing",
}
SDK_DELETED_KEYS = {"deleted_by", "id", "display_name", "type", "created_by", "deleted_time"}
SDK_INFO_KEYS = {
    "call",
    "per_page",
    "next_page_token",
    "count",
    "page",
    "previous_page_token",
    "page_token_expiry",
    "email",
    "more_records",
    "sort_by",
    "sort_order",
}


def test_shapes_match_the_official_sdk_models(zoho: ZohoCRMEmulator) -> None:
    """The emulator answers with the keys, codes and messages of Zoho's own SDK models.

    Sources: zoho/zohocrm-python-sdk-8.0 ``versions/6.0.0/zohocrmsdk/src/json_details.json``
    (SuccessResponse, APIException, DeletedRecord, DeletedRecordsWrapper, Info); HTTP 201
    for insertions and 207 Multi-Status for partial success from the API reference's
    status codes page (zoho.com/crm/developer/docs/api/v8/status-codes.html); the token
    endpoint's ``{"error": "invalid_code"}`` from the help.zoho.com community thread
    "OAuth - grant_type:refresh_token - {"error":"invalid_code"}".
    """
    auth = {"Authorization": f"Zoho-oauthtoken {_token(zoho)}"}
    url = f"{zoho.url}/crm/v7/Contacts"
    inserted = httpx.post(url, json={"data": [{"Last_Name": "Ng"}]}, headers=auth)
    assert inserted.status_code == 201
    [ok] = inserted.json()["data"]
    assert set(ok) == SDK_SUCCESS_KEYS
    assert (ok["code"], ok["action"], ok["status"]) == ("SUCCESS", "insert", "success")
    assert ok["message"] in SDK_SUCCESS_MESSAGES
    contact_id = ok["details"]["id"]
    updated = httpx.put(url, json={"data": [{"id": contact_id, "First_Name": "Al"}]}, headers=auth)
    assert updated.status_code == 200
    assert updated.json()["data"][0]["message"] == "record updated"
    mixed = httpx.post(
        url,
        json={
            "data": [
                {"Last_Name": "Ok"},
                {"Email": "x@zylker.com"},
                {"Last_Name": "Bad", "Email": "no-at"},
            ]
        },
        headers=auth,
    )
    assert mixed.status_code == 207
    errors = [e for e in mixed.json()["data"] if e["status"] == "error"]
    assert len(errors) == 2
    failures = [
        *errors,
        httpx.put(url, json={"data": [{"id": "1", "Last_Name": "X"}]}, headers=auth).json()["data"][
            0
        ],
        httpx.get(url, headers=auth).json(),
        httpx.get(f"{zoho.url}/crm/v7/Leads", params={"fields": "x"}, headers=auth).json(),
        httpx.get(url, params={"fields": "Last_Name"}).json(),
    ]
    for failure in failures:
        assert set(failure) == SDK_ERROR_KEYS, failure
        assert failure["status"] == "error"
        assert failure["code"] in SDK_ERROR_CODES, failure
        assert failure["message"] in SDK_ERROR_MESSAGES, failure
    gone = httpx.delete(url, params={"ids": contact_id}, headers=auth).json()["data"][0]
    assert gone["message"] == "record deleted"
    deleted = httpx.get(f"{url}/deleted", params={"type": "all"}, headers=auth).json()
    assert set(deleted) == {"data", "info"}
    assert set(deleted["data"][0]) == SDK_DELETED_KEYS
    assert set(deleted["info"]) <= SDK_INFO_KEYS
    listed = httpx.get(url, params={"fields": "Last_Name"}, headers=auth).json()
    assert set(listed["info"]) <= SDK_INFO_KEYS
    refused = httpx.post(
        f"{zoho.url}/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": zoho.client_id,
            "client_secret": zoho.client_secret,
            "refresh_token": "1000.wrong",
        },
    )
    assert refused.json() == {"error": "invalid_code"}


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (401, "INVALID_TOKEN", IntegrationAuthError),
        (400, "AUTHENTICATION_FAILURE", IntegrationAuthError),
        (403, "OAUTH_SCOPE_MISMATCH", IntegrationAuthError),
        (429, "TOO_MANY_REQUESTS", RetryableIntegrationError),
        (500, "INTERNAL_ERROR", RetryableIntegrationError),
        (400, "INVALID_DATA", PermanentIntegrationError),
    ],
)
def test_whole_call_errors_are_classified(status: int, code: str, kind: type) -> None:
    """Whole-call error codes of the SDK's APIException map to chatkit's error kinds.

    Source of the codes: zoho/zohocrm-python-sdk-8.0
    ``versions/6.0.0/zohocrmsdk/src/json_details.json`` ("record.APIException");
    ``TOO_MANY_REQUESTS``: help.zoho.com "Kaizen #203".
    """
    body = {"code": code, "details": {}, "message": "m", "status": "error"}
    problem = classify(ZohoHTTPError(status, body))
    assert type(problem) is kind
    assert code in str(problem)


def test_lists_page_with_page_token_and_errors(zoho: ZohoCRMEmulator) -> None:
    for n in range(5):
        zoho.state.create("Contacts", {"Last_Name": f"P{n}"})
    auth = {"Authorization": f"Zoho-oauthtoken {_token(zoho)}"}
    url = f"{zoho.url}/crm/v7/Contacts"
    assert httpx.get(url, headers=auth).json()["code"] == "REQUIRED_PARAM_MISSING"
    first = httpx.get(url, params={"fields": "Last_Name", "per_page": 3}, headers=auth).json()
    assert first["info"]["more_records"] is True
    assert len(first["data"]) == 3
    second = httpx.get(
        url,
        params={
            "fields": "Last_Name",
            "per_page": 3,
            "page_token": first["info"]["next_page_token"],
        },
        headers=auth,
    ).json()
    assert second["info"]["more_records"] is False
    assert len(second["data"]) == 2
    future = httpx.get(
        url,
        params={"fields": "Last_Name"},
        headers={**auth, "If-Modified-Since": "2999-01-01T00:00:00+00:00"},
    )
    assert future.status_code == 204
    assert httpx.get(url, params={"fields": "Last_Name"}).status_code == 401
    zoho.fail_next(429, retry_after=3)
    limited = httpx.get(url, params={"fields": "Last_Name"}, headers=auth)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3"
    assert limited.headers["X-RATELIMIT-REMAINING"] == "0"


def test_data_centres_and_config_errors() -> None:
    assert api_domain_for("https://accounts.zoho.eu") == "https://www.zohoapis.eu"
    assert api_domain_for("https://accounts.zoho.com.au") == "https://www.zohoapis.com.au"
    with pytest.raises(IntegrationConfigError) as caught:
        ZohoCRMConfig.create(
            {
                "client_id": "c",
                "client_secret": "s",
                "refresh_token": "r",
                "channel_token": "x" * 51,
            }
        )
    assert "channel_token" in str(caught.value)
    assert "x" * 51 not in str(caught.value)


# -- the integration -----------------------------------------------------------------


async def test_partial_failure_is_per_record(zoho: ZohoCRMEmulator) -> None:
    zoho.state.refuse("Contacts", "Phone", "the phone number is blocked")
    changes = [
        OutboundChange(
            change_id=f"c{n}",
            object=SyncObject.CONTACT,
            local_id=f"ct_{n}",
            data={
                "name": f"Ada {n}",
                "email": f"ada{n}@example.com",
                "phone": "+1555" if n == 1 else None,
            },
        )
        for n in range(3)
    ]
    async with ZohoCRMIntegration(settings(zoho)) as integration:
        results = {r.change_id: r for r in await integration.push(changes)}
    assert [results[f"c{n}"].status for n in range(3)] == [
        PushStatus.OK,
        PushStatus.PERMANENT,
        PushStatus.OK,
    ]
    assert "blocked" in (results["c1"].error or "")
    assert zoho.calls("POST", "/crm/v7/Contacts/upsert") == 1
    assert len(zoho.state.records["Contacts"]) == 2


async def test_a_refused_token_is_refreshed_once_for_many_workers(zoho: ZohoCRMEmulator) -> None:
    import asyncio

    async with ZohoCRMIntegration(settings(zoho)) as one, ZohoCRMIntegration(settings(zoho)) as two:
        assert (await one.check()).ok
        assert zoho.state.refreshes == 1
        zoho.state.expire_tokens()  # Zoho answers 401 INVALID_TOKEN from now on
        first, second = await asyncio.gather(one.check(), two.check())
        assert first.ok
        assert second.ok
        assert zoho.state.refreshes == 2  # compare-and-set: one refresh for both


async def test_the_token_cache_file_is_shared_across_processes(
    zoho: ZohoCRMEmulator, tmp_path: Path
) -> None:
    cache = str(tmp_path / "zoho-token.json")
    async with ZohoCRMIntegration(settings(zoho, token_cache=cache)) as one:
        assert (await one.check()).ok
    from chatkit_integrations.zoho_crm import _client

    _client._SLOTS.clear()  # a second process starts with nothing in memory
    async with ZohoCRMIntegration(settings(zoho, token_cache=cache)) as two:
        assert (await two.check()).ok
    assert zoho.state.refreshes == 1
    assert (tmp_path / "zoho-token.json").stat().st_mode & 0o777 == 0o600


async def test_a_bad_refresh_token_fails_the_check(zoho: ZohoCRMEmulator) -> None:
    async with ZohoCRMIntegration(settings(zoho, refresh_token="1000.wrong")) as integration:
        status = await integration.check()
    assert status.state.value == "auth_failed"


async def test_notifications_are_checked_by_token(zoho: ZohoCRMEmulator) -> None:
    async with ZohoCRMIntegration(settings(zoho)) as integration:
        await integration.pull(None)
        [channel] = zoho.state.channels.values()
        assert channel.token == TOKEN
        assert channel.notify_url == HOOK
        assert integration.channel_expiry is not None
        calls = zoho.calls("POST", "/crm/v7/actions/watch")
        await integration.pull(None)
        assert zoho.calls("POST", "/crm/v7/actions/watch") == calls  # not yet near expiry
        record = zoho.state.create("Contacts", {"Last_Name": "Boyle", "Email": "p@zylker.com"})
        [(url, body)] = zoho.take_notifications()
        assert url == HOOK
        assert body["ids"] == [record["id"]]
        assert body["operation"] == "insert"
        import json

        [change] = await integration.verify_webhook({}, json.dumps(body).encode())
        assert change.remote_id == record["id"]
        assert change.data["email"] == "p@zylker.com"
        with pytest.raises(WebhookVerificationError):
            await integration.verify_webhook({}, json.dumps({**body, "token": "guess"}).encode())


async def test_pull_pages_and_skips_what_it_read(zoho: ZohoCRMEmulator) -> None:
    for n in range(5):
        zoho.state.create("Contacts", {"Last_Name": f"P{n}"})
    async with ZohoCRMIntegration(settings(zoho, notify_url=None)) as integration:
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            page = await integration.pull(cursor, limit=2)
            seen += [c.remote_id for c in page.changes]
            cursor = page.cursor
            if not page.has_more:
                break
        assert sorted(seen) == sorted(zoho.state.records["Contacts"])
        assert (await integration.pull(cursor)).changes == ()
        zoho.state.update("Contacts", seen[0], {"Last_Name": "Changed"})
        [change] = (await integration.pull(cursor)).changes
        assert change.data["name"] == "Changed"


# -- end to end through the sync engine ----------------------------------------------


async def test_both_ways_end_to_end(kit: AsyncChatKit, zoho: ZohoCRMEmulator) -> None:
    contact = await kit.contacts.create(
        name="Ada Lovelace", identities=[("email", "ada@example.com")]
    )
    conversation = await kit.conversations.create(contact_id=contact.id, subject="Late order")
    await kit.messages.send(
        conversation.id, "Where is my order?", author=Author.customer(contact.id)
    )
    async with kit.sync.engine(ZohoCRMIntegration(settings(zoho))) as engine:
        first = await engine.run_once()
        assert (first.pushed, first.dead) == (3, 0)
        [case] = zoho.state.find("Cases", "Chatkit_Id", conversation.id)
        [person] = zoho.state.find("Contacts", "Chatkit_Id", contact.id)
        assert (person["Email"], person["Last_Name"], person["First_Name"]) == (
            "ada@example.com",
            "Lovelace",
            "Ada",
        )
        assert case["Contact_Name"] == {"id": person["id"]}
        assert case["Subject"] == "Late order"
        [note] = zoho.state.find("Notes", "Note_Content", "Where is my order?")
        assert note["Parent_Id"]["id"] == case["id"]
        assert note["$se_module"] == "Cases"

        zoho.reset_calls()
        await engine.run_once()
        assert zoho.write_calls() == 0  # a quiet cycle writes nothing
        await engine.resync()
        await engine.run_once()
        assert zoho.write_calls() == 0  # neither does a resync of unchanged records

        zoho.state.update("Cases", case["id"], {"Status": "Closed"})
        zoho.state.create(
            "Notes",
            {
                "Note_Title": "Refund",
                "Note_Content": "Refund approved",
                "Parent_Id": {"module": {"api_name": "Cases"}, "id": case["id"]},
            },
        )
        report = await engine.run_once()
        assert report.pulled == 2
        assert (await kit.conversations.get(conversation.id)).status is ConversationStatus.RESOLVED
        notes = [
            m
            for m in (await kit.messages.list(conversation.id)).items
            if m.kind is MessageKind.NOTE
        ]
        assert [m.text for m in notes] == ["Refund approved"]

        # A notification brings a priority change at once.
        zoho.take_notifications()
        zoho.state.update("Cases", case["id"], {"Priority": "High"})
        [(_, body)] = zoho.take_notifications()
        import json

        applied = await engine.handle_webhook({}, json.dumps(body).encode())
        assert applied.pulled == 1
        assert (await kit.conversations.get(conversation.id)).priority is Priority.HIGH
    status = await kit.sync.status("zoho_crm")
    assert (status.pending, status.dead, status.parked) == (0, 0, None)


async def test_429_and_5xx_are_retried_without_duplicates(
    kit: AsyncChatKit, zoho: ZohoCRMEmulator
) -> None:
    contact = await kit.contacts.create(name="Ada", identities=[("email", "ada@example.com")])
    conversation = await kit.conversations.create(contact_id=contact.id)
    await kit.messages.send(conversation.id, "Hello", author=Author.customer(contact.id))
    async with kit.sync.engine(ZohoCRMIntegration(settings(zoho, notify_url=None))) as engine:
        zoho.fail_next(429, retry_after=0)
        await engine.run_once()
        zoho.fail_next(503, times=1)
        for _ in range(6):
            await engine.run_once()
            if (await kit.sync.status("zoho_crm")).pending == 0:
                break
    assert len(zoho.state.find("Contacts", "Chatkit_Id", contact.id)) == 1
    assert len(zoho.state.find("Cases", "Chatkit_Id", conversation.id)) == 1
    assert len(zoho.state.find("Notes", "Note_Content", "Hello")) == 1
    status = await kit.sync.status("zoho_crm")
    assert (status.pending, status.dead) == (0, 0)


async def test_a_refused_token_mid_sync_is_refreshed(
    kit: AsyncChatKit, zoho: ZohoCRMEmulator
) -> None:
    contact = await kit.contacts.create(name="Ada", identities=[("email", "ada@example.com")])
    async with kit.sync.engine(ZohoCRMIntegration(settings(zoho, notify_url=None))) as engine:
        await engine.run_once()
        await kit.contacts.update(contact.id, name="Ada King")
        zoho.state.expire_tokens()
        report = await engine.run_once()
    assert report.pushed == 1
    assert report.parked is None
    [person] = zoho.state.find("Contacts", "Chatkit_Id", contact.id)
    assert person["Last_Name"] == "King"
    assert zoho.state.refreshes == 2


async def test_delete_action_removes_the_case(zoho: ZohoCRMEmulator) -> None:
    case = zoho.state.create("Cases", {"Subject": "Old", "Chatkit_Id": "conv_1"})
    change = OutboundChange(
        change_id="d1",
        object=SyncObject.CONVERSATION,
        action=ChangeAction.DELETE,
        local_id="conv_1",
        remote_id=case["id"],
    )
    async with ZohoCRMIntegration(settings(zoho)) as integration:
        [result] = await integration.push([change])
    assert result.status is PushStatus.OK
    assert zoho.state.records["Cases"] == {}


def test_the_emulate_command_knows_zoho_crm() -> None:
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="chatkit.emulators")}
    if "zoho_crm" not in names:
        pytest.skip("this environment has not installed the package's entry points")
    assert {ep.name for ep in entry_points(group="chatkit.integrations")} >= {"zoho_crm"}


async def test_check_finds_a_missing_id_field() -> None:
    with ZohoCRMEmulator(unique_field=None) as bare:
        bare.state.create("Contacts", {"Last_Name": "Boyle"})
        async with ZohoCRMIntegration(settings(bare)) as integration:
            status = await integration.check()
            assert not status.ok
            assert "Chatkit_Id" in status.detail
            change = OutboundChange(
                change_id="c1", object=SyncObject.CONTACT, local_id="ct_1", data={"name": "Ada"}
            )
            [result] = await integration.push([change])
    assert result.status is PushStatus.PERMANENT
    assert "Chatkit_Id" in (result.error or "")
    assert len(bare.state.records["Contacts"]) == 1


async def test_a_token_is_refreshed_before_it_expires() -> None:
    # Tokens of 30 s are inside the one-minute margin: each call takes a fresh
    # one first, and Zoho never has to refuse one.
    with ZohoCRMEmulator(token_seconds=30) as short:
        async with ZohoCRMIntegration(settings(short, notify_url=None)) as integration:
            assert (await integration.check()).ok
            assert (await integration.check()).ok
    assert short.state.refreshes == 2
    assert short.state.refused_tokens == 0


def test_the_cli_syncs_through_the_entry_point(zoho: ZohoCRMEmulator, tmp_path: Path) -> None:
    from importlib.metadata import entry_points

    if "zoho_crm" not in {ep.name for ep in entry_points(group="chatkit.integrations")}:
        pytest.skip("this environment has not installed the package's entry points")
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
        "CHATKIT_ZOHO_CRM_CLIENT_ID": zoho.client_id,
        "CHATKIT_ZOHO_CRM_CLIENT_SECRET": zoho.client_secret,
        "CHATKIT_ZOHO_CRM_REFRESH_TOKEN": zoho.refresh_token,
        "CHATKIT_ZOHO_CRM_ACCOUNTS_URL": zoho.url,
    }
    result = CliRunner().invoke(app, ["sync", "run", "zoho_crm", "--url", url], env=env)
    assert result.exit_code == 0, result.output
    [case] = zoho.state.find("Cases", "Chatkit_Id", conversation.id)
    assert case["Subject"]
    assert len(zoho.state.find("Notes", "Note_Content", "Hello")) == 1


async def test_the_channel_is_renewed_before_it_expires(zoho: ZohoCRMEmulator) -> None:
    from datetime import UTC, datetime, timedelta

    async with ZohoCRMIntegration(settings(zoho)) as integration:
        await integration.pull(None)
        assert zoho.calls("POST", "/crm/v7/actions/watch") == 1
        [channel] = zoho.state.channels.values()
        assert channel.expiry - datetime.now(UTC) > timedelta(hours=22)
        # Zoho said it expires in five minutes (inside the ten-minute margin).
        integration._channel_expiry = datetime.now(UTC) + timedelta(minutes=5)
        await integration.pull(None)
        assert zoho.calls("POST", "/crm/v7/actions/watch") == 2


def test_notifications_are_posted_to_the_notify_url(zoho: ZohoCRMEmulator) -> None:
    """A subscribed channel's callbacks reach its notify URL in Zoho's callback shape.

    Source: the API reference, zoho.com/crm/developer/docs/api/v7/notifications/
    enable.html: its "Sample Response" (``watch[].details.events[]`` with channel_expiry,
    resource_uri, resource_id, resource_name, channel_id), its "Possible Errors"
    (INVALID_DATA HTTP 400 for a token over 50 characters) and its "Sample response
    received at the notification URL" (server_time, query_params, module, resource_uri,
    ids, affected_fields, operation "insert", channel_id, token).
    """
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from chatkit_integrations._server import BackgroundServer

    received: list[bytes] = []

    async def hook(request: Request) -> Response:
        received.append(await request.body())
        return Response(status_code=200)

    server = BackgroundServer(Starlette(routes=[Route("/hooks/zoho", hook, methods=["POST"])]))
    server.start()
    try:
        auth = {"Authorization": f"Zoho-oauthtoken {_token(zoho)}"}
        watch = {
            "watch": [
                {
                    "channel_id": "1000000068001",
                    "events": ["Cases.all"],
                    "token": TOKEN,
                    "notify_url": f"{server.url}/hooks/zoho",
                }
            ]
        }
        too_long = {"watch": [{**watch["watch"][0], "token": "t" * 51}]}
        refused = httpx.post(f"{zoho.url}/crm/v7/actions/watch", json=too_long, headers=auth)
        assert refused.status_code == 400
        assert refused.json()["watch"][0]["code"] == "INVALID_DATA"
        answer = httpx.post(f"{zoho.url}/crm/v7/actions/watch", json=watch, headers=auth)
        assert answer.status_code == 201
        assert set(answer.json()["watch"][0]["details"]["events"][0]) == {
            "channel_expiry",
            "resource_uri",
            "resource_id",
            "resource_name",
            "channel_id",
        }
        assert answer.json()["watch"][0]["code"] == "SUCCESS"
        case = zoho.state.create("Cases", {"Subject": "Broken"})
        assert zoho.deliver_notifications() == 1
    finally:
        server.stop()
    import json

    [body] = [json.loads(r) for r in received]
    assert list(body) == [
        "server_time",
        "query_params",
        "module",
        "resource_uri",
        "ids",
        "affected_fields",
        "operation",
        "channel_id",
        "token",
    ]
    assert (body["operation"], body["affected_fields"], body["query_params"]) == ("insert", [], {})
    assert body["resource_uri"] == "https://www.zohoapis.com/crm/v2/Cases"
    assert isinstance(body["server_time"], int)
    assert body["module"] == "Cases"
    assert body["ids"] == [case["id"]]
    assert body["token"] == TOKEN
    assert body["channel_id"] == "1000000068001"


async def test_an_edited_note_updates_its_zoho_note(zoho: ZohoCRMEmulator) -> None:
    case = zoho.state.create("Cases", {"Subject": "Refund", "Chatkit_Id": "conv_1"})

    def note(text: str, remote_id: str | None = None) -> OutboundChange:
        return OutboundChange(
            change_id=f"n-{text}",
            object=SyncObject.NOTE,
            local_id="msg_1",
            remote_id=remote_id,
            parent_local_id="conv_1",
            parent_remote_id=case["id"],
            data={"text": text},
        )

    async with ZohoCRMIntegration(settings(zoho, notify_url=None)) as integration:
        [created] = await integration.push([note("first")])
        [edited] = await integration.push([note("second", created.remote_id)])
    assert edited.status is PushStatus.OK
    assert edited.remote_id == created.remote_id
    [stored] = zoho.state.records["Notes"].values()
    assert stored["Note_Content"] == "second"
    assert stored["Note_Title"] == "Private note [msg_1]"
    assert zoho.calls("PUT", "/crm/v7/Notes") == 1


async def test_a_refused_subscription_does_not_stop_polling(zoho: ZohoCRMEmulator) -> None:
    zoho.state.create("Contacts", {"Last_Name": "Boyle"})
    async with ZohoCRMIntegration(settings(zoho)) as integration:
        await integration.check()  # the token first, so the next call is the watch
        zoho.fail_next(400)  # Zoho refuses the subscription
        page = await integration.pull(None)
        assert [c.data["name"] for c in page.changes] == ["Boyle"]
        assert zoho.state.channels == {}
        calls = zoho.calls("POST", "/crm/v7/actions/watch")
        await integration.pull(page.cursor)
        assert zoho.calls("POST", "/crm/v7/actions/watch") == calls  # not at every pull


async def test_pull_reads_deleted_contacts_and_cases(zoho: ZohoCRMEmulator) -> None:
    """Deleted records are pulled as deletions; rows are in the API reference's shape.

    Source: zoho.com/crm/developer/docs/api/v7/get-deleted-records.html, "Sample Response"
    (deleted_by, id, display_name, type, created_by, deleted_time; info per_page, count,
    page, more_records); the same keys as zoho/zohocrm-python-sdk-8.0's DeletedRecord.
    """
    case = zoho.state.create("Cases", {"Subject": "Spam", "Chatkit_Id": "conv_1"})
    async with ZohoCRMIntegration(settings(zoho, notify_url=None)) as integration:
        first = await integration.pull(None)
        assert [c.action for c in first.changes] == [ChangeAction.UPSERT]
        assert zoho.state.delete("Cases", case["id"])
        [gone] = (await integration.pull(first.cursor)).changes
        assert (gone.action, gone.object, gone.remote_id) == (
            ChangeAction.DELETE,
            SyncObject.CONVERSATION,
            case["id"],
        )
        again = await integration.pull((await integration.pull(first.cursor)).cursor)
        assert again.changes == ()
    auth = {"Authorization": f"Zoho-oauthtoken {_token(zoho)}"}
    async with httpx.AsyncClient() as client:
        answer = await client.get(
            f"{zoho.url}/crm/v7/Cases/deleted", params={"type": "all"}, headers=auth
        )
    [row] = answer.json()["data"]
    assert list(row) == ["deleted_by", "id", "display_name", "type", "created_by", "deleted_time"]
    assert set(row["deleted_by"]) == set(row["created_by"]) == {"name", "id"}
    assert answer.json()["info"] == {"per_page": 200, "count": 1, "page": 1, "more_records": False}
