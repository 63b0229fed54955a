"""PostgreSQL scale: ingest against raw psycopg, two processes, outbox drain, claim race.

Run ``python benchmarks/scale.py --quick`` (under a minute on 2 cores) or
without ``--quick`` for bigger counts. It needs a PostgreSQL server: the URL
comes from ``CHATKIT_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``). Every measurement runs in
fresh schemas named ``chatkit_bench_<what>_<random>``, dropped at the end
even when something fails. Worker processes are started once, with the
``spawn`` method, before anything is timed. Progress goes to stderr; the
last line on stdout is one JSON object with the figures.

1. **Durable ingest (``pg_ingest_ratio``, goal >= 0.5).**

   - *SDK*: ``AsyncChatKit("<url>?schema=<fresh>")`` (default pool; the
     URL also sets libpq's ``application_name``, as do the raw connections),
     ``senders`` asyncio tasks in this process, each on its own
     conversation, each calling ``await kit.messages.send(conversation_id,
     TEXT, author=Author.customer(contact_id))`` in a loop; each call
     returns after its commit. Per message the SDK reads the conversation,
     then writes a versioned UPDATE of the conversations row, an INSERT
     into messages, the UPDATE of the one-row ``outbox_sequence`` counter
     and an INSERT into events (however the store groups and batches
     them: see ``chatkit/stores/postgres.py``).
   - *Raw*: psycopg 3, synchronous, one connection, on a fresh schema whose
     tables, contacts and conversations were created by the SDK. Per
     message one transaction (one commit) writing the same rows as four
     plain statements, as a simple application would: ``UPDATE
     conversations ... WHERE id = %s AND version = %s`` (row count
     checked), ``INSERT INTO messages``, ``UPDATE outbox_sequence SET
     last_position = last_position + 1 RETURNING last_position`` and
     ``INSERT INTO events`` at that position; round robin over ``senders``
     conversations. JSON payloads are the ones the SDK wrote in an
     untimed warm-up run (same sizes); ids and sort keys are generated
     before the clock starts.

   Both sides first write a short untimed warm-up on the same schema. Each
   side runs ``rounds`` times, alternating which goes first, on a fresh
   schema per run; medians are reported and the rows written (messages,
   message events, ``last_seq`` sums, gapless outbox positions) are checked
   after every run. ``pg_ingest_ratio`` = SDK msg/s ÷ raw msg/s.

2. **Two processes (``two_process_cpu_overhead``, goal <= 1.1).** The
   same ``send`` workload, ``scale_messages`` messages in total, run by one
   worker process and by two, on a fresh schema per run. Each worker
   process opens its own ``AsyncChatKit`` on the same schema and runs
   ``senders`` asyncio tasks, each on its own conversation (created
   beforehand by this process, so two processes use 2 x ``senders``
   conversations); the messages are split evenly over the processes and,
   within a process, over its tasks. Each worker writes a few untimed
   warm-up messages, then waits at a start barrier; the wall time runs from
   the barrier's release to the last worker's last commit. Rounds alternate
   1, 2, 2, 1, ...; medians; rows checked.

   On a 2-core machine that also runs PostgreSQL, one process already keeps
   both cores nearly busy, so a second one cannot add much throughput; what
   the machine can show is whether two processes waste CPU. So the goal is
   on CPU per message: the CPU time (``/proc/<pid>/stat`` user + system)
   of the worker processes and of the PostgreSQL backends serving them
   (found in ``pg_stat_activity`` by an ``application_name`` unique to the
   run), from just before the barrier's release to just after the last
   commit (the workers keep their connections open until then), divided by
   the messages sent. A round is a pair of runs, one with each process
   count, back to back; ``two_process_cpu_overhead`` is the median over the
   rounds of each round's 2-process CPU ms per message ÷ its 1-process CPU
   ms per message (``scale_rounds_cpu_overhead`` lists them). Pairing is
   what makes the figure stable: on a shared 2-core machine the CPU time of
   the very same work moves by ±30% with what else runs (the 1-process
   baseline alone ranged 0.9-1.6 ms per message between rounds of one run),
   and both runs of a round see much the same load. The medians of each
   side are kept: ``one_process_cpu_ms_per_msg`` (the baseline),
   ``two_process_cpu_ms_per_msg`` and their ratio
   ``two_process_cpu_overhead_of_medians``; ``scale_cpu_ms_per_msg_parts``
   splits them into SDK and PostgreSQL. Per round, for information:
   ``scale_rounds_sdk_cpu_ms_per_msg`` (the worker processes' part) and
   ``scale_rounds_sdk_preemptions_per_msg``, how often per message the
   worker processes were taken off a CPU while still runnable
   (``nonvoluntary_ctxt_switches`` of their threads): the same work costs
   more CPU time the more it is preempted, which is most of what a second
   process adds here. While a run is timed, a thread samples
   ``pg_stat_activity`` every 10 ms: ``scale_lock_wait_share`` is the share
   of the samples of active sessions that were waiting for a lock
   (``wait_event_type = 'Lock'``), ``scale_active_sessions_mean`` how many
   sessions were active on average. A backend that goes away during a run
   counts up to its last sample. ``two_process_speedup`` = 2-process msg/s
   ÷ 1-process msg/s is kept for information.

3. **Outbox drain (``outbox_drain_ratio``, goal >= 0.5).** A fresh schema
   is filled with ``drain_events`` ``message.created`` events through
   ``kit.store.commit`` (batches of 500), then analysed. *SDK*: two
   worker processes, each with its own kit, each running ``await
   kit.events.dispatcher("bench-group", handler, batch_size=100,
   lease_seconds=30.0).drain()`` from a common barrier, then ``close()``
   (which finishes the last batch's lease) when the dispatcher has it; the
   handler counts the events and remembers their ids. Afterwards
   ``kit.events.dispatch_status`` (when there) must show the whole group
   done (``sdk_drain_group_finished``). *Raw*: the same two processes, each
   with one psycopg connection, looping ``SELECT position, data FROM
   bench_queue WHERE NOT done ORDER BY position LIMIT 100 FOR UPDATE SKIP
   LOCKED``, ``json.loads`` of each row (remembering ``id``), ``UPDATE
   bench_queue SET done = true WHERE position = ANY(...)``, ``COMMIT``
   until the SELECT comes back empty, over ``CREATE TABLE bench_queue AS
   SELECT position, data, false AS done FROM events`` (+ primary key) in the
   same schema. Rate = events ÷ wall seconds (barrier to last process
   done). Afterwards the union of the ids handled by both processes is
   compared with the events table: ``drain_missing`` and
   ``drain_duplicates`` (handled more than once) are reported for each
   side. Each round fills a fresh schema that both sides then drain (the
   SDK through its group's tables, the raw loop its ``bench_queue`` copy),
   alternating which goes first; medians. ``outbox_drain_ratio`` = SDK
   events/s ÷ raw events/s. Without ``kit.events.dispatcher`` in the
   installed chatkit, the SDK side and the ratio are ``null`` (with a note
   on stderr).

4. **Claim race (``double_claims``, ``capacity_violations``, both must be
   0).** ``claim_conversations`` conversations (made with
   ``kit.messages.receive``) and ``claim_agents`` agents of
   ``max_concurrent_chats = claim_capacity`` (total capacity below the
   number of conversations). ``claim_processes`` worker processes, each
   with its own kit and ``claim_tasks`` asyncio tasks, start from a barrier
   and all claim all conversations, in the same order (task *t* of each
   process takes conversations *t*, *t* + ``claim_tasks``, ...), trying
   agents in an order rotated by the process index: ``await
   kit.conversations.claim(conversation_id, agent_id)``; on success the
   conversation is won for that agent, on ``AlreadyClaimedError`` it moves
   on, on ``AgentAtCapacityError`` it marks that agent full (for that
   process) and tries the next. A claimer is an agent: ``claim`` for the
   agent that already holds the conversation returns it without writing,
   so two processes both told "won" for the same agent is a repeat, not a
   double claim (counted as ``claim_repeats``). ``double_claims`` =
   conversations won for two or more different agents + conversations
   whose stored assignee is not their unique winner (or is set with no
   winner). ``capacity_violations`` = agents holding more open, pending or
   snoozed assigned conversations than their ``max_concurrent_chats``,
   counted from the database. Wins per process and the error counts are
   reported too. A claim that fails otherwise (``StoreError``) counts as
   not won, in ``claim_store_errors``; the database check still covers
   it. ``claim_race_s`` is how long the race took and ``claim_deadlocks``
   how many deadlocks PostgreSQL broke in the database meanwhile (from its
   statistics, so other sessions count too).

On Linux each timed window also records how busy the whole machine's CPUs
were (``*_cpu_busy_pct``: chatkit, PostgreSQL and anything else running),
and ``cpu_busy_before_pct`` is a 1-second sample before the first
measurement, to tell a noisy machine from a slow one. ``--only SECTION``
runs one section (repeatable).

The figures are printed as measured, whether they meet the goals or not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import io
import json
import multiprocessing
import os
import platform
import queue
import secrets
import signal
import statistics
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg

from chatkit import (
    AgentAtCapacityError,
    AlreadyClaimedError,
    AsyncChatKit,
    Author,
    ConflictError,
    StoreError,
)
from chatkit.events import Event, MessageCreated
from chatkit.models import Message
from chatkit.models._base import new_id

TEXT = "Hi! My order 245-12784 is four days late, could you check where it is, please?"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
GROUP = "bench-group"
DRAIN_BATCH = 100
FILL_BATCH = 500
ACTIVE_STATUSES = ("open", "pending", "snoozed")
APP_NAME = "chatkit-bench-scale"


@dataclass(frozen=True)
class Config:
    """Sizes of one run."""

    quick: bool
    senders: int
    per_sender: int
    warmup_per_sender: int
    rounds: int
    scale_messages: int
    scale_rounds: int
    drain_events: int
    drain_rounds: int
    claim_conversations: int
    claim_processes: int
    claim_tasks: int
    claim_agents: int
    claim_capacity: int

    @classmethod
    def make(cls, quick: bool, senders: int) -> Config:
        """The quick (under a minute on 2 cores) or the full configuration."""
        split = 2 * senders  # the two-process workload divides evenly over every task
        # CPU per message needs runs of a second or more of CPU: with 512 messages a
        # run used about 0.8 s (80 clock ticks over ~20 processes), and the
        # two-process figure swung by +-30% from run to run. With 1024 messages
        # and 3 rounds the 1-process baseline alone still swung 0.9-1.6 ms/msg
        # between rounds (other load on the shared machine), so --quick runs
        # 5 pairs of 1536.
        scale_messages = 1536 if quick else 6400
        return cls(
            quick=quick,
            senders=senders,
            per_sender=64 if quick else 400,
            warmup_per_sender=10 if quick else 25,
            rounds=3 if quick else 5,
            scale_messages=-(-scale_messages // split) * split,
            scale_rounds=5 if quick else 7,
            drain_events=10_000 if quick else 50_000,
            drain_rounds=2 if quick else 3,
            claim_conversations=200 if quick else 1000,
            claim_processes=4,
            # More tasks per process make a harder race; with 4 the race took
            # 20-30 s on 2 cores (deadlocks between grouped commits), too
            # long for --quick.
            claim_tasks=2 if quick else 4,
            claim_agents=8 if quick else 20,
            claim_capacity=12 if quick else 25,
        )


def log(text: str) -> None:
    """A progress line on stderr (stdout carries only the JSON result)."""
    print(text, file=sys.stderr, flush=True)


def cpu_times() -> tuple[int, int] | None:
    """(all, idle + iowait) CPU ticks of the whole machine so far; ``None`` without /proc."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(t) for t in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return sum(ticks), ticks[3] + ticks[4]


