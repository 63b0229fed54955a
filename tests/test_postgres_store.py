"""The PostgreSQL store: the public contract suite, URLs, errors, schema versions."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatkit import (
    AsyncChatKit,
    Author,
    ConfigurationError,
    ConflictError,
    Contact,
    SchemaVersionError,
    StoreError,
)
from chatkit.events import ContactCreated
from chatkit.models._base import new_id
from chatkit.stores import Store, open_store
from chatkit.stores.base import Insert, Update
from chatkit.testing import StoreContract

from .services import driver_or_skip, drop_schema, fresh_schema, postgres_or_skip

driver_or_skip()
import psycopg  # noqa: E402

from chatkit.stores.postgres import PostgresStore, mask_url  # noqa: E402


@pytest.fixture(scope="module")
def pg_url() -> str:
    return postgres_or_skip()


class TestPostgresStore(StoreContract):
    persistent = True

    @pytest.fixture(autouse=True)
    def _server(self, pg_url: str) -> Iterator[None]:
        self.url = pg_url
        self.schemas: set[str] = set()
        yield
        for schema in self.schemas:
            drop_schema(pg_url, schema)

    def make_store(self, location: Path) -> Store:
        digest = hashlib.sha256(str(location).encode()).hexdigest()[:12]
        schema = f"chatkit_contract_{digest}"
        self.schemas.add(schema)
        return PostgresStore.from_url(f"{self.url}?schema={schema}&pool_max=4")


def test_url_options_are_taken_out_and_the_rest_kept() -> None:
    store = PostgresStore.from_url(
        "postgresql://app:s3cret@db:5432/support?schema=chat&pool_max=20&sslmode=require"
    )
    assert (store.schema, store.pool_max) == ("chat", 20)
    assert "sslmode=require" in store.conninfo
    assert "schema=" not in store.conninfo
    assert "s3cret" not in repr(store)


def test_password_is_masked() -> None:
    assert mask_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert mask_url("postgresql://u@h/db") == "postgresql://u@h/db"


@pytest.mark.anyio
async def test_unreachable_server_is_a_clear_error_with_the_password_masked() -> None:
    store = open_store("postgresql://app:hunter2@127.0.0.1:1/db?connect_timeout=1")
    with pytest.raises(StoreError) as caught:
        await store.open()
    assert "127.0.0.1:1" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert "***" in str(caught.value)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


def _run_script(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


_OPEN_STORE = """
import asyncio, sys, time
from chatkit import StoreError
from chatkit.stores import open_store

async def main() -> None:
    started = time.monotonic()
    try:
        await open_store(sys.argv[1]).open()
    except StoreError as exc:
        print(f"{time.monotonic() - started:.2f}")
        print(exc)

asyncio.run(main())
"""


def test_a_closed_port_fails_at_once_with_one_error_and_nothing_logged() -> None:
    """No pool retries until the timeout, and no psycopg log blocks on stderr."""
    url = f"postgresql://app:hunter2@127.0.0.1:{_closed_port()}/db"
    done = _run_script(_OPEN_STORE, url)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    elapsed, message = done.stdout.splitlines()
    assert float(elapsed) < 3.0  # the default timeout is 5 s, the old behaviour 10 s
    assert message.startswith(f"cannot connect to PostgreSQL at {mask_url(url)}: ")
    assert "refused" in message.lower()
    assert "hunter2" not in message


def test_connect_timeout_comes_from_the_url_and_must_be_positive() -> None:
    assert PostgresStore.from_url("postgresql://u@h/db").connect_timeout == 5.0
    assert PostgresStore.from_url("postgresql://u@h/db?connect_timeout=0.5").connect_timeout == 0.5
    with pytest.raises(ConfigurationError):
        PostgresStore.from_url("postgresql://u@h/db?connect_timeout=0")


@pytest.mark.anyio
async def test_an_unanswering_server_fails_after_connect_timeout() -> None:
    """A server that accepts TCP but never answers: the URL's timeout bounds the wait."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        port = listener.getsockname()[1]
        store = open_store(f"postgresql://app@127.0.0.1:{port}/db?connect_timeout=0.5")
        started = time.monotonic()
        with pytest.raises(StoreError, match="cannot connect to PostgreSQL"):
            await store.open()
        assert time.monotonic() - started < 2.5
    finally:
        listener.close()


