"""The Zendesk integration end to end: zenpy over HTTP against the Zendesk emulator."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

pytest.importorskip("zenpy")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from chatkit.errors import (
    IntegrationAuthError,
    PermanentIntegrationError,
    RetryableIntegrationError,
    WebhookVerificationError,
)
from chatkit.integrations import (
    ChangeAction,
    HealthState,
    InboundChange,
    OutboundChange,
    PushResult,
    PushStatus,
    SyncObject,
)
from chatkit_integrations.zendesk.emulator import ZendeskEmulator
from chatkit_integrations.zendesk.integration import (
    ZendeskConfig,
    ZendeskIntegration,
)

pytestmark = pytest.mark.anyio

TOKEN = "t0ken-secret-value"
API_EMAIL = "sync@example.com"
ADMIN_ID = 6130907993114


@pytest.fixture
def zendesk(monkeypatch: pytest.MonkeyPatch) -> Iterator[ZendeskEmulator]:
    with ZendeskEmulator(api_token=TOKEN, webhook_secret="whsec-test") as emulator:
        for name, value in emulator.zenpy_env().items():
            monkeypatch.setenv(name, value)
        # The API user chatkit writes as; the admin plays the agents working in Zendesk.
        emulator.state.create_user({"name": "chatkit", "email": API_EMAIL, "role": "agent"})
        yield emulator


def _config(**overrides: Any) -> ZendeskConfig:
    values: dict[str, Any] = {
        "subdomain": "chatkit",
        "email": API_EMAIL,
        "api_token": TOKEN,
        "webhook_secret": "whsec-test",
        "job_poll_interval": 0,
        **overrides,
    }
    return ZendeskConfig.create(values)


@pytest.fixture
async def integration(zendesk: ZendeskEmulator) -> AsyncIterator[ZendeskIntegration]:
    async with ZendeskIntegration(_config()) as connected:
        yield connected


def _me(zendesk: ZendeskEmulator) -> int:
    return int(zendesk.state.search_users(email=API_EMAIL)[0]["id"])


def contact(n: int, **data: Any) -> OutboundChange:
    return OutboundChange(
        change_id=f"chg_ct_{n}_{data.get('attempt', 1)}",
        object=SyncObject.CONTACT,
        local_id=f"ct_{n}",
        data={"name": f"Customer {n}", "email": f"c{n}@example.com", **data},
    )


def conversation(n: int, requester: str | None, **fields: Any) -> OutboundChange:
    data = {"subject": f"Order {n} is late", "status": "open", "priority": "high", "tags": []}
    data.update(fields.pop("data", {}))
    return OutboundChange(
        change_id=f"chg_conv_{n}",
        object=SyncObject.CONVERSATION,
        local_id=f"conv_{n}",
        parent_local_id=f"ct_{n}",
        parent_remote_id=requester,
        data=data,
        **fields,
    )


def message(n: int, ticket: str | None, text: str, **fields: Any) -> OutboundChange:
    kind = fields.pop("kind", SyncObject.MESSAGE)
    return OutboundChange(
        change_id=f"chg_msg_{n}",
        object=kind,
        local_id=f"msg_{n}",
        parent_local_id="conv_1",
        parent_remote_id=ticket,
        data={"text": text, "kind": "note" if kind is SyncObject.NOTE else "text"},
        **fields,
    )


def _ok(result: PushResult) -> str:
    assert result.status is PushStatus.OK, result.error
    assert result.remote_id
    return result.remote_id


async def _ticket_for_contact(integration: ZendeskIntegration) -> tuple[str, str]:
    (user,) = await integration.push([contact(1)])
    (ticket,) = await integration.push([conversation(1, _ok(user))])
    return _ok(user), _ok(ticket)


# -- configuration and health ----------------------------------------------------------


def test_config_hides_secrets_and_reads_the_environment(caplog: pytest.LogCaptureFixture) -> None:
    config = ZendeskConfig.from_env(
        "zendesk",
        environ={
            "CHATKIT_ZENDESK_SUBDOMAIN": "acme",
            "CHATKIT_ZENDESK_EMAIL": "bot@acme.com",
            "CHATKIT_ZENDESK_API_TOKEN": TOKEN,
            "CHATKIT_ZENDESK_WEBHOOK_REPLAY_SECONDS": "60",
        },
    )
    assert config.webhook_replay_seconds == 60
    assert TOKEN not in repr(config)
    assert ZendeskIntegration.capabilities.summary().startswith("contact⇄user(100)")
    assert "700/60s" in ZendeskIntegration.capabilities.summary()


async def test_check_reports_ok_auth_quota_and_outage(zendesk: ZendeskEmulator) -> None:
    async with ZendeskIntegration(_config()) as integration:
        status = await integration.check()
        assert status.state is HealthState.OK
        assert str(_me(zendesk)) in status.detail
        zendesk.fail_next(401)
        assert (await integration.check()).state is HealthState.AUTH_FAILED
        zendesk.fail_next(429, retry_after=42)
        quota = await integration.check()
        assert quota.state is HealthState.QUOTA_EXHAUSTED
        assert "42" in quota.detail
        zendesk.fail_next(503)
        assert (await integration.check()).state is HealthState.UNREACHABLE
        assert integration.api_calls == 4
    async with ZendeskIntegration(_config(api_token="wrong")) as intruder:
        refused = await intruder.check()
    assert refused.state is HealthState.AUTH_FAILED
    assert "wrong" not in refused.detail
    assert TOKEN not in refused.detail


# -- push: creates, then finds ---------------------------------------------------------


async def test_push_creates_users_tickets_comments_notes_and_a_transcript(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator
) -> None:
    users = await integration.push([contact(1, phone="+4930123"), contact(2)])
    user_ids = [_ok(r) for r in users]
    stored = [zendesk.state.get_user(int(i)) for i in user_ids]
    assert [(u["external_id"], u["email"], u["role"]) for u in stored] == [
        ("ct_1", "c1@example.com", "end-user"),
        ("ct_2", "c2@example.com", "end-user"),
    ]
    assert stored[0]["phone"] == "+4930123"
    assert users[0].remote_version == stored[0]["updated_at"]

    tickets = await integration.push(
        [
            conversation(1, user_ids[0], data={"status": "snoozed", "tags": ["VIP customer"]}),
            conversation(2, user_ids[1], data={"status": "resolved", "priority": "urgent"}),
        ]
    )
    first, second = (zendesk.state.get_ticket(int(_ok(r))) for r in tickets)
    assert (first["external_id"], first["requester_id"], first["subject"]) == (
        "conv_1",
        int(user_ids[0]),
        "Order 1 is late",
    )
    assert (first["status"], first["priority"], first["tags"]) == ("hold", "high", ["vip_customer"])
    assert (second["status"], second["priority"]) == ("solved", "urgent")
    assert tickets[0].remote_type == "ticket"

    ticket_id = tickets[0].remote_id
    transcript = OutboundChange(
        change_id="chg_tr_1",
        object=SyncObject.TRANSCRIPT,
        local_id="conv_1",
        parent_local_id="conv_1",
        parent_remote_id=ticket_id,
        data={"filename": "conv_1.txt", "content_type": "text/plain", "text": "Customer: hi\n"},
    )
    results = await integration.push(
        [
            message(1, ticket_id, "Where is my order?"),
            message(2, ticket_id, "Customer is a VIP", kind=SyncObject.NOTE),
            transcript,
        ]
    )
    comment_ids = [int(_ok(r)) for r in results]
    comments = zendesk.state.list_comments(int(ticket_id or 0))
    by_id = {c["id"]: c for c in comments}
    assert [(by_id[i]["body"], by_id[i]["public"]) for i in comment_ids] == [
        ("Where is my order?", True),
        ("Customer is a VIP", False),
        ("Transcript of the conversation: conv_1.txt", False),
    ]
    assert {by_id[i]["author_id"] for i in comment_ids} == {_me(zendesk)}
    (attachment,) = by_id[comment_ids[2]]["attachments"]
    assert attachment["file_name"] == "conv_1.txt"
    async with httpx.AsyncClient(trust_env=False) as http:
        content = (await http.get(attachment["content_url"])).content
    assert content == b"Customer: hi\n"
    assert [r.remote_type for r in results] == ["comment", "private_comment", "upload"]


async def test_re_push_finds_users_and_tickets_without_duplicates(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator
) -> None:
    user_id, ticket_id = await _ticket_for_contact(integration)
    users_before, tickets_before = len(zendesk.state.users), len(zendesk.state.tickets)

    # The same changes again, ids unknown to chatkit (the results were lost, so
    # the engine tries them again: attempt 2).
    (again_user,) = await integration.push([contact(1, name="Customer One")])
    (again_ticket,) = await integration.push(
        [conversation(1, user_id, attempt=2, data={"status": "pending"})]
    )
    assert (_ok(again_user), _ok(again_ticket)) == (user_id, ticket_id)
    assert (len(zendesk.state.users), len(zendesk.state.tickets)) == (users_before, tickets_before)
    assert zendesk.state.get_user(int(user_id))["name"] == "Customer One"
    assert zendesk.state.get_ticket(int(ticket_id))["status"] == "pending"

    # With the id known, one update is one call: no lookup, no job.
    zendesk.state.requests.clear()
    (known,) = await integration.push(
        [conversation(1, user_id, remote_id=ticket_id, data={"priority": "low"})]
    )
    assert _ok(known) == ticket_id
    assert zendesk.state.requests == [("PUT", f"/api/v2/tickets/{ticket_id}.json")]
    assert known.remote_version == zendesk.state.get_ticket(int(ticket_id))["updated_at"]
    assert zendesk.state.get_ticket(int(ticket_id))["priority"] == "low"


async def test_attempt_two_after_a_crash_finds_what_the_vendor_got(
    zendesk: ZendeskEmulator,
) -> None:
    # Only retried changes are looked up (the default).
    async with ZendeskIntegration(_config()) as integration:
        user_id, ticket_id = await _ticket_for_contact(integration)
        first = await integration.push([message(1, ticket_id, "Hello from chat")])
        comment_id = _ok(first[0])
        tickets, comments = (
            len(zendesk.state.tickets),
            len(zendesk.state.list_comments(int(ticket_id))),
        )

        # The worker crashed after Zendesk got the writes: the changes come again.
        retried = await integration.push(
            [
                conversation(1, user_id, attempt=2),
                message(1, ticket_id, "Hello from chat", attempt=2),
                message(2, ticket_id, "Hello from chat", attempt=2, kind=SyncObject.NOTE),
            ]
        )
        assert _ok(retried[0]) == ticket_id
        assert _ok(retried[1]) == comment_id
        assert _ok(retried[2]) != comment_id  # same text, but a note is another comment
        assert len(zendesk.state.tickets) == tickets
        assert len(zendesk.state.list_comments(int(ticket_id))) == comments + 1

        # Without the lookup, a first attempt trusts the id map and creates.
        (fresh,) = await integration.push([conversation(1, user_id)])
        assert _ok(fresh) != ticket_id


async def test_job_results_fail_single_records_with_the_vendors_message(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator
) -> None:
    taken = zendesk.state.create_user({"name": "Taken", "email": "taken@example.com"})
    await integration.push([contact(1)])
    # ct_1 exists (by external id) and wants an email another user has: refused.
    users = await integration.push([contact(1, email="taken@example.com"), contact(3)])
    assert [r.status for r in users] == [PushStatus.PERMANENT, PushStatus.OK]
    assert "already being used" in (users[0].error or "")
    # A new contact whose email Zendesk knows becomes that user (create_or_update by email).
    (merged,) = await integration.push([contact(2, email="taken@example.com")])
    assert _ok(merged) == str(taken["id"])
    assert zendesk.state.get_user(taken["id"])["external_id"] == "ct_2"
    users = [*(await integration.push([contact(1)])), merged, users[1]]

    tickets = await integration.push(
        [
            conversation(1, users[0].remote_id),
            conversation(2, "999999"),  # a requester Zendesk does not have
            conversation(3, users[2].remote_id),
            conversation(4, None),  # its contact is not synced yet
        ]
    )
    assert [r.status for r in tickets] == [
        PushStatus.OK,
        PushStatus.PERMANENT,
        PushStatus.OK,
        PushStatus.RETRYABLE,
    ]
    assert "Requester" in (tickets[1].error or "")
    assert len({r.remote_id for r in (tickets[0], tickets[2])}) == 2

    closed = _ok(tickets[2])
    zendesk.state.update_ticket(int(closed), {"status": "closed"})
    updates = await integration.push(
        [
            conversation(1, users[0].remote_id, remote_id=tickets[0].remote_id),
            conversation(3, users[2].remote_id, remote_id=closed, data={"status": "open"}),
        ]
    )
    assert [r.status for r in updates] == [PushStatus.OK, PushStatus.PERMANENT]
    assert "closed" in (updates[1].error or "")
    comments = await integration.push([message(1, closed, "Too late")])
    assert comments[0].status is PushStatus.PERMANENT
    assert "422" in (comments[0].error or "")


# -- push: call counts and comment jobs ------------------------------------------------


def _paths(zendesk: ZendeskEmulator) -> list[tuple[str, str]]:
    """The requests so far, job status ids folded into one path; then forgotten."""
    seen = [
        (method, "/api/v2/job_statuses/ID.json" if "/job_statuses/" in path else path)
        for method, path in zendesk.state.requests
    ]
    zendesk.state.requests.clear()
    return seen


def _contacts(n: int) -> list[OutboundChange]:
    return [contact(i) for i in range(1, n + 1)]


def _tickets(users: list[PushResult]) -> list[OutboundChange]:
    return [conversation(i, _ok(user)) for i, user in enumerate(users, start=1)]


def _comments(tickets: list[PushResult], per_ticket: int, **fields: Any) -> list[OutboundChange]:
    return [
        message(
            i * 10 + k,
            ticket.remote_id,
            f"ticket {ticket.remote_id} comment {k}",
            kind=SyncObject.NOTE if k % 2 else SyncObject.MESSAGE,
            **fields,
        )
        for i, ticket in enumerate(tickets)
        for k in range(per_ticket)
    ]


POLL = ("GET", "/api/v2/job_statuses/ID.json")


async def test_a_first_push_costs_what_zendesks_batch_limits_allow(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator
) -> None:
    zendesk.state.job_polls = 0  # jobs are done by the first poll
    zendesk.state.requests.clear()
    # 150 contacts: two create_or_update_many jobs, a POST and a poll each.
    users = await integration.push(_contacts(150))
    assert all(r.status is PushStatus.OK and r.remote_id for r in users)
    users_post = ("POST", "/api/v2/users/create_or_update_many.json")
    assert _paths(zendesk) == [users_post, POLL, users_post, POLL]

    # 150 tickets: two create_many jobs; no lookup on a first attempt, no show_many.
    tickets = await integration.push(_tickets(users))
    assert len({_ok(r) for r in tickets}) == 150
    tickets_post = ("POST", "/api/v2/tickets/create_many.json")
    assert _paths(zendesk) == [tickets_post, POLL, tickets_post, POLL]

    # 300 comments, 2 on each ticket (a message, then a note): 3 update_many jobs
    # of 100 tickets (each ticket once per job), the least Zendesk allows.
    comments = _comments(tickets, 2)
    results = await integration.push(comments)
    assert [r.status for r in results] == [PushStatus.OK] * 300
    assert {r.remote_id for r in results} == {None}  # jobs do not name the comments
    assert [r.remote_type for r in results[:2]] == ["comment", "private_comment"]
    update_many = ("PUT", "/api/v2/tickets/update_many.json")
    assert _paths(zendesk) == [update_many, POLL] * 3
    me = _me(zendesk)
    for ticket in tickets:
        written = zendesk.state.list_comments(int(_ok(ticket)))[1:]
        assert [(c["body"], c["public"], c["author_id"]) for c in written] == [
            (f"ticket {ticket.remote_id} comment 0", True, me),
            (f"ticket {ticket.remote_id} comment 1", False, me),
        ]
    assert integration.api_calls == 14

    # Pushing the same contacts and tickets again (ids known): a job per 100 each.
    await integration.push(_contacts(150))
    known = [
        conversation(i, _ok(u), remote_id=_ok(t))
        for i, (u, t) in enumerate(zip(users, tickets, strict=True), start=1)
    ]
    assert all(r.status is PushStatus.OK for r in await integration.push(known))
    # Comments with their ids known cost nothing.
    linked = [c.model_copy(update={"remote_id": "1"}) for c in comments]
    assert all(r.status is PushStatus.OK for r in await integration.push(linked))
    assert _paths(zendesk) == [users_post, POLL, users_post, POLL, *[update_many, POLL] * 2]


async def test_comment_jobs_are_few_full_and_keep_each_tickets_order(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator
) -> None:
    zendesk.state.job_polls = 0
    users = await integration.push(_contacts(5))
    tickets = await integration.push(_tickets(users))
    # 4 comments on the first ticket, 1 on each other: 4 jobs are needed anyway.
    first = _comments(tickets[:1], 4)
    others = _comments(tickets[1:], 1)
    zendesk.state.requests.clear()
    results = await integration.push([*others, *first])
    assert all(r.status is PushStatus.OK for r in results)
    paths = _paths(zendesk)
    jobs = paths.count(("PUT", "/api/v2/tickets/update_many.json"))
    direct = [
        p for p in paths if p[0] == "PUT" and p != ("PUT", "/api/v2/tickets/update_many.json")
    ]
    assert (jobs, len(direct)) == (0, 8)  # 4 jobs of 2: plain updates are cheaper
    bodies = [c["body"] for c in zendesk.state.list_comments(int(_ok(tickets[0])))]
    assert bodies[1:] == [f"ticket {tickets[0].remote_id} comment {k}" for k in range(4)]

    # 3 comments on each of 5 tickets: 3 jobs of 5 tickets.
    zendesk.state.requests.clear()
    three = _comments(tickets, 3)
    three = [c.model_copy(update={"change_id": c.change_id + "_b"}) for c in three]
    results = await integration.push(three)
    assert all(r.status is PushStatus.OK for r in results)
    assert _paths(zendesk) == [("PUT", "/api/v2/tickets/update_many.json"), POLL] * 3
    for ticket in tickets:
        bodies = [c["body"] for c in zendesk.state.list_comments(int(_ok(ticket)))]
        assert bodies[-3:] == [f"ticket {ticket.remote_id} comment {k}" for k in range(3)]


async def test_comment_job_results_are_mapped_per_ticket(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = await integration.push(_contacts(4))
    tickets = await integration.push(_tickets(users))
    closed, lost = int(_ok(tickets[1])), int(_ok(tickets[2]))
    zendesk.state.update_ticket(closed, {"status": "closed"})
    # The job "forgets" the result for one ticket (as if it stopped halfway).
    start_job = zendesk.state.start_job

    def forgetful(results: list[dict[str, Any]]) -> dict[str, Any]:
        return start_job([r for r in results if r.get("id") != lost])

    monkeypatch.setattr(zendesk.state, "start_job", forgetful)
    results = await integration.push(_comments(tickets, 2))
    statuses = [r.status for r in results]
    assert statuses == [
        PushStatus.OK,
        PushStatus.OK,  # ticket 1
        PushStatus.PERMANENT,
        PushStatus.PERMANENT,  # ticket 2 is closed: refused, with Zendesk's message
        PushStatus.RETRYABLE,
        PushStatus.RETRYABLE,  # ticket 3: no result, and its second comment waits
        PushStatus.OK,
        PushStatus.OK,  # ticket 4
    ]
    assert "closed prevents ticket update" in (results[2].error or "")
    assert "earlier comment" in (results[5].error or "")
    bodies = [c["body"] for c in zendesk.state.list_comments(lost)]
    assert bodies[1:] == [f"ticket {lost} comment 0"]  # the second was not sent


async def test_retried_comments_find_what_the_lost_job_wrote(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator
) -> None:
    zendesk.state.job_polls = 0
    users = await integration.push(_contacts(3))
    tickets = await integration.push(_tickets(users))
    comments = _comments(tickets, 1)
    # The job is accepted, then its status cannot be read: nothing is known.
    zendesk.fail_next(503, times=3, after=1)
    lost = await integration.push(comments)
    assert [r.status for r in lost] == [PushStatus.RETRYABLE] * 3  # not a failed call
    zendesk.state.failures.clear()
    before = {t.remote_id: len(zendesk.state.list_comments(int(_ok(t)))) for t in tickets}

    # The retry reads each ticket's comments once and reuses ours; one more
    # comment with the same text as one already there is written.
    again = _comments(tickets, 1, attempt=2)
    twin = message(99, tickets[0].remote_id, again[0].data["text"], attempt=2)  # type: ignore[arg-type]
    zendesk.state.requests.clear()
    results = await integration.push([*again, twin])
    found: dict[str, int] = {}
    for ticket in tickets:
        for comment in zendesk.state.list_comments(int(_ok(ticket))):
            found.setdefault(comment["body"], comment["id"])  # the first one of a text
    assert [r.remote_id for r in results[:3]] == [str(found[str(c.data["text"])]) for c in again]
    assert results[3].status is PushStatus.OK
    assert results[3].remote_id != results[0].remote_id
    after = {t.remote_id: len(zendesk.state.list_comments(int(_ok(t)))) for t in tickets}
    assert after == {**before, tickets[0].remote_id: before[tickets[0].remote_id] + 1}
    paths = _paths(zendesk)
    assert paths.count(("GET", "/api/v2/users/me.json")) == 1
    assert sorted(p for m, p in paths if p.endswith("/comments.json")) == sorted(
        f"/api/v2/tickets/{t.remote_id}/comments.json" for t in tickets
    )


async def test_a_429_between_comment_jobs_keeps_the_first(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator
) -> None:
    zendesk.state.job_polls = 0
    users = await integration.push(_contacts(3))
    tickets = await integration.push(_tickets(users))
    # 2 jobs of 3 tickets; the second POST is throttled.
    zendesk.fail_next(429, retry_after=7, after=2)
    results = await integration.push(_comments(tickets, 2))
    assert [r.status for r in results] == [PushStatus.OK, PushStatus.RETRYABLE] * 3
    assert {r.retry_after for r in results[1::2]} == {7}
    # Throttled before anything was written: the call fails, for the engine to retry.
    zendesk.fail_next(429, retry_after=5)
    with pytest.raises(RetryableIntegrationError) as caught:
        await integration.push(_comments(tickets, 1))
    assert caught.value.retry_after == 5


async def test_a_lost_ticket_job_is_looked_up_on_the_retry(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator
) -> None:
    zendesk.state.job_polls = 0
    users = await integration.push(_contacts(3))
    zendesk.fail_next(500, times=3, after=1)  # create_many accepted, its status unreadable
    lost = await integration.push(_tickets(users))
    assert [r.status for r in lost] == [PushStatus.RETRYABLE] * 3
    zendesk.state.failures.clear()
    retried = [c.model_copy(update={"attempt": 2}) for c in _tickets(users)]
    zendesk.state.requests.clear()
    found = await integration.push(retried)
    assert len(zendesk.state.tickets) == 3
    assert sorted(int(_ok(r)) for r in found) == sorted(zendesk.state.tickets)
    assert _paths(zendesk).count(("GET", "/api/v2/tickets.json")) == 3


async def test_look_up_new_tickets_looks_up_first_attempts_too(zendesk: ZendeskEmulator) -> None:
    async with ZendeskIntegration(_config(look_up_new_tickets=True)) as integration:
        user_id, ticket_id = await _ticket_for_contact(integration)
        (again,) = await integration.push([conversation(1, user_id)])
    assert _ok(again) == ticket_id


async def test_job_polls_start_at_once_then_back_off(
    zendesk: ZendeskEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chatkit_integrations.zendesk.integration as module

    sleeps: list[float] = []
    clock = type("Clock", (), {"monotonic": staticmethod(time.monotonic)})()
    clock.sleep = sleeps.append  # type: ignore[attr-defined]
    monkeypatch.setattr(module, "time", clock)
    async with ZendeskIntegration(_config(job_poll_interval=0.5)) as integration:
        zendesk.state.job_polls = 0
        await integration.push(_contacts(3))
        assert sleeps == []  # done at the first poll, made at once
        zendesk.state.job_polls = 4
        zendesk.state.requests.clear()
        await integration.push(_contacts(3))
    assert sleeps == [0.5, 1.0, 2.0, 4.0]
    assert _paths(zendesk).count(POLL) == 5


# -- push: whole-call errors -----------------------------------------------------------


async def test_429_is_retryable_with_retry_after_and_zenpy_does_not_sleep(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator
) -> None:
    zendesk.fail_next(429, retry_after=30)
    started = time.monotonic()
    with pytest.raises(RetryableIntegrationError) as caught:
        await integration.push([contact(1)])
    assert time.monotonic() - started < 5
    assert (caught.value.status_code, caught.value.retry_after) == (429, 30)
    assert len(zendesk.state.requests) == 1  # no retry by zenpy
    assert len(zendesk.state.search_users(external_id="ct_1")) == 0


async def test_401_and_500_fail_the_whole_call(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator
) -> None:
    zendesk.fail_next(401)
    with pytest.raises(IntegrationAuthError):
        await integration.push([contact(1)])
    zendesk.fail_next(500)
    with pytest.raises(RetryableIntegrationError) as caught:
        await integration.push([contact(1)])
    assert caught.value.status_code == 500
    assert _ok((await integration.push([contact(1)]))[0])


async def test_an_outage_mid_batch_keeps_what_was_written(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator
) -> None:
    _, ticket_id = await _ticket_for_contact(integration)
    await integration.check()  # learns the API user's id
    zendesk.fail_next(503, times=5, after=1)  # the first comment gets through
    results = await integration.push([message(1, ticket_id, "one"), message(2, ticket_id, "two")])
    assert [r.status for r in results] == [PushStatus.OK, PushStatus.RETRYABLE]
    assert "503" in (results[1].error or "")
    zendesk.state.failures.clear()

    # Both come back (the first one's result was lost too): nothing is written twice.
    again = await integration.push(
        [message(1, ticket_id, "one", attempt=2), message(2, ticket_id, "two", attempt=2)]
    )
    assert _ok(again[0]) == results[0].remote_id
    bodies = [c["body"] for c in zendesk.state.list_comments(int(ticket_id))]
    assert bodies == ["Order 1 is late", "one", "two"]


async def test_a_bulk_call_refused_for_good_fails_its_records(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator
) -> None:
    zendesk.fail_next(422)
    results = await integration.push([contact(1), contact(2), contact(3)])
    assert [r.status for r in results] == [PushStatus.PERMANENT] * 3
    assert "422" in (results[0].error or "")


async def test_deletes_remove_users_and_tickets(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator
) -> None:
    user_id, ticket_id = await _ticket_for_contact(integration)
    results = await integration.push(
        [
            contact(1).model_copy(update={"action": ChangeAction.DELETE, "remote_id": user_id}),
            conversation(1, user_id, action=ChangeAction.DELETE, remote_id=ticket_id),
            conversation(2, user_id, action=ChangeAction.DELETE, remote_id="424242"),
            message(1, ticket_id, "x", action=ChangeAction.DELETE, remote_id="1"),
        ]
    )
    assert [r.status for r in results] == [
        PushStatus.OK,
        PushStatus.OK,
        PushStatus.OK,  # already gone counts as done
        PushStatus.PERMANENT,
    ]
    assert zendesk.state.get_user(int(user_id))["active"] is False
    assert zendesk.state.tickets[int(ticket_id)]["status"] == "deleted"


# -- pull ------------------------------------------------------------------------------


async def _pull_all(
    integration: ZendeskIntegration, cursor: str | None, limit: int
) -> tuple[list[InboundChange], str | None, int]:
    changes: list[InboundChange] = []
    pages = 0
    while True:
        page = await integration.pull(cursor, limit=limit)
        pages += 1
        changes.extend(page.changes)
        cursor = page.cursor
        if not page.has_more:
            return changes, cursor, pages
        assert pages < 20


async def test_pull_pages_with_the_cursor_and_sees_edits_made_in_zendesk(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator
) -> None:
    user_id, ticket_id = await _ticket_for_contact(integration)
    (_, second) = await integration.push([contact(2), contact(3)])
    await integration.push([conversation(2, _ok(second))])
    await integration.push([message(1, ticket_id, "Where is my order?")])

    changes, cursor, pages = await _pull_all(integration, None, limit=2)
    assert pages >= 2
    contacts = [c for c in changes if c.object is SyncObject.CONTACT]
    assert sorted(c.local_id or "" for c in contacts) == ["ct_1", "ct_2", "ct_3"]  # no agents
    assert {c.data["email"] for c in contacts} >= {"c1@example.com"}
    conversations = {c.remote_id: c for c in changes if c.object is SyncObject.CONVERSATION}
    ours = conversations[ticket_id]
    assert (ours.local_id, ours.parent_remote_id) == ("conv_1", user_id)
    assert ours.data == {
        "subject": "Order 1 is late",
        "status": "open",
        "priority": "high",
        "tags": [],
    }
    messages = [c for c in changes if c.object is SyncObject.MESSAGE]
    assert [(m.data["text"], m.data["from_integration"]) for m in messages] == [
        ("Where is my order?", True)
    ]
    assert messages[0].parent_remote_id == ticket_id
    assert messages[0].changed_at.tzinfo is not None

    # Nothing new: an empty page, same position.
    quiet = await integration.pull(cursor)
    assert (quiet.changes, quiet.has_more) == ((), False)

    # An agent solves the ticket and adds a note in Zendesk.
    zendesk.state.update_ticket(
        int(ticket_id),
        {"status": "solved", "comment": {"body": "Refunded, closing", "public": False}},
        author_id=ADMIN_ID,
    )
    since, _, _ = await _pull_all(integration, quiet.cursor, limit=10)
    (changed,) = [c for c in since if c.object is SyncObject.CONVERSATION]
    assert (changed.remote_id, changed.data["status"]) == (ticket_id, "resolved")
    assert changed.remote_version == zendesk.state.get_ticket(int(ticket_id))["updated_at"]
    (note,) = [
        c for c in since if c.object is SyncObject.NOTE and c.data["text"] != "Order 1 is late"
    ]
    assert note.data == {
        "text": "Refunded, closing",
        "author_name": "Admin",
        "from_integration": False,
        "from_customer": False,
    }
    assert note.remote_type == "private_comment"

    # Pulling again from the same cursor gives the same changes.
    replay, _, _ = await _pull_all(integration, quiet.cursor, limit=10)
    assert [(c.object, c.remote_id) for c in replay] == [(c.object, c.remote_id) for c in since]


async def test_pull_refuses_a_foreign_cursor(integration: ZendeskIntegration) -> None:
    with pytest.raises(PermanentIntegrationError):
        await integration.pull("not-a-cursor")


# -- webhooks --------------------------------------------------------------------------


def _comment_event(ticket_id: str, author_id: int) -> dict[str, Any]:
    return {
        "type": "zen:event-type:ticket.comment_added",
        "account_id": 18525119,
        "id": "cbe4028c-7239-495d-b020-f22348516046",
        "time": "2026-12-01T03:45:54Z",
        "zendesk_event_version": "2022-11-06",
        "subject": f"zen:ticket:{ticket_id}",
        "detail": {
            "id": ticket_id,
            "external_id": "conv_1",
            "subject": "Order 1 is late",
            "status": "OPEN",
            "priority": "HIGH",
            "tags": ["vip"],
            "requester_id": "6130907993200",
            "updated_at": "2026-12-01T03:45:54Z",
        },
        "event": {
            "comment": {
                "id": "6164039218999",
                "body": "Any news?",
                "is_public": True,
                "author": {"id": str(author_id), "is_staff": False, "name": "Customer 1"},
            }
        },
    }


async def test_webhook_good_bad_and_old(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    delivery = zendesk.signed_webhook(_comment_event("35", 6130907993200))
    changes = await integration.verify_webhook(delivery.headers, delivery.body)
    ticket, comment = changes
    assert (ticket.object, ticket.remote_id, ticket.local_id) == (
        SyncObject.CONVERSATION,
        "35",
        "conv_1",
    )
    assert ticket.data == {
        "subject": "Order 1 is late",
        "status": "open",
        "priority": "high",
        "tags": ["vip"],
    }
    assert (comment.object, comment.remote_id, comment.parent_remote_id) == (
        SyncObject.MESSAGE,
        "6164039218999",
        "35",
    )
    assert comment.data == {
        "text": "Any news?",
        "author_name": "Customer 1",
        "from_integration": False,
        "from_customer": True,  # is_staff false: the requester wrote it
    }

    ours = zendesk.signed_webhook(_comment_event("35", _me(zendesk)))
    echoed = await integration.verify_webhook(
        {k.lower(): v for k, v in ours.headers.items()}, ours.body
    )
    assert echoed[1].data["from_integration"] is True

    user_event = {
        "type": "zen:event-type:user.name_changed",
        "time": "2026-12-01T03:45:54Z",
        "detail": {"id": "77", "name": "Ann", "email": "ann@example.com", "role": "end-user",
                   "external_id": "ct_7", "updated_at": "2026-12-01T03:45:54Z"},
        "event": {"current": "Ann", "previous": "Anne"},
    }  # fmt: skip
    signed = zendesk.signed_webhook(user_event)
    (user,) = await integration.verify_webhook(signed.headers, signed.body)
    assert (user.object, user.local_id, user.data["name"]) == (SyncObject.CONTACT, "ct_7", "Ann")

    tampered = delivery.body.replace(b"Any news?", b"Refund me")
    with pytest.raises(WebhookVerificationError, match="signature"):
        await integration.verify_webhook(delivery.headers, tampered)
    old = zendesk.signed_webhook(
        _comment_event("35", 1), timestamp=datetime.now(UTC) - timedelta(minutes=6)
    )
    with pytest.raises(WebhookVerificationError, match="window"):
        await integration.verify_webhook(old.headers, old.body)
    with pytest.raises(WebhookVerificationError, match="missing"):
        await integration.verify_webhook({}, delivery.body)
    garbage = zendesk.signed_webhook(b"[1, 2]")
    with pytest.raises(WebhookVerificationError, match="payload"):
        await integration.verify_webhook(garbage.headers, garbage.body)
    assert "whsec-test" not in caplog.text
    assert TOKEN not in caplog.text


async def test_webhook_without_a_secret_is_refused(zendesk: ZendeskEmulator) -> None:
    async with ZendeskIntegration(_config(webhook_secret=None)) as integration:
        delivery = zendesk.signed_webhook({"type": "zen:event-type:ticket.created", "detail": {}})
        with pytest.raises(WebhookVerificationError, match="webhook_secret"):
            await integration.verify_webhook(delivery.headers, delivery.body)


# -- pull: comments from the ticket event export --------------------------------------


class _Clock:
    """The emulator's clock, moved by hand: events land in the seconds a test picks."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(zendesk: ZendeskEmulator) -> _Clock:
    pinned = _Clock()
    zendesk.state.clock = pinned
    return pinned


