"""The Salesforce emulator, driven by the vendor's real client ``simple-salesforce`` over HTTPS."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("simple_salesforce")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("trustme")

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.login import SalesforceLogin

from chatkit_integrations.salesforce.emulator import (
    EXCEEDED_ID_LIMIT,
    SalesforceEmulator,
)

FIXTURES = Path(
    os.environ.get(
        "CHATKIT_VENDOR_FIXTURES",
        Path(__file__).resolve().parents[2] / "shared" / "vendor-fixtures",
    )
)
START = datetime(2026, 3, 1, 9, 15, tzinfo=UTC)


class Clock:
    """A pinned clock that tests move by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1.0) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def org(clock: Clock) -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(clock=clock, query_batch_size=3) as emulator:
        yield emulator


@pytest.fixture
def sf(org: SalesforceEmulator) -> Iterator[Salesforce]:
    client = org.client()
    yield client
    client.session.close()


def _body(exc: Any) -> Any:
    return exc.content


def _collection(
    sf: Salesforce, method: str, path: str, records: list[dict[str, Any]], **kw: Any
) -> Any:
    return sf.restful(path, method=method, json={"allOrNone": False, "records": records, **kw})


def _same_shape(actual: Any, recorded: Any, where: str = "$") -> None:
    """Same keys at every level, same JSON types wherever both are non-null."""
    if isinstance(recorded, dict):
        assert isinstance(actual, dict), where
        assert sorted(actual) == sorted(recorded), where
        for key in recorded:
            _same_shape(actual[key], recorded[key], f"{where}.{key}")
    elif isinstance(recorded, list):
        assert isinstance(actual, list), where
        for got, want in zip(actual, recorded, strict=False):
            _same_shape(got, want, f"{where}[]")
    elif recorded is not None and actual is not None:
        assert type(actual) is type(recorded), where


# -- sObject rows ------------------------------------------------------------------------


