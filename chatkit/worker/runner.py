"""`Worker`: one task that runs every background job of a kit, safely beside others.

This module holds the run loop: starting and stopping (signals), the
dispatchers, the periodic jobs' schedule and the heartbeat. Running one
periodic job under its lease and recording its outcome is in
`chatkit.worker.leases`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from ..errors import ChatKitError, ConflictError, InvalidInputError
from ..integrations import Integration
from ..models._base import utcnow
from ..services._core import Core, bump
from ..stores.base import Delete, Insert, Store, Update
from ..sync import SyncEngine
from .health import JobRun, WorkerState
from .jobs import (
    AUTOMATION,
    BUILTIN_JOBS,
    CHANNELS,
    NOTIFICATIONS,
    REPORTS,
    SYNC_EVERY,
    WEBHOOKS,
    PeriodicJob,
    check_every,
)
from .leases import acquire, describe, run_periodic

if TYPE_CHECKING:
    from .._facade import AsyncChatKit

__all__ = ["Worker"]

log = logging.getLogger("chatkit.worker")

_FORGET_AFTER = timedelta(days=1)
"""Stopped or dead workers older than this are removed from the store at start."""


@dataclass
class _Continuous:
    """A dispatcher-like job: every worker runs it, sharing its group's events."""

    name: str
    group: str
    every: float
    step: Callable[[], Awaitable[bool]]
    close: Callable[[], Awaitable[None]]


async def _sync_step(engine: SyncEngine) -> bool:
    """One sync cycle; whether to go on at once (it moved records and is not parked)."""
    report = await engine.run_once()
    return not report.parked and bool(report.events or report.pushed or report.pulled)


