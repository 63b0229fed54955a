"""Retention: policy rules, legal holds, purge (dry run, real, resumable), scrubbing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from chatkit import (
    AsyncChatKit,
    Author,
    ChatKitSettings,
    InvalidInputError,
    NotFoundError,
    RetentionPolicy,
)
from chatkit.models import Conversation, utcnow

pytestmark = pytest.mark.anyio

SECRET = "my card number is 4111-1111-1111-1111 and my PIN is 8412"


async def _conversation(kit: AsyncChatKit, sender: str, text: str = SECRET) -> Conversation:
    inbound = await kit.messages.receive(channel="web", sender=sender, text=text, verified=True)
    return inbound.conversation


def test_policies_under_31_days_need_an_explicit_override() -> None:
    with pytest.raises(ValueError, match="allow_shorter"):
        RetentionPolicy(default_days=7)
    with pytest.raises(ValueError, match="allow_shorter"):
        RetentionPolicy(channels={"sms": 10})  # type: ignore[dict-item]
    assert RetentionPolicy(default_days=7, allow_shorter=True).default_days == 7
    assert RetentionPolicy().default_days == 31
    with pytest.raises(InvalidInputError, match="allow_shorter"):
        ChatKitSettings(retention={"default_days": 1})  # type: ignore[arg-type]


async def test_nothing_is_purged_before_31_days(kit: AsyncChatKit) -> None:
    await _conversation(kit, "v1")
    report = await kit.retention.purge(now=utcnow() + timedelta(days=30))
    assert report.conversations == 0


async def test_dry_run_reports_and_deletes_nothing(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit, "v1")
    before = await kit.store.last_position()
    report = await kit.retention.purge(dry_run=True, now=utcnow() + timedelta(days=32))
    assert report.dry_run
    assert (report.conversations, report.messages) == (1, 1)
    assert report.conversation_ids == [conv.id]
    assert (await kit.conversations.get(conv.id)).id == conv.id
    assert await kit.store.last_position() == before


async def test_purge_removes_messages_attachments_and_events(kit: AsyncChatKit) -> None:
    old = await _conversation(kit, "v1")
    customer = Author.customer(old.contact_id)
    photo = await kit.attachments.upload(
        old.id, b"GIF89a\x01\x00\x01\x00", name="c.gif", author=customer
    )
    msg = await kit.messages.send(old.id, "see photo", author=customer, attachments=[photo.id])
    later = utcnow() + timedelta(days=40)
    report = await kit.retention.purge(now=later)
    assert (report.conversations, report.messages, report.attachments) == (1, 2, 1)
    for call in (
        kit.conversations.get(old.id),
        kit.messages.get(msg.id),
        kit.attachments.get(photo.id),
        kit.messages.list(old.id),
    ):
        with pytest.raises(NotFoundError):
            await call
    assert not await kit.blobs.exists(photo.blob_key)
    events = (await kit.events.list(limit=1000)).items
    left = [e for e in events if e.conversation_id == old.id]
    assert [e.type for e in left] == ["conversation.purged"]
    assert SECRET not in "".join(e.model_dump_json() for e in events)
    # The contact stays, and a new conversation starts when they write again.
    again = await kit.messages.receive(
        channel="web", sender="v1", text="hello again", verified=True
    )
    assert again.new_conversation
    assert again.contact.id == old.contact_id


async def test_recent_conversations_survive_a_purge(kit: AsyncChatKit) -> None:
    old = await _conversation(kit, "v1")
    young = await _conversation(kit, "v2")
    # The customer of `young` writes again 20 days later: its clock restarts.
    later = utcnow() + timedelta(days=20)
    await kit.messages.send(young.id, "any news?", author=Author.customer(young.contact_id))
    report = await kit.retention.purge(now=later + timedelta(days=12), dry_run=True)
    assert set(report.conversation_ids) == {old.id, young.id}
    report = await kit.retention.purge(now=utcnow() + timedelta(days=25))
    assert report.conversations == 0
    assert (await kit.conversations.get(young.id)).id == young.id


async def test_longer_periods_per_channel_tag_and_ticket_status(kit: AsyncChatKit) -> None:
    web = await _conversation(kit, "v1")
    tagged = await _conversation(kit, "v2")
    await kit.conversations.add_tags(tagged.id, "Chargeback")
    ticketed = await _conversation(kit, "v3")
    ticket = await kit.tickets.create(conversation_id=ticketed.id, subject="refund")
    await kit.tickets.close(ticket.id)
    sms = await kit.messages.receive(channel="sms", sender="+15550100000", text=SECRET)
    policy = RetentionPolicy(
        channels={"sms": 90},  # type: ignore[dict-item]
        tags={"chargeback": 365},
        ticket_statuses={"closed": 180},  # type: ignore[dict-item]
    )
    at_100_days = await kit.retention.purge(policy=policy, now=utcnow() + timedelta(days=100))
    assert set(at_100_days.conversation_ids) == {web.id, sms.conversation.id}
    at_200_days = await kit.retention.purge(policy=policy, now=utcnow() + timedelta(days=200))
    assert at_200_days.conversation_ids == [ticketed.id]
    assert at_200_days.tickets == 1
    at_400_days = await kit.retention.purge(policy=policy, now=utcnow() + timedelta(days=400))
    assert at_400_days.conversation_ids == [tagged.id]


async def test_legal_holds_suspend_purging(kit: AsyncChatKit) -> None:
    on_conv = await _conversation(kit, "v1")
    on_contact = await _conversation(kit, "v2")
    free = await _conversation(kit, "v3")
    h1 = await kit.retention.hold(conversation_id=on_conv.id, reason="case 114")
    await kit.retention.hold(contact_id=on_contact.contact_id, reason="subpoena")
    later = utcnow() + timedelta(days=60)
    report = await kit.retention.purge(now=later)
    assert report.conversation_ids == [free.id]
    assert report.held == 2
    await kit.retention.release(h1.id)
    assert [h.reason for h in await kit.retention.holds()] == ["subpoena"]
    assert (await kit.retention.purge(now=later)).conversation_ids == [on_conv.id]
    with pytest.raises(InvalidInputError):
        await kit.retention.hold(reason="x")
    with pytest.raises(NotFoundError):
        await kit.retention.hold(conversation_id="conv_missing", reason="x")


async def test_unfinished_tickets_keep_their_conversation(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit, "v1")
    await kit.tickets.create(conversation_id=conv.id, subject="still open")
    report = await kit.retention.purge(now=utcnow() + timedelta(days=400))
    assert report.conversations == 0
    assert report.open_tickets == 1


async def test_interrupted_purge_resumes(kit: AsyncChatKit) -> None:
    ids = {(await _conversation(kit, f"v{n}")).id for n in range(5)}
    later = utcnow() + timedelta(days=40)

    def crash(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await kit.retention.purge(now=later, batch_size=2, progress=crash)
    survivors = {c.id for c in (await kit.conversations.list(limit=100)).items}
    assert len(survivors) == 3
    resumed = await kit.retention.purge(now=later, batch_size=2)
    assert set(resumed.conversation_ids) == survivors
    assert set(resumed.conversation_ids) < ids
    assert (await kit.conversations.list()).items == []


async def test_purged_text_is_gone_from_the_sqlite_files(tmp_path: Path) -> None:
    db = tmp_path / "support.db"
    async with AsyncChatKit(f"sqlite:///{db}") as kit:
        conv = await _conversation(kit, "v1")
        await kit.messages.send(
            conv.id, SECRET + " (again)", author=Author.customer(conv.contact_id)
        )
        await _conversation(kit, "v2", text="keep me, I am recent")
        files = [db, db.with_name("support.db-wal")]
        assert any(SECRET.encode() in f.read_bytes() for f in files if f.exists())
        report = await kit.retention.purge(
            policy=RetentionPolicy(default_days=1, allow_shorter=True),
            now=utcnow() + timedelta(days=2),
        )
        assert report.conversations == 2
        raw = b"".join(f.read_bytes() for f in files if f.exists())
        assert SECRET.encode() not in raw
        assert b"4111-1111" not in raw
