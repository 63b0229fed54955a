"""Shared fixtures: a kit on each store — memory, a fresh SQLite file, and a
fresh PostgreSQL schema (skipped without a server, see tests/services.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from chatkit import AsyncChatKit, ChatKitSettings

from .services import drop_schema, fresh_schema, postgres_or_skip


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _work_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test in its own directory, so default paths (chatkit.db,
    ./chatkit-blobs) never land in the checkout."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty store of each kind."""
    if request.param == "memory":
        yield "memory://"
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'support.db'}"
    else:
        server = postgres_or_skip()
        schema = fresh_schema()
        try:
            yield f"{server}?schema={schema}&pool_max=4"
        finally:
            drop_schema(server, schema)


@pytest.fixture
async def kit(store_url: str, tmp_path: Path) -> AsyncIterator[AsyncChatKit]:
    """An open async kit on an empty store (run once per store kind)."""
    settings = ChatKitSettings(event_poll_interval=0.05)
    blobs = None
    if store_url.startswith("postgresql"):
        from chatkit.blobs import LocalBlobStore

        blobs = LocalBlobStore(tmp_path / "blobs")
    async with AsyncChatKit(store_url, settings=settings, blobs=blobs) as k:
        yield k
