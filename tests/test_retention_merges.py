"""Legal holds follow their records through merges, transfers and imports; a
purge takes everything about a conversation (surveys, review notes, incident notes)."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from chatkit import AsyncChatKit, Author, RetentionPolicy
from chatkit.models import Contact, Conversation, IncidentCategory, utcnow

pytestmark = pytest.mark.anyio

LATER = timedelta(days=60)
COMMENT = "my neighbour Ada Lovelace at 12 Crescent Road took the parcel"
REVIEW = "agent read out the customer's IBAN GB33BUKB20201555555555"
INCIDENT = "customer threatened agent Mia by her home address 7 Elm Street"
GOOD = {"overall": 5, "time_to_resolve": 4, "agent_helped": "strongly_agree", "use_again": 5}


async def _conversation(kit: AsyncChatKit, sender: str, text: str = "hello") -> Conversation:
    return (await kit.messages.receive(channel="web", sender=sender, text=text)).conversation


async def _purged(kit: AsyncChatKit) -> set[str]:
    return set((await kit.retention.purge(now=utcnow() + LATER)).conversation_ids)


async def test_a_contact_hold_survives_merging_the_contact_away(kit: AsyncChatKit) -> None:
    a = await _conversation(kit, "a")
    b = await _conversation(kit, "b")
    free = await _conversation(kit, "c")
    await kit.retention.hold(contact_id=b.contact_id, reason="case 7")
    await kit.contacts.merge(a.contact_id, b.contact_id)
    assert (await kit.conversations.get(b.id)).contact_id == a.contact_id
    assert await _purged(kit) == {free.id}
    # b's records can no longer be told from a's: the whole merged contact is held.
    assert (await kit.conversations.get(b.id)).id == b.id
    assert (await kit.conversations.get(a.id)).id == a.id


async def test_a_contact_hold_follows_a_chain_of_merges(kit: AsyncChatKit) -> None:
    a = await _conversation(kit, "a")
    b = await _conversation(kit, "b")
    c = await _conversation(kit, "c")
    await kit.retention.hold(contact_id=b.contact_id, reason="case 8")
    await kit.contacts.merge(a.contact_id, b.contact_id)
    await kit.contacts.merge(c.contact_id, a.contact_id)
    assert await _purged(kit) == set()
    assert (await kit.conversations.get(b.id)).contact_id == c.contact_id


async def test_merging_another_contact_into_a_held_one_keeps_both(kit: AsyncChatKit) -> None:
    a = await _conversation(kit, "a")
    b = await _conversation(kit, "b")
    await kit.retention.hold(contact_id=b.contact_id, reason="case 9")
    await kit.contacts.merge(b.contact_id, a.contact_id)
    assert await _purged(kit) == set()
    hold = (await kit.retention.holds())[0]
    await kit.retention.release(hold.id)
    assert await _purged(kit) == {a.id, b.id}


async def test_a_hold_follows_transfers_to_agents_and_teams(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit, "a")
    other = await _conversation(kit, "b")
    mia = await kit.agents.create(name="Mia", max_concurrent_chats=5)
    leo = await kit.agents.create(name="Leo", max_concurrent_chats=5)
    await kit.teams.create(name="billing")
    await kit.retention.hold(conversation_id=conv.id, reason="case 10")
    await kit.retention.hold(contact_id=other.contact_id, reason="case 11")
    for c in (conv, other):
        await kit.conversations.assign(c.id, mia.id)
        await kit.routing.transfer(c.id, to_agent=leo.id)
        await kit.routing.transfer(c.id, to_team="billing")
    assert await _purged(kit) == set()


async def test_an_imported_conversation_of_a_merged_contact_stays_held(
    kit: AsyncChatKit,
) -> None:
    a = await _conversation(kit, "a")
    b = await _conversation(kit, "b")
    await kit.retention.hold(contact_id=b.contact_id, reason="case 12")
    await kit.contacts.merge(a.contact_id, b.contact_id)
    # A line for a conversation that still names the merged contact (exported
    # from a store where it was created while the merge ran): it is b's.
    buffer = io.StringIO()
    await kit.exports.write_jsonl(buffer, conversation_ids=[b.id])
    line = json.loads(buffer.getvalue())
    merged = await kit.store.get(Contact, b.contact_id)
    assert merged is not None
    assert merged.merged_into == a.contact_id
    line["contact"] = json.loads(merged.model_dump_json())
    line["conversation"]["id"] = "conv_reimported"
    line["conversation"]["contact_id"] = b.contact_id
    for n, message in enumerate(line["messages"]):
        message["id"] = f"msg_reimported{n}"
        message["conversation_id"] = "conv_reimported"
    line["tickets"] = line["attachments"] = line["reviews"] = []
    assert await kit.exports.read_jsonl(io.StringIO(json.dumps(line) + "\n")) == 1
    imported = await kit.conversations.get("conv_reimported")
    assert imported.contact_id == b.contact_id
    assert await _purged(kit) == set()


async def _everything(kit: AsyncChatKit, sender: str) -> tuple[Conversation, str]:
    """A resolved conversation with an answered survey, a review note and an incident."""
    conv = await _conversation(kit, sender, text="where is my parcel?")
    lead = await kit.agents.create(name=f"Lead {sender}")
    await kit.conversations.assign(conv.id, lead.id)
    reply = await kit.messages.send(conv.id, "It was delivered.", author=Author.agent(lead.id))
    await kit.conversations.resolve(conv.id)
    survey = await kit.surveys.send(conv.id)
    await kit.surveys.answer(survey.id, GOOD, COMMENT)
    await kit.reviews.add_note(conv.id, lead.id, REVIEW)
    incident = await kit.abuse.record(
        conv.contact_id,
        category=IncidentCategory.HARASSMENT,
        reported_by=Author.agent(lead.id),
        conversation_id=conv.id,
        message_ids=[reply.id],
        note=INCIDENT,
    )
    return conv, incident.id


async def test_purge_takes_survey_comments_and_review_notes_and_strips_incidents(
    kit: AsyncChatKit,
) -> None:
    conv, incident_id = await _everything(kit, "v1")
    kept = await _conversation(kit, "v2")
    await kit.retention.hold(conversation_id=kept.id, reason="case 13")
    assert len(await kit.surveys.for_conversation(conv.id)) == 1
    report = await kit.retention.purge(now=utcnow() + LATER)
    assert report.conversation_ids == [conv.id]
    assert await kit.surveys.for_conversation(conv.id) == []
    assert await kit.reviews.notes(conv.id) == []
    assert (await kit.surveys.list()).items == []
    incidents = (await kit.abuse.incidents(contact_id=conv.contact_id)).items
    assert [i.id for i in incidents] == [incident_id]
    assert incidents[0].note is None
    assert incidents[0].message_ids == []
    assert incidents[0].category is IncidentCategory.HARASSMENT
    events = "".join(e.model_dump_json() for e in await kit.store.read_events(0, 10_000))
    for text in (COMMENT, REVIEW, INCIDENT):
        assert text not in events
    assert (report.surveys, report.review_notes, report.incidents) == (1, 1, 1)


async def test_a_dry_run_counts_surveys_notes_and_incidents(kit: AsyncChatKit) -> None:
    conv, _ = await _everything(kit, "v1")
    dry = await kit.retention.purge(dry_run=True, now=utcnow() + LATER)
    assert (dry.conversations, dry.surveys, dry.review_notes, dry.incidents) == (1, 1, 1, 1)
    assert len(await kit.surveys.for_conversation(conv.id)) == 1
    assert len(await kit.reviews.notes(conv.id)) == 1
    page = await kit.abuse.incidents(contact_id=conv.contact_id)
    assert page.items[0].note == INCIDENT


async def test_purged_surveys_reviews_and_incident_notes_leave_the_sqlite_file(
    tmp_path: Path,
) -> None:
    db = tmp_path / "support.db"
    async with AsyncChatKit(f"sqlite:///{db}") as kit:
        await _everything(kit, "v1")
        await _conversation(kit, "v2", text="keep me, I am recent")
        files = [db, db.with_name("support.db-wal")]
        secrets = [t.encode() for t in (COMMENT, REVIEW, INCIDENT)]
        before = b"".join(f.read_bytes() for f in files if f.exists())
        assert all(s in before for s in secrets)
        report = await kit.retention.purge(
            policy=RetentionPolicy(default_days=1, allow_shorter=True),
            now=utcnow() + timedelta(days=2),
        )
        assert report.conversations == 2
        raw = b"".join(f.read_bytes() for f in files if f.exists())
        for secret in secrets:
            assert secret not in raw
        assert b"GB33BUKB" not in raw
        assert b"Crescent Road" not in raw
