"""The PostgreSQL store: the public contract suite, URLs, errors, schema versions."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatkit import AsyncChatKit, Author, SchemaVersionError, StoreError
from chatkit.stores import Store, open_store
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
        async with AsyncChatKit(f"{pg_url}?schema={schema}&pool_min=2&pool_max=2") as kit:
            first = await kit.messages.receive(channel="web", sender="v1", text="before")
            with psycopg.connect(pg_url, autocommit=True) as admin:
                killed = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = '' AND pid <> pg_backend_pid() "
                    "AND datname = current_database() AND backend_type = 'client backend' "
                    "AND query NOT ILIKE '%pg_stat_activity%'"
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
