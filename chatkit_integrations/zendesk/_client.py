"""The zenpy client shared by every part of `ZendeskIntegration`: settings, lifecycle,
how a failed call is classified, and the results of one push.

The integration is assembled from parts, one module each, all built on
`_ZendeskClient`: users (``_users.py``), tickets (``_tickets.py``), comments
and transcripts (``_comments.py``), pull and the exports (``_pull.py``),
webhooks (``_webhook_events.py``); ``integration.py`` holds the class itself,
the push that runs the parts in order, and the bulk jobs they share.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import Field, SecretStr

from chatkit.errors import (
    IntegrationAuthError,
    IntegrationError,
    PermanentIntegrationError,
    RetryableIntegrationError,
)
from chatkit.integrations import Integration, IntegrationConfig, OutboundChange, PushResult

from ._zenpy import APIException, Zenpy, ZenpyException, requests

logger = logging.getLogger("chatkit_integrations.zendesk.integration")

T = TypeVar("T")

BATCH = 100
"""Zendesk's limit for create_many, update_many, create_or_update_many and show_many."""


_DIRECT_MAX = 2
"""Write this many records or fewer one by one: a job costs a POST and at least one poll."""


COMMENT_BATCH = 2000
"""Comments taken in one push: they are written in jobs of 100 tickets, so the
more a push holds, the fuller its jobs (see `ZendeskIntegration._write_comments`)."""


EVENTS_PER_PAGE = 1000
"""Zendesk's page of the ticket event export (its most, and its default)."""


class ZendeskConfig(IntegrationConfig):
    """Settings, from code, ``CHATKIT_ZENDESK_*`` variables or a file.

    Attributes:
        subdomain: The account, as in ``https://{subdomain}.zendesk.com``.
        email: The API user's email (comments are written in their name).
        api_token: An API token of that user (Admin Center → Apps and integrations).
        webhook_secret: The signing secret of the Zendesk webhook that calls
            chatkit; needed by `ZendeskIntegration.verify_webhook`.
        webhook_replay_seconds: Deliveries signed longer ago (or further
            ahead) than this are refused.
        timeout: Seconds to wait for one HTTP answer.
        job_poll_interval: Seconds before the second poll of a bulk job's status
            (the first is made at once); the wait doubles, up to 8 times this.
        job_timeout: Seconds to wait for a bulk job; its records are retried
            after that.
        look_up_new_tickets: Look a conversation up by external id before
            creating its ticket whenever its ticket id is unknown (one call
            per new ticket), for callers that cannot promise what the sync
            engine does: that a change with ``attempt == 1`` was never sent
            before. When false (the default), only retried changes
            (``attempt > 1``) are looked up.
        events_per_page: Events asked for per page of the ticket event
            export (Zendesk's default and most: 1000).
    """

    subdomain: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")
    email: str = Field(min_length=3, max_length=254)
    api_token: SecretStr = Field(min_length=1)
    webhook_secret: SecretStr | None = None
    webhook_replay_seconds: float = Field(default=300, gt=0, le=86_400)
    timeout: float = Field(default=30, gt=0, le=600)
    job_poll_interval: float = Field(default=1.0, ge=0, le=60)
    job_timeout: float = Field(default=120, gt=0, le=3600)
    look_up_new_tickets: bool = False
    events_per_page: int = Field(default=EVENTS_PER_PAGE, ge=1, le=EVENTS_PER_PAGE)


class _Throttled(Exception):
    """A 429, raised from the response hook before zenpy can sleep on it."""

    def __init__(self, retry_after: float | None) -> None:
        super().__init__("429 Too Many Requests")
        self.retry_after = retry_after


@dataclass
class _Outcome:
    """Results of one push, filled as records finish.

    ``uncertain`` is set once a write that is not idempotent (a ticket
    create, a comment) may have reached Zendesk: from then on the push must
    not fail as a whole (the engine would retry it with the same ``attempt``).
    """

    results: dict[str, PushResult] = field(default_factory=dict)
    uncertain: bool = False

    def set(self, result: PushResult) -> None:
        self.results[result.change_id] = result