def _tickets_with_comments(
    zendesk: ZendeskEmulator,
    tickets: int,
    comments: int,
    *,
    clock: _Clock | None = None,
    first: int = 0,
) -> list[int]:
    """``tickets`` tickets of their own requesters, each with ``comments`` more comments."""
    me = _me(zendesk)
    ids = []
    for n in range(first, first + tickets):
        user = zendesk.state.create_user({"name": f"Customer {n}", "external_id": f"ct_{n}"})
        ticket, _ = zendesk.state.create_ticket(
            {
                "subject": f"Order {n}",
                "external_id": f"conv_{n}",
                "requester_id": user["id"],
                "comment": {"body": f"Order {n}", "public": False},
            },
            author_id=me,
        )
        ids.append(int(ticket["id"]))
    for k in range(comments):
        if clock is not None:
            clock.tick()
        for ticket_id in ids:
            author = me if k % 2 else ADMIN_ID
            zendesk.state.add_comment(ticket_id, f"c{k} on {ticket_id}", author_id=author)
    return ids


def _check_order(changes: list[InboundChange]) -> None:
    """Every comment comes after its ticket (the engine skips one whose ticket it lacks)."""
    seen: set[str] = set()
    for change in changes:
        if change.object is SyncObject.CONVERSATION:
            seen.add(change.remote_id)
        elif change.object in (SyncObject.MESSAGE, SyncObject.NOTE):
            assert change.parent_remote_id in seen, change


