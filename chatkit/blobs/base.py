"""Where attachment bytes live: a small contract for blob stores.

A blob store keeps opaque byte streams under keys that chatkit chooses
(never user-supplied names). Writes stream in chunks, so a large video never
sits in memory whole, and the store reports the size and SHA-256 it saw.
`LocalBlobStore` (a directory) is the default, `MemoryBlobStore` serves tests
and `chatkit.blobs.s3.S3BlobStore` (extra ``s3``) keeps blobs in an
S3-compatible bucket. A store of your own subclasses `BlobStore` and passes
`chatkit.testing.BlobStoreContract`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Self

from ..errors import ConfigurationError, InvalidBlobKeyError

__all__ = ["BlobInfo", "BlobStore", "check_key"]

_KEY = re.compile(r"^[a-z0-9][a-z0-9_\-/]{0,199}$")


def check_key(key: str) -> str:
    """Validate a blob key: lower-case letters, digits, ``_``, ``-`` and ``/``; no ``..``.

    Raises:
        InvalidBlobKeyError: The key is not of that form (also a `ValueError`).
    """
    if not isinstance(key, str) or not _KEY.match(key) or "//" in key or key.endswith("/"):
        raise InvalidBlobKeyError(key)
    return key


@dataclass(frozen=True)
class BlobInfo:
    """What a blob store saw while writing a blob.

    Attributes:
        key: The blob's key.
        size: Bytes written.
        sha256: Hex SHA-256 of the bytes.
    """

    key: str
    size: int
    sha256: str


class BlobStore(ABC):
    """Abstract blob store. Keys come from chatkit and pass `check_key`.

    Four methods are required (`put`, `open`, `delete`, `exists`); the
    others have defaults a store may improve on: `delete_many` (one call for
    many keys), `signed_url` (a short-lived URL the browser downloads from,
    so the web app need not stream the bytes itself), `close` and `from_url`.
    """

    @abstractmethod
    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> BlobInfo:
        """Write the chunks under ``key`` (replacing nothing: the key is new).

        The blob becomes visible only once complete; if the iterator raises,
        nothing is left behind and the exception propagates.
        """

    @abstractmethod
    def open(self, key: str, *, chunk_size: int = 1 << 16) -> AsyncIterator[bytes]:
        """Stream a blob's bytes.

        Raises:
            BlobNotFoundError: No blob has this key (raised on first
                iteration; also a `FileNotFoundError`).
            InvalidBlobKeyError: The key is not safe.
        """

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Delete a blob and, where the medium allows, its bytes. No error when absent."""

    async def delete_many(self, keys: Iterable[str]) -> None:
        """Delete many blobs; absent ones are no error. By default one `delete` each.

        Raises:
            InvalidBlobKeyError: A key is not safe (checked before anything is deleted).
        """
        checked = [check_key(key) for key in keys]
        for key in checked:
            await self.delete(key)

    async def signed_url(
        self, key: str, *, name: str, mime_type: str, expires_in: float | None = None
    ) -> str | None:
        """A short-lived URL that downloads the blob directly, or ``None`` when this store has none.

        The web app redirects downloads to it instead of streaming the bytes
        itself. The URL makes the response carry ``mime_type`` and a
        ``Content-Disposition: attachment`` with ``name``.

        Args:
            key: The blob's key.
            name: The file name the download is saved under.
            mime_type: The ``Content-Type`` of the download.
            expires_in: Seconds the URL stays valid (the store's default when ``None``).
        """
        check_key(key)
        return None

    async def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release connections. The store opens them again when used after this."""

    @classmethod
    def from_url(cls, url: str) -> Self:
        """Build the store a URL names (see `chatkit.blobs.open_blob_store`).

        Raises:
            ConfigurationError: This store is not made from a URL, or the URL is bad.
        """
        raise ConfigurationError(f"{cls.__name__} cannot be made from a URL")

    @abstractmethod
    async def exists(self, key: str) -> bool:
        """Whether a complete blob has this key."""
