"""The HubSpot emulator, driven by the vendor's real client ``hubspot-api-client`` over HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

hubspot = pytest.importorskip("hubspot")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

# The client is untyped: its models come in as attributes of the imported modules.
_v4 = pytest.importorskip("hubspot.crm.associations.v4")
_contacts = pytest.importorskip("hubspot.crm.contacts")
_notes = pytest.importorskip("hubspot.crm.objects.notes")
_tickets = pytest.importorskip("hubspot.crm.tickets")
BatchInputPublicDefaultAssociationMultiPost = _v4.BatchInputPublicDefaultAssociationMultiPost
BatchInputPublicFetchAssociationsBatchRequest = _v4.BatchInputPublicFetchAssociationsBatchRequest
ContactUpserts = _contacts.BatchInputSimplePublicObjectBatchInputUpsert
PublicObjectSearchRequest = _contacts.PublicObjectSearchRequest
SimplePublicObjectInput = _contacts.SimplePublicObjectInput
SimplePublicObjectInputForCreate = _contacts.SimplePublicObjectInputForCreate
ApiException = pytest.importorskip("hubspot.crm.contacts.exceptions").ApiException
NoteBatch = _notes.BatchInputSimplePublicObjectBatchInputForCreate
TicketBatch = _tickets.BatchInputSimplePublicObjectBatchInputForCreate

from chatkit_integrations.hubspot.emulator import HubSpotEmulator  # noqa: E402
from chatkit_integrations.hubspot.webhooks import (  # noqa: E402
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    build_signed_webhook,
    sign_v3,
    verify_v3,
)

FIXTURES = Path(
    os.environ.get(
        "CHATKIT_VENDOR_FIXTURES",
        Path(__file__).resolve().parents[2] / "shared" / "vendor-fixtures",
    )
)
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ISO_S = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
TOKEN = "pat-na1-test"


class Clock:
    """A settable clock, to give records equal or chosen timestamps."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, ms: int = 1) -> None:
        self.now += timedelta(milliseconds=ms)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(clock: Clock) -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(access_token=TOKEN, client_secret="app-secret", clock=clock) as hs:
        yield hs


@pytest.fixture
def client(emulator: HubSpotEmulator) -> Any:
    return emulator.client()


@pytest.fixture
def raw(emulator: HubSpotEmulator) -> Iterator[httpx.Client]:
    """Plain HTTP to the emulator, to check exact status codes and bodies."""
    with httpx.Client(
        base_url=emulator.url, headers={"Authorization": f"Bearer {TOKEN}"}, trust_env=False
    ) as http:
        yield http


def _same_shape(actual: Any, recorded: Any, where: str = "$") -> None:
    """Same keys at every level, same JSON types wherever both are non-null."""
    if isinstance(recorded, dict):
        assert isinstance(actual, dict), where
        assert sorted(actual) == sorted(recorded), where
        for key in recorded:
            _same_shape(actual[key], recorded[key], f"{where}.{key}")
    elif isinstance(recorded, list):
        assert isinstance(actual, list), where
        if actual and recorded:
            _same_shape(actual[0], recorded[0], f"{where}[0]")
    elif recorded is not None and actual is not None:
        assert type(actual) is type(recorded), where


def _upserts(*items: tuple[str, dict[str, str]]) -> Any:
    return ContactUpserts(
        inputs=[
            {"id": key, "idProperty": "chatkit_id", "properties": props, "objectWriteTraceId": key}
            for key, props in items
        ]
    )


# -- single objects ------------------------------------------------------------------


