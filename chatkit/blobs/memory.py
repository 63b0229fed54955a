"""Blob store in process memory, for tests and ``memory://`` kits."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Self

from ..errors import BlobNotFoundError, ConfigurationError
from .base import BlobInfo, BlobStore, check_key

__all__ = ["MemoryBlobStore"]


class MemoryBlobStore(BlobStore):
    """Keeps blobs in a dictionary; gone with the process."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return f"MemoryBlobStore({len(self._blobs)} blobs)"

    @classmethod
    def from_url(cls, url: str) -> Self:
        """``memory://``: a new, empty store.

        Raises:
            ConfigurationError: Any other URL.
        """
        if url.rstrip("/").lower() != "memory:":
            raise ConfigurationError(f"an in-memory blob store's URL is memory://, not {url!r}")
        return cls()

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> BlobInfo:
        check_key(key)
        parts = [chunk async for chunk in chunks]
        data = b"".join(parts)
        self._blobs[key] = data
        return BlobInfo(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest())

    async def open(self, key: str, *, chunk_size: int = 1 << 16) -> AsyncIterator[bytes]:
        data = self._blobs.get(check_key(key))
        if data is None:
            raise BlobNotFoundError(key)
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    async def delete(self, key: str) -> None:
        self._blobs.pop(check_key(key), None)

    async def exists(self, key: str) -> bool:
        return check_key(key) in self._blobs
