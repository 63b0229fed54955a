"""The write transaction of the SQLite store, and the writer thread's pieces.

`Request` is one commit (or one unit of work run inside the write
transaction); `write_batch` applies a group of them in one transaction, each
inside its own savepoint, and `apply` writes one commit's operations and
events. `translate` and `fail` say what a failed write means (`ConflictError`,
`DuplicateKeyError`, `StoreError`); `resolve` and `hand_back` give each caller
its outcome on its own event loop. `checkpoint` and `scrub` are the WAL
checkpoints the writer thread runs (see `SQLiteStore.scrub`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ChatKitError, ConflictError, DuplicateKeyError, StoreError
from ..events import Event
from ..models._base import utcnow
from ._sql import Dialect, listing_rows, record_values
from .base import Delete, DeleteEvents, Insert, Op, SetCursor, Update, column_value

__all__ = [
    "CHECKPOINT_EVERY",
    "MAX_GROUP",
    "SQL",
    "Request",
    "Scrub",
    "apply",
    "checkpoint",
    "fail",
    "hand_back",
    "resolve",
    "scrub",
    "translate",
    "write_batch",
]

log = logging.getLogger("chatkit.stores.sqlite")
MAX_GROUP = 256
CHECKPOINT_EVERY = 200
"""Inline commit groups between two PASSIVE checkpoints on the writer thread."""
UNIQUE_FAILED = re.compile(r"UNIQUE constraint failed: (.+)")
SQL = Dialect("?", nulls_last_clause=False)
"""The SQL the SQLite store writes and reads with (``?`` parameters)."""


@dataclass
class Scrub:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


@dataclass
class Request:
    """One commit, or one ``work`` function run inside the write transaction."""

    ops: Sequence[Op]
    events: Sequence[Event]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    work: Callable[[sqlite3.Connection], Any] | None = None
    outcome: Any = field(default=None)


def resolve(requests: list[Request]) -> None:
    for request in requests:
        if request.future.done():  # the caller was cancelled; the outcome stands
            continue
        if isinstance(request.outcome, BaseException):
            request.future.set_exception(request.outcome)
        else:
            request.future.set_result(request.outcome)


def scrub(conn: sqlite3.Connection, request: Scrub) -> None:
    outcome: BaseException | None = None
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            outcome = StoreError("WAL checkpoint was blocked by another connection; retry")
    except sqlite3.Error as exc:
        outcome = StoreError(f"WAL checkpoint failed: {exc}")

    def finish() -> None:
        if request.future.done():
            return
        if outcome is None:
            request.future.set_result(None)
        else:
            request.future.set_exception(outcome)

    request.loop.call_soon_threadsafe(finish)


def checkpoint(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.Error as exc:  # pragma: no cover - retried on the next round
        log.warning("WAL checkpoint failed: %s", exc)


def fail(batch: list[Request], exc: sqlite3.Error) -> None:
    failure = StoreError(f"SQLite commit failed: {exc}")
    failure.__cause__ = exc
    for request in batch:
        request.outcome = failure


def hand_back(batch: list[Request]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[Request]] = {}
    for request in batch:
        by_loop.setdefault(request.loop, []).append(request)
    for loop, requests in by_loop.items():
        try:
            loop.call_soon_threadsafe(resolve, requests)
        except RuntimeError:  # that loop was closed while it waited
            log.warning("dropping commit results for a closed event loop")


def write_batch(conn: sqlite3.Connection, batch: list[Request]) -> None:
    """Apply ``batch`` inside the transaction the caller began, and end it."""
    alone = len(batch) == 1
    try:
        for request in batch:
            if not alone:
                conn.execute("SAVEPOINT request")
            try:
                if request.work is not None:
                    request.outcome = request.work(conn)
                else:
                    request.outcome = apply(conn, request.ops, request.events)
            except Exception as exc:
                conn.execute("ROLLBACK" if alone else "ROLLBACK TO request")
                request.outcome = translate(exc)
            if not alone:
                conn.execute("RELEASE request")
        if conn.in_transaction:
            conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        fail(batch, exc)


def translate(exc: BaseException) -> BaseException:
    if isinstance(exc, sqlite3.IntegrityError):
        match = UNIQUE_FAILED.search(str(exc))
        if match:
            cols = tuple(c.strip().split(".", 1)[1] for c in match.group(1).split(","))
            table = match.group(1).split(".", 1)[0]
            if cols == ("id",):
                return ConflictError(f"a {table} row with that id already exists")
            return DuplicateKeyError(table=table, columns=cols)
    if isinstance(exc, ChatKitError):
        return exc
    error = StoreError(f"SQLite write failed: {exc}")
    error.__cause__ = exc
    return error


def apply(conn: sqlite3.Connection, ops: Sequence[Op], events: Sequence[Event]) -> list[int]:
    for op in ops:
        if isinstance(op, (Insert, Update)):
            record = op.record
            values = record_values(record)
            if isinstance(op, Insert):
                conn.execute(SQL.insert(type(record)), [record.id, *values])
            else:
                cur = conn.execute(
                    SQL.update(type(record)), [*values, record.id, record.version - 1]
                )
                if cur.rowcount != 1:
                    raise ConflictError(
                        f"{record.id} was changed by someone else", resource_id=record.id
                    )
            if record.listed:
                if isinstance(op, Update):
                    conn.execute(SQL.unlist(), (record.table, record.id))
                conn.executemany(SQL.list_entry(), listing_rows(record))
        elif isinstance(op, Delete):
            conn.execute(f"DELETE FROM {op.kind.table} WHERE id = ?", (op.id,))
            if op.kind.listed:
                conn.execute(SQL.unlist(), (op.kind.table, op.id))
        elif isinstance(op, DeleteEvents):
            conn.execute("DELETE FROM events WHERE conversation_id = ?", (op.conversation_id,))
        elif isinstance(op, SetCursor):
            conn.execute(
                "INSERT INTO consumer_cursors (name, position, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
                "updated_at = excluded.updated_at",
                (op.consumer, op.position, column_value(utcnow())),
            )
    positions = []
    for event in events:
        cur = conn.execute(
            "INSERT INTO events (id, type, conversation_id, data) VALUES (?, ?, ?, ?)",
            (event.id, event.type, event.conversation_id, event.model_dump_json()),
        )
        assert cur.lastrowid is not None
        positions.append(cur.lastrowid)
    return positions
