"""The Zendesk emulator, driven by the vendor's real client ``zenpy`` over HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest

zenpy = pytest.importorskip("zenpy")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from zenpy.lib.api_objects import Comment, Ticket, User  # noqa: E402
from zenpy.lib.exception import (  # noqa: E402
    APIException,
    RatelimitBudgetExceeded,
    RecordNotFoundException,
    TooManyValuesException,
)

from chatkit_integrations.zendesk.emulator import ZendeskEmulator  # noqa: E402
from chatkit_integrations.zendesk.webhooks import (  # noqa: E402
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    build_signed_webhook,
    sign_webhook,
)

# Shapes of the recorded responses in vendor-fixtures (zendesk_*.json).
TICKET_KEYS = [
    "url", "id", "external_id", "via", "created_at", "updated_at", "type", "subject",
    "raw_subject", "description", "priority", "status", "recipient", "requester_id",
    "submitter_id", "assignee_id", "organization_id", "group_id", "collaborator_ids",
    "follower_ids", "email_cc_ids", "forum_topic_id", "problem_id", "has_incidents",
    "is_public", "due_at", "tags", "custom_fields", "satisfaction_rating",
    "sharing_agreement_ids", "custom_status_id", "fields", "followup_ids", "ticket_form_id",
    "brand_id", "allow_channelback", "allow_attachments", "from_messaging_channel",
]  # fmt: skip
AUDIT_KEYS = ["id", "ticket_id", "created_at", "author_id", "metadata", "events", "via"]
SYSTEM_KEYS = ["client", "ip_address", "location", "latitude", "longitude"]
COMMENT_EVENT_KEYS = [
    "id", "type", "author_id", "body", "html_body", "plain_body", "public", "attachments",
    "audit_id",
]  # fmt: skip
CREATE_EVENT_KEYS = ["id", "type", "value", "field_name"]
PAGE_KEYS = ["tickets", "after_url", "before_url", "after_cursor", "before_cursor", "end_of_stream"]
ATTACHMENT_KEYS = [
    "url", "id", "file_name", "content_url", "mapped_content_url", "content_type", "size",
    "width", "height", "inline", "deleted", "malware_access_override", "malware_scan_result",
    "thumbnails",
]  # fmt: skip
JOB_KEYS = ["id", "url", "total", "progress", "status", "message", "results"]
RESULT_KEYS = ["index", "id", "account_id"]
TOO_MANY_VALUES = {
    "error": "TooManyValues",
    "description": "Parameter  cannot specify more than 100 values",
    "max_count": 100,
}
FIXTURES = Path(
    os.environ.get(
        "CHATKIT_VENDOR_FIXTURES",
        Path(__file__).resolve().parents[2] / "shared" / "vendor-fixtures",
    )
)


@pytest.fixture
def zendesk(monkeypatch: pytest.MonkeyPatch) -> Iterator[ZendeskEmulator]:
    with ZendeskEmulator(api_token="t0ken") as emulator:
        for name, value in emulator.zenpy_env().items():
            monkeypatch.setenv(name, value)
        yield emulator


@pytest.fixture
def client(zendesk: ZendeskEmulator) -> Any:
    client = zenpy.Zenpy(subdomain="chatkit", email="agent@example.com", token="t0ken")
    client.disable_caching()  # zenpy caches objects by id; a sync must see edits made in Zendesk
    return client


@pytest.fixture
def raw(zendesk: ZendeskEmulator) -> Iterator[httpx.Client]:
    """Plain HTTP to the emulator, to check exact response bodies."""
    with httpx.Client(
        base_url=zendesk.url, auth=("agent@example.com/token", "t0ken"), trust_env=False
    ) as http:
        yield http


def _ticket(**fields: Any) -> Ticket:
    return Ticket(**{"subject": "Order late", "description": "Where is my order?", **fields})


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


# -- users ---------------------------------------------------------------------------


def test_users_create_show_search_and_create_or_update(client: Any) -> None:
    created = client.users.create(User(name="Ann", email="ann@example.com", external_id="ct_1"))
    assert created.id
    assert created.external_id == "ct_1"
    assert client.users(id=created.id).email == "ann@example.com"
    assert [u.id for u in client.users.search(external_id="ct_1")] == [created.id]
    assert list(client.users.search(external_id="nobody")) == []

    updated = client.users.create_or_update(User(name="Ann B", external_id="ct_1"))
    assert (updated.id, updated.name) == (created.id, "Ann B")
    other = client.users.create_or_update(User(name="Bob", email="bob@example.com"))
    assert other.id != created.id

    with pytest.raises(APIException) as caught:
        client.users.create(User(name="Ann again", email="ANN@example.com"))
    assert caught.value.response.status_code == 422
    assert json.loads(str(caught.value))["details"]["email"][0]["error"] == "DuplicateValue"


def test_users_create_many_is_a_job(client: Any, zendesk: ZendeskEmulator) -> None:
    job = client.users.create([User(name=f"user {i}", email=f"u{i}@example.com") for i in range(3)])
    assert job.status == "queued"
    assert client.job_status(id=job.id).status == "working"
    done = client.job_status(id=job.id)
    assert done.status == "completed"
    ids = [result.id for result in done.results]
    assert [zendesk.state.get_user(i)["name"] for i in ids] == ["user 0", "user 1", "user 2"]


# -- tickets -------------------------------------------------------------------------


def test_ticket_create_answers_the_recorded_shape(raw: httpx.Client) -> None:
    response = raw.post(
        "/api/v2/tickets.json", json={"ticket": {"subject": "test", "comment": {"body": "test"}}}
    )
    assert response.status_code == 201
    body = response.json()
    assert list(body) == ["ticket", "audit"]
    assert list(body["ticket"]) == TICKET_KEYS
    assert list(body["audit"]) == AUDIT_KEYS
    assert list(body["audit"]["metadata"]) == ["system", "custom"]
    assert list(body["audit"]["metadata"]["system"]) == SYSTEM_KEYS
    comment, *creates = body["audit"]["events"]
    assert list(comment) == COMMENT_EVENT_KEYS
    assert comment["html_body"] == (
        '<div class="zd-comment" dir="auto"><p dir="auto">test</p></div>'
    )
    assert all(list(event) == CREATE_EVENT_KEYS for event in creates)
    assert body["ticket"]["status"] == "new"
    assert body["ticket"]["created_at"].endswith("Z")


def test_tickets_create_show_update_and_not_found(client: Any) -> None:
    requester = client.users.create(User(name="Ann", email="ann@example.com"))
    audit = client.tickets.create(_ticket(requester_id=requester.id, external_id="conv_1"))
    ticket = client.tickets(id=audit.ticket.id)
    assert (ticket.requester_id, ticket.external_id, ticket.status) == (
        requester.id,
        "conv_1",
        "new",
    )
    ticket.status = "open"
    ticket.priority = "high"
    changed = client.tickets.update(ticket)
    assert (changed.ticket.status, changed.ticket.priority) == ("open", "high")
    assert {e["field_name"] for e in changed.audit.events if e["type"] == "Change"} == {
        "status",
        "priority",
    }
    with pytest.raises(RecordNotFoundException):
        client.tickets(id=999_999)


def test_comments_public_and_private(client: Any, zendesk: ZendeskEmulator) -> None:
    ticket = client.tickets.create(_ticket()).ticket
    ticket.comment = Comment(body="We are on it", public=True)
    client.tickets.update(ticket)
    ticket = client.tickets(id=ticket.id)
    ticket.comment = Comment(body="Customer is a VIP", public=False)
    client.tickets.update(ticket)
    zendesk.state.add_comment(ticket.id, "Agent note in Zendesk", public=False)

    comments = [(c.body, c.public) for c in client.tickets.comments(ticket=ticket.id)]
    assert comments == [
        ("Where is my order?", True),
        ("We are on it", True),
        ("Customer is a VIP", False),
        ("Agent note in Zendesk", False),
    ]


def test_an_agent_edits_in_zendesk_and_closed_stays_closed(
    client: Any, zendesk: ZendeskEmulator
) -> None:
    ticket_id = client.tickets.create(_ticket()).ticket.id
    zendesk.state.update_ticket(ticket_id, {"status": "closed"})
    assert client.tickets(id=ticket_id).status == "closed"
    ticket = client.tickets(id=ticket_id)
    ticket.status = "open"
    with pytest.raises(APIException) as caught:
        client.tickets.update(ticket)
    assert caught.value.response.status_code == 422
    assert zendesk.state.get_ticket(ticket_id)["status"] == "closed"


# -- bulk jobs -----------------------------------------------------------------------


def test_assignee_email_assigns_an_agent_and_anyone_else_is_refused(
    raw: httpx.Client, zendesk: ZendeskEmulator
) -> None:
    agent = zendesk.state.create_user({"name": "Ann", "email": "ann@example.com", "role": "agent"})
    zendesk.state.create_user({"name": "Eve", "email": "eve@example.com"})  # an end user
    body = {"subject": "Order late", "comment": {"body": "Where?"}}
    made = raw.post(
        "/api/v2/tickets.json", json={"ticket": {**body, "assignee_email": "ANN@example.com"}}
    )
    assert made.status_code == 201
    ticket = made.json()["ticket"]
    assert ticket["assignee_id"] == agent["id"]
    assert "assignee_email" not in ticket  # write only
    path = f"/api/v2/tickets/{ticket['id']}.json"
    cleared = raw.put(path, json={"ticket": {"assignee_id": None}})
    assert cleared.json()["ticket"]["assignee_id"] is None
    for email in ("eve@example.com", "nobody@example.com"):
        for answer in (
            raw.post("/api/v2/tickets.json", json={"ticket": {**body, "assignee_email": email}}),
            raw.put(path, json={"ticket": {"assignee_email": email}}),
        ):
            assert answer.status_code == 422
            assert answer.json()["details"] == {
                "assignee": [{"description": "Assignee: is invalid", "error": "InvalidValue"}]
            }
    assert len(zendesk.state.tickets) == 1
    assert zendesk.state.get_ticket(ticket["id"])["assignee_id"] is None


def test_create_many_polls_job_status_to_completion(client: Any, raw: httpx.Client) -> None:
    job = client.tickets.create([_ticket(subject=f"t{i}") for i in range(100)])
    assert (job.status, job.total) == ("queued", 100)
    statuses = [job.status]
    while statuses[-1] != "completed":
        statuses.append(client.job_status(id=job.id).status)
        assert len(statuses) < 10
    assert statuses == ["queued", "working", "completed"]

    body = raw.get(f"/api/v2/job_statuses/{job.id}.json").json()["job_status"]
    assert list(body) == JOB_KEYS
    assert body["id"].startswith("V3-")
    assert body["message"].startswith("Completed at ")
    assert [list(r) for r in body["results"]] == [RESULT_KEYS] * 100
    assert [r["index"] for r in body["results"]] == list(range(100))
    subjects = [client.tickets(id=r["id"]).subject for r in body["results"][:3]]
    assert subjects == ["t0", "t1", "t2"]


def test_more_than_100_per_job_is_the_recorded_400(client: Any, raw: httpx.Client) -> None:
    with pytest.raises(TooManyValuesException) as caught:
        client.tickets.create([_ticket() for _ in range(101)])
    assert caught.value.response.status_code == 400
    assert caught.value.response.json() == TOO_MANY_VALUES
    response = raw.post("/api/v2/users/create_many.json", json={"users": [{"name": "x"}] * 101})
    assert (response.status_code, response.json()) == (400, TOO_MANY_VALUES)


def test_update_many_reports_each_ticket(client: Any, zendesk: ZendeskEmulator) -> None:
    first = client.tickets.create(_ticket()).ticket
    second = client.tickets.create(_ticket()).ticket
    first.priority, second.priority = "urgent", "low"
    job = client.tickets.update([first, second])
    client.job_status(id=job.id)
    done = client.job_status(id=job.id)
    assert done.status == "completed"
    assert [zendesk.state.get_ticket(t.id)["priority"] for t in (first, second)] == [
        "urgent",
        "low",
    ]


def test_update_many_with_a_comment_per_ticket(
    client: Any, zendesk: ZendeskEmulator, raw: httpx.Client
) -> None:
    agent = zendesk.state.create_user(
        {"name": "Agent", "email": "agent@example.com", "role": "agent"}
    )["id"]
    first, second, third = (client.tickets.create(_ticket()).ticket for _ in range(3))
    zendesk.state.update_ticket(second.id, {"status": "closed"})
    response = raw.put(
        "/api/v2/tickets/update_many.json",
        json={
            "tickets": [
                {"id": first.id, "comment": {"body": "Shipped today", "public": True}},
                {"id": second.id, "comment": {"body": "Too late", "public": True}},
                {
                    "id": third.id,
                    "status": "pending",
                    "comment": {"body": "VIP customer", "public": False},
                },
            ]
        },
    )
    assert response.status_code == 200
    job = response.json()["job_status"]
    assert (job["status"], job["results"]) == ("queued", None)
    assert raw.get(f"/api/v2/job_statuses/{job['id']}.json").json()["job_status"]["status"] == (
        "working"
    )
    done = raw.get(f"/api/v2/job_statuses/{job['id']}.json").json()["job_status"]
    assert (done["status"], done["total"], done["progress"]) == ("completed", 3, 3)
    assert done["results"] == [
        {"id": first.id, "action": "update", "success": True, "status": "Updated"},
        {
            "id": second.id,
            "index": 1,
            "action": "update",
            "success": False,
            "status": "Failed",
            "error": "RecordInvalid",
            "details": "Status: closed prevents ticket update",
        },
        {"id": third.id, "action": "update", "success": True, "status": "Updated"},
    ]
    added = [zendesk.state.list_comments(t.id)[1:] for t in (first, second, third)]
    assert [[(c["body"], c["public"], c["author_id"]) for c in cs] for cs in added] == [
        [("Shipped today", True, agent)],
        [],
        [("VIP customer", False, agent)],
    ]
    assert zendesk.state.get_ticket(third.id)["status"] == "pending"

    # zenpy sends the same request for a list of tickets with comments.
    job = client.tickets.update(
        [Ticket(id=t.id, comment=Comment(body="Any news?", public=True)) for t in (first, third)]
    )
    client.job_status(id=job.id)
    assert client.job_status(id=job.id).status == "completed"
    assert [zendesk.state.list_comments(t.id)[-1]["body"] for t in (first, third)] == [
        "Any news?"
    ] * 2


def test_update_many_with_more_than_100_tickets_is_the_recorded_400(raw: httpx.Client) -> None:
    items = [{"id": i, "comment": {"body": "x"}} for i in range(1, 102)]
    response = raw.put("/api/v2/tickets/update_many.json", json={"tickets": items})
    assert (response.status_code, response.json()) == (400, TOO_MANY_VALUES)


# -- incremental export --------------------------------------------------------------


def test_incremental_cursor_export_across_pages(
    client: Any, zendesk: ZendeskEmulator, raw: httpx.Client
) -> None:
    ids = [client.tickets.create(_ticket(subject=f"t{i}")).ticket.id for i in range(5)]
    exported = [t.id for t in client.tickets.incremental(start_time=0, per_page=2)]
    assert exported == ids

    first = raw.get("/api/v2/incremental/tickets/cursor.json?start_time=0&per_page=2").json()
    assert list(first) == PAGE_KEYS
    assert list(first["tickets"][0]) == [*TICKET_KEYS, "generated_timestamp"]
    assert isinstance(first["tickets"][0]["generated_timestamp"], int)
    assert first["end_of_stream"] is False
    assert first["before_cursor"] is None
    assert first["after_url"].startswith(zendesk.url)
    pages = [first]
    while not pages[-1]["end_of_stream"]:
        pages.append(raw.get(pages[-1]["after_url"]).json())
    assert [len(p["tickets"]) for p in pages] == [2, 2, 1]

    # Resume from the saved cursor: only what changed since comes back.
    zendesk.state.update_ticket(ids[1], {"status": "solved"})
    since = list(client.tickets.incremental(cursor=pages[-1]["after_cursor"]))
    assert [(t.id, t.status) for t in since] == [(ids[1], "solved")]


def test_incremental_user_export_across_pages_and_resume(
    client: Any, zendesk: ZendeskEmulator, raw: httpx.Client
) -> None:
    ids = [client.users.create(User(name=f"u{i}", external_id=f"ct_{i}")).id for i in range(3)]
    first = raw.get("/api/v2/incremental/users/cursor.json?start_time=0&per_page=2").json()
    assert list(first) == ["users", *PAGE_KEYS[1:]]
    assert [u["name"] for u in first["users"]] == ["Admin", "u0"]
    assert first["end_of_stream"] is False
    second = raw.get(first["after_url"]).json()
    assert [u["id"] for u in second["users"]] == ids[1:]
    assert second["end_of_stream"] is True

    zendesk.state.update_user(ids[0], {"name": "u0 renamed"})
    since = raw.get(
        "/api/v2/incremental/users/cursor.json", params={"cursor": second["after_cursor"]}
    ).json()
    assert [(u["id"], u["name"]) for u in since["users"]] == [(ids[0], "u0 renamed")]
    exported = [u.id for u in client.users.incremental(start_time=0)]
    assert exported == [zendesk.state.get_user(6130907993114)["id"], ids[1], ids[2], ids[0]]


EVENT_KEYS = [
    "id", "ticket_id", "timestamp", "created_at", "updater_id", "via", "system", "metadata",
    "merged_ticket_ids", "event_type", "child_events",
]  # fmt: skip
COMMENT_CHILD_KEYS = [
    "id", "via", "via_reference_id", "author_id", "body", "html_body", "plain_body", "public",
    "attachments", "audit_id", "type", "created_at", "event_type",
]  # fmt: skip


class _Clock:
    """A clock a test moves by hand (the emulator stamps events with it)."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> _Clock:
    return _Clock()


