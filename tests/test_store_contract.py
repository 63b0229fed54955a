"""The built-in stores against the public store contract suite."""

from __future__ import annotations

from pathlib import Path

from chatkit.stores import MemoryStore, Store
from chatkit.stores.sqlite import SQLiteStore
from chatkit.testing import StoreContract


class TestMemoryStore(StoreContract):
    def make_store(self, location: Path) -> Store:
        return MemoryStore()


class TestSQLiteStore(StoreContract):
    persistent = True

    def make_store(self, location: Path) -> Store:
        return SQLiteStore(location / "contract.db")
