"""Blob store in a local directory (the default)."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Self

import anyio
import anyio.to_thread

from ..errors import BlobNotFoundError, ConfigurationError
from .base import BlobInfo, BlobStore, check_key

__all__ = ["LocalBlobStore"]


class LocalBlobStore(BlobStore):
    """Keeps each blob as a file under ``root``, named by its key.

    Files are written to a temporary name in the same directory and renamed
    into place when complete, so a reader never sees half a blob. Deleting
    overwrites the file with zeros before unlinking it.

    Args:
        root: The directory (created on first write).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    @classmethod
    def from_url(cls, url: str) -> Self:
        """``file:///var/lib/chatkit/blobs`` (absolute) or ``file://blobs`` (relative).

        Raises:
            ConfigurationError: Not a ``file://`` URL, or no path.
        """
        scheme, sep, path = url.partition("://")
        if scheme.lower() != "file" or not sep or not path or "?" in path:
            raise ConfigurationError(
                f"a local blob store URL looks like file:///var/lib/chatkit/blobs, not {url!r}"
            )
        return cls(path)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> BlobInfo:
        path = self._path(key)
        await anyio.to_thread.run_sync(lambda: path.parent.mkdir(parents=True, exist_ok=True))
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
        digest = hashlib.sha256()
        size = 0
        try:
            async with await anyio.open_file(partial, "xb") as out:
                async for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    await out.write(chunk)
            await anyio.to_thread.run_sync(os.replace, partial, path)
        except BaseException:
            await anyio.to_thread.run_sync(lambda: partial.unlink(missing_ok=True))
            raise
        return BlobInfo(key=key, size=size, sha256=digest.hexdigest())

    async def open(self, key: str, *, chunk_size: int = 1 << 16) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            source = await anyio.open_file(path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFoundError(key) from None
        async with source:
            while chunk := await source.read(chunk_size):
                yield chunk

    async def delete(self, key: str) -> None:
        path = self._path(key)

        def shred() -> None:
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                return
            with path.open("r+b") as handle:
                remaining = size
                zeros = bytes(1 << 16)
                while remaining > 0:
                    step = min(remaining, len(zeros))
                    handle.write(zeros[:step])
                    remaining -= step
                handle.flush()
                os.fsync(handle.fileno())
            path.unlink(missing_ok=True)

        await anyio.to_thread.run_sync(shred)

    async def exists(self, key: str) -> bool:
        path = self._path(key)
        return await anyio.to_thread.run_sync(path.is_file)
