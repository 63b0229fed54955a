"""PostgreSQL store: psycopg 3, async, with a connection pool.

``pip install 'chatkit[postgres]'``, then
``AsyncChatKit("postgresql://user:password@host:5432/db")``.

- The same tables and schema versions as the SQLite store, upgraded in place
  under an advisory lock, so several processes may start at once.
- Group commit: commits that callers issue while a transaction is running
  are written together in the next one (one lock round and one WAL flush for
  all of them); a caller still returns only after its own data committed,
  and when one of the group conflicts, each is retried in its own
  transaction so only that one fails. ``?group_commit=0`` turns it off.
- Each transaction is atomic. Outbox positions come from a one-row
  counter updated inside that transaction: writers that append events are
  serialised at that row, positions follow commit order, and a reader never
  skips an event that commits late.
- Optimistic concurrency (record versions) and unique keys are enforced by
  the database, across processes and machines.
- A pooled connection the server dropped (restart, failover, idle kill) is
  discarded when first used and the work runs again on another, which is
  safe because nothing of it was committed; the pool reconnects with backoff.
  A commit that fails raises `StoreError` and is never reported as done.

URL options (query string, removed before connecting): ``schema`` (default
``public``), ``pool_min`` (1), ``pool_max`` (10), ``connect_timeout`` (5
seconds: an unreachable server fails after at most that long, with one
`StoreError` and nothing logged), ``group_commit`` (1). Other query
parameters (``sslmode``...) go to libpq unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ..errors import (
    ConfigurationError,
    ConflictError,
    DuplicateKeyError,
    SchemaVersionError,
    StoreError,
)
from ..events import Event, parse_event
from ..models._base import Record, utcnow
from ._rows import load_record
from ._sql import (
    Dialect,
    NoMatch,
    listed_kinds,
    listing_rows,
    parse_rows,
    record_values,
    tsquery,
)
from .base import (
    Condition,
    Delete,
    DeleteEvents,
    DispatchStatus,
    Insert,
    Lease,
    Op,
    SetCursor,
    Store,
    Update,
    column_value,
    text_index_of,
    text_terms,
)
from .postgres_schema import LISTINGS_VERSION, MIGRATIONS, SCHEMA_VERSION

__all__ = ["PostgresStore", "mask_url"]

log = logging.getLogger(__name__)
R = TypeVar("R", bound=Record)
_SQL = Dialect("%s", nulls_last_clause=True)
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_OPTIONS = ("schema", "pool_min", "pool_max", "connect_timeout", "group_commit")
_MAX_GROUP = 128
T = TypeVar("T")
_LOCK_KEY = 0x6368_6174_6B69_74  # "chatkit": the migration advisory lock
_NOW = "extract(epoch FROM clock_timestamp())::float8"
"""Lease times use the database server's clock, the one clock every process shares."""

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

# The oldest expired range of a group; SKIP LOCKED so that dispatchers racing
# for expired ranges take different ones instead of queueing on the same row.
_RECLAIM = f"""
WITH x AS (
    SELECT first_position FROM dispatch_leases
    WHERE group_name = %(group)s AND lease_until < {_NOW}
    ORDER BY first_position LIMIT 1
    FOR UPDATE SKIP LOCKED)
UPDATE dispatch_leases l
SET owner = %(owner)s, lease_until = {_NOW} + %(seconds)s, attempts = l.attempts + 1
FROM x WHERE l.group_name = %(group)s AND l.first_position = x.first_position
RETURNING l.first_position, l.last_position, l.lease_until, l.attempts"""

# The next range of a group in one round trip: lock the group row, read the
# events after its claimed position, record the lease and move the position.
_CLAIM = f"""
WITH g AS (
    SELECT claimed_upto FROM dispatch_groups WHERE name = %(group)s FOR UPDATE),
ev AS (
    SELECT e.position, e.data FROM events e, g
    WHERE e.position > g.claimed_upto ORDER BY e.position LIMIT %(limit)s),
span AS (
    SELECT min(position) AS lo, max(position) AS hi, {_NOW} + %(seconds)s AS until FROM ev),
ins AS (
    INSERT INTO dispatch_leases
        (group_name, first_position, last_position, owner, lease_until, attempts)
    SELECT %(group)s, lo, hi, %(owner)s, until, 1 FROM span WHERE lo IS NOT NULL),
upd AS (
    UPDATE dispatch_groups SET claimed_upto = span.hi
    FROM span WHERE name = %(group)s AND span.hi IS NOT NULL)
SELECT ev.position, ev.data, span.until FROM ev, span ORDER BY ev.position"""


