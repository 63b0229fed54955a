"""Dispatch groups on SQLite: ranges of the outbox leased to dispatchers.

Each function runs inside one write transaction of the store (see
`SQLiteStore.lease_events`); SQLite has one writer at a time, so two
dispatchers (in any process) never get the same range.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time

from ..events import Event, read_stored_event
from .base import Lease

__all__ = ["drop_lease", "events_between", "lease", "positioned", "release", "renew"]


def positioned(rows: list[tuple[int, str]]) -> list[Event]:
    """Events from ``(position, data)`` rows; unreadable rows are reported and skipped."""
    return [e for pos, data in rows if (e := read_stored_event(pos, data)) is not None]


def lease(
    conn: sqlite3.Connection,
    group: str,
    owner: str,
    *,
    limit: int,
    lease_seconds: float,
    done: Lease | None,
    start: int,
) -> tuple[bool, Lease | None]:
    """Finish ``done`` and lease the next range of ``group`` to ``owner``."""
    finished = done is not None and drop_lease(conn, group, done)
    if limit == 0:
        return finished, None
    now = time.time()
    until = now + lease_seconds
    row = conn.execute(
        "SELECT first_position, last_position, attempts FROM dispatch_leases "
        "WHERE group_name = ? AND lease_until < ? ORDER BY first_position LIMIT 1",
        (group, now),
    ).fetchone()
    if row is not None:
        first, last, attempts = row
        conn.execute(
            "UPDATE dispatch_leases SET owner = ?, lease_until = ?, attempts = ? "
            "WHERE group_name = ? AND first_position = ?",
            (owner, until, attempts + 1, group, first),
        )
        events = events_between(conn, first, last)
        return finished, Lease(group, owner, first, last, until, attempts + 1, events)
    conn.execute(
        "INSERT INTO dispatch_groups (name, claimed_upto) VALUES (?, ?) "
        "ON CONFLICT (name) DO NOTHING",
        (group, start),
    )
    claimed = conn.execute(
        "SELECT claimed_upto FROM dispatch_groups WHERE name = ?", (group,)
    ).fetchone()[0]
    rows = conn.execute(
        "SELECT position, data FROM events WHERE position > ? ORDER BY position LIMIT ?",
        (claimed, limit),
    ).fetchall()
    if not rows:
        return finished, None
    first, last = rows[0][0], rows[-1][0]
    conn.execute(
        "INSERT INTO dispatch_leases (group_name, first_position, last_position, owner, "
        "lease_until, attempts) VALUES (?, ?, ?, ?, ?, 1)",
        (group, first, last, owner, until),
    )
    conn.execute("UPDATE dispatch_groups SET claimed_upto = ? WHERE name = ?", (last, group))
    events = positioned(rows)
    return finished, Lease(group, owner, first, last, until, 1, events)


def drop_lease(conn: sqlite3.Connection, group: str, lease: Lease) -> bool:
    cur = conn.execute(
        "DELETE FROM dispatch_leases WHERE group_name = ? AND first_position = ? AND owner = ?",
        (lease.group, lease.first, lease.owner),
    )
    return lease.group == group and cur.rowcount == 1


def events_between(conn: sqlite3.Connection, first: int, last: int) -> list[Event]:
    rows = conn.execute(
        "SELECT position, data FROM events WHERE position BETWEEN ? AND ? ORDER BY position",
        (first, last),
    ).fetchall()
    return positioned(rows)


def renew(conn: sqlite3.Connection, lease: Lease, lease_seconds: float) -> Lease | None:
    """Extend ``lease`` by ``lease_seconds`` from now, if its owner still holds it."""
    until = time.time() + lease_seconds
    cur = conn.execute(
        "UPDATE dispatch_leases SET lease_until = ? "
        "WHERE group_name = ? AND first_position = ? AND owner = ?",
        (until, lease.group, lease.first, lease.owner),
    )
    return dataclasses.replace(lease, expires_at=until) if cur.rowcount == 1 else None


def release(conn: sqlite3.Connection, lease: Lease, retry_after: float) -> bool:
    """Give ``lease`` back, to be taken again after ``retry_after`` seconds."""
    cur = conn.execute(
        "UPDATE dispatch_leases SET owner = NULL, lease_until = ? "
        "WHERE group_name = ? AND first_position = ? AND owner = ?",
        (time.time() + retry_after, lease.group, lease.first, lease.owner),
    )
    return cur.rowcount == 1
