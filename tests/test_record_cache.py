"""The SQLite store's cache of decoded records (chatkit.stores._rows.RecordCache):
records read through it equal those read without it, a changed row is read
back changed, the bound holds, threads can share it, and shared records
cannot be changed in place."""

from __future__ import annotations

import copy
import json
import pickle
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from chatkit import AsyncChatKit, Author
from chatkit.errors import ConfigurationError
from chatkit.models import Contact, Message
from chatkit.stores._rows import FrozenDict, FrozenList, RecordCache, load_records
from chatkit.stores.base import Update
from chatkit.stores.sqlite import SQLiteStore

from .test_store_rows import _fill, _kinds, _same

pytestmark = pytest.mark.anyio


def _read_only_throughout(value: Any) -> None:
    """No plain (changeable) list or dict anywhere in ``value``."""
    assert type(value) not in (list, dict, set), value
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _read_only_throughout(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            _read_only_throughout(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _read_only_throughout(item)


def _message(n: int, conversation: str = "conv_1") -> str:
    return Message(
        id=f"msg_{n}",
        conversation_id=conversation,
        seq=n,
        author=Author.customer("ct_1"),
        text=f"message {n}",
        metadata={"order": {"id": n, "lines": [1, 2]}},
    ).model_dump_json()


async def test_records_through_the_cache_equal_records_without_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'support.db'}"
    async with AsyncChatKit(url) as kit:
        await _fill(kit)
        store = kit.store
        assert isinstance(store, SQLiteStore)
        plain = SQLiteStore(store.path, record_cache=0)
        await plain.open()
        try:
            covered = 0
            for kind in _kinds():
                try:
                    uncached = await plain.find(kind, limit=1000)
                except Exception:  # a plugin kind whose table this file lacks
                    continue
                if not uncached:
                    continue
                covered += 1
                first = await store.find(kind, limit=1000)
                hits = store.records.hits
                again = await store.find(kind, limit=1000)
                assert store.records.hits == hits + len(again)
                for a, b, c in zip(first, again, uncached, strict=True):
                    assert a is b  # the second read came from the cache
                    _read_only_throughout(a)
                    _same(a, c)
                    _same(await store.get(kind, c.id), c)
            assert covered >= 11, covered
            assert len(plain.records) == 0
            assert plain.records.hits == 0
        finally:
            await plain.close()


async def test_a_changed_row_is_read_back_changed(tmp_path: Path) -> None:
    async with AsyncChatKit(f"sqlite:///{tmp_path / 'support.db'}") as kit:
        contact = await kit.contacts.create(name="Ada")
        conversation = await kit.conversations.create(contact_id=contact.id)
        sent = await kit.messages.send(conversation.id, "first", author=Author.customer(contact.id))
        page = await kit.messages.list(conversation.id)
        assert [m.text for m in page.items] == ["first"]
        assert await kit.messages.get(sent.id) is page.items[0]  # cached
        edited = sent.model_copy(update={"text": "edited", "version": sent.version + 1})
        await kit.store.commit([Update(edited)])
        page = await kit.messages.list(conversation.id)
        assert [m.text for m in page.items] == ["edited"]
        assert (await kit.messages.get(sent.id)).text == "edited"
        renamed = await kit.contacts.get(contact.id)
        await kit.store.commit(
            [Update(renamed.model_copy(update={"name": "Grace", "version": renamed.version + 1}))]
        )
        assert (await kit.store.get(Contact, contact.id)).name == "Grace"  # type: ignore[union-attr]


async def test_unbounded_scans_bypass_the_cache(tmp_path: Path) -> None:
    async with AsyncChatKit(f"sqlite:///{tmp_path / 'support.db'}") as kit:
        contact = await kit.contacts.create(name="Ada")
        conversation = await kit.conversations.create(contact_id=contact.id)
        for n in range(3):
            await kit.messages.send(conversation.id, f"m{n}", author=Author.customer(contact.id))
        store = kit.store
        assert isinstance(store, SQLiteStore)
        store.records.clear()
        scanned = await store.find(Message)
        assert len(scanned) == 3
        assert len(store.records) == 0
        assert store.records.misses == 0
        paged = await store.find(Message, limit=10)
        assert len(store.records) == 3
        assert paged == scanned


def test_the_bound_holds_and_the_least_recently_used_go_first() -> None:
    cache = RecordCache(3)
    texts = [_message(n) for n in range(1, 6)]
    cache.load(Message, texts[:3])
    cache.load(Message, [texts[0]])  # msg_1 is now the most recently used
    cache.load(Message, texts[3:5])  # evicts msg_2 and msg_3
    assert len(cache) == 3
    hits = cache.hits
    got = cache.load(Message, [texts[0], texts[3], texts[4]])
    assert cache.hits == hits + 3
    assert [m.id for m in got] == ["msg_1", "msg_4", "msg_5"]
    misses = cache.misses
    cache.load(Message, [texts[1]])
    assert cache.misses == misses + 1
    assert len(cache) == 3
    cache.clear()
    assert len(cache) == 0


def test_misses_are_decoded_in_order_among_hits() -> None:
    cache = RecordCache(100)
    texts = [_message(n) for n in range(1, 11)]
    cache.load(Message, texts[::2])
    got = cache.load(Message, texts)
    assert [m.seq for m in got] == list(range(1, 11))
    assert got == load_records(Message, [(t,) for t in texts])


def test_an_off_cache_keeps_nothing() -> None:
    cache = RecordCache(0)
    rows = [(_message(1),)]
    assert load_records(Message, rows, cache) == load_records(Message, rows)
    assert len(cache) == 0


def test_shared_records_cannot_be_changed_in_place() -> None:
    cache = RecordCache(10)
    text = _message(1)
    record = cache.load(Message, [text])[0]
    assert isinstance(record.metadata, FrozenDict)
    assert isinstance(record.metadata["order"]["lines"], FrozenList)
    with pytest.raises(TypeError):
        record.metadata["x"] = 1
    with pytest.raises(TypeError):
        record.metadata["order"]["lines"].append(3)
    with pytest.raises(TypeError):
        record.attachments.append(None)
    again = cache.load(Message, [text])[0]
    assert again is record
    assert again.metadata == {"order": {"id": 1, "lines": [1, 2]}}
    # Copies are ordinary, changeable values; so is a pickled record.
    mine = copy.deepcopy(record)
    assert type(mine.metadata) is dict
    assert type(mine.metadata["order"]["lines"]) is list
    mine.metadata["order"]["lines"].append(3)
    assert record.metadata["order"]["lines"] == [1, 2]
    assert type(pickle.loads(pickle.dumps(record)).metadata) is dict
    assert record.model_dump_json() == Message.model_validate_json(text).model_dump_json()


def test_defaults_of_an_older_stored_shape_are_read_only_too() -> None:
    stored = json.loads(_message(1))
    del stored["metadata"], stored["attachments"]  # as if written before these existed
    record = RecordCache(10).load(Message, [json.dumps(stored)])[0]
    assert record.metadata == {}
    assert record.attachments == []
    _read_only_throughout(record)


def test_threads_share_one_cache() -> None:
    cache = RecordCache(50)
    texts = [_message(n) for n in range(1, 81)]
    failures: list[BaseException] = []

    def reader(offset: int) -> None:
        try:
            for round_ in range(40):
                start = (offset * 7 + round_ * 3) % 60
                page = texts[start : start + 20]
                got = cache.load(Message, page)
                assert [m.seq for m in got] == list(range(start + 1, start + 21))
                assert len(cache) <= 50
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert len(cache) == 50
    assert cache.hits + cache.misses == 8 * 40 * 20


def test_the_size_is_configured_from_the_url(tmp_path: Path) -> None:
    path = tmp_path / "support.db"
    assert SQLiteStore.from_url(f"sqlite:///{path}").records.size == 10_000
    assert SQLiteStore.from_url(f"sqlite:///{path}?record_cache=0").records.size == 0
    assert SQLiteStore(path, record_cache=25).records.size == 25
    for bad in ("-1", "lots", "1.5"):
        with pytest.raises(ConfigurationError, match="record_cache"):
            SQLiteStore.from_url(f"sqlite:///{path}?record_cache={bad}")
    with pytest.raises(ConfigurationError, match="record cache size"):
        SQLiteStore(path, record_cache=-1)
