"""What the worker keeps in the store, and the health report built from it.

Two record kinds live in the store (tables ``worker_jobs`` and ``workers``):

- `JobState`, one per periodic job: the lease (which worker runs it, until
  when) and the last outcome (last run, last success, last error, next due).
- `WorkerState`, one per worker process: its heartbeat, the jobs it runs,
  and the outcomes of its dispatchers (which run on every worker at once).

`read_health` turns them, with the dispatch groups' positions, into a
`Health` report; `kit.health()` and ``chatkit worker --status`` call it, so
any process sharing the store sees every running worker.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import InvalidInputError
from ..models._base import Record, UTCDateTime, utcnow

if TYPE_CHECKING:
    from ..services._core import Core

__all__ = [
    "DispatcherHealth",
    "Health",
    "JobHealth",
    "JobRun",
    "JobState",
    "WorkerInfo",
    "WorkerState",
    "job_state_id",
    "read_health",
]

JobKind = Literal["periodic", "dispatcher"]


def job_state_id(name: str) -> str:
    """The id of a periodic job's `JobState` record."""
    return f"job_{name}"


class JobState(Record):
    """A periodic job as the store sees it: its lease and its last outcome.

    A worker takes the job by writing itself as ``owner`` with a version
    check, so only one worker wins; it renews ``lease_until`` while the job
    runs and clears ``owner`` when it finishes. A worker that dies leaves a
    lease that simply runs out, after which any worker may take the job.

    Attributes:
        name: The job, e.g. ``check_sla``.
        every: Seconds between runs, as the last worker to run it had them.
        owner: The worker running it now (``None`` when idle).
        lease_until: When that worker's claim runs out.
        last_started_at: When the last run began.
        last_finished_at: When the last run ended, well or not.
        last_success_at: When a run last ended well.
        last_result: What the last successful run did, in a few words.
        last_error: The last failure's message (kept after a later success).
        last_error_at: When it happened.
        failures: Failed runs in a row (0 after a success).
        runs: Runs in all.
        next_due_at: When the job is due again (for every worker).
    """

    table: ClassVar[str] = "worker_jobs"

    name: str
    every: float
    owner: str | None = None
    lease_until: UTCDateTime | None = None
    last_started_at: UTCDateTime | None = None
    last_finished_at: UTCDateTime | None = None
    last_success_at: UTCDateTime | None = None
    last_result: str | None = None
    last_error: str | None = None
    last_error_at: UTCDateTime | None = None
    failures: int = 0
    runs: int = 0
    next_due_at: UTCDateTime | None = None


class JobRun(BaseModel):
    """How one worker's dispatcher (or sync engine) has fared.

    Attributes:
        group: The dispatch group it takes events from.
        every: Seconds it waits when there is nothing to do.
        last_run_at: When it last finished a step.
        last_success_at: When a step last ended well.
        last_error: The last failure's message.
        last_error_at: When it happened.
        failures: Failed steps in a row.
        runs: Steps in all.
    """

    model_config = ConfigDict(frozen=True)

    group: str
    every: float
    last_run_at: UTCDateTime | None = None
    last_success_at: UTCDateTime | None = None
    last_error: str | None = None
    last_error_at: UTCDateTime | None = None
    failures: int = 0
    runs: int = 0


class WorkerState(Record):
    """One worker process: who it is, when it was last alive, what it runs.

    Attributes:
        name: Host, process id and a random part (as in dispatch leases).
        host: The machine.
        pid: The process id.
        started_at: When it started.
        heartbeat_at: When it last said it is alive.
        heartbeat_every: Seconds between heartbeats.
        stopped_at: When it stopped cleanly (``None`` while it runs, or if it died).
        jobs: The jobs it runs.
        dispatchers: Its dispatchers' outcomes, by job name.
    """

    table: ClassVar[str] = "workers"

    name: str
    host: str
    pid: int
    started_at: UTCDateTime
    heartbeat_at: UTCDateTime
    heartbeat_every: float
    stopped_at: UTCDateTime | None = None
    jobs: list[str] = Field(default_factory=list)
    dispatchers: dict[str, JobRun] = Field(default_factory=dict)

    def alive(self, now: datetime) -> bool:
        """Running, with a heartbeat less than three periods old."""
        if self.stopped_at is not None:
            return False
        return now - self.heartbeat_at <= timedelta(seconds=3 * self.heartbeat_every + 5)


# -- the report --------------------------------------------------------------------