def _comment_ids(changes: list[InboundChange]) -> list[str]:
    return [c.remote_id for c in changes if c.object in (SyncObject.MESSAGE, SyncObject.NOTE)]


def _all_comment_ids(zendesk: ZendeskEmulator, ids: list[int]) -> list[str]:
    return sorted(str(c["id"]) for t in ids for c in zendesk.state.list_comments(t))


@pytest.mark.parametrize("limit", [200, 100])
async def test_a_pull_after_150_tickets_with_3_comments_costs_a_few_calls(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator, limit: int
) -> None:
    ids = _tickets_with_comments(zendesk, 150, 3)
    zendesk.state.requests.clear()

    changes, cursor, pages = await _pull_all(integration, None, limit=limit)

    calls = list(zendesk.state.requests)
    # Before: one call per changed ticket for its comments (150 + the exports).
    assert not [path for _, path in calls if path.endswith("/comments.json")]
    assert len(calls) <= 4 * pages, calls
    assert len(calls) <= (7 if limit == 200 else 10), calls
    assert [p for _, p in calls].count("/api/v2/incremental/ticket_events.json") == 1
    assert sorted(_comment_ids(changes)) == _all_comment_ids(zendesk, ids)  # 600, once each
    _check_order(changes)
    messages = [c for c in changes if c.object is SyncObject.MESSAGE]
    by_id = {str(c["id"]): c for t in ids for c in zendesk.state.list_comments(t)}
    me = _me(zendesk)
    for change in messages:
        comment = by_id[change.remote_id]
        assert change.data == {
            "text": comment["body"],
            "author_name": "chatkit" if comment["author_id"] == me else "Admin",
            "from_integration": comment["author_id"] == me,
            "from_customer": False,
        }
        assert change.remote_version == comment["created_at"]
        assert change.changed_at == datetime.fromisoformat(comment["created_at"])
        assert change.parent_remote_id == str(
            next(t for t in ids if comment in zendesk.state.list_comments(t))
        )
    notes = [c for c in changes if c.object is SyncObject.NOTE]
    assert len(notes) == 150  # each ticket's first (private) comment
    assert {n.remote_type for n in notes} == {"private_comment"}

    # A quiet pull: three exports, nothing new.
    zendesk.state.requests.clear()
    quiet = await integration.pull(cursor, limit=limit)
    assert (quiet.changes, quiet.has_more) == ((), False)
    assert len(zendesk.state.requests) == 3


