"""The public contract suite for `chatkit.blobs.BlobStore` implementations.

`LocalBlobStore`, `MemoryBlobStore` and `chatkit.blobs.s3.S3BlobStore` pass it
unchanged, and so must a blob store of your own:

```python
from chatkit.testing import BlobStoreContract
from mypackage import MyBlobStore


class TestMyBlobStore(BlobStoreContract):
    signs_urls = True            # signed_url returns URLs that download the bytes
    boundary = 5 * 1024 * 1024   # sizes around this are tried (e.g. the part size)

    def make_blob_store(self, location):
        # ``location`` is a fresh temporary directory (a pathlib.Path) per test.
        return MyBlobStore(root=location)
```

Requires pytest and anyio's pytest plugin (installed with anyio); tests of
signed URLs download them with httpx.
"""

from __future__ import annotations

import gc
import hashlib
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ..blobs import BlobInfo, BlobStore
from ..errors import BlobNotFoundError, InvalidBlobKeyError

__all__ = ["BlobStoreContract"]

UNSAFE_KEYS = ("../etc/passwd", "a/../b", "/abs", "Upper", "", "a//b", "a/", "a b", "a\x00b")
"""Keys every store refuses with `InvalidBlobKeyError` (paths, traversal, odd characters)."""


def pattern(size: int, seed: int = 0) -> bytes:
    """``size`` bytes that differ from one position (and seed) to the next."""
    block = hashlib.sha256(f"{seed}".encode()).digest() * 2048  # 64 KiB
    whole, rest = divmod(size, len(block))
    return block * whole + block[:rest]


class _Source:
    """Yields ``size`` bytes in chunks of ``chunk`` made on demand; counts what was taken."""

    def __init__(self, size: int, chunk: int = 65_536, *, fail_after: int | None = None) -> None:
        self.size, self.chunk, self.fail_after = size, chunk, fail_after
        self.digest = hashlib.sha256()
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        block = pattern(self.chunk, seed=7)
        while self.sent < self.size:
            if self.fail_after is not None and self.sent >= self.fail_after:
                raise ConnectionResetError("the client went away")
            piece = block[: min(self.chunk, self.size - self.sent)]
            self.sent += len(piece)
            self.digest.update(piece)
            yield piece


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _read(store: BlobStore, key: str, chunk_size: int = 1 << 16) -> bytes:
    return b"".join([chunk async for chunk in store.open(key, chunk_size=chunk_size)])