def test_owners_are_listed_by_page_and_email_and_own_tickets(
    client: Any, emulator: HubSpotEmulator, raw: httpx.Client
) -> None:
    ids = [emulator.state.add_owner(f"agent{i}@example.com", f"A{i}", "Agent") for i in range(3)]
    gone = emulator.state.add_owner("gone@example.com", archived=True)
    api = client.crm.owners.owners_api
    first = api.get_page(limit=2)
    assert [o.id for o in first.results] == ids[:2]
    assert first.results[0].email == "agent0@example.com"
    second = api.get_page(limit=2, after=first.paging.next.after)
    assert [o.id for o in second.results] == ids[2:]
    assert second.paging is None
    assert [o.id for o in api.get_page(email="AGENT1@example.com").results] == [ids[1]]
    assert [o.id for o in api.get_page(archived=True).results] == [gone]
    assert raw.get("/crm/v3/owners/", params={"limit": 501}).status_code == 400

    made = raw.post(
        "/crm/v3/objects/tickets",
        json={"properties": {"subject": "x", "hs_pipeline_stage": "1", "hubspot_owner_id": ids[0]}},
    )
    assert made.status_code == 201
    ticket = made.json()["id"]
    for refused in (gone, "999"):
        answer = raw.patch(
            f"/crm/v3/objects/tickets/{ticket}", json={"properties": {"hubspot_owner_id": refused}}
        )
        assert answer.status_code == 400
        assert answer.json()["category"] == "VALIDATION_ERROR"
    cleared = raw.patch(
        f"/crm/v3/objects/tickets/{ticket}", json={"properties": {"hubspot_owner_id": ""}}
    )
    assert cleared.status_code == 200


def test_create_answers_201_and_get_patch_archive(client: Any, clock: Clock) -> None:
    created = client.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(
            properties={"email": "ann@example.com", "firstname": "Ann"}
        )
    )
    assert created is not None  # the generated client maps only the 201 to a model
    assert created.properties["email"] == "ann@example.com"
    assert created.properties["hs_object_id"] == created.id
    assert created.properties["lastmodifieddate"] == created.properties["createdate"]

    clock.tick(5)
    patched = client.crm.contacts.basic_api.update(
        created.id, SimplePublicObjectInput(properties={"lastname": "Lee"})
    )
    assert patched.properties["lastname"] == "Lee"
    assert patched.updated_at > created.updated_at

    fetched = client.crm.contacts.basic_api.get_by_id(created.id, properties=["lastname", "phone"])
    assert fetched.properties["lastname"] == "Lee"
    assert fetched.properties["phone"] is None

    client.crm.contacts.basic_api.archive(created.id)
    with pytest.raises(ApiException) as missing:
        client.crm.contacts.basic_api.get_by_id(created.id)
    assert missing.value.status == 404
    assert json.loads(missing.value.body)["category"] == "OBJECT_NOT_FOUND"
    archived = client.crm.contacts.basic_api.get_by_id(created.id, archived=True)
    assert archived.archived is True
    assert archived.archived_at is not None


def test_read_by_unique_property_and_unknown_property_is_refused(
    client: Any, raw: httpx.Client
) -> None:
    client.crm.contacts.batch_api.upsert(_upserts(("ct_1", {"email": "a@example.com"})))
    found = client.crm.contacts.basic_api.get_by_id("ct_1", id_property="chatkit_id")
    assert found.properties["email"] == "a@example.com"

    answer = raw.post("/crm/v3/objects/contacts", json={"properties": {"shoe_size": "9"}})
    assert answer.status_code == 400
    body = answer.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert "PROPERTY_DOESNT_EXIST" in body["message"]
    assert set(body) == {"status", "message", "correlationId", "category"}


def test_tickets_need_a_valid_stage_and_priority(raw: httpx.Client) -> None:
    missing = raw.post("/crm/v3/objects/tickets", json={"properties": {"subject": "Late"}})
    assert missing.status_code == 400
    assert "hs_pipeline_stage" in missing.json()["message"]
    bad = raw.post(
        "/crm/v3/objects/tickets",
        json={
            "properties": {"subject": "Late", "hs_pipeline_stage": "1", "hs_ticket_priority": "P1"}
        },
    )
    assert bad.status_code == 400
    assert "INVALID_OPTION" in bad.json()["message"]
    good = raw.post(
        "/crm/v3/objects/tickets",
        json={"properties": {"subject": "Late", "hs_pipeline_stage": "1"}},
    )
    assert good.status_code == 201
    assert good.json()["properties"]["hs_pipeline"] == "0"


