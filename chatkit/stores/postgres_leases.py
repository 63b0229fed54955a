"""Dispatch groups on PostgreSQL: ranges of the outbox leased to dispatchers.

Lease times use the database server's clock, the one clock every process
shares. Each function runs inside the caller's transaction (see
`PostgresStore.lease_events`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from ..events import Event, read_stored_event
from .base import DispatchStatus, Lease

__all__ = [
    "NOW",
    "RELEASE",
    "RENEW",
    "STATUS",
    "claimed",
    "lease",
    "positioned",
    "status",
    "update",
]

NOW = "extract(epoch FROM clock_timestamp())::float8"
"""Lease times use the database server's clock, the one clock every process shares."""

# The oldest expired range of a group; SKIP LOCKED so that dispatchers racing
# for expired ranges take different ones instead of queueing on the same row.
RECLAIM = f"""
WITH x AS (
    SELECT first_position FROM dispatch_leases
    WHERE group_name = %(group)s AND lease_until < {NOW}
    ORDER BY first_position LIMIT 1
    FOR UPDATE SKIP LOCKED)
UPDATE dispatch_leases l
SET owner = %(owner)s, lease_until = {NOW} + %(seconds)s, attempts = l.attempts + 1
FROM x WHERE l.group_name = %(group)s AND l.first_position = x.first_position
RETURNING l.first_position, l.last_position, l.lease_until, l.attempts"""

# The next range of a group in one round trip: lock the group row, read the
# events after its claimed position, record the lease and move the position.
CLAIM = f"""
WITH g AS (
    SELECT claimed_upto FROM dispatch_groups WHERE name = %(group)s FOR UPDATE),
ev AS (
    SELECT e.position, e.data FROM events e, g
    WHERE e.position > g.claimed_upto ORDER BY e.position LIMIT %(limit)s),
span AS (
    SELECT min(position) AS lo, max(position) AS hi, {NOW} + %(seconds)s AS until FROM ev),
ins AS (
    INSERT INTO dispatch_leases
        (group_name, first_position, last_position, owner, lease_until, attempts)
    SELECT %(group)s, lo, hi, %(owner)s, until, 1 FROM span WHERE lo IS NOT NULL),
upd AS (
    UPDATE dispatch_groups SET claimed_upto = span.hi
    FROM span WHERE name = %(group)s AND span.hi IS NOT NULL)
SELECT ev.position, ev.data, span.until FROM ev, span ORDER BY ev.position"""


RENEW = f"lease_until = {NOW} + %s"
"""`update` setting of a renewed lease."""

RELEASE = f"owner = NULL, lease_until = {NOW} + %s"
"""`update` setting of a released lease."""

STATUS = (
    "SELECT (SELECT claimed_upto FROM dispatch_groups WHERE name = %(g)s), "
    f"COUNT(*), MIN(first_position), COUNT(*) FILTER (WHERE lease_until < {NOW}) "
    "FROM dispatch_leases WHERE group_name = %(g)s"
)
"""Where a group stands, in one row (parameter ``g``: the group); see `status`."""


async def lease(
    conn: psycopg.AsyncConnection[Any],
    group: str,
    owner: str,
    *,
    limit: int,
    lease_seconds: float,
    done: Lease | None,
    start: int,
    known_group: bool,
) -> tuple[bool, Lease | None, list[tuple[Any, ...]]]:
    """Finish ``done``, then take an expired range or claim the next one.

    Returns whether ``done`` was finished, a reclaimed lease, and the rows
    (position, data, lease end) of a newly claimed range (see `claimed`).
    ``known_group``: the group row is known to exist (saves an insert).
    """
    args = {"group": group, "owner": owner, "seconds": lease_seconds, "limit": limit}
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
    cur = await conn.execute(RECLAIM, args)
    row = await cur.fetchone()
    if row is not None:
        first, last, until, attempts = row
        cur = await conn.execute(
            "SELECT position, data FROM events WHERE position BETWEEN %s AND %s ORDER BY position",
            (first, last),
        )
        events = positioned(await cur.fetchall())
        return finished, Lease(group, owner, first, last, until, attempts, events), []
    if not known_group:
        await conn.execute(
            "INSERT INTO dispatch_groups (name, claimed_upto) VALUES (%s, %s) "
            "ON CONFLICT (name) DO NOTHING",
            (group, start),
        )
    cur = await conn.execute(CLAIM, args)
    return finished, None, await cur.fetchall()


def claimed(group: str, owner: str, rows: Sequence[tuple[Any, ...]]) -> Lease | None:
    """The lease of a newly claimed range, from `lease`'s rows (``None``: nothing to claim)."""
    if not rows:
        return None
    events = positioned([(pos, data) for pos, data, _ in rows])
    first, last, until = rows[0][0], rows[-1][0], rows[0][2]
    return Lease(group, owner, first, last, until, 1, events)


async def update(
    conn: psycopg.AsyncConnection[Any], setting: str, lease: Lease, value: float
) -> float | None:
    """Apply ``setting`` (`RENEW` or `RELEASE`) to a lease its owner still holds.

    Returns the new lease end, or ``None`` when the owner no longer held it.
    """
    cur = await conn.execute(
        f"UPDATE dispatch_leases SET {setting} "
        "WHERE group_name = %s AND first_position = %s AND owner = %s "
        "RETURNING lease_until",
        (value, lease.group, lease.first, lease.owner),
    )
    row = await cur.fetchone()
    return None if row is None else float(row[0])


def status(group: str, row: Sequence[Any]) -> DispatchStatus:
    """A `DispatchStatus` from the row `STATUS` selects."""
    claimed_upto, count, oldest, expired = row
    upto = int(claimed_upto or 0)
    return DispatchStatus(
        group=group,
        claimed_upto=upto,
        done_upto=int(oldest) - 1 if count else upto,
        in_flight=int(count),
        expired=int(expired),
    )


def positioned(rows: Sequence[tuple[Any, ...]]) -> list[Event]:
    """Events from ``(position, data)`` rows, with their positions set.

    Unreadable rows are reported and skipped (see `read_stored_event`).
    """
    return [e for pos, data in rows if (e := read_stored_event(pos, data)) is not None]
