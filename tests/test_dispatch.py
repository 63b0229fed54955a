"""Outbox dispatch groups: each event handled by one dispatcher, across tasks and OS processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from chatkit import AsyncChatKit, ChatKit, Event, InvalidInputError

from .services import drop_schema, fresh_schema, postgres_or_skip

pytestmark = pytest.mark.anyio


async def _publish(kit: AsyncChatKit, count: int) -> list[str]:
    """Commit ``count`` contact.created events; return their event ids."""
    for n in range(count):
        await kit.contacts.create(name=f"Customer {n}")
    return [e.id for e in (await kit.events.list(limit=1000)).items]


class Recorder:
    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[list[Event]] = []
        self.delay = delay

    async def __call__(self, events: list[Event]) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.batches.append(events)

    @property
    def ids(self) -> list[str]:
        return [e.id for batch in self.batches for e in batch]


async def test_dispatchers_of_one_group_share_every_event_once(kit: AsyncChatKit) -> None:
    ids = await _publish(kit, 45)
    recorders = [Recorder(delay=0.001) for _ in range(3)]
    dispatchers = [kit.events.dispatcher("webhooks", r, batch_size=4) for r in recorders]
    counts = await asyncio.gather(*(d.drain() for d in dispatchers))
    handled = [i for r in recorders for i in r.ids]
    assert sorted(handled) == sorted(ids)
    assert sum(counts) == 45
    assert sum(1 for c in counts if c) >= 2  # the work really was shared
    for recorder in recorders:
        for batch in recorder.batches:
            positions = [e.position or 0 for e in batch]
            assert positions == sorted(positions)
    status = await kit.events.dispatch_status("webhooks")
    assert (status.in_flight, status.expired) == (0, 0)
    assert status.done_upto == status.claimed_upto == await kit.store.last_position()


async def test_each_group_gets_its_own_copy(kit: AsyncChatKit) -> None:
    ids = await _publish(kit, 5)
    crm, audit = Recorder(), Recorder()
    await kit.events.dispatcher("crm", crm).drain()
    await kit.events.dispatcher("audit", audit).drain()
    assert crm.ids == audit.ids == ids


async def test_a_failing_handler_gives_the_batch_back_for_a_retry(kit: AsyncChatKit) -> None:
    ids = await _publish(kit, 3)
    attempts: list[int] = []

    async def flaky(events: list[Event]) -> None:
        attempts.append(len(events))
        if len(attempts) == 1:
            raise RuntimeError("downstream is down")

    dispatcher = kit.events.dispatcher("g", flaky, retry_delay=0.2)
    with pytest.raises(RuntimeError, match="downstream is down"):
        await dispatcher.run_once()
    status = await dispatcher.status()
    assert (status.in_flight, status.done_upto) == (1, 0)
    assert await dispatcher.run_once() == 0  # not before the retry delay
    await asyncio.sleep(0.3)
    good = Recorder()
    assert await kit.events.dispatcher("g", good).drain() == 3
    assert good.ids == ids
    assert (await dispatcher.status()).in_flight == 0


async def test_a_slow_handler_keeps_its_lease(kit: AsyncChatKit) -> None:
    await _publish(kit, 2)
    slow, other = Recorder(delay=0.6), Recorder()
    first = kit.events.dispatcher("g", slow, lease_seconds=0.2)
    second = kit.events.dispatcher("g", other, lease_seconds=0.2)

    async def meanwhile() -> int:
        await asyncio.sleep(0.35)  # past the first lease time, renewed since
        return await second.drain()

    handled, stolen = await asyncio.gather(first.drain(), meanwhile())
    assert (handled, stolen) == (2, 0)
    assert other.ids == []


async def test_types_filter_and_start_at_the_end(kit: AsyncChatKit) -> None:
    await _publish(kit, 2)
    seen = Recorder()
    late = kit.events.dispatcher("late", seen, start="end")
    assert await late.drain() == 0
    contact = await kit.contacts.create(name="New")
    await kit.messages.receive(channel="web", sender="v-new", text="hello")
    only_messages = Recorder()
    await kit.events.dispatcher("messages", only_messages, types={"message.created"}).drain()
    assert [[e.type for e in batch] for batch in only_messages.batches] == [["message.created"]]
    assert await late.drain() >= 3
    assert seen.batches[0][0].contact_id == contact.id


async def test_run_follows_new_commits_until_stopped(kit: AsyncChatKit) -> None:
    seen = Recorder()
    dispatcher = kit.events.dispatcher("live", seen)
    task = asyncio.create_task(dispatcher.run())
    ids = await _publish(kit, 3)
    for _ in range(100):
        if len(seen.ids) == 3:
            break
        await asyncio.sleep(0.02)
    dispatcher.stop()
    await asyncio.wait_for(task, 5)
    assert seen.ids == ids
    status = await dispatcher.status()
    assert (status.in_flight, status.done_upto) == (0, await kit.store.last_position())


async def test_a_stop_before_run_makes_run_return_at_once(kit: AsyncChatKit) -> None:
    seen = Recorder()
    dispatcher = kit.events.dispatcher("early", seen)
    dispatcher.stop()  # e.g. a shutdown that comes right after start-up
    await asyncio.wait_for(dispatcher.run(), 5)
    # The next run starts afresh: it handles what was committed, until stopped.
    task = asyncio.create_task(dispatcher.run())
    ids = await _publish(kit, 2)
    for _ in range(100):
        if len(seen.ids) == 2:
            break
        await asyncio.sleep(0.02)
    dispatcher.stop()
    await asyncio.wait_for(task, 5)
    assert seen.ids == ids


async def test_run_survives_handler_errors(kit: AsyncChatKit) -> None:
    calls: list[int] = []

    async def boom(events: list[Event]) -> None:
        calls.append(len(events))
        raise ValueError("nope")

    dispatcher = kit.events.dispatcher("g", boom, retry_delay=60)
    task = asyncio.create_task(dispatcher.run())
    await _publish(kit, 1)
    for _ in range(100):
        if calls:
            break
        await asyncio.sleep(0.02)
    await _publish(kit, 1)
    for _ in range(100):
        if len(calls) == 2:
            break
        await asyncio.sleep(0.02)
    dispatcher.stop()
    await asyncio.wait_for(task, 5)
    assert calls == [1, 1]
    assert (await dispatcher.status()).in_flight == 2


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"lease_seconds": 0}, "lease_seconds"),
        ({"start": "middle"}, "start"),
        ({"types": "message.created"}, "types"),
        ({"retry_delay": -1}, "retry_delay"),
    ],
)
async def test_bad_options_are_typed_errors(options: dict[str, object], field: str) -> None:
    async with AsyncChatKit("memory://") as kit:
        with pytest.raises(InvalidInputError) as caught:
            kit.events.dispatcher("g", Recorder(), **options)  # type: ignore[arg-type]
        assert caught.value.field == field
        with pytest.raises(InvalidInputError):
            kit.events.dispatcher("", Recorder())


def test_sync_dispatcher_runs_plain_functions() -> None:
    with ChatKit("memory://") as kit:
        for n in range(3):
            kit.contacts.create(name=f"C{n}")
        seen: list[str] = []
        with kit.events.dispatcher("g", lambda events: seen.extend(e.type for e in events)) as d:
            assert d.drain() == 3
            assert d.group == "g"
        assert seen == ["contact.created"] * 3
        assert kit.events.dispatch_status("g").done_upto == 3


# -- several OS processes, one of them killed mid-batch --------------------------------


def _dispatch_worker(url: str, out: str, target: int, hang: bool, go: str) -> None:
    """Drain group ``g`` into ``out`` (one event id per line) until ``target`` is done.

    With ``hang``, the second batch never returns: the process holds its lease
    until it is killed. Without, the worker says READY and waits for the ``go`` file.
    """

    async def run() -> None:
        async with AsyncChatKit(url) as kit:
            batches = 0
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND)

            async def handle(events: list[Event]) -> None:
                nonlocal batches
                batches += 1
                if hang and batches == 2:
                    os.write(fd, b"HOLDING\n")
                    await asyncio.sleep(3600)
                os.write(fd, "".join(f"{e.id}\n" for e in events).encode())
                await asyncio.sleep(0.02)

            dispatcher = kit.events.dispatcher("g", handle, batch_size=10, lease_seconds=1.0)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                await dispatcher.drain()
                status = await dispatcher.status()
                if status.done_upto >= target and status.in_flight == 0:
                    return
                await asyncio.sleep(0.1)
            raise SystemExit("the group did not finish in time")

    if not hang:
        with open(out, "a") as f:
            f.write("READY\n")
        while not os.path.exists(go):
            time.sleep(0.01)
    asyncio.run(run())


async def _kill_one_dispatcher_mid_batch(url: str, tmp_path: Path) -> None:
    async with AsyncChatKit(url) as kit:
        ids = await _publish(kit, 200)
        target = await kit.store.last_position()
    ctx = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"dispatcher-{n}.log" for n in range(3)]
    go = tmp_path / "go"
    doomed = ctx.Process(target=_dispatch_worker, args=(url, str(outs[0]), target, True, str(go)))
    doomed.start()
    for _ in range(600):
        if outs[0].exists() and b"HOLDING" in outs[0].read_bytes():
            break
        await asyncio.sleep(0.05)
    else:
        doomed.kill()
        pytest.fail("the first dispatcher never reached its second batch")
    survivors = [
        ctx.Process(target=_dispatch_worker, args=(url, str(out), target, False, str(go)))
        for out in outs[1:]
    ]
    for p in survivors:
        p.start()
    for _ in range(600):
        if all(out.exists() and b"READY" in out.read_bytes() for out in outs[1:]):
            break
        await asyncio.sleep(0.05)
    go.touch()
    await asyncio.sleep(0.2)  # the survivors are busy while the doomed one holds a lease
    assert doomed.pid is not None
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.join(10)
    for p in survivors:
        p.join(90)
        assert p.exitcode == 0
    lines = [line for out in outs for line in out.read_text().split()]
    assert lines.count("HOLDING") == 1
    handled = Counter(line for line in lines if line not in ("HOLDING", "READY"))
    assert set(handled) == set(ids)  # nothing lost, the killed batch included
    assert max(handled.values()) == 1  # and its first, finished batch not redone
    async with AsyncChatKit(url) as kit:
        status = await kit.events.dispatch_status("g")
    assert (status.done_upto, status.in_flight) == (target, 0)
    shares = [len(out.read_text().split()) - 1 for out in outs[1:]]
    assert all(shares), shares  # both survivors took part


async def test_a_killed_dispatcher_process_leaves_its_batch_to_the_others_sqlite(
    tmp_path: Path,
) -> None:
    await _kill_one_dispatcher_mid_batch(f"sqlite:///{tmp_path / 'support.db'}", tmp_path)


async def test_a_killed_dispatcher_process_leaves_its_batch_to_the_others_postgres(
    tmp_path: Path,
) -> None:
    server = postgres_or_skip()
    schema = fresh_schema()
    try:
        await _kill_one_dispatcher_mid_batch(f"{server}?schema={schema}", tmp_path)
    finally:
        drop_schema(server, schema)