# -- batches -------------------------------------------------------------------------


def test_upsert_by_unique_property_is_idempotent(client: Any, emulator: HubSpotEmulator) -> None:
    first = client.crm.contacts.batch_api.upsert(_upserts(("ct_1", {"email": "a@example.com"})))
    again = client.crm.contacts.batch_api.upsert(
        _upserts(("ct_1", {"email": "a@example.com", "firstname": "Ann"}))
    )
    assert first.results[0].new is True
    assert again.results[0].new is False
    assert again.results[0].id == first.results[0].id
    assert again.results[0].object_write_trace_id == "ct_1"
    assert len(emulator.state.all("contacts")) == 1
    assert emulator.state.all("contacts")[0]["properties"]["firstname"] == "Ann"


def test_partial_failure_is_a_207_with_the_failed_inputs(
    client: Any, emulator: HubSpotEmulator
) -> None:
    client.crm.contacts.batch_api.upsert(_upserts(("ct_1", {"email": "taken@example.com"})))
    answer = client.crm.contacts.batch_api.upsert(
        _upserts(("ct_2", {"email": "new@example.com"}), ("ct_3", {"email": "taken@example.com"}))
    )
    assert answer.num_errors == 1
    assert [r.properties["chatkit_id"] for r in answer.results] == ["ct_2"]
    error = answer.errors[0]
    assert error.category == "CONFLICT"
    assert error.context["objectWriteTraceId"] == ["ct_3"]
    assert error.message.startswith("Contact already exists. Existing ID: ")
    assert {r["properties"]["chatkit_id"] for r in emulator.state.all("contacts")} == {
        "ct_1",
        "ct_2",
    }


def test_without_trace_ids_one_bad_input_fails_the_whole_batch(
    raw: httpx.Client, emulator: HubSpotEmulator
) -> None:
    answer = raw.post(
        "/crm/v3/objects/tickets/batch/create",
        json={
            "inputs": [
                {"properties": {"subject": "ok", "hs_pipeline_stage": "1"}},
                {"properties": {"subject": "bad", "hs_pipeline_stage": "99"}},
            ]
        },
    )
    assert answer.status_code == 400
    assert emulator.state.all("tickets") == []  # nothing written


def test_more_than_100_inputs_is_a_400(client: Any, raw: httpx.Client) -> None:
    inputs = [{"properties": {"email": f"u{i}@example.com"}} for i in range(101)]
    answer = raw.post("/crm/v3/objects/contacts/batch/create", json={"inputs": inputs})
    assert answer.status_code == 400
    assert answer.json()["category"] == "VALIDATION_ERROR"
    assert "100" in answer.json()["message"]
    created = raw.post("/crm/v3/objects/contacts/batch/create", json={"inputs": inputs[:100]})
    assert created.status_code == 201
    assert len(created.json()["results"]) == 100


def test_batch_read_reports_missing_ids(client: Any) -> None:
    client.crm.contacts.batch_api.upsert(_upserts(("ct_1", {"email": "a@example.com"})))
    answer = client.crm.contacts.batch_api.read(
        {
            "inputs": [{"id": "ct_1"}, {"id": "ct_9"}],
            "idProperty": "chatkit_id",
            "properties": ["email"],
        }
    )
    assert [r.properties["email"] for r in answer.results] == ["a@example.com"]
    assert answer.errors[0].category == "OBJECT_NOT_FOUND"
    assert answer.errors[0].context == {"ids": ["ct_9"]}


# -- search --------------------------------------------------------------------------


