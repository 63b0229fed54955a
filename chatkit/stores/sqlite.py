"""The embedded default store: one SQLite file, stdlib ``sqlite3`` only.

- WAL journal, ``synchronous=NORMAL`` by default (``FULL`` with
  ``?synchronous=full``), foreign keys on.
- Group commit: the commits that tasks issue in one turn of the event loop
  are written together in one SQLite transaction, each inside its own
  savepoint, so one failing commit never takes its neighbours down and every
  caller still returns only after its data is committed. With
  ``synchronous=NORMAL`` a commit is a write to the WAL without fsync, so the
  group is written right on the event loop (no thread hand-off, no GIL
  ping-pong). When another connection holds the write lock, or with
  ``synchronous=FULL``, or from another event loop, commits go to a writer
  thread that waits for the lock (``busy_timeout``) instead. Checkpoints,
  which fsync, always run on that thread.
- Reads never wait for the writer (WAL). Point reads and bounded pages (at
  most `INLINE_READ_LIMIT` rows) run directly on the event loop: they take
  tens of microseconds, less than a hop to a thread would cost. Unbounded
  scans run on worker threads, each with its own read connection. Pass
  ``inline_reads=False`` (URL ``?inline_reads=0``) to send every read to a
  thread, e.g. when another process may hold long exclusive locks.
- Records decoded by point reads and bounded pages are kept in a bounded
  cache keyed by the stored JSON text (`chatkit.stores._rows.RecordCache`),
  so re-reading the same rows (a conversation's history, again and again)
  skips decoding; unbounded scans bypass it. ``record_cache=0`` (URL
  ``?record_cache=0``) turns it off.
- The schema is versioned (``PRAGMA user_version``) and older files are
  upgraded in place when opened; see `chatkit.stores.sqlite_schema`.

The store's parts live in modules named for them: `sqlite_connect` (a
connection with the store's settings and the schema upgrade on open),
`sqlite_writes` (the write transaction, group commit's pieces and the WAL
checkpoints), `sqlite_leases` (dispatch groups) and `sqlite_schema` (the
migrations); this module holds the store itself: opening, reads, the writer
thread and group commit.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import anyio.to_thread

from ..blobs import BlobStore, LocalBlobStore
from ..errors import (
    ConfigurationError,
    StoreError,
)
from ..events import Event
from ..models._base import Record
from ..redact import mask_url
from . import sqlite_leases
from ._rows import DEFAULT_RECORD_CACHE_SIZE, RecordCache, load_record
from ._sql import (
    NoMatch,
    fts5_query,
    parse_rows,
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
from .sqlite_connect import connect, migrate
from .sqlite_schema import SCHEMA_VERSION
from .sqlite_writes import (
    CHECKPOINT_EVERY,
    MAX_GROUP,
    SQL,
    Request,
    Scrub,
    checkpoint,
    fail,
    hand_back,
    resolve,
    scrub,
    write_batch,
)

__all__ = ["SQLiteStore"]

log = logging.getLogger(__name__)
R = TypeVar("R", bound=Record)
INLINE_READ_LIMIT = 1000
RATE_HIT = """INSERT INTO rate_limits (key, tat) VALUES (?1, ?2 + ?3)
    ON CONFLICT (key) DO UPDATE SET tat = max(rate_limits.tat, ?2) + ?3
    WHERE max(rate_limits.tat, ?2) + ?3 - ?2 <= ?4
    RETURNING tat"""
"""One GCRA step as one statement (see `chatkit.stores.base.gcra_step`)."""
"""Reads of at most this many rows run on the event loop thread (see module docs)."""


def _unit(raw: float) -> float:
    """Map a positive relevance onto (0, 1), keeping the order."""
    raw = max(raw, 1e-9)
    return raw / (raw + 1.0)


class SQLiteStore(Store):
    """Stores everything in one SQLite database file.

    Args:
        path: The database file; created (with its schema) when missing.
        synchronous: ``"NORMAL"`` (default; with WAL, a power cut can lose the
            last commits but never corrupts) or ``"FULL"`` (every commit fsynced).
        busy_timeout: Seconds to wait for another process's write lock.
        inline_reads: Run point reads and bounded pages on the event loop
            thread instead of a worker thread (faster; see the module docs).
        record_cache: How many decoded records to keep for reads of the same
            rows (`records`); ``0`` turns the cache off.

    Example:
        ```python
        kit = AsyncChatKit("sqlite:///var/lib/myapp/support.db")
        ```
    """

    schemes = ("sqlite",)

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "NORMAL",
        busy_timeout: float = 10.0,
        inline_reads: bool = True,
        record_cache: int = DEFAULT_RECORD_CACHE_SIZE,
    ) -> None:
        if synchronous.upper() not in ("NORMAL", "FULL", "EXTRA"):
            raise ConfigurationError(
                f"synchronous must be NORMAL, FULL or EXTRA, not {synchronous!r}"
            )
        self.path = Path(path)
        self.synchronous = synchronous.upper()
        self.busy_timeout = busy_timeout
        self.inline_reads = inline_reads
        try:
            self.records = RecordCache(record_cache)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from exc
        """Decoded records of recent reads, keyed by their stored JSON text."""
        self._inline: sqlite3.Connection | None = None
        self._inline_writer: sqlite3.Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[Request] = []
        self._flush_scheduled = False
        self._groups_since_checkpoint = 0
        self._queue: queue.SimpleQueue[Request | Scrub | str | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        """Build from ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``.

        Options go in the query string: ``?synchronous=full&busy_timeout=30``
        (also ``inline_reads=0`` and ``record_cache=<records>``).
        """
        parts = urlsplit(url)
        if parts.scheme != "sqlite" or parts.netloc or not parts.path.startswith("/"):
            raise ConfigurationError(
                f"expected sqlite:///relative.db or sqlite:////absolute.db, got {mask_url(url)!r}"
            )
        path = parts.path[1:]
        if not path or path == ":memory:":
            raise ConfigurationError("a SQLite store needs a file path; use memory:// for RAM")
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(options) - {"synchronous", "busy_timeout", "inline_reads", "record_cache"}
        if unknown:
            raise ConfigurationError(f"unknown sqlite URL options: {sorted(unknown)}")
        try:
            timeout = float(options.get("busy_timeout", 10.0))
        except ValueError as exc:
            raise ConfigurationError("busy_timeout must be a number of seconds") from exc
        inline = options.get("inline_reads", "1").lower()
        if inline not in ("0", "1", "true", "false"):
            raise ConfigurationError("inline_reads must be 0 or 1")
        cache = options.get("record_cache", str(DEFAULT_RECORD_CACHE_SIZE))
        if not cache.isascii() or not cache.isdigit():
            raise ConfigurationError("record_cache must be a whole number of records (0 = off)")
        return cls(
            path,
            synchronous=options.get("synchronous", "NORMAL"),
            busy_timeout=timeout,
            inline_reads=inline in ("1", "true"),
            record_cache=int(cache),
        )

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # -- connections ---------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path, self.synchronous, self.busy_timeout)

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    async def open(self) -> None:
        """Create or upgrade the database file and start the writer thread."""
        if self._writer is not None:
            return
        if not self.path.parent.exists():
            raise StoreError(f"directory {str(self.path.parent)!r} does not exist")
        conn = await anyio.to_thread.run_sync(self._migrate)
        self._writer = threading.Thread(
            target=self._write_loop, args=(conn,), name=f"chatkit-sqlite-writer:{self.path.name}"
        )
        self._writer.daemon = True
        self._writer.start()
        if self.inline_reads:
            self._inline = self._connect()
            self._inline.execute("PRAGMA query_only=ON")
        if self.synchronous == "NORMAL":
            writer = self._connect()
            writer.execute("PRAGMA busy_timeout=0")  # never block the loop on a lock
            writer.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run on the thread
            self._inline_writer = writer
            self._loop = asyncio.get_running_loop()

    def _migrate(self, target: int = SCHEMA_VERSION) -> sqlite3.Connection:
        return migrate(self._connect(), self.path, target)

    async def close(self) -> None:
        """Stop the writer after pending commits and close every connection."""
        if self._pending:
            self._flush()
        writer, self._writer = self._writer, None
        if writer is not None:
            self._queue.put(None)
            await anyio.to_thread.run_sync(writer.join)
        if self._inline_writer is not None:
            self._inline_writer.close()
            self._inline_writer = None
            self._loop = None
        with self._readers_lock:
            readers, self._readers = self._readers, []
        if self._inline is not None:
            readers.append(self._inline)
            self._inline = None
        for conn in readers:
            conn.close()
        self._local = threading.local()

    # -- reads ---------------------------------------------------------------

    async def _read(self, sql: str, params: Sequence[Any], *, bounded: bool = True) -> list[Any]:
        if self._writer is None:
            raise StoreError("the SQLite store is not open")
        if bounded and self._inline is not None:
            return self._execute(self._inline, sql, params)
        return await anyio.to_thread.run_sync(lambda: self._execute(self._reader(), sql, params))

    @staticmethod
    def _execute(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[Any]:
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite read failed: {exc}") from exc

    def _cache(self, bounded: bool) -> RecordCache | None:
        """The record cache for a read; unbounded scans (exports, purges) bypass it.

        A scan would push every row through the cache, evicting what is
        actually re-read, for records unlikely to be read again soon.
        """
        return self.records if bounded else None

    async def get(self, kind: type[R], id: str) -> R | None:
        rows = await self._read(f"SELECT data FROM {kind.table} WHERE id = ?", (id,))
        return load_record(kind, rows[0][0], self.records) if rows else None

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
            sql, params = SQL.select(kind, where, order_by, descending, limit)
        except NoMatch:
            return []
        bounded = limit is not None and limit <= INLINE_READ_LIMIT
        rows = await self._read(sql, params, bounded=bounded)
        return parse_rows(kind, rows, self._cache(bounded))

    async def find_listed(
        self, kind: type[R], list_name: str, *, after: str | None = None, limit: int = 100
    ) -> list[R]:
        sql, params = SQL.listed(kind, list_name, after, limit)
        bounded = limit <= INLINE_READ_LIMIT
        rows = await self._read(sql, params, bounded=bounded)
        return parse_rows(kind, rows, self._cache(bounded))

    async def count(self, kind: type[R], where: Mapping[str, Condition] | None = None) -> int:
        try:
            sql, params = SQL.count(kind, where)
        except NoMatch:
            return 0
        rows = await self._read(sql, params)
        return int(rows[0][0])

    async def search_text(
        self,
        kind: type[R],
        query: str,
        *,
        where: Mapping[str, Condition] | None = None,
        limit: int = 10,
    ) -> list[tuple[R, float]]:
        """Rank with FTS5's BM25 over the kind's index (``text_fields`` weights per column).

        The index is an FTS5 table named ``kind.text_index`` whose rowid is
        the record row's and whose columns are ``text_fields`` in order.
        """
        index, fields = text_index_of(kind)
        terms = text_terms(query)
        if not terms or limit < 1:
            return []
        try:
            clauses, params = SQL.conditions(kind, where, alias="r")
        except NoMatch:
            return []
        weights = ", ".join(str(weight) for _, weight in fields)
        sql = (
            f"SELECT r.data, bm25({index}, {weights}) AS rank FROM {index} "
            f"JOIN {kind.table} r ON r.rowid = {index}.rowid WHERE {index} MATCH ?"
        )
        for clause in clauses:
            sql += f" AND {clause}"
        sql += " ORDER BY rank, r.id LIMIT ?"
        rows = await self._read(sql, [fts5_query(terms), *params, limit], bounded=False)
        records = parse_rows(kind, rows, self._cache(limit <= INLINE_READ_LIMIT))
        return [(record, _unit(-row[1])) for record, row in zip(records, rows, strict=True)]

    async def read_events(self, after: int = 0, limit: int = 500) -> list[Event]:
        events: list[Event] = []
        while True:  # unreadable rows are skipped: read on until ``limit`` events or the end
            want = limit - len(events)
            rows = await self._read(
                "SELECT position, data FROM events WHERE position > ? ORDER BY position LIMIT ?",
                (after, want),
                bounded=want <= INLINE_READ_LIMIT,
            )
            events += sqlite_leases.positioned(rows)
            if len(rows) < want or len(events) >= limit:
                return events
            after = rows[-1][0]

    async def last_position(self) -> int:
        rows = await self._read("SELECT MAX(position) FROM events", ())
        return int(rows[0][0] or 0)

    def default_blob_store(self) -> BlobStore:
        """A directory beside the database: ``support.db`` keeps blobs in ``support.db-blobs/``."""
        return LocalBlobStore(self.path.with_name(self.path.name + "-blobs"))

    async def get_cursor(self, consumer: str) -> int:
        rows = await self._read("SELECT position FROM consumer_cursors WHERE name = ?", (consumer,))
        return int(rows[0][0]) if rows else 0

    # -- writes --------------------------------------------------------------

    async def commit(self, ops: Sequence[Op], events: Sequence[Event] = ()) -> list[int]:
        positions: list[int] = await self._submit(Request(ops, events, *self._future()))
        return positions

    def _future(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]:
        if self._writer is None:
            raise StoreError("the SQLite store is not open")
        loop = asyncio.get_running_loop()
        return loop, loop.create_future()

    async def _transaction(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``work(conn)`` inside a write transaction (grouped like commits)."""
        return await self._submit(Request((), (), *self._future(), work=work))

    async def _submit(self, request: Request) -> Any:
        loop = request.loop
        if loop is self._loop:
            self._pending.append(request)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                loop.call_soon(self._flush)
        else:
            self._queue.put(request)
        return await request.future

    def _flush(self) -> None:
        """Write the commits gathered during this loop turn (runs on the loop)."""
        self._flush_scheduled = False
        batch, self._pending = self._pending, []
        conn = self._inline_writer
        if not batch:
            return
        if conn is None:
            for request in batch:
                self._queue.put(request)
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            # Another connection writes: let the thread wait for the lock.
            for request in batch:
                self._queue.put(request)
            return
        write_batch(conn, batch)
        resolve(batch)
        self._groups_since_checkpoint += 1
        if self._groups_since_checkpoint >= CHECKPOINT_EVERY:
            self._groups_since_checkpoint = 0
            self._queue.put("checkpoint")

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                if first == "checkpoint":
                    checkpoint(conn)
                    continue
                if isinstance(first, Scrub):
                    scrub(conn, first)
                    continue
                batch = [first] if isinstance(first, Request) else []
                stop = False
                while len(batch) < MAX_GROUP:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    if isinstance(item, Request):
                        batch.append(item)
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except sqlite3.Error as exc:
                    fail(batch, exc)
                else:
                    write_batch(conn, batch)
                hand_back(batch)
                if stop:
                    return
        finally:
            conn.close()

    async def scrub(self) -> None:
        """Checkpoint and truncate the WAL so no purged page image survives in it."""
        if self._writer is None:
            raise StoreError("the SQLite store is not open")
        if self._pending:
            self._flush()
        loop = asyncio.get_running_loop()
        request = Scrub(loop, loop.create_future())
        self._queue.put(request)
        await request.future

    # -- dispatch groups -----------------------------------------------------
    # Each call is one write transaction; SQLite has one writer at a time, so
    # two dispatchers (in any process) never get the same range.

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
        def work(conn: sqlite3.Connection) -> tuple[bool, Lease | None]:
            return sqlite_leases.lease(
                conn,
                group,
                owner,
                limit=limit,
                lease_seconds=lease_seconds,
                done=done,
                start=start,
            )

        outcome: tuple[bool, Lease | None] = await self._transaction(work)
        return outcome

    async def renew_lease(self, lease: Lease, lease_seconds: float) -> Lease | None:
        renewed: Lease | None = await self._transaction(
            lambda conn: sqlite_leases.renew(conn, lease, lease_seconds)
        )
        return renewed

    async def release_lease(self, lease: Lease, retry_after: float) -> bool:
        released: bool = await self._transaction(
            lambda conn: sqlite_leases.release(conn, lease, retry_after)
        )
        return released

    async def dispatch_status(self, group: str) -> DispatchStatus:
        claimed = await self._read(
            "SELECT claimed_upto FROM dispatch_groups WHERE name = ?", (group,)
        )
        leases = await self._read(
            "SELECT COUNT(*), MIN(first_position), COALESCE(SUM(lease_until < ?), 0) "
            "FROM dispatch_leases WHERE group_name = ?",
            (time.time(), group),
        )
        count, oldest, expired = leases[0]
        upto = int(claimed[0][0]) if claimed else 0
        return DispatchStatus(
            group=group,
            claimed_upto=upto,
            done_upto=int(oldest) - 1 if count else upto,
            in_flight=int(count),
            expired=int(expired),
        )

    # -- rate limits ---------------------------------------------------------
    # A hit is one upsert inside a write transaction: SQLite has one writer at
    # a time, so processes sharing the file never lose a count.

    async def rate_hit(
        self, key: str, *, now: float, increment: float, tolerance: float
    ) -> tuple[bool, float]:
        def work(conn: sqlite3.Connection) -> tuple[bool, float]:
            if increment <= tolerance:
                row = conn.execute(RATE_HIT, (key, now, increment, tolerance)).fetchone()
                if row is not None:
                    return True, float(row[0])
            held = conn.execute("SELECT tat FROM rate_limits WHERE key = ?", (key,)).fetchone()
            return False, max(now, float(held[0])) if held else now

        outcome: tuple[bool, float] = await self._transaction(work)
        return outcome

    async def rate_peek(self, key: str) -> float | None:
        rows = await self._read("SELECT tat FROM rate_limits WHERE key = ?", (key,))
        return float(rows[0][0]) if rows else None

    async def rate_purge(self, before: float) -> int:
        gone: int = await self._transaction(
            lambda conn: conn.execute("DELETE FROM rate_limits WHERE tat < ?", (before,)).rowcount
        )
        return gone

    async def rate_reset(self, key: str) -> None:
        await self._transaction(
            lambda conn: conn.execute("DELETE FROM rate_limits WHERE key = ?", (key,))
        )

    # -- maintenance ---------------------------------------------------------

    async def schema_version(self) -> int:
        """Return the schema version of the open database file."""
        rows = await self._read("PRAGMA user_version", ())
        return int(rows[0][0])