@pytest.fixture
def timed(zendesk: ZendeskEmulator, clock: _Clock) -> ZendeskEmulator:
    zendesk.state.clock = clock
    return zendesk


def _events(raw: httpx.Client, **params: Any) -> dict[str, Any]:
    response = raw.get("/api/v2/incremental/ticket_events.json", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_ticket_event_export_records_every_comment_with_its_audit(
    client: Any, timed: ZendeskEmulator, raw: httpx.Client, clock: _Clock
) -> None:
    created = client.tickets.create(_ticket())  # API: the first comment
    ticket_id = created.ticket.id
    clock.tick()
    client.tickets.update(Ticket(id=ticket_id, comment=Comment(body="Via PUT", public=True)))
    clock.tick()
    job = client.tickets.update(  # update_many: a comment each
        [Ticket(id=ticket_id, comment=Comment(body="Via job", public=False))]
    )
    while job.status not in ("completed", "failed"):
        job = client.job_status(id=job.id)
    clock.tick()
    timed.state.add_comment(ticket_id, "An agent's note", public=False)  # an agent in Zendesk
    timed.state.update_ticket(ticket_id, {"status": "solved"})  # no comment, still an event
    timed.state.update_ticket(ticket_id, {"status": "solved"})  # no change: no event

    body = _events(raw, start_time=0, include="comment_events")
    assert list(body) == ["ticket_events", "next_page", "count", "end_of_stream", "end_time"]
    events = body["ticket_events"]
    assert [list(e) for e in events] == [EVENT_KEYS] * 5
    assert (body["count"], body["end_of_stream"]) == (5, True)
    start = int(datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC).timestamp())
    assert [e["timestamp"] for e in events] == [start, start + 1, start + 2, start + 3, start + 3]
    assert body["end_time"] == start + 3
    assert body["next_page"] == (
        f"{timed.url}/api/v2/incremental/ticket_events.json"
        f"?start_time={start + 3}&include=comment_events"
    )
    comments = [c for e in events for c in e["child_events"] if c["event_type"] == "Comment"]
    assert [list(c) for c in comments] == [COMMENT_CHILD_KEYS] * 4
    assert [(c["body"], c["public"]) for c in comments] == [
        ("Where is my order?", True),
        ("Via PUT", True),
        ("Via job", False),
        ("An agent's note", False),
    ]
    # The export's comments are the ticket's comments: same ids, times and audits.
    listed = timed.state.list_comments(ticket_id)
    assert [(c["id"], c["created_at"], c["audit_id"]) for c in comments] == [
        (c["id"], c["created_at"], c["audit_id"]) for c in listed
    ]
    assert [e["id"] for e in events[:4]] == [c["audit_id"] for c in comments]
    assert events[4]["child_events"] == [
        {
            "id": events[4]["child_events"][0]["id"],
            "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
            "via_reference_id": None,
            "status": "solved",
            "previous_value": "new",
            "event_type": "Change",
        }
    ]
    assert {e["event_type"] for e in events} == {"Audit"}
    assert all(e["ticket_id"] == ticket_id for e in events)

    # Without the sideload, a comment is only flagged.
    plain = _events(raw, start_time=0)["ticket_events"]
    flagged = [c for e in plain for c in e["child_events"] if c["event_type"] == "Comment"]
    assert [(sorted(c), c["comment_public"]) for c in flagged][:1] == [
        (
            ["comment_present", "comment_public", "event_type", "id", "via", "via_reference_id"],
            True,
        )
    ]

    # Through zenpy, with its attributes of a time-based page.
    page = client.tickets.events(start_time=start + 2, include="comment_events")
    assert (page.count, page.end_time, page.end_of_stream) == (3, start + 3, True)
    assert [e.id for e in page.values] == [e["id"] for e in events[2:]]
    assert page.values[0].to_dict()["child_events"][0]["body"] == "Via job"


