"""Periodic jobs under leases, and what they record for health reports.

`acquire` takes a due job's lease by writing its `JobState` with a version
check (so one worker at a time runs it); `run_periodic` runs the job while
renewing that lease, and `finish` clears the lease and records the outcome
and the next due time, which `AsyncChatKit.health` reads. `describe` and
`summary` shorten an error or a result for those records. The run loop that
calls them is `chatkit.worker.runner.Worker`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..errors import ConflictError, DuplicateKeyError
from ..models._base import utcnow
from ..redact import mask_text
from ..services._core import bump
from ..stores.base import Insert, Store, Update
from .health import JobState, job_state_id
from .jobs import PeriodicJob

if TYPE_CHECKING:
    from .._facade import AsyncChatKit

__all__ = ["acquire", "describe", "finish", "run_periodic", "summary"]

log = logging.getLogger("chatkit.worker")


def describe(exc: BaseException) -> str:
    text = mask_text(f"{type(exc).__name__}: {exc}")
    return text if len(text) <= 500 else text[:497] + "..."


def summary(result: object) -> str:
    if result is None:
        text = "done"
    elif isinstance(result, (list, tuple)):
        text = f"{len(result)} items"
    else:
        text = str(result)
    return text if len(text) <= 200 else text[:197] + "..."


async def acquire(
    job: PeriodicJob, store: Store, *, owner: str, lease_seconds: float
) -> tuple[JobState | None, datetime]:
    """Take ``job``'s lease if it is due and free: the lease, and when to look again."""
    now = utcnow()
    until = now + timedelta(seconds=lease_seconds)
    state = await store.get(JobState, job_state_id(job.name))
    if state is None:
        new = JobState(
            id=job_state_id(job.name),
            name=job.name,
            every=job.every,
            owner=owner,
            lease_until=until,
            last_started_at=now,
        )
        try:
            await store.commit([Insert(new)])
        except (ConflictError, DuplicateKeyError):
            return None, now  # another worker created it: look again at once
        return new, now
    if state.owner is not None and state.lease_until is not None and state.lease_until > now:
        return None, min(state.lease_until, now + timedelta(seconds=job.every))
    if state.next_due_at is not None and state.next_due_at > now:
        return None, state.next_due_at
    new = bump(state, owner=owner, lease_until=until, last_started_at=now, every=job.every)
    try:
        await store.commit([Update(new)])
    except ConflictError:
        return None, now + timedelta(seconds=min(job.every, 1.0))
    if state.owner is not None and state.owner != owner:
        log.warning(
            "worker %s: took over %s from %s, whose lease ran out",
            owner,
            job.name,
            state.owner,
        )
    return new, now


async def run_periodic(
    kit: AsyncChatKit,
    job: PeriodicJob,
    state: JobState,
    store: Store,
    *,
    owner: str,
    lease_seconds: float,
) -> datetime:
    """Run ``job`` under its lease; record the outcome; return when it is due next."""
    lock = asyncio.Lock()
    held: list[JobState | None] = [state]

    finished_event = asyncio.Event()

    async def keep() -> None:
        """Renew the lease every third of its length until the job is done."""
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(finished_event.wait(), lease_seconds / 3)
            if finished_event.is_set():
                return
            async with lock:
                current = held[0]
                if current is None:
                    return
                renewed = bump(current, lease_until=utcnow() + timedelta(seconds=lease_seconds))
                try:
                    await store.commit([Update(renewed)])
                except ConflictError:
                    log.warning("worker %s lost its lease on %s", owner, job.name)
                    held[0] = None
                    return
                except Exception:
                    log.exception("worker %s: could not renew %s", owner, job.name)
                    continue
                held[0] = renewed

    started = utcnow()
    keeper = asyncio.ensure_future(keep())
    result: object = None
    error: BaseException | None = None
    try:
        result = await job.run(kit)
    except Exception as exc:
        error = exc
        log.exception("worker %s: job %s failed; it runs again when next due", owner, job.name)
    except BaseException as exc:  # cancelled: release the lease, then go on cancelling
        error = exc
        raise
    finally:
        finished_event.set()  # the keeper ends after any renewal in hand, never mid-write
        with contextlib.suppress(Exception):
            await keeper
        finished = utcnow()
        due = max(started + timedelta(seconds=job.every), finished)
        if error is not None and not isinstance(error, Exception):
            due = finished  # interrupted, not failed: due again at once
        await asyncio.shield(
            finish(job, held, lock, store, result, error, finished, due, owner=owner)
        )
    if error is None:
        log.debug("worker %s: %s: %s", owner, job.name, summary(result))
    return due


async def finish(
    job: PeriodicJob,
    held: list[JobState | None],
    lock: asyncio.Lock,
    store: Store,
    result: object,
    error: BaseException | None,
    finished: datetime,
    due: datetime,
    *,
    owner: str,
) -> None:
    async with lock:
        current = held[0]
        held[0] = None
        if current is None:
            return
        outcome: dict[str, object] = {
            "owner": None,
            "lease_until": None,
            "last_finished_at": finished,
            "runs": current.runs + 1,
            "next_due_at": due,
        }
        if error is None:
            outcome |= {
                "last_success_at": finished,
                "failures": 0,
                "last_result": summary(result),
            }
        elif isinstance(error, Exception):
            outcome |= {
                "last_error": describe(error),
                "last_error_at": finished,
                "failures": current.failures + 1,
            }
        try:
            await store.commit([Update(bump(current, **outcome))])
        except ConflictError:
            log.warning(
                "worker %s: the lease on %s ran out before it finished; its outcome is lost",
                owner,
                job.name,
            )
        except Exception:
            log.exception("worker %s: could not record the outcome of %s", owner, job.name)
