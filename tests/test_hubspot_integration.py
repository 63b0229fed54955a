"""The ``hubspot`` integration end to end: the real hubspot-api-client against the emulator."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytest.importorskip("hubspot")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from chatkit.errors import (
    IntegrationAuthError,
    IntegrationQuotaError,
    RetryableIntegrationError,
    WebhookVerificationError,
)
from chatkit.integrations import (
    ChangeAction,
    HealthState,
    InboundChange,
    OutboundChange,
    PushStatus,
    SyncObject,
)
from chatkit_integrations.hubspot.emulator import HubSpotEmulator
from chatkit_integrations.hubspot.integration import (
    HubSpotConfig,
    HubSpotIntegration,
)
from chatkit_integrations.hubspot.webhooks import build_signed_webhook

pytestmark = pytest.mark.anyio

TOKEN = "pat-na1-secret-token"
SECRET = "app-client-secret"
HOOK_URL = "https://chat.example.com/hooks/hubspot"


class Clock:
    """A settable clock: records made without a tick share their timestamp."""

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
    with HubSpotEmulator(access_token=TOKEN, client_secret=SECRET, clock=clock) as hs:
        yield hs


def _config(emulator: HubSpotEmulator, **overrides: Any) -> HubSpotConfig:
    return HubSpotConfig.create(
        {
            "access_token": TOKEN,
            "host": emulator.url,
            "client_secret": SECRET,
            "webhook_url": HOOK_URL,
            **overrides,
        },
        name="hubspot",
    )


@pytest.fixture
async def hubspot(emulator: HubSpotEmulator) -> AsyncIterator[HubSpotIntegration]:
    async with HubSpotIntegration(_config(emulator)) as integration:
        yield integration


def contact(local_id: str, email: str, name: str = "Ann Lee", **extra: Any) -> OutboundChange:
    return OutboundChange(
        change_id=f"ch-{local_id}",
        object=SyncObject.CONTACT,
        local_id=local_id,
        data={"id": local_id, "name": name, "email": email, "phone": None},
        **extra,
    )


def conversation(
    local_id: str, contact_id: str, *, status: str = "open", priority: str = "normal", **extra: Any
) -> OutboundChange:
    return OutboundChange(
        change_id=f"ch-{local_id}",
        object=SyncObject.CONVERSATION,
        local_id=local_id,
        parent_local_id=contact_id,
        data={
            "id": local_id,
            "contact_id": contact_id,
            "subject": "Order late",
            "status": status,
            "priority": priority,
            "channel": "web",
            "tags": ["shipping"],
        },
        **extra,
    )


def message(
    local_id: str, conversation_id: str, text: str, *, kind: SyncObject = SyncObject.MESSAGE,
    role: str = "customer", **extra: Any,
) -> OutboundChange:  # fmt: skip
    return OutboundChange(
        change_id=f"ch-{local_id}",
        object=kind,
        local_id=local_id,
        parent_local_id=conversation_id,
        data={
            "id": local_id,
            "conversation_id": conversation_id,
            "text": text,
            "kind": "note" if kind is SyncObject.NOTE else "text",
            "author": {"role": role, "id": "ct_1" if role == "customer" else "ag_1"},
            "created_at": "2026-03-01T11:59:00Z",
        },
        **extra,
    )


def _by_id(results: list[Any]) -> dict[str, Any]:
    return {r.change_id: r for r in results}


async def _seed(hubspot: HubSpotIntegration) -> dict[str, Any]:
    results = await hubspot.push(
        [
            contact("ct_1", "ann@example.com"),
            conversation("conv_1", "ct_1", status="pending", priority="urgent"),
            message("msg_1", "conv_1", "Where is my order?\nIt is late."),
            message("msg_2", "conv_1", "Checking with the courier", kind=SyncObject.NOTE),
        ]
    )
    assert [r.status for r in results] == [PushStatus.OK] * 4
    return _by_id(results)


# -- push ----------------------------------------------------------------------------


async def test_push_creates_records_with_mapped_properties_and_associations(
    hubspot: HubSpotIntegration, emulator: HubSpotEmulator
) -> None:
    results = await _seed(hubspot)
    state = emulator.state
    (person,) = state.all("contacts")
    assert person["properties"]["email"] == "ann@example.com"
    assert (person["properties"]["firstname"], person["properties"]["lastname"]) == ("Ann", "Lee")
    assert person["properties"]["chatkit_id"] == "ct_1"
    assert results["ch-ct_1"].remote_id == person["id"]
    assert results["ch-ct_1"].remote_version == person["properties"]["lastmodifieddate"]

    (ticket,) = state.all("tickets")
    props = ticket["properties"]
    assert props["subject"] == "Order late"
    assert (props["hs_pipeline"], props["hs_pipeline_stage"]) == ("0", "2")  # waiting on contact
    assert props["hs_ticket_priority"] == "HIGH"  # urgent: HubSpot's highest of LOW/MEDIUM/HIGH
    assert "shipping" in props["content"]
    assert results["ch-conv_1"].remote_type == "ticket"
    linked = state.associated("tickets", ticket["id"], "contacts")
    assert [(str(a["toObjectId"]), a["associationTypes"][0]["typeId"]) for a in linked] == [
        (person["id"], 16)
    ]

    notes = {n["properties"]["chatkit_id"]: n for n in state.all("notes")}
    assert set(notes) == {"msg_1", "msg_2"}
    assert notes["msg_1"]["properties"]["hs_note_body"] == (
        "<p><strong>Chat message from the customer</strong></p>"
        "<p>Where is my order?<br>It is late.</p>"
    )
    assert notes["msg_2"]["properties"]["hs_note_body"].startswith(
        "<p><strong>Internal note</strong></p>"
    )
    assert notes["msg_1"]["properties"]["hs_timestamp"] == "2026-03-01T11:59:00Z"
    on_ticket = state.associated("tickets", ticket["id"], "notes")
    assert sorted(str(a["toObjectId"]) for a in on_ticket) == sorted(
        n["id"] for n in notes.values()
    )
    assert {a["associationTypes"][0]["typeId"] for a in on_ticket} == {227}


async def test_pushing_again_creates_no_duplicates(
    hubspot: HubSpotIntegration, emulator: HubSpotEmulator
) -> None:
    first = await _seed(hubspot)
    emulator.reset_calls()
    # a retry after a crash: the same changes, notes without a known remote id
    again = _by_id(
        await hubspot.push(
            [
                contact("ct_1", "ann@example.com", name="Ann Lee-Smith", attempt=2),
                conversation("conv_1", "ct_1", status="resolved", attempt=2),
                message("msg_1", "conv_1", "Where is my order?", attempt=2),
                message("msg_2", "conv_1", "Courier says Friday", kind=SyncObject.NOTE, attempt=2),
            ]
        )
    )
    assert all(r.status is PushStatus.OK for r in again.values())
    assert {k: r.remote_id for k, r in again.items()} == {k: r.remote_id for k, r in first.items()}
    assert len(emulator.state.all("contacts")) == 1
    assert len(emulator.state.all("tickets")) == 1
    assert len(emulator.state.all("notes")) == 2
    assert emulator.state.all("contacts")[0]["properties"]["lastname"] == "Lee-Smith"
    assert emulator.state.all("tickets")[0]["properties"]["hs_pipeline_stage"] == "4"
    (note,) = emulator.state.find("notes", "chatkit_id", "msg_2")
    assert "Courier says Friday" in note["properties"]["hs_note_body"]
    # upsert contacts, upsert tickets, associate, one search for the notes, update notes
    assert emulator.calls() == 5
    assert emulator.calls("POST", "/crm/v3/objects/notes/search") == 1
    assert emulator.calls("POST", "/crm/v3/objects/notes/batch/create") == 0

    # with remote ids known, a note is updated without a search
    emulator.reset_calls()
    known = message(
        "msg_1", "conv_1", "edited", parent_remote_id=first["ch-conv_1"].remote_id,
        remote_id=first["ch-msg_1"].remote_id, attempt=3,
    )  # fmt: skip
    (result,) = await hubspot.push([known])
    assert result.status is PushStatus.OK
    assert emulator.calls() == 1
    assert emulator.calls("POST", "/crm/v3/objects/notes/batch/update") == 1


async def test_first_try_notes_are_created_without_a_lookup(
    hubspot: HubSpotIntegration, emulator: HubSpotEmulator
) -> None:
    results = await _seed(hubspot)
    emulator.reset_calls()
    ticket_id = results["ch-conv_1"].remote_id
    batch = [
        message(f"msg_{i}", "conv_1", f"line {i}", parent_remote_id=ticket_id) for i in range(3, 8)
    ]
    transcript = OutboundChange(
        change_id="ch-tr-1",
        object=SyncObject.TRANSCRIPT,
        local_id="conv_1",
        parent_local_id="conv_1",
        parent_remote_id=ticket_id,
        data={"filename": "conv_1.txt", "content_type": "text/plain", "text": "Ann: hi\nBo: hello"},
    )
    pushed = await hubspot.push([*batch, transcript])
    assert {r.status for r in pushed} == {PushStatus.OK}
    assert emulator.calls() == 1  # one batch create, associations included
    assert emulator.write_calls() == 1
    (note,) = emulator.state.find("notes", "chatkit_id", "conv_1")
    assert note["properties"]["hs_note_body"] == (
        "<p><strong>Chat transcript (conv_1.txt)</strong></p><p>Ann: hi<br>Bo: hello</p>"
    )
    assert len(emulator.state.associated("tickets", ticket_id, "notes")) == 2 + 6


async def test_one_bad_record_fails_alone(emulator: HubSpotEmulator, clock: Clock) -> None:
    emulator.state.create("contacts", {"email": "taken@example.com"}, source="CRM_UI")
    config = _config(emulator, stages={"open": "1", "pending": "99"})
    async with HubSpotIntegration(config) as hubspot:
        results = _by_id(
            await hubspot.push(
                [
                    contact("ct_1", "ann@example.com"),
                    contact("ct_2", "taken@example.com"),
                    conversation("conv_1", "ct_1"),
                    conversation("conv_2", "ct_1", status="pending"),  # stage 99 does not exist
                    message("msg_1", "conv_2", "hello"),  # its ticket failed: later
                    message("msg_2", "conv_1", "x" * 70_000),  # cut to HubSpot's note limit
                ]
            )
        )
    assert results["ch-ct_1"].status is PushStatus.OK
    assert results["ch-ct_2"].status is PushStatus.PERMANENT
    assert results["ch-ct_2"].error.startswith("CONFLICT: Contact already exists. Existing ID: ")
    assert results["ch-conv_1"].status is PushStatus.OK
    assert results["ch-conv_2"].status is PushStatus.PERMANENT
    assert "VALIDATION_ERROR" in results["ch-conv_2"].error
    assert "hs_pipeline_stage" in results["ch-conv_2"].error
    assert results["ch-msg_1"].status is PushStatus.RETRYABLE
    assert results["ch-msg_2"].status is PushStatus.OK
    (long_note,) = emulator.state.find("notes", "chatkit_id", "msg_2")
    body = long_note["properties"]["hs_note_body"]
    assert len(body) <= 65_536
    assert body.endswith("… (truncated)</p>")
    assert len(emulator.state.all("tickets")) == 1


async def test_whole_call_failures_are_classified(
    hubspot: HubSpotIntegration, emulator: HubSpotEmulator
) -> None:
    batch = [contact("ct_1", "ann@example.com")]
    emulator.fail_next(401)
    with pytest.raises(IntegrationAuthError) as auth:
        await hubspot.push(batch)
    assert TOKEN not in str(auth.value)

    emulator.fail_next(429, policy="DAILY")
    with pytest.raises(IntegrationQuotaError):
        await hubspot.push(batch)

    emulator.fail_next(429)  # SECONDLY: HubSpot's interval header says when
    with pytest.raises(RetryableIntegrationError) as secondly:
        await hubspot.push(batch)
    assert secondly.value.status_code == 429
    assert secondly.value.retry_after == 10.0

    emulator.fail_next(429, retry_after=7)
    with pytest.raises(RetryableIntegrationError) as told:
        await hubspot.push(batch)
    assert told.value.retry_after == 7.0  # not slept on by urllib3: the engine waits

    emulator.fail_next(503)
    with pytest.raises(RetryableIntegrationError) as down:
        await hubspot.push(batch)
    assert down.value.status_code == 503
    assert emulator.state.all("contacts") == []  # nothing written by any of them


async def test_a_failure_after_writes_returns_what_was_done(
    hubspot: HubSpotIntegration, emulator: HubSpotEmulator
) -> None:
    emulator.fail_next(429, after=1)  # the contacts go through, the tickets call is refused
    results = _by_id(
        await hubspot.push([contact("ct_1", "ann@example.com"), conversation("conv_1", "ct_1")])
    )
    assert results["ch-ct_1"].status is PushStatus.OK
    assert results["ch-conv_1"].status is PushStatus.RETRYABLE
    assert results["ch-conv_1"].retry_after == 10.0
    assert "rate limit" in results["ch-conv_1"].error


async def test_deletes_archive_and_missing_counts_as_done(
    hubspot: HubSpotIntegration, emulator: HubSpotEmulator
) -> None:
    await _seed(hubspot)
    gone = [
        OutboundChange(
            change_id="del-1",
            object=SyncObject.CONTACT,
            action=ChangeAction.DELETE,
            local_id="ct_1",
        ),
        OutboundChange(
            change_id="del-2", object=SyncObject.NOTE, action=ChangeAction.DELETE, local_id="msg_2"
        ),
        OutboundChange(
            change_id="del-3",
            object=SyncObject.CONTACT,
            action=ChangeAction.DELETE,
            local_id="ct_9",
        ),
    ]
    results = _by_id(await hubspot.push(gone))
    assert {r.status for r in results.values()} == {PushStatus.OK}
    assert emulator.state.all("contacts") == []
    assert [n["properties"]["chatkit_id"] for n in emulator.state.all("notes")] == ["msg_1"]


async def test_check(hubspot: HubSpotIntegration, emulator: HubSpotEmulator) -> None:
    assert (await hubspot.check()).state is HealthState.OK
    for status, policy, expected in (
        (401, "SECONDLY", HealthState.AUTH_FAILED),
        (429, "DAILY", HealthState.QUOTA_EXHAUSTED),
        (429, "SECONDLY", HealthState.DEGRADED),
        (502, "SECONDLY", HealthState.UNREACHABLE),
    ):
        emulator.fail_next(status, policy=policy)
        health = await hubspot.check()
        assert health.state is expected, status
        assert TOKEN not in health.detail
    assert emulator.calls() == 5


# -- pull ----------------------------------------------------------------------------


async def _pull_all(
    hubspot: HubSpotIntegration, cursor: str | None, limit: int
) -> tuple[list[InboundChange], str | None, int]:
    changes: list[InboundChange] = []
    pages = 0
    while True:
        page = await hubspot.pull(cursor, limit=limit)
        pages += 1
        changes.extend(page.changes)
        cursor = page.cursor
        if not page.has_more:
            return changes, cursor, pages
        assert pages < 100


async def test_pull_maps_records_in_chatkit_terms(
    hubspot: HubSpotIntegration, emulator: HubSpotEmulator, clock: Clock
) -> None:
    results = await _seed(hubspot)
    ticket_id = results["ch-conv_1"].remote_id
    clock.tick(10)
    to_ticket = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 228}
    emulator.state.create(
        "notes",
        {
            "hs_note_body": "<p>Called the <b>courier</b></p>",
            "hs_timestamp": "1700000000000",
            "hubspot_owner_id": "77",
        },
        associations=[{"to": {"id": ticket_id}, "types": [to_ticket]}],
        source="CRM_UI",
    )
    changes, cursor, _ = await _pull_all(hubspot, None, 100)
    kinds = [(c.object, c.local_id) for c in changes]
    assert kinds == [
        (SyncObject.CONTACT, "ct_1"),
        (SyncObject.CONVERSATION, "conv_1"),
        (SyncObject.NOTE, "msg_2"),  # our own note echoed; our message msg_1 is not
        (SyncObject.NOTE, None),  # written by an agent in HubSpot
    ]
    person, ticket, ours, theirs = changes
    assert person.data == {"name": "Ann Lee", "email": "ann@example.com"}
    assert (
        person.remote_version == emulator.state.all("contacts")[0]["properties"]["lastmodifieddate"]
    )
    assert ticket.data == {"subject": "Order late", "status": "pending", "priority": "high"}
    assert ticket.parent_remote_id == results["ch-ct_1"].remote_id
    assert ticket.remote_version == results["ch-conv_1"].remote_version
    assert ours.data == {"text": "Checking with the courier", "from_integration": True}
    assert theirs.data == {
        "text": "Called the courier",
        "from_integration": False,
        "author_name": "HubSpot owner 77",
    }
    assert theirs.parent_remote_id == ticket_id
    assert all(c.changed_at.tzinfo is not None for c in changes)

    again = await hubspot.pull(cursor)
    assert again.changes == ()
    assert again.has_more is False

    clock.tick(1000)
    emulator.state.update("tickets", ticket_id, {"hs_pipeline_stage": "4"}, source="CRM_UI")
    page = await hubspot.pull(cursor)
    assert [(c.object, c.data.get("status")) for c in page.changes] == [
        (SyncObject.CONVERSATION, "resolved")
    ]
    assert (await hubspot.pull(cursor)).changes == page.changes  # same cursor, same changes


async def test_pull_pages_past_a_small_search_cap(clock: Clock) -> None:
    with HubSpotEmulator(access_token=TOKEN, clock=clock, search_cap=3) as emulator:
        for i in range(11):
            clock.tick(5)
            emulator.state.create("contacts", {"email": f"u{i}@example.com"}, source="CRM_UI")
        async with HubSpotIntegration(_config(emulator)) as hubspot:
            changes, _, pages = await _pull_all(hubspot, None, 2)
        emails = [c.data["email"] for c in changes]
        assert emails == [f"u{i}@example.com" for i in range(11)]
        assert pages >= 6  # never an after past the cap: each page restarts from the cursor


async def test_equal_timestamps_are_neither_skipped_nor_repeated(
    hubspot: HubSpotIntegration, emulator: HubSpotEmulator, clock: Clock
) -> None:
    # 2 contacts at T1, 5 at T2 (the pinned clock), 1 at T3
    for group, size in enumerate((2, 5, 1)):
        clock.tick(100)
        for i in range(size):
            emulator.state.create(
                "contacts", {"email": f"g{group}-{i}@example.com"}, source="CRM_UI"
            )
    for limit in (1, 2, 3, 200):
        changes, cursor, _ = await _pull_all(hubspot, None, limit)
        ids = [c.remote_id for c in changes]
        assert len(ids) == 8, limit
        assert len(set(ids)) == 8, limit
        assert [c.changed_at for c in changes] == sorted(c.changed_at for c in changes)
        assert (await hubspot.pull(cursor)).changes == ()
    # a record changed at an already-seen timestamp comes again only when it changes
    clock.tick(100)
    first = emulator.state.all("contacts")[0]["id"]
    emulator.state.update("contacts", first, {"phone": "+100"}, source="CRM_UI")
    page = await hubspot.pull(cursor)
    assert [(c.remote_id, c.data.get("phone")) for c in page.changes] == [(first, "+100")]


async def test_pull_errors_are_classified(
    hubspot: HubSpotIntegration, emulator: HubSpotEmulator
) -> None:
    emulator.fail_next(401)
    with pytest.raises(IntegrationAuthError):
        await hubspot.pull(None)
    emulator.fail_next(500)
    with pytest.raises(RetryableIntegrationError):
        await hubspot.pull(None)
    with pytest.raises(Exception, match="not a cursor"):
        await hubspot.pull("garbage!")


# -- webhooks ------------------------------------------------------------------------


async def test_a_signed_webhook_becomes_current_changes(
    hubspot: HubSpotIntegration, emulator: HubSpotEmulator, clock: Clock
) -> None:
    results = await _seed(hubspot)
    emulator.take_events()
    ticket_id = results["ch-conv_1"].remote_id
    emulator.state.update(
        "tickets", ticket_id, {"hs_pipeline_stage": "1", "subject": "Order very late"},
        source="CRM_UI",
    )  # fmt: skip
    emulator.state.archive("contacts", results["ch-ct_1"].remote_id, source="CRM_UI")
    delivery = emulator.signed_webhook(url=HOOK_URL)
    assert len(json.loads(delivery.body)) == 3  # two property changes, one deletion
    emulator.reset_calls()
    changes = await hubspot.verify_webhook(delivery.headers, delivery.body)
    by_kind = {(c.object, c.action): c for c in changes}
    updated = by_kind[(SyncObject.CONVERSATION, ChangeAction.UPSERT)]
    assert updated.data == {"subject": "Order very late", "status": "open", "priority": "high"}
    assert updated.local_id == "conv_1"
    deleted = by_kind[(SyncObject.CONTACT, ChangeAction.DELETE)]
    assert deleted.remote_id == results["ch-ct_1"].remote_id
    assert len(changes) == 2  # the ticket read once for its two events
    assert emulator.calls("POST", "/crm/v3/objects/tickets/batch/read") == 1


async def test_webhooks_with_bad_old_or_no_signature_are_refused(
    hubspot: HubSpotIntegration, emulator: HubSpotEmulator
) -> None:
    events = [
        {"eventId": 1, "subscriptionType": "contact.creation", "objectId": 1, "occurredAt": 1}
    ]
    good = build_signed_webhook(events, client_secret=SECRET, url=HOOK_URL)
    assert await hubspot.verify_webhook(good.headers, good.body) == []  # no such contact now

    tampered = good.body.replace(b'"objectId": 1', b'"objectId": 2')
    with pytest.raises(WebhookVerificationError, match="signature"):
        await hubspot.verify_webhook(good.headers, tampered)
    other_url = build_signed_webhook(events, client_secret=SECRET, url=HOOK_URL + "/x")
    with pytest.raises(WebhookVerificationError):
        await hubspot.verify_webhook(other_url.headers, other_url.body)
    old = build_signed_webhook(
        events, client_secret=SECRET, url=HOOK_URL, timestamp=int((time.time() - 400) * 1000)
    )
    with pytest.raises(WebhookVerificationError, match="older"):
        await hubspot.verify_webhook(old.headers, old.body)
    lowered = {k.lower(): v for k, v in good.headers.items()}
    assert await hubspot.verify_webhook(lowered, good.body) == []
    with pytest.raises(WebhookVerificationError):
        await hubspot.verify_webhook({}, good.body)
    junk = build_signed_webhook(b"not json", client_secret=SECRET, url=HOOK_URL)
    with pytest.raises(WebhookVerificationError, match="JSON"):
        await hubspot.verify_webhook(junk.headers, junk.body)

    async with HubSpotIntegration(_config(emulator, client_secret=None)) as unconfigured:
        with pytest.raises(WebhookVerificationError, match="client_secret"):
            await unconfigured.verify_webhook(good.headers, good.body)


async def test_config_hides_secrets(emulator: HubSpotEmulator) -> None:
    config = _config(emulator)
    assert TOKEN not in repr(config)
    assert SECRET not in repr(config)
    integration = HubSpotIntegration(config)
    assert integration.capabilities.batch_size("contact") == 100
    assert integration.capabilities.webhooks is True
    assert integration.capabilities.rate is not None
    assert integration.capabilities.rate.calls == 100


# -- the owner -----------------------------------------------------------------------


def _owned(local_id: str, contact_id: str, owner: str | None) -> OutboundChange:
    change = conversation(local_id, contact_id)
    data = {**change.data, "assignee_email": owner, "assignee_name": owner and "Agent"}
    return change.model_copy(update={"data": data})


def _owner_of(emulator: HubSpotEmulator, local_id: str) -> str | None:
    (ticket,) = emulator.state.find("tickets", "chatkit_id", local_id)
    owner: str | None = ticket["properties"].get("hubspot_owner_id")
    return owner


async def test_the_ticket_owner_is_the_hubspot_owner_with_the_assignees_email(
    hubspot: HubSpotIntegration, emulator: HubSpotEmulator
) -> None:
    ann = emulator.state.add_owner("ann.agent@example.com", "Ann", "Agent")
    bob = emulator.state.add_owner("bob.agent@example.com", "Bob", "Agent")
    emulator.state.add_owner("gone@example.com", archived=True)
    await hubspot.push([contact(f"ct_{i}", f"c{i}@example.com") for i in (1, 2, 3, 4)])
    emulator.state.reset_calls()
    owners = ["ANN.agent@example.com", "bob.agent@example.com", "gone@example.com", None]
    results = await hubspot.push(
        [_owned(f"conv_{i}", f"ct_{i}", o) for i, o in enumerate(owners, 1)]
    )
    assert [r.status for r in results] == [PushStatus.OK] * 4, [r.error for r in results]
    assert [_owner_of(emulator, f"conv_{i}") for i in (1, 2, 3, 4)] == [ann, bob, "", ""]
    assert emulator.state.calls("GET", "/crm/v3/owners") == 1  # one listing for the batch

    # Changed and cleared, with every owner cached: no owner call.
    owners = ["bob.agent@example.com", None, "ann.agent@example.com", "ann.agent@example.com"]
    results = await hubspot.push(
        [_owned(f"conv_{i}", f"ct_{i}", o) for i, o in enumerate(owners, 1)]
    )
    assert [r.status for r in results] == [PushStatus.OK] * 4
    assert [_owner_of(emulator, f"conv_{i}") for i in (1, 2, 3, 4)] == [bob, "", ann, ann]
    assert emulator.state.calls("GET", "/crm/v3/owners") == 1

    # An unknown email right after a listing is no owner, without listing again.
    (unknown,) = await hubspot.push([_owned("conv_1", "ct_1", "nobody@example.com")])
    assert unknown.status is PushStatus.OK
    assert _owner_of(emulator, "conv_1") == ""
    assert emulator.state.calls("GET", "/crm/v3/owners") == 1

    # Data without the owner's key leaves the owner alone.
    await hubspot.push([conversation("conv_3", "ct_3")])
    assert _owner_of(emulator, "conv_3") == ann


async def test_a_new_owner_is_found_once_the_listing_is_old(
    hubspot: HubSpotIntegration, emulator: HubSpotEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    await hubspot.push([contact("ct_1", "c1@example.com")])
    (first,) = await hubspot.push([_owned("conv_1", "ct_1", "new.agent@example.com")])
    assert first.status is PushStatus.OK
    assert _owner_of(emulator, "conv_1") == ""
    new = emulator.state.add_owner("new.agent@example.com")
    monkeypatch.setattr("chatkit_integrations.hubspot.integration._OWNERS_TTL", 0.0)
    await hubspot.push([_owned("conv_1", "ct_1", "new.agent@example.com")])
    assert _owner_of(emulator, "conv_1") == new
    assert emulator.state.calls("GET", "/crm/v3/owners") == 2


async def test_an_owner_archived_since_the_listing_is_read_again(
    hubspot: HubSpotIntegration, emulator: HubSpotEmulator
) -> None:
    ann = emulator.state.add_owner("ann.agent@example.com", "Ann", "Agent")
    await hubspot.push([contact("ct_1", "c1@example.com")])
    (first,) = await hubspot.push([_owned("conv_1", "ct_1", "ann.agent@example.com")])
    assert first.status is PushStatus.OK
    assert _owner_of(emulator, "conv_1") == ann
    emulator.state.owners[ann]["archived"] = True  # Ann leaves; the cache still has her
    (refused,) = await hubspot.push([_owned("conv_1", "ct_1", "ann.agent@example.com")])
    assert refused.status is PushStatus.RETRYABLE
    assert "hubspot_owner_id" in (refused.error or "")
    (again,) = await hubspot.push(
        [_owned("conv_1", "ct_1", "ann.agent@example.com").model_copy(update={"attempt": 2})]
    )
    assert again.status is PushStatus.OK  # the owners were read again: no owner now
    assert _owner_of(emulator, "conv_1") == ""
    assert emulator.state.calls("GET", "/crm/v3/owners") == 2