async def test_comments_in_the_last_second_read_are_neither_skipped_nor_repeated(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator, clock: _Clock
) -> None:
    ids = _tickets_with_comments(zendesk, 2, 1)
    first, cursor, _ = await _pull_all(integration, None, limit=50)
    assert len(_comment_ids(first)) == 4

    # More comments land in the second the last pull ended in, then in the next.
    late = zendesk.state.add_comment(ids[0], "Same second", author_id=ADMIN_ID)
    clock.tick()
    later = zendesk.state.add_comment(ids[1], "Next second", author_id=ADMIN_ID)
    since, cursor2, _ = await _pull_all(integration, cursor, limit=50)
    assert _comment_ids(since) == [str(late["id"]), str(later["id"])]
    _check_order(since)

    # Replaying the saved cursor gives the same changes; the next one gives none.
    replay, _, _ = await _pull_all(integration, cursor, limit=50)
    assert [(c.object, c.remote_id) for c in replay] == [(c.object, c.remote_id) for c in since]
    quiet = await integration.pull(cursor2, limit=50)
    assert quiet.changes == ()


async def test_small_event_pages_and_a_second_fuller_than_a_page(
    zendesk: ZendeskEmulator, clock: _Clock, caplog: pytest.LogCaptureFixture
) -> None:
    # Pages of 4 events; 3 tickets (3 events) in one second, then 5 comments in the next:
    # more than a page in one second, which the export cannot page past.
    ids = _tickets_with_comments(zendesk, 3, 0)
    clock.tick()
    for n in range(5):
        zendesk.state.add_comment(ids[n % 3], f"burst {n}", author_id=ADMIN_ID)
    clock.tick()
    zendesk.state.add_comment(ids[0], "after the burst", author_id=ADMIN_ID)

    async with ZendeskIntegration(_config(events_per_page=4)) as small:
        pages: list[list[InboundChange]] = []
        cursors: list[str | None] = [None]
        changes: list[InboundChange] = []
        with caplog.at_level(logging.WARNING):
            while True:
                page = await small.pull(cursors[-1], limit=50)
                pages.append(list(page.changes))
                changes.extend(page.changes)
                cursors.append(page.cursor)
                if not page.has_more:
                    break
                assert len(pages) < 20
        assert "more ticket events" in caplog.text
        ids_read = _comment_ids(changes)
        assert sorted(ids_read) == _all_comment_ids(zendesk, ids)
        assert len(ids_read) == len(set(ids_read))  # none twice
        _check_order(changes)

        # Every page replays from its saved cursor.
        for cursor, expected in zip(cursors[:-1], pages, strict=True):
            again = await small.pull(cursor, limit=50)
            assert [(c.object, c.remote_id) for c in again.changes] == [
                (c.object, c.remote_id) for c in expected
            ]