class Worker:
    """Runs a kit's background jobs until stopped: periodic jobs and dispatchers.

    **Periodic jobs** (`BUILTIN_JOBS`, plus your own `PeriodicJob` objects)
    run on one worker at a time: a worker takes a due job by writing a lease
    into the store with a version check, renews it while the job runs, and
    clears it with the outcome and the next due time. A worker that dies
    leaves a lease that runs out after ``lease_seconds``; then another
    worker takes the job. The schedule is shared: with N workers a job still
    runs once per interval.

    **Dispatchers** (automation rules, notifications, webhook deliveries, the
    reporting projection, one sync engine per integration in ``sync``) run on
    every worker at once and share their dispatch group's events, as they do
    when started by hand. Automation runs only when the kit has rules and
    notifications only when a notifier is configured, so a worker without
    them never marks those events handled.

    A failing job is logged and recorded (see `AsyncChatKit.health`) and
    tried again when next due; it never stops the worker or the other jobs.
    `stop` (or SIGTERM/SIGINT with ``handle_signals``) lets every job finish
    the step in hand, releases the leases, marks the worker stopped in the
    store, and `run` returns.

    Args:
        kit: The kit whose jobs to run.
        only: Run only these jobs (names as in `jobs`).
        skip: Do not run these jobs.
        every: Intervals in seconds by job name, overriding the defaults.
        sync: Integrations to sync (names of installed ones configured from
            the environment, or `Integration` objects); job ``sync:<name>``.
        jobs: Extra periodic jobs of your own.
        lease_seconds: How long a periodic job's lease lasts between
            renewals (a dead worker's job waits this long before another
            takes it).
        heartbeat: Seconds between the worker's heartbeats in the store; a
            worker silent for three of them counts as gone.

    Raises:
        InvalidInputError: An unknown job name, a bad interval, a name used twice.
    """

    def __init__(
        self,
        kit: AsyncChatKit,
        *,
        only: Collection[str] | None = None,
        skip: Collection[str] = (),
        every: Mapping[str, float] | None = None,
        sync: Sequence[str | Integration] = (),
        jobs: Sequence[PeriodicJob] = (),
        lease_seconds: float = 60.0,
        heartbeat: float = 10.0,
    ) -> None:
        core = getattr(kit, "_core", None)
        if not isinstance(core, Core):
            raise InvalidInputError(
                "Worker takes an AsyncChatKit (for a ChatKit, pass kit.aio or call kit.worker())",
                field="kit",
            )
        self._kit = kit
        self._core = core
        for field, value in (("jobs", jobs), ("sync", sync)):
            if not isinstance(value, list | tuple):
                raise InvalidInputError(f"{field} takes a list", field=field)
        periodic = list(BUILTIN_JOBS)
        for job in jobs:
            if not isinstance(job, PeriodicJob):
                raise InvalidInputError("jobs must be PeriodicJob objects", field="jobs")
            periodic.append(job)
        self._sync: list[tuple[str, str | Integration]] = []
        for target in sync:
            if isinstance(target, Integration):
                self._sync.append((f"sync:{target.name}", target))
            elif isinstance(target, str) and target:
                self._sync.append((f"sync:{target}", target))
            else:
                raise InvalidInputError("sync takes integration names or objects", field="sync")
        names = (
            [j.name for j in periodic]
            + [AUTOMATION, NOTIFICATIONS, WEBHOOKS, REPORTS, CHANNELS]
            + [n for n, _ in self._sync]
        )
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise InvalidInputError(f"job name {name!r} is used twice", field="jobs")
            seen.add(name)
        if every is not None and not isinstance(every, Mapping):
            raise InvalidInputError("every takes a mapping of job names to seconds", field="every")
        for field, given in (("only", only or ()), ("skip", skip), ("every", every or {})):
            if not isinstance(given, list | tuple | set | frozenset | Mapping) or not all(
                isinstance(name, str) for name in given
            ):
                raise InvalidInputError(f"{field} takes a list of job names", field=field)
            unknown = sorted(set(given) - seen)
            if unknown:
                raise InvalidInputError(
                    f"unknown job {', '.join(map(repr, unknown))} in {field}; "
                    f"the jobs are: {', '.join(names)}",
                    field=field,
                )
        wanted = set(names if only is None else only) - set(skip)
        intervals = {name: check_every(name, value) for name, value in (every or {}).items()}
        self._periodic = [
            PeriodicJob(j.name, j.run, intervals.get(j.name, j.every), j.description)
            for j in periodic
            if j.name in wanted
        ]
        self._wanted = wanted
        self._intervals = intervals
        self._lease_seconds = check_every("lease_seconds", lease_seconds, field="lease_seconds")
        self._heartbeat = check_every("heartbeat", heartbeat, field="heartbeat")
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        """This worker's name in leases and health reports (host, process id, random part)."""
        self._runs: dict[str, JobRun] = {}
        self._stopping = False
        self._stop_event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[object] | None = None
        self._running = False
        self._state: WorkerState | None = None

    def __repr__(self) -> str:
        return f"Worker({self.name!r})"

    @property
    def periodic_jobs(self) -> list[PeriodicJob]:
        """The periodic jobs this worker runs, with their intervals."""
        return list(self._periodic)

    # -- control -----------------------------------------------------------------

    def stop(self) -> None:
        """Make `run` return after the step in hand. Safe from any thread or a signal handler."""
        self._stopping = True
        loop, event = self._loop, self._stop_event
        if loop is None or event is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to wake
                loop.call_soon_threadsafe(event.set)

    def signal(self) -> None:
        """What SIGTERM and Ctrl-C do: the first `stop`, the second interrupts the job in hand.

        An interrupted periodic job gets its lease released and is due again
        at once (for another worker). Safe from any thread or a signal handler.
        """
        loop, task = self._loop, self._task
        if loop is None or task is None:
            self.stop()
            return

        def received() -> None:
            if self._stopping:
                log.warning("worker %s: interrupted; releasing its leases", self.name)
                task.cancel()
            else:
                log.info("worker %s: stopping after the step in hand", self.name)
                self.stop()

        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to stop
            loop.call_soon_threadsafe(received)

    async def run(self, *, duration: float | None = None, handle_signals: bool = False) -> None:
        """Run until `stop` (or for ``duration`` seconds), then release everything.

        Args:
            duration: Stop on its own after this many seconds (default: never).
            handle_signals: Stop on SIGTERM and SIGINT (Ctrl-C); a second one
                interrupts the job in hand (see `signal`). Only in the main
                thread; the previous handlers are restored at the end.

        Raises:
            ChatKitError: This worker is running already.
            ConfigurationError: A notifier or an integration cannot be built.
        """
        if self._running:
            raise ChatKitError("this worker is running already")
        self._running = True
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._stop_event = asyncio.Event()
        if self._stopping:
            self._stop_event.set()
        timer = None
        if duration is not None:
            timer = self._loop.call_later(
                check_every("duration", duration, field="duration"), self.stop
            )
        try:
            with self._signals(handle_signals):
                await self._run()
        finally:
            if timer is not None:
                timer.cancel()
            self._running = False

    @contextlib.contextmanager
    def _signals(self, wanted: bool) -> Iterator[None]:
        if not wanted or threading.current_thread() is not threading.main_thread():
            yield
            return
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                try:
                    loop.add_signal_handler(sig, self.signal)
                except (NotImplementedError, RuntimeError):  # Windows: no loop signal handlers
                    signal.signal(sig, lambda *_: self.signal())
                else:
                    installed.append(sig)
            yield
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    # -- the whole run -------------------------------------------------------------

    async def _run(self) -> None:
        store = await self._core.ready()
        continuous = self._continuous_jobs()
        now = utcnow()
        self._state = WorkerState(
            id=f"wkr_{uuid.uuid4().hex}",
            name=self.name,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=now,
            heartbeat_at=now,
            heartbeat_every=self._heartbeat,
            jobs=[j.name for j in self._periodic] + [c.name for c in continuous],
        )
        await store.commit([Insert(self._state)])
        await self._forget_old_workers(store)
        log.info(
            "worker %s started: %s",
            self.name,
            ", ".join(self._state.jobs) or "no jobs",
        )
        tasks = [
            asyncio.ensure_future(self._periodic_loop(job, store)) for job in self._periodic
        ] + [asyncio.ensure_future(self._continuous_loop(job)) for job in continuous]
        tasks.append(asyncio.ensure_future(self._heartbeat_loop(store)))
        try:
            await asyncio.gather(*tasks)
        finally:
            self._stopping = True
            for task in tasks:
                task.cancel()  # a no-op for the finished ones (all of them after a clean stop)
            await asyncio.gather(*tasks, return_exceptions=True)
            for job in continuous:
                try:
                    await asyncio.shield(job.close())
                except Exception:
                    log.exception("worker %s: closing %s failed", self.name, job.name)
            await self._mark_stopped(store)
            log.info("worker %s stopped", self.name)

    def _continuous_jobs(self) -> list[_Continuous]:
        kit, jobs = self._kit, []
        poll = self._core.settings.event_poll_interval
        if AUTOMATION in self._wanted:
            if kit.automation.rules.rules:
                dispatcher = kit.automation.dispatcher()
                jobs.append(
                    _Continuous(
                        AUTOMATION,
                        dispatcher.group,
                        self._intervals.get(AUTOMATION, poll),
                        self._dispatch_step(dispatcher.run_once, dispatcher.group),
                        dispatcher.close,
                    )
                )
            else:
                log.info("worker: no automation rules, so the automation dispatcher does not run")
        if NOTIFICATIONS in self._wanted:
            settings = kit.notifications.settings
            if settings.enabled and kit.notifications.notifiers:
                notifier = kit.notifications.dispatcher()
                jobs.append(
                    _Continuous(
                        NOTIFICATIONS,
                        notifier.group,
                        self._intervals.get(NOTIFICATIONS, poll),
                        self._dispatch_step(notifier.run_once, notifier.group),
                        notifier.close,
                    )
                )
            else:
                log.info(
                    "worker: no notifier configured, so the notifications dispatcher does not run"
                )
        if WEBHOOKS in self._wanted:
            webhooks = kit.webhooks.dispatcher()
            jobs.append(
                _Continuous(
                    WEBHOOKS,
                    webhooks.group,
                    self._intervals.get(WEBHOOKS, poll),
                    self._dispatch_step(webhooks.run_once, webhooks.group),
                    webhooks.close,
                )
            )
        if REPORTS in self._wanted:
            reports = kit.reports.dispatcher()
            jobs.append(
                _Continuous(
                    REPORTS,
                    reports.group,
                    self._intervals.get(REPORTS, poll),
                    self._dispatch_step(reports.run_once, reports.group),
                    reports.close,
                )
            )
        if CHANNELS in self._wanted:
            if kit.channels.accounts():
                channels = kit.channels.dispatcher()
                jobs.append(
                    _Continuous(
                        CHANNELS,
                        channels.group,
                        self._intervals.get(CHANNELS, poll),
                        self._dispatch_step(channels.run_once, channels.group),
                        channels.close,
                    )
                )
            else:
                log.info("worker: no channel accounts, so the channels dispatcher does not run")
        for name, target in self._sync:
            if name not in self._wanted:
                continue
            engine = kit.sync.engine(target)
            jobs.append(
                _Continuous(
                    name,
                    engine.group,
                    self._intervals.get(name, SYNC_EVERY),
                    functools.partial(_sync_step, engine),
                    engine.close,
                )
            )
        return jobs

    def _dispatch_step(
        self, run_once: Callable[[], Awaitable[int]], group: str
    ) -> Callable[[], Awaitable[bool]]:
        async def step() -> bool:
            if await run_once():
                return True
            # A batch whose events were all of other types counts 0 too: go on
            # while the group has events left to hand out.
            store = await self._core.ready()
            status = await store.dispatch_status(group)
            return status.claimed_upto < await store.last_position()

        return step

    # -- periodic jobs -------------------------------------------------------------

    async def _periodic_loop(self, job: PeriodicJob, store: Store) -> None:
        due = utcnow()
        while not self._stopping:
            wait = (due - utcnow()).total_seconds()
            if wait > 0:
                await self._sleep(wait)
                continue
            try:
                state, due = await acquire(
                    job, store, owner=self.name, lease_seconds=self._lease_seconds
                )
            except Exception:
                log.exception("worker %s: could not take job %s; trying again", self.name, job.name)
                due = utcnow() + timedelta(seconds=min(job.every, 5.0))
                continue
            if state is not None:
                due = await run_periodic(
                    self._kit,
                    job,
                    state,
                    store,
                    owner=self.name,
                    lease_seconds=self._lease_seconds,
                )

    # -- dispatchers ---------------------------------------------------------------

    async def _continuous_loop(self, job: _Continuous) -> None:
        run = JobRun(group=job.group, every=job.every)
        self._runs[job.name] = run
        while not self._stopping:
            more = False
            try:
                more = await job.step()
            except Exception as exc:
                log.exception("worker %s: %s failed; retried next tick", self.name, job.name)
                now = utcnow()
                run = run.model_copy(
                    update={
                        "last_run_at": now,
                        "last_error": describe(exc),
                        "last_error_at": now,
                        "failures": run.failures + 1,
                        "runs": run.runs + 1,
                    }
                )
            else:
                now = utcnow()
                run = run.model_copy(
                    update={
                        "last_run_at": now,
                        "last_success_at": now,
                        "failures": 0,
                        "runs": run.runs + 1,
                    }
                )
            self._runs[job.name] = run
            if not more and not self._stopping:
                await self._idle(job.every)

    async def _idle(self, timeout: float) -> None:
        """Wait ``timeout`` seconds, or less: until a local commit or `stop`."""
        assert self._stop_event is not None
        stopped = asyncio.ensure_future(self._stop_event.wait())
        changed = asyncio.ensure_future(self._core.wait_for_events(timeout))
        try:
            await asyncio.wait(
                {stopped, changed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (stopped, changed):
                task.cancel()
            await asyncio.gather(stopped, changed, return_exceptions=True)

    def _stop_requested(self) -> bool:
        return self._stopping

    async def _sleep(self, seconds: float) -> None:
        assert self._stop_event is not None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stop_event.wait(), seconds)

    # -- heartbeat -----------------------------------------------------------------

    async def _heartbeat_loop(self, store: Store) -> None:
        while not self._stopping:
            await self._sleep(self._heartbeat)
            if self._stop_requested():
                return
            try:
                await self._beat(store)
            except Exception:
                log.exception("worker %s: heartbeat failed; trying again", self.name)

    async def _beat(self, store: Store, **updates: object) -> None:
        current = self._state
        if current is None:
            return
        for _ in range(3):
            new = bump(current, heartbeat_at=utcnow(), dispatchers=dict(self._runs), **updates)
            try:
                await store.commit([Update(new)])
            except ConflictError:
                fresh = await store.get(WorkerState, current.id)
                if fresh is None:
                    await store.commit([Insert(new.model_copy(update={"version": 1}))])
                    self._state = new.model_copy(update={"version": 1})
                    return
                current = fresh
                continue
            self._state = new
            return

    async def _mark_stopped(self, store: Store) -> None:
        try:
            await asyncio.shield(self._beat(store, stopped_at=utcnow()))
        except Exception:
            log.exception("worker %s: could not record that it stopped", self.name)

    async def _forget_old_workers(self, store: Store) -> None:
        cutoff = utcnow() - _FORGET_AFTER
        old = [
            w for w in await store.find(WorkerState) if (w.stopped_at or w.heartbeat_at) < cutoff
        ]
        if old:
            with contextlib.suppress(Exception):
                await store.commit([Delete(WorkerState, w.id) for w in old])
