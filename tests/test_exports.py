"""JSON-lines export and import: streaming, exact round trip, bad lines."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from chatkit import AsyncChatKit, Author, ConflictError, InvalidInputError

pytestmark = pytest.mark.anyio


async def _fill(kit: AsyncChatKit) -> list[str]:
    ids = []
    for n in range(3):
        inbound = await kit.messages.receive(
            channel="sms",
            sender=f"+1555010000{n}",
            text=f"Müşteri {n}: 배송이 늦어요 🚚",
            name=f"C{n}",
        )
        agent = await kit.agents.create(name=f"A{n}")
        await kit.messages.send(inbound.conversation.id, "On it", author=Author.agent(agent.id))
        await kit.messages.note(inbound.conversation.id, "private", agent_id=agent.id)
        await kit.conversations.add_tags(inbound.conversation.id, "late")
        ids.append(inbound.conversation.id)
    return ids


async def test_round_trip_is_exact(store_url: str, tmp_path: Path) -> None:
    first = tmp_path / "first.jsonl"
    second = tmp_path / "second.jsonl"
    async with AsyncChatKit(store_url) as source:
        ids = await _fill(source)
        assert await source.exports.write_jsonl(first) == 3
    async with AsyncChatKit(f"sqlite:///{tmp_path}/target.db") as target:
        assert await target.exports.read_jsonl(first) == 3
        assert await target.exports.write_jsonl(second, conversation_ids=ids) == 3
        assert await target.exports.read_jsonl(first) == 0  # re-running skips
        page = await target.messages.list(ids[0])
        assert page.items[0].text == "Müşteri 0: 배송이 늦어요 🚚"
        imported = (await target.events.list()).items
        assert {e.type for e in imported} == {"conversation.imported"}
    assert sorted(first.read_text().splitlines()) == sorted(second.read_text().splitlines())


async def test_lines_have_the_documented_shape(kit: AsyncChatKit) -> None:
    await _fill(kit)
    buffer = io.StringIO()
    await kit.exports.write_jsonl(buffer)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 3
    record = json.loads(lines[0])
    assert set(record) == {
        "format",
        "contact",
        "conversation",
        "messages",
        "agents",
        "teams",
        "tickets",
        "attachments",
        "reviews",
    }
    assert record["format"] == 2
    assert [m["seq"] for m in record["messages"]] == [1, 2, 3]


async def test_binary_file_objects_work(kit: AsyncChatKit) -> None:
    await _fill(kit)
    buffer = io.BytesIO()
    await kit.exports.write_jsonl(buffer)
    buffer.seek(0)
    async with AsyncChatKit("memory://") as other:
        assert await other.exports.read_jsonl(buffer) == 3


async def test_bad_line_is_reported_with_its_number(kit: AsyncChatKit) -> None:
    await _fill(kit)
    buffer = io.StringIO()
    await kit.exports.write_jsonl(buffer)
    good = buffer.getvalue().splitlines()
    broken = io.StringIO("\n".join([good[0], '{"format": 1, "contact": 42}', good[1]]) + "\n")
    async with AsyncChatKit("memory://") as other:
        with pytest.raises(InvalidInputError, match="line 2"):
            await other.exports.read_jsonl(broken)
        assert len((await other.conversations.list()).items) == 1


async def test_import_refuses_to_overwrite_different_data(kit: AsyncChatKit) -> None:
    ids = await _fill(kit)
    buffer = io.StringIO()
    await kit.exports.write_jsonl(buffer, conversation_ids=ids[:1])
    await kit.conversations.add_tags(ids[0], "changed")
    buffer.seek(0)
    with pytest.raises(ConflictError):
        await kit.exports.read_jsonl(buffer)


async def _assigned(kit: AsyncChatKit) -> str:
    """A conversation assigned to an agent of a team, with a ticket, an attachment and notes."""
    await kit.teams.create("Billing")
    agent = await kit.agents.create(name="Ayşe", email="ayse@example.com", teams=["Billing"])
    owner = await kit.agents.create(name="Bora")
    inbound = await kit.messages.receive(channel="sms", sender="+15550100009", text="Geç kaldı")
    conversation_id = inbound.conversation.id
    await kit.conversations.assign(conversation_id, agent.id, team="Billing")
    upload = await kit.attachments.upload(
        conversation_id, b"GIF89a" + bytes(32), name="shot.gif", author=Author.agent(agent.id)
    )
    await kit.messages.send(
        conversation_id, "Bakıyorum", author=Author.agent(agent.id), attachments=[upload.id]
    )
    await kit.messages.note(conversation_id, "private", agent_id=agent.id)
    ticket = await kit.tickets.create(
        subject="Refund", conversation_id=conversation_id, owner_id=owner.id, note="call"
    )
    await kit.tickets.add_note(ticket.id, "called", author_id=owner.id)
    await kit.reviews.add_note(conversation_id, owner.id, "good tone")
    return conversation_id


async def test_an_assigned_conversation_round_trips_into_a_fresh_store(
    store_url: str, tmp_path: Path
) -> None:
    """The assignee, team, ticket owner, attachment records and notes travel with the line."""
    buffer = io.StringIO()
    async with AsyncChatKit("memory://") as source:
        conversation_id = await _assigned(source)
        assert await source.exports.write_jsonl(buffer) == 1
    line = buffer.getvalue()
    record = json.loads(line)
    assert len(record["agents"]) == 2
    assert len(record["teams"]) == 1
    assert len(record["tickets"]) == 1
    assert len(record["tickets"][0]["notes"]) == 2
    assert len(record["attachments"]) == 1
    assert len(record["reviews"]) == 1
    async with AsyncChatKit(store_url) as target:
        assert await target.exports.read_jsonl(io.StringIO(line)) == 1
        again = io.StringIO()
        await target.exports.write_jsonl(again)
        assert again.getvalue() == line
        conversation = await target.conversations.get(conversation_id)
        assert (await target.agents.get(conversation.assignee_id or "")).name == "Ayşe"
        assert await target.exports.read_jsonl(io.StringIO(line)) == 0


async def test_an_edited_message_is_a_conflict_on_re_import(store_url: str) -> None:
    async with AsyncChatKit(store_url) as kit:
        await _fill(kit)
        buffer = io.StringIO()
        await kit.exports.write_jsonl(buffer)
        lines = buffer.getvalue().splitlines()
        record = json.loads(lines[1])
        record["messages"][0]["text"] = "edited"
        edited = json.dumps(record, ensure_ascii=False)
        with pytest.raises(ConflictError, match=record["messages"][0]["id"]):
            await kit.exports.read_jsonl(io.StringIO(edited + "\n"))
        record = json.loads(lines[1])
        del record["messages"][-1]
        with pytest.raises(ConflictError):
            await kit.exports.read_jsonl(io.StringIO(json.dumps(record) + "\n"))
        before = await kit.events.list()
        assert await kit.exports.read_jsonl(io.StringIO(buffer.getvalue())) == 0
        assert (await kit.events.list()).items == before.items


async def test_a_line_of_format_1_still_imports(kit: AsyncChatKit) -> None:
    async with AsyncChatKit("memory://") as source:
        await _fill(source)
        buffer = io.StringIO()
        await source.exports.write_jsonl(buffer)
    old = []
    for line in buffer.getvalue().splitlines():
        record = json.loads(line)
        old.append(
            json.dumps(
                {k: record[k] for k in ("contact", "conversation", "messages")} | {"format": 1}
            )
        )
    assert await kit.exports.read_jsonl(io.StringIO("\n".join(old) + "\n")) == 3
    assert len((await kit.conversations.list()).items) == 3


async def test_an_agent_found_nowhere_is_refused_alike_on_every_store(store_url: str) -> None:
    """A format-1 line of an assigned conversation names an agent the line does not carry."""
    async with AsyncChatKit("memory://") as source:
        await _assigned(source)
        buffer = io.StringIO()
        await source.exports.write_jsonl(buffer)
    record = json.loads(buffer.getvalue())
    old = {k: record[k] for k in ("contact", "conversation", "messages")} | {"format": 1}
    async with AsyncChatKit(store_url) as target:
        with pytest.raises(InvalidInputError, match=r"line 1: agent .* neither in it nor in"):
            await target.exports.read_jsonl(io.StringIO(json.dumps(old) + "\n"))
        assert (await target.conversations.list()).items == []
        assert (await target.events.list()).items == []