def test_ticket_event_pages_start_again_at_the_last_second(
    timed: ZendeskEmulator, raw: httpx.Client, clock: _Clock
) -> None:
    ticket_id = timed.state.create_ticket({"subject": "s", "comment": {"body": "c0"}})[0]["id"]
    for n in range(1, 5):  # c0..c2 in one second, c3 and c4 in the next
        if n == 3:
            clock.tick()
        timed.state.add_comment(ticket_id, f"c{n}")

    first = _events(raw, start_time=0, per_page=2, include="comment_events")
    assert (first["count"], first["end_of_stream"]) == (2, False)
    assert "per_page=2" in first["next_page"]
    second = raw.get(first["next_page"]).json()
    # The page starts at the second the last one ended in: its events come again.
    assert [e["id"] for e in second["ticket_events"]][:1] == [first["ticket_events"][0]["id"]]
    assert second["end_time"] == first["end_time"]  # three events in one second, pages of two
    bodies = [c["body"] for e in second["ticket_events"] for c in e["child_events"] if "body" in c]
    assert bodies == ["c0", "c1"]  # the same page: Zendesk cannot page past a full second

    later = _events(raw, start_time=first["end_time"] + 1, per_page=2, include="comment_events")
    assert [c["body"] for e in later["ticket_events"] for c in e["child_events"]] == ["c3", "c4"]
    assert later["end_of_stream"] is False  # a full page
    last = raw.get(later["next_page"]).json()
    assert (last["count"], last["end_of_stream"]) == (2, False)
    empty = _events(raw, start_time=later["end_time"] + 1)
    assert (empty["ticket_events"], empty["end_of_stream"], empty["end_time"]) == (
        [],
        True,
        later["end_time"] + 1,
    )
    refused = raw.get("/api/v2/incremental/ticket_events.json")
    assert refused.status_code == 400