async def test_comments_wait_for_a_ticket_export_that_has_not_caught_up(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator
) -> None:
    ids = _tickets_with_comments(zendesk, 5, 1)
    zendesk.state.requests.clear()
    changes: list[InboundChange] = []
    cursor: str | None = None
    events_read_at = []
    for pages in range(1, 10):
        page = await integration.pull(cursor, limit=2)  # tickets in pages of 2
        changes.extend(page.changes)
        cursor = page.cursor
        paths = [path for _, path in zendesk.state.requests]
        if "/api/v2/incremental/ticket_events.json" in paths:
            events_read_at.append(pages)
        zendesk.state.requests.clear()
        if not page.has_more:
            break
    # Two pages of tickets (2, then the other 3: zenpy sends per_page only with a
    # start_time), and only the pull after that reads the events.
    assert events_read_at == [3]
    assert sorted(_comment_ids(changes)) == _all_comment_ids(zendesk, ids)
    _check_order(changes)


async def test_pull_takes_a_version_1_cursor(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator
) -> None:
    import base64
    import json

    ids = _tickets_with_comments(zendesk, 2, 1)
    old = base64.urlsafe_b64encode(
        json.dumps({"v": 1, "users": None, "tickets": None}).encode()
    ).decode()
    changes, _, _ = await _pull_all(integration, old, limit=50)
    assert sorted(_comment_ids(changes)) == _all_comment_ids(zendesk, ids)
    bad = json.dumps({"v": 2, "users": None, "tickets": None, "tickets_done": True})
    with pytest.raises(PermanentIntegrationError):
        await integration.pull(base64.urlsafe_b64encode(bad.encode()).decode())