def _search(client: Any, **request: Any) -> Any:
    return client.crm.contacts.search_api.do_search(PublicObjectSearchRequest(**request))


def test_search_filters_sorts_and_pages(client: Any, clock: Clock) -> None:
    ids = []
    for i in range(5):
        clock.tick(10)
        ids.append(
            client.crm.contacts.basic_api.create(
                SimplePublicObjectInputForCreate(properties={"email": f"u{i}@example.com"})
            ).id
        )
    since = client.crm.contacts.basic_api.get_by_id(ids[1]).properties["lastmodifieddate"]
    request = {
        "filter_groups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": since}]}
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "limit": 2,
    }
    page = _search(client, **request)
    assert page.total == 3
    assert [r.id for r in page.results] == ids[2:4]
    assert page.paging.next.after == "2"
    rest = _search(client, **request, after=page.paging.next.after)
    assert [r.id for r in rest.results] == ids[4:]
    assert rest.paging is None

    newest = _search(
        client, sorts=[{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}], limit=1
    )
    assert newest.results[0].id == ids[-1]


def test_search_limits_are_400s(client: Any) -> None:
    for request in (
        {"limit": 201},
        {"after": "10000"},
        {
            "sorts": [
                {"propertyName": "createdate", "direction": "ASCENDING"},
                {"propertyName": "hs_object_id", "direction": "ASCENDING"},
            ]
        },
        {
            "filter_groups": [
                {"filters": [{"propertyName": "nope", "operator": "EQ", "value": "1"}]}
            ]
        },
    ):
        with pytest.raises(ApiException) as refused:
            _search(client, **request)
        assert refused.value.status == 400, request
        assert json.loads(refused.value.body)["category"] == "VALIDATION_ERROR"


def test_a_small_search_cap_refuses_paging_past_it(clock: Clock) -> None:
    with HubSpotEmulator(clock=clock, search_cap=4) as emulator:
        client = emulator.client()
        for i in range(6):
            client.crm.contacts.basic_api.create({"properties": {"email": f"u{i}@example.com"}})
        page = _search(client, limit=2, after="2")
        assert page.paging.next.after == "4"  # HubSpot still offers the next page...
        with pytest.raises(ApiException) as capped:
            _search(client, limit=2, after=page.paging.next.after)
        assert capped.value.status == 400  # ...and refuses it


def test_equal_timestamps_and_hs_object_id_filters(client: Any) -> None:
    ids = [
        client.crm.contacts.basic_api.create({"properties": {"email": f"u{i}@example.com"}}).id
        for i in range(3)
    ]  # the pinned clock gives all three the same lastmodifieddate
    stamp = client.crm.contacts.basic_api.get_by_id(ids[0]).properties["lastmodifieddate"]
    page = _search(
        client,
        filter_groups=[
            {
                "filters": [
                    {"propertyName": "lastmodifieddate", "operator": "EQ", "value": stamp},
                    {"propertyName": "hs_object_id", "operator": "GT", "value": ids[0]},
                ]
            }
        ],
        sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
    )
    assert [r.id for r in page.results] == ids[1:]


# -- associations --------------------------------------------------------------------


