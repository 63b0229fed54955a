"""Connecting the PostgreSQL store: its URL, the first connection, the pool, retries.

- `split_url` takes chatkit's options out of a ``postgresql://`` URL and
  leaves the rest (``sslmode``...) to libpq; `mask_url` (from
  `chatkit.redact`) hides its credentials in errors and logs.
- `connect` makes the first, direct connection: an unreachable server fails
  at once (or after ``connect_timeout``) with one `StoreError` carrying
  libpq's reason, instead of a pool logging every retry until its timeout.
- `make_pool` and `open_pool` build and fill the connection pool.
- `run` runs a unit of work on a pooled connection, again on another one
  when the server had dropped the first while it sat in the pool.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ..errors import ConfigurationError, StoreError
from ..redact import mask_text, mask_url

__all__ = ["OPTIONS", "connect", "flag", "make_pool", "mask_url", "open_pool", "run", "split_url"]

log = logging.getLogger("chatkit.stores.postgres")
T = TypeVar("T")

OPTIONS = ("schema", "pool_min", "pool_max", "connect_timeout", "group_commit")
"""URL query options that are chatkit's (removed before connecting)."""


def flag(value: str) -> bool:
    """A boolean URL option: ``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``.

    Raises:
        ValueError: Anything else.
    """
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected 0 or 1, got {value!r}")


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """The libpq connection URL and chatkit's `OPTIONS` found in ``url``.

    Raises:
        ConfigurationError: Not a ``postgresql://`` (or ``postgres://``) URL with a host.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        raise ConfigurationError(f"expected postgresql://user@host/db, got {mask_url(url)!r}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    ours = {k: v for k, v in query if k in OPTIONS}
    rest = [(k, v) for k, v in query if k not in OPTIONS]
    return urlunsplit(parts._replace(scheme="postgresql", query=urlencode(rest))), ours


def _unreachable(conninfo: str, reason: str) -> StoreError:
    return StoreError(f"cannot connect to PostgreSQL at {mask_url(conninfo)}: {mask_text(reason)}")


async def connect(conninfo: str, *, options: str, timeout: float) -> psycopg.AsyncConnection[Any]:
    """One autocommit connection, within ``timeout`` seconds.

    Raises:
        StoreError: The server refused, did not answer in time or refused
            the credentials; the message has libpq's reason on one line and
            the URL with its password masked. Nothing is logged.
    """
    try:
        return await asyncio.wait_for(
            psycopg.AsyncConnection.connect(
                conninfo,
                options=options,
                autocommit=True,
                connect_timeout=max(2, math.ceil(timeout)),  # libpq's own, whole seconds
            ),
            timeout,
        )
    except (TimeoutError, psycopg.Error, OSError) as exc:
        reason = " ".join(str(exc).split()) or f"no answer within {timeout:g} s"
        raise _unreachable(conninfo, reason) from None


def make_pool(
    conninfo: str, *, options: str, min_size: int, max_size: int, name: str
) -> AsyncConnectionPool:
    """An unopened pool of autocommit connections (writes open their own transaction, see `run`)."""
    return AsyncConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        open=False,
        kwargs={"options": options, "autocommit": True},
        name=name,
        # No check on checkout (it would cost a round trip per use): a
        # connection found dead is dropped and the work retried, see run.
        reconnect_timeout=60.0,
    )


async def open_pool(pool: AsyncConnectionPool, conninfo: str, timeout: float) -> None:
    """Open ``pool`` and wait for its first connections (closing it on failure).

    Raises:
        StoreError: The connections could not be made within ``timeout`` seconds.
    """
    try:
        await pool.open(wait=True, timeout=timeout)
    except (PoolTimeout, psycopg.Error) as exc:
        await pool.close()
        raise _unreachable(conninfo, str(exc)) from exc


async def run(
    pool: AsyncConnectionPool,
    work: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]],
    *,
    transaction: bool = True,
    attempts: int,
) -> T:
    """Run ``work`` in one transaction on a pooled connection and commit.

    With ``transaction=False`` (a single read) it runs in autocommit.

    A connection the server dropped while it sat in the pool (restart,
    failover, idle kill) fails on first use, before anything of ``work``
    could commit: it is discarded and ``work`` runs again on another (at
    most ``attempts`` more times), while the pool reconnects with backoff. A
    failure while committing is raised (its outcome is unknown), so no
    write is retried twice.
    """
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
                if committing or not conn.broken or attempt >= attempts:
                    raise
                log.info("PostgreSQL connection was dropped; retrying on another")
    raise AssertionError("unreachable")