_CONCURRENT_SENDS = """
import asyncio, sys
from chatkit import AsyncChatKit, Author

async def main() -> None:
    async with AsyncChatKit(sys.argv[1]) as kit:
        contact = await kit.contacts.create(name="C")
        conversations = [await kit.conversations.create(contact_id=contact.id) for _ in range(3)]

        async def sender(conversation_id: str) -> None:
            author = Author.customer(contact.id)
            for n in range(15):
                await kit.messages.send(conversation_id, f"m{n}", author=author)

        # Four senders per conversation: their commits are grouped, conflict
        # (same message seq) and are retried.
        await asyncio.gather(*(sender(c.id) for c in conversations for _ in range(4)))
        for c in conversations:
            print((await kit.conversations.get(c.id)).last_seq)

asyncio.run(main())
"""


def test_concurrent_sends_print_nothing_on_stderr(pg_url: str) -> None:
    """Conflicting grouped commits are retried quietly: no "pipeline aborted" lines."""
    schema = fresh_schema()
    try:
        done = _run_script(_CONCURRENT_SENDS, f"{pg_url}?schema={schema}&pool_max=4")
    finally:
        drop_schema(pg_url, schema)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["60", "60", "60"]
    assert done.stderr == ""


@pytest.mark.anyio
async def test_kit_on_postgres_end_to_end(pg_url: str) -> None:
    schema = fresh_schema()
    try:
        async with AsyncChatKit(f"{pg_url}?schema={schema}") as kit:
            inbound = await kit.messages.receive(channel="sms", sender="+15550100000", text="hi")
            mia = await kit.agents.create(name="Mia")
            await kit.messages.send(inbound.conversation.id, "hello", author=Author.agent(mia.id))
            page = await kit.messages.list(inbound.conversation.id)
            assert [m.text for m in page.items] == ["hi", "hello"]
            store = kit.store
            assert isinstance(store, PostgresStore)
            assert await store.schema_version() >= 4
    finally:
        drop_schema(pg_url, schema)


@pytest.mark.anyio
async def test_newer_schema_is_refused(pg_url: str) -> None:
    schema = fresh_schema()
    try:
        store = PostgresStore.from_url(f"{pg_url}?schema={schema}")
        await store.open()
        await store.close()
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"UPDATE {schema}.chatkit_schema SET version = 999")
        with pytest.raises(SchemaVersionError):
            await PostgresStore.from_url(f"{pg_url}?schema={schema}").open()
    finally:
        drop_schema(pg_url, schema)


@pytest.mark.anyio
async def test_kit_recovers_when_the_server_drops_its_connections(pg_url: str) -> None:
    schema = fresh_schema()
    try:
        # Only this kit's connections are dropped (other test runs may share the server).
        tag = f"chatkit-drop-{schema}"
        url = f"{pg_url}?schema={schema}&pool_min=2&pool_max=2&application_name={tag}"
        async with AsyncChatKit(url) as kit:
            first = await kit.messages.receive(channel="web", sender="v1", text="before")
            with psycopg.connect(pg_url, autocommit=True) as admin:
                killed = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = %s AND pid <> pg_backend_pid()",
                    (tag,),
                ).fetchone()
            assert killed is not None
            assert killed[0] >= 1
            after = await kit.messages.send(
                first.conversation.id, "after", author=Author.customer(first.contact.id)
            )
            page = await kit.messages.list(first.conversation.id)
            assert [m.text for m in page.items] == ["before", "after"]
            assert after.seq == 2
    finally:
        drop_schema(pg_url, schema)


async def _grouped_store(pg_url: str, schema: str, option: str = "") -> PostgresStore:
    store = PostgresStore.from_url(f"{pg_url}?schema={schema}&pool_max=4{option}")
    await store.open()
    return store


