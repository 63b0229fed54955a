"""The write transaction of the PostgreSQL store, and what a failed one means.

`write` sends one transaction's statements in one pipeline (updates first,
in a global row order, so that writers never deadlock; then inserts, deletes
and the outbox events), then checks that every update found the version it
expected. `Pending` and `outcome` are the pieces of group commit (see
`PostgresStore.commit`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors

from ..errors import ConflictError, DuplicateKeyError, StoreError
from ..events import Event
from ..models._base import Record, utcnow
from ._sql import Dialect, listing_rows, record_values
from .base import Delete, DeleteEvents, Insert, Op, SetCursor, Update, column_value

__all__ = [
    "MAX_GROUP",
    "Pending",
    "check_versions",
    "lock_order",
    "outcome",
    "unique_error",
    "write",
    "write_error",
]

T = TypeVar("T")
SQL = Dialect("%s", nulls_last_clause=True)
MAX_GROUP = 128
"""Most commits written together in one transaction."""

# Appends a transaction's events: takes the next positions from the one-row
# counter (the row lock serialises appending transactions, so positions
# follow commit order) and numbers the events consecutively in their order.
_APPEND = """
WITH seq AS (
    UPDATE outbox_sequence SET last_position = last_position + %s RETURNING last_position)
INSERT INTO events (position, id, type, conversation_id, data)
SELECT seq.last_position - %s + v.k, v.id, v.type, v.conversation_id, v.data
FROM seq, unnest(%b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[])
    AS v(k, id, type, conversation_id, data)
RETURNING position"""


@dataclass
class Pending:
    """One caller's commit waiting for the next group transaction."""

    ops: Sequence[Op]
    events: Sequence[Event]
    future: asyncio.Future[list[int]]


async def outcome(work: Awaitable[T]) -> T | BaseException:
    """The result of ``work``, or the exception it raised."""
    try:
        return await work
    except Exception as exc:
        return exc


async def write(
    conn: psycopg.AsyncConnection[Any], ops: Sequence[Op], events: Sequence[Event]
) -> list[int]:
    """One transaction's statements, sent in one pipeline; then the version checks.

    Raises `ConflictError` (so the transaction rolls back) when an
    `Update` found another version.
    """
    updates: list[tuple[psycopg.AsyncCursor[Any], Record]] = []
    failure: psycopg.Error | None = None
    appended: psycopg.AsyncCursor[Any] | None = None
    async with conn.pipeline() as pipeline:
        try:
            await _apply(conn, lock_order(ops), updates)
            appended = await _append(conn, events) if events else None
            await pipeline.sync()
        except psycopg.Error as exc:
            failure = exc
            # Collect the results of the statements queued after the
            # failing one (all "aborted") before leaving the pipeline:
            # otherwise leaving it raises again and psycopg logs
            # "error ignored terminating ... pipeline aborted" for a
            # failure that is expected and handled (conflicts, retries).
            with contextlib.suppress(psycopg.Error):
                await pipeline.sync()
    if failure is not None:
        # A stale Update is the cause when it ran before the failing
        # statement (e.g. the duplicate seq of a message built on it).
        check_versions(updates, failed=True, cause=failure)
        raise failure
    check_versions(updates)
    if appended is None:
        return []
    # Positions are consecutive and given in event order (see _APPEND).
    return sorted(int(row[0]) for row in await appended.fetchall())


async def _apply(
    conn: psycopg.AsyncConnection[Any],
    ops: Sequence[Op],
    updates: list[tuple[psycopg.AsyncCursor[Any], Record]],
) -> None:
    """Send ``ops``; each Update's cursor goes into ``updates`` as it is sent.

    Filling the caller's list (rather than returning one) keeps the
    Updates already sent visible when a later statement fails.
    """
    for op in ops:
        if isinstance(op, (Insert, Update)):
            record = op.record
            values = record_values(record)
            if isinstance(op, Insert):
                await conn.execute(SQL.insert(type(record)), [record.id, *values])
            else:
                cur = await conn.execute(
                    SQL.update(type(record)), [*values, record.id, record.version - 1]
                )
                updates.append((cur, record))
            if record.listed:
                if isinstance(op, Update):
                    await conn.execute(SQL.unlist(), (record.table, record.id))
                for row in listing_rows(record):
                    await conn.execute(SQL.list_entry(), row)
        elif isinstance(op, Delete):
            await conn.execute(f"DELETE FROM {op.kind.table} WHERE id = %s", (op.id,))
            if op.kind.listed:
                await conn.execute(SQL.unlist(), (op.kind.table, op.id))
        elif isinstance(op, DeleteEvents):
            await conn.execute(
                "DELETE FROM events WHERE conversation_id = %s", (op.conversation_id,)
            )
        elif isinstance(op, SetCursor):
            await conn.execute(
                "INSERT INTO consumer_cursors (name, position, updated_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
                "updated_at = excluded.updated_at",
                (op.consumer, op.position, column_value(utcnow())),
            )


async def _append(
    conn: psycopg.AsyncConnection[Any], events: Sequence[Event]
) -> psycopg.AsyncCursor[Any]:
    return await conn.execute(
        _APPEND,
        (
            len(events),
            len(events),
            list(range(1, len(events) + 1)),
            [e.id for e in events],
            [e.type for e in events],
            [e.conversation_id for e in events],
            [e.model_dump_json() for e in events],
        ),
    )


def unique_error(exc: pg_errors.UniqueViolation) -> ConflictError:
    """The error for a broken unique key: `DuplicateKeyError` names its table and columns."""
    name = exc.diag.constraint_name or ""
    table = exc.diag.table_name or "?"
    if name.startswith("uq__"):
        _, table, *columns = name.split("__")
        return DuplicateKeyError(table=table, columns=tuple(columns))
    return ConflictError(f"a {table} row with that id already exists")


def write_error(exc: psycopg.Error) -> StoreError | ConflictError:
    """What a failed write transaction means to the caller.

    A deadlock or serialization failure rolled the transaction back: like a
    version conflict, the caller may read again and retry. Anything else is
    a `StoreError`.
    """
    if isinstance(exc, (pg_errors.TransactionRollback, pg_errors.DeadlockDetected)):
        return ConflictError(f"PostgreSQL rolled the transaction back: {exc}")
    return StoreError(f"PostgreSQL write failed: {exc}")


def lock_order(ops: Sequence[Op]) -> list[Op]:
    """The ops of a transaction in an order that cannot deadlock with another's.

    Every Update first, sorted by table and id, so that any two transactions
    lock the rows they both update in the same order and one simply waits for
    the other; then the rest as given. Foreign keys are checked at commit
    (schema version 6), so an update may refer to a row inserted after it.
    """
    updates = sorted(
        (op for op in ops if isinstance(op, Update)),
        key=lambda op: (op.record.table, op.record.id),
    )
    return [*updates, *(op for op in ops if not isinstance(op, Update))]


def check_versions(
    updates: Sequence[tuple[psycopg.AsyncCursor[Any], Record]],
    *,
    failed: bool = False,
    cause: BaseException | None = None,
) -> None:
    """Raise `ConflictError` for the first `Update` that matched no row.

    After a failed pipeline, statements after the failure have no result
    (``rowcount`` -1) and are not counted.
    """
    for cur, record in updates:
        if cur.rowcount == 0 or (not failed and cur.rowcount != 1):
            raise ConflictError(
                f"{record.id} was changed by someone else", resource_id=record.id
            ) from cause
