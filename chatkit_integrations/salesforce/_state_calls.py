"""Failure injection and the call log of the emulated Salesforce org."""

from __future__ import annotations

import copy
import threading
from collections import Counter
from dataclasses import dataclass

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass
class FailurePlan:
    """Answer the next ``remaining`` matching API calls with ``status`` and this error.

    ``method`` and ``path`` (a substring of the request path) narrow which
    calls fail; ``None`` matches every call.
    """

    status: int
    remaining: int
    error_code: str
    message: str
    retry_after: int | None = None
    method: str | None = None
    path: str | None = None

    def applies(self, method: str, path: str) -> bool:
        """Whether this plan fails a ``method`` call to ``path``."""
        return (self.method is None or self.method == method) and (
            self.path is None or self.path in path
        )


@dataclass(frozen=True)
class Call:
    """One request the emulator answered.

    Attributes:
        method: HTTP method.
        path: The request path.
        route: The resource, e.g. ``composite/sobjects/{sobject}/{field}``
            or ``query``; ``login`` for the SOAP login.
        status: The HTTP status answered.
        api: Whether it counts against the org's API request limit (REST
            calls do; logins do not).
    """

    method: str
    path: str
    route: str
    status: int
    api: bool = True

    @property
    def write(self) -> bool:
        """Whether it is a REST call that writes (POST, PATCH, PUT, DELETE)."""
        return self.api and self.method in WRITE_METHODS


_DEFAULT_ERRORS: dict[int, tuple[str, str]] = {
    401: ("INVALID_SESSION_ID", "Session expired or invalid"),
    403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    404: ("NOT_FOUND", "The requested resource does not exist"),
    429: ("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."),
    500: (
        "UNKNOWN_EXCEPTION",
        "An unexpected error occurred. Please include this ErrorId if you contact support: "
        "1183926966-107564 (-1182868337)",
    ),
    502: ("SERVER_UNAVAILABLE", "Bad Gateway"),
    503: ("SERVER_UNAVAILABLE", "Server Unavailable"),
}


class _CallState:
    """Planned failures and the answered calls of `SalesforceState`."""

    lock: threading.RLock
    failures: list[FailurePlan]
    calls: list[Call]

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        error_code: str | None = None,
        message: str | None = None,
        retry_after: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching API calls with ``status``.

        The body is Salesforce's for that status unless ``error_code`` and
        ``message`` say otherwise: 401 ``INVALID_SESSION_ID``, 403
        ``REQUEST_LIMIT_EXCEEDED`` (the daily limit), 500
        ``UNKNOWN_EXCEPTION``, 503 ``SERVER_UNAVAILABLE``. Salesforce's REST
        API answers limits with 403, not 429; 429 is here for gateways.
        """
        default_code, default_message = _DEFAULT_ERRORS.get(
            status, ("UNKNOWN_EXCEPTION", "Injected failure")
        )
        with self.lock:
            self.failures.append(
                FailurePlan(
                    status,
                    times,
                    error_code or default_code,
                    message or default_message,
                    retry_after,
                    method.upper() if method else None,
                    path,
                )
            )

    def take_failure(self, method: str, path: str) -> FailurePlan | None:
        """Consume one planned failure matching this call, if any."""
        with self.lock:
            self.failures = [plan for plan in self.failures if plan.remaining > 0]
            for plan in self.failures:
                if plan.applies(method, path):
                    plan.remaining -= 1
                    return copy.copy(plan)
            return None

    def record_call(self, call: Call) -> None:
        """Log an answered request (the emulator does this for every request)."""
        with self.lock:
            self.calls.append(call)

    def call_count(
        self, *, method: str | None = None, route: str | None = None, api_only: bool = True
    ) -> int:
        """How many calls were answered, optionally of one method and/or route."""
        with self.lock:
            return sum(
                1
                for call in self.calls
                if (call.api or not api_only)
                and (method is None or call.method == method.upper())
                and (route is None or call.route == route)
            )

    def write_count(self) -> int:
        """How many REST calls wrote (POST, PATCH, PUT, DELETE), failed ones included."""
        with self.lock:
            return sum(1 for call in self.calls if call.write)

    def call_summary(self) -> Counter[tuple[str, str]]:
        """Calls counted by ``(method, route)``."""
        with self.lock:
            return Counter((call.method, call.route) for call in self.calls)

    def reset_calls(self) -> None:
        """Forget the call log (not `api_usage`)."""
        with self.lock:
            self.calls.clear()