class _ZendeskClient(Integration):
    """The zenpy client, its call counts and the classification of its errors."""

    config: ZendeskConfig

    def __init__(self, config: IntegrationConfig) -> None:
        super().__init__(config)
        self._client: Any = None
        self._session: requests.Session | None = None
        self._me: int | None = None
        self._refused_owners: dict[str, float] = {}
        self._lock = threading.Lock()
        self.api_calls = 0
        self.api_writes = 0

    def record_url(self, kind: str, remote_id: str) -> str | None:
        """The ticket (a conversation) or the user (a contact) in Zendesk's agent workspace."""
        page = {"conversation": "tickets", "contact": "users"}.get(kind)
        if page is None:
            return None
        return (
            f"https://{self.config.subdomain}.zendesk.com/agent/{page}/{quote(remote_id, safe='')}"
        )

    async def open(self) -> None:
        """Create the zenpy client (no call is made). Idempotent."""
        if self._client is not None:
            return
        session = requests.Session()
        session.hooks["response"].append(self._on_response)
        self._session = session
        self._client = Zenpy(
            subdomain=self.config.subdomain,
            email=self.config.email,
            token=self.config.api_token.get_secret_value(),
            session=session,
            timeout=self.config.timeout,
            disable_cache=True,  # a sync must see edits made in Zendesk
        )

    async def close(self) -> None:
        """Close the HTTP session. Idempotent; never raises."""
        session, self._session, self._client = self._session, None, None
        if session is not None:
            try:
                session.close()
            except Exception:  # pragma: no cover - closing must not fail the caller
                logger.debug("zendesk: closing the session failed", exc_info=True)

    def _on_response(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        """requests' response hook: count the call; turn a 429 into `_Throttled` at once."""
        with self._lock:
            self.api_calls += 1
            if response.request.method != "GET":
                self.api_writes += 1
        if response.status_code == 429:
            retry_after = _seconds(response.headers.get("Retry-After"))
            response.close()
            raise _Throttled(retry_after)

    async def _run(self, work: Callable[[], T]) -> T:
        """Run blocking zenpy work in a thread, with zenpy's errors classified."""
        if self._client is None:
            await self.open()
        return await asyncio.to_thread(self._classified, work)

    def _classified(self, work: Callable[[], T]) -> T:
        try:
            return work()
        except IntegrationError:
            raise
        except Exception as exc:
            raise self._whole_call_error(exc) from None

    def _whole_call_error(self, exc: BaseException) -> IntegrationError:
        """The contract's error for a failure of a whole call."""
        name = self.name
        if isinstance(exc, _Throttled):
            return RetryableIntegrationError(
                "Zendesk rate limit reached (429)",
                integration=name,
                status_code=429,
                retry_after=exc.retry_after,
            )
        if isinstance(exc, APIException) and exc.response is not None:
            status = int(exc.response.status_code)
            message = _vendor_message(exc)
            if status in (401, 403):
                return IntegrationAuthError(
                    f"Zendesk refused the credentials ({status}): {message}", integration=name
                )
            if status >= 500 or status in (408, 409):
                return RetryableIntegrationError(
                    f"Zendesk answered {status}: {message}",
                    integration=name,
                    status_code=status,
                    retry_after=_seconds(exc.response.headers.get("Retry-After")),
                )
            return PermanentIntegrationError(
                f"Zendesk answered {status}: {message}", integration=name, status_code=status
            )
        if isinstance(exc, requests.RequestException):
            return RetryableIntegrationError(
                f"Zendesk cannot be reached: {type(exc).__name__}", integration=name
            )
        if isinstance(exc, ZenpyException):
            return RetryableIntegrationError(f"zenpy: {exc}", integration=name)
        return IntegrationError(f"unexpected {type(exc).__name__}: {exc}", integration=name)

    def _fetch_me(self) -> int:
        user = self._client.users.me()
        if user is None or getattr(user, "id", None) is None:
            raise IntegrationAuthError("Zendesk answered no current user", integration=self.name)
        self._me = int(user.id)
        return self._me

    def _me_id(self) -> int:
        return self._me if self._me is not None else self._fetch_me()

    @contextmanager
    def _writing(self, outcome: _Outcome, *, idempotent: bool) -> Iterator[None]:
        """Around a write: note when one that is not idempotent may have reached Zendesk.

        A 429 and a 4xx answer mean Zendesk did not apply it; anything else
        (accepted, 5xx, no answer) means it may have.
        """
        try:
            yield
        except _Throttled:
            raise
        except APIException as exc:
            status = exc.response.status_code if exc.response is not None else None
            if not idempotent and (status is None or status >= 500 or status == 408):
                outcome.uncertain = True
            raise
        except BaseException:
            if not idempotent:
                outcome.uncertain = True
            raise
        if not idempotent:
            outcome.uncertain = True

    @abstractmethod
    def _job(
        self,
        changes: list[OutboundChange],
        outcome: _Outcome,
        post: Callable[[], Any],
        *,
        idempotent: bool,
    ) -> list[dict[str, Any]] | None:
        """Start a bulk job and wait for it (`ZendeskIntegration._job`, in ``integration.py``)."""

    def _record_error(self, change: OutboundChange, exc: APIException) -> PushResult:
        """A 4xx for one record is permanent; anything else fails the whole call."""
        status = exc.response.status_code if exc.response is not None else None
        if status is None or status in (401, 403, 408, 409) or status >= 500:
            raise exc
        return PushResult.permanent(change, f"Zendesk answered {status}: {_vendor_message(exc)}")


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _vendor_message(exc: APIException) -> str:
    """Zendesk's error text (``error``, ``description``, ``details``), shortened."""
    try:
        body = exc.response.json()
    except ValueError:
        return (exc.response.text or "")[:300]
    if not isinstance(body, dict):
        return str(body)[:300]
    parts = [str(body.get("error") or ""), str(body.get("description") or "")]
    details = body.get("details")
    if isinstance(details, dict):
        for name, problems in details.items():
            for problem in problems if isinstance(problems, list) else [problems]:
                text = problem.get("description") if isinstance(problem, dict) else problem
                parts.append(f"{name}: {text}")
    return "; ".join(p for p in parts if p)[:500] or "no message"


def _job_result(results: list[dict[str, Any]], index: int) -> dict[str, Any] | None:
    """The result for item ``index`` of a create job (results carry ``index``)."""
    for result in results:
        if result.get("index") == index:
            return result
    return results[index] if index < len(results) and "index" not in results[index] else None


def _update_result(
    results: list[dict[str, Any]], index: int, ticket_id: int
) -> dict[str, Any] | None:
    """The result for item ``index`` of an update job (by index, else position and id)."""
    for result in results:
        if result.get("index") == index:
            return result
    if index < len(results) and results[index].get("id") == ticket_id:
        return results[index]
    return next((r for r in results if r.get("id") == ticket_id and "index" not in r), None)


def _job_error(result: Mapping[str, Any]) -> str:
    error = str(result.get("error") or "failed")
    details = result.get("details")
    return f"{error}: {details}" if details else error