def test_me_is_the_authenticated_user_and_writes_in_their_name(
    client: Any, zendesk: ZendeskEmulator
) -> None:
    assert client.users.me().id == 6130907993114  # unknown email: the admin
    agent = zendesk.state.create_user(
        {"name": "Agent", "email": "api@example.com", "role": "agent"}
    )
    as_agent = zenpy.Zenpy(subdomain="chatkit", email="api@example.com", token="t0ken")
    assert as_agent.users.me().id == agent["id"]
    ticket = as_agent.tickets.create(_ticket()).ticket
    ticket.comment = Comment(body="From the API user", public=True)
    as_agent.tickets.update(ticket)
    authors = [c["author_id"] for c in zendesk.state.list_comments(ticket.id)]
    assert authors == [agent["id"], agent["id"]]


def test_list_tickets_by_external_id(client: Any, raw: httpx.Client) -> None:
    first = client.tickets.create(_ticket(external_id="conv_1")).ticket.id
    client.tickets.create(_ticket(external_id="conv_2"))
    second = client.tickets.create(_ticket(external_id="conv_1")).ticket.id  # not unique
    assert [t.id for t in client.tickets(external_id="conv_1")] == [first, second]
    assert list(client.tickets(external_id="conv_9")) == []

    body = raw.get("/api/v2/tickets.json", params={"external_id": "conv_1", "page[size]": 1}).json()
    assert list(body) == ["tickets", "meta", "links"]
    assert list(body["tickets"][0]) == TICKET_KEYS
    assert body["meta"]["has_more"] is True
    rest = raw.get(body["links"]["next"]).json()
    assert [t["id"] for t in rest["tickets"]] == [second]
    assert rest["meta"]["has_more"] is False


