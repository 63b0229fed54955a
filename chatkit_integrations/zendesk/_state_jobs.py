"""The bulk jobs of the emulated Zendesk account: job statuses revealed over polls."""

from __future__ import annotations

import copy
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ._records import Record, not_found


@dataclass
class _Job:
    record: Record
    results: list[Record]
    polls_left: int
    total: int = field(default=0)


class _JobState:
    """Job statuses of `ZendeskState` (create_many, update_many, ...)."""

    base_url: str
    clock: Callable[[], datetime]
    lock: threading.RLock
    job_polls: int
    jobs: dict[str, _Job]

    def start_job(self, results: list[Record]) -> Record:
        """Record a finished bulk job whose status is revealed over the next polls."""
        with self.lock:
            job_id = "V3-" + secrets.token_hex(16)
            record: Record = {
                "id": job_id,
                "url": f"{self.base_url}/api/v2/job_statuses/{job_id}.json",
                "total": len(results),
                "progress": None,
                "status": "queued",
                "message": None,
                "results": None,
            }
            self.jobs[job_id] = _Job(record, results, self.job_polls, len(results))
            return copy.deepcopy(record)

    def poll_job(self, job_id: str) -> Record:
        """The job's status now: ``working`` for `job_polls` polls, then ``completed``."""
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise not_found()
            if job.polls_left > 0:
                job.polls_left -= 1
                job.record.update(status="working", progress=job.total // 2)
            else:
                stamp = self.clock().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000")
                job.record.update(
                    status="completed",
                    progress=job.total,
                    message=f"Completed at {stamp}",
                    results=job.results,
                )
            return copy.deepcopy(job.record)
