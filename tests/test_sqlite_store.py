"""SQLite specifics: URLs, pragmas, migrations, files shared by processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from chatkit import AsyncChatKit, Author, ConfigurationError, SchemaVersionError, StoreError
from chatkit.models import Agent, AgentStatus, Contact
from chatkit.models.agents import routing_list
from chatkit.stores.sqlite import SQLiteStore
from chatkit.stores.sqlite_schema import MIGRATIONS, SCHEMA_VERSION

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///support.db", "support.db"),
        ("sqlite:///data/support.db", "data/support.db"),
        ("sqlite:////var/lib/app/support.db", "/var/lib/app/support.db"),
    ],
)
def test_url_maps_to_path(url: str, path: str) -> None:
    assert SQLiteStore.from_url(url).path == Path(path)


def test_url_options() -> None:
    store = SQLiteStore.from_url("sqlite:///x.db?synchronous=full&busy_timeout=2.5")
    assert store.synchronous == "FULL"
    assert store.busy_timeout == 2.5


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://host/x.db",
        "sqlite:///",
        "sqlite:///:memory:",
        "sqlite:///x.db?journal=off",
        "sqlite:///x.db?synchronous=off",
        "sqlite:///x.db?busy_timeout=soon",
    ],
)
def test_bad_urls_raise_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        SQLiteStore.from_url(url)


async def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    kit = AsyncChatKit(f"sqlite:///{tmp_path}/nowhere/support.db")
    with pytest.raises(StoreError, match="does not exist"):
        await kit.open()


async def test_file_uses_wal_foreign_keys_and_current_schema(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    async with AsyncChatKit(f"sqlite:///{db}") as kit:
        await kit.contacts.create(name="Ada")
        raw = sqlite3.connect(db)
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        raw.close()
        store = kit.store
        assert isinstance(store, SQLiteStore)
        assert await store.schema_version() == SCHEMA_VERSION


async def test_older_file_is_upgraded_in_place(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    raw = sqlite3.connect(db, isolation_level=None)
    for statement in MIGRATIONS[0]:
        raw.execute(statement)
    raw.execute("PRAGMA user_version=1")
    contact = Contact(id="ct_legacy", name="Written by schema 1")
    raw.execute(
        "INSERT INTO contacts (id, version, merged_into, data) VALUES (?, 1, NULL, ?)",
        (contact.id, contact.model_dump_json()),
    )
    raw.close()

    async with AsyncChatKit(f"sqlite:///{db}") as kit:
        assert (await kit.contacts.get("ct_legacy")).name == "Written by schema 1"
        # Schema 2 added consumer cursors: they work on the upgraded file.
        await kit.events.set_position("crm", 0)
        assert await kit.events.position("crm") == 0
        conv = await kit.conversations.create(contact_id="ct_legacy")
        await kit.messages.send(conv.id, "hello", author=Author.customer("ct_legacy"))
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()


async def test_upgrading_to_listings_lists_the_agents_already_stored(tmp_path: Path) -> None:
    db = tmp_path / "v8.db"
    raw = sqlite3.connect(db, isolation_level=None)
    for statements in MIGRATIONS[:8]:
        for statement in statements:
            raw.execute(statement)
    raw.execute("PRAGMA user_version=8")
    ready = Agent(id="agt_ready", name="Ready", teams=["sales"], status=AgentStatus.AVAILABLE)
    away = Agent(id="agt_away", name="Away", teams=["sales"], status=AgentStatus.AWAY)
    for agent in (ready, away):
        raw.execute(
            "INSERT INTO agents (id, version, email, status, data) VALUES (?, 1, NULL, ?, ?)",
            (agent.id, agent.status.value, agent.model_dump_json()),
        )
    raw.close()
    store = SQLiteStore.from_url(f"sqlite:///{db}")
    await store.open()
    try:
        listed = await store.find_listed(Agent, routing_list("load", "sales"))
        assert [a.id for a in listed] == ["agt_ready"]
        assert await store.schema_version() == SCHEMA_VERSION
    finally:
        await store.close()


async def test_newer_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    raw = sqlite3.connect(db)
    raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(SchemaVersionError) as caught:
        await AsyncChatKit(f"sqlite:///{db}").open()
    assert caught.value.found == SCHEMA_VERSION + 1
    assert caught.value.supported == SCHEMA_VERSION


async def test_reads_and_writes_after_close_fail_clearly(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "c.db")
    await store.open()
    await store.close()
    with pytest.raises(StoreError, match="not open"):
        await store.get(Contact, "ct_x")


def _send_from_process(db: str, conversation_id: str, contact_id: str, worker: int) -> None:
    import asyncio

    async def run() -> None:
        async with AsyncChatKit(f"sqlite:///{db}") as kit:
            for n in range(25):
                await kit.messages.send(
                    conversation_id,
                    f"w{worker}-{n}",
                    author=Author.customer(contact_id),
                    idempotency_key=f"w{worker}-{n}",
                )

    asyncio.run(run())


async def test_processes_sharing_a_file_keep_one_gapless_history(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    async with AsyncChatKit(f"sqlite:///{db}") as kit:
        ada = await kit.contacts.create(name="Ada")
        conv = await kit.conversations.create(contact_id=ada.id)
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_send_from_process, args=(str(db), conv.id, ada.id, w)) for w in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    async with AsyncChatKit(f"sqlite:///{db}") as kit:
        page = await kit.messages.list(conv.id, limit=100)
        assert [m.seq for m in page.items] == list(range(1, 76))
        assert sorted(m.text for m in page.items) == sorted(
            f"w{w}-{n}" for w in range(3) for n in range(25)
        )
        created = [
            e for e in (await kit.events.list(limit=1000)).items if e.type == "message.created"
        ]
        assert len(created) == 75


async def test_commit_waits_for_a_lock_held_elsewhere_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    import anyio

    db = tmp_path / "locked.db"
    async with AsyncChatKit(f"sqlite:///{db}") as kit:
        ada = await kit.contacts.create(name="Ada")
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await anyio.sleep(0.01)

        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker)
            with anyio.fail_after(10):
                send = tg.start_soon
                done = anyio.Event()

                async def write() -> None:
                    await kit.contacts.update(ada.id, name="Ada L.")
                    done.set()

                send(write)
                await anyio.sleep(0.3)
                assert not done.is_set()  # still waiting for the lock...
                assert ticks >= 10  # ...while the event loop keeps running
                other.execute("COMMIT")
                await done.wait()
            tg.cancel_scope.cancel()
        other.close()
        assert (await kit.contacts.get(ada.id)).name == "Ada L."


async def test_upgrading_a_version_9_file_adds_canned_replies(tmp_path: Path) -> None:
    from chatkit.errors import DuplicateKeyError
    from chatkit.models import CannedReply
    from chatkit.stores.base import Insert

    db = tmp_path / "v9.db"
    raw = sqlite3.connect(db, isolation_level=None)
    for statements in MIGRATIONS[:9]:
        for statement in statements:
            raw.execute(statement)
    raw.execute("PRAGMA user_version=9")
    contact = Contact(id="ct_v9", name="Written by schema 9")
    raw.execute(
        "INSERT INTO contacts (id, version, merged_into, data) VALUES (?, 1, NULL, ?)",
        (contact.id, contact.model_dump_json()),
    )
    raw.close()
    store = SQLiteStore.from_url(f"sqlite:///{db}")
    await store.open()
    try:
        assert await store.schema_version() == SCHEMA_VERSION
        assert await store.get(Contact, "ct_v9") == contact
        reply = CannedReply(id="canned_1", shortcut="/hi", title="Hi", body="Hi!", language="en")
        await store.commit([Insert(reply)])
        assert await store.find(CannedReply, {"base_language": "en"}) == [reply]
        twin = reply.model_copy(update={"id": "canned_2"})
        with pytest.raises(DuplicateKeyError) as caught:
            await store.commit([Insert(twin)])
        assert caught.value.columns == ("shortcut", "language")
    finally:
        await store.close()
