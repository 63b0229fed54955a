"""The background worker: jobs on schedule, leases across workers, clean stops, health."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from chatkit import AsyncChatKit, ChatKit, ChatKitSettings, InvalidInputError, SLAPolicy
from chatkit.automation import RuleSet
from chatkit.models import ConversationStatus, utcnow
from chatkit.worker import PeriodicJob, Worker
from chatkit.worker.health import JobState, WorkerState, job_state_id

pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CHATKIT = Path(sys.executable).parent / "chatkit"
FAST = dict.fromkeys(("wake_snoozed", "check_sla", "refresh_agents", "escalate"), 0.2)


@pytest.fixture
def shared_url(store_url: str) -> str:
    """A store two kits (or processes) can share: a SQLite file or a PostgreSQL schema."""
    if store_url == "memory://":
        pytest.skip("a memory store is not shared between kits")
    return store_url


def _kit(url: str, **settings: object) -> AsyncChatKit:
    return AsyncChatKit(url, settings=ChatKitSettings(event_poll_interval=0.05, **settings))  # type: ignore[arg-type]


async def _until(check: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


# -- the jobs run on schedule -------------------------------------------------------------


async def test_worker_wakes_snoozed_conversations_and_checks_sla() -> None:
    policy = SLAPolicy(name="fast", first_response=timedelta(seconds=0.5), warn_before=None)
    url = f"sqlite:///{Path.cwd() / 'support.db'}"
    async with _kit(url, sla_policies=(policy,)) as kit:
        inbound = await kit.messages.receive(channel="web", sender="v1", text="Hi")
        conv = await kit.conversations.snooze(
            inbound.conversation.id, until=utcnow() + timedelta(seconds=0.5)
        )
        assert conv.status is ConversationStatus.SNOOZED
        ticket = await kit.tickets.create(contact_id=conv.contact_id, subject="Late order")
        worker = Worker(kit, every=FAST, heartbeat=0.2)
        task = asyncio.ensure_future(worker.run())

        async def woken_and_breached() -> bool:
            status = (await kit.conversations.get(conv.id)).status
            events = (await kit.events.list(limit=1000)).items
            breaches = [e for e in events if e.type == "ticket.sla_breached"]
            return status is ConversationStatus.OPEN and len(breaches) == 1

        await _until(woken_and_breached)
        await asyncio.sleep(0.5)  # more SLA checks: the breach is still published once
        worker.stop()
        await task
        events = (await kit.events.list(limit=1000)).items
        breaches = [e for e in events if e.type == "ticket.sla_breached"]
        assert [e.ticket_id for e in breaches] == [ticket.id]  # type: ignore[attr-defined]
        woken = [e for e in events if e.type == "conversation.status_changed"]
        reasons = [e.reason for e in woken]  # type: ignore[attr-defined]
        assert reasons == [None, "snooze_expired"]  # snoozed by hand, woken by the worker once
        health = await kit.health()
        by_name = {job.name: job for job in health.jobs}
        assert by_name["wake_snoozed"].last_success_at is not None
        assert by_name["check_sla"].last_error is None
        assert by_name["check_sla"].last_success_at is not None


async def test_worker_purges_expired_web_sessions_and_rate_limit_cells(kit: AsyncChatKit) -> None:
    from chatkit.models import WebSession
    from chatkit.ratelimit import RateLimit, RateLimiter
    from chatkit.stores.base import Insert
    from chatkit.web.sessions import hash_token, new_token

    site = await kit.websites.create("Shop")
    now = utcnow()
    await kit._core.commit(
        [
            Insert(
                WebSession(
                    id=f"wsess_{n}",
                    token_hash=hash_token(new_token()),
                    website_id=site.id,
                    contact_id="ct_x",
                    expires_at=now + timedelta(hours=offset),
                )
            )
            for n, offset in enumerate((-2, 2))
        ]
    )
    limits = {"new_session": RateLimit(5, 60)}
    fresh = RateLimiter(kit, limits)
    await fresh.hit("new_session", "203.0.113.2")  # (and its own clean-up, before the old one)
    old = RateLimiter(kit, limits, clock=lambda: time.time() - 3600)
    await old.hit("new_session", "203.0.113.1")  # its cell emptied 59 minutes ago
    assert await kit.store.rate_peek(old.hashed("new_session", "203.0.113.1")) is not None

    worker = Worker(kit, only=["purge_web_sessions", "purge_rate_limits"], heartbeat=0.2)
    await worker.run(duration=0.5)
    assert [s.id for s in await kit.store.find(WebSession, {})] == ["wsess_1"]
    assert await kit.store.rate_peek(old.hashed("new_session", "203.0.113.1")) is None
    assert await kit.store.rate_peek(fresh.hashed("new_session", "203.0.113.2")) is not None
    by_name = {job.name: job for job in (await kit.health()).jobs}
    assert by_name["purge_web_sessions"].last_result == "1 web sessions purged"
    assert by_name["purge_rate_limits"].last_result == "1 rate-limit cells purged"


async def test_one_failing_job_keeps_the_others_running_and_health_shows_it(
    kit: AsyncChatKit,
) -> None:
    calls = {"boom": 0}

    async def boom(_kit: AsyncChatKit) -> None:
        calls["boom"] += 1
        raise RuntimeError("the report server is down")

    inbound = await kit.messages.receive(channel="web", sender="v1", text="Hi")
    await kit.conversations.snooze(inbound.conversation.id, until=utcnow() + timedelta(seconds=0.6))
    worker = Worker(kit, jobs=[PeriodicJob("boom", boom, 0.1)], every=FAST, heartbeat=0.2)
    task = asyncio.ensure_future(worker.run())

    async def woken() -> bool:
        conv = await kit.conversations.get(inbound.conversation.id)
        return conv.status is ConversationStatus.OPEN and calls["boom"] >= 3

    await _until(woken)
    health = await kit.health()
    assert health.status == "degraded"
    assert "boom failing: RuntimeError: the report server is down" in health.problems
    boom_health = next(j for j in health.jobs if j.name == "boom")
    assert boom_health.status == "failing"
    assert boom_health.failures >= 2  # tried again each tick
    assert boom_health.last_success_at is None
    wake = next(j for j in health.jobs if j.name == "wake_snoozed")
    assert wake.status == "ok"
    assert wake.last_error is None
    assert [w.name for w in health.workers if w.alive] == [worker.name]
    assert any(line.startswith("boom") and "failing" in line for line in health.lines())
    worker.stop()
    await task
    assert not task.exception()
    after = await kit.health()
    assert after.problems == ["no worker is running"]
    assert all(not w.alive for w in after.workers)


# -- several workers ---------------------------------------------------------------------


async def test_two_workers_never_run_the_same_periodic_job_at_once(shared_url: str) -> None:
    runs: list[tuple[str, float, float]] = []

    def slow_job(tag: str) -> PeriodicJob:
        async def run(_kit: AsyncChatKit) -> str:
            start = time.monotonic()
            await asyncio.sleep(0.1)
            runs.append((tag, start, time.monotonic()))
            return "ok"

        return PeriodicJob("slow", run, 0.3)

    async with _kit(shared_url) as one, _kit(shared_url) as two:
        first = Worker(one, only=["slow"], jobs=[slow_job("one")], heartbeat=0.2)
        second = Worker(two, only=["slow"], jobs=[slow_job("two")], heartbeat=0.2)
        tasks = [asyncio.ensure_future(first.run()), asyncio.ensure_future(second.run())]
        await asyncio.sleep(2.0)
        first.stop()
        await tasks[0]
        first_stopped = time.monotonic()
        await asyncio.sleep(1.5)  # the other worker carries on alone, on the same schedule
        second.stop()
        await tasks[1]
        state = await one.store.get(JobState, job_state_id("slow"))
    runs.sort(key=lambda run: run[1])
    assert len(runs) >= 8
    for (_, before, end), (_, start, _) in itertools.pairwise(runs):
        assert start >= end, "two workers ran the job at the same time"
        assert start - before >= 0.2, "the interval is shared: once per 0.3 s for both"
    assert state is not None
    assert state.runs == len(runs)
    assert state.owner is None  # both released it
    after = [tag for tag, start, _ in runs if start > first_stopped]
    assert len(after) >= 3
    assert set(after) == {"two"}


async def test_a_job_longer_than_its_lease_keeps_it_while_it_runs(shared_url: str) -> None:
    runs: list[tuple[float, float]] = []

    async def long(_kit: AsyncChatKit) -> None:
        start = time.monotonic()
        await asyncio.sleep(1.0)  # more than three lease lengths
        runs.append((start, time.monotonic()))

    job = PeriodicJob("long", long, 0.1)
    async with _kit(shared_url) as one, _kit(shared_url) as two:
        workers = [
            Worker(k, only=["long"], jobs=[job], lease_seconds=0.3, heartbeat=0.2)
            for k in (one, two)
        ]
        tasks = [asyncio.ensure_future(w.run()) for w in workers]
        await asyncio.sleep(2.5)
        for worker in workers:
            worker.stop()
        await asyncio.gather(*tasks)
    runs.sort()
    assert len(runs) >= 2
    for (_, end), (start, _) in itertools.pairwise(runs):
        assert start >= end, "the lease was taken from a worker still running the job"


async def test_a_dead_workers_lease_runs_out_and_another_worker_takes_the_job(
    shared_url: str,
) -> None:
    ran: list[float] = []

    async def job(_kit: AsyncChatKit) -> None:
        ran.append(time.monotonic())

    async with _kit(shared_url) as kit:
        store = await kit._core.ready()
        from chatkit.stores.base import Insert

        started = time.monotonic()  # before the lease's end is computed
        await store.commit(
            [
                Insert(
                    JobState(
                        id=job_state_id("tidy"),
                        name="tidy",
                        every=0.1,
                        owner="crashed-host:1:abc",
                        lease_until=utcnow() + timedelta(seconds=1.0),
                    )
                )
            ]
        )
        worker = Worker(kit, only=["tidy"], jobs=[PeriodicJob("tidy", job, 0.1)], heartbeat=0.2)
        task = asyncio.ensure_future(worker.run())
        await _until(lambda: asyncio.sleep(0, bool(ran)), timeout=5)
        worker.stop()
        await task
        assert ran[0] - started >= 0.95  # not before the dead worker's lease ran out
        state = await store.get(JobState, job_state_id("tidy"))
        assert state is not None
        assert state.owner is None
        assert state.runs >= 1


# -- stopping --------------------------------------------------------------------------


def _wait_for(check: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_chatkit_worker_process_stops_on_sigterm_exits_0_and_releases_its_leases(
    shared_url: str, tmp_path: Path
) -> None:
    process = subprocess.Popen(
        [str(CHATKIT), "worker", "--url", shared_url, "--every", "wake_snoozed=0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with ChatKit(shared_url) as kit:
            _wait_for(lambda: _alive_with_runs(kit))
            process.send_signal(signal.SIGTERM)
            _out, err = process.communicate(timeout=30)
            assert process.returncode == 0, err
            assert "stopped" in err
            states = kit.aio.store
            leases = kit._runner.portal().call(states.find, JobState)
            assert leases, "the worker ran its jobs"
            assert all(state.owner is None for state in leases)
            workers = kit._runner.portal().call(states.find, WorkerState)
            assert len(workers) == 1
            assert workers[0].stopped_at is not None
            health = kit.health()
            assert health.problems == ["no worker is running"]
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _alive_with_runs(kit: ChatKit) -> bool:
    health = kit.health()
    wake = [j for j in health.jobs if j.name == "wake_snoozed"]
    return (
        any(w.alive for w in health.workers) and bool(wake) and wake[0].last_success_at is not None
    )


SLOW_WORKER = """
import sys, time
from chatkit import ChatKit
from chatkit.worker import PeriodicJob

