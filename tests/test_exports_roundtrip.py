"""Property: any conversation, with agents, teams, tickets, attachments and notes,
exported with write_jsonl and imported into a fresh store of any kind, exports
again to the same bytes; re-importing it changes nothing; a line whose message
text was edited is a ConflictError and writes nothing."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatkit import AsyncChatKit, ConflictError
from chatkit.models import (
    Agent,
    Attachment,
    AttachmentKind,
    Author,
    Contact,
    Conversation,
    IdentityRecord,
    Message,
    MessageKind,
    ReviewNote,
    Team,
    Ticket,
)
from chatkit.models._base import new_id
from chatkit.models.contacts import Identity
from chatkit.models.tickets import TicketNote
from chatkit.stores.base import Insert, Op

from .services import drop_schema, fresh_schema

TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=12,
).filter(str.strip)


@st.composite
def scenarios(draw: st.DrawFn) -> list[list[Op]]:
    """Teams and agents, then one or two conversations that may share them: one commit each."""
    teams = [Team(id=new_id("team"), name=f"team {n}") for n in range(draw(st.integers(0, 2)))]
    team_names = [t.name for t in teams]
    agents = [
        Agent(
            id=new_id("ag"),
            name=draw(TEXT),
            email=draw(st.sampled_from([None, f"a{n}@example.com"])),
            teams=draw(st.lists(st.sampled_from(team_names), unique=True)) if teams else [],
        )
        for n in range(draw(st.integers(0, 3)))
    ]
    agent_ids = [a.id for a in agents]
    shared: list[Op] = [Insert(r) for r in [*teams, *agents]]
    count = draw(st.integers(1, 2))
    return [shared, *(draw(conversations(agent_ids, team_names)) for _ in range(count))]


@st.composite
def conversations(draw: st.DrawFn, agent_ids: list[str], team_names: list[str]) -> list[Op]:
    """The records of one conversation, its contact and what hangs on it, as inserts."""
    maybe_agent = st.sampled_from([None, *agent_ids])
    contact_id = new_id("ct")
    contact = Contact(
        id=contact_id,
        name=draw(st.none() | TEXT),
        identities=[Identity(kind="external", value=f"crm:{contact_id}")],
        attributes=draw(st.dictionaries(st.sampled_from(["plan", "tier"]), TEXT, max_size=2)),
    )
    conversation_id = new_id("conv")
    messages = []
    for seq in range(1, draw(st.integers(0, 5)) + 1):
        agent_id = draw(maybe_agent)
        kind = MessageKind.NOTE if agent_id and draw(st.booleans()) else MessageKind.TEXT
        author = Author.agent(agent_id) if agent_id else Author.customer(contact.id)
        messages.append(
            Message(
                id=new_id("msg"),
                conversation_id=conversation_id,
                seq=seq,
                kind=kind,
                author=author,
                text=draw(TEXT),
            )
        )
    attachments = [
        Attachment(
            id=new_id("att"),
            conversation_id=conversation_id,
            message_id=draw(st.sampled_from([None, *(m.id for m in messages)])),
            uploaded_by=Author.customer(contact.id),
            blob_key=new_id("blob"),
            name=draw(TEXT),
            mime_type="image/png",
            kind=AttachmentKind.IMAGE,
            size=draw(st.integers(0, 10**6)),
            sha256="0" * 64,
            width=draw(st.none() | st.integers(1, 4000)),
        )
        for _ in range(draw(st.integers(0, 2)))
    ]
    conversation = Conversation(
        id=conversation_id,
        contact_id=contact.id,
        assignee_id=draw(maybe_agent),
        team=draw(st.sampled_from([None, *team_names])),
        tags=sorted(draw(st.lists(TEXT, max_size=2, unique=True))),
        last_seq=len(messages),
    )
    tickets = [
        Ticket(
            id=new_id("tk"),
            subject=draw(TEXT),
            conversation_id=conversation_id,
            contact_id=contact.id,
            owner_id=draw(maybe_agent),
            team=draw(st.sampled_from([None, *team_names])),
            notes=[
                TicketNote(author_id=draw(maybe_agent), text=draw(TEXT))
                for _ in range(draw(st.integers(0, 2)))
            ],
        )
        for _ in range(draw(st.integers(0, 2)))
    ]
    reviews = [
        ReviewNote(
            id=new_id("rev"),
            conversation_id=conversation_id,
            reviewer_id=draw(st.sampled_from(agent_ids or ["ag_someone"])),
            text=draw(TEXT),
        )
        for _ in range(draw(st.integers(0, 2)))
    ]
    identities = [IdentityRecord(id=i.key, contact_id=contact.id) for i in contact.identities]
    records = [contact, *identities, conversation, *messages]
    records += [*attachments, *tickets]
    return [Insert(r) for r in [*records, *reviews]]


@contextmanager
def _fresh(store_url: str, tmp_path: Path, n: int) -> Iterator[str]:
    """A new empty store of the same kind as ``store_url`` for each example."""
    if store_url.startswith("memory"):
        yield "memory://"
    elif store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / f'example-{n}.db'}"
    else:
        server = store_url.split("?", 1)[0]
        schema = fresh_schema()
        try:
            yield f"{server}?schema={schema}&pool_max=2"
        finally:
            drop_schema(server, schema)


async def _export(kit: AsyncChatKit) -> str:
    buffer = io.StringIO()
    await kit.exports.write_jsonl(buffer)
    return buffer.getvalue()


def _lines(text: str) -> list[str]:
    """Lines split at ``\\n`` only (U+0085 or U+2028 in a text: ``splitlines`` splits there)."""
    return sorted(line for line in text.split("\n") if line)


async def _round_trip(source_ops: list[list[Op]], url: str) -> None:
    async with AsyncChatKit("memory://") as source:
        for ops in source_ops:
            await source.store.commit(ops)
        exported = await _export(source)
    lines = _lines(exported)
    assert len(lines) == len(source_ops) - 1  # one per conversation
    async with AsyncChatKit(url) as target:
        assert await target.exports.read_jsonl(io.StringIO(exported)) == len(lines)
        assert _lines(await _export(target)) == lines
        events = (await target.events.list(limit=100)).items
        assert [e.type for e in events] == ["conversation.imported"] * len(lines)
        assert await target.exports.read_jsonl(io.StringIO(exported)) == 0
        edited: dict[str, Any] | None = next(
            (json.loads(line) for line in lines if json.loads(line)["messages"]), None
        )
        if edited is not None:
            edited["messages"][-1]["text"] += " (edited)"
            with pytest.raises(ConflictError):
                await target.exports.read_jsonl(io.StringIO(json.dumps(edited) + "\n"))
        assert _lines(await _export(target)) == lines
        assert len((await target.events.list(limit=100)).items) == len(lines)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=scenarios())
def test_export_import_round_trip(
    store_url: str, tmp_path: Path, data: list[list[Op]], counter: list[int]
) -> None:
    counter[0] += 1
    with _fresh(store_url, tmp_path, counter[0]) as url:
        asyncio.run(_round_trip(data, url))


@pytest.fixture
def counter() -> list[int]:
    return [0]