def test_contact_create_get_update_delete_keep_audit_fields(
    sf: Salesforce, org: SalesforceEmulator, clock: Clock
) -> None:
    created = sf.Contact.create({"FirstName": "Ann", "LastName": "Smith", "Email": "a@x.io"})
    assert created["success"] is True
    assert created["errors"] == []
    contact_id = created["id"]
    assert contact_id.startswith("003")
    assert len(contact_id) == 18
    record = sf.Contact.get(contact_id)
    assert record["attributes"] == {
        "type": "Contact",
        "url": f"/services/data/v59.0/sobjects/Contact/{contact_id}",
    }
    assert record["Name"] == "Ann Smith"
    assert record["CreatedDate"] == "2026-03-01T09:15:00.000+0000"
    assert record["SystemModstamp"] == record["LastModifiedDate"] == record["CreatedDate"]
    assert record["CreatedById"] == org.state.api_user_id

    clock.tick(2.5)
    assert sf.Contact.update(contact_id, {"LastName": "Jones"}) == 204
    updated = sf.Contact.get(contact_id)
    assert updated["Name"] == "Ann Jones"
    assert updated["SystemModstamp"] == "2026-03-01T09:15:02.500+0000"
    assert updated["CreatedDate"] == "2026-03-01T09:15:00.000+0000"

    assert sf.Contact.delete(contact_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Contact.get(contact_id)
    assert _body(caught.value) == [
        {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}
    ]


def test_validation_errors_have_salesforce_bodies(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contact.create({"FirstName": "No last name"})
    assert _body(caught.value) == [
        {
            "message": "Required fields are missing: [LastName]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["LastName"],
        }
    ]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Case.create({"Status": "Nonsense"})
    assert _body(caught.value)[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Case.create({"ContactId": "001xx0000004GxEAAU"})
    assert _body(caught.value)[0]["errorCode"] == "MALFORMED_ID"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contact.create({"LastName": "x", "Shoe_Size__c": 9})
    assert _body(caught.value)[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Case.create({"Subject": "x" * 256})
    assert _body(caught.value)[0]["errorCode"] == "STRING_TOO_LONG"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contact.create({"LastName": "x", "Name": "read only"})
    assert _body(caught.value)[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_users_are_queried_by_email_and_only_active_ones_own_cases(
    sf: Salesforce, org: SalesforceEmulator
) -> None:
    ann = org.state.add_user("Ann", "Agent", "ann.agent@example.com")
    old = org.state.add_user("Old", "Agent", "old.agent@example.com", active=False)
    rows = sf.query(
        "SELECT Id, Email FROM User WHERE Email IN "
        "('ANN.agent@example.com', 'old.agent@example.com', 'nobody@example.com') "
        "AND IsActive = true"
    )["records"]
    assert [(r["Id"], r["Email"]) for r in rows] == [(ann, "ann.agent@example.com")]
    case = sf.Case.create({"Subject": "x", "OwnerId": ann})["id"]
    assert org.state.get("Case", case)["OwnerId"] == ann
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Case.update(case, {"OwnerId": old})
    assert _body(caught.value)[0]["errorCode"] == "INACTIVE_OWNER_OR_USER"
    assert org.state.get("Case", case)["OwnerId"] == ann


def test_upsert_by_external_id_201_then_200_and_204_before_api_46(
    sf: Salesforce, org: SalesforceEmulator
) -> None:
    first = sf.Contact.upsert("Chatkit_Id__c/ct_1", {"LastName": "One"}, raw_response=True)
    assert first.status_code == 201
    assert first.json()["created"] is True
    again = sf.Contact.upsert("Chatkit_Id__c/ct_1", {"LastName": "Uno"}, raw_response=True)
    assert again.status_code == 200
    assert again.json() == {
        "id": first.json()["id"], "success": True, "errors": [], "created": False,
    }  # fmt: skip
    assert [c["LastName"] for c in org.state.find("Contact")] == ["Uno"]
    assert sf.Contact.get_by_custom_id("Chatkit_Id__c", "ct_1")["Id"] == first.json()["id"]

    old = org.client(version="45.0")
    try:
        assert old.Contact.upsert("Chatkit_Id__c/ct_1", {"LastName": "Eins"}) == 204
    finally:
        old.session.close()


def test_case_status_drives_is_closed_and_closed_date(sf: Salesforce, clock: Clock) -> None:
    case_id = sf.Case.create({"Subject": "Help"})["id"]
    case = sf.Case.get(case_id)
    assert (case["Status"], case["Priority"], case["IsClosed"]) == ("New", "Medium", False)
    assert case["CaseNumber"] == "00001001"
    clock.tick()
    sf.Case.update(case_id, {"Status": "Closed"})
    closed = sf.Case.get(case_id)
    assert closed["IsClosed"] is True
    assert closed["ClosedDate"] == "2026-03-01T09:15:01.000+0000"


def test_deleting_a_case_takes_its_comments_and_a_contact_with_cases_stays(
    sf: Salesforce, org: SalesforceEmulator
) -> None:
    contact_id = sf.Contact.create({"LastName": "Smith"})["id"]
    case_id = sf.Case.create({"Subject": "Help", "ContactId": contact_id})["id"]
    sf.CaseComment.create({"ParentId": case_id, "CommentBody": "hi", "IsPublished": True})
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contact.delete(contact_id)
    assert _body(caught.value)[0]["errorCode"] == "DELETE_FAILED"
    sf.Case.delete(case_id)
    assert org.state.find("CaseComment") == []
    deleted = sf.query_all("SELECT Id, IsDeleted FROM CaseComment", include_deleted=True)
    assert [r["IsDeleted"] for r in deleted["records"]] == [True]


def test_content_version_is_published_to_the_case(sf: Salesforce, org: SalesforceEmulator) -> None:
    case_id = sf.Case.create({"Subject": "Help"})["id"]
    text = "Customer: hello\nAgent: hi"
    version_id = sf.ContentVersion.create(
        {
            "Title": "Transcript",
            "PathOnClient": "transcript.txt",
            "VersionData": base64.b64encode(text.encode()).decode(),
            "FirstPublishLocationId": case_id,
        }
    )["id"]
    version = sf.ContentVersion.get(version_id)
    assert version["VersionData"].endswith(f"/ContentVersion/{version_id}/VersionData")
    assert (version["FileType"], version["ContentSize"], version["IsLatest"]) == (
        "TEXT",
        len(text),
        True,
    )
    assert sf.ContentVersion.get_base64(version_id, base64_field="VersionData") == text.encode()
    links = sf.query(
        f"SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId = '{case_id}'"
    )
    assert [r["ContentDocumentId"] for r in links["records"]] == [version["ContentDocumentId"]]

    second = sf.ContentVersion.create(
        {
            "ContentDocumentId": version["ContentDocumentId"],
            "Title": "Transcript",
            "PathOnClient": "transcript.txt",
            "VersionData": base64.b64encode(b"v2").decode(),
        }
    )["id"]
    assert sf.ContentVersion.get(second)["VersionNumber"] == "2"
    assert sf.ContentVersion.get(version_id)["IsLatest"] is False
    assert len(org.state.find("ContentDocumentLink")) == 1


# -- sObject Collections -----------------------------------------------------------------


def test_collections_create_update_with_partial_failures(sf: Salesforce) -> None:
    results = _collection(
        sf,
        "POST",
        "composite/sobjects",
        [
            {"attributes": {"type": "Contact"}, "LastName": "Ok"},
            {"attributes": {"type": "Contact"}, "FirstName": "No last name"},
            {"attributes": {"type": "Case"}, "Subject": "Mixed types are fine"},
        ],
    )
    assert [r["success"] for r in results] == [True, False, True]
    assert "id" not in results[1]
    assert results[1]["errors"] == [
        {
            "statusCode": "REQUIRED_FIELD_MISSING",
            "message": "Required fields are missing: [LastName]",
            "fields": ["LastName"],
        }
    ]
    updated = _collection(
        sf,
        "PATCH",
        "composite/sobjects",
        [
            {"attributes": {"type": "Contact"}, "id": results[0]["id"], "LastName": "Renamed"},
            {"attributes": {"type": "Contact"}, "id": results[2]["id"], "LastName": "Wrong id"},
        ],
    )
    assert updated[0] == {"id": results[0]["id"], "success": True, "errors": []}
    assert updated[1]["success"] is False
    assert updated[1]["errors"][0]["statusCode"] == "MALFORMED_ID"
    assert updated[1]["errors"][0]["message"].startswith("Contact ID: id value of incorrect type")
    assert sf.Contact.get(results[0]["id"])["LastName"] == "Renamed"


def test_collections_upsert_on_external_id_is_idempotent(
    sf: Salesforce, org: SalesforceEmulator
) -> None:
    records = [
        {"attributes": {"type": "Contact"}, "Chatkit_Id__c": f"ct_{i}", "LastName": f"n{i}"}
        for i in range(200)
    ]
    first = _collection(sf, "PATCH", "composite/sobjects/Contact/Chatkit_Id__c", records)
    assert len(first) == 200
    assert all(r["created"] for r in first)
    second = _collection(sf, "PATCH", "composite/sobjects/Contact/Chatkit_Id__c", records)
    assert [r["id"] for r in second] == [r["id"] for r in first]
    assert not any(r["created"] for r in second)
    assert len(org.state.find("Contact")) == 200


def test_more_than_200_records_is_the_real_400(sf: Salesforce, org: SalesforceEmulator) -> None:
    records = [{"attributes": {"type": "Contact"}, "Chatkit_Id__c": "c", "LastName": "x"}] * 201
    for method, path in (
        ("PATCH", "composite/sobjects/Contact/Chatkit_Id__c"),
        ("POST", "composite/sobjects"),
    ):
        with pytest.raises(SalesforceMalformedRequest) as caught:
            _collection(sf, method, path, records)
        assert caught.value.status == 400
        assert _body(caught.value) == EXCEEDED_ID_LIMIT
    assert org.state.find("Contact") == []


def test_all_or_none_rolls_back(sf: Salesforce, org: SalesforceEmulator) -> None:
    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Contact"}, "LastName": "Ok"},
                {"attributes": {"type": "Contact"}},
            ],
        },
    )
    assert [r["errors"][0]["statusCode"] for r in results] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "REQUIRED_FIELD_MISSING",
    ]
    assert org.state.find("Contact") == []


def test_collections_delete_reports_each_id(sf: Salesforce) -> None:
    contact = sf.Contact.create({"LastName": "x"})["id"]
    results = sf.restful(
        "composite/sobjects", method="DELETE", params={"ids": f"{contact},{contact}"}
    )
    assert results[0] == {"id": contact, "success": True, "errors": []}
    assert results[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"


# -- SOQL ----------------------------------------------------------------------------


def test_soql_filters_orders_limits_and_follows_relationships(
    sf: Salesforce, org: SalesforceEmulator, clock: Clock
) -> None:
    contact = sf.Contact.create({"LastName": "Smith", "Email": "ann@example.com"})["id"]
    ids = []
    for subject in ("b", "a", "c"):
        ids.append(sf.Case.create({"Subject": subject, "ContactId": contact})["id"])
        clock.tick()
    found = sf.query(
        "SELECT Id, Subject, Contact.Email, CreatedBy.Name FROM Case "
        "WHERE SystemModstamp > 2026-03-01T09:15:00.000+0000 ORDER BY Subject DESC LIMIT 5"
    )
    assert [r["Subject"] for r in found["records"]] == ["c", "a"]
    assert found["records"][0]["Contact"] == {
        "attributes": {
            "type": "Contact",
            "url": f"/services/data/v59.0/sobjects/Contact/{contact}",
        },
        "Email": "ann@example.com",
    }
    assert found["records"][0]["CreatedBy"]["Name"] == "Chatkit Integration"
    by_email = sf.query("select id from contact where email = 'ANN@example.com'")
    assert [r["Id"] for r in by_email["records"]] == [contact]
    tied = sf.query(
        f"SELECT Id FROM Case WHERE SystemModstamp > 2026-03-01T09:15:01Z OR "
        f"(SystemModstamp = 2026-03-01T09:15:01Z AND Id > '{ids[0]}') ORDER BY SystemModstamp, Id"
    )
    assert [r["Id"] for r in tied["records"]] == ids[1:]
    assert sf.query("SELECT Id FROM Case WHERE Id IN ('x', 'y')")["records"] == []


def test_soql_errors(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id FROM CaseComment WHERE CommentBody = 'x'")
    assert _body(caught.value) == [
        {
            "message": "field 'CommentBody' can not be filtered in a query call",
            "errorCode": "INVALID_FIELD",
        }
    ]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id, Nope FROM Case")
    assert _body(caught.value)[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT FROM Case")
    assert _body(caught.value)[0]["errorCode"] == "MALFORMED_QUERY"


def test_query_pages_with_next_records_url(sf: Salesforce, org: SalesforceEmulator) -> None:
    for i in range(7):
        org.state.create("Contact", {"LastName": f"c{i}"})
    first = sf.query("SELECT Id, LastName FROM Contact ORDER BY LastName")
    assert (first["totalSize"], first["done"], len(first["records"])) == (7, False, 3)
    locator = first["nextRecordsUrl"]
    assert locator.startswith("/services/data/v59.0/query/01g")
    assert locator.endswith("-3")
    second = sf.query_more(locator, identifier_is_url=True)
    assert [r["LastName"] for r in second["records"]] == ["c3", "c4", "c5"]
    everything = sf.query_all("SELECT Id, LastName FROM Contact ORDER BY LastName")
    assert [r["LastName"] for r in everything["records"]] == [f"c{i}" for i in range(7)]
    assert org.state.call_count(route="query/{locator}") == 3


# -- failures, limits, sessions --------------------------------------------------------


def test_injected_failures_answer_like_salesforce(sf: Salesforce, org: SalesforceEmulator) -> None:
    org.fail_next(401)
    with pytest.raises(SalesforceExpiredSession) as expired:
        sf.Contact.create({"LastName": "x"})
    assert _body(expired.value) == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    org.fail_next(403)
    with pytest.raises(SalesforceRefusedRequest) as refused:
        sf.query("SELECT Id FROM Contact")
    assert _body(refused.value)[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    org.fail_next(503, times=2, retry_after=7)
    for _ in range(2):
        with pytest.raises(SalesforceGeneralError) as unavailable:
            sf.Contact.create({"LastName": "x"})
        assert unavailable.value.status == 503
    org.fail_next(500, method="PATCH", path="/composite/")
    assert sf.Contact.create({"LastName": "not failed"})["success"] is True
    with pytest.raises(SalesforceGeneralError) as broken:
        _collection(sf, "PATCH", "composite/sobjects", [])
    assert _body(broken.value)[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert [c.status for c in org.state.calls] == [401, 403, 503, 503, 201, 500]


def test_retry_after_header_and_limit_info(org: SalesforceEmulator) -> None:
    with org.session() as session:
        headers = {"Authorization": f"Bearer {org.session_id}"}
        org.fail_next(503, retry_after=7)
        answer = session.get(f"{org.url}/services/data/v59.0/limits", headers=headers)
        assert (answer.status_code, answer.headers["Retry-After"]) == (503, "7")
        ok = session.get(f"{org.url}/services/data/v59.0/limits", headers=headers)
        assert ok.headers["Sforce-Limit-Info"] == "api-usage=1/15000"  # failures are not counted


def test_daily_api_limit_is_enforced(sf: Salesforce, org: SalesforceEmulator) -> None:
    org.state.daily_api_limit = 3
    assert sf.limits()["DailyApiRequests"] == {"Max": 3, "Remaining": 2}
    sf.Contact.create({"LastName": "x"})
    sf.Contact.create({"LastName": "y"})
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.Contact.create({"LastName": "z"})
    assert _body(caught.value) == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert org.state.api_usage == 3


def test_unknown_token_and_expired_sessions_are_401(org: SalesforceEmulator) -> None:
    intruder = org.client(session_id="not-a-session")
    with pytest.raises(SalesforceExpiredSession):
        intruder.query("SELECT Id FROM Contact")
    intruder.session.close()
    org.state.expire_sessions()
    client = org.client()
    with pytest.raises(SalesforceExpiredSession):
        client.query("SELECT Id FROM Contact")
    client.session.close()


def test_soap_login_with_password_and_security_token(org: SalesforceEmulator) -> None:
    with org.session() as session:
        token, instance = SalesforceLogin(
            username=org.username,
            password="chatkit-password",
            security_token="chatkitSecurityToken",
            session=session,
            scratch_url=org.url,
        )
        assert instance == org.url.removeprefix("https://")
        client = Salesforce(instance_url=org.url, session_id=token, session=session)
        assert client.query("SELECT Id FROM Contact")["records"] == []
        assert client.oauth2("userinfo")["user_id"] == org.state.api_user_id
        with pytest.raises(SalesforceAuthenticationFailed) as caught:
            SalesforceLogin(
                username=org.username,
                password="wrong",
                security_token="chatkitSecurityToken",
                session=session,
                scratch_url=org.url,
            )
        assert caught.value.code == "INVALID_LOGIN"
    assert org.state.call_count(route="login", api_only=False) == 2


def test_the_ca_is_required(org: SalesforceEmulator) -> None:
    with requests.Session() as plain:
        plain.trust_env = False
        with pytest.raises(requests.exceptions.SSLError):
            plain.get(f"{org.url}/services/data/v59.0/limits")


# -- state and call counting -----------------------------------------------------------


def test_an_agent_edits_a_case_in_salesforce(
    sf: Salesforce, org: SalesforceEmulator, clock: Clock
) -> None:
    case_id = sf.Case.create({"Subject": "Help"})["id"]
    clock.tick(60)
    org.state.update("Case", case_id, {"Status": "Working", "Priority": "High"})
    org.state.create("CaseComment", {"ParentId": case_id, "CommentBody": "On it"})
    case = sf.Case.get(case_id)
    assert (case["Status"], case["Priority"]) == ("Working", "High")
    assert case["LastModifiedById"] == org.state.agent_user_id
    assert case["SystemModstamp"] == "2026-03-01T09:16:00.000+0000"
    soql = "SELECT CommentBody, IsPublished, CreatedById FROM CaseComment WHERE ParentId = "
    comments = sf.query(f"{soql}'{case_id}'")["records"]
    assert [(c["CommentBody"], c["IsPublished"], c["CreatedById"]) for c in comments] == [
        ("On it", False, org.state.agent_user_id)
    ]


def test_calls_are_counted_by_method_and_route(sf: Salesforce, org: SalesforceEmulator) -> None:
    contact = sf.Contact.create({"LastName": "x"})["id"]
    sf.Contact.update(contact, {"LastName": "y"})
    sf.Contact.get(contact)
    sf.query("SELECT Id FROM Contact")
    _collection(sf, "POST", "composite/sobjects", [{"attributes": {"type": "Case"}}])
    assert org.state.call_count() == 5
    assert org.state.write_count() == 3
    assert org.state.call_count(method="GET") == 2
    assert org.state.call_count(route="composite/sobjects") == 1
    assert org.state.call_summary()[("PATCH", "sobjects/{sobject}/{id}")] == 1
    assert org.state.api_usage == 5


# -- against the vendor fixtures ---------------------------------------------------------


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="vendor-fixtures not present")
def test_responses_have_the_shapes_of_the_vendor_fixtures(
    sf: Salesforce, org: SalesforceEmulator
) -> None:
    def fixture(name: str) -> Any:
        return json.loads((FIXTURES / name).read_text())

    contact = sf.Contact.create({"LastName": "Smith", "Email": "alice@example.com"})["id"]
    for i in range(4):
        sf.Case.create({"Subject": f"s{i}", "ContactId": contact, "Origin": "Email"})
    page = sf.query(
        "SELECT Id, CaseNumber, Subject, Description, Status, Priority, Origin, CreatedDate, "
        "LastModifiedDate, Contact.Name, Contact.Email, Account.Name, OwnerId FROM Case"
    )
    recorded = fixture("salesforce_case_query_page1.json")
    assert list(page) == list(recorded)
    assert page["nextRecordsUrl"].rsplit("/", 1)[0] == recorded["nextRecordsUrl"].rsplit("/", 1)[0]
    row, want = page["records"][0], recorded["records"][0]
    assert list(row) == list(want)
    assert row["attributes"]["url"].startswith("/services/data/v59.0/sobjects/Case/")
    assert set(row["Contact"]) == set(want["Contact"])
    assert row["Contact"]["attributes"]["type"] == want["Contact"]["attributes"]["type"]
    assert row["Contact"]["Email"] == want["Contact"]["Email"]
    assert row["Account"] is None  # no account: Salesforce answers null for the relationship
    for key in ("CreatedDate", "LastModifiedDate"):
        assert len(row[key]) == len(want[key])
        assert row[key][-5:] == want[key][-5:]
    _same_shape(
        {k: v for k, v in row.items() if k not in ("Contact", "Account")},
        {k: v for k, v in want.items() if k not in ("Contact", "Account")},
    )

    partial = _collection(
        sf,
        "PATCH",
        "composite/sobjects",
        [
            {"attributes": {"type": "Contact"}, "id": contact, "LastName": "Jones"},
            {"attributes": {"type": "Contact"}, "id": "001xx0000004GxEAAU", "LastName": "x"},
        ],
    )
    recorded_partial = fixture("salesforce_collections_partial_failure_allOrNone_false.json")
    _same_shape(partial, recorded_partial)
    assert partial[1]["errors"][0]["statusCode"] == recorded_partial[1]["errors"][0]["statusCode"]
    assert partial[1]["errors"][0]["message"] == recorded_partial[1]["errors"][0]["message"]
    assert partial[1]["errors"][0]["fields"] == ["Id"]

    records = [
        {"attributes": {"type": "Contact"}, "Chatkit_Id__c": "ct_new", "LastName": "New"},
        {"attributes": {"type": "Contact"}, "Chatkit_Id__c": "ct_old", "LastName": "Old"},
    ]
    _collection(sf, "PATCH", "composite/sobjects/Contact/Chatkit_Id__c", records[1:])
    upserted = _collection(sf, "PATCH", "composite/sobjects/Contact/Chatkit_Id__c", records)
    recorded_upsert = fixture("salesforce_collections_upsert_created_flags.json")
    _same_shape(upserted, recorded_upsert)
    assert [r["created"] for r in upserted] == [r["created"] for r in recorded_upsert]


def test_the_emulator_runs_as_a_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chatkit_integrations.salesforce.emulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--port" in done.stdout


def test_records_are_readable_and_editable_directly(org: SalesforceEmulator) -> None:
    made: Callable[..., Any] = org.state.create
    contact = made("Contact", {"LastName": "Direct", "Chatkit_Id__c": "ct_9"})
    assert org.state.by_external_id("Contact", "Chatkit_Id__c", "ct_9") is not None
    assert org.state.get("Contact", contact["Id"][:15])["Name"] == "Direct"
