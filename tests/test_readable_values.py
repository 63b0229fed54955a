"""Every JSON value that goes in can be read back, and one unreadable outbox row
is skipped (and reported) instead of blocking the events after it."""

from __future__ import annotations

import itertools
import logging
import math
import sqlite3
from urllib.parse import parse_qs, urlsplit

import pytest

from chatkit import AsyncChatKit, Author, InvalidInputError, MessageTooLargeError
from chatkit.events import ContactUpdated, Event, unreadable_events
from chatkit.models import JSON_MAX_DEPTH, JSON_MAX_INT, JSON_MIN_INT

from .services import POSTGRES_URL

pytestmark = pytest.mark.anyio


def _nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = [value]
    return value


HOSTILE = [
    10**5000,
    JSON_MAX_INT + 1,
    JSON_MIN_INT - 1,
    math.inf,
    -math.inf,
    math.nan,
    {"inner": [1, {"x": 10**30}]},
    _nested(JSON_MAX_DEPTH),  # the attributes object itself is level 1
    _nested(100_000),  # a depth bomb: refused with a short message, no RecursionError
    "x" * (64 * 1024 + 1),
    ["y" * 1000] * 70,
]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
async def test_contact_attribute_that_cannot_be_read_back_is_refused(
    kit: AsyncChatKit, value: object
) -> None:
    contact = await kit.contacts.create(name="Ana", attributes={"plan": "pro"})
    before = await kit.events.list(limit=1000)
    with pytest.raises(InvalidInputError) as err:
        await kit.contacts.update(contact.id, attributes={"k": value})
    assert len(str(err.value)) < 300
    again = await kit.contacts.get(contact.id)
    assert again == contact
    assert (await kit.events.list(limit=1000)).items == before.items
    with pytest.raises(InvalidInputError):
        await kit.contacts.create(name="Bo", attributes={"k": value})


async def test_the_exact_repro_is_refused_and_the_customer_carries_on(kit: AsyncChatKit) -> None:
    contact = await kit.contacts.create(name="Ana")
    with pytest.raises(InvalidInputError):
        await kit.contacts.update(contact.id, attributes={"k": 10**5000})
    conversation = await kit.conversations.create(contact_id=contact.id)
    with pytest.raises(InvalidInputError):
        await kit.messages.send(
            conversation.id, "hi", author=Author.customer(contact.id), metadata={"k": 10**5000}
        )
    sent = await kit.messages.send(
        conversation.id, "hello", author=Author.customer(contact.id), metadata={"k": JSON_MAX_INT}
    )
    assert (await kit.contacts.get(contact.id)).attributes == {}
    page = await kit.events.list(limit=1000)
    assert [e.type for e in page.items][-1] == "message.created"
    assert sent.metadata == {"k": JSON_MAX_INT}


async def test_values_at_the_limits_go_in_and_come_back(kit: AsyncChatKit) -> None:
    attributes = {
        "big": JSON_MAX_INT,
        "small": JSON_MIN_INT,
        "float": 1.5e308,
        "deep": _nested(JSON_MAX_DEPTH - 2),
        "text": "é" * 20_000,
    }
    contact = await kit.contacts.create(name="Ana", attributes=attributes)
    assert (await kit.contacts.get(contact.id)).attributes == attributes
    updated = [e for e in (await kit.events.list(limit=1000)).items if e.contact_id == contact.id]
    assert updated
    assert updated[0].type == "contact.created"


def _corrupt(kit: AsyncChatKit, store_url: str, position: int, data: str) -> None:
    """Overwrite the outbox row at ``position`` behind chatkit's back."""
    if store_url.startswith("memory"):
        events = kit.store._events  # type: ignore[attr-defined]
        index = next(i for i, e in enumerate(events) if e[0] == position)
        events[index] = (position, events[index][1], data)
    elif store_url.startswith("sqlite"):
        with sqlite3.connect(urlsplit(store_url).path) as conn:
            conn.execute("UPDATE events SET data = ? WHERE position = ?", (data, position))
    else:
        import psycopg

        schema = parse_qs(urlsplit(store_url).query)["schema"][0]
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(
                f'UPDATE "{schema}".events SET data = %s WHERE position = %s', (data, position)
            )


_RUNS = itertools.count(1)

UNREADABLE = [
    "NUMBER",  # the real event, with a number no JSON reader gives back
    "{not json",
    '{"type": "no.such.event"}',
]


@pytest.mark.parametrize("data", UNREADABLE, ids=["number", "syntax", "type"])
async def test_an_unreadable_event_is_skipped_and_reported(
    kit: AsyncChatKit, store_url: str, data: str, caplog: pytest.LogCaptureFixture
) -> None:
    contacts = [await kit.contacts.create(name=f"c{i}") for i in range(3)]
    events = (await kit.events.list(limit=1000)).items
    assert len(events) == 3
    poisoned = events[1].position
    assert poisoned is not None
    if data == "NUMBER":
        data = events[1].model_dump_json().replace('"attributes":{}', '"attributes":{"k":1e999999}')
        assert "1e999999" in data
    # Unique per run: each unreadable row is reported once per process.
    _corrupt(kit, store_url, poisoned, data.replace("{", "{" + " " * next(_RUNS), 1))
    wanted = [events[0].id, events[2].id]

    with caplog.at_level(logging.WARNING, logger="chatkit.events"):
        page = await kit.events.list(limit=1000)
        assert [e.id for e in page.items] == wanted
        # Paging still reaches the end: a page of one is filled past the bad row.
        first = await kit.events.list(after=events[0].position or 0, limit=1)
        assert [e.id for e in first.items] == [events[2].id]

        seen: list[Event] = []
        async with kit.events.subscribe(after=0) as stream:
            async for event in stream:
                seen.append(event)
                if len(seen) == 2:
                    break
        assert [e.id for e in seen] == wanted

        handled: list[Event] = []

        async def handler(batch: list[Event]) -> None:
            handled.extend(batch)

        dispatcher = kit.events.dispatcher("audit", handler, batch_size=2)
        await dispatcher.drain()
        assert [e.id for e in handled] == wanted
        status = await kit.events.dispatch_status("audit")
        assert status.done_upto == events[2].position
        assert status.in_flight == 0

    assert any(u.position == poisoned for u in unreadable_events())
    reports = [r for r in caplog.records if f"position {poisoned}" in r.getMessage()]
    assert reports
    assert all(len(r.getMessage()) < 500 for r in reports)
    # Later events are still delivered.
    await kit.contacts.update(contacts[0].id, name="later")
    tail = (await kit.events.list(after=poisoned, limit=10)).items
    assert [type(e) for e in tail][-1] is ContactUpdated


async def test_a_ticket_note_longer_than_a_message_is_refused(kit: AsyncChatKit) -> None:
    contact = await kit.contacts.create(name="Ana")
    limit = kit.settings.max_message_length
    with pytest.raises(MessageTooLargeError):
        await kit.tickets.create(subject="s", contact_id=contact.id, note="n" * (limit + 1))
    ticket = await kit.tickets.create(subject="s", contact_id=contact.id, note="n" * limit)
    with pytest.raises(MessageTooLargeError):
        await kit.tickets.add_note(ticket.id, "n" * (limit + 1))
    assert await kit.tickets.get(ticket.id) == ticket
