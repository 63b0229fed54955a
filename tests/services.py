"""Where the tests find PostgreSQL, and what they do when it is not there.

The addresses come from ``CHATKIT_POSTGRES_URL`` (default: the local server,
``postgresql://postgres@127.0.0.1:5432/test``) and ``CHATKIT_REDIS_URL``
(default ``redis://127.0.0.1:6379/0``). Without a reachable server
the tests that need it are skipped with the reason, unless
``CHATKIT_REQUIRE_SERVICES=1`` (set by ``.ci/run``), which makes them fail.
"""

from __future__ import annotations

import os
import secrets

import pytest

POSTGRES_URL = os.environ.get("CHATKIT_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CHATKIT_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRED = os.environ.get("CHATKIT_REQUIRE_SERVICES") == "1"


def _missing(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"CHATKIT_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def driver_or_skip() -> None:
    """Skip (or fail under CHATKIT_REQUIRE_SERVICES=1) when psycopg is missing."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _missing("psycopg is not installed (pip install 'chatkit[postgres]')")


def postgres_or_skip() -> str:
    """Return the PostgreSQL URL, or skip (fail under CHATKIT_REQUIRE_SERVICES=1)."""
    try:
        import psycopg
    except ImportError:
        reason = "psycopg is not installed (pip install 'chatkit[postgres]')"
    else:
        try:
            with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            return POSTGRES_URL
        except psycopg.Error as exc:
            reason = f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}"
    _missing(reason)
    raise AssertionError("unreachable")


def fresh_schema() -> str:
    """A new, unused schema name for one test."""
    return f"chatkit_test_{secrets.token_hex(6)}"


def drop_schema(url: str, schema: str) -> None:
    """Remove a test schema and everything in it."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def redis_or_skip() -> str:
    """Return the Redis URL, or skip (fail under CHATKIT_REQUIRE_SERVICES=1)."""
    try:
        import redis
    except ImportError:
        _missing("redis is not installed (pip install 'chatkit[redis]')")
        raise AssertionError("unreachable") from None
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        client.ping()
        client.close()
        return REDIS_URL
    except (redis.RedisError, OSError) as exc:
        _missing(f"Redis is not reachable at {REDIS_URL}: {exc}")
    raise AssertionError("unreachable")
