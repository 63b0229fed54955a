"""Opening the SQLite store: its connections and the schema upgrade on open.

- `connect` opens one connection with the store's settings (``synchronous``,
  foreign keys, ``secure_delete``); a file that cannot be opened fails with
  one `StoreError`.
- `migrate` switches the file to WAL and upgrades its schema in place to the
  version this chatkit writes (`chatkit.stores.sqlite_schema`), refusing a
  newer one with `SchemaVersionError`; `fill_listings` writes the list
  entries of records stored before the ``listings`` table existed.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from ..errors import SchemaVersionError, StoreError
from ._sql import listed_kinds, listing_rows, parse_rows
from .sqlite_schema import LISTINGS_VERSION, MIGRATIONS, SCHEMA_VERSION
from .sqlite_writes import SQL

__all__ = ["connect", "fill_listings", "migrate"]

log = logging.getLogger("chatkit.stores.sqlite")


def connect(path: Path, synchronous: str, busy_timeout: float) -> sqlite3.Connection:
    """A connection to the database file at ``path``, with the store's settings."""
    try:
        conn = sqlite3.connect(
            path,
            timeout=busy_timeout,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=256,
        )
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        # Deleted and overwritten content is zeroed, so a purge leaves no text behind.
        conn.execute("PRAGMA secure_delete=ON")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open SQLite database {str(path)!r}: {exc}") from exc
    return conn


def migrate(
    conn: sqlite3.Connection, path: Path, target: int = SCHEMA_VERSION
) -> sqlite3.Connection:
    """Upgrade the file open on ``conn`` to schema ``target`` and return ``conn``."""
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found > SCHEMA_VERSION:
            conn.execute("ROLLBACK")
            conn.close()
            raise SchemaVersionError(found=found, supported=SCHEMA_VERSION)
        for version in range(found + 1, target + 1):
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            if version == LISTINGS_VERSION:
                fill_listings(conn)
            log.info("upgraded %s to schema version %d", path, version)
        if target > found:
            conn.execute(f"PRAGMA user_version={target}")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"cannot prepare SQLite database {str(path)!r}: {exc}") from exc
    return conn


def fill_listings(conn: sqlite3.Connection) -> None:
    """Write the list entries of records stored before the ``listings`` table existed."""
    for kind in listed_kinds():
        rows = conn.execute(f"SELECT data FROM {kind.table}").fetchall()
        for record in parse_rows(kind, rows):
            conn.executemany(SQL.list_entry(), listing_rows(record))