async def slow(kit):
    import asyncio
    await asyncio.sleep(1.5)
    return "finished"

with ChatKit(sys.argv[1]) as kit:
    kit.worker(only=["slow"], jobs=[PeriodicJob("slow", slow, 60)], heartbeat=0.2)
print("exited cleanly")
"""


def test_sigterm_lets_the_job_in_hand_finish_then_releases_its_lease(
    shared_url: str, tmp_path: Path
) -> None:
    script = tmp_path / "slow_worker.py"
    script.write_text(SLOW_WORKER)
    process = subprocess.Popen(
        [sys.executable, str(script), shared_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with ChatKit(shared_url) as kit:
            portal = kit._runner.portal()

            def holding() -> bool:
                assert process.poll() is None, process.communicate()
                state = portal.call(kit.aio.store.get, JobState, job_state_id("slow"))
                return state is not None and state.owner is not None

            _wait_for(holding)
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
            assert process.returncode == 0, err
            assert out.strip() == "exited cleanly"
            state = portal.call(kit.aio.store.get, JobState, job_state_id("slow"))
            assert state is not None
            assert state.owner is None
            assert state.lease_until is None
            assert state.last_result == "finished"  # the step in hand was finished first
            assert state.failures == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


STUCK_WORKER = """
import sys
from chatkit import ChatKit
from chatkit.worker import PeriodicJob