def test_default_associations_with_hubspot_type_ids(client: Any, emulator: HubSpotEmulator) -> None:
    contact = client.crm.contacts.basic_api.create({"properties": {"email": "a@example.com"}})
    tickets = client.crm.tickets.batch_api.create(
        TicketBatch(inputs=[{"properties": {"subject": "Late", "hs_pipeline_stage": "1"}}])
    )
    ticket_id = tickets.results[0].id
    linked = client.crm.associations.v4.batch_api.create_default(
        "tickets",
        "contacts",
        BatchInputPublicDefaultAssociationMultiPost(
            inputs=[{"from": {"id": ticket_id}, "to": {"id": contact.id}}]
        ),
    )
    assert linked.results[0].association_spec.association_type_id == 16
    notes = client.crm.objects.notes.batch_api.create(
        NoteBatch(
            inputs=[
                {
                    "properties": {"hs_note_body": "hi", "hs_timestamp": "2026-03-01T12:00:00Z"},
                    "associations": [
                        {
                            "to": {"id": ticket_id},
                            "types": [
                                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 228}
                            ],
                        }
                    ],
                }
            ]
        )
    )
    note_id = notes.results[0].id
    read = client.crm.associations.v4.batch_api.get_page(
        "tickets",
        "notes",
        BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": ticket_id}]),
    )
    assert read.results[0].to[0].to_object_id == note_id
    assert read.results[0].to[0].association_types[0].type_id == 227
    back = client.crm.associations.v4.basic_api.get_page("contacts", contact.id, "tickets")
    assert [(r.to_object_id, r.association_types[0].type_id) for r in back.results] == [
        (ticket_id, 15)
    ]
    none = client.crm.associations.v4.batch_api.get_page(
        "notes", "contacts", BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": note_id}])
    )
    assert none.results == []
    assert none.errors[0].category == "OBJECT_NOT_FOUND"


def test_a_note_needs_an_existing_association_target(raw: httpx.Client) -> None:
    answer = raw.post(
        "/crm/v3/objects/notes",
        json={
            "properties": {"hs_note_body": "x", "hs_timestamp": "1700000000000"},
            "associations": [
                {
                    "to": {"id": "99999"},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 228}],
                }
            ],
        },
    )
    assert answer.status_code == 400


# -- failures ------------------------------------------------------------------------


def test_429_has_hubspots_body_and_headers(client: Any, emulator: HubSpotEmulator) -> None:
    emulator.fail_next(429, policy="DAILY")
    with pytest.raises(ApiException) as daily:
        client.crm.contacts.basic_api.get_page()
    body = json.loads(daily.value.body)
    assert daily.value.status == 429
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "DAILY"
    assert body["message"] == "You have reached your daily limit."
    assert daily.value.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    assert "Retry-After" not in daily.value.headers

    emulator.fail_next(429)
    with pytest.raises(ApiException) as secondly:
        client.crm.contacts.basic_api.get_page()
    assert json.loads(secondly.value.body)["policyName"] == "SECONDLY"
    assert secondly.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert secondly.value.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert client.crm.contacts.basic_api.get_page().results == []


def test_a_retry_after_header_makes_urllib3_retry_by_itself(
    client: Any, emulator: HubSpotEmulator
) -> None:
    # urllib3's default Retry honours Retry-After on 429/503: the client waits and
    # tries again without the caller seeing the 429 (the integration turns this off).
    emulator.fail_next(429, retry_after=1)
    started = time.monotonic()
    assert client.crm.contacts.basic_api.get_page().results == []
    assert time.monotonic() - started >= 0.9
    assert emulator.calls("GET", "/crm/v3/objects/contacts") == 2


def test_rate_limit_throttles_like_hubspot(client: Any, emulator: HubSpotEmulator) -> None:
    emulator.set_rate_limit(2, 10.0)
    client.crm.contacts.basic_api.get_page()
    client.crm.contacts.basic_api.get_page()
    with pytest.raises(ApiException) as throttled:
        client.crm.contacts.basic_api.get_page()
    assert throttled.value.status == 429
    assert throttled.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    emulator.set_rate_limit(None, daily=1)
    client.crm.contacts.basic_api.get_page()
    with pytest.raises(ApiException) as daily:
        client.crm.contacts.basic_api.get_page()
    assert json.loads(daily.value.body)["policyName"] == "DAILY"


def test_401_and_5xx(client: Any, emulator: HubSpotEmulator) -> None:
    intruder = emulator.client(access_token="pat-wrong")
    with pytest.raises(ApiException) as refused:
        intruder.crm.contacts.basic_api.get_page()
    assert refused.value.status == 401
    assert json.loads(refused.value.body)["category"] == "INVALID_AUTHENTICATION"
    emulator.fail_next(503, times=2)
    for _ in range(2):
        with pytest.raises(ApiException) as down:
            client.crm.contacts.basic_api.get_page()
        assert down.value.status == 503
    assert client.crm.contacts.basic_api.get_page().results == []