def test_uploads_attach_to_a_private_comment(
    client: Any, zendesk: ZendeskEmulator, raw: httpx.Client
) -> None:
    content = b"Customer: hello\nAgent: hi\n"
    upload = client.attachments.upload(
        BytesIO(content), target_name="transcript.txt", content_type="text/plain"
    )
    assert upload.token
    assert upload.attachment.file_name == "transcript.txt"
    assert (upload.attachment.size, upload.attachment.content_type) == (len(content), "text/plain")

    body = raw.post(
        "/api/v2/uploads.json",
        params={"filename": "second.txt"},
        content=b"more",
        headers={"Content-Type": "text/plain"},
    )
    assert body.status_code == 201
    recorded = body.json()["upload"]
    assert list(recorded) == ["token", "expires_at", "attachments", "attachment"]
    assert list(recorded["attachment"]) == ATTACHMENT_KEYS

    ticket = client.tickets.create(_ticket()).ticket
    ticket.comment = Comment(body="Transcript", public=False, uploads=[upload.token])
    client.tickets.update(ticket)
    last = zendesk.state.list_comments(ticket.id)[-1]
    assert (last["body"], last["public"]) == ("Transcript", False)
    assert [a["file_name"] for a in last["attachments"]] == ["transcript.txt"]
    attachment_id = last["attachments"][0]["id"]
    assert client.attachments(id=attachment_id).file_name == "transcript.txt"
    downloaded = httpx.get(last["attachments"][0]["content_url"], trust_env=False)
    assert (downloaded.status_code, downloaded.content) == (200, content)
    assert raw.post("/api/v2/uploads.json", content=b"x").status_code == 422  # no filename