async def stuck(kit):
    import asyncio
    await asyncio.sleep(3600)

with ChatKit(sys.argv[1]) as kit:
    try:
        kit.worker(
            only=["stuck"],
            jobs=[PeriodicJob("stuck", stuck, 60)],
            heartbeat=0.2,
            lease_seconds=float(sys.argv[2]) if len(sys.argv) > 2 else 60.0,
        )
    except KeyboardInterrupt:
        print("interrupted")
        sys.exit(130)
"""


def test_a_second_sigterm_interrupts_the_job_in_hand_and_releases_its_lease(
    shared_url: str, tmp_path: Path
) -> None:
    script = tmp_path / "stuck_worker.py"
    script.write_text(STUCK_WORKER)
    process = subprocess.Popen(
        [sys.executable, str(script), shared_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with ChatKit(shared_url) as kit:
            portal = kit._runner.portal()

            def holding() -> bool:
                assert process.poll() is None, process.communicate()
                state = portal.call(kit.aio.store.get, JobState, job_state_id("stuck"))
                return state is not None and state.owner is not None

            _wait_for(holding)
            process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert process.poll() is None  # the first one waits for the job in hand
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
            assert process.returncode == 130, err
            assert out.strip() == "interrupted"
            state = portal.call(kit.aio.store.get, JobState, job_state_id("stuck"))
            assert state is not None
            assert state.owner is None  # released: another worker may take it at once
            assert state.next_due_at is not None
            assert state.next_due_at <= utcnow()
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_a_killed_worker_process_leaves_its_job_to_another_after_the_lease(
    shared_url: str, tmp_path: Path
) -> None:
    script = tmp_path / "stuck_worker.py"
    script.write_text(STUCK_WORKER)
    process = subprocess.Popen(
        [sys.executable, str(script), shared_url, "1.0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with ChatKit(shared_url) as kit:
            portal = kit._runner.portal()

            def holding() -> bool:
                assert process.poll() is None, process.communicate()
                state = portal.call(kit.aio.store.get, JobState, job_state_id("stuck"))
                return state is not None and state.owner is not None

            _wait_for(holding)
            process.kill()  # no chance to release anything
            process.communicate()
            dead = portal.call(kit.aio.store.get, JobState, job_state_id("stuck"))
            assert dead is not None
            assert dead.owner is not None  # still leased to the dead process
            ran: list[str] = []

            async def stuck(_kit: AsyncChatKit) -> str:
                ran.append("here")
                return "taken over"

            kit.worker(
                only=["stuck"],
                jobs=[PeriodicJob("stuck", stuck, 60)],
                duration=4.0,
                heartbeat=0.2,
                handle_signals=False,
            )
            assert ran == ["here"]
            state = portal.call(kit.aio.store.get, JobState, job_state_id("stuck"))
            assert state is not None
            assert state.last_result == "taken over"
            assert state.owner is None
            assert state.lease_until is None
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


async def test_a_cancelled_worker_releases_its_lease(kit: AsyncChatKit) -> None:
    started = asyncio.Event()

    async def forever(_kit: AsyncChatKit) -> None:
        started.set()
        await asyncio.sleep(3600)

    task = asyncio.ensure_future(
        kit.run_worker(only=["forever"], jobs=[PeriodicJob("forever", forever, 60)])
    )
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    state = await kit.store.get(JobState, job_state_id("forever"))
    assert state is not None
    assert state.owner is None
    assert state.next_due_at is not None
    assert state.next_due_at <= utcnow()
    (worker,) = await kit.store.find(WorkerState)
    assert worker.stopped_at is not None


# -- dispatchers and health --------------------------------------------------------------


async def test_automation_dispatcher_runs_with_rules_and_health_shows_its_lag(
    shared_url: str,
) -> None:
    rules = RuleSet.model_validate(
        {
            "rules": [
                {
                    "name": "tag refunds",
                    "on": "message.received",
                    "when": {"channels": ["web"]},
                    "then": [{"type": "tag", "add": ["refund"]}],
                }
            ]
        }
    )
    async with _kit(shared_url, automation_rules=rules) as kit:
        worker = Worker(kit, only=["automation"], heartbeat=0.2)
        task = asyncio.ensure_future(worker.run())
        inbound = await kit.messages.receive(channel="web", sender="v1", text="I want a refund")

        async def tagged() -> bool:
            conv = await kit.conversations.get(inbound.conversation.id)
            return "refund" in conv.tags

        await _until(tagged)
        await asyncio.sleep(0.5)  # a heartbeat carries the dispatcher's outcome
        health = await kit.health()
        worker.stop()
        await task
    automation = next(j for j in health.jobs if j.name == "automation")
    assert automation.kind == "dispatcher"
    assert automation.running
    assert automation.running_on == [worker.name]
    assert automation.last_success_at is not None
    (group,) = health.dispatchers
    assert group.group == "automation"
    assert group.lag <= 1  # the tag's own events may still be in hand
    assert group.outbox_position >= group.done_upto > 0


async def test_a_worker_without_rules_or_notifiers_leaves_those_events_alone(
    kit: AsyncChatKit,
) -> None:
    worker = Worker(kit, only=["automation", "notifications"], heartbeat=0.2)
    await kit.messages.receive(channel="web", sender="v1", text="Hello")
    await worker.run(duration=0.5)
    status = await kit.events.dispatch_status("automation")
    assert status.done_upto == 0  # an app that has rules still gets every event
    assert (await kit.events.dispatch_status("notifications")).done_upto == 0


async def test_bad_worker_options_raise_typed_errors(kit: AsyncChatKit) -> None:
    with pytest.raises(InvalidInputError, match="unknown job 'nope'"):
        Worker(kit, only=["nope"])
    with pytest.raises(InvalidInputError, match="unknown job"):
        Worker(kit, every={"wake_snoozd": 5})
    with pytest.raises(InvalidInputError, match="between"):
        Worker(kit, every={"check_sla": 0})
    with pytest.raises(InvalidInputError, match="used twice"):
        Worker(kit, jobs=[PeriodicJob("purge", lambda k: asyncio.sleep(0), 10)])
    with pytest.raises(InvalidInputError, match="job name"):
        PeriodicJob("Bad Name", lambda k: asyncio.sleep(0), 10)
    with pytest.raises(InvalidInputError, match="list of job names"):
        Worker(kit, skip="purge")
    with pytest.raises(InvalidInputError, match="takes an AsyncChatKit"):
        Worker(ChatKit("memory://"))  # type: ignore[arg-type]
    assert await kit.store.find(JobState) == []


# -- the command line and the example ----------------------------------------------------


def test_cli_status_prints_one_line_per_job_and_json(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'support.db'}"
    with ChatKit(url) as kit:
        kit.worker(every=FAST, duration=0.6, handle_signals=False)
    done = subprocess.run(
        [str(CHATKIT), "worker", "--url", url, "--status"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1  # no worker running: degraded
    lines = done.stdout.splitlines()
    assert lines[0] == "status degraded: 0 worker(s) running; no worker is running"
    names = [line.split()[0] for line in lines[1:] if not line.startswith("dispatch ")]
    assert sorted(line.split()[1] for line in lines[1:] if line.startswith("dispatch ")) == [
        "reports",
        "webhook-deliveries",
    ]
    assert sorted(names) == sorted(
        [
            "check_idle",
            "check_sla",
            "escalate",
            "expire_surveys",
            "prune_webhooks",
            "purge",
            "purge_rate_limits",
            "purge_web_sessions",
            "refresh_agents",
            "reports",
            "survey_follow_ups",
            "wake_snoozed",
            "webhooks",
        ]
    )
    as_json = subprocess.run(
        [str(CHATKIT), "worker", "--url", url, "--status", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = json.loads(as_json.stdout)
    assert report["status"] == "degraded"
    assert {job["name"] for job in report["jobs"]} == set(names)
    bad = subprocess.run(
        [str(CHATKIT), "worker", "--url", url, "--skip", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 1
    assert "unknown job 'nope'" in bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr


async def test_worker_syncs_an_integration_and_health_shows_its_dead_letters(
    kit: AsyncChatKit,
) -> None:
    from chatkit.testing import MemoryIntegration, MemoryVendor

    vendor = MemoryVendor()
    vendor.refuse(lambda change: "Email: is invalid" if change.object.value == "contact" else None)
    integration = MemoryIntegration(vendor=vendor)
    worker = Worker(kit, only=[f"sync:{integration.name}"], sync=[integration], heartbeat=0.2)
    task = asyncio.ensure_future(worker.run())
    await kit.messages.receive(channel="web", sender="ada@example.com", text="Hi")

    async def dead_lettered() -> bool:
        return bool(await kit.sync.dead_letters(integration.name))

    await _until(dead_lettered)

    async def reported() -> bool:  # a heartbeat carries the engine's outcome
        health = await kit.health()
        jobs = {j.name: j for j in health.jobs}
        job = jobs.get(f"sync:{integration.name}")
        return job is not None and job.last_success_at is not None

    await _until(reported)
    health = await kit.health()
    worker.stop()
    await task
    group = next(d for d in health.dispatchers if d.group == f"sync:{integration.name}")
    assert group.dead_letters == 1
    assert health.status == "degraded"
    assert f"sync:{integration.name} has 1 dead letters" in health.problems
    job = next(j for j in health.jobs if j.name == f"sync:{integration.name}")
    assert job.kind == "dispatcher"
    assert job.last_success_at is not None


APP = """
from chatkit import AsyncChatKit, ChatKitSettings
from chatkit.automation import RuleSet

