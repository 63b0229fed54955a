"""The Salesforce integration end to end: simple-salesforce over HTTPS against the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytest.importorskip("simple_salesforce")
pytest.importorskip("starlette")
pytest.importorskip("trustme")

from chatkit.errors import (
    IntegrationAuthError,
    IntegrationQuotaError,
    RetryableIntegrationError,
)
from chatkit.integrations import (
    ChangeAction,
    HealthState,
    InboundChange,
    OutboundChange,
    PushStatus,
    SyncObject,
)
from chatkit_integrations.salesforce.emulator import SalesforceEmulator
from chatkit_integrations.salesforce.integration import (
    SalesforceConfig,
    SalesforceIntegration,
)

pytestmark = pytest.mark.anyio
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
    with SalesforceEmulator(clock=clock, query_batch_size=4) as emulator:
        yield emulator


def _config(org: SalesforceEmulator, **overrides: Any) -> SalesforceConfig:
    fields: dict[str, Any] = {
        "instance_url": org.url,
        "session_id": org.session_id,
        "ca_bundle": org.ca_pem,
        **overrides,
    }
    return SalesforceConfig.create(fields)


@pytest.fixture
async def sf(org: SalesforceEmulator) -> AsyncIterator[SalesforceIntegration]:
    async with SalesforceIntegration(_config(org)) as integration:
        yield integration


def contact(n: int, *, attempt: int = 1, **data: Any) -> OutboundChange:
    return OutboundChange(
        change_id=f"chg_ct_{n}",
        object=SyncObject.CONTACT,
        local_id=f"ct_{n}",
        data={"name": f"Ann Smith {n}", "email": f"ann{n}@example.com", "phone": None, **data},
        attempt=attempt,
    )


def conversation(
    n: int, contact_id: str | None, *, attempt: int = 1, **data: Any
) -> OutboundChange:
    return OutboundChange(
        change_id=f"chg_conv_{n}",
        object=SyncObject.CONVERSATION,
        local_id=f"conv_{n}",
        parent_local_id=f"ct_{n}",
        parent_remote_id=contact_id,
        data={"subject": f"Order {n} is late", "status": "open", "priority": "normal", **data},
        attempt=attempt,
    )


def message(
    n: int, case_id: str | None, text: str, *, note: bool = False, attempt: int = 1,
    remote_id: str | None = None,
) -> OutboundChange:  # fmt: skip
    return OutboundChange(
        change_id=f"chg_msg_{n}",
        object=SyncObject.NOTE if note else SyncObject.MESSAGE,
        local_id=f"msg_{n}",
        parent_local_id="conv_1",
        parent_remote_id=case_id,
        remote_id=remote_id,
        data={"text": text},
        attempt=attempt,
    )


def _ok(results: list[Any]) -> dict[str, str]:
    assert all(r.status is PushStatus.OK for r in results), [r.error for r in results]
    return {r.change_id: r.remote_id for r in results}


# -- push ----------------------------------------------------------------------------


async def test_push_creates_and_a_repush_creates_no_duplicates(
    sf: SalesforceIntegration, org: SalesforceEmulator
) -> None:
    first = _ok(await sf.push([contact(1), contact(2, name=None, email="solo@example.com")]))
    ann, solo = first["chg_ct_1"], first["chg_ct_2"]
    assert org.state.get("Contact", ann)["FirstName"] == "Ann Smith"
    assert org.state.get("Contact", ann)["LastName"] == "1"
    assert org.state.get("Contact", solo)["LastName"] == "solo@example.com"
    assert org.state.get("Contact", ann)["Chatkit_Id__c"] == "ct_1"

    cases = _ok(await sf.push([conversation(1, ann, priority="urgent")]))
    case_id = cases["chg_conv_1"]
    case = org.state.get("Case", case_id)
    assert (case["Subject"], case["Status"], case["Priority"], case["ContactId"]) == (
        "Order 1 is late",
        "New",
        "High",
        ann,
    )
    assert case["Origin"] == "Chat"

    comments = [
        message(1, case_id, "Where is my order?"),
        message(2, case_id, "Customer is a VIP", note=True),
    ]
    made = _ok(await sf.push(comments))
    stored = {c["Id"]: (c["CommentBody"], c["IsPublished"]) for c in org.state.find("CaseComment")}
    assert stored == {
        made["chg_msg_1"]: ("Where is my order?", True),
        made["chg_msg_2"]: ("Customer is a VIP", False),
    }

    # The worker stopped before saving the ids: every change comes again, attempt 2.
    writes_before = org.state.write_count()
    again = _ok(
        await sf.push(
            [
                contact(1, attempt=2),
                contact(2, attempt=2, name=None, email="solo@example.com"),
                conversation(1, ann, attempt=2, status="resolved"),
                *(c.model_copy(update={"attempt": 2}) for c in comments),
            ]
        )
    )
    assert again == {**first, **cases, **made}
    assert len(org.state.find("Contact")) == 2
    assert len(org.state.find("Case")) == 1
    assert len(org.state.find("CaseComment")) == 2
    assert org.state.get("Case", case_id)["Status"] == "Closed"
    # contacts, cases, the comment lookup is a read, the comment update
    assert org.state.write_count() - writes_before == 3


async def test_200_records_go_in_one_call(
    sf: SalesforceIntegration, org: SalesforceEmulator
) -> None:
    results = await sf.push([contact(i) for i in range(200)])
    assert len(_ok(results)) == 200
    assert org.state.write_count() == 1
    assert org.state.call_count(route="composite/sobjects/{sobject}/{field}") == 1
    assert len(org.state.find("Contact")) == 200


async def test_partial_failures_are_per_record(
    sf: SalesforceIntegration, org: SalesforceEmulator
) -> None:
    results = {
        r.change_id: r
        for r in await sf.push(
            [contact(1), contact(2, email="not-an-email"), contact(3, name="x" * 200)]
        )
    }
    assert results["chg_ct_1"].status is PushStatus.OK
    assert results["chg_ct_2"].status is PushStatus.PERMANENT
    assert (
        results["chg_ct_2"].error
        == "INVALID_EMAIL_ADDRESS: Email: invalid email address: not-an-email"
    )
    assert results["chg_ct_3"].status is PushStatus.OK  # long names are cut to Salesforce's sizes

    case_id = org.state.create("Case", {"Subject": "x"})["Id"]
    comments = {
        r.change_id: r
        for r in await sf.push(
            [
                message(1, case_id, "fine"),
                message(2, "500xx0000000000AAA", "no such case"),
                message(3, None, "case not pushed yet"),
            ]
        )
    }
    assert comments["chg_msg_1"].status is PushStatus.OK
    assert comments["chg_msg_2"].status is PushStatus.PERMANENT
    assert comments["chg_msg_2"].error is not None
    assert comments["chg_msg_2"].error.startswith("INVALID_CROSS_REFERENCE_KEY")
    assert comments["chg_msg_3"].status is PushStatus.RETRYABLE
    assert [c["CommentBody"] for c in org.state.find("CaseComment")] == ["fine"]


async def test_long_messages_fit_comment_body(
    sf: SalesforceIntegration, org: SalesforceEmulator
) -> None:
    case_id = org.state.create("Case", {"Subject": "x"})["Id"]
    _ok(await sf.push([message(1, case_id, "é" * 3000)]))
    body = org.state.find("CaseComment")[0]["CommentBody"]
    assert len(body.encode()) <= 4000
    assert body == "é" * 2000


@pytest.mark.parametrize(
    ("status", "options", "error", "retry_after"),
    [
        (401, {}, IntegrationAuthError, None),
        (403, {}, IntegrationQuotaError, None),
        (
            403,
            {"message": "ConcurrentPerOrgLongTxn Limit exceeded."},
            RetryableIntegrationError,
            None,
        ),
        (429, {"retry_after": 3}, RetryableIntegrationError, 3.0),
        (500, {}, RetryableIntegrationError, None),
        (503, {"retry_after": 7}, RetryableIntegrationError, 7.0),
    ],
)
async def test_whole_call_failures_are_classified(
    sf: SalesforceIntegration,
    org: SalesforceEmulator,
    status: int,
    options: dict[str, Any],
    error: type[Exception],
    retry_after: float | None,
) -> None:
    org.fail_next(status, **options)
    with pytest.raises(error) as caught:
        await sf.push([contact(1)])
    assert org.state.find("Contact") == []
    assert org.session_id not in str(caught.value)
    if isinstance(caught.value, RetryableIntegrationError):
        assert caught.value.status_code == status
        assert caught.value.retry_after == retry_after
    assert _ok(await sf.push([contact(1)]))  # the next call goes through


async def test_a_failure_after_writes_returns_what_was_done(
    sf: SalesforceIntegration, org: SalesforceEmulator
) -> None:
    org.fail_next(503, path="/composite/sobjects/Case/", retry_after=5)
    results = {r.change_id: r for r in await sf.push([contact(1), conversation(1, None)])}
    assert results["chg_ct_1"].status is PushStatus.OK
    assert results["chg_conv_1"].status is PushStatus.RETRYABLE
    assert results["chg_conv_1"].retry_after == 5


async def test_transcripts_are_files_on_the_case(
    sf: SalesforceIntegration, org: SalesforceEmulator
) -> None:
    case_id = org.state.create("Case", {"Subject": "x"})["Id"]

    def transcript(text: str, **fields: Any) -> OutboundChange:
        return OutboundChange(
            change_id="chg_tr_1",
            object=SyncObject.TRANSCRIPT,
            local_id="conv_1",
            parent_local_id="conv_1",
            parent_remote_id=case_id,
            data={"filename": "conv_1.txt", "content_type": "text/plain", "text": text},
            **fields,
        )

    [result] = await sf.push([transcript("Customer: hi")])
    assert result.status is PushStatus.OK
    assert result.remote_type == "ContentDocument"
    assert result.remote_id is not None
    assert result.remote_id.startswith("069")
    [link] = org.state.find("ContentDocumentLink")
    assert (link["LinkedEntityId"], link["ContentDocumentId"]) == (case_id, result.remote_id)
    assert result.remote_version is not None
    assert org.state.blob(result.remote_version) == b"Customer: hi"

    [retried] = await sf.push([transcript("Customer: hi", attempt=2)])
    assert retried.remote_id == result.remote_id
    [newer] = await sf.push([transcript("Customer: hi\nAgent: bye", remote_id=result.remote_id)])
    assert newer.remote_id == result.remote_id
    versions = org.state.find("ContentVersion", ContentDocumentId=result.remote_id)
    assert [v["VersionNumber"] for v in versions] == ["1", "2", "3"]
    assert [v["IsLatest"] for v in versions] == [False, False, True]


async def test_deletes(sf: SalesforceIntegration, org: SalesforceEmulator) -> None:
    ids = _ok(await sf.push([contact(1), contact(2)]))
    case_id = _ok(await sf.push([conversation(1, ids["chg_ct_1"])]))["chg_conv_1"]
    gone = [
        OutboundChange(
            change_id="del_case", object=SyncObject.CONVERSATION, local_id="conv_1",
            action=ChangeAction.DELETE,
        ),
        OutboundChange(
            change_id="del_ct_2", object=SyncObject.CONTACT, local_id="ct_2",
            remote_id=ids["chg_ct_2"], action=ChangeAction.DELETE,
        ),
        OutboundChange(
            change_id="del_never", object=SyncObject.MESSAGE, local_id="msg_9",
            action=ChangeAction.DELETE,
        ),
    ]  # fmt: skip
    results = await sf.push(gone)
    assert [r.status for r in results] == [PushStatus.OK] * 3
    assert org.state.find("Case") == []
    assert [c["Id"] for c in org.state.find("Contact")] == [ids["chg_ct_1"]]
    again = await sf.push(gone)  # already gone counts as done
    assert [r.status for r in again] == [PushStatus.OK] * 3
    assert case_id


# -- auth and health -----------------------------------------------------------------


async def test_password_login_and_login_again_when_the_session_expires(
    org: SalesforceEmulator,
) -> None:
    config = _config(
        org,
        session_id=None,
        username=org.username,
        password="chatkit-password",
        security_token="chatkitSecurityToken",
        login_url=org.url,
    )
    assert "chatkit-password" not in repr(config)
    async with SalesforceIntegration(config) as sf:
        assert _ok(await sf.push([contact(1)]))
        org.state.expire_sessions()
        assert _ok(await sf.push([contact(2)]))
    assert org.state.call_count(route="login", api_only=False) == 2

    wrong = _config(
        org, session_id=None, username=org.username, password="nope",
        security_token="chatkitSecurityToken", login_url=org.url,
    )  # fmt: skip
    sf = SalesforceIntegration(wrong)
    with pytest.raises(IntegrationAuthError) as caught:
        await sf.push([contact(3)])
    assert "nope" not in str(caught.value)
    assert (await sf.check()).state is HealthState.AUTH_FAILED
    await sf.close()


async def test_check(sf: SalesforceIntegration, org: SalesforceEmulator) -> None:
    status = await sf.check()
    assert status.state is HealthState.OK
    assert "daily API requests left" in status.detail
    org.fail_next(503)
    assert (await sf.check()).state is HealthState.UNREACHABLE
    org.fail_next(401)
    assert (await sf.check()).state is HealthState.AUTH_FAILED
    org.state.api_usage = org.state.daily_api_limit - 100
    assert (await sf.check()).state is HealthState.DEGRADED
    org.state.api_usage = org.state.daily_api_limit
    assert (await sf.check()).state is HealthState.QUOTA_EXHAUSTED


async def test_a_wrong_session_is_auth_failed(org: SalesforceEmulator) -> None:
    async with SalesforceIntegration(_config(org, session_id="00Dbogus")) as sf:
        status = await sf.check()
    assert status.state is HealthState.AUTH_FAILED
    assert "00Dbogus" not in status.detail


def test_config_needs_credentials(org: SalesforceEmulator) -> None:
    from chatkit.errors import IntegrationConfigError

    with pytest.raises(IntegrationConfigError):
        SalesforceConfig.create({"instance_url": org.url})
    assert SalesforceIntegration.capabilities.batch_size("contact") == 200


# -- pull ----------------------------------------------------------------------------


async def _pull_all(
    sf: SalesforceIntegration, cursor: str | None, limit: int
) -> tuple[list[InboundChange], str | None]:
    changes: list[InboundChange] = []
    while True:
        page = await sf.pull(cursor, limit=limit)
        changes += page.changes
        cursor = page.cursor
        if not page.has_more:
            return changes, cursor


async def test_pull_pages_oldest_first_and_sees_edits_in_salesforce(
    sf: SalesforceIntegration, org: SalesforceEmulator, clock: Clock
) -> None:
    ids = _ok(await sf.push([contact(1)]))
    clock.tick()
    case_id = _ok(await sf.push([conversation(1, ids["chg_ct_1"])]))["chg_conv_1"]
    clock.tick()
    _ok(await sf.push([message(1, case_id, "Where is my order?")]))
    clock.tick()
    org.state.create(
        "CaseComment", {"ParentId": case_id, "CommentBody": "Checking", "IsPublished": True}
    )
    clock.tick()
    agent_contact = org.state.create("Contact", {"LastName": "Walk-in", "Email": "w@example.com"})

    first = await sf.pull(None, limit=2)
    assert first.has_more
    assert [c.remote_type for c in first.changes] == ["Contact", "Case"]
    again = await sf.pull(None, limit=2)
    assert again.changes == first.changes  # the same cursor gives the same page
    rest, cursor = await _pull_all(sf, first.cursor, 2)
    changes = [*first.changes, *rest]
    assert [c.remote_type for c in changes] == [
        "Contact", "Case", "CaseComment", "CaseComment", "Contact",
    ]  # fmt: skip
    stamps = [c.changed_at for c in changes]
    assert stamps == sorted(stamps)

    ann, case, ours, theirs, walk_in = changes
    assert (ann.object, ann.local_id, ann.data) == (
        SyncObject.CONTACT,
        "ct_1",
        {"name": "Ann Smith 1", "email": "ann1@example.com", "phone": None},
    )
    assert (case.object, case.local_id, case.parent_remote_id) == (
        SyncObject.CONVERSATION,
        "conv_1",
        ids["chg_ct_1"],
    )
    assert case.data == {"subject": "Order 1 is late", "status": "open", "priority": "normal"}
    assert case.remote_version == org.state.get("Case", case_id)["SystemModstamp"]
    assert (ours.object, ours.parent_remote_id, ours.data["from_integration"]) == (
        SyncObject.MESSAGE,
        case_id,
        True,
    )
    assert theirs.data == {
        "text": "Checking",
        "author_name": "Alice Agent",
        "from_integration": False,
    }
    assert (walk_in.remote_id, walk_in.local_id) == (agent_contact["Id"], None)

    # Nothing new: an empty page, the cursor kept.
    empty = await sf.pull(cursor)
    assert (empty.changes, empty.cursor, empty.has_more) == ((), cursor, False)

    # An agent closes the case and adds a private note in Salesforce.
    clock.tick(30)
    org.state.update("Case", case_id, {"Status": "Closed", "Priority": "Low"})
    org.state.create("CaseComment", {"ParentId": case_id, "CommentBody": "Refunded"})
    edits, _ = await _pull_all(sf, cursor, 10)
    assert [(c.object, c.data.get("status"), c.data.get("text")) for c in edits] == [
        (SyncObject.CONVERSATION, "resolved", None),
        (SyncObject.NOTE, None, "Refunded"),
    ]
    assert edits[0].data["priority"] == "low"


async def test_pull_with_equal_system_modstamps_skips_and_repeats_nothing(
    sf: SalesforceIntegration, org: SalesforceEmulator, clock: Clock
) -> None:
    made = [org.state.create("Contact", {"LastName": f"c{i}"})["Id"] for i in range(7)]
    case_id = org.state.create("Case", {"Subject": "same instant"})["Id"]
    clock.tick()
    later = org.state.create("Contact", {"LastName": "later"})["Id"]
    pages = []
    cursor = None
    seen: list[str] = []
    while True:
        page = await sf.pull(cursor, limit=3)
        pages.append(len(page.changes))
        seen += [c.remote_id for c in page.changes]
        cursor = page.cursor
        if not page.has_more:
            break
    assert sorted(seen) == sorted([*made, case_id, later])
    assert len(seen) == len(set(seen))
    assert seen[-1] == later
    assert pages == [3, 3, 3]

    # An edit at the very same instant as the cursor's record is still seen.
    org.state.update("Contact", made[0], {"LastName": "renamed"})
    page = await sf.pull(cursor)
    assert [(c.remote_id, c.data["name"]) for c in page.changes] == [(made[0], "renamed")]


async def test_pull_reports_deletions(
    sf: SalesforceIntegration, org: SalesforceEmulator, clock: Clock
) -> None:
    case_id = org.state.create("Case", {"Subject": "x"})["Id"]
    comment = org.state.create("CaseComment", {"ParentId": case_id, "CommentBody": "hi"})
    _, cursor = await _pull_all(sf, None, 10)
    clock.tick()
    org.state.delete(case_id)
    changes, _ = await _pull_all(sf, cursor, 10)
    assert {(c.remote_id, c.action) for c in changes} == {
        (case_id, ChangeAction.DELETE),
        (comment["Id"], ChangeAction.DELETE),
    }


# -- the owner -----------------------------------------------------------------------


def _owned(n: int, contact_id: str, owner: str | None) -> OutboundChange:
    return conversation(n, contact_id, assignee_email=owner, assignee_name=owner and "Agent")


async def test_the_case_owner_is_the_user_with_the_assignees_email(
    sf: SalesforceIntegration, org: SalesforceEmulator
) -> None:
    ann_user = org.state.add_user("Ann", "Agent", "ann.agent@example.com")
    bob_user = org.state.add_user("Bob", "Agent", "bob.agent@example.com")
    org.state.add_user("Old", "Agent", "gone@example.com", active=False)
    contacts = _ok(await sf.push([contact(i) for i in (1, 2, 3, 4)]))
    ids = [contacts[f"chg_ct_{i}"] for i in (1, 2, 3, 4)]
    queries = org.state.call_count(route="query")
    owners = ["ANN.agent@example.com", "bob.agent@example.com", "gone@example.com", None]
    made = _ok(
        await sf.push(
            [_owned(i, c, o) for i, (c, o) in enumerate(zip(ids, owners, strict=True), 1)]
        )
    )
    cases = [made[f"chg_conv_{i}"] for i in (1, 2, 3, 4)]
    default = org.state.api_user_id  # no OwnerId: the case is the API user's
    assert [org.state.get("Case", c)["OwnerId"] for c in cases] == [
        ann_user,
        bob_user,
        default,
        default,
    ]
    assert org.state.call_count(route="query") == queries + 1  # one lookup for the batch

    # Changed, cleared and unknown: all cached, so no query; no owner keeps the old one.
    owners = ["bob.agent@example.com", None, "gone@example.com", "ann.agent@example.com"]
    _ok(
        await sf.push(
            [_owned(i, c, o) for i, (c, o) in enumerate(zip(ids, owners, strict=True), 1)]
        )
    )
    assert [org.state.get("Case", c)["OwnerId"] for c in cases] == [
        bob_user,
        bob_user,
        default,
        ann_user,
    ]
    assert org.state.call_count(route="query") == queries + 1

    # A new email costs one query, for it alone; unassigned conversations cost none.
    _ok(await sf.push([_owned(1, ids[0], "nobody@example.com"), _owned(2, ids[1], None)]))
    assert org.state.call_count(route="query") == queries + 2
    assert org.state.get("Case", cases[0])["OwnerId"] == bob_user


async def test_a_cached_owner_deactivated_since_is_looked_up_again(
    sf: SalesforceIntegration, org: SalesforceEmulator
) -> None:
    ann_user = org.state.add_user("Ann", "Agent", "ann.agent@example.com")
    contact_id = _ok(await sf.push([contact(1)]))["chg_ct_1"]
    case_id = _ok(await sf.push([_owned(1, contact_id, "ann.agent@example.com")]))["chg_conv_1"]
    assert org.state.get("Case", case_id)["OwnerId"] == ann_user
    org.state.records["User"][ann_user]["IsActive"] = False
    (refused,) = await sf.push([_owned(1, contact_id, "ann.agent@example.com")])
    assert refused.status is PushStatus.RETRYABLE
    assert "inactive" in (refused.error or "")
    (again,) = await sf.push([_owned(1, contact_id, "ann.agent@example.com")])
    assert again.status is PushStatus.OK  # looked up again: no active user, OwnerId left out
    assert org.state.get("Case", case_id)["OwnerId"] == ann_user
