"""Rate limits: GCRA on memory, the store (memory, SQLite, PostgreSQL) and Redis.

Every backend is tested for the same behaviour: the limit holds exactly at
its boundary, the burst comes back as time passes (an injected clock, no
sleeping), two limiters on two connections share one count, many
concurrent hits never pass more than the limit, and processes share counts.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import secrets
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from chatkit import AsyncChatKit, ChatKitError, ConfigurationError, InvalidInputError
from chatkit.errors import RateLimitedError
from chatkit.ratelimit import (
    Decision,
    MemoryBackend,
    RateLimit,
    RateLimitBackend,
    RateLimiter,
    RateLimits,
    StoreBackend,
)
from chatkit.stores import open_store

from .services import drop_schema, fresh_schema, postgres_or_skip, redis_or_skip

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


MakeBackend = Callable[[], Awaitable[RateLimitBackend]]


@pytest.fixture(params=["memory", "memory-store", "sqlite", "postgresql", "redis"])
async def backends(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeBackend]:
    """Makes backends that share their counts (separate connections where there are any)."""
    opened: list[AsyncChatKit | RateLimitBackend] = []
    kind = request.param
    schema = None
    server = ""
    if kind == "memory":
        shared = MemoryBackend()

        async def make() -> RateLimitBackend:
            return shared
    elif kind == "memory-store":
        kit = AsyncChatKit("memory://")
        opened.append(kit)

        async def make() -> RateLimitBackend:
            return StoreBackend(kit)
    elif kind in ("sqlite", "postgresql"):
        if kind == "sqlite":
            url = f"sqlite:///{tmp_path / 'limits.db'}"
        else:
            server = postgres_or_skip()
            schema = fresh_schema()
            url = f"{server}?schema={schema}&pool_max=8"

        async def make() -> RateLimitBackend:
            kit = AsyncChatKit(url)
            opened.append(kit)
            await kit.open()
            return StoreBackend(kit)
    else:
        redis_url = redis_or_skip()
        prefix = f"test-{secrets.token_hex(6)}:"

        async def make() -> RateLimitBackend:
            from chatkit.ratelimit.redis import RedisBackend

            backend = RedisBackend(redis_url, prefix=prefix)
            opened.append(backend)
            return backend

    try:
        yield make
    finally:
        for thing in reversed(opened):
            await thing.close()
        if schema is not None:
            drop_schema(server, schema)


def limiter(backend: RateLimitBackend, clock: Clock, **limits: object) -> RateLimiter:
    return RateLimiter(backend, RateLimits(**limits), clock=clock, secret="s" * 32)


async def hits(lim: RateLimiter, n: int, name: str = "new_session", key: str = "ip") -> list[bool]:
    return [(await lim.hit(name, key)).allowed for _ in range(n)]


# -- the limit itself ---------------------------------------------------------


async def test_exactly_limit_requests_pass_then_one_per_interval(backends: MakeBackend) -> None:
    clock = Clock()
    lim = limiter(await backends(), clock, new_session=RateLimit(5, timedelta(hours=1)))
    decisions = [await lim.hit("new_session", "203.0.113.7") for _ in range(5)]
    assert all(d.allowed for d in decisions)
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0]
    refused = await lim.hit("new_session", "203.0.113.7")
    assert not refused.allowed
    assert refused.remaining == 0
    assert refused.retry_after == pytest.approx(720, abs=1e-3)  # one interval: 3600 / 5
    # Refused hits are not counted: a second refusal waits just as long.
    assert (await lim.hit("new_session", "203.0.113.7")).retry_after == pytest.approx(720, abs=1e-3)
    # A microsecond early is still too early; at the boundary exactly, one more passes.
    clock.advance(720 - 0.01)
    assert not (await lim.hit("new_session", "203.0.113.7")).allowed
    clock.advance(0.01)
    assert (await lim.hit("new_session", "203.0.113.7")).allowed
    assert not (await lim.hit("new_session", "203.0.113.7")).allowed
    # Another key is counted on its own.
    assert (await lim.hit("new_session", "198.51.100.1")).remaining == 4


async def test_the_burst_comes_back_after_a_quiet_period(backends: MakeBackend) -> None:
    clock = Clock()
    lim = limiter(await backends(), clock, new_conversation=RateLimit(6, timedelta(hours=12)))
    assert await hits(lim, 7, "new_conversation") == [True] * 6 + [False]
    clock.advance(6 * 3600)  # half the period: half the burst is back
    assert await hits(lim, 4, "new_conversation") == [True] * 3 + [False]
    clock.advance(12 * 3600)
    assert await hits(lim, 7, "new_conversation") == [True] * 6 + [False]


async def test_no_double_burst_at_a_window_edge(backends: MakeBackend) -> None:
    """Unlike a fixed window, a full burst just before "the hour" leaves nothing just after it."""
    clock = Clock(T0 + 3599)
    lim = limiter(await backends(), clock, new_session=RateLimit(5, 3600))
    assert await hits(lim, 5) == [True] * 5
    clock.advance(2)
    assert await hits(lim, 1) == [False]


async def test_check_does_not_count(backends: MakeBackend) -> None:
    clock = Clock()
    lim = limiter(await backends(), clock, failed_auth=RateLimit(2, 60))
    for _ in range(5):
        decision = await lim.check("failed_auth", "ip")
        assert decision.allowed
        assert decision.remaining == 1
    assert await hits(lim, 2, "failed_auth") == [True, True]
    checked = await lim.check("failed_auth", "ip")
    assert not checked.allowed
    assert checked.retry_after == pytest.approx(30, abs=1e-3)


async def test_enforce_raises_a_typed_error_with_retry_after(backends: MakeBackend) -> None:
    clock = Clock()
    lim = limiter(await backends(), clock, message=RateLimit(2, 10))
    await lim.enforce("message", "sess")
    await lim.enforce("message", "sess")
    with pytest.raises(RateLimitedError) as caught:
        await lim.enforce("message", "sess")
    error = caught.value
    assert isinstance(error, ChatKitError)
    assert error.limit_name == "message"
    assert error.retry_after == pytest.approx(5, abs=1e-3)
    assert error.retry_after_header == "5"
    assert (error.limit, error.period) == (2, 10)
    assert error.headers == {
        "RateLimit-Limit": "2",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "10",
        "Retry-After": "5",
    }


async def test_cost_weighs_a_request_as_several(backends: MakeBackend) -> None:
    clock = Clock()
    lim = limiter(await backends(), clock, upload=RateLimit(10, 100))
    assert (await lim.hit("upload", "s", cost=7)).remaining == 3
    refused = await lim.hit("upload", "s", cost=4)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(10, abs=1e-3)
    assert (await lim.hit("upload", "s", cost=3)).allowed


async def test_reset_forgets_a_key(backends: MakeBackend) -> None:
    lim = limiter(await backends(), Clock(), failed_auth=RateLimit(1, 600))
    assert await hits(lim, 2, "failed_auth") == [True, False]
    await lim.reset("failed_auth", "ip")
    assert await hits(lim, 2, "failed_auth") == [True, False]


# -- sharing ------------------------------------------------------------------


async def test_two_connections_share_one_count(backends: MakeBackend) -> None:
    clock = Clock()
    one = limiter(await backends(), clock, new_session=RateLimit(4, 3600))
    two = limiter(await backends(), clock, new_session=RateLimit(4, 3600))
    assert await hits(one, 2) == [True, True]
    assert await hits(two, 2) == [True, True]
    assert await hits(one, 1) == [False]
    assert await hits(two, 1) == [False]
    clock.advance(900)
    assert await hits(two, 2) == [True, False]


async def test_concurrent_hits_never_pass_more_than_the_limit(backends: MakeBackend) -> None:
    clock = Clock()
    limiters = [limiter(await backends(), clock, message=RateLimit(25, 3600)) for _ in range(2)]

    async def one(n: int) -> Decision:
        return await limiters[n % 2].hit("message", "busy-session")

    decisions = await asyncio.gather(*(one(n) for n in range(120)))
    assert sum(d.allowed for d in decisions) == 25
    assert not (await limiters[0].check("message", "busy-session")).allowed


def _hit_from_process(url: str, prefix: str, tries: int, out: multiprocessing.Queue[int]) -> None:
    async def run() -> int:
        backend: RateLimitBackend
        kit = None
        if url.startswith("redis"):
            from chatkit.ratelimit.redis import RedisBackend

            backend = RedisBackend(url, prefix=prefix)
        else:
            kit = AsyncChatKit(url)
            backend = StoreBackend(kit)
        lim = RateLimiter(backend, RateLimits(new_session=RateLimit(10, 3600)), secret="s" * 32)
        try:
            return sum(
                [(await lim.hit("new_session", "203.0.113.9")).allowed for _ in range(tries)]
            )
        finally:
            await lim.close()
            if kit is not None:
                await kit.close()

    out.put(asyncio.run(run()))


def _processes_share(url: str, prefix: str = "") -> None:
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[int] = ctx.Queue()
    workers = [ctx.Process(target=_hit_from_process, args=(url, prefix, 8, out)) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    assert sum(out.get(timeout=5) for _ in workers) == 10  # 24 tries, limit 10


def test_processes_share_counts_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"

    async def create() -> None:
        async with AsyncChatKit(url):
            pass

    asyncio.run(create())  # the schema exists before the processes race to open it
    _processes_share(url)
    rows = sqlite3.connect(tmp_path / "shared.db").execute("SELECT key FROM rate_limits").fetchall()
    assert len(rows) == 1
    assert "203.0.113.9" not in rows[0][0]  # the key is hashed


def test_processes_share_counts_on_postgres() -> None:
    server = postgres_or_skip()
    schema = fresh_schema()
    try:
        url = f"{server}?schema={schema}"

        async def create() -> None:
            async with AsyncChatKit(url):
                pass

        asyncio.run(create())
        _processes_share(url)
    finally:
        drop_schema(server, schema)


def test_processes_share_counts_on_redis() -> None:
    _processes_share(redis_or_skip(), f"test-{secrets.token_hex(6)}:")


# -- storage ------------------------------------------------------------------


async def test_keys_are_stored_hashed_and_expired_rows_are_purged(tmp_path: Path) -> None:
    clock = Clock()
    db = tmp_path / "limits.db"
    async with AsyncChatKit(f"sqlite:///{db}") as kit:
        lim = RateLimiter(
            kit, RateLimits(new_session=RateLimit(2, 60)), clock=clock, purge_every=30
        )
        await lim.hit("new_session", "203.0.113.7")
        await lim.hit("new_session", "2001:db8::1")
        rows = await asyncio.to_thread(
            lambda: sqlite3.connect(db).execute("SELECT key FROM rate_limits").fetchall()
        )
        assert len(rows) == 2
        for (key,) in rows:
            assert key.startswith("new_session:")
            assert len(key) == len("new_session:") + 64
            assert "203.0.113" not in key
            assert "2001" not in key
        # 60 s on, both cells are empty; the next hit (past purge_every) clears them.
        clock.advance(61)
        await lim.hit("new_session", "198.51.100.1")
        rows = await asyncio.to_thread(
            lambda: sqlite3.connect(db).execute("SELECT key FROM rate_limits").fetchall()
        )
        assert len(rows) == 1
        assert rows[0][0] == lim.hashed("new_session", "198.51.100.1")


async def test_purge_on_every_store(store_url: str) -> None:
    clock = Clock()
    async with AsyncChatKit(store_url) as kit:
        lim = RateLimiter(kit, RateLimits(typing=RateLimit(4, 4)), clock=clock, purge_every=1e6)
        for key in ("a", "b", "c"):
            await lim.hit("typing", key)
        assert (await lim.hit("typing", "a", cost=3)).allowed  # "a" is busy for 4 s
        clock.advance(1.5)
        assert await lim.purge() == 2  # b and c are empty; a is not
        after = await lim.check("typing", "a")  # one more fits, and none after it
        assert after.allowed
        assert after.remaining == 0


async def test_different_secrets_do_not_share_counts() -> None:
    backend = MemoryBackend()
    one = RateLimiter(backend, RateLimits(new_session=RateLimit(1, 60)), secret="a" * 16)
    two = RateLimiter(backend, RateLimits(new_session=RateLimit(1, 60)), secret="b" * 16)
    assert (await one.hit("new_session", "ip")).allowed
    assert (await two.hit("new_session", "ip")).allowed
    assert one.hashed("new_session", "ip") != two.hashed("new_session", "ip")


async def test_a_store_without_rate_limits_is_a_configuration_error() -> None:
    from chatkit.stores.memory import MemoryStore

    class Plain(MemoryStore):
        rate_hit = MemoryStore.__bases__[0].rate_hit  # the contract's default

    store = Plain()
    await store.open()
    lim = RateLimiter(store)
    with pytest.raises(ConfigurationError, match="cannot keep rate limits"):
        await lim.hit("new_session", "ip")


# -- configuration and input --------------------------------------------------


def test_limits_parse_from_specs_and_settings() -> None:
    assert RateLimit.parse("5/h") == RateLimit(5, 3600)
    assert RateLimit.parse("6/12h") == RateLimit(6, timedelta(hours=12))
    assert RateLimit.parse("30 / min") == RateLimit(30, 60)
    assert RateLimit.parse("20/2.5s").period == 2.5
    limits = RateLimits.model_validate(
        {"message": "10/min", "typing": None, "custom": {"x": "1/d"}}
    )
    assert limits.get("message") == RateLimit(10, 60)
    assert limits.get("typing") is None
    assert limits.get("x") == RateLimit(1, 86400)
    assert RateLimits().get("new_session") == RateLimit(5, 3600)
    assert RateLimits().get("new_conversation") == RateLimit(6, 12 * 3600)
    assert RateLimits().get("offline_message") == RateLimit(5, 3600)
    assert RateLimits.model_validate(RateLimits().model_dump()) == RateLimits()


@pytest.mark.parametrize(
    "make",
    [
        lambda: RateLimit(0, 60),
        lambda: RateLimit(5, 0),
        lambda: RateLimit(5, -1),
        lambda: RateLimit(5, timedelta(days=400)),
        lambda: RateLimit(True, 60),  # type: ignore[arg-type]
        lambda: RateLimit("5", 60),  # type: ignore[arg-type]
        lambda: RateLimit(5, True),
        lambda: RateLimit.parse("5 per hour"),
        lambda: RateLimit.parse("5/fortnight"),
        lambda: RateLimits(message=RateLimit(1, 1), nonsense=RateLimit(1, 1)),
        lambda: RateLimits(custom={"message": RateLimit(1, 1)}),
        lambda: RateLimiter("memcached://x"),
        lambda: RateLimiter(42),  # type: ignore[arg-type]
        lambda: RateLimiter(secret="short"),
        lambda: RateLimiter(purge_every=0),
        lambda: RateLimiter(limits=[1, 2]),  # type: ignore[arg-type]
    ],
)
def test_bad_configuration_is_a_configuration_error(make: Callable[[], object]) -> None:
    with pytest.raises(ConfigurationError):
        make()


async def test_bad_names_keys_and_costs_are_typed_errors() -> None:
    backend = MemoryBackend()
    lim = RateLimiter(backend, {"export": RateLimit(3, 60)})
    with pytest.raises(ConfigurationError, match="no rate limit named"):
        await lim.hit("exports", "ip")
    assert (await lim.hit("new_session", "ip")).limit is None  # left out of the mapping: off
    for key in ("", "x" * 5000, None, 7):
        with pytest.raises(InvalidInputError):
            await lim.hit("export", key)  # type: ignore[arg-type]
    for cost in (0, -1, 4, 1.5, True):
        with pytest.raises(InvalidInputError):
            await lim.hit("export", "k", cost=cost)  # type: ignore[arg-type]
    assert backend.cells == {}  # nothing was counted


async def test_a_limit_turned_off_allows_everything_and_stores_nothing() -> None:
    backend = MemoryBackend()
    lim = RateLimiter(backend, RateLimits(typing=None))
    for _ in range(100):
        decision = await lim.enforce("typing", "s")
        assert decision.allowed
        assert decision.limit is None
        assert decision.headers() == {}
    assert backend.cells == {}


async def test_decision_headers() -> None:
    clock = Clock()
    lim = RateLimiter(MemoryBackend(), RateLimits(message=RateLimit(2, 60)), clock=clock)
    first = await lim.hit("message", "s")
    assert first.headers() == {
        "RateLimit-Limit": "2",
        "RateLimit-Remaining": "1",
        "RateLimit-Reset": "30",
    }
    await lim.hit("message", "s")
    refused = await lim.hit("message", "s")
    assert refused.headers()["Retry-After"] == "30"
    assert refused.headers()["RateLimit-Remaining"] == "0"


async def test_open_store_rate_methods_roundtrip(tmp_path: Path) -> None:
    """The store contract: refused hits change nothing; peek and reset see the cell."""
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    await store.open()
    try:
        assert await store.rate_hit("k", now=100.0, increment=10.0, tolerance=20.0) == (True, 110.0)
        assert await store.rate_hit("k", now=100.0, increment=10.0, tolerance=20.0) == (True, 120.0)
        assert await store.rate_hit("k", now=100.0, increment=10.0, tolerance=20.0) == (
            False,
            120.0,
        )
        assert await store.rate_peek("k") == 120.0
        assert await store.rate_hit("k", now=100.0, increment=30.0, tolerance=20.0) == (
            False,
            120.0,
        )
        await store.rate_reset("k")
        assert await store.rate_peek("k") is None
    finally:
        await store.close()


def test_the_blocking_limiter_shares_the_kit_store(tmp_path: Path) -> None:
    from chatkit import ChatKit
    from chatkit.ratelimit import SyncRateLimiter

    url = f"sqlite:///{tmp_path / 'sync.db'}"
    clock = Clock()
    with ChatKit(url) as one, ChatKit(url) as two:
        first = SyncRateLimiter(one, {"new_session": RateLimit(3, 60)}, clock=clock)
        second = SyncRateLimiter(two, {"new_session": RateLimit(3, 60)}, clock=clock)
        assert first.hit("new_session", "ip").remaining == 2
        assert second.hit("new_session", "ip").remaining == 1
        assert first.enforce("new_session", "ip").remaining == 0
        with pytest.raises(RateLimitedError):
            second.enforce("new_session", "ip")
        assert not first.check("new_session", "ip").allowed
        second.reset("new_session", "ip")
        assert first.check("new_session", "ip").allowed
        clock.advance(3600)
        assert first.purge() == 0  # "ip" was reset: nothing left to purge
        assert first.hashed("new_session", "ip") == second.hashed("new_session", "ip")


async def test_an_unreachable_redis_is_a_store_error_without_the_password() -> None:
    pytest.importorskip("redis")
    from chatkit.errors import StoreError

    lim = RateLimiter("redis://:hunter2@127.0.0.1:1/0")
    try:
        with pytest.raises(StoreError) as caught:
            await lim.hit("new_session", "ip")
        assert "hunter2" not in str(caught.value)
        assert "hunter2" not in repr(lim)
    finally:
        await lim.close()


def test_redis_urls() -> None:
    pytest.importorskip("redis")
    from chatkit.ratelimit.redis import RedisBackend

    backend = RedisBackend.from_url("redis://127.0.0.1:6379/0?prefix=myapp:rl:")
    assert backend.prefix == "myapp:rl:"
    with pytest.raises(ConfigurationError, match="unknown"):
        RedisBackend.from_url("redis://127.0.0.1:6379/0?colour=blue")
    with pytest.raises(ConfigurationError):
        RedisBackend("http://127.0.0.1:6379/0")


async def test_no_drift_with_an_interval_floats_cannot_hold(backends: MakeBackend) -> None:
    """1000 s / 7 is no exact float: steady requests one interval apart still all pass."""
    clock = Clock()
    lim = limiter(await backends(), clock, custom={"odd": RateLimit(7, 1000)})
    assert await hits(lim, 8, "odd") == [True] * 7 + [False]
    for _ in range(40):
        clock.advance(1000 / 7)
        assert await hits(lim, 2, "odd") == [True, False]
