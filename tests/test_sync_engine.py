"""The sync engine against the in-memory vendor of chatkit.testing.

Every test runs on each store (``kit`` and ``store_url`` from conftest): memory,
a SQLite file and a PostgreSQL schema.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from chatkit import AsyncChatKit, Author
from chatkit.errors import NotFoundError, WebhookVerificationError
from chatkit.integrations import RateBudget
from chatkit.models import ConversationStatus, Priority, utcnow
from chatkit.sync import ConflictPolicy, DecisionOutcome, FieldPolicy, SyncReport
from chatkit.testing import MemoryIntegration, MemoryVendor, SimulatedCrash

pytestmark = pytest.mark.anyio


@pytest.fixture
def vendor() -> MemoryVendor:
    return MemoryVendor()


async def chat(kit: AsyncChatKit, n: int, *, messages: int = 2) -> list[str]:
    """``n`` conversations, each with its own contact and ``messages`` customer messages."""
    ids = []
    for i in range(n):
        contact = await kit.contacts.create(
            name=f"Customer {i}", identities=[("email", f"c{i}@example.com")]
        )
        conversation = await kit.conversations.create(contact_id=contact.id)
        for j in range(messages):
            await kit.messages.send(
                conversation.id, f"message {j} of {i}", author=Author.customer(contact.id)
            )
        ids.append(conversation.id)
    return ids


def engine_for(kit: AsyncChatKit, vendor: MemoryVendor, **options: object):  # type: ignore[no-untyped-def]
    return kit.sync.engine(MemoryIntegration(vendor=vendor), retry_delay=0.01, **options)  # type: ignore[arg-type]


# -- outbound ------------------------------------------------------------------


async def test_first_sync_pushes_parents_first_in_the_largest_batches(
    kit: AsyncChatKit, vendor: MemoryVendor
) -> None:
    conversations = await chat(kit, 120, messages=2)
    async with engine_for(kit, vendor) as engine:
        report = await engine.run_once()
    # 120 people and 120 cases in batches of 50, 240 comments in batches of 100.
    assert vendor.calls["push"] == 3 + 3 + 3
    assert report.pushed == 480
    assert (vendor.created["person"], vendor.created["case"], vendor.created["comment"]) == (
        120,
        120,
        240,
    )
    for conversation_id in conversations[:5]:
        case = vendor.find("case", external_id=conversation_id)
        assert case is not None
        person = vendor.records["person"][case["requester_id"]]
        conversation = await kit.conversations.get(conversation_id)
        assert person["external_id"] == conversation.contact_id
        link = await kit.sync.link("memory", conversation_id)
        assert link is not None
        assert link.remote_id == case["id"]
        assert not link.pending
    status = await kit.sync.status("memory")
    assert (status.linked, status.pending, status.dead, status.backlog) == (480, 0, 0, 0)


async def test_a_resync_with_nothing_changed_writes_nothing(
    kit: AsyncChatKit, vendor: MemoryVendor
) -> None:
    await chat(kit, 10)
    async with engine_for(kit, vendor) as engine:
        await engine.run_once()
        writes, pushes = vendor.writes, vendor.calls["push"]
        assert await engine.resync() == 40
        report = await engine.run_once()
    assert report.unchanged == 40
    assert (vendor.writes, vendor.calls["push"]) == (writes, pushes)


async def test_local_changes_go_out_coalesced(kit: AsyncChatKit, vendor: MemoryVendor) -> None:
    [conversation_id] = await chat(kit, 1)
    async with engine_for(kit, vendor) as engine:
        await engine.run_once()
        pushes = vendor.calls["push"]
        await kit.conversations.set_priority(conversation_id, "high")
        await kit.conversations.add_tags(conversation_id, "billing")
        await kit.conversations.set_priority(conversation_id, "urgent")
        await engine.run_once()
    case = vendor.find("case", external_id=conversation_id)
    assert case is not None
    assert (case["priority"], case["tags"]) == ("urgent", ["billing"])
    assert vendor.calls["push"] == pushes + 1  # three changes, one record, one call


async def test_the_agent_sees_the_crm_records_in_the_context(
    kit: AsyncChatKit, vendor: MemoryVendor
) -> None:
    [conversation_id] = await chat(kit, 1)
    assert (await kit.conversations.context(conversation_id)).external_records == []
    async with engine_for(kit, vendor) as engine:
        await engine.run_once()
    context = await kit.conversations.context(conversation_id)
    case = vendor.find("case", external_id=conversation_id)
    assert case is not None
    assert [
        (r.integration, r.kind, r.remote_type, r.remote_id) for r in context.external_records
    ] == [
        ("memory", "contact", "person", case["requester_id"]),
        ("memory", "conversation", "case", case["id"]),
    ]


async def test_the_owner_goes_out_as_the_agent_email(
    kit: AsyncChatKit, vendor: MemoryVendor
) -> None:
    [conversation_id] = await chat(kit, 1)
    mia = await kit.agents.create(name="Mia", email="mia@example.com")
    async with engine_for(kit, vendor) as engine:
        await engine.run_once()
        case = vendor.find("case", external_id=conversation_id)
        assert case is not None
        assert case["owner_email"] is None
        await kit.conversations.assign(conversation_id, mia.id)
        await engine.run_once()
        assert case["owner_email"] == "mia@example.com"
        await kit.conversations.assign(conversation_id, None)
        await engine.run_once()
    assert case["owner_email"] is None


async def test_the_transcript_goes_to_the_case_on_resolution(
    kit: AsyncChatKit, vendor: MemoryVendor
) -> None:
    [conversation_id] = await chat(kit, 1)
    async with engine_for(kit, vendor) as engine:
        await engine.run_once()
        await kit.conversations.resolve(conversation_id)
        await engine.run_once()
    case = vendor.find("case", external_id=conversation_id)
    assert case is not None
    assert case["status"] == "resolved"
    [transcript] = vendor.all("file", case_id=case["id"])
    assert "message 1 of 0" in transcript["content"]
    assert transcript["name"] == f"transcript-{conversation_id}.txt"


# -- inbound -------------------------------------------------------------------


async def test_vendor_changes_reach_the_chat_and_do_not_echo_back(
    kit: AsyncChatKit, vendor: MemoryVendor
) -> None:
    [conversation_id] = await chat(kit, 1)
    async with engine_for(kit, vendor) as engine:
        first = await engine.run_once()
        assert first.pulled_unchanged == 4  # our own four writes came back: echoes
        case = vendor.find("case", external_id=conversation_id)
        assert case is not None
        vendor.edit("case", case["id"], status="pending", priority="high")
        vendor.comment(case["id"], "We shipped it today")
        vendor.comment(case["id"], "Customer is a VIP", public=False)
        report = await engine.run_once()
        assert report.pulled == 3
        conversation = await kit.conversations.get(conversation_id)
        assert conversation.status is ConversationStatus.PENDING
        assert conversation.priority is Priority.HIGH
        page = await kit.messages.list(conversation_id)
        texts = {(m.kind.value, m.text, m.author.role.value) for m in page.items}
        assert ("text", "We shipped it today", "bot") in texts
        assert ("note", "Customer is a VIP", "bot") in texts
        writes = vendor.writes
        again = await engine.run_once()
    assert vendor.writes == writes  # nothing we applied went back to the vendor
    assert again.pushed == 0
    assert again.unchanged >= 3
    decisions = await kit.sync.decisions("memory", local_id=conversation_id)
    assert {(d.field, d.outcome, d.policy) for d in decisions} == {
        ("status", DecisionOutcome.APPLIED, "no_conflict"),
        ("priority", DecisionOutcome.APPLIED, "no_conflict"),
    }


async def test_a_customer_reply_in_the_crm_is_the_customers_message(
    kit: AsyncChatKit, vendor: MemoryVendor
) -> None:
    [conversation_id] = await chat(kit, 1)
    async with engine_for(kit, vendor) as engine:
        await engine.run_once()
        await kit.conversations.resolve(conversation_id)
        await engine.run_once()
        case = vendor.find("case", external_id=conversation_id)
        assert case is not None
        vendor.comment(case["id"], "Still not here", by_customer=True)
        await engine.run_once()
    conversation = await kit.conversations.get(conversation_id)
    last = (await kit.messages.list(conversation_id)).items[-1]
    assert (last.text, last.author.role.value, last.author.id) == (
        "Still not here",
        "customer",
        conversation.contact_id,
    )
    assert conversation.status is ConversationStatus.OPEN  # the customer reopened it


async def test_applying_the_same_changes_twice_changes_nothing_more(
    kit: AsyncChatKit, vendor: MemoryVendor
) -> None:
    [conversation_id] = await chat(kit, 1)
    integration = MemoryIntegration(vendor=vendor)
    async with kit.sync.engine(integration) as engine:
        await engine.run_once()
        case = vendor.find("case", external_id=conversation_id)
        assert case is not None
        vendor.comment(case["id"], "Replayed comment")
        page = await integration.pull(None)
        first = await engine.apply(page.changes)
        second = await engine.apply(page.changes)
    assert first.pulled == 1
    assert second.pulled == 0
    texts = [m.text for m in (await kit.messages.list(conversation_id)).items]
    assert texts.count("Replayed comment") == 1


async def test_the_cursor_is_saved_with_the_changes(
    kit: AsyncChatKit, vendor: MemoryVendor
) -> None:
    [conversation_id] = await chat(kit, 1)
    async with engine_for(kit, vendor, page_size=2) as engine:
        await engine.run_once()
        state = await engine.state()
        assert state.cursor == str(len(vendor._log))
        case = vendor.find("case", external_id=conversation_id)
        assert case is not None
        for n in range(5):
            vendor.comment(case["id"], f"agent comment {n}")
        report = await engine.pull()
        assert report.pulled == 5
        assert (await engine.state()).cursor == str(len(vendor._log))
        assert (await engine.pull()).pulled == 0


async def test_a_contact_created_at_the_vendor_links_by_email(
    kit: AsyncChatKit, vendor: MemoryVendor
) -> None:
    ada = await kit.contacts.create(name="Ada", identities=[("email", "ada@example.com")])
    person = vendor._create("person", {"name": "Ada Lovelace", "email": "ada@example.com"})
    async with kit.sync.engine(MemoryIntegration(vendor=vendor)) as engine:
        await engine.pull()
        link = await kit.sync.link("memory", ada.id)
        assert link is not None
        assert link.remote_id == person["id"]
        assert (await kit.contacts.get(ada.id)).name == "Ada Lovelace"
        await engine.run_once()
    assert vendor.created["person"] == 1  # found, not created a second time


# -- conflicts -----------------------------------------------------------------


async def test_newest_wins_by_default_and_every_decision_is_recorded(
    kit: AsyncChatKit, vendor: MemoryVendor
) -> None:
    [conversation_id] = await chat(kit, 1)
    async with engine_for(kit, vendor) as engine:
        await engine.run_once()
        await kit.conversations.set_priority(conversation_id, "low")  # not pushed yet
        await asyncio.sleep(0.01)
        case = vendor.find("case", external_id=conversation_id)
        assert case is not None
        vendor.edit("case", case["id"], priority="urgent")  # later: the vendor wins
        await engine.pull()
    conversation = await kit.conversations.get(conversation_id)
    assert conversation.priority is Priority.URGENT
    [decision] = await kit.sync.decisions("memory", local_id=conversation_id)
    assert (decision.field, decision.local_value, decision.remote_value) == (
        "priority",
        "low",
        "urgent",
    )
    assert (decision.outcome, decision.policy) == (DecisionOutcome.APPLIED, "newest_wins")


async def test_local_wins_keeps_ours_and_pushes_it(kit: AsyncChatKit, vendor: MemoryVendor) -> None:
    [conversation_id] = await chat(kit, 1)
    policy = ConflictPolicy(fields={"priority": FieldPolicy.LOCAL_WINS})
    async with engine_for(kit, vendor, policy=policy) as engine:
        await engine.run_once()
        await kit.conversations.set_priority(conversation_id, "low")
        case = vendor.find("case", external_id=conversation_id)
        assert case is not None
        vendor.edit("case", case["id"], priority="urgent")
        await engine.pull()
        assert (await kit.conversations.get(conversation_id)).priority is Priority.LOW
        await engine.run_once()
    assert case["priority"] == "low"
    [decision] = await kit.sync.decisions("memory", local_id=conversation_id)
    assert (decision.outcome, decision.policy) == (DecisionOutcome.KEPT_LOCAL, "local_wins")


async def test_closed_stays_closed(kit: AsyncChatKit, vendor: MemoryVendor) -> None:
    [conversation_id] = await chat(kit, 1)
    async with engine_for(kit, vendor) as engine:
        await engine.run_once()
        await kit.conversations.close(conversation_id)
        await engine.run_once()
        case = vendor.find("case", external_id=conversation_id)
        assert case is not None
        assert case["status"] == "closed"
        vendor.edit("case", case["id"], status="open")
        vendor.comment(case["id"], "Reopening this")
        await engine.pull()
    conversation = await kit.conversations.get(conversation_id)
    assert conversation.status is ConversationStatus.CLOSED
    outcomes = {(d.field, d.outcome, d.policy) for d in await kit.sync.decisions("memory")}
    assert ("status", DecisionOutcome.REFUSED, "closed_stays_closed") in outcomes
    assert ("message", DecisionOutcome.REFUSED, "closed_stays_closed") in outcomes
    texts = [m.text for m in (await kit.messages.list(conversation_id)).items]
    assert "Reopening this" not in texts
    async with engine_for(kit, vendor) as engine:
        await engine.run_once()
    assert case["status"] == "closed"  # ours went back to the vendor


# -- failures ------------------------------------------------------------------


async def test_retry_after_is_honoured_within_a_call(
    kit: AsyncChatKit, vendor: MemoryVendor
) -> None:
    await chat(kit, 1, messages=0)
    vendor.fail_next(2, retry_after=0.2)
    async with engine_for(kit, vendor) as engine:
        await engine.collect()
        started = time.monotonic()
        report = await engine.push()
        elapsed = time.monotonic() - started
    assert report.pushed == 2
    assert elapsed >= 0.4
    assert vendor.calls["push"] == 4  # two refused, then contacts and conversations


async def test_a_long_retry_after_sends_records_back_to_the_queue(
    kit: AsyncChatKit, vendor: MemoryVendor
) -> None:
    await chat(kit, 3, messages=0)
    vendor.fail_next(1, retry_after=120)
    async with engine_for(kit, vendor, max_wait=5) as engine:
        await engine.collect()
        report = await engine.push()
    assert report.retried == 3
    assert report.pushed == 0
    assert vendor.calls["push"] == 1  # no waiting two minutes inside the call
    status = await kit.sync.status("memory")
    assert status.pending == 6
    assert status.dead == 0
    link = await kit.sync.link("memory", (await kit.contacts.list()).items[0].id)
    assert link is not None
    assert link.last_error == "429 from the vendor"


async def test_a_refused_record_is_dead_lettered_and_blocks_nothing(
    kit: AsyncChatKit, vendor: MemoryVendor
) -> None:
    conversations = await chat(kit, 3, messages=1)
    bad = (await kit.conversations.get(conversations[1])).contact_id
    vendor.refuse(lambda c: "Email: is invalid" if c.local_id == bad else None)
    async with engine_for(kit, vendor) as engine:
        report = await engine.run_once()
        assert report.dead == 1
        assert vendor.created["case"] == 2
        assert vendor.created["comment"] == 2
        [dead] = await kit.sync.dead_letters("memory")
        assert (dead.local_id, dead.last_error) == (bad, "Email: is invalid")
        status = await kit.sync.status("memory")
        assert status.dead == 1
        assert status.pending == 2
        vendor.refuse(None)
        assert await kit.sync.retry("memory") == 1
        with pytest.raises(NotFoundError):
            await kit.sync.retry("memory", ["ct_unknown"])
        await engine.run_once()
    assert vendor.created["case"] == 3
    assert vendor.created["comment"] == 3
    assert await kit.sync.dead_letters("memory") == []


async def test_a_retried_dead_letter_is_due_at_once_in_any_time_zone(
    kit: AsyncChatKit, vendor: MemoryVendor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")  # the machine's local time is 9 hours ahead
    time.tzset()
    try:
        await chat(kit, 1, messages=0)
        vendor.refuse(lambda change: "refused" if change.object.value == "contact" else None)
        async with engine_for(kit, vendor) as engine:
            await engine.run_once()
            vendor.refuse(None)
            assert await kit.sync.retry("memory") == 1
            report = await engine.run_once()
        assert report.pushed == 2  # the contact at once, then its conversation
    finally:
        monkeypatch.undo()
        time.tzset()


async def test_records_out_of_retries_are_dead_lettered(
    kit: AsyncChatKit, vendor: MemoryVendor
) -> None:
    await chat(kit, 1, messages=0)
    integration = MemoryIntegration(vendor=vendor)
    options = {"max_attempts": 2, "call_retries": 1, "retry_delay": 0.5}
    async with kit.sync.engine(integration, **options) as engine:  # type: ignore[arg-type]
        await engine.collect()
        for _ in range(2):  # each push fails once, and its retry is not due before it ends
            vendor.fail_next(1, kind="server")
            await engine.push()
            await asyncio.sleep(0.55)
    [dead] = await kit.sync.dead_letters("memory")
    assert dead.kind == "contact"
    assert dead.last_error == "500 from the vendor"


async def test_refused_credentials_park_the_integration(
    kit: AsyncChatKit, vendor: MemoryVendor
) -> None:
    await chat(kit, 1, messages=0)
    vendor.fail_next(1, kind="auth")
    async with engine_for(kit, vendor, park_seconds=3600) as engine:
        report = await engine.run_once()
        assert report.parked == "auth_failed"
        status = await kit.sync.status("memory")
        assert status.parked == "auth_failed"
        assert "401" in (status.parked_detail or "")
        calls = sum(vendor.calls.values())
        assert (await engine.run_once()).parked == "auth_failed"
        assert sum(vendor.calls.values()) == calls  # parked: no call to the vendor at all
        assert await kit.sync.resume("memory")
        report = await engine.run_once()
    assert report.parked is None
    assert report.pushed == 2


async def test_a_used_up_quota_parks_until_it_resets(
    kit: AsyncChatKit, vendor: MemoryVendor
) -> None:
    await chat(kit, 1, messages=0)
    vendor.fail_next(1, kind="quota", retry_after=0.2)
    async with engine_for(kit, vendor) as engine:
        assert (await engine.run_once()).parked == "quota_exhausted"
        assert (await engine.run_once()).parked == "quota_exhausted"
        await asyncio.sleep(0.25)
        report = await engine.run_once()  # the check passes: resumed
    assert report.parked is None
    assert report.pushed == 2
    assert vendor.calls["check"] == 1


async def test_the_daily_budget_parks_before_the_vendor_refuses(
    kit: AsyncChatKit, vendor: MemoryVendor, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = RateBudget(calls=100, per_seconds=1, daily_calls=3)
    capabilities = MemoryIntegration.capabilities.model_copy(update={"rate": budget})
    monkeypatch.setattr(MemoryIntegration, "capabilities", capabilities)
    await chat(kit, 1, messages=1)
    async with engine_for(kit, vendor) as engine:
        await engine.run_once()  # three pushes and a pull: over the budget
        report = await engine.run_once()
    assert report.parked == "quota_exhausted"
    assert (await kit.sync.status("memory")).calls_today == 4


# -- crash safety --------------------------------------------------------------


def shared(url: str) -> str:
    """``url``, or a skip for the memory store (its kits share nothing)."""
    if url.startswith("memory"):
        pytest.skip("kits on the memory store share nothing across instances")
    return url


async def test_a_crash_after_the_vendor_wrote_creates_no_duplicate(
    store_url: str, vendor: MemoryVendor
) -> None:
    url = shared(store_url)
    async with AsyncChatKit(url) as kit:
        await chat(kit, 5, messages=2)
    # Each run dies right after the vendor wrote: after the people; then after
    # the cases (the people again first); then after the comments.
    # A dead worker's claim runs out after claim_seconds; then the next one retries.
    for on_call in (1, 2, 2):
        await asyncio.sleep(0.1)
        async with AsyncChatKit(url) as kit:
            engine = kit.sync.engine(MemoryIntegration(vendor=vendor), claim_seconds=0.05)
            vendor.crash_after_write(on_call=on_call)
            with pytest.raises(SimulatedCrash):
                await engine.run_once()
    assert (vendor.created["person"], vendor.created["case"], vendor.created["comment"]) == (
        5,
        5,
        10,
    )
    await asyncio.sleep(0.1)
    async with AsyncChatKit(url) as kit:
        async with kit.sync.engine(MemoryIntegration(vendor=vendor)) as engine:
            await engine.run_once()
            await engine.run_once()
        status = await kit.sync.status("memory")
    assert (vendor.created["person"], vendor.created["case"], vendor.created["comment"]) == (
        5,
        5,
        10,
    )
    assert (status.linked, status.pending, status.dead) == (20, 0, 0)


async def test_two_workers_share_the_work_without_duplicates(
    store_url: str, vendor: MemoryVendor
) -> None:
    url = shared(store_url)
    async with AsyncChatKit(url) as first, AsyncChatKit(url) as second:
        await chat(first, 30, messages=2)
        vendor.latency = 0.02  # each push waits: the two workers interleave
        one = first.sync.engine(MemoryIntegration(vendor=vendor))
        two = second.sync.engine(MemoryIntegration(vendor=vendor))
        reports = await asyncio.gather(one.run_once(), two.run_once())
        reports += await asyncio.gather(one.run_once(), two.run_once())
        await one.close()
        await two.close()
        status = await first.sync.status("memory")
    assert sum(report.pushed for report in reports) == 120  # each record pushed once
    assert (vendor.created["person"], vendor.created["case"], vendor.created["comment"]) == (
        30,
        30,
        60,
    )
    assert (status.linked, status.pending, status.dead) == (120, 0, 0)


async def test_a_push_longer_than_the_claim_keeps_it(store_url: str, vendor: MemoryVendor) -> None:
    url = shared(store_url)
    async with AsyncChatKit(url) as first, AsyncChatKit(url) as second:
        await chat(first, 4, messages=0)
        vendor.latency = 0.4  # each push outlasts the claim several times over
        one = first.sync.engine(
            MemoryIntegration(vendor=vendor), claim_seconds=0.1, retry_delay=0.01
        )
        two = second.sync.engine(
            MemoryIntegration(vendor=vendor), claim_seconds=0.1, retry_delay=0.01
        )
        await one.collect()

        async def later() -> SyncReport:
            await asyncio.sleep(0.2)  # the first worker is mid-push; its claim renewed
            return await two.push()

        await asyncio.gather(one.push(), later())
        vendor.latency = 0
        await asyncio.sleep(0.05)
        await one.push()
        await one.close()
        await two.close()
        status = await first.sync.status("memory")
    assert (vendor.created["person"], vendor.created["case"]) == (4, 4)
    assert (status.linked, status.pending) == (8, 0)
    # The contacts once, the conversations once: an expired claim would have
    # let the second worker push the contacts again while the first still was.
    assert vendor.calls["push"] == 2


async def test_a_purged_conversation_is_deleted_at_the_vendor(
    kit: AsyncChatKit, vendor: MemoryVendor
) -> None:
    [conversation_id] = await chat(kit, 1)
    async with engine_for(kit, vendor) as engine:
        await engine.run_once()
        await kit.conversations.close(conversation_id)
        await kit.retention.purge(now=utcnow() + timedelta(days=3650))
        await engine.run_once()
    assert vendor.find("case", external_id=conversation_id) is None
    assert await kit.sync.link("memory", conversation_id) is None


# -- webhooks ------------------------------------------------------------------


async def test_webhooks_are_verified_and_applied_once(
    kit: AsyncChatKit, vendor: MemoryVendor
) -> None:
    [conversation_id] = await chat(kit, 1)
    async with engine_for(kit, vendor) as engine:
        await engine.run_once()
        case = vendor.find("case", external_id=conversation_id)
        assert case is not None
        comment = vendor.comment(case["id"], "Sent by webhook")
        headers, body = vendor.webhook("comment", comment["id"])
        assert (await engine.handle_webhook(headers, body)).pulled == 1
        assert (await engine.handle_webhook(headers, body)).pulled == 0  # a duplicate delivery
        forged = {**headers, "X-Memory-Signature": "0" * 64}
        with pytest.raises(WebhookVerificationError):
            await engine.handle_webhook(forged, body)
        old_headers, old_body = vendor.webhook("comment", comment["id"], at=time.time() - 3600)
        with pytest.raises(WebhookVerificationError):
            await engine.handle_webhook(old_headers, old_body)
        assert (await engine.pull()).pulled == 0  # polling finds it applied already
    texts = [m.text for m in (await kit.messages.list(conversation_id)).items]
    assert texts.count("Sent by webhook") == 1
