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

The store's parts live in modules named for them: `postgres_connect` (the
URL, the first connection, the pool and retries on dropped connections),
`postgres_writes` (the write transaction and what a failed one means),
`postgres_leases` (dispatch groups) and `postgres_schema` (the migrations);
this module holds the store itself: opening, reads and group commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import AsyncConnectionPool

from ..errors import (
    ConfigurationError,
    ConflictError,
    SchemaVersionError,
    StoreError,
)
from ..events import Event
from ..models._base import Record
from . import postgres_leases as leases
from ._rows import load_record
from ._sql import (
    Dialect,
    NoMatch,
    listed_kinds,
    listing_rows,
    parse_rows,
    tsquery,
)
from .base import (
    Condition,
    DispatchStatus,
    Lease,
    Op,
    Store,
    text_index_of,
    text_terms,
)
from .postgres_connect import connect, flag, make_pool, mask_url, open_pool, run, split_url
from .postgres_schema import LISTINGS_VERSION, MIGRATIONS, SCHEMA_VERSION
from .postgres_writes import MAX_GROUP, Pending, unique_error, write, write_error
from .postgres_writes import outcome as _outcome

_RATE_HIT = """INSERT INTO rate_limits AS r (key, tat) VALUES (%(k)s, %(now)s + %(inc)s)
    ON CONFLICT (key) DO UPDATE SET tat = GREATEST(r.tat, %(now)s) + %(inc)s
    WHERE GREATEST(r.tat, %(now)s) + %(inc)s - %(now)s <= %(tol)s
    RETURNING tat"""
"""One GCRA step as one statement (see `chatkit.stores.base.gcra_step`)."""

__all__ = ["PostgresStore", "mask_url"]