def test_calls_are_counted_by_method_and_path(client: Any, emulator: HubSpotEmulator) -> None:
    client.crm.contacts.batch_api.upsert(_upserts(("ct_1", {"email": "a@example.com"})))
    _search(client, limit=1)
    client.crm.contacts.batch_api.read({"inputs": [{"id": "ct_1"}], "idProperty": "chatkit_id"})
    client.crm.contacts.basic_api.get_page()
    assert emulator.calls() == 4
    assert emulator.write_calls() == 1
    assert emulator.calls("POST", "/crm/v3/objects/contacts/batch/") == 2
    assert emulator.calls("GET") == 1
    emulator.reset_calls()
    assert emulator.calls() == 0


# -- state and webhooks --------------------------------------------------------------


def test_an_agent_edits_a_ticket_in_hubspot(
    client: Any, emulator: HubSpotEmulator, clock: Clock
) -> None:
    ticket = client.crm.tickets.basic_api.create(
        {"properties": {"subject": "Late", "hs_pipeline_stage": "1"}}
    )
    emulator.take_events()
    clock.tick(1000)
    emulator.state.update("tickets", ticket.id, {"hs_pipeline_stage": "4"}, source="CRM_UI")
    seen = client.crm.tickets.basic_api.get_by_id(ticket.id)
    assert seen.properties["hs_pipeline_stage"] == "4"
    assert seen.properties["hs_lastmodifieddate"] != ticket.properties["hs_lastmodifieddate"]
    (event,) = emulator.take_events()
    assert event["subscriptionType"] == "ticket.propertyChange"
    assert event["propertyName"] == "hs_pipeline_stage"
    assert event["propertyValue"] == "4"
    assert event["objectId"] == int(ticket.id)
    assert event["changeSource"] == "CRM_UI"


def test_signatures_match_hubspots_test_vectors() -> None:
    vectors = {
        "client_secret": "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy",
        "request_body": "{'example_field':'example_value'}",
        "url": "https://www.example.com/webhook_uri",
        "timestamp": 15000000,
        "v3": "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=",
    }
    path = FIXTURES / "hubspot_signature_test_vectors.json"
    if path.is_file():
        recorded = json.loads(path.read_text())
        vectors.update({k: recorded[k] for k in ("client_secret", "request_body", "url")})
        vectors["timestamp"] = recorded["timestamp"]
        vectors["v3"] = recorded["expected"]["v3"]
    signature = sign_v3(
        str(vectors["request_body"]),
        client_secret=str(vectors["client_secret"]),
        url=str(vectors["url"]),
        timestamp=str(vectors["timestamp"]),
    )
    assert signature == vectors["v3"]
    independent = base64.b64encode(
        hmac.new(
            str(vectors["client_secret"]).encode(),
            f"POST{vectors['url']}{vectors['request_body']}{vectors['timestamp']}".encode(),
            hashlib.sha256,
        ).digest()
    ).decode()
    assert signature == independent
    # the official client's own check agrees
    from hubspot.utils.signature import Signature  # type: ignore[import-untyped]

    assert (
        Signature.get_signature(
            str(vectors["client_secret"]),
            str(vectors["request_body"]),
            "v3",
            http_uri=str(vectors["url"]),
            timestamp=str(vectors["timestamp"]),
        )
        == signature
    )


