"""Where attachment bytes live: a small contract for blob stores.

A blob store keeps opaque byte streams under keys that chatkit chooses
(never user-supplied names). Writes stream in chunks, so a large video never
sits in memory whole, and the store reports the size and SHA-256 it saw.
`LocalBlobStore` (a directory) is the default; implement `BlobStore` for
S3-like services.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass

__all__ = ["BlobInfo", "BlobStore", "check_key"]

_KEY = re.compile(r"^[a-z0-9][a-z0-9_\-/]{0,199}$")


def check_key(key: str) -> str:
    """Validate a blob key: lower-case letters, digits, ``_``, ``-`` and ``/``; no ``..``.

    Raises:
        ValueError: The key is not of that form.
    """
    if not _KEY.match(key) or "//" in key or key.endswith("/"):
        raise ValueError(f"invalid blob key {key!r}")
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
    """Abstract blob store. Keys come from chatkit and pass `check_key`."""

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
            FileNotFoundError: No blob has this key (raised on first iteration).
        """

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Delete a blob and, where the medium allows, its bytes. No error when absent."""

    @abstractmethod
    async def exists(self, key: str) -> bool:
        """Whether a complete blob has this key."""
