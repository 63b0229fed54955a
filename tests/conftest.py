"""Shared fixtures: a kit on each built-in store, in a fresh SQLite file per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatkit import AsyncChatKit, ChatKitSettings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["memory", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store of each built-in kind."""
    if request.param == "memory":
        return "memory://"
    return f"sqlite:///{tmp_path / 'support.db'}"


@pytest.fixture
async def kit(store_url: str) -> AsyncIterator[AsyncChatKit]:
    """An open async kit on an empty store (run once per built-in store)."""
    async with AsyncChatKit(store_url, settings=ChatKitSettings(event_poll_interval=0.05)) as k:
        yield k
