"""An in-process store: fast, isolated, gone when the process ends.

Use it in tests (``ChatKit("memory://")``) and for throw-away demos. Records
are kept serialised, so objects handed out never alias stored state, exactly
as with a database; they are read back as the SQL stores read theirs
(`chatkit.stores._rows`).
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..blobs import BlobStore, MemoryBlobStore
from ..errors import ConfigurationError, ConflictError, DuplicateKeyError, StoreError
from ..events import Event, read_stored_event
from ..models._base import Record
from ._rows import load_record, load_records
from .base import (
    Condition,
    Delete,
    DeleteEvents,
    DispatchStatus,
    Gt,
    In,
    Insert,
    Lease,
    Lt,
    Op,
    SetCursor,
    Store,
    Update,
    column_value,
    gcra_step,
)

__all__ = ["MemoryStore"]

R = TypeVar("R", bound=Record)


@dataclass
class _Lease:
    last: int
    owner: str | None
    until: float
    attempts: int


@dataclass
class _Row:
    version: int
    columns: dict[str, Any]
    data: str


def _row(record: Record) -> _Row:
    columns = {name: column_value(getattr(record, name)) for name in record.columns}
    columns["id"] = record.id
    return _Row(record.version, columns, record.model_dump_json())


def _matches(value: Any, condition: Condition) -> bool:
    if isinstance(condition, In):
        return value in {column_value(v) for v in condition.values}
    if isinstance(condition, Lt):
        return value is not None and value < column_value(condition.value)
    if isinstance(condition, Gt):
        return value is not None and value > column_value(condition.value)
    return bool(value == column_value(condition))


class MemoryStore(Store):
    """Keeps everything in dictionaries inside this process.

    Example:
        ```python
        kit = AsyncChatKit("memory://")
        ```
    """

    schemes = ("memory",)

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, _Row]] = {}
        self._events: list[tuple[int, str | None, str]] = []  # position, conversation, JSON
        self._last_position = 0
        self._cursors: dict[str, int] = {}
        self._groups: dict[str, int] = {}  # dispatch group -> claimed_upto
        self._leases: dict[str, dict[int, _Lease]] = {}  # group -> first position -> lease
        self._unique: dict[tuple[str, tuple[str, ...]], dict[tuple[Any, ...], str]] = {}
        self._rates: dict[str, float] = {}  # rate-limit key hash -> TAT
        self._open = False

    @classmethod
    def from_url(cls, url: str) -> MemoryStore:
        """Build from ``memory://`` (nothing may follow the scheme)."""
        if url.rstrip("/") != "memory:":
            raise ConfigurationError(f"memory store URL takes no path or options: {url!r}")
        return cls()

    async def open(self) -> None:
        """Mark the store usable."""
        self._open = True

    async def close(self) -> None:
        """Mark the store closed; the data stays until the object is dropped."""
        self._open = False

    def _check_open(self) -> None:
        if not self._open:
            raise StoreError("the memory store is not open")

    async def get(self, kind: type[R], id: str) -> R | None:
        self._check_open()
        row = self._tables.get(kind.table, {}).get(id)
        return None if row is None else load_record(kind, row.data)

    async def find(
        self,
        kind: type[R],
        where: Mapping[str, Condition] | None = None,
        *,
        order_by: str = "id",
        descending: bool = False,
        limit: int | None = None,
    ) -> list[R]:
        self._check_open()
        allowed = {"id", *kind.columns}
        for name in [*(where or {}), order_by]:
            if name not in allowed:
                raise ValueError(f"{kind.__name__} has no queryable column {name!r}")
        rows = [
            row
            for row in self._tables.get(kind.table, {}).values()
            if all(_matches(row.columns[k], c) for k, c in (where or {}).items())
        ]
        present = [r for r in rows if r.columns[order_by] is not None]
        missing = [r for r in rows if r.columns[order_by] is None]
        present.sort(key=lambda r: (r.columns[order_by], r.columns["id"]), reverse=descending)
        missing.sort(key=lambda r: r.columns["id"], reverse=descending)
        ordered = present + missing
        if limit is not None:
            ordered = ordered[:limit]
        return load_records(kind, [(r.data,) for r in ordered])

    async def commit(self, ops: Sequence[Op], events: Sequence[Event] = ()) -> list[int]:
        # No await below: the whole commit is atomic with respect to other tasks.
        self._check_open()
        staged: dict[tuple[str, str], tuple[type[Record], _Row | None]] = {}
        cursors: dict[str, int] = {}
        purged: set[str] = set()
        for op in ops:
            if isinstance(op, SetCursor):
                cursors[op.consumer] = op.position
                continue
            if isinstance(op, DeleteEvents):
                purged.add(op.conversation_id)
                continue
            kind = op.kind if isinstance(op, Delete) else type(op.record)
            key = (kind.table, op.id if isinstance(op, Delete) else op.record.id)
            current = staged[key][1] if key in staged else self._tables.get(key[0], {}).get(key[1])
            if isinstance(op, Insert):
                if current is not None:
                    raise ConflictError(f"{key[1]} already exists", resource_id=key[1])
                staged[key] = (kind, _row(op.record))
            elif isinstance(op, Update):
                if current is None or current.version != op.record.version - 1:
                    raise ConflictError(f"{key[1]} was changed by someone else", resource_id=key[1])
                staged[key] = (kind, _row(op.record))
            else:
                staged[key] = (kind, None)
        self._check_unique(staged)
        for (table, id_), (kind, _) in staged.items():
            rows = self._tables.setdefault(table, {})
            self._reindex(kind, rows.get(id_), None)
        for (table, id_), (kind, row) in staged.items():
            rows = self._tables[table]
            if row is None:
                rows.pop(id_, None)
            else:
                rows[id_] = row
            self._reindex(kind, None, row)
        self._cursors.update(cursors)
        if purged:
            self._events = [e for e in self._events if e[1] not in purged]
        positions = []
        for event in events:
            self._last_position += 1
            position = self._last_position
            data = event.model_copy(update={"position": position}).model_dump_json()
            self._events.append((position, event.conversation_id, data))
            positions.append(position)
        return positions

    def _check_unique(
        self, staged: Mapping[tuple[str, str], tuple[type[Record], _Row | None]]
    ) -> None:
        claimed: dict[tuple[str, tuple[str, ...], tuple[Any, ...]], str] = {}
        for (table, id_), (kind, row) in staged.items():
            if row is None:
                continue
            for group in kind.unique:
                values = tuple(row.columns[c] for c in group)
                if None in values:
                    continue
                owner = self._unique.get((table, group), {}).get(values)
                if owner is not None and owner != id_ and (table, owner) not in staged:
                    raise DuplicateKeyError(table=table, columns=group)
                if claimed.setdefault((table, group, values), id_) != id_:
                    raise DuplicateKeyError(table=table, columns=group)

    def _reindex(self, kind: type[Record], old: _Row | None, new: _Row | None) -> None:
        for group in kind.unique:
            index = self._unique.setdefault((kind.table, group), {})
            if old is not None:
                index.pop(tuple(old.columns[c] for c in group), None)
            if new is not None:
                values = tuple(new.columns[c] for c in group)
                if None not in values:
                    index[values] = new.columns["id"]

    async def read_events(self, after: int = 0, limit: int = 500) -> list[Event]:
        self._check_open()
        start = bisect.bisect_right(self._events, after, key=lambda e: e[0])
        events: list[Event] = []
        for position, _, data in itertools.islice(self._events, start, None):
            if len(events) >= limit:
                break
            event = read_stored_event(position, data)
            if event is not None:
                events.append(event)
        return events

    async def last_position(self) -> int:
        self._check_open()
        return self._events[-1][0] if self._events else 0

    def default_blob_store(self) -> BlobStore:
        """A fresh in-memory blob store."""
        return MemoryBlobStore()

    async def get_cursor(self, consumer: str) -> int:
        self._check_open()
        return self._cursors.get(consumer, 0)

    # -- dispatch groups -------------------------------------------------------
    # No await in these methods: each runs atomically with respect to other tasks.

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
        self._check_open()
        now = time.time()
        leases = self._leases.setdefault(group, {})
        finished = False
        if done is not None:
            held = leases.get(done.first)
            if done.group == group and held is not None and held.owner == done.owner:
                del leases[done.first]
                finished = True
        if limit == 0:
            return finished, None
        expired = [first for first, lease in leases.items() if lease.until < now]
        if expired:
            first = min(expired)
            lease = leases[first]
            lease.owner, lease.until = owner, now + lease_seconds
            lease.attempts += 1
            return finished, self._lease(group, owner, first, lease)
        claimed = self._groups.setdefault(group, start)
        begin = bisect.bisect_right(self._events, claimed, key=lambda e: e[0])
        batch = self._events[begin : begin + limit]
        if not batch:
            return finished, None
        first, last = batch[0][0], batch[-1][0]
        self._groups[group] = last
        leases[first] = _Lease(last, owner, now + lease_seconds, 1)
        return finished, self._lease(group, owner, first, leases[first])

    def _lease(self, group: str, owner: str, first: int, lease: _Lease) -> Lease:
        begin = bisect.bisect_left(self._events, first, key=lambda e: e[0])
        end = bisect.bisect_right(self._events, lease.last, key=lambda e: e[0])
        return Lease(
            group=group,
            owner=owner,
            first=first,
            last=lease.last,
            expires_at=lease.until,
            attempts=lease.attempts,
            events=[
                event
                for position, _, data in self._events[begin:end]
                if (event := read_stored_event(position, data)) is not None
            ],
        )

    def _held(self, lease: Lease) -> _Lease | None:
        held = self._leases.get(lease.group, {}).get(lease.first)
        return held if held is not None and held.owner == lease.owner else None

    async def renew_lease(self, lease: Lease, lease_seconds: float) -> Lease | None:
        self._check_open()
        held = self._held(lease)
        if held is None:
            return None
        held.until = time.time() + lease_seconds
        return dataclasses.replace(lease, expires_at=held.until)

    async def release_lease(self, lease: Lease, retry_after: float) -> bool:
        self._check_open()
        held = self._held(lease)
        if held is None:
            return False
        held.owner, held.until = None, time.time() + retry_after
        return True

    # -- rate limits -----------------------------------------------------------
    # No await: each call is atomic with respect to other tasks.

    async def rate_hit(
        self, key: str, *, now: float, increment: float, tolerance: float
    ) -> tuple[bool, float]:
        self._check_open()
        allowed, tat = gcra_step(
            self._rates.get(key), now=now, increment=increment, tolerance=tolerance
        )
        if allowed:
            self._rates[key] = tat
        return allowed, tat

    async def rate_peek(self, key: str) -> float | None:
        self._check_open()
        return self._rates.get(key)

    async def rate_purge(self, before: float) -> int:
        self._check_open()
        gone = [key for key, tat in self._rates.items() if tat < before]
        for key in gone:
            del self._rates[key]
        return len(gone)

    async def rate_reset(self, key: str) -> None:
        self._check_open()
        self._rates.pop(key, None)

    async def dispatch_status(self, group: str) -> DispatchStatus:
        self._check_open()
        claimed = self._groups.get(group, 0)
        leases = self._leases.get(group, {})
        now = time.time()
        return DispatchStatus(
            group=group,
            claimed_upto=claimed,
            done_upto=min(leases) - 1 if leases else claimed,
            in_flight=len(leases),
            expired=sum(1 for lease in leases.values() if lease.until < now),
        )