def test_signed_webhooks_verify_and_tampering_fails(client: Any, emulator: HubSpotEmulator) -> None:
    client.crm.contacts.basic_api.create({"properties": {"email": "a@example.com"}})
    url = "https://hooks.example.com/hubspot?portal=1"
    delivery = emulator.signed_webhook(url=url)
    events = json.loads(delivery.body)
    assert [e["subscriptionType"] for e in events] == ["contact.creation"]
    assert delivery.headers["X-HubSpot-Signature-Version"] == "v3"
    verify_v3(delivery.headers, delivery.body, client_secret="app-secret", url=url)
    with pytest.raises(SignatureError):
        verify_v3(delivery.headers, delivery.body + b" ", client_secret="app-secret", url=url)
    with pytest.raises(SignatureError):
        verify_v3(delivery.headers, delivery.body, client_secret="other", url=url)
    old = build_signed_webhook(
        events, client_secret="app-secret", url=url, timestamp=int((time.time() - 301) * 1000)
    )
    with pytest.raises(SignatureError, match="older"):
        verify_v3(old.headers, old.body, client_secret="app-secret", url=url)
    assert "app-secret" not in repr(delivery)
    encoded = build_signed_webhook(
        events, client_secret="s", url="https://h.example.com/a%3Ab", timestamp=1
    )
    assert encoded.headers[SIGNATURE_HEADER] == sign_v3(
        encoded.body, client_secret="s", url="https://h.example.com/a:b", timestamp="1"
    )
    assert encoded.headers[TIMESTAMP_HEADER] == "1"


# -- against the vendor fixtures themselves ------------------------------------------


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="vendor-fixtures not present")
def test_responses_have_the_shapes_of_the_fixtures(
    raw: httpx.Client, emulator: HubSpotEmulator
) -> None:
    def fixture(name: str) -> Any:
        return json.loads((FIXTURES / name).read_text())

    multistatus = fixture("hubspot_batch_create_207_multistatus.json")
    raw.post("/crm/v3/objects/contacts", json={"properties": {"email": "taken@example.com"}})
    answer = raw.post(
        "/crm/v3/objects/contacts/batch/create",
        json={
            "inputs": [
                {"properties": {"email": "new@example.com"}, "objectWriteTraceId": "t1"},
                {"properties": {"email": "taken@example.com"}, "objectWriteTraceId": "t2"},
            ]
        },
    )
    assert answer.status_code == 207
    body = answer.json()
    result = dict(body["results"][0])
    assert result.pop("objectWriteTraceId") == "t1"
    assert all(v is None or isinstance(v, str) for v in result["properties"].values())
    error = dict(body["errors"][0])
    assert error["context"] == {"existingId": ["1001"], "objectWriteTraceId": ["t2"]}
    # properties and context hold free-form keys: compare everything else
    recorded = {**multistatus["results"][0], "properties": {}}
    _same_shape(
        {**body, "results": [{**result, "properties": {}}], "errors": [{**error, "context": {}}]},
        {**multistatus, "results": [recorded]},
    )
    for stamp in ("completedAt", "startedAt", "requestedAt"):
        assert ISO_S.match(body[stamp])
    assert ISO_MS.match(result["createdAt"])
    assert ISO_MS.match(result["updatedAt"])
    assert body["numErrors"] == 1
    assert body["errors"][0]["id"] == "t2"

    created = raw.post(
        "/crm/v3/objects/contacts/batch/create",
        json={"inputs": [{"properties": {"email": "b@example.com"}}]},
    )
    assert created.status_code == 201
    assert sorted(created.json()["results"][0]) == sorted(multistatus["results"][0])

    example = fixture("hubspot_webhook_request_prismatic_example.json")
    raw.post("/crm/v3/objects/contacts", json={"properties": {"email": "c@example.com"}})
    delivery = emulator.signed_webhook()
    events = json.loads(delivery.body)
    _same_shape(events[-1], example["body"][0])
    assert sorted(delivery.headers) == sorted(
        k for k in example["headers"] if k not in ("Accept", "Host", "X-HubSpot-Signature")
    )


def test_the_emulator_runs_as_a_command() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "chatkit_integrations.hubspot.emulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--port" in done.stdout