# -- the owner (assignee) ----------------------------------------------------------------

AGENT_A = "ann.agent@example.com"
AGENT_B = "bob.agent@example.com"


def _owned(n: int, requester: str, owner: str | None, **fields: Any) -> OutboundChange:
    data = {"assignee_email": owner, "assignee_name": owner and owner.split("@")[0]}
    return conversation(n, requester, data=data, **fields)


def _agents(zendesk: ZendeskEmulator) -> dict[str, int]:
    ids = {}
    for email in (AGENT_A, AGENT_B):
        ids[email] = int(
            zendesk.state.create_user({"name": email, "email": email, "role": "agent"})["id"]
        )
    zendesk.state.create_user({"name": "Eve", "email": "eve@example.com"})  # an end user
    return ids


async def test_the_owner_is_set_changed_and_cleared_without_lookups(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator
) -> None:
    agents = _agents(zendesk)
    (user,) = await integration.push([contact(1)])
    zendesk.state.requests.clear()
    (made,) = await integration.push([_owned(1, _ok(user), AGENT_A)])
    ticket_id = int(_ok(made))
    assert zendesk.state.get_ticket(ticket_id)["assignee_id"] == agents[AGENT_A]
    assert _paths(zendesk) == [("POST", "/api/v2/tickets.json")]  # no lookup

    (changed,) = await integration.push([_owned(1, _ok(user), AGENT_B, remote_id=str(ticket_id))])
    assert changed.status is PushStatus.OK
    assert zendesk.state.get_ticket(ticket_id)["assignee_id"] == agents[AGENT_B]

    (cleared,) = await integration.push([_owned(1, _ok(user), None, remote_id=str(ticket_id))])
    assert cleared.status is PushStatus.OK
    assert zendesk.state.get_ticket(ticket_id)["assignee_id"] is None
    assert _paths(zendesk) == [("PUT", f"/api/v2/tickets/{ticket_id}.json")] * 2

    # Data without the owner's key leaves the assignee alone.
    zendesk.state.update_ticket(ticket_id, {"assignee_id": agents[AGENT_A]})
    (kept,) = await integration.push([conversation(1, _ok(user), remote_id=str(ticket_id))])
    assert kept.status is PushStatus.OK
    assert zendesk.state.get_ticket(ticket_id)["assignee_id"] == agents[AGENT_A]


