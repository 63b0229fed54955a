"""The Redis transport: commit signals reach subscribers in other kits and processes."""

from __future__ import annotations

import multiprocessing
import secrets
import time
from pathlib import Path

import anyio
import pytest

from chatkit import AsyncChatKit, ChatKitSettings, TransportError
from chatkit.events import MessageCreated
from chatkit.transports import MemoryTransport, open_transport

from .services import redis_or_skip

pytestmark = pytest.mark.anyio

# Polling so slow that only a Redis signal can explain a fast delivery.
SLOW_POLL = ChatKitSettings(event_poll_interval=30)


@pytest.fixture
def redis_url() -> str:
    return f"{redis_or_skip()}?namespace=test-{secrets.token_hex(4)}"


async def test_signal_from_another_kit_wakes_a_subscriber(tmp_path: Path, redis_url: str) -> None:
    db = f"sqlite:///{tmp_path}/shared.db"
    async with (
        AsyncChatKit(db, settings=SLOW_POLL, transport=redis_url) as reader,
        AsyncChatKit(db, settings=SLOW_POLL, transport=redis_url) as writer,
    ):
        events = reader.events.subscribe(types={"message.created"})
        got: list[object] = []

        async def listen() -> None:
            got.append(await events.__anext__())

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(listen)
                await anyio.sleep(0.1)
                started = time.perf_counter()
                await writer.messages.receive(channel="web", sender="v1", text="across kits")
        elapsed = time.perf_counter() - started
        await events.aclose()
    [event] = got
    assert isinstance(event, MessageCreated)
    assert event.message.text == "across kits"
    assert elapsed < 2  # far below the 30 s poll


def _write_from_another_process(db: str, redis_url: str) -> None:
    import asyncio

    async def run() -> None:
        async with AsyncChatKit(db, transport=redis_url) as kit:
            await kit.messages.receive(channel="web", sender="v9", text="from process 2")

    asyncio.run(run())


async def test_events_from_another_process_arrive_in_order(tmp_path: Path, redis_url: str) -> None:
    db = f"sqlite:///{tmp_path}/shared.db"
    async with AsyncChatKit(db, settings=SLOW_POLL, transport=redis_url) as kit:
        await kit.open()
        events = kit.events.subscribe(after=0)
        got: list[str] = []

        async def listen() -> None:
            async for event in events:
                got.append(event.type)
                if event.type == "message.created":
                    return

        process = multiprocessing.get_context("spawn").Process(
            target=_write_from_another_process, args=(db, redis_url)
        )
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(listen)
                await anyio.sleep(0.1)
                process.start()
            await anyio.to_thread.run_sync(process.join)
        await events.aclose()
    assert process.exitcode == 0
    assert got == ["contact.created", "conversation.created", "message.created"]


async def test_unreachable_redis_is_a_clear_error() -> None:
    kit = AsyncChatKit("memory://", transport="redis://:secret@127.0.0.1:1/0")
    with pytest.raises(TransportError) as caught:
        await kit.open()
    assert "127.0.0.1:1" in str(caught.value)
    assert "secret" not in str(caught.value)


def test_transport_urls() -> None:
    assert isinstance(open_transport("memory://"), MemoryTransport)
    transport = open_transport("redis://localhost:6379/2?namespace=support")
    assert transport.channel == "chatkit:support:events"  # type: ignore[attr-defined]


async def test_listener_reconnects_after_its_connection_is_killed(
    tmp_path: Path, redis_url: str
) -> None:
    import redis

    db = f"sqlite:///{tmp_path}/shared.db"
    async with (
        AsyncChatKit(db, settings=SLOW_POLL, transport=redis_url) as reader,
        AsyncChatKit(db, settings=SLOW_POLL, transport=redis_url) as writer,
    ):
        admin = redis.Redis.from_url(redis_url.split("?")[0])
        killed = admin.client_kill_filter(_type="pubsub")
        admin.close()
        assert killed >= 1
        await anyio.sleep(1.0)  # the listener backs off, then subscribes again
        events = reader.events.subscribe(types={"message.created"})
        got: list[object] = []

        async def listen() -> None:
            got.append(await events.__anext__())

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(listen)
                await anyio.sleep(0.1)
                await writer.messages.receive(channel="web", sender="v2", text="after reconnect")
        await events.aclose()
    [event] = got
    assert isinstance(event, MessageCreated)
    assert event.message.text == "after reconnect"


def test_query_options_other_than_namespace_reach_redis_py() -> None:
    transport = open_transport("redis://localhost:6379/2?password=s3cret&namespace=support")
    assert transport.channel == "chatkit:support:events"  # type: ignore[attr-defined]
    assert transport.url == "redis://localhost:6379/2?password=s3cret"  # type: ignore[attr-defined]
    assert "s3cret" not in repr(transport)


async def test_password_in_the_query_authenticates(tmp_path: Path) -> None:
    """``?password=`` is how redis-py takes a password that userinfo cannot hold."""
    import redis

    base = redis_or_skip()
    user, password = f"chatkit-test-{secrets.token_hex(4)}", "p@ss/word#1"
    admin = redis.Redis.from_url(base)
    admin.acl_setuser(
        user,
        enabled=True,
        passwords=[f"+{password}"],
        keys=["*"],
        channels=["*"],
        commands=["+@all"],
    )
    try:
        host = base.split("//", 1)[1]
        from urllib.parse import quote

        good = f"redis://{user}@{host}?password={quote(password, safe='')}&namespace=t"
        async with AsyncChatKit(f"sqlite:///{tmp_path}/a.db", transport=good) as kit:
            await kit.messages.receive(channel="sms", sender="+15550100000", text="hi")
        bad = f"redis://{user}@{host}?password=wrong-one&namespace=t"
        kit = AsyncChatKit("memory://", transport=bad)
        with pytest.raises(TransportError) as caught:
            await kit.open()
        assert "wrong-one" not in str(caught.value)
    finally:
        admin.acl_deluser(user)
        admin.close()
