"""The Zendesk integration end to end: zenpy over HTTP against the Zendesk emulator."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
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
        _comment_event("35", 1), timestamp=datetime.now(timezone.utc) - timedelta(minutes=6)
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
