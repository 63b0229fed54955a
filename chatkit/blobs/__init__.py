"""Blob stores for attachment bytes."""

from __future__ import annotations

from .base import BlobInfo, BlobStore, check_key
from .local import LocalBlobStore
from .memory import MemoryBlobStore

__all__ = ["BlobInfo", "BlobStore", "LocalBlobStore", "MemoryBlobStore", "check_key"]