@dataclass
class _Pending:
    ops: Sequence[Op]
    events: Sequence[Event]
    future: asyncio.Future[list[int]]


async def _outcome(work: Awaitable[T]) -> T | BaseException:
    try:
        return await work
    except Exception as exc:
        return exc


def _flag(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected 0 or 1, got {value!r}")


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for errors and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresStore(Store):
    """Stores everything in PostgreSQL.

    Args:
        conninfo: A libpq connection URL without chatkit's options.
        schema: The PostgreSQL schema holding chatkit's tables (created if missing).
        pool_min: Connections kept open.
        pool_max: Most connections at once.
        connect_timeout: Seconds to wait for the server when opening; a refused
            connection fails at once.
        group_commit: Let commits that arrive while a transaction is running
            share the next one (see `commit`). Each caller still returns only
            after its own data is committed, and a commit that conflicts
            fails alone.

    Example:
        ```python
        kit = AsyncChatKit("postgresql://app:secret@db.internal:5432/support?pool_max=20")
        ```
    """

    schemes = ("postgresql", "postgres")

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str = "public",
        pool_min: int = 1,
        pool_max: int = 10,
        connect_timeout: float = 5.0,
        group_commit: bool = True,
    ) -> None:
        if not _SCHEMA_NAME.match(schema):
            raise ConfigurationError(f"invalid PostgreSQL schema name {schema!r}")
        if not 0 <= pool_min <= pool_max or pool_max < 1:
            raise ConfigurationError("need 0 <= pool_min <= pool_max and pool_max >= 1")
        if not connect_timeout > 0:
            raise ConfigurationError("connect_timeout must be a positive number of seconds")
        self.conninfo = conninfo
        self.schema = schema
        self.pool_min, self.pool_max = pool_min, pool_max
        self.connect_timeout = connect_timeout
        self._pool: AsyncConnectionPool | None = None
        self._groups: set[str] = set()  # dispatch groups known to exist
        self.group_commit = group_commit
        self._queue: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        """Build from ``postgresql://user:password@host:port/db?schema=...&pool_max=...``."""
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
            raise ConfigurationError(f"expected postgresql://user@host/db, got {mask_url(url)!r}")
        query = parse_qsl(parts.query, keep_blank_values=True)
        ours = {k: v for k, v in query if k in _OPTIONS}
        rest = [(k, v) for k, v in query if k not in _OPTIONS]
        conninfo = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(rest)))
        try:
            return cls(
                conninfo,
                schema=ours.get("schema", "public"),
                pool_min=int(ours.get("pool_min", 1)),
                pool_max=int(ours.get("pool_max", 10)),
                connect_timeout=float(ours.get("connect_timeout", 5.0)),
                group_commit=_flag(ours.get("group_commit", "1")),
            )
        except ValueError as exc:
            raise ConfigurationError(f"bad PostgreSQL URL option: {exc}") from exc

    def __repr__(self) -> str:
        return f"PostgresStore({mask_url(self.conninfo)!r}, schema={self.schema!r})"

    # -- lifecycle -----------------------------------------------------------

    async def open(self) -> None:
        """Connect the pool and bring the schema to the current version.

        Raises:
            StoreError: The server cannot be reached (the message names the
                URL with its password masked).
            SchemaVersionError: The schema was written by a newer chatkit.
        """
        if self._pool is not None:
            return
        options = f"-c search_path={self.schema}"
        # One direct connection first: an unreachable server fails at once
        # with libpq's reason, instead of the pool logging every retry until
        # its timeout. The same connection then runs the migrations.
        try:
            conn = await asyncio.wait_for(
                psycopg.AsyncConnection.connect(
                    self.conninfo,
                    options=options,
                    autocommit=True,
                    connect_timeout=max(2, math.ceil(self.connect_timeout)),
                ),
                self.connect_timeout,
            )
        except (psycopg.Error, OSError, asyncio.TimeoutError) as exc:
            reason = " ".join(str(exc).split()) or f"no answer within {self.connect_timeout:g} s"
            raise StoreError(
                f"cannot connect to PostgreSQL at {mask_url(self.conninfo)}: {reason}"
            ) from None
        try:
            await self._migrate(conn)
        finally:
            await conn.close()
        pool = AsyncConnectionPool(
            self.conninfo,
            min_size=self.pool_min,
            max_size=self.pool_max,
            open=False,
            # Autocommit: a read is one round trip; writes open their own
            # transaction (see _run).
            kwargs={"options": options, "autocommit": True},
            name=f"chatkit:{self.schema}",
            # No check on checkout (it would cost a round trip per use): a
            # connection found dead is dropped and the work retried, see _run.
            reconnect_timeout=60.0,
        )
        try:
            await pool.open(wait=True, timeout=self.connect_timeout)
        except (PoolTimeout, psycopg.Error) as exc:
            await pool.close()
            raise StoreError(
                f"cannot connect to PostgreSQL at {mask_url(self.conninfo)}: {exc}"
            ) from exc
        self._pool = pool
        self._closing = False

    async def _migrate(self, conn: psycopg.AsyncConnection[Any]) -> None:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
            await conn.execute("CREATE TABLE IF NOT EXISTS chatkit_schema (version INT NOT NULL)")
            cur = await conn.execute("SELECT version FROM chatkit_schema")
            row = await cur.fetchone()
            found = int(row[0]) if row else 0
            if found > SCHEMA_VERSION:
                raise SchemaVersionError(found=found, supported=SCHEMA_VERSION)
            for version in range(found + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version - 1]:
                    await conn.execute(statement)
                if version == LISTINGS_VERSION:
                    await self._fill_listings(conn)
                log.info("upgraded PostgreSQL schema %s to version %d", self.schema, version)
            if row is None:
                await conn.execute("INSERT INTO chatkit_schema VALUES (%s)", (SCHEMA_VERSION,))
            elif found < SCHEMA_VERSION:
                await conn.execute("UPDATE chatkit_schema SET version = %s", (SCHEMA_VERSION,))

    @staticmethod
    async def _fill_listings(conn: psycopg.AsyncConnection[Any]) -> None:
        """Write the list entries of records stored before the ``listings`` table existed."""
        for kind in listed_kinds():
            cur = await conn.execute(f"SELECT data FROM {kind.table}")
            records = parse_rows(kind, await cur.fetchall())
            rows = [row for record in records for row in listing_rows(record)]
            if rows:
                async with conn.cursor() as writer:
                    await writer.executemany(_SQL.list_entry(), rows)

    async def close(self) -> None:
        """Finish queued commits (refusing new ones), then close the pool (idempotent)."""
        self._closing = True
        flusher = self._flusher
        if flusher is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(flusher)
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def _ready(self) -> AsyncConnectionPool:
        if self._pool is None:
            raise StoreError("the PostgreSQL store is not open")
        return self._pool

    async def schema_version(self) -> int:
        """The schema version of the database."""
        rows = await self._fetch("SELECT version FROM chatkit_schema", ())
        return int(rows[0][0])

    # -- reads ---------------------------------------------------------------

    async def _fetch(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        async def read(conn: psycopg.AsyncConnection[Any]) -> list[tuple[Any, ...]]:
            cur = await conn.execute(sql, params)
            return await cur.fetchall()

        try:
            return await self._run(read, transaction=False)
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL read failed: {exc}") from exc

    async def _run(
        self,
        work: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]],
        *,
        transaction: bool = True,
    ) -> T:
        """Run ``work`` in one transaction on a pooled connection and commit.

        With ``transaction=False`` (a single read) it runs in autocommit.

        A connection the server dropped while it sat in the pool (restart,
        failover, idle kill) fails on first use, before anything of ``work``
        could commit: it is discarded and ``work`` runs again on another,
        while the pool reconnects with backoff. A failure while committing is
        raised (its outcome is unknown), so no write is retried twice.
        """
        pool = self._ready()
        for attempt in itertools.count():
            committing = False
            async with pool.connection() as conn:
                try:
                    if not transaction:
                        return await work(conn)
                    async with conn.transaction():
                        result = await work(conn)
                        committing = True
                    return result
                except psycopg.OperationalError:
                    if committing or not conn.broken or attempt >= self.pool_max:
                        raise
                    log.info("PostgreSQL connection was dropped; retrying on another")
        raise AssertionError("unreachable")

    async def get(self, kind: type[R], id: str) -> R | None:
        rows = await self._fetch(f"SELECT data FROM {kind.table} WHERE id = %s", (id,))
        return load_record(kind, rows[0][0]) if rows else None

    async def find(
        self,
        kind: type[R],
        where: Mapping[str, Condition] | None = None,
        *,
        order_by: str = "id",
        descending: bool = False,
        limit: int | None = None,
    ) -> list[R]:
        try:
            sql, params = _SQL.select(kind, where, order_by, descending, limit)
        except NoMatch:
            return []
        rows = await self._fetch(sql, params)
        return parse_rows(kind, rows)

    async def find_listed(
        self, kind: type[R], list_name: str, *, after: str | None = None, limit: int = 100
    ) -> list[R]:
        sql, params = _SQL.listed(kind, list_name, after, limit)
        return parse_rows(kind, await self._fetch(sql, params))

    async def count(self, kind: type[R], where: Mapping[str, Condition] | None = None) -> int:
        try:
            sql, params = _SQL.count(kind, where)
        except NoMatch:
            return 0
        rows = await self._fetch(sql, params)
        return int(rows[0][0])

    async def search_text(
        self,
        kind: type[R],
        query: str,
        *,
        where: Mapping[str, Condition] | None = None,
        limit: int = 10,
    ) -> list[tuple[R, float]]:
        """Rank with ``ts_rank`` over the kind's ``search`` column (a GIN-indexed tsvector).

        The column weighs ``text_fields`` A, B, C, D from the heaviest down,
        with the ``'simple'`` configuration; the ranks of A to D follow the
        fields' weights. The query is built from `text_terms` and passed as
        a parameter to ``to_tsquery``.
        """
        _, fields = text_index_of(kind)
        terms = text_terms(query)
        if not terms or limit < 1:
            return []
        try:
            clauses, params = _SQL.conditions(kind, where, alias="r")
        except NoMatch:
            return []
        ranked = sorted((w for _, w in fields), reverse=True)[:4]
        ranked += [ranked[-1]] * (4 - len(ranked))  # weights of labels A, B, C, D
        weights = "{" + ",".join(f"{w / ranked[0]:.4f}" for w in reversed(ranked)) + "}"
        sql = (
            f"SELECT r.data, ts_rank(%s::float4[], r.search, q, 32) AS rank "
            f"FROM {kind.table} r, to_tsquery('simple', %s) q WHERE r.search @@ q"
        )
        for clause in clauses:
            sql += f" AND {clause}"
        sql += " ORDER BY rank DESC, r.id LIMIT %s"
        rows = await self._fetch(sql, [weights, tsquery(terms), *params, limit])
        ranks = [max(float(row[1]), 1e-9) for row in rows]  # rank / (rank + 1): in (0, 1)
        return list(zip(parse_rows(kind, rows), ranks, strict=True))

    async def read_events(self, after: int = 0, limit: int = 500) -> list[Event]:
        rows = await self._fetch(
            "SELECT position, data FROM events WHERE position > %s ORDER BY position LIMIT %s",
            (after, limit),
        )
        return [parse_event(data).model_copy(update={"position": pos}) for pos, data in rows]

    async def last_position(self) -> int:
        rows = await self._fetch("SELECT MAX(position) FROM events", ())
        return int(rows[0][0] or 0)

    async def get_cursor(self, consumer: str) -> int:
        rows = await self._fetch(
            "SELECT position FROM consumer_cursors WHERE name = %s", (consumer,)
        )
        return int(rows[0][0]) if rows else 0

    # -- writes --------------------------------------------------------------

    async def commit(self, ops: Sequence[Op], events: Sequence[Event] = ()) -> list[int]:
        self._ready()
        if self._closing:
            raise StoreError("the PostgreSQL store is closing")
        if not self.group_commit:
            return await self._commit_alone(ops, events)
        loop = asyncio.get_running_loop()
        if self._flusher is not None and self._flusher.get_loop() is not loop:
            # Another event loop (thread) is flushing: don't mix loops' futures.
            return await self._commit_alone(ops, events)
        pending = _Pending(ops, events, loop.create_future())
        self._queue.append(pending)
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        return await pending.future

    async def _commit_alone(self, ops: Sequence[Op], events: Sequence[Event]) -> list[int]:
        try:
            return await self._run(lambda conn: self._write(conn, ops, events))
        except pg_errors.UniqueViolation as exc:
            raise self._unique(exc) from exc
        except psycopg.Error as exc:
            raise _write_error(exc) from exc

    async def _flush(self) -> None:
        """Commit what callers queued, a group per transaction, until the queue is empty.

        While one transaction runs, new commits queue up and go together in
        the next: one round of locks and one WAL flush for many callers, each
        of whom still returns only after their data is committed.
        """
        try:
            while self._queue:
                group = self._queue[:_MAX_GROUP]
                del self._queue[:_MAX_GROUP]
                try:
                    await self._commit_group(group)
                finally:
                    for pending in group:  # cancelled mid-group: never leave a caller waiting
                        if not pending.future.done():
                            pending.future.set_exception(
                                StoreError("the commit was interrupted; its outcome is unknown")
                            )
        finally:
            self._flusher = None
            for pending in self._queue:  # only if this task itself was cancelled
                if not pending.future.done():
                    pending.future.set_exception(StoreError("the PostgreSQL store was closed"))
            self._queue.clear()

    async def _commit_group(self, group: list[_Pending]) -> None:
        if len(group) == 1:
            outcomes: list[list[int] | BaseException] = [
                await _outcome(self._commit_alone(group[0].ops, group[0].events))
            ]
        else:
            together = await _outcome(self._commit_together(group))
            if isinstance(together, ConflictError):
                # One of them conflicts (or two of them with each other): give
                # each its own transaction so only the guilty one fails.
                outcomes = [await _outcome(self._commit_alone(p.ops, p.events)) for p in group]
            elif isinstance(together, BaseException):
                outcomes = [together] * len(group)
            else:
                outcomes = list(together)
        for pending, outcome in zip(group, outcomes, strict=True):
            if pending.future.done():  # the caller was cancelled; the outcome stands
                continue
            if isinstance(outcome, BaseException):
                pending.future.set_exception(outcome)
            else:
                pending.future.set_result(outcome)

    async def _commit_together(self, group: list[_Pending]) -> list[list[int]]:
        ops = [op for pending in group for op in pending.ops]
        events = [e for pending in group for e in pending.events]
        try:
            positions = await self._run(lambda conn: self._write(conn, ops, events))
        except pg_errors.IntegrityError as exc:
            # Some member broke a key (possibly only at commit): rolled back;
            # each is retried alone to find which.
            raise ConflictError(f"a grouped commit was refused: {exc}") from exc
        except psycopg.Error as exc:
            raise _write_error(exc) from exc
        split = []
        for pending in group:
            split.append(positions[: len(pending.events)])
            del positions[: len(pending.events)]
        return split

    async def _write(
        self, conn: psycopg.AsyncConnection[Any], ops: Sequence[Op], events: Sequence[Event]
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
                await self._apply(conn, _lock_order(ops), updates)
                appended = await self._append(conn, events) if events else None
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
            _check_versions(updates, failed=True, cause=failure)
            raise failure
        _check_versions(updates)
        if appended is None:
            return []
        # Positions are consecutive and given in event order (see _APPEND).
        return sorted(int(row[0]) for row in await appended.fetchall())

    @staticmethod
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
                    await conn.execute(_SQL.insert(type(record)), [record.id, *values])
                else:
                    cur = await conn.execute(
                        _SQL.update(type(record)), [*values, record.id, record.version - 1]
                    )
                    updates.append((cur, record))
                if record.listed:
                    if isinstance(op, Update):
                        await conn.execute(_SQL.unlist(), (record.table, record.id))
                    for row in listing_rows(record):
                        await conn.execute(_SQL.list_entry(), row)
            elif isinstance(op, Delete):
                await conn.execute(f"DELETE FROM {op.kind.table} WHERE id = %s", (op.id,))
                if op.kind.listed:
                    await conn.execute(_SQL.unlist(), (op.kind.table, op.id))
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

    @staticmethod
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

    @staticmethod
    def _unique(exc: pg_errors.UniqueViolation) -> ConflictError:
        name = exc.diag.constraint_name or ""
        table = exc.diag.table_name or "?"
        if name.startswith("uq__"):
            _, table, *columns = name.split("__")
            return DuplicateKeyError(table=table, columns=tuple(columns))
        return ConflictError(f"a {table} row with that id already exists")

    # -- dispatch groups -------------------------------------------------------

    async def lease_events(
        self,
        group: str,
        owner: str,
        *,
        limit: int,
        lease_seconds: float,
        done: Lease | None = None,
        start: int = 0,
    ) -> tuple[bool, Lease | None]:
        args = {"group": group, "owner": owner, "seconds": lease_seconds, "limit": limit}

        async def work(
            conn: psycopg.AsyncConnection[Any],
        ) -> tuple[bool, Lease | None, list[tuple[Any, ...]]]:
            finished = False
            if done is not None:
                cur = await conn.execute(
                    "DELETE FROM dispatch_leases "
                    "WHERE group_name = %s AND first_position = %s AND owner = %s",
                    (done.group, done.first, done.owner),
                )
                finished = done.group == group and cur.rowcount == 1
            if limit == 0:
                return finished, None, []
            cur = await conn.execute(_RECLAIM, args)
            row = await cur.fetchone()
            if row is not None:
                first, last, until, attempts = row
                cur = await conn.execute(
                    "SELECT position, data FROM events "
                    "WHERE position BETWEEN %s AND %s ORDER BY position",
                    (first, last),
                )
                events = _positioned(await cur.fetchall())
                return finished, Lease(group, owner, first, last, until, attempts, events), []
            if group not in self._groups:
                await conn.execute(
                    "INSERT INTO dispatch_groups (name, claimed_upto) VALUES (%s, %s) "
                    "ON CONFLICT (name) DO NOTHING",
                    (group, start),
                )
            cur = await conn.execute(_CLAIM, args)
            return finished, None, await cur.fetchall()

        try:
            finished, taken, rows = await self._run(work)
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL lease failed: {exc}") from exc
        if taken is not None or limit == 0:
            return finished, taken
        self._groups.add(group)  # committed: the group row exists from now on
        if not rows:
            return finished, None
        events = _positioned([(pos, data) for pos, data, _ in rows])
        first, last, until = rows[0][0], rows[-1][0], rows[0][2]
        return finished, Lease(group, owner, first, last, until, 1, events)

    async def _lease_update(self, sql: str, lease: Lease, value: float) -> float | None:
        async def work(conn: psycopg.AsyncConnection[Any]) -> tuple[Any, ...] | None:
            cur = await conn.execute(
                f"UPDATE dispatch_leases SET {sql} "
                "WHERE group_name = %s AND first_position = %s AND owner = %s "
                "RETURNING lease_until",
                (value, lease.group, lease.first, lease.owner),
            )
            return await cur.fetchone()

        try:
            row = await self._run(work)
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL lease update failed: {exc}") from exc
        return None if row is None else float(row[0])

    async def renew_lease(self, lease: Lease, lease_seconds: float) -> Lease | None:
        until = await self._lease_update(f"lease_until = {_NOW} + %s", lease, lease_seconds)
        return None if until is None else dataclasses.replace(lease, expires_at=until)

    async def release_lease(self, lease: Lease, retry_after: float) -> bool:
        sql = f"owner = NULL, lease_until = {_NOW} + %s"
        return await self._lease_update(sql, lease, retry_after) is not None

    async def dispatch_status(self, group: str) -> DispatchStatus:
        rows = await self._fetch(
            "SELECT (SELECT claimed_upto FROM dispatch_groups WHERE name = %(g)s), "
            f"COUNT(*), MIN(first_position), COUNT(*) FILTER (WHERE lease_until < {_NOW}) "
            "FROM dispatch_leases WHERE group_name = %(g)s",
            {"g": group},
        )
        claimed, count, oldest, expired = rows[0]
        upto = int(claimed or 0)
        return DispatchStatus(
            group=group,
            claimed_upto=upto,
            done_upto=int(oldest) - 1 if count else upto,
            in_flight=int(count),
            expired=int(expired),
        )


def _write_error(exc: psycopg.Error) -> StoreError | ConflictError:
    """What a failed write transaction means to the caller.

    A deadlock or serialization failure rolled the transaction back: like a
    version conflict, the caller may read again and retry. Anything else is
    a `StoreError`.
    """
    if isinstance(exc, (pg_errors.TransactionRollback, pg_errors.DeadlockDetected)):
        return ConflictError(f"PostgreSQL rolled the transaction back: {exc}")
    return StoreError(f"PostgreSQL write failed: {exc}")


def _lock_order(ops: Sequence[Op]) -> list[Op]:
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


def _check_versions(
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


def _positioned(rows: Sequence[tuple[Any, ...]]) -> list[Event]:
    return [parse_event(data).model_copy(update={"position": pos}) for pos, data in rows]