@pytest.mark.anyio
async def test_concurrent_commits_share_transactions_and_keep_their_own_outcomes(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = fresh_schema()
    groups: list[int] = []
    together = PostgresStore._commit_together

    async def counted(self: PostgresStore, group: list[Any]) -> list[list[int]]:
        groups.append(len(group))
        return await together(self, group)

    monkeypatch.setattr(PostgresStore, "_commit_together", counted)
    store = await _grouped_store(pg_url, schema)
    try:
        taken = Contact(id=new_id("ct"))
        await store.commit([Insert(taken)])
        fresh = [Contact(id=new_id("ct"), name=f"c{n}") for n in range(30)]
        jobs = [
            store.commit([Insert(c)], [ContactCreated(contact=c), ContactCreated(contact=c)])
            for c in fresh
        ]
        jobs.insert(15, store.commit([Insert(taken)], [ContactCreated(contact=taken)]))
        results = await asyncio.gather(*jobs, return_exceptions=True)
        assert isinstance(results.pop(15), ConflictError)  # the one bad commit fails alone
        positions = [p for r in results for p in r]  # type: ignore[union-attr]
        assert all(len(r) == 2 for r in results)  # type: ignore[arg-type]
        assert sorted(positions) == list(range(1, 61))
        assert groups, "no commit was grouped"
        assert max(groups) > 1
        events = await store.read_events(0, 100)
        assert [e.position for e in events] == list(range(1, 61))
        for contact, pair in zip(fresh, results, strict=True):
            assert await store.get(Contact, contact.id) == contact
            assert [events[p - 1].contact.id for p in pair] == [contact.id] * 2  # type: ignore[union-attr, index]
    finally:
        await store.close()
        drop_schema(pg_url, schema)


@pytest.mark.anyio
async def test_group_commit_can_be_turned_off(pg_url: str) -> None:
    schema = fresh_schema()
    store = await _grouped_store(pg_url, schema, "&group_commit=0")
    try:
        assert store.group_commit is False
        contacts = [Contact(id=new_id("ct")) for _ in range(5)]
        await asyncio.gather(*(store.commit([Insert(c)]) for c in contacts))
        assert len(await store.find(Contact)) == 5
    finally:
        await store.close()
        drop_schema(pg_url, schema)
    with pytest.raises(ConfigurationError):
        PostgresStore.from_url(f"{pg_url}?group_commit=maybe")


@pytest.mark.anyio
async def test_crossed_writes_from_two_processes_end_as_one_commit_and_one_conflict(
    pg_url: str,
) -> None:
    """Two pools (as two processes would) update the same two rows in opposite
    orders at once: whether PostgreSQL sees a deadlock or a stale version, one
    commit lands and the other gets a ConflictError to retry, never a StoreError."""
    schema = fresh_schema()
    first = await _grouped_store(pg_url, schema)
    second = await _grouped_store(pg_url, schema)
    try:
        for _ in range(10):
            a, b = Contact(id=new_id("ct")), Contact(id=new_id("ct"))
            await first.commit([Insert(a), Insert(b)])
            a2 = a.model_copy(update={"name": "x", "version": 2})
            b2 = b.model_copy(update={"name": "x", "version": 2})
            results = await asyncio.gather(
                first.commit([Update(a2), Update(b2)]),
                second.commit([Update(b2), Update(a2)]),
                return_exceptions=True,
            )
            errors = [r for r in results if isinstance(r, BaseException)]
            assert len(errors) == 1, results
            assert isinstance(errors[0], ConflictError), errors
            assert await first.get(Contact, a.id) == a2
            assert await first.get(Contact, b.id) == b2
    finally:
        await first.close()
        await second.close()
        drop_schema(pg_url, schema)


@pytest.mark.anyio
async def test_foreign_keys_are_checked_at_commit_after_upgrading(pg_url: str) -> None:
    """Schema 6 defers foreign keys (so updates can go first, in row order),
    also on a schema created by an older chatkit."""
    from chatkit.stores.postgres_schema import MIGRATIONS, SCHEMA_VERSION

    schema = fresh_schema()
    try:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
            conn.execute(f"SET search_path = {schema}")
            conn.execute("CREATE TABLE chatkit_schema (version INT NOT NULL)")
            for statements in MIGRATIONS[:5]:
                for statement in statements:
                    conn.execute(statement)
            conn.execute("INSERT INTO chatkit_schema VALUES (5)")
        store = PostgresStore.from_url(f"{pg_url}?schema={schema}")
        await store.open()
        try:
            assert await store.schema_version() == SCHEMA_VERSION
            rows = await store._fetch(
                "SELECT conname, condeferrable, condeferred FROM pg_constraint "
                "WHERE contype = 'f' AND connamespace = current_schema()::regnamespace",
                (),
            )
            assert len(rows) >= 9
            assert all(deferrable and deferred for _, deferrable, deferred in rows), rows
        finally:
            await store.close()
    finally:
        drop_schema(pg_url, schema)


@pytest.mark.anyio
async def test_upgrading_to_listings_lists_the_agents_already_stored(pg_url: str) -> None:
    from chatkit.models import Agent, AgentStatus
    from chatkit.models.agents import routing_list
    from chatkit.stores.postgres_schema import MIGRATIONS

    schema = fresh_schema()
    ready = Agent(id="agt_ready", name="Ready", teams=["sales"], status=AgentStatus.AVAILABLE)
    away = Agent(id="agt_away", name="Away", teams=["sales"], status=AgentStatus.AWAY)
    try:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
            conn.execute(f"SET search_path = {schema}")
            conn.execute("CREATE TABLE chatkit_schema (version INT NOT NULL)")
            for statements in MIGRATIONS[:8]:
                for statement in statements:
                    conn.execute(statement)
            conn.execute("INSERT INTO chatkit_schema VALUES (8)")
            for agent in (ready, away):
                conn.execute(
                    "INSERT INTO agents (id, version, email, status, data) "
                    "VALUES (%s, 1, NULL, %s, %s)",
                    (agent.id, agent.status.value, agent.model_dump_json()),
                )
        store = PostgresStore.from_url(f"{pg_url}?schema={schema}")
        await store.open()
        try:
            listed = await store.find_listed(Agent, routing_list("load", "sales"))
            assert [a.id for a in listed] == ["agt_ready"]
        finally:
            await store.close()
    finally:
        drop_schema(pg_url, schema)


@pytest.mark.anyio
async def test_close_refuses_new_commits_instead_of_waiting_for_busy_senders(
    pg_url: str,
) -> None:
    schema = fresh_schema()
    store = await _grouped_store(pg_url, schema)
    stop = asyncio.Event()

    async def sender() -> int:
        sent = 0
        while not stop.is_set():
            try:
                await store.commit([Insert(Contact(id=new_id("ct")))])
            except StoreError:
                return sent
            sent += 1
        return sent

    try:
        senders = [asyncio.create_task(sender()) for _ in range(4)]
        await asyncio.sleep(0.2)
        await asyncio.wait_for(store.close(), 10)  # does not wait for the senders to stop
        counts = await asyncio.wait_for(asyncio.gather(*senders), 10)
        assert sum(counts) > 0
        await store.open()
        assert len(await store.find(Contact)) == sum(counts)  # every acknowledged commit landed
    finally:
        stop.set()
        await store.close()
        drop_schema(pg_url, schema)


@pytest.mark.anyio
async def test_upgrading_a_version_9_schema_adds_canned_replies(pg_url: str) -> None:
    from chatkit.errors import DuplicateKeyError
    from chatkit.models import CannedReply
    from chatkit.stores.postgres_schema import MIGRATIONS, SCHEMA_VERSION

    schema = fresh_schema()
    try:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
            conn.execute(f"SET search_path = {schema}")
            conn.execute("CREATE TABLE chatkit_schema (version INT NOT NULL)")
            for statements in MIGRATIONS[:9]:
                for statement in statements:
                    conn.execute(statement)
            conn.execute("INSERT INTO chatkit_schema VALUES (9)")
        store = PostgresStore.from_url(f"{pg_url}?schema={schema}")
        await store.open()
        try:
            assert await store.schema_version() == SCHEMA_VERSION
            reply = CannedReply(
                id="canned_1", shortcut="/hi", title="Hi", body="Hi!", language="en"
            )
            await store.commit([Insert(reply)])
            assert await store.find(CannedReply, {"base_language": "en"}) == [reply]
            twin = reply.model_copy(update={"id": "canned_2"})
            with pytest.raises(DuplicateKeyError) as caught:
                await store.commit([Insert(twin)])
            assert (caught.value.table, caught.value.columns) == (
                "canned_replies",
                ("shortcut", "language"),
            )
        finally:
            await store.close()
    finally:
        drop_schema(pg_url, schema)