class WorkerInfo(BaseModel):
    """A worker process in the health report.

    Attributes:
        name: Host, process id and a random part.
        alive: Running, with a recent heartbeat.
        started_at: When it started.
        heartbeat_at: Its last heartbeat.
        stopped_at: When it stopped cleanly, if it did.
        jobs: The jobs it runs.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    alive: bool
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    jobs: list[str]


class JobHealth(BaseModel):
    """One job in the health report.

    Attributes:
        name: The job.
        kind: ``periodic`` (one worker at a time, under a lease) or
            ``dispatcher`` (every worker shares its dispatch group's events).
        every: Seconds between runs (periodic) or between checks when idle.
        scheduled: Some live worker runs it.
        running: A run is in progress (periodic: a worker holds the lease;
            dispatcher: some live worker runs it).
        running_on: The workers running it.
        last_run_at: When a run (or step) last ended.
        last_success_at: When one last ended well.
        last_result: What the last successful periodic run did.
        last_error: The last failure's message.
        last_error_at: When it happened.
        failures: Failed runs in a row (0 after a success).
        next_due_at: When a periodic job is due next.
        status: ``ok``; ``failing`` (the last run failed); ``overdue`` (a
            periodic job well past its due time); ``idle`` (no live worker
            runs it).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    kind: JobKind
    every: float
    scheduled: bool
    running: bool
    running_on: list[str]
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_result: str | None = None
    last_error: str | None
    last_error_at: datetime | None
    failures: int
    next_due_at: datetime | None
    status: Literal["ok", "failing", "overdue", "idle"]


class DispatcherHealth(BaseModel):
    """Where one dispatch group stands against the outbox.

    Attributes:
        group: The dispatch group (``automation``, ``notifications``,
            ``sync:<integration>``).
        outbox_position: The newest event in the outbox.
        done_upto: Every event up to here is handled.
        lag: Events not handled yet (``outbox_position - done_upto``).
        in_flight: Leased ranges not finished yet.
        expired: Of those, ranges whose lease ran out (a dispatcher died or
            gave a failed batch back).
        dead_letters: Records the integration refused for good (sync groups only).
        parked: Why the integration is parked (sync groups only), or ``None``.
    """

    model_config = ConfigDict(frozen=True)

    group: str
    outbox_position: int
    done_upto: int
    lag: int
    in_flight: int
    expired: int
    dead_letters: int | None = None
    parked: str | None = None


class Health(BaseModel):
    """The health of the background work on one store, for a health endpoint.

    Attributes:
        status: ``ok``, or ``degraded`` when any of `problems` holds.
        problems: What is wrong, one line each (empty when ok).
        checked_at: When this report was made.
        workers: Workers seen in the store (live ones, then the others).
        jobs: Every job any worker has run or runs.
        dispatchers: Every dispatch group the workers use.

    Example:
        ```python
        health = await kit.health()
        status_code = 200 if health.status == "ok" else 503
        body = health.model_dump_json()
        ```
    """

    model_config = ConfigDict(frozen=True)

    status: Literal["ok", "degraded"]
    problems: list[str]
    checked_at: datetime
    workers: list[WorkerInfo]
    jobs: list[JobHealth]
    dispatchers: list[DispatcherHealth]

    def lines(self) -> list[str]:
        """The report as text: an overall line, one per job, one per dispatch group."""
        alive = sum(1 for w in self.workers if w.alive)
        out = [
            f"status {self.status}: {alive} worker(s) running"
            + "".join(f"; {p}" for p in self.problems)
        ]
        for job in self.jobs:
            parts = [f"{job.name:<20} {job.status:<8} {job.kind:<10} every {_seconds(job.every)}"]
            parts.append(f"last run {_at(job.last_run_at)}")
            parts.append(f"last success {_at(job.last_success_at)}")
            if job.last_result is not None:
                parts.append(f"({job.last_result})")
            if job.next_due_at is not None:
                parts.append(f"next due {_at(job.next_due_at)}")
            if job.running:
                parts.append("running on " + ", ".join(job.running_on))
            if job.last_error is not None:
                parts.append(f"last error {_at(job.last_error_at)}: {job.last_error}")
            out.append("  ".join(parts))
        for group in self.dispatchers:
            line = (
                f"dispatch {group.group:<15} lag {group.lag} (outbox {group.outbox_position}, "
                f"done {group.done_upto}), in flight {group.in_flight}, expired {group.expired}"
            )
            if group.dead_letters is not None:
                line += f", dead letters {group.dead_letters}"
            if group.parked:
                line += f", parked: {group.parked}"
            out.append(line)
        return out


def _at(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment is not None else "never"


def _seconds(value: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if value >= size and value % size == 0:
            return f"{value / size:g} {unit}"
    return f"{value:g} s"


async def read_health(
    core: Core,
    *,
    max_lag: int = 1000,
    groups: Collection[str] = (),
    now: datetime | None = None,
) -> Health:
    """Build the `Health` report of the store behind ``core`` (see `Health`).

    Args:
        core: The kit's core.
        max_lag: A dispatch group further behind the outbox than this many
            events makes the report ``degraded``.
        groups: More dispatch groups to report, such as your own
            dispatchers' (the workers' groups and every synced
            integration's are always reported).
        now: The time to judge at (default: now).

    Raises:
        InvalidInputError: ``max_lag`` is negative, or ``groups`` is not a
            list of names.
    """
    if isinstance(max_lag, bool) or not isinstance(max_lag, int) or max_lag < 0:
        raise InvalidInputError("max_lag must be a whole number >= 0", field="max_lag")
    if not isinstance(groups, list | tuple | set | frozenset) or not all(
        isinstance(g, str) and g for g in groups
    ):
        raise InvalidInputError("groups must be a list of dispatch group names", field="groups")
    moment = now or utcnow()
    store = await core.ready()
    states = await store.find(JobState)
    workers = await store.find(WorkerState)
    live = [w for w in workers if w.alive(moment)]
    problems: list[str] = []
    if not live:
        problems.append("no worker is running")
    scheduled = {name for w in live for name in w.jobs}

    jobs: list[JobHealth] = []
    for state in sorted(states, key=lambda s: s.name):
        running = (
            state.owner is not None and state.lease_until is not None and state.lease_until > moment
        )
        grace = timedelta(seconds=max(state.every, 60.0))
        status: Literal["ok", "failing", "overdue", "idle"] = "ok"
        if state.name not in scheduled:
            status = "idle"
        elif state.failures:
            status = "failing"
        elif not running and state.next_due_at is not None and state.next_due_at + grace < moment:
            status = "overdue"
        jobs.append(
            JobHealth(
                name=state.name,
                kind="periodic",
                every=state.every,
                scheduled=state.name in scheduled,
                running=running,
                running_on=[state.owner] if running and state.owner else [],
                last_run_at=state.last_finished_at,
                last_success_at=state.last_success_at,
                last_result=state.last_result,
                last_error=state.last_error,
                last_error_at=state.last_error_at,
                failures=state.failures,
                next_due_at=state.next_due_at,
                status=status,
            )
        )

    job_groups: dict[str, str] = {}
    by_job: dict[str, list[tuple[WorkerState, JobRun]]] = {}
    for worker in workers:
        for name, run in worker.dispatchers.items():
            by_job.setdefault(name, []).append((worker, run))
            job_groups[name] = run.group
    for name in sorted(by_job):
        runs = by_job[name]
        on = [w.name for w, _ in runs if w.alive(moment)]
        current = [r for w, r in runs if w.alive(moment)] or [r for _, r in runs]
        errors = [r for _, r in runs if r.last_error_at is not None]
        latest_error = max(errors, key=lambda r: r.last_error_at or moment, default=None)
        failures = max((r.failures for r in current), default=0)
        status = "idle" if not on else "failing" if failures else "ok"
        jobs.append(
            JobHealth(
                name=name,
                kind="dispatcher",
                every=runs[0][1].every,
                scheduled=bool(on),
                running=bool(on),
                running_on=on,
                last_run_at=_latest(r.last_run_at for _, r in runs),
                last_success_at=_latest(r.last_success_at for _, r in runs),
                last_error=latest_error.last_error if latest_error else None,
                last_error_at=latest_error.last_error_at if latest_error else None,
                failures=failures,
                next_due_at=None,
                status=status,
            )
        )
    for job in jobs:
        if job.status == "failing":
            problems.append(f"{job.name} failing: {job.last_error}")
        elif job.status == "overdue":
            problems.append(f"{job.name} overdue since {_at(job.next_due_at)}")

    position = await store.last_position()
    dispatchers: list[DispatcherHealth] = []
    sync_groups = {f"sync:{name}" for name in await _integrations(core)}
    for group in sorted({*job_groups.values(), *sync_groups, *groups}):
        status_ = await store.dispatch_status(group)
        dead: int | None = None
        parked: str | None = None
        if group.startswith("sync:"):
            from ..sync import Sync

            sync = await Sync(core).status(group.removeprefix("sync:"))
            dead, parked = sync.dead, sync.parked
        lag = max(0, position - status_.done_upto)
        dispatchers.append(
            DispatcherHealth(
                group=group,
                outbox_position=position,
                done_upto=status_.done_upto,
                lag=lag,
                in_flight=status_.in_flight,
                expired=status_.expired,
                dead_letters=dead,
                parked=parked,
            )
        )
        if lag > max_lag:
            problems.append(f"dispatch group {group} is {lag} events behind")
        if dead:
            problems.append(f"{group} has {dead} dead letters")
        if parked:
            problems.append(f"{group} is parked: {parked}")

    infos = [
        WorkerInfo(
            name=w.name,
            alive=w.alive(moment),
            started_at=w.started_at,
            heartbeat_at=w.heartbeat_at,
            stopped_at=w.stopped_at,
            jobs=list(w.jobs),
        )
        for w in sorted(workers, key=lambda w: (not w.alive(moment), w.started_at))
    ]
    return Health(
        status="degraded" if problems else "ok",
        problems=problems,
        checked_at=moment,
        workers=infos,
        jobs=jobs,
        dispatchers=dispatchers,
    )


def _latest(values: Iterable[datetime | None]) -> datetime | None:
    return max((v for v in values if v is not None), default=None)


async def _integrations(core: Core) -> list[str]:
    from ..models.sync import SyncState

    store = await core.ready()
    return sorted(state.integration for state in await store.find(SyncState))
