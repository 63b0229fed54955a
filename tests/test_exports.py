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
    assert set(record) == {"format", "contact", "conversation", "messages"}
    assert record["format"] == 1
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