RULES = RuleSet.model_validate({"rules": [{
    "name": "tag web", "on": "message.received", "when": {"channels": ["web"]},
    "then": [{"type": "tag", "add": ["from-web"]}],
}]})

def kit():
    return AsyncChatKit(URL, settings=ChatKitSettings(automation_rules=RULES))
"""


@pytest.mark.parametrize("how", ["app", "settings"])
def test_cli_worker_takes_the_apps_kit_or_settings(how: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'support.db'}"
    (tmp_path / "support_app.py").write_text(f"URL = {url!r}\n" + APP)
    rules = {
        "automation_rules": {
            "rules": [
                {
                    "name": "tag web",
                    "on": "message.received",
                    "when": {"channels": ["web"]},
                    "then": [{"type": "tag", "add": ["from-web"]}],
                }
            ]
        }
    }
    (tmp_path / "settings.json").write_text(json.dumps(rules))
    args = (
        ["--app", "support_app:kit"]
        if how == "app"
        else ["--url", url, "--settings", str(tmp_path / "settings.json")]
    )
    with ChatKit(url) as kit:
        inbound = kit.messages.receive(channel="web", sender="v1", text="Hello")
    process = subprocess.Popen(
        [str(CHATKIT), "worker", "--only", "automation", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        with ChatKit(url) as kit:

            def tagged() -> bool:
                assert process.poll() is None, process.communicate()
                conv = kit.conversations.get(inbound.conversation.id)
                return "from-web" in conv.tags

            _wait_for(tagged)
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        assert "started: automation" in err
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_cli_worker_refuses_a_bad_app_or_settings_file(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text('{"retention": {"default_days": 3}}')
    for args, message in (
        (["--app", "nowhere_at_all:kit"], "cannot import 'nowhere_at_all'"),
        (["--app", "json"], "--app takes MODULE:NAME"),
        (["--settings", str(tmp_path / "settings.json")], "retention"),
        (["--settings", str(tmp_path / "missing.json")], "cannot read settings file"),
        (["--every", "check_sla=soon"], "--every takes JOB=SECONDS"),
    ):
        done = subprocess.run(
            [str(CHATKIT), "worker", "--url", f"sqlite:///{tmp_path / 'x.db'}", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
        )
        assert done.returncode == 1, args
        assert message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stdout + done.stderr


async def test_health_reports_your_own_dispatch_groups_and_their_lag(kit: AsyncChatKit) -> None:
    for n in range(3):
        await kit.messages.receive(channel="web", sender=f"v{n}", text="Hi")
    newest = await kit.store.last_position()
    health = await kit.health(groups=["webhooks"], max_lag=newest - 1)
    (webhooks,) = health.dispatchers
    assert webhooks.group == "webhooks"
    assert webhooks.lag == newest  # never ran: everything is behind
    assert f"dispatch group webhooks is {newest} events behind" in health.problems

    async def handle(_events: object) -> None:
        return None

    dispatcher = kit.events.dispatcher("webhooks", handle)  # type: ignore[arg-type]
    await dispatcher.drain()
    await dispatcher.close()
    health = await kit.health(groups=["webhooks"], max_lag=0)
    (webhooks,) = health.dispatchers
    assert webhooks.lag == 0
    assert webhooks.done_upto == newest
    assert health.problems == ["no worker is running"]
    with pytest.raises(InvalidInputError):
        await kit.health(groups="webhooks")
    with pytest.raises(InvalidInputError):
        await kit.health(max_lag=-1)
