"""Failure injection, rate limits and the call log of the emulated HubSpot portal."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass
class FailurePlan:
    """Fail the next ``remaining`` API calls with ``status``.

    Attributes:
        status: The HTTP status (429, 500, 401, ...).
        remaining: How many calls still fail.
        retry_after: Seconds for a ``Retry-After`` header (none when ``None``).
        policy: For 429: the ``policyName`` (``"SECONDLY"``, ``"DAILY"``, ...).
        skip: Calls to serve normally before the failures start.
    """

    status: int
    remaining: int
    retry_after: int | None = None
    policy: str = "SECONDLY"
    skip: int = 0


def _is_write(method: str, path: str) -> bool:
    if method == "GET":
        return False
    return not path.endswith(("/search", "/batch/read"))


class _CallState:
    """Planned failures, the rate limits and the logged calls of `HubSpotState`."""

    lock: threading.RLock
    failures: list[FailurePlan]
    requests: list[tuple[str, str]]
    rate_limit: tuple[int, float] | None
    daily_limit: int | None
    _window: deque[float]
    _daily_used: int

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: int | None = None,
        policy: str = "SECONDLY",
        after: int = 0,
    ) -> None:
        """Answer ``times`` API calls with ``status``, after serving ``after`` calls normally."""
        with self.lock:
            self.failures.append(FailurePlan(status, times, retry_after, policy, after))

    def take_failure(self) -> FailurePlan | None:
        """Consume one planned failure, or a rate-limit refusal; ``None`` to serve the call."""
        with self.lock:
            while self.failures and self.failures[0].remaining <= 0:
                self.failures.pop(0)
            if self.failures:
                plan = self.failures[0]
                if plan.skip > 0:
                    plan.skip -= 1
                    return self._throttle()
                plan.remaining -= 1
                return FailurePlan(plan.status, 1, plan.retry_after, plan.policy)
            return self._throttle()

    def set_rate_limit(
        self, calls: int | None, per_seconds: float = 10.0, *, daily: int | None = None
    ) -> None:
        """Refuse calls over ``calls`` per ``per_seconds`` (429 SECONDLY) or ``daily`` (DAILY)."""
        with self.lock:
            self.rate_limit = None if calls is None else (calls, per_seconds)
            self.daily_limit = daily
            self._window.clear()
            self._daily_used = 0

    def _throttle(self) -> FailurePlan | None:
        if self.daily_limit is not None and self._daily_used >= self.daily_limit:
            return FailurePlan(429, 1, None, "DAILY")
        if self.rate_limit is not None:
            calls, per_seconds = self.rate_limit
            now = time.monotonic()
            while self._window and now - self._window[0] >= per_seconds:
                self._window.popleft()
            if len(self._window) >= calls:
                # HubSpot documents no Retry-After: clients read the interval header.
                return FailurePlan(429, 1, None, "SECONDLY")
            self._window.append(now)
        self._daily_used += 1
        return None

    def rate_headers(self) -> dict[str, str]:
        """The ``X-HubSpot-RateLimit-*`` headers HubSpot adds to every answer."""
        with self.lock:
            calls, per_seconds = self.rate_limit or (100, 10.0)
            daily = self.daily_limit or 250_000
            return {
                "X-HubSpot-RateLimit-Daily": str(daily),
                "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, daily - self._daily_used)),
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(per_seconds * 1000)),
                "X-HubSpot-RateLimit-Max": str(calls),
                "X-HubSpot-RateLimit-Remaining": str(max(0, calls - len(self._window))),
            }

    def record_call(self, method: str, path: str) -> None:
        """Log one API call (the emulator calls this for every request)."""
        with self.lock:
            self.requests.append((method, path))

    def calls(self, method: str | None = None, path: str | None = None) -> int:
        """How many API calls were made, optionally of one method and/or path prefix."""
        with self.lock:
            return sum(
                1
                for m, p in self.requests
                if (method is None or m == method) and (path is None or p.startswith(path))
            )

    def write_calls(self) -> int:
        """How many calls could write (everything but GETs, searches and batch reads)."""
        with self.lock:
            return sum(1 for m, p in self.requests if _is_write(m, p))

    def reset_calls(self) -> None:
        """Forget the logged calls (e.g. after a benchmark's set-up)."""
        with self.lock:
            self.requests.clear()