log = logging.getLogger(__name__)
R = TypeVar("R", bound=Record)
T = TypeVar("T")
_SQL = Dialect("%s", nulls_last_clause=True)
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_LOCK_KEY = 0x6368_6174_6B69_74  # "chatkit": the migration advisory lock


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
        self._queue: list[Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        """Build from ``postgresql://user:password@host:port/db?schema=...&pool_max=...``."""
        conninfo, ours = split_url(url)
        try:
            return cls(
                conninfo,
                schema=ours.get("schema", "public"),
                pool_min=int(ours.get("pool_min", 1)),
                pool_max=int(ours.get("pool_max", 10)),
                connect_timeout=float(ours.get("connect_timeout", 5.0)),
                group_commit=flag(ours.get("group_commit", "1")),
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
        # One direct connection first: an unreachable server fails at once,
        # and the same connection then runs the migrations.
        conn = await connect(self.conninfo, options=options, timeout=self.connect_timeout)
        try:
            await self._migrate(conn)
        finally:
            await conn.close()
        pool = make_pool(
            self.conninfo,
            options=options,
            min_size=self.pool_min,
            max_size=self.pool_max,
            name=f"chatkit:{self.schema}",
        )
        await open_pool(pool, self.conninfo, self.connect_timeout)
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
        """Run ``work`` on a pooled connection, in one transaction unless told not to.

        See `chatkit.stores.postgres_connect.run` (a connection the server
        dropped is replaced and the work run again).
        """
        return await run(self._ready(), work, transaction=transaction, attempts=self.pool_max)

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
        events: list[Event] = []
        while True:  # unreadable rows are skipped: read on until ``limit`` events or the end
            want = limit - len(events)
            rows = await self._fetch(
                "SELECT position, data FROM events WHERE position > %s ORDER BY position LIMIT %s",
                (after, want),
            )
            events += leases.positioned(rows)
            if len(rows) < want or len(events) >= limit:
                return events
            after = rows[-1][0]

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
        pending = Pending(ops, events, loop.create_future())
        self._queue.append(pending)
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        return await pending.future

    async def _commit_alone(self, ops: Sequence[Op], events: Sequence[Event]) -> list[int]:
        try:
            return await self._run(lambda conn: write(conn, ops, events))
        except pg_errors.UniqueViolation as exc:
            raise unique_error(exc) from exc
        except psycopg.Error as exc:
            raise write_error(exc) from exc

    async def _flush(self) -> None:
        """Commit what callers queued, a group per transaction, until the queue is empty.

        While one transaction runs, new commits queue up and go together in
        the next: one round of locks and one WAL flush for many callers, each
        of whom still returns only after their data is committed.
        """
        try:
            while self._queue:
                group = self._queue[:MAX_GROUP]
                del self._queue[:MAX_GROUP]
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

    async def _commit_group(self, group: list[Pending]) -> None:
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

    async def _commit_together(self, group: list[Pending]) -> list[list[int]]:
        ops = [op for pending in group for op in pending.ops]
        events = [e for pending in group for e in pending.events]
        try:
            positions = await self._run(lambda conn: write(conn, ops, events))
        except pg_errors.IntegrityError as exc:
            # Some member broke a key (possibly only at commit): rolled back;
            # each is retried alone to find which.
            raise ConflictError(f"a grouped commit was refused: {exc}") from exc
        except psycopg.Error as exc:
            raise write_error(exc) from exc
        split = []
        for pending in group:
            split.append(positions[: len(pending.events)])
            del positions[: len(pending.events)]
        return split

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
        known = group in self._groups
        try:
            finished, taken, rows = await self._run(
                lambda conn: leases.lease(
                    conn,
                    group,
                    owner,
                    limit=limit,
                    lease_seconds=lease_seconds,
                    done=done,
                    start=start,
                    known_group=known,
                )
            )
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL lease failed: {exc}") from exc
        if taken is not None or limit == 0:
            return finished, taken
        self._groups.add(group)  # committed: the group row exists from now on
        return finished, leases.claimed(group, owner, rows)

    async def _lease_update(self, setting: str, lease: Lease, value: float) -> float | None:
        try:
            return await self._run(lambda conn: leases.update(conn, setting, lease, value))
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL lease update failed: {exc}") from exc

    async def renew_lease(self, lease: Lease, lease_seconds: float) -> Lease | None:
        until = await self._lease_update(leases.RENEW, lease, lease_seconds)
        return None if until is None else dataclasses.replace(lease, expires_at=until)

    async def release_lease(self, lease: Lease, retry_after: float) -> bool:
        return await self._lease_update(leases.RELEASE, lease, retry_after) is not None

    # -- rate limits -----------------------------------------------------------
    # One upsert: ON CONFLICT DO UPDATE locks the row and re-checks the
    # condition on its latest version, so concurrent hits from any number of
    # connections never pass more than the limit.

    async def rate_hit(
        self, key: str, *, now: float, increment: float, tolerance: float
    ) -> tuple[bool, float]:
        params = {"k": key, "now": now, "inc": increment, "tol": tolerance}

        async def work(conn: psycopg.AsyncConnection[Any]) -> tuple[bool, float]:
            if increment <= tolerance:
                row = await (await conn.execute(_RATE_HIT, params)).fetchone()
                if row is not None:
                    return True, float(row[0])
            cur = await conn.execute("SELECT tat FROM rate_limits WHERE key = %(k)s", params)
            held = await cur.fetchone()
            return False, max(now, float(held[0])) if held else now

        try:
            return await self._run(work)
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL rate-limit update failed: {exc}") from exc

    async def rate_peek(self, key: str) -> float | None:
        rows = await self._fetch("SELECT tat FROM rate_limits WHERE key = %s", (key,))
        return float(rows[0][0]) if rows else None

    async def _rate_delete(self, sql: str, value: object) -> int:
        async def work(conn: psycopg.AsyncConnection[Any]) -> int:
            return (await conn.execute(sql, (value,))).rowcount

        try:
            return await self._run(work)
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL rate-limit delete failed: {exc}") from exc

    async def rate_purge(self, before: float) -> int:
        return await self._rate_delete("DELETE FROM rate_limits WHERE tat < %s", before)

    async def rate_reset(self, key: str) -> None:
        await self._rate_delete("DELETE FROM rate_limits WHERE key = %s", key)

    async def dispatch_status(self, group: str) -> DispatchStatus:
        rows = await self._fetch(leases.STATUS, {"g": group})
        return leases.status(group, rows[0])