def test_show_many_users_and_tickets(client: Any, raw: httpx.Client) -> None:
    users = [client.users.create(User(name=f"u{i}", external_id=f"ct_{i}")).id for i in range(2)]
    assert [u.id for u in client.users(ids=[*users, 999])] == users
    by_external = raw.get("/api/v2/users/show_many.json", params={"external_ids": "ct_1,ct_9"})
    assert [u["id"] for u in by_external.json()["users"]] == [users[1]]
    tickets = [client.tickets.create(_ticket()).ticket.id for _ in range(2)]
    assert [t.id for t in client.tickets(ids=tickets)] == tickets
    body = raw.get("/api/v2/tickets/show_many.json", params={"ids": str(tickets[0])}).json()
    assert list(body["tickets"][0]) == TICKET_KEYS
    too_many = raw.get("/api/v2/tickets/show_many.json", params={"ids": ",".join(["1"] * 101)})
    assert (too_many.status_code, too_many.json()) == (400, TOO_MANY_VALUES)


def test_delete_tickets_and_users(client: Any, zendesk: ZendeskEmulator, raw: httpx.Client) -> None:
    ticket = client.tickets.create(_ticket(external_id="conv_1")).ticket
    client.tickets.delete(ticket)
    with pytest.raises(RecordNotFoundException):
        client.tickets(id=ticket.id)
    assert list(client.tickets(external_id="conv_1")) == []
    assert raw.delete(f"/api/v2/tickets/{ticket.id}.json").status_code == 404
    exported = raw.get("/api/v2/incremental/tickets/cursor.json?start_time=0").json()["tickets"]
    assert [(t["id"], t["status"]) for t in exported] == [(ticket.id, "deleted")]

    user = client.users.create(User(name="Ann", email="ann@example.com", external_id="ct_1"))
    answer = raw.delete(f"/api/v2/users/{user.id}.json")
    assert (answer.status_code, answer.json()["user"]["active"]) == (200, False)
    assert list(client.users.search(external_id="ct_1")) == []
    assert zendesk.state.get_user(user.id)["active"] is False


