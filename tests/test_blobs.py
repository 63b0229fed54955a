"""The local blob store: streaming, integrity, atomic visibility, shredding."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatkit.blobs import LocalBlobStore, check_key

pytestmark = pytest.mark.anyio


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_put_streams_and_reports_size_and_checksum(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    info = await store.put("ab/cd", _chunks(b"hello ", b"world"))
    assert info.size == 11
    assert info.sha256 == hashlib.sha256(b"hello world").hexdigest()
    assert await store.exists("ab/cd")
    assert b"".join([c async for c in store.open("ab/cd", chunk_size=4)]) == b"hello world"


async def test_failed_upload_leaves_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)

    async def broken() -> AsyncIterator[bytes]:
        yield b"partial"
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        await store.put("k1", broken())
    assert not await store.exists("k1")
    assert not any(tmp_path.glob("*"))  # noqa: ASYNC240 - a test inspecting its own tmp dir


async def test_delete_overwrites_then_removes(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    await store.put("secret", _chunks(b"top secret bytes"))
    await store.delete("secret")
    await store.delete("secret")
    assert not await store.exists("secret")
    with pytest.raises(FileNotFoundError):
        [c async for c in store.open("secret")]


@pytest.mark.parametrize("key", ["../x", "a/../b", "/abs", "A", "", "a//b", "a/", "a b"])
def test_keys_cannot_escape_or_surprise(key: str) -> None:
    with pytest.raises(ValueError, match="invalid blob key"):
        check_key(key)
