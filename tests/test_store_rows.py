"""Stored rows are read back without their after-validators (chatkit.stores._rows):
the records built are the same, field for field and type for type, as full
validation builds, for every kind of record, on every store."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from chatkit import AsyncChatKit, Author, ChatKitSettings
from chatkit.hours import BusinessHours
from chatkit.models import Message
from chatkit.models._base import Record
from chatkit.sla import SLAPolicy
from chatkit.stores._rows import FrozenDict, FrozenList, load_record, load_records

pytestmark = pytest.mark.anyio


def _kinds() -> list[type[Record]]:
    found: list[type[Record]] = []
    pending: list[type[Record]] = [Record]
    while pending:
        kind = pending.pop()
        pending += kind.__subclasses__()
        if "table" in kind.__dict__ and kind not in found:
            found.append(kind)
    return found


def _plain(kind: type) -> type:
    """The type a read-only container of a cached record stands for."""
    return {FrozenList: list, FrozenDict: dict}.get(kind, kind)


def _same(a: Any, b: Any) -> None:
    """Equal, with values of the same types all the way down (tz-info types included).

    The read-only lists and dicts of cached records count as lists and dicts.
    """
    assert _plain(type(a)) is _plain(type(b)), (a, b)
    if isinstance(a, BaseModel):
        assert a == b
        assert a.__pydantic_fields_set__ == b.__pydantic_fields_set__
        for name in type(a).model_fields:
            _same(getattr(a, name), getattr(b, name))
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, (list, tuple, frozenset, set)):
        assert len(a) == len(b)
        for x, y in zip(sorted(a, key=repr), sorted(b, key=repr), strict=True):
            _same(x, y)
    else:
        assert a == b
        if hasattr(a, "tzinfo"):
            assert type(a.tzinfo) is type(b.tzinfo)
            assert repr(a) == repr(b)


async def _fill(kit: AsyncChatKit) -> None:
    hours = BusinessHours.weekly(
        "Europe/Istanbul",
        {"mon-fri": ["09:00-12:00", "13:00-18:00"]},
        holidays=[date(2030, 1, 1)],
        exceptions={"2030-01-02": "10:00-12:00"},
    )
    await kit.teams.create(
        "Billing", hours=hours, categories=["Orders & billing", "orders & billing"]
    )
    agent = await kit.agents.create(
        name="Ayşe",
        email=" Ayse@Example.COM ",
        skills=["refunds", " refunds"],
        teams=["Billing"],
        time_zone="Europe/Istanbul",
        shift=hours,
        max_concurrent_chats=3,
    )
    inbound = await kit.messages.receive(
        channel="sms", sender="+15550100000", text="My order 245-12784 is late 😠", name="Ömer"
    )
    conversation_id = inbound.conversation.id
    await kit.conversations.assign(conversation_id, agent.id)
    await kit.messages.send(
        conversation_id, "On it", author=Author.agent(agent.id), metadata={"k": [1, 2.5, None, "é"]}
    )
    await kit.messages.note(conversation_id, "private", agent_id=agent.id)
    await kit.attachments.upload(
        conversation_id, b"GIF89a" + bytes(64), name="../shot.gif", author=Author.agent(agent.id)
    )
    await kit.conversations.add_tags(conversation_id, "late", "vip")
    ticket = await kit.tickets.create(
        subject="Refund",
        conversation_id=conversation_id,
        owner_id=agent.id,
        note="check",
        priority="urgent",
        team="Billing",
    )
    await kit.tickets.add_note(ticket.id, "called the carrier", author_id=agent.id)
    await kit.reviews.add_note(conversation_id, agent.id, "good tone")
    await kit.kb.create("Where is my order?", "Tracking…", tags=["orders"], published=True)
    await kit.canned.create("/late", "Late order", "Sorry for the wait", language="en")


async def test_every_kind_reads_back_as_full_validation_would(store_url: str) -> None:
    settings = ChatKitSettings(
        sla_policies=[SLAPolicy(name="urgent", first_response=timedelta(hours=1))]
    )
    async with AsyncChatKit(store_url, settings=settings) as kit:
        await _fill(kit)
        covered = 0
        for kind in _kinds():
            try:
                records = await kit.store.find(kind)
            except Exception:  # a kind of a plugin whose table this store does not have
                continue
            if not records:
                continue
            covered += 1
            stored = [(r.model_dump_json(),) for r in records]
            full = TypeAdapter(list[kind]).validate_json(  # type: ignore[valid-type]
                "[" + ",".join(row[0] for row in stored) + "]"
            )
            for mine, theirs in zip(records, full, strict=True):
                _same(mine, theirs)
                _same(load_record(kind, mine.model_dump_json()), theirs)
                got = await kit.store.get(kind, mine.id)
                assert got is not None
                _same(got, theirs)
            _same(load_records(kind, stored), full)
        assert covered >= 11, covered


def test_a_row_that_does_not_fit_its_kind_still_fails() -> None:
    with pytest.raises(ValidationError):
        load_record(Message, '{"id": "msg_1", "seq": "x"}')
    with pytest.raises(ValidationError):
        load_records(Message, [('{"id": "msg_1"}',)])