def busy_pct(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """Share of all CPUs busy (every process: chatkit, PostgreSQL, anything else) between two
    `cpu_times` readings."""
    if before is None or after is None or after[0] <= before[0]:
        return None
    total = after[0] - before[0]
    return round(100 * (total - (after[1] - before[1])) / total, 1)


def kit_url(base: str, schema: str, app: str = APP_NAME) -> str:
    """The chatkit URL of ``schema`` on the server of ``base``.

    ``application_name`` (passed on to libpq; ``app``) names the benchmark's
    sessions in ``pg_stat_activity``.
    """
    return f"{base}{'&' if '?' in base else '?'}schema={schema}&application_name={app}"


def connect(base: str, schema: str | None = None, **kwargs: Any) -> psycopg.Connection[Any]:
    """A plain psycopg connection, with ``search_path`` set to ``schema``."""
    if schema is not None:
        kwargs["options"] = f"-c search_path={schema}"
    return psycopg.connect(base, application_name=APP_NAME, **kwargs)


class Schemas:
    """Fresh schemas, each dropped when its measurement is done (and all at exit)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.live: list[str] = []

    def new(self, what: str) -> str:
        """A new, unused schema name (the SDK store creates the schema)."""
        name = f"chatkit_bench_{what}_{secrets.token_hex(5)}"
        self.live.append(name)
        return name

    def drop(self, name: str) -> None:
        """Drop one schema and everything in it."""
        try:
            with connect(self.base, autocommit=True) as conn:
                conn.execute("SET lock_timeout = '20s'")
                conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        except psycopg.Error as exc:
            log(f"could not drop schema {name}: {exc}")
            return
        if name in self.live:
            self.live.remove(name)

    def drop_all(self) -> None:
        """Drop every schema this run made that is still there."""
        for name in list(self.live):
            self.drop(name)

    @contextlib.contextmanager
    def fresh(self, what: str) -> Iterator[str]:
        """A fresh schema name for the ``with`` block, dropped after it."""
        name = self.new(what)
        try:
            yield name
        finally:
            self.drop(name)


# -- CPU time of processes and lock waits ----------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
SAMPLE_SECONDS = 0.01


def process_cpu_ticks(pid: int) -> int | None:
    """User + system CPU ticks of process ``pid`` (all its threads); ``None`` when gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the line)


