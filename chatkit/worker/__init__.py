"""The background worker: every periodic job and dispatcher of a kit in one task.

Run ``chatkit worker`` (any number of them, on any machines sharing the
store), or embed it with `AsyncChatKit.run_worker` / `ChatKit.worker`, and
expose `AsyncChatKit.health` on a health endpoint. See the guide "Run it in
production" for the jobs, their schedules and what to monitor.

Example:
    ```python
    async with AsyncChatKit("postgresql://chat@db/support") as kit:
        await kit.run_worker(handle_signals=True)  # until SIGTERM or Ctrl-C
    ```
"""

from __future__ import annotations

from .health import DispatcherHealth, Health, JobHealth, WorkerInfo, read_health
from .jobs import BUILTIN_JOBS, SYNC_EVERY, PeriodicJob
from .runner import Worker

__all__ = [
    "BUILTIN_JOBS",
    "SYNC_EVERY",
    "DispatcherHealth",
    "Health",
    "JobHealth",
    "PeriodicJob",
    "Worker",
    "WorkerInfo",
    "read_health",
]