# -- injected failures ---------------------------------------------------------------


def test_429_retry_after_is_surfaced_by_zenpy(zendesk: ZendeskEmulator) -> None:
    budgeted = zenpy.Zenpy(
        subdomain="chatkit", email="agent@example.com", token="t0ken", ratelimit_budget=1
    )
    zendesk.fail_next(429, retry_after=30)
    started = time.monotonic()
    with pytest.raises(RatelimitBudgetExceeded):
        budgeted.users(id=zendesk.state.get_user(6130907993114)["id"])
    assert time.monotonic() - started < 5

    zendesk.fail_next(429, retry_after=0)
    with pytest.raises(APIException) as caught:
        budgeted.tickets(id=1)
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "0"


def test_zenpy_waits_for_retry_after_then_succeeds(client: Any, zendesk: ZendeskEmulator) -> None:
    zendesk.fail_next(429, retry_after=1)
    started = time.monotonic()
    user = client.users.create(User(name="Patient"))
    assert user.id
    assert time.monotonic() - started >= 1
    assert [path for _, path in zendesk.state.requests].count("/api/v2/users.json") == 2


def test_500_and_401_for_the_next_calls(client: Any, zendesk: ZendeskEmulator) -> None:
    zendesk.fail_next(500, times=2)
    for _ in range(2):
        with pytest.raises(APIException) as caught:
            client.users.create(User(name="x"))
        assert caught.value.response.status_code == 500
    zendesk.fail_next(401)
    with pytest.raises(APIException) as caught:
        client.users.create(User(name="x"))
    assert caught.value.response.status_code == 401
    assert client.users.create(User(name="x")).id