def preemptions(pid: int) -> int | None:
    """How often process ``pid`` (all its threads) was taken off a CPU while still runnable."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("nonvoluntary_ctxt_switches:"):
                        total += int(line.split()[1])
    except (OSError, ValueError):
        return None
    return total


class CpuMeter:
    """CPU time of the worker processes and of the PostgreSQL backends serving them.

    `start` reads every process before the barrier is released, `stop` after
    the workers' last commits (their connections still open). Between the
    two, a thread samples ``pg_stat_activity`` every `SAMPLE_SECONDS` for the
    sessions named ``app``: it reads the CPU time of each backend it sees (so
    one that goes away before `stop` still counts, up to its last sample),
    and counts how many of the samples of active sessions were waiting for a
    lock (``wait_event_type = 'Lock'``). The sampling session has its own
    name and is not counted, nor is this (the parent) process.
    """

    def __init__(self, base: str, app: str, workers: list[int]) -> None:
        self.base = base
        self.app = app
        self.workers = workers
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.preempted_first: dict[int, int | None] = {}
        self.preempted_last: dict[int, int | None] = {}
        self.backends: set[int] = set()
        self.active_samples = 0
        self.lock_samples = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None

    def _backend_rows(self) -> list[tuple[int, str | None, str | None]]:
        assert self._conn is not None
        rows = self._conn.execute(
            "SELECT pid, state, wait_event_type FROM pg_stat_activity "
            "WHERE application_name = %s AND backend_type = 'client backend'",
            (self.app,),
        ).fetchall()
        return [(int(pid), state, wait) for pid, state, wait in rows]

    def _read(self, pids: list[int], into: dict[int, int]) -> None:
        for pid in pids:
            ticks = process_cpu_ticks(pid)
            if ticks is not None:
                into[pid] = ticks

    def start(self) -> None:
        """Read every process's CPU time; start sampling."""
        self._conn = psycopg.connect(
            self.base, application_name=f"{self.app}-meter", autocommit=True
        )
        backends = [pid for pid, _, _ in self._backend_rows()]
        self.backends.update(backends)
        self._read(self.workers + backends, self.first)
        self.last.update(self.first)
        self.preempted_first = {pid: preemptions(pid) for pid in self.workers}
        self._thread = threading.Thread(target=self._sample, name="cpu-meter", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            try:
                rows = self._backend_rows()
            except psycopg.Error:
                return
            self.samples += 1
            for pid, state, wait in rows:
                self.backends.add(pid)
                if state == "active":
                    self.active_samples += 1
                    if wait == "Lock":
                        self.lock_samples += 1
            self._read([pid for pid, _, _ in rows], self.last)

    def stop(self) -> None:
        """Stop sampling; read every process's CPU time again."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        backends = [pid for pid, _, _ in self._backend_rows()]
        self.backends.update(backends)
        self._read(self.workers + backends, self.last)
        self.preempted_last = {pid: preemptions(pid) for pid in self.workers}
        if self._conn is not None:
            self._conn.close()

    def seconds(self, pids: set[int] | list[int]) -> float:
        """CPU seconds used by ``pids`` between `start` and `stop` (new ones from zero)."""
        ticks = sum(self.last.get(pid, 0) - self.first.get(pid, 0) for pid in pids)
        return ticks / CLOCK_TICKS

    def figures(self, messages: int) -> dict[str, Any]:
        """CPU per message (ms) of the workers, the backends and both; lock-wait share."""
        sdk = self.seconds(self.workers)
        postgres = self.seconds(self.backends)
        preempted = [
            (self.preempted_last.get(pid), self.preempted_first.get(pid)) for pid in self.workers
        ]
        return {
            "sdk_preemptions_per_msg": (
                sum(b - a for b, a in preempted if a is not None and b is not None) / messages
                if all(a is not None and b is not None for b, a in preempted)
                else None
            ),
            "cpu_ms_per_msg": 1000 * (sdk + postgres) / messages,
            "sdk_cpu_ms_per_msg": 1000 * sdk / messages,
            "postgres_cpu_ms_per_msg": 1000 * postgres / messages,
            "backends": len(self.backends),
            "backends_opened": len(self.backends - set(self.first)),
            "lock_wait_share": (
                self.lock_samples / self.active_samples if self.active_samples else 0.0
            ),
            "active_sessions_mean": self.active_samples / self.samples if self.samples else 0.0,
        }


# -- worker processes -----------------------------------------------------------


class Gate:
    """The start barrier, as seen by a worker process."""

    def __init__(self, index: int, inbox: Any, results: Any, timeout: float) -> None:
        self.index = index
        self.inbox = inbox
        self.results = results
        self.timeout = timeout

    async def wait(self) -> float:
        """Report ready, wait for the common start; return the monotonic start time."""
        self.results.put(("ready", self.index, None))
        signal = await asyncio.to_thread(self.inbox.get, True, self.timeout)
        if signal != "go":
            raise RuntimeError(f"worker {self.index} stopped before the start: {signal!r}")
        return time.monotonic()

    async def hold(self) -> None:
        """Report the timed work done, wait until the parent has taken its readings.

        The worker's connections stay open meanwhile, so the parent can still
        read the CPU time of the PostgreSQL backends serving it.
        """
        self.results.put(("held", self.index, None))
        signal = await asyncio.to_thread(self.inbox.get, True, self.timeout)
        if signal != "release":
            raise RuntimeError(f"worker {self.index} was not released: {signal!r}")


TaskFn = Callable[..., Awaitable[dict[str, Any]]]


async def guarded(task: Awaitable[dict[str, Any]], timeout: float) -> dict[str, Any]:
    """Run ``task``; after ``timeout`` seconds fail with the stacks of every asyncio task."""
    inner = asyncio.ensure_future(task)
    done, _ = await asyncio.wait({inner}, timeout=timeout)
    if not done:
        stacks = io.StringIO()
        for pending in asyncio.all_tasks():
            pending.print_stack(file=stacks)
        inner.cancel()
        raise TimeoutError(f"no result after {timeout}s; tasks:\n{stacks.getvalue()}")
    return inner.result()


def worker_main(index: int, inbox: Any, results: Any) -> None:
    """Body of a worker process: run tasks sent by the parent until told to stop."""
    results.put(("hello", index, os.getpid()))
    parent = multiprocessing.parent_process()
    while True:
        try:
            item = inbox.get(timeout=1.0)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return  # the benchmark went away without stopping us
            continue
        if item is None:
            return
        name, kwargs, timeout = item
        try:
            task: TaskFn = TASKS[name]
            gate = Gate(index, inbox, results, timeout)
            result = asyncio.run(guarded(task(gate, **kwargs), timeout))
            results.put(("done", index, result))
        except BaseException:
            results.put(("error", index, traceback.format_exc()))


class Workers:
    """Worker processes (spawned once) that run tasks from a common start barrier."""

    def __init__(self, count: int, timeout: float) -> None:
        self.count = count
        self.timeout = timeout
        """Seconds a task may take before its worker reports where it hangs."""
        self.last_busy_pct: float | None = None
        """Machine CPU busy % during the last `run`, from the barrier to the last result."""
        self.pids: dict[int, int] = {}
        """Process id of each worker, by index."""
        self._spawn()

    def _spawn(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.results = ctx.Queue()
        self.inboxes = [ctx.Queue() for _ in range(self.count)]
        self.broken = False
        """A worker stopped answering: `restart` before the next run."""
        self.processes = [
            ctx.Process(
                target=worker_main,
                args=(n, self.inboxes[n], self.results),
                name=f"scale-worker-{n}",
                daemon=True,
            )
            for n in range(self.count)
        ]

    def start(self) -> None:
        """Start every worker and wait until each has imported chatkit."""
        for process in self.processes:
            process.start()
        self.pids = {}
        for _ in self.processes:
            kind, index, pid = self._next()
            assert kind == "hello", kind
            self.pids[index] = pid

    def _next(self) -> tuple[str, int, Any]:
        try:
            # Longer than a worker's own guard, which reports where it hung.
            item: tuple[str, int, Any] = self.results.get(timeout=self.timeout + 30)
        except queue.Empty:
            self.broken = True
            raise RuntimeError("a worker process did not answer in time") from None
        return item

    def run(
        self,
        task: str,
        jobs: list[dict[str, Any]],
        *,
        on_start: Callable[[], None] | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> tuple[list[dict[str, Any]], float]:
        """Run ``task`` on workers 0..len(jobs)-1, each with its kwargs, from one barrier.

        ``on_start`` is called just before the barrier is released;
        ``on_end`` once every worker is done or waiting in `Gate.hold`
        (before those are released). Returns each worker's result and the
        wall seconds from the barrier's release to the last worker's ``end``
        (a monotonic time in its result).
        """
        for n, kwargs in enumerate(jobs):
            self.inboxes[n].put((task, kwargs, self.timeout))
        waiting = set(range(len(jobs)))
        ready: set[int] = set()
        errors: dict[int, str] = {}
        results: dict[int, dict[str, Any]] = {}
        while waiting - ready - set(errors) - set(results):
            kind, index, payload = self._next()
            if kind == "ready":
                ready.add(index)
            elif kind == "error":
                errors[index] = payload
            elif kind == "done":  # finished without waiting at the barrier
                results[index] = payload
        if errors:
            for index in ready:
                self.inboxes[index].put("abort")
        if not errors and on_start is not None:
            on_start()
        cpu = cpu_times()
        started = time.monotonic()
        if not errors:
            for index in ready:
                self.inboxes[index].put("go")
        held: set[int] = set()
        while ready - held - set(errors) - set(results):
            kind, index, payload = self._next()
            if kind == "held":
                held.add(index)
            elif kind == "error":
                errors[index] = payload
            else:
                assert kind == "done", kind
                results[index] = payload
        self.last_busy_pct = busy_pct(cpu, cpu_times())
        if held:
            if not errors and on_end is not None:
                on_end()
            for index in held:
                self.inboxes[index].put("release")
            for _ in held:
                kind, index, payload = self._next()
                if kind == "error":
                    errors[index] = payload
                else:
                    assert kind == "done", kind
                    results[index] = payload
        if errors:
            raise RuntimeError(
                "worker failed:\n" + "\n".join(f"[{n}] {t}" for n, t in sorted(errors.items()))
            )
        ordered = [results[n] for n in range(len(jobs))]
        return ordered, max(r["end"] for r in ordered) - started

    def restart(self) -> None:
        """End every worker and start new ones (after one stopped answering)."""
        self.close()
        self._spawn()
        self.start()

    def close(self) -> None:
        """Stop the workers (ending those that do not stop)."""
        for inbox, process in zip(self.inboxes, self.processes, strict=True):
            if process.is_alive():
                inbox.put(None)
        for process in self.processes:
            process.join(5)
            if process.is_alive():
                process.terminate()
                process.join(5)


# -- shared helpers -------------------------------------------------------------


async def gather_all(*tasks: Awaitable[Any]) -> list[Any]:
    """Like ``asyncio.gather``, but every task ends before the first error is raised.

    So no task is still using a kit when the ``async with`` around it closes it.
    """
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


async def make_conversations(kit: AsyncChatKit, count: int) -> list[tuple[str, str]]:
    """``count`` (contact id, conversation id) pairs, one conversation per contact."""
    pairs = []
    for n in range(count):
        contact = await kit.contacts.create(name=f"Customer {n}")
        conversation = await kit.conversations.create(contact_id=contact.id)
        pairs.append((contact.id, conversation.id))
    return pairs


async def send_messages(kit: AsyncChatKit, pairs: list[tuple[str, str]], each: int) -> None:
    """One task per pair, each sending ``each`` messages sequentially."""

    async def sender(contact_id: str, conversation_id: str) -> None:
        author = Author.customer(contact_id)
        for _ in range(each):
            await kit.messages.send(conversation_id, TEXT, author=author)

    await gather_all(*(sender(c, v) for c, v in pairs))


def check_ingest(
    base: str, schema: str, messages: int, conversations: int, *, sdk: bool = True
) -> None:
    """Check a finished ingest run wrote exactly what it should have."""
    with connect(base, schema) as conn:

        def one(sql: str) -> tuple[Any, ...]:
            row = conn.execute(sql).fetchone()
            assert row is not None, sql
            return tuple(row)

        found = one("SELECT COUNT(*) FROM messages")
        assert found == (messages,), (schema, found, messages)
        created = one("SELECT COUNT(*) FROM events WHERE type = 'message.created'")
        assert created == (messages,), (schema, created, messages)
        # Every message bumped its conversation's version once (created at version 1).
        versions = one("SELECT COUNT(*), SUM(version) FROM conversations")
        assert versions == (conversations, conversations + messages), (schema, versions)
        if sdk:  # the raw baseline writes one SDK-made conversation JSON for all
            seqs = one("SELECT SUM((data::jsonb ->> 'last_seq')::bigint) FROM conversations")
            assert seqs == (messages,), (schema, seqs)
        outbox = one(
            "SELECT (SELECT last_position FROM outbox_sequence), MIN(position), MAX(position), "
            "COUNT(*) FROM events"
        )
        assert outbox[1] == 1, (schema, outbox)  # positions start at 1 ...
        assert outbox[0] == outbox[2] == outbox[3], (schema, outbox)  # ... and have no gaps


# -- 1. ingest: SDK against raw psycopg -------------------------------------------


async def sdk_ingest(base: str, schema: str, cfg: Config) -> tuple[float, float | None]:
    """Messages/s through ``kit.messages.send`` with ``cfg.senders`` concurrent tasks."""
    async with AsyncChatKit(kit_url(base, schema)) as kit:
        pairs = await make_conversations(kit, cfg.senders)
        await send_messages(kit, pairs, cfg.warmup_per_sender)
        gc.collect()
        cpu = cpu_times()
        started = time.perf_counter()
        await send_messages(kit, pairs, cfg.per_sender)
        elapsed = time.perf_counter() - started
        busy = busy_pct(cpu, cpu_times())
    total = cfg.senders * (cfg.warmup_per_sender + cfg.per_sender)
    check_ingest(base, schema, total, cfg.senders)
    return cfg.senders * cfg.per_sender / elapsed, busy


@dataclass(frozen=True)
class Payloads:
    """The JSON the SDK stored for one message, used by the raw baseline."""

    message: str
    event: str
    conversation: str
    event_type: str


def sdk_payloads(base: str, schema: str) -> tuple[Payloads, dict[str, float]]:
    """The newest message, event and conversation JSON the SDK wrote, and average sizes."""
    with connect(base, schema) as conn:

        def one(sql: str, *params: Any) -> tuple[Any, ...]:
            row = conn.execute(sql, params).fetchone()
            assert row is not None, sql
            return tuple(row)

        (message,) = one("SELECT data FROM messages ORDER BY seq DESC, id LIMIT 1")
        event_type, event = one(
            "SELECT type, data FROM events WHERE type = 'message.created' "
            "ORDER BY position DESC LIMIT 1"
        )
        conversation_id = json.loads(message)["conversation_id"]
        (conversation,) = one("SELECT data FROM conversations WHERE id = %s", conversation_id)
        sizes = {
            "messages": float(one("SELECT AVG(LENGTH(data)) FROM messages")[0]),
            "events": float(
                one("SELECT AVG(LENGTH(data)) FROM events WHERE type = 'message.created'")[0]
            ),
            "conversations": float(len(conversation)),
        }
    return Payloads(message, event, conversation, event_type), sizes


@dataclass
class RawPlan:
    """Statement parameters for every raw message, computed before timing."""

    updates: list[tuple[Any, ...]]
    messages: list[tuple[Any, ...]]
    events: list[tuple[Any, ...]]


def raw_plan(
    conversations: list[tuple[str, str, str]], count: int, start: int, p: Payloads
) -> RawPlan:
    """Parameters for ``count`` messages, round robin over ``conversations``.

    ``start`` is how many messages each conversation already holds (warm-up).
    """
    updates, messages, events = [], [], []
    for n in range(count):
        conversation_id, contact_id, status = conversations[n % len(conversations)]
        seq = start + n // len(conversations) + 1
        version = seq + 1  # version 1 was the creation
        micros = n + start * len(conversations)
        activity = (
            f"2030-01-01T{micros // 3_600_000_000 % 24:02d}:{micros // 60_000_000 % 60:02d}:"
            f"{micros // 1_000_000 % 60:02d}.{micros % 1_000_000:06d}Z|{conversation_id}"
        )
        # The SDK's UPDATE: version, contact_id, status, assignee_id,
        # activity_key, data; then id and the expected old version.
        updates.append(
            (version, contact_id, status, None, activity, p.conversation, conversation_id, seq)
        )
        messages.append((new_id("msg"), 1, conversation_id, seq, None, p.message))
        events.append((new_id("evt"), p.event_type, conversation_id, p.event))
    return RawPlan(updates, messages, events)


UPDATE_CONVERSATION = (
    "UPDATE conversations SET version = %s, contact_id = %s, status = %s, assignee_id = %s, "
    "activity_key = %s, data = %s WHERE id = %s AND version = %s"
)
INSERT_MESSAGE = (
    "INSERT INTO messages (id, version, conversation_id, seq, idempotency_key, data) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)
NEXT_POSITION = (
    "UPDATE outbox_sequence SET last_position = last_position + %s RETURNING last_position"
)
INSERT_EVENT = (
    "INSERT INTO events (position, id, type, conversation_id, data) VALUES (%s, %s, %s, %s, %s)"
)


def raw_write(conn: psycopg.Connection[Any], plan: RawPlan) -> None:
    """Write every planned message, one transaction (and commit) each."""
    cur = conn.cursor()
    execute, fetchone, commit = cur.execute, cur.fetchone, conn.commit
    one = (1,)
    for update, message, event in zip(plan.updates, plan.messages, plan.events, strict=True):
        if execute(UPDATE_CONVERSATION, update).rowcount != 1:
            raise RuntimeError(f"conversation {update[6]} is not at version {update[7]}")
        execute(INSERT_MESSAGE, message)
        execute(NEXT_POSITION, one)
        row = fetchone()
        assert row is not None
        execute(INSERT_EVENT, (row[0], *event))
        commit()


async def raw_ingest(
    base: str, schema: str, cfg: Config, payloads: Payloads
) -> tuple[float, float | None]:
    """Messages/s with psycopg, one connection, one commit per message."""
    async with AsyncChatKit(kit_url(base, schema)) as kit:
        pairs = await make_conversations(kit, cfg.senders)
        conversations = [(v, c, (await kit.conversations.get(v)).status.value) for c, v in pairs]
    warm = raw_plan(conversations, cfg.senders * cfg.warmup_per_sender, 0, payloads)
    count = cfg.senders * cfg.per_sender
    plan = raw_plan(conversations, count, cfg.warmup_per_sender, payloads)
    with connect(base, schema) as conn:
        raw_write(conn, warm)
        gc.collect()
        cpu = cpu_times()
        started = time.perf_counter()
        raw_write(conn, plan)
        elapsed = time.perf_counter() - started
        busy = busy_pct(cpu, cpu_times())
    total = cfg.senders * (cfg.warmup_per_sender + cfg.per_sender)
    check_ingest(base, schema, total, cfg.senders, sdk=False)
    return count / elapsed, busy


async def measure_ingest(base: str, schemas: Schemas, cfg: Config) -> dict[str, Any]:
    """Section 1: the SDK's send rate against raw psycopg."""
    # An untimed SDK run supplies the raw baseline's payloads (and warms up).
    with schemas.fresh("warmup") as schema:
        async with AsyncChatKit(kit_url(base, schema)) as kit:
            pairs = await make_conversations(kit, cfg.senders)
            await send_messages(kit, pairs, cfg.warmup_per_sender)
        payloads, sizes = sdk_payloads(base, schema)
    log(f"ingest: payload bytes (SDK-written averages): {json.dumps(sizes)}")
    rates: dict[str, list[float]] = {"sdk": [], "raw": []}
    cpu: dict[str, list[float | None]] = {"sdk": [], "raw": []}
    for n in range(cfg.rounds):
        order = ["sdk", "raw"] if n % 2 == 0 else ["raw", "sdk"]
        for name in order:
            with schemas.fresh(f"ingest_{name}") as schema:
                if name == "sdk":
                    rate, busy = await sdk_ingest(base, schema, cfg)
                else:
                    rate, busy = await raw_ingest(base, schema, cfg, payloads)
                rates[name].append(rate)
                cpu[name].append(busy)
        log(
            f"ingest round {n + 1}/{cfg.rounds}: sdk {rates['sdk'][-1]:,.0f} msg/s, "
            f"raw {rates['raw'][-1]:,.0f} msg/s"
        )
    sdk, raw = statistics.median(rates["sdk"]), statistics.median(rates["raw"])
    return {
        "pg_ingest_ratio": round(sdk / raw, 3),
        "sdk_msgs_per_s": round(sdk),
        "raw_msgs_per_s": round(raw),
        "ingest_senders": cfg.senders,
        "ingest_messages_per_round": cfg.senders * cfg.per_sender,
        "ingest_rounds": cfg.rounds,
        "ingest_rounds_msgs_per_s": {k: [round(r) for r in v] for k, v in rates.items()},
        "ingest_cpu_busy_pct": cpu,
        "payload_bytes": {k: round(v) for k, v in sizes.items()},
    }


# -- 2. one process against two -------------------------------------------------------


async def task_send(
    gate: Gate, url: str, pairs: list[tuple[str, str]], warmup: int, each: int, hold: bool = False
) -> dict[str, Any]:
    """Worker: warm up, wait at the barrier, send ``each`` messages per pair.

    With ``hold``, wait after the last commit (connections open) until the
    parent has read the CPU times (`Gate.hold`).
    """
    async with AsyncChatKit(url) as kit:
        await send_messages(kit, pairs, warmup)
        gc.collect()
        start = await gate.wait()
        await send_messages(kit, pairs, each)
        end = time.monotonic()
        if hold:
            await gate.hold()
    return {"start": start, "end": end, "sent": len(pairs) * each}


@dataclass
class ScaleRun:
    """One run of the send workload: its rate, machine load, CPU and lock figures."""

    rate: float
    busy: float | None
    cpu: dict[str, Any]


async def scale_run(
    base: str, schema: str, cfg: Config, workers: Workers, processes: int
) -> ScaleRun:
    """``cfg.scale_messages`` sent by ``processes`` worker processes: rate and CPU."""
    tasks = processes * cfg.senders
    if cfg.scale_messages % tasks:
        raise ValueError(f"scale_messages must be a multiple of {tasks}")
    each = cfg.scale_messages // tasks
    warmup = 5
    # A name of this run only, so the meter counts no other session.
    app = f"{APP_NAME}-{schema.rsplit('_', 1)[-1]}"
    url = kit_url(base, schema, app)
    async with AsyncChatKit(kit_url(base, schema)) as kit:
        pairs = await make_conversations(kit, tasks)
    jobs = [
        {
            "url": url,
            "pairs": pairs[n * cfg.senders : (n + 1) * cfg.senders],
            "warmup": warmup,
            "each": each,
            "hold": True,
        }
        for n in range(processes)
    ]
    meter = CpuMeter(base, app, [workers.pids[n] for n in range(processes)])
    results, wall = workers.run("send", jobs, on_start=meter.start, on_end=meter.stop)
    assert sum(r["sent"] for r in results) == cfg.scale_messages
    check_ingest(base, schema, cfg.scale_messages + tasks * warmup, tasks)
    return ScaleRun(
        cfg.scale_messages / wall, workers.last_busy_pct, meter.figures(cfg.scale_messages)
    )


async def measure_scale(
    base: str, schemas: Schemas, cfg: Config, workers: Workers
) -> dict[str, Any]:
    """Section 2: the same send workload from one worker process and from two."""
    rates: dict[int, list[float]] = {1: [], 2: []}
    cpu: dict[int, list[float | None]] = {1: [], 2: []}
    per_msg: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    for n in range(cfg.scale_rounds):
        order = [1, 2] if n % 2 == 0 else [2, 1]
        for processes in order:
            with schemas.fresh(f"scale{processes}") as schema:
                run = await scale_run(base, schema, cfg, workers, processes)
                rates[processes].append(run.rate)
                cpu[processes].append(run.busy)
                per_msg[processes].append(run.cpu)
        log(
            f"scale round {n + 1}/{cfg.scale_rounds}: 1 process {rates[1][-1]:,.0f} msg/s "
            f"{per_msg[1][-1]['cpu_ms_per_msg']:.3f} CPU ms/msg, "
            f"2 processes {rates[2][-1]:,.0f} msg/s "
            f"{per_msg[2][-1]['cpu_ms_per_msg']:.3f} CPU ms/msg "
            f"(lock waits {per_msg[2][-1]['lock_wait_share']:.1%})"
        )

    def median(processes: int, key: str) -> float:
        return statistics.median(r[key] for r in per_msg[processes])

    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    cpu_one, cpu_two = median(1, "cpu_ms_per_msg"), median(2, "cpu_ms_per_msg")
    # Each round's two runs are back to back, so they share the machine's load
    # of the moment; the ratio within a round cancels most of what other
    # programs do to CPU time per message (cache, preemption), which moves
    # both runs of a round alike but differs a lot between rounds.
    pair_ratios = [
        two_run["cpu_ms_per_msg"] / one_run["cpu_ms_per_msg"]
        for one_run, two_run in zip(per_msg[1], per_msg[2], strict=True)
    ]
    return {
        "two_process_cpu_overhead": round(statistics.median(pair_ratios), 3),
        "scale_rounds_cpu_overhead": [round(r, 3) for r in pair_ratios],
        "two_process_cpu_overhead_of_medians": round(cpu_two / cpu_one, 3),
        "one_process_cpu_ms_per_msg": round(cpu_one, 4),
        "two_process_cpu_ms_per_msg": round(cpu_two, 4),
        "scale_cpu_ms_per_msg_parts": {
            str(p): {
                "sdk": round(median(p, "sdk_cpu_ms_per_msg"), 4),
                "postgres": round(median(p, "postgres_cpu_ms_per_msg"), 4),
            }
            for p in (1, 2)
        },
        "scale_lock_wait_share": {str(p): round(median(p, "lock_wait_share"), 4) for p in (1, 2)},
        "scale_rounds_sdk_cpu_ms_per_msg": {
            str(p): [round(r["sdk_cpu_ms_per_msg"], 4) for r in per_msg[p]] for p in (1, 2)
        },
        "scale_rounds_sdk_preemptions_per_msg": {
            str(p): [
                None
                if r["sdk_preemptions_per_msg"] is None
                else round(r["sdk_preemptions_per_msg"], 2)
                for r in per_msg[p]
            ]
            for p in (1, 2)
        },
        "scale_active_sessions_mean": {
            str(p): round(median(p, "active_sessions_mean"), 2) for p in (1, 2)
        },
        "scale_backends": {str(p): [r["backends"] for r in per_msg[p]] for p in (1, 2)},
        "scale_backends_opened": {
            str(p): [r["backends_opened"] for r in per_msg[p]] for p in (1, 2)
        },
        "scale_rounds_cpu_ms_per_msg": {
            str(p): [round(r["cpu_ms_per_msg"], 4) for r in per_msg[p]] for p in (1, 2)
        },
        "two_process_speedup": round(two / one, 3),
        "one_process_msgs_per_s": round(one),
        "two_process_msgs_per_s": round(two),
        "scale_messages_total": cfg.scale_messages,
        "scale_senders_per_process": cfg.senders,
        "scale_process_counts": [1, 2],
        "scale_rounds": cfg.scale_rounds,
        "scale_rounds_msgs_per_s": {
            "1": [round(r) for r in rates[1]],
            "2": [round(r) for r in rates[2]],
        },
        "scale_cpu_busy_pct": {"1": cpu[1], "2": cpu[2]},
    }


# -- 3. outbox drain ------------------------------------------------------------------


def dispatcher_available() -> bool:
    """Whether the installed chatkit has ``kit.events.dispatcher``."""
    from chatkit.services.events import Events

    return callable(getattr(Events, "dispatcher", None))


async def task_drain_sdk(gate: Gate, url: str) -> dict[str, Any]:
    """Worker: drain the group with a chatkit dispatcher; the ids handled."""
    ids: list[str] = []

    async def handler(events: list[Event]) -> None:
        ids.extend(event.id for event in events)

    async with AsyncChatKit(url) as kit:
        dispatcher = kit.events.dispatcher(  # type: ignore[attr-defined]
            GROUP, handler, batch_size=DRAIN_BATCH, lease_seconds=30.0
        )
        await kit.store.last_position()  # the pool is open before the clock starts
        start = await gate.wait()
        handled = await dispatcher.drain()
        close = getattr(dispatcher, "close", None)
        if close is not None:  # finish the last batch now rather than with a next lease
            await close()
        end = time.monotonic()
    return {"start": start, "end": end, "handled": handled, "ids": ids}


async def task_drain_raw(gate: Gate, base: str, schema: str) -> dict[str, Any]:
    """Worker: drain ``bench_queue`` with SELECT ... FOR UPDATE SKIP LOCKED."""
    ids: list[str] = []
    select = (
        "SELECT position, data FROM bench_queue WHERE NOT done ORDER BY position "
        f"LIMIT {DRAIN_BATCH} FOR UPDATE SKIP LOCKED"
    )
    done = "UPDATE bench_queue SET done = true WHERE position = ANY(%s)"
    with connect(base, schema) as conn:
        conn.execute("SELECT 1")
        conn.commit()
        start = await gate.wait()
        cur = conn.cursor()
        loads = json.loads
        while True:
            rows = cur.execute(select).fetchall()
            if not rows:
                conn.commit()
                break
            ids.extend(loads(data)["id"] for _, data in rows)
            cur.execute(done, ([position for position, _ in rows],))
            conn.commit()
        end = time.monotonic()
    return {"start": start, "end": end, "handled": len(ids), "ids": ids}


async def group_finished(url: str, last_position: int) -> bool | None:
    """Whether the store records the whole group as done (``None``: no way to ask)."""
    async with AsyncChatKit(url) as kit:
        ask = getattr(kit.events, "dispatch_status", None)
        if ask is None:
            return None
        status = await ask(GROUP)
        return bool(status.done_upto == last_position and status.in_flight == 0)


def drain_events_to_write(count: int) -> list[Event]:
    """``count`` message events over 10 conversations (built once, written per round)."""
    conversations = [(new_id("conv"), new_id("ct")) for _ in range(10)]
    events: list[Event] = []
    for n in range(count):
        conversation_id, contact_id = conversations[n % len(conversations)]
        message = Message(
            id=new_id("msg"),
            conversation_id=conversation_id,
            seq=n // len(conversations) + 1,
            author=Author.customer(contact_id),
            text=TEXT,
        )
        events.append(
            MessageCreated(conversation_id=conversation_id, contact_id=contact_id, message=message)
        )
    return events


def drain_check(name: str, results: list[dict[str, Any]], expected: set[str]) -> dict[str, int]:
    """Every event handled by someone? Duplicates? (union over the processes)."""
    handled = [event_id for r in results for event_id in r["ids"]]
    for r in results:
        assert r["handled"] == len(r["ids"]), (name, r["handled"], len(r["ids"]))
    seen = set(handled)
    return {
        "duplicates": len(handled) - len(seen),
        "missing": len(expected - seen),
        "unknown": len(seen - expected),
    }


async def measure_drain(
    base: str, schemas: Schemas, cfg: Config, workers: Workers
) -> dict[str, Any]:
    """Section 3: two dispatcher processes against two raw SKIP LOCKED loops."""
    have_dispatcher = dispatcher_available()
    if not have_dispatcher:
        log(
            "drain: this chatkit has no kit.events.dispatcher yet; the SDK drain rate and "
            "outbox_drain_ratio are reported as null (raw baseline still measured)"
        )
    events = drain_events_to_write(cfg.drain_events)
    rates: dict[str, list[float]] = {"sdk": [], "raw": []}
    cpu: dict[str, list[float | None]] = {"sdk": [], "raw": []}
    checks: dict[str, Counter[str]] = {"sdk": Counter(), "raw": Counter()}
    per_process: dict[str, list[list[int]]] = {"sdk": [], "raw": []}
    sides = ["sdk", "raw"] if have_dispatcher else ["raw"]
    finished: list[bool | None] = []
    for n in range(cfg.drain_rounds):
        with schemas.fresh("drain") as schema:
            url = kit_url(base, schema)
            started = time.perf_counter()
            async with AsyncChatKit(url) as kit:
                for first in range(0, len(events), FILL_BATCH):
                    await kit.store.commit([], events[first : first + FILL_BATCH])
            with connect(base, schema, autocommit=True) as conn:
                conn.execute(
                    "CREATE TABLE bench_queue AS SELECT position, data, false AS done FROM events"
                )
                conn.execute("ALTER TABLE bench_queue ADD PRIMARY KEY (position)")
                conn.execute("ANALYZE events")  # not a bare ANALYZE: that is the whole database
                conn.execute("ANALYZE bench_queue")
                expected = {row[0] for row in conn.execute("SELECT id FROM events")}
            assert len(expected) == cfg.drain_events, len(expected)
            log(
                f"drain round {n + 1}/{cfg.drain_rounds}: {len(expected)} events written in "
                f"{time.perf_counter() - started:.1f}s"
            )
            order = sides if n % 2 == 0 else sides[::-1]
            for side in order:
                processes = 2
                if side == "sdk":
                    jobs: list[dict[str, Any]] = [{"url": url} for _ in range(processes)]
                    results, wall = workers.run("drain_sdk", jobs)
                else:
                    jobs = [{"base": base, "schema": schema} for _ in range(processes)]
                    results, wall = workers.run("drain_raw", jobs)
                checks[side].update(drain_check(side, results, expected))
                if side == "sdk":
                    finished.append(await group_finished(url, cfg.drain_events))
                per_process[side].append([r["handled"] for r in results])
                rates[side].append(cfg.drain_events / wall)
                cpu[side].append(workers.last_busy_pct)
                log(
                    f"drain round {n + 1}/{cfg.drain_rounds}: {side} {rates[side][-1]:,.0f} "
                    f"events/s, per process {per_process[side][-1]}"
                )
    raw = statistics.median(rates["raw"])
    sdk = statistics.median(rates["sdk"]) if rates["sdk"] else None
    return {
        "outbox_drain_ratio": round(sdk / raw, 3) if sdk is not None else None,
        "sdk_drain_events_per_s": round(sdk) if sdk is not None else None,
        "raw_drain_events_per_s": round(raw),
        "dispatcher_available": have_dispatcher,
        "drain_events": cfg.drain_events,
        "drain_processes": 2,
        "drain_batch_size": DRAIN_BATCH,
        "drain_rounds": cfg.drain_rounds,
        "drain_rounds_events_per_s": {k: [round(r) for r in v] for k, v in rates.items()},
        "drain_cpu_busy_pct": cpu,
        "drain_handled_per_process": per_process,
        "drain_duplicates": {s: checks[s]["duplicates"] for s in sides},
        "drain_missing": {s: checks[s]["missing"] for s in sides},
        "drain_unknown": {s: checks[s]["unknown"] for s in sides},
        "sdk_drain_group_finished": finished,
    }


# -- 4. claim race ----------------------------------------------------------------------


async def task_claim(
    gate: Gate, url: str, conversations: list[str], agents: list[str], tasks: int
) -> dict[str, Any]:
    """Worker: every task claims its share of all conversations, agents in ``agents`` order."""
    wins: list[tuple[str, str]] = []
    errors: Counter[str] = Counter()
    failures: list[str] = []  # claims that failed with neither outcome (e.g. a StoreError)
    full: set[str] = set()

    async with AsyncChatKit(url) as kit:

        async def claimer(mine: list[str]) -> None:
            for conversation_id in mine:
                for agent_id in agents:
                    if agent_id in full:
                        continue
                    try:
                        await kit.conversations.claim(conversation_id, agent_id)
                    except AlreadyClaimedError:
                        errors["already_claimed"] += 1
                        break
                    except AgentAtCapacityError:
                        errors["at_capacity"] += 1
                        full.add(agent_id)
                        continue
                    except ConflictError:
                        errors["conflict_retries_exhausted"] += 1
                        break
                    except StoreError as exc:
                        # Not a win; the database check below shows whether it landed anyway.
                        errors["store_errors"] += 1
                        failures.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
                        break
                    wins.append((conversation_id, agent_id))
                    break

        await kit.agents.get(agents[0])  # the pool is open before the clock starts
        start = await gate.wait()
        await gather_all(*(claimer(conversations[t::tasks]) for t in range(tasks)))
        end = time.monotonic()
    return {
        "start": start,
        "end": end,
        "wins": wins,
        "errors": dict(errors),
        "failures": failures,
    }


def database_deadlocks(base: str) -> int:
    """PostgreSQL's count of deadlocks broken in this database (all sessions, so far)."""
    with connect(base, autocommit=True) as conn:
        row = conn.execute(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


async def measure_claims(
    base: str, schemas: Schemas, cfg: Config, workers: Workers
) -> dict[str, Any]:
    """Section 4: processes race to claim every conversation; check owners and capacity."""
    with schemas.fresh("claims") as schema:
        url = kit_url(base, schema)
        async with AsyncChatKit(url) as kit:
            agents = [
                (
                    await kit.agents.create(
                        name=f"Agent {n}", max_concurrent_chats=cfg.claim_capacity
                    )
                ).id
                for n in range(cfg.claim_agents)
            ]
            gate = asyncio.Semaphore(8)

            async def make(n: int) -> str:
                async with gate:
                    inbound = await kit.messages.receive(channel="web", sender=f"v{n}", text="hi")
                    return inbound.conversation.id

            conversations = list(
                await gather_all(*(make(n) for n in range(cfg.claim_conversations)))
            )
        assert len(set(conversations)) == cfg.claim_conversations
        jobs = [
            {
                "url": url,
                "conversations": conversations,
                "agents": agents[p % len(agents) :] + agents[: p % len(agents)],
                "tasks": cfg.claim_tasks,
            }
            for p in range(cfg.claim_processes)
        ]
        deadlocks_before = database_deadlocks(base)
        results, wall = workers.run("claim", jobs)
        deadlocks = database_deadlocks(base) - deadlocks_before
        winners: dict[str, set[str]] = {}
        told: Counter[str] = Counter()
        for r in results:
            for conversation_id, agent_id in r["wins"]:
                winners.setdefault(conversation_id, set()).add(agent_id)
                told[conversation_id] += 1
        with connect(base, schema) as conn:
            stored = dict(conn.execute("SELECT id, assignee_id FROM conversations").fetchall())
            held = dict(
                conn.execute(
                    "SELECT assignee_id, COUNT(*) FROM conversations "
                    "WHERE assignee_id IS NOT NULL AND status = ANY(%s) GROUP BY assignee_id",
                    (list(ACTIVE_STATUSES),),
                ).fetchall()
            )
            limits = {
                agent_id: json.loads(data)
                for agent_id, data in conn.execute("SELECT id, data FROM agents").fetchall()
            }
    multiple = sum(1 for agents_won in winners.values() if len(agents_won) > 1)
    disagree = 0
    for conversation_id in conversations:
        won = winners.get(conversation_id, set())
        owner = stored[conversation_id]
        if (len(won) == 1 and owner not in won) or (not won and owner is not None):
            disagree += 1
    violations = sum(
        1
        for agent_id, data in limits.items()
        if held.get(agent_id, 0) > data["max_concurrent_chats"]
    )
    mismatched = sum(
        1 for agent_id, data in limits.items() if held.get(agent_id, 0) != data["active_chats"]
    )
    errors: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    for r in results:
        errors.update(r["errors"])
        failures.update(r["failures"])
    if failures:
        log(f"claims: {sum(failures.values())} claim calls failed: {dict(failures)}")
    return {
        "double_claims": multiple + disagree,
        "capacity_violations": violations,
        "claim_conversations": cfg.claim_conversations,
        "claim_processes": cfg.claim_processes,
        "claim_tasks_per_process": cfg.claim_tasks,
        "claim_agents": cfg.claim_agents,
        "claim_capacity_per_agent": cfg.claim_capacity,
        "claim_wins_per_process": [len(r["wins"]) for r in results],
        "claim_repeats": sum(told.values()) - sum(len(w) for w in winners.values()),
        "claim_multi_agent_wins": multiple,
        "claim_owner_disagreements": disagree,
        "claims_assigned": sum(held.values()),
        "claim_already_claimed_errors": errors["already_claimed"],
        "claim_capacity_errors": errors["at_capacity"],
        "claim_conflicts_gave_up": errors["conflict_retries_exhausted"],
        "claim_store_errors": errors["store_errors"],
        "claim_store_error_messages": dict(failures.most_common(3)),
        "claim_active_chats_mismatches": mismatched,
        "claim_race_s": round(wall, 2),
        "claim_deadlocks": deadlocks,
    }


TASKS: dict[str, TaskFn] = {
    "send": task_send,
    "drain_sdk": task_drain_sdk,
    "drain_raw": task_drain_raw,
    "claim": task_claim,
}


# -- driver ---------------------------------------------------------------------------


GOALS = {
    "pg_ingest_ratio": (">=", 0.5),
    "two_process_cpu_overhead": ("<=", 1.1),
    "outbox_drain_ratio": (">=", 0.5),
    "double_claims": ("==", 0),
    "capacity_violations": ("==", 0),
}


def goals_met(result: dict[str, Any]) -> dict[str, bool | None]:
    """Whether each measured key meets its goal (``None`` when not measured)."""
    met: dict[str, bool | None] = {}
    for key, (op, target) in GOALS.items():
        value = result.get(key)
        if value is None:
            met[key] = None
        else:
            met[key] = {">=": value >= target, "<=": value <= target}.get(op, value == target)
    return met


SECTIONS = ("ingest", "scale", "drain", "claims")


async def run(
    base: str, cfg: Config, workers: Workers, schemas: Schemas, only: list[str]
) -> dict[str, Any]:
    """Every measurement; the result dictionary (``errors`` names sections that failed)."""
    result: dict[str, Any] = {**dict.fromkeys(GOALS), "two_process_speedup": None}
    errors: dict[str, str] = {}
    sections: list[tuple[str, Callable[[], Awaitable[dict[str, Any]]]]] = [
        ("ingest", lambda: measure_ingest(base, schemas, cfg)),
        ("scale", lambda: measure_scale(base, schemas, cfg, workers)),
        ("drain", lambda: measure_drain(base, schemas, cfg, workers)),
        ("claims", lambda: measure_claims(base, schemas, cfg, workers)),
    ]
    for name, measure in sections:
        if name not in only:
            continue
        started = time.perf_counter()
        try:
            result.update(await measure())
        except Exception as exc:
            log(f"{name}: FAILED\n{traceback.format_exc()}")
            errors[name] = f"{type(exc).__name__}: {exc}"[:500]
            if workers.broken:
                log("restarting the worker processes")
                workers.restart()
        result[f"{name}_s"] = round(time.perf_counter() - started, 1)
        log(f"{name}: {result[f'{name}_s']}s")
    result["goals_met"] = goals_met(result)
    result["errors"] = errors
    return result


def main() -> None:
    """Parse arguments, run, print the JSON line last."""
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n", 1)[0],
        epilog="PostgreSQL URL: CHATKIT_POSTGRES_URL (default " + DEFAULT_URL + ").",
    )
    parser.add_argument("--quick", action="store_true", help="smaller counts, under a minute")
    parser.add_argument("--senders", type=int, default=8, help="concurrent sending tasks")
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only this section (repeatable); the others' keys stay null",
    )
    args = parser.parse_args()
    cfg = Config.make(args.quick, args.senders)
    base = os.environ.get("CHATKIT_POSTGRES_URL", DEFAULT_URL)
    started = time.perf_counter()
    with connect(base, connect_timeout=5) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        server = row[0] if row else "?"
    schemas = Schemas(base)
    # A plain `kill` still drops the schemas (the finally clause below runs).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workers = Workers(max(2, cfg.claim_processes), timeout=120.0 if cfg.quick else 900.0)
    try:
        workers.start()
        ready_s = time.perf_counter() - started
        log(f"{len(workers.processes)} worker processes ready in {ready_s:.1f}s")
        before = cpu_times()
        time.sleep(1.0)
        background = busy_pct(before, cpu_times())
        log(f"CPU busy before measuring (other load on the machine): {background}%")
        result = asyncio.run(run(base, cfg, workers, schemas, args.only or list(SECTIONS)))
    finally:
        workers.close()
        schemas.drop_all()
    result.update(
        {
            "benchmark": "scale",
            "quick": cfg.quick,
            "cpus": os.cpu_count(),
            "cpu_busy_before_pct": background,
            "python": platform.python_version(),
            "postgres": server,
            "psycopg": psycopg.__version__,
            "elapsed_s": round(time.perf_counter() - started, 1),
        }
    )
    print(json.dumps(result), flush=True)
    if result["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