async def test_an_owner_who_is_not_an_agent_is_dropped_not_the_ticket(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator
) -> None:
    agents = _agents(zendesk)
    users = await integration.push(_contacts(2))
    zendesk.state.requests.clear()
    # A direct create: refused for its owner, then written without it.
    (made,) = await integration.push([_owned(1, _ok(users[0]), "eve@example.com")])
    ticket_id = int(_ok(made))
    assert zendesk.state.get_ticket(ticket_id)["assignee_id"] is None
    create = ("POST", "/api/v2/tickets.json")
    assert _paths(zendesk) == [create, create]
    # The refusal is remembered: the next ticket it owns goes without it, in one call.
    (other,) = await integration.push([_owned(2, _ok(users[1]), "eve@example.com")])
    assert other.status is PushStatus.OK
    assert _paths(zendesk) == [create]

    # An update to an unknown email clears the old assignee rather than failing.
    zendesk.state.update_ticket(ticket_id, {"assignee_id": agents[AGENT_A]})
    (updated,) = await integration.push(
        [_owned(1, _ok(users[0]), "nobody@example.com", remote_id=str(ticket_id))]
    )
    assert updated.status is PushStatus.OK
    assert zendesk.state.get_ticket(ticket_id)["assignee_id"] is None
    assert _paths(zendesk) == [("PUT", f"/api/v2/tickets/{ticket_id}.json")] * 2


