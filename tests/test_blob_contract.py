"""The built-in blob stores against the public blob store contract suite."""

from __future__ import annotations

from pathlib import Path

from chatkit.blobs import BlobStore, LocalBlobStore, MemoryBlobStore, open_blob_store
from chatkit.testing import BlobStoreContract


class TestLocalBlobStore(BlobStoreContract):
    def make_blob_store(self, location: Path) -> BlobStore:
        return LocalBlobStore(location / "blobs")


class TestLocalBlobStoreFromURL(BlobStoreContract):
    large = 2 << 20

    def make_blob_store(self, location: Path) -> BlobStore:
        store = open_blob_store(f"file://{location}/by-url")
        assert isinstance(store, LocalBlobStore)
        assert store.root == location / "by-url"
        return store


class TestMemoryBlobStore(BlobStoreContract):
    max_memory = None

    def make_blob_store(self, location: Path) -> BlobStore:
        return MemoryBlobStore()