class BlobStoreContract:
    """Base class of a blob store's contract tests. Subclass it and define `make_blob_store`.

    Attributes:
        signs_urls: ``True`` when `BlobStore.signed_url` returns URLs (they
            are then downloaded and checked); ``False`` when it returns ``None``.
        boundary: A size the store treats specially (a part size, a buffer):
            blobs of one byte less, exactly and one byte more are tried.
        large: Size of the blob the streaming and memory tests write.
        max_memory: Most bytes the store may hold in memory while writing and
            reading the ``large`` blob (traced with `tracemalloc`); ``None``
            for a store that keeps blobs in memory.
        many: How many blobs `delete_many` deletes in one call.
    """

    signs_urls = False
    boundary = 1 << 16
    large = 8 << 20
    max_memory: int | None = 4 << 20
    many = 30
    pytestmark = pytest.mark.anyio

    def make_blob_store(self, location: Path) -> BlobStore:
        """Return a new, empty blob store keeping its data under ``location``."""
        raise NotImplementedError

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture
    async def blobs(self, tmp_path: Path) -> AsyncIterator[BlobStore]:
        store = self.make_blob_store(tmp_path)
        try:
            yield store
        finally:
            await store.close()

    async def test_put_then_open_returns_the_bytes(self, blobs: BlobStore) -> None:
        info = await blobs.put("att/ab/one", _chunks(b"hello ", b"", b"world"))
        assert info == BlobInfo(
            key="att/ab/one", size=11, sha256=hashlib.sha256(b"hello world").hexdigest()
        )
        assert await blobs.exists("att/ab/one")
        assert await _read(blobs, "att/ab/one") == b"hello world"

    async def test_an_empty_blob_is_a_blob(self, blobs: BlobStore) -> None:
        info = await blobs.put("empty", _chunks())
        assert (info.size, info.sha256) == (0, hashlib.sha256(b"").hexdigest())
        assert await blobs.exists("empty")
        assert await _read(blobs, "empty") == b""

    async def test_sizes_around_the_boundary_keep_size_and_checksum(self, blobs: BlobStore) -> None:
        for n, size in enumerate((1, self.boundary - 1, self.boundary, self.boundary + 1)):
            data = pattern(size, seed=n)
            key = f"sizes/{size}"
            info = await blobs.put(key, _chunks(data[:1], data[1:]))
            assert info.size == size
            assert info.sha256 == hashlib.sha256(data).hexdigest()
            assert await _read(blobs, key) == data

    async def test_large_blobs_stream_both_ways(self, blobs: BlobStore) -> None:
        source = _Source(self.large, chunk=100_003)
        info = await blobs.put("large/one", source.__aiter__())
        assert info.size == self.large == source.sent
        assert info.sha256 == source.digest.hexdigest()
        digest, size, chunks = hashlib.sha256(), 0, 0
        async for chunk in blobs.open("large/one", chunk_size=50_000):
            assert 0 < len(chunk) <= 50_000
            digest.update(chunk)
            size, chunks = size + len(chunk), chunks + 1
        assert size == self.large
        assert digest.hexdigest() == info.sha256
        assert chunks >= self.large // 50_000

    async def test_memory_stays_bounded_while_streaming(self, blobs: BlobStore) -> None:
        if self.max_memory is None:
            pytest.skip("this store keeps blobs in memory by design")
        await blobs.exists("warm/up")  # connections and clients made outside the trace
        gc.collect()
        tracemalloc.start()
        try:
            await blobs.put("memory/one", _Source(self.large).__aiter__())
            async for _ in blobs.open("memory/one"):
                pass
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < self.max_memory, f"{peak} bytes held for a {self.large}-byte blob"

    async def test_a_missing_key_is_a_typed_error(self, blobs: BlobStore) -> None:
        assert not await blobs.exists("no/such")
        with pytest.raises(BlobNotFoundError) as caught:
            await _read(blobs, "no/such")
        assert isinstance(caught.value, FileNotFoundError)
        assert caught.value.key == "no/such"

    async def test_delete_is_idempotent(self, blobs: BlobStore) -> None:
        await blobs.put("gone/soon", _chunks(b"secret"))
        await blobs.delete("gone/soon")
        await blobs.delete("gone/soon")
        await blobs.delete("never/there")
        assert not await blobs.exists("gone/soon")
        with pytest.raises(BlobNotFoundError):
            await _read(blobs, "gone/soon")

    async def test_delete_many_deletes_every_key_and_skips_absent_ones(
        self, blobs: BlobStore
    ) -> None:
        keys = [f"many/{i:05d}" for i in range(self.many)]
        for key in keys:
            await blobs.put(key, _chunks(key.encode()))
        await blobs.put("many/kept", _chunks(b"kept"))
        await blobs.delete_many([*keys, "many/absent"])
        await blobs.delete_many([])
        for key in (keys[0], keys[len(keys) // 2], keys[-1]):
            assert not await blobs.exists(key)
        assert await _read(blobs, "many/kept") == b"kept"

    async def test_unsafe_keys_are_refused_and_nothing_is_written(self, blobs: BlobStore) -> None:
        for key in UNSAFE_KEYS:
            source = _Source(10)
            with pytest.raises(InvalidBlobKeyError):
                await blobs.put(key, source.__aiter__())
            with pytest.raises(InvalidBlobKeyError):
                await _read(blobs, key)
            with pytest.raises(InvalidBlobKeyError):
                await blobs.exists(key)
            with pytest.raises(InvalidBlobKeyError):
                await blobs.delete(key)
            with pytest.raises(InvalidBlobKeyError):
                await blobs.signed_url(key, name="x.txt", mime_type="text/plain")
        await blobs.put("safe/one", _chunks(b"1"))
        with pytest.raises(InvalidBlobKeyError):
            await blobs.delete_many(["../x", "safe/one"])
        assert await blobs.exists("safe/one")  # checked before anything was deleted

    async def test_a_failed_write_leaves_nothing(self, blobs: BlobStore) -> None:
        source = _Source(self.boundary * 2 + 10, fail_after=self.boundary + 1)
        with pytest.raises(ConnectionResetError):
            await blobs.put("broken/one", source.__aiter__())
        assert source.sent > self.boundary
        assert not await blobs.exists("broken/one")
        with pytest.raises(BlobNotFoundError):
            await _read(blobs, "broken/one")

    async def test_checksums_are_of_the_bytes_written(self, blobs: BlobStore) -> None:
        first = await blobs.put("sum/a", _chunks(b"abc"))
        second = await blobs.put("sum/b", _chunks(b"a", b"b", b"d"))
        assert first.sha256 == hashlib.sha256(b"abc").hexdigest()
        assert second.sha256 == hashlib.sha256(b"abd").hexdigest()
        assert hashlib.sha256(await _read(blobs, "sum/a")).hexdigest() == first.sha256

    async def test_signed_urls(self, blobs: BlobStore) -> None:
        data = pattern(3000, seed=3)
        await blobs.put("signed/one", _chunks(data))
        url = await blobs.signed_url(
            "signed/one", name="r\u00e9sum\u00e9 2024.pdf", mime_type="application/pdf"
        )
        if not self.signs_urls:
            assert url is None
            return
        assert url is not None
        async with httpx.AsyncClient() as client:
            response = await client.get(url)
            assert response.status_code == 200, response.text
            assert response.content == data
            assert response.headers["content-type"] == "application/pdf"
            disposition = response.headers["content-disposition"]
            assert disposition.startswith("attachment;")
            assert "filename*=UTF-8''r%C3%A9sum%C3%A9%202024.pdf" in disposition
            short = await blobs.signed_url(
                "signed/one", name="a.pdf", mime_type="application/pdf", expires_in=1
            )
            assert short is not None
            assert short != url