async def test_jobs_retry_only_the_tickets_whose_owner_is_refused(
    integration: ZendeskIntegration, zendesk: ZendeskEmulator
) -> None:
    zendesk.state.job_polls = 0
    agents = _agents(zendesk)
    users = await integration.push(_contacts(5))
    owners = [AGENT_A, "x@example.com", None, AGENT_B, "x@example.com"]
    zendesk.state.requests.clear()
    made = await integration.push(
        [_owned(i, _ok(u), o) for i, (u, o) in enumerate(zip(users, owners, strict=True), 1)]
    )
    ids = [int(_ok(r)) for r in made]
    assigned = [zendesk.state.get_ticket(i)["assignee_id"] for i in ids]
    assert assigned == [agents[AGENT_A], None, None, agents[AGENT_B], None]
    create_many = ("POST", "/api/v2/tickets/create_many.json")
    # One job, then the two refused tickets again: two plain creates.
    assert _paths(zendesk) == [create_many, POLL, *[("POST", "/api/v2/tickets.json")] * 2]
    assert len(zendesk.state.tickets) == 5

    # Updates in a job: the refused owner is known by now (no retry); the rest change.
    owners = [AGENT_B, "x@example.com", AGENT_A, None, "y@example.com"]
    updated = await integration.push(
        [
            _owned(i, _ok(u), o, remote_id=str(t))
            for i, (u, o, t) in enumerate(zip(users, owners, ids, strict=True), 1)
        ]
    )
    assert all(r.status is PushStatus.OK for r in updated)
    assigned = [zendesk.state.get_ticket(i)["assignee_id"] for i in ids]
    assert assigned == [agents[AGENT_B], None, agents[AGENT_A], None, None]
    update_many = ("PUT", "/api/v2/tickets/update_many.json")
    assert _paths(zendesk) == [update_many, POLL, ("PUT", f"/api/v2/tickets/{ids[4]}.json")]
