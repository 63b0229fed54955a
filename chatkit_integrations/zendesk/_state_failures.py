"""Failure injection of the emulated Zendesk account: the next calls answer 429, 500, ..."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class FailurePlan:
    """Fail ``remaining`` API calls with ``status`` (and ``Retry-After``) after ``skip`` pass."""

    status: int
    remaining: int
    retry_after: int | None = None
    skip: int = 0


class _FailureState:
    """Plans the failures the emulator answers before serving a call."""

    lock: threading.RLock
    failures: list[FailurePlan]

    def fail_next(
        self, status: int, *, times: int = 1, retry_after: int | None = None, after: int = 0
    ) -> None:
        """Answer ``times`` API calls with ``status`` (429, 500, 401, ...), after ``after`` pass."""
        with self.lock:
            self.failures.append(FailurePlan(status, times, retry_after, after))

    def take_failure(self) -> FailurePlan | None:
        """Consume one planned failure, if any."""
        with self.lock:
            while self.failures and self.failures[0].remaining <= 0:
                self.failures.pop(0)
            if not self.failures:
                return None
            plan = self.failures[0]
            if plan.skip > 0:
                plan.skip -= 1
                return None
            plan.remaining -= 1
            return FailurePlan(plan.status, 1, plan.retry_after)