def test_failures_can_start_after_some_calls(client: Any, zendesk: ZendeskEmulator) -> None:
    zendesk.fail_next(503, after=1)
    assert client.users.create(User(name="passes")).id
    with pytest.raises(APIException) as caught:
        client.users.create(User(name="fails"))
    assert caught.value.response.status_code == 503
    assert client.users.create(User(name="passes again")).id


def test_a_wrong_token_is_401(zendesk: ZendeskEmulator) -> None:
    intruder = zenpy.Zenpy(subdomain="chatkit", email="agent@example.com", token="wrong")
    with pytest.raises(APIException) as caught:
        intruder.users.create(User(name="x"))
    assert caught.value.response.status_code == 401
    assert caught.value.response.json() == {"error": "Couldn't authenticate you"}


# -- webhooks ------------------------------------------------------------------------


def test_webhook_signature_matches_an_independent_hmac(zendesk: ZendeskEmulator) -> None:
    payload = {"type": "zen:event-type:ticket.created", "detail": {"id": "1"}}
    at = datetime(2026, 12, 1, 3, 45, 54, tzinfo=UTC)
    request = zendesk.signed_webhook(payload, timestamp=at)

    stamp = request.headers[TIMESTAMP_HEADER]
    assert stamp == "2026-12-01T03:45:54Z"
    expected = base64.b64encode(
        hmac.new(
            zendesk.webhook_secret.encode(), stamp.encode() + request.body, hashlib.sha256
        ).digest()
    ).decode()
    assert request.headers[SIGNATURE_HEADER] == expected
    assert json.loads(request.body) == payload
    assert zendesk.webhook_secret not in repr(request)

    tampered = request.body.replace(b'"1"', b'"2"')
    assert sign_webhook(tampered, secret=zendesk.webhook_secret, timestamp=stamp) != expected
    other = build_signed_webhook(request.body, secret="another", timestamp=stamp)
    assert other.headers[SIGNATURE_HEADER] != expected


# -- against the recorded fixtures themselves -----------------------------------------


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="vendor-fixtures not present")
def test_responses_have_the_shapes_of_the_recorded_fixtures(client: Any, raw: httpx.Client) -> None:
    def fixture(name: str) -> Any:
        return json.loads((FIXTURES / name).read_text())

    created = raw.post(
        "/api/v2/tickets.json", json={"ticket": {"subject": "test", "comment": {"body": "test"}}}
    ).json()
    _same_shape(created, fixture("zendesk_ticket_create_201.json"))

    page = raw.get("/api/v2/incremental/tickets/cursor.json?start_time=0&per_page=1").json()
    _same_shape(page, fixture("zendesk_incremental_tickets_cursor_page.json"))

    job = client.tickets.create([_ticket() for _ in range(3)])
    client.job_status(id=job.id)
    status = raw.get(f"/api/v2/job_statuses/{job.id}.json").json()
    _same_shape(status, fixture("zendesk_create_many_job_status_completed.json"))

    too_many = raw.post("/api/v2/tickets/create_many.json", json={"tickets": [{}] * 101})
    assert too_many.json() == fixture("zendesk_create_many_400_too_many_values.json")


def test_the_emulator_runs_as_a_command() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "chatkit_integrations.zendesk.emulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--port" in done.stdout
