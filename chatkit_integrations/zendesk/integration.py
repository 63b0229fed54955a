"""The Zendesk Support integration, on the vendor's own client ``zenpy``.

What is synced, and how:

| chatkit | Zendesk | push | pull |
|---|---|---|---|
| contact | end-user | ``create_or_update_many`` jobs | incremental user export |
| conversation | ticket | ``create_many`` / ``update_many`` jobs | incremental ticket export |
| owner (assignee) | ticket assignee | ``assignee_email``; else ``assignee_id: null`` | (not read) |
| message | public comment | ``update_many`` jobs, a comment per ticket | ticket event export |
| note | private comment | ``update_many`` jobs, a comment per ticket | ticket event export |
| transcript | file on a private comment | ``POST /uploads``, then as notes | (not read) |

Users and tickets carry the chatkit id as ``external_id``; jobs take 100 records.

Owner: a ticket is written with its conversation's ``assignee_email`` (the
assigned chatkit agent), which Zendesk resolves to the agent with that email
(no lookup call); an unassigned conversation clears the assignee. Zendesk
refuses a ticket whose ``assignee_email`` is not one of its agents (422
``RecordInvalid``, or a job result with an error, about the assignee): such a
ticket is written again at once without its owner (left unassigned) rather
than failed, and that email is left out of tickets for ``_REFUSED_OWNER_TTL``
seconds (per integration instance) without asking Zendesk again.

Calls: a job is a POST and its status polls (the first at once, then every
``job_poll_interval``, doubling). Comments go in the fewest jobs Zendesk
allows: a job updates 100 tickets at most, each once, so ``k`` comments on
one ticket take ``k`` jobs, run one after the other to keep them in order.
Two records or fewer are written by plain calls instead of a job (one call
each). No call is spent on reading versions back: job results carry ids only.
A pull reads a page of each incremental export (users, tickets, and ticket
events with ``include=comment_events``, 1000 events a page) and names the
comments' authors with ``show_many``: a few calls however many tickets changed.

Idempotency: users are upserted by external id. A conversation whose ticket
id is not known is looked up by external id before it is created when its
change is retried (``attempt > 1``; the sync engine counts a try before
making it), so a retry after a crash finds the ticket it created
(``look_up_new_tickets`` looks up every new ticket, for callers that cannot
promise that). Comments have no external id: on a retried change the
ticket's comments are read (once per ticket and push) and ours (same text,
same visibility, by our API user, not matched by another change) is reused.
Comments written by a job come back OK without their id, as job results
do not name it; the engine links them when a pull brings them back as
written by our API user.

Errors: 401/403 raise `IntegrationAuthError`; 429 (with ``Retry-After``),
5xx and connection failures raise `RetryableIntegrationError`; zenpy is given
a response hook that stops it from sleeping and retrying on 429 itself (the
engine owns retries). A 4xx for one record (and a job result with an error)
makes that record's `PushResult` permanent, with Zendesk's message. Once a
ticket create or a comment may have reached Zendesk, a push no longer fails
as a whole: its unfinished records come back retryable (their next try looks
up what was written).

zenpy always calls ``https://{subdomain}.zendesk.com``. To point it at an
emulator, set the environment variables zenpy reads on every request:
``ZENPY_FORCE_SCHEME=http`` and ``ZENPY_FORCE_NETLOC=127.0.0.1:PORT``
(`ZendeskEmulator.zenpy_env` gives both). They apply to the whole process;
zenpy has no per-client setting for them.

Example:
    ```python
    config = ZendeskConfig(subdomain="acme", email="bot@acme.com", api_token="...")
    async with ZendeskIntegration(config) as zendesk:
        results = await zendesk.push(changes)
        page = await zendesk.pull(saved_cursor)
    ```
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from io import BytesIO
from typing import Any, TypeVar

from pydantic import Field, SecretStr

from chatkit.errors import (
    IntegrationAuthError,
    IntegrationError,
    PermanentIntegrationError,
    RetryableIntegrationError,
    WebhookVerificationError,
)
from chatkit.integrations import (
    Capabilities,
    ChangeAction,
    HealthState,
    HealthStatus,
    InboundChange,
    Integration,
    IntegrationConfig,
    ObjectSync,
    OutboundChange,
    PullPage,
    PushResult,
    PushStatus,
    RateBudget,
    SyncObject,
)

from ._mapping import (
    comment_change,
    first_comment,
    owner_email,
    parse_time,
    ticket_change,
    ticket_fields,
    user_change,
    user_fields,
)
from .webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_webhook

try:
    import requests
    from zenpy import Zenpy  # type: ignore[import-untyped]
    from zenpy.lib.api_objects import (  # type: ignore[import-untyped]
        Comment,
        Ticket,
        User,
    )
    from zenpy.lib.exception import (  # type: ignore[import-untyped]
        APIException,
        RecordNotFoundException,
        ZenpyException,
    )
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the Zendesk integration needs zenpy: pip install 'chatkit[zendesk]'"
    ) from exc

__all__ = ["ZendeskConfig", "ZendeskIntegration"]

logger = logging.getLogger(__name__)

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

_CURSOR_VERSION = 2

_REFUSED_OWNER_TTL = 600.0
"""Seconds an owner Zendesk refused as assignee (not an agent) is left out of tickets
without asking again; then the next ticket it owns tries it once more."""


@dataclass(frozen=True)
class _EventsAt:
    """Where the ticket event export stands: the second to start at, and the
    ids of the events of that second already returned."""

    since: int = 0
    seen: tuple[int, ...] = ()


@dataclass(frozen=True)
class _PullState:
    """A pull cursor: the two export cursors, whether the ticket export had
    caught up, and the event export's position."""

    users: str | None = None
    tickets: str | None = None
    tickets_done: bool = False
    events: _EventsAt = field(default_factory=_EventsAt)

    def encode(self) -> str:
        state = {
            "v": _CURSOR_VERSION,
            "users": self.users,
            "tickets": self.tickets,
            "tickets_done": self.tickets_done,
            "events": {"since": self.events.since, "seen": list(self.events.seen)},
        }
        raw = json.dumps(state, separators=(",", ":"), sort_keys=True)
        return base64.urlsafe_b64encode(raw.encode()).decode()

    @classmethod
    def decode(cls, cursor: str) -> _PullState:
        """Raises ValueError (and kin) for anything this integration did not make.

        A version 1 cursor (comments read per ticket) carries on with its
        export cursors; its event export starts at the beginning (the apply
        step skips comments it has).
        """
        state = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        version = state.get("v")
        users, tickets = state.get("users"), state.get("tickets")
        if not all(v is None or isinstance(v, str) for v in (users, tickets)):
            raise ValueError("malformed cursor")
        if version == 1:
            return cls(users=users, tickets=tickets)
        if version != _CURSOR_VERSION:
            raise ValueError("unknown cursor version")
        events = state["events"]
        since, seen = events["since"], events["seen"]
        done = state["tickets_done"]
        if not isinstance(since, int) or since < 0 or not isinstance(done, bool):
            raise ValueError("malformed cursor")
        if not isinstance(seen, list) or not all(isinstance(i, int) for i in seen):
            raise ValueError("malformed cursor")
        return cls(users, tickets, done, _EventsAt(since, tuple(seen)))


@dataclass
class _EventsRead:
    """One read of the ticket event export: its comments (with their ticket
    ids), where it leaves the export, and tickets read along the way."""

    position: _EventsAt
    done: bool
    comments: list[tuple[dict[str, Any], Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)


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


@dataclass
class _CommentWrite:
    """A comment to add to a ticket for one change."""

    change: OutboundChange
    ticket_id: int
    comment: dict[str, Any]
    remote_type: str


@dataclass
class _Found:
    """Comments read for the lookups of one push, and the ones already matched."""

    listed: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    taken: set[Any] = field(default_factory=set)


class ZendeskIntegration(Integration):
    """Zendesk Support: contacts ⇄ users, conversations ⇄ tickets, messages and notes ⇄ comments.

    See the module documentation for the mapping, idempotency and errors.

    Attributes:
        api_calls: HTTP requests made so far (every answer, including errors).
        api_writes: Of those, the ones that were not ``GET``.
    """

    name = "zendesk"
    config_class = ZendeskConfig
    capabilities = Capabilities(
        objects=(
            ObjectSync.both_ways(SyncObject.CONTACT, "user", BATCH),
            ObjectSync.both_ways(SyncObject.CONVERSATION, "ticket", BATCH),
            ObjectSync.both_ways(SyncObject.MESSAGE, "comment", COMMENT_BATCH),
            ObjectSync.both_ways(SyncObject.NOTE, "private_comment", COMMENT_BATCH),
            ObjectSync.outbound_only(SyncObject.TRANSCRIPT, "upload", BATCH),
        ),
        webhooks=True,
        rate=RateBudget(calls=700, per_seconds=60),
    )
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

    # -- lifecycle -----------------------------------------------------------------

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

    # -- check ---------------------------------------------------------------------

    async def check(self) -> HealthStatus:
        """``GET /api/v2/users/me``: whether the credentials work and Zendesk answers."""
        try:
            me = await self._run(self._fetch_me)
        except IntegrationAuthError as exc:
            return HealthStatus(state=HealthState.AUTH_FAILED, detail=str(exc))
        except RetryableIntegrationError as exc:
            if exc.status_code == 429:
                wait = f"; retry after {exc.retry_after:g}s" if exc.retry_after else ""
                return HealthStatus(state=HealthState.QUOTA_EXHAUSTED, detail=f"rate limited{wait}")
            return HealthStatus(state=HealthState.UNREACHABLE, detail=str(exc))
        except IntegrationError as exc:
            return HealthStatus(state=HealthState.UNREACHABLE, detail=str(exc))
        return HealthStatus(state=HealthState.OK, detail=f"{self.config.subdomain}: API user {me}")

    def _fetch_me(self) -> int:
        user = self._client.users.me()
        if user is None or getattr(user, "id", None) is None:
            raise IntegrationAuthError("Zendesk answered no current user", integration=self.name)
        self._me = int(user.id)
        return self._me

    def _me_id(self) -> int:
        return self._me if self._me is not None else self._fetch_me()

    # -- push ----------------------------------------------------------------------

    async def push(self, changes: Sequence[OutboundChange]) -> list[PushResult]:
        """Write a batch: users, then tickets, then comments and transcripts.

        Returns one result per change. A whole-call failure raises only while
        nothing can have been written; once a write that is not idempotent
        (a ticket create, a comment) may have reached Zendesk, the records
        without a result come back retryable instead, so that their next try
        has ``attempt > 1`` and looks up what was written.
        """
        outcome = _Outcome()
        await self._run(lambda: self._push_all(changes, outcome))
        return [outcome.results[change.change_id] for change in changes]

    def _push_all(self, changes: Sequence[OutboundChange], outcome: _Outcome) -> None:
        steps: tuple[
            tuple[frozenset[SyncObject], Callable[[list[OutboundChange], _Outcome], None]], ...
        ] = (
            (frozenset({SyncObject.CONTACT}), self._push_users),
            (frozenset({SyncObject.CONVERSATION}), self._push_tickets),
            (frozenset({SyncObject.MESSAGE, SyncObject.NOTE}), self._push_comments),
            (frozenset({SyncObject.TRANSCRIPT}), self._push_transcripts),
        )
        try:
            for kinds, step in steps:
                group = [c for c in changes if c.object in kinds]
                if group:
                    step(group, outcome)
        except Exception as exc:
            error = exc if isinstance(exc, IntegrationError) else self._whole_call_error(exc)
            retryable = isinstance(error, RetryableIntegrationError)
            if not retryable or not (outcome.results or outcome.uncertain):
                raise error from None
            logger.info(
                "zendesk: push stopped after %d of %d records (HTTP %s)",
                len(outcome.results),
                len(changes),
                getattr(error, "status_code", None),
            )
            retry_after = getattr(error, "retry_after", None)
            for change in changes:
                if change.change_id not in outcome.results:
                    outcome.set(PushResult.retryable(change, str(error), retry_after=retry_after))

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

    def _job(
        self,
        changes: list[OutboundChange],
        outcome: _Outcome,
        post: Callable[[], Any],
        *,
        idempotent: bool,
    ) -> list[dict[str, Any]] | None:
        """Start a bulk job and wait for it: its ``results``, or ``None`` (results set)."""
        try:
            with self._writing(outcome, idempotent=idempotent):
                job = post()
        except APIException as exc:
            refused = self._whole_call_error(exc)
            if not isinstance(refused, PermanentIntegrationError):
                raise
            # A bulk call refused for good (400, 422): its records are, too.
            for change in changes:
                outcome.set(PushResult.permanent(change, str(refused)))
            return None
        return self._await_job(job, changes, outcome)

    def _await_job(
        self, job: Any, changes: list[OutboundChange], outcome: _Outcome
    ) -> list[dict[str, Any]] | None:
        """Poll a bulk job until it ends; its ``results``, or ``None`` (records then retryable).

        The first poll is made at once (small jobs are often done by then);
        while the job is still queued or working, the wait between polls
        starts at ``job_poll_interval`` and doubles, up to 8 times that.
        """
        deadline = time.monotonic() + self.config.job_timeout
        status = job.to_dict()
        job_id = status.get("id")
        interval = self.config.job_poll_interval
        polls = 0
        while status.get("status") in ("queued", "working"):
            if polls:
                left = deadline - time.monotonic()
                if left <= 0:
                    for change in changes:
                        outcome.set(PushResult.retryable(change, f"job {job_id} still running"))
                    return None
                time.sleep(min(interval * min(2 ** (polls - 1), 8), left))
            status = self._client.job_status(id=job_id).to_dict()
            polls += 1
        if status.get("status") != "completed":
            message = status.get("message") or status.get("status")
            for change in changes:
                outcome.set(PushResult.retryable(change, f"job {job_id}: {message}"))
            return None
        results = status.get("results") or []
        return [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []

    # users -------------------------------------------------------------------------

    def _push_users(self, changes: list[OutboundChange], outcome: _Outcome) -> None:
        """Upserts by external id: ``create_or_update_many`` jobs of 100 (POST and polls).

        Two users or fewer are written one by one (one call each, and the
        answer carries the version); a job costs at least two calls.
        """
        upserts = []
        for change in changes:
            if change.action is ChangeAction.DELETE:
                outcome.set(self._delete_user(change))
            else:
                upserts.append(change)
        for start in range(0, len(upserts), BATCH):
            chunk = upserts[start : start + BATCH]
            if len(chunk) <= _DIRECT_MAX:
                for change in chunk:
                    outcome.set(self._upsert_user(change, outcome))
                continue
            users = [User(**user_fields(c)) for c in chunk]
            results = self._job(
                chunk,
                outcome,
                partial(self._client.users.create_or_update, users),
                idempotent=True,
            )
            for index, change in enumerate(chunk if results is not None else []):
                result = _job_result(results or [], index)
                if result is None:
                    outcome.set(PushResult.retryable(change, "the job reported nothing for it"))
                elif result.get("error"):
                    outcome.set(PushResult.permanent(change, _job_error(result)))
                else:
                    outcome.set(PushResult.ok(change, str(result["id"]), remote_type="user"))

    def _upsert_user(self, change: OutboundChange, outcome: _Outcome) -> PushResult:
        try:
            with self._writing(outcome, idempotent=True):
                user = self._client.users.create_or_update(User(**user_fields(change)))
        except APIException as exc:
            return self._record_error(change, exc)
        data = user.to_dict()
        updated = data.get("updated_at")
        return PushResult.ok(
            change,
            str(data["id"]),
            remote_type="user",
            remote_version=str(updated) if updated else None,
        )

    def _delete_user(self, change: OutboundChange) -> PushResult:
        if not change.remote_id:
            return PushResult.ok(change, None)  # never reached Zendesk
        try:
            self._client.users.delete(User(id=int(change.remote_id)))
        except RecordNotFoundException:
            pass  # already gone counts as done
        except APIException as exc:
            return self._record_error(change, exc)
        return PushResult.ok(change, None, remote_type="user")

    # tickets -----------------------------------------------------------------------

    def _push_tickets(self, changes: list[OutboundChange], outcome: _Outcome) -> None:
        """``create_many`` and ``update_many`` jobs of 100 (POST and polls).

        A conversation without a ticket id is looked up by external id first
        only on a retried change (``attempt > 1``), or always with
        ``look_up_new_tickets``. Two tickets or fewer are written one by one.
        """
        creates: list[OutboundChange] = []
        updates: list[tuple[OutboundChange, int]] = []
        for change in changes:
            if change.action is ChangeAction.DELETE:
                outcome.set(self._delete_ticket(change))
                continue
            if change.remote_id and change.remote_id.isdigit():
                updates.append((change, int(change.remote_id)))
                continue
            if self.config.look_up_new_tickets or change.attempt > 1:
                found = self._ticket_by_external_id(change.local_id)
                if found is not None:
                    updates.append((change, found))
                    continue
            if not change.parent_remote_id:
                outcome.set(PushResult.retryable(change, "its contact is not in Zendesk yet"))
                continue
            creates.append(change)
        for start in range(0, len(creates), BATCH):
            self._create_tickets(creates[start : start + BATCH], outcome)
        for start in range(0, len(updates), BATCH):
            self._update_tickets(updates[start : start + BATCH], outcome)

    def _ticket(self, change: OutboundChange, ticket_id: int | None, *, owner: bool) -> Any:
        """The zenpy ticket to write for ``change`` (a new one carries its first comment).

        The owner is left out when ``owner`` is false or Zendesk recently
        refused it (`_refused_owners`). ``None`` fields (``assignee_id``) are
        set after construction, as zenpy sends only the attributes set so.
        """
        fields = ticket_fields(change, owner=self._sends_owner(change, owner=owner))
        unset = {name for name, value in fields.items() if value is None}
        ticket = Ticket(**{k: v for k, v in fields.items() if k not in unset})
        for name in sorted(unset):
            setattr(ticket, name, None)
        if ticket_id is not None:
            ticket.id = ticket_id
        else:
            ticket.comment = first_comment(change)
        return ticket

    def _owner_refused(self, email: str | None) -> bool:
        """Whether Zendesk refused ``email`` as an assignee in the last ``_REFUSED_OWNER_TTL`` s."""
        if email is None:
            return False
        refused_at = self._refused_owners.get(email.lower())
        return refused_at is not None and time.monotonic() - refused_at < _REFUSED_OWNER_TTL

    def _sends_owner(self, change: OutboundChange, *, owner: bool) -> bool:
        """Whether the ticket written for ``change`` carries its owner's ``assignee_email``."""
        email = owner_email(change)
        return owner and email is not None and not self._owner_refused(email)

    def _refuse_owner(self, change: OutboundChange) -> None:
        """Note that Zendesk refused the owner of ``change`` as assignee."""
        email = owner_email(change)
        if email is not None and not self._owner_refused(email):
            self._refused_owners[email.lower()] = time.monotonic()
            logger.info("zendesk: %s is not an agent; its tickets are left unassigned", email)

    def _create_tickets(
        self, chunk: list[OutboundChange], outcome: _Outcome, *, owner: bool = True
    ) -> None:
        if len(chunk) <= _DIRECT_MAX:
            for change in chunk:
                outcome.set(self._write_ticket(change, outcome, None, owner=owner))
            return
        tickets = [self._ticket(c, None, owner=owner) for c in chunk]
        owned = {c.change_id for c in chunk if self._sends_owner(c, owner=owner)}
        results = self._job(
            chunk, outcome, lambda: self._client.tickets.create(tickets), idempotent=False
        )
        refused: list[OutboundChange] = []
        for index, change in enumerate(chunk if results is not None else []):
            result = _job_result(results or [], index)
            if result is None:
                outcome.set(PushResult.retryable(change, "the job reported nothing for it"))
            elif result.get("error"):
                if change.change_id in owned and _owner_error(_job_error(result)):
                    self._refuse_owner(change)
                    refused.append(change)
                else:
                    outcome.set(PushResult.permanent(change, _job_error(result)))
            else:
                outcome.set(PushResult.ok(change, str(result["id"]), remote_type="ticket"))
        if refused:  # not created (a validation error): again, without their owners
            self._create_tickets(refused, outcome, owner=False)

    def _update_tickets(
        self, chunk: list[tuple[OutboundChange, int]], outcome: _Outcome, *, owner: bool = True
    ) -> None:
        if len(chunk) <= _DIRECT_MAX:
            for change, ticket_id in chunk:
                outcome.set(self._write_ticket(change, outcome, ticket_id, owner=owner))
            return
        items = [self._ticket(c, ticket_id, owner=owner) for c, ticket_id in chunk]
        owned = {c.change_id for c, _ in chunk if self._sends_owner(c, owner=owner)}
        pending = [c for c, _ in chunk]
        results = self._job(
            pending, outcome, lambda: self._client.tickets.update(items), idempotent=True
        )
        refused: list[tuple[OutboundChange, int]] = []
        for index, (change, ticket_id) in enumerate(chunk if results is not None else []):
            result = _update_result(results or [], index, ticket_id)
            if result is None:
                outcome.set(PushResult.retryable(change, "the job reported nothing for it"))
            elif result.get("error") or result.get("success") is False:
                if change.change_id in owned and _owner_error(_job_error(result)):
                    self._refuse_owner(change)
                    refused.append((change, ticket_id))
                else:
                    outcome.set(PushResult.permanent(change, _job_error(result)))
            else:
                outcome.set(PushResult.ok(change, str(ticket_id), remote_type="ticket"))
        if refused:
            self._update_tickets(refused, outcome, owner=False)

    def _write_ticket(
        self, change: OutboundChange, outcome: _Outcome, ticket_id: int | None, *, owner: bool
    ) -> PushResult:
        """One ticket created (no ``ticket_id``) or updated by itself.

        One call, and the answer has its version; a second one, without the
        owner, when Zendesk refuses the owner (not an agent).
        """
        create = ticket_id is None
        owned = self._sends_owner(change, owner=owner)
        try:
            with self._writing(outcome, idempotent=not create):
                ticket = self._ticket(change, ticket_id, owner=owner)
                if create:
                    audit = self._client.tickets.create(ticket)
                else:
                    audit = self._client.tickets.update(ticket)
        except APIException as exc:
            status = exc.response.status_code if exc.response is not None else None
            if owned and status == 422 and _owner_error(_vendor_message(exc)):
                self._refuse_owner(change)
                return self._write_ticket(change, outcome, ticket_id, owner=False)
            return self._record_error(change, exc)
        data = audit.ticket.to_dict()
        updated = data.get("updated_at")
        return PushResult.ok(
            change,
            str(data["id"]),
            remote_type="ticket",
            remote_version=str(updated) if updated else None,
        )

    def _ticket_by_external_id(self, external_id: str) -> int | None:
        """The oldest ticket carrying ``external_id`` (external ids are not unique)."""
        ids = [int(t.id) for t in self._client.tickets(external_id=external_id)]
        return min(ids) if ids else None

    def _delete_ticket(self, change: OutboundChange) -> PushResult:
        if not change.remote_id:
            return PushResult.ok(change, None)
        try:
            self._client.tickets.delete(Ticket(id=int(change.remote_id)))
        except RecordNotFoundException:
            pass
        except APIException as exc:
            return self._record_error(change, exc)
        return PushResult.ok(change, None, remote_type="ticket")

    # comments ----------------------------------------------------------------------

    def _push_comments(self, changes: list[OutboundChange], outcome: _Outcome) -> None:
        """Messages and notes as ticket updates carrying a comment, in ``update_many`` jobs."""
        found = _Found()
        writes: list[_CommentWrite] = []
        for change in changes:
            public = change.object is SyncObject.MESSAGE
            remote_type = "comment" if public else "private_comment"
            if change.action is ChangeAction.DELETE:
                outcome.set(
                    PushResult.permanent(
                        change, "Zendesk comments cannot be deleted; redact them in Zendesk"
                    )
                )
                continue
            if change.remote_id:  # comments never change once written
                outcome.set(PushResult.ok(change, change.remote_id, remote_type=remote_type))
                continue
            ticket_id = _ticket_id(change)
            if ticket_id is None:
                outcome.set(PushResult.retryable(change, "its conversation is not in Zendesk yet"))
                continue
            text = str(change.data.get("text") or "").strip()
            if not text:
                outcome.set(PushResult.permanent(change, "an empty message"))
                continue
            if change.attempt > 1:
                comment = self._find_comment(
                    found, ticket_id, partial(_same_comment, text=text, public=public)
                )
                if comment is not None:
                    outcome.set(_comment_ok(change, comment, remote_type))
                    continue
            writes.append(
                _CommentWrite(change, ticket_id, {"body": text, "public": public}, remote_type)
            )
        self._write_comments(writes, outcome)

    def _push_transcripts(self, changes: list[OutboundChange], outcome: _Outcome) -> None:
        """Each transcript uploaded (``POST /uploads``), then private comments as for notes."""
        found = _Found()
        writes: list[_CommentWrite] = []
        for change in changes:
            if change.action is ChangeAction.DELETE:
                outcome.set(
                    PushResult.permanent(
                        change, "Zendesk attachments cannot be deleted here; redact in Zendesk"
                    )
                )
                continue
            if change.remote_id:
                outcome.set(PushResult.ok(change, change.remote_id, remote_type="upload"))
                continue
            ticket_id = _ticket_id(change)
            if ticket_id is None:
                outcome.set(PushResult.retryable(change, "its conversation is not in Zendesk yet"))
                continue
            filename = str(change.data.get("filename") or f"transcript-{change.local_id}.txt")
            if change.attempt > 1:
                comment = self._find_comment(
                    found, ticket_id, partial(_has_attachment, filename=filename)
                )
                if comment is not None:
                    outcome.set(_comment_ok(change, comment, "upload"))
                    continue
            content = str(change.data.get("text") or "").encode("utf-8")
            content_type = str(change.data.get("content_type") or "text/plain; charset=utf-8")
            try:
                with self._writing(outcome, idempotent=True):  # an unused upload expires
                    upload = self._client.attachments.upload(
                        BytesIO(content), target_name=filename, content_type=content_type
                    )
            except APIException as exc:
                outcome.set(self._record_error(change, exc))
                continue
            comment_fields = {
                "body": f"Transcript of the conversation: {filename}",
                "public": False,
                "uploads": [upload.token],
            }
            writes.append(_CommentWrite(change, ticket_id, comment_fields, "upload"))
        self._write_comments(writes, outcome)

    def _find_comment(
        self, found: _Found, ticket_id: int, matches: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any] | None:
        """Our first comment on ``ticket_id`` that ``matches`` and no other change took.

        The ticket's comments are read once per push (only retried changes
        need this).
        """
        if ticket_id not in found.listed:
            try:
                comments = self._client.tickets.comments(ticket=ticket_id)
                found.listed[ticket_id] = [c.to_dict() for c in comments]
            except RecordNotFoundException:
                found.listed[ticket_id] = []
        me = self._me_id()
        for comment in found.listed[ticket_id]:
            if comment.get("id") in found.taken or comment.get("author_id") != me:
                continue
            if matches(comment):
                found.taken.add(comment.get("id"))
                return comment
        return None

    def _write_comments(self, writes: list[_CommentWrite], outcome: _Outcome) -> None:
        """Write comments in as few ``update_many`` jobs as Zendesk allows.

        A job updates each ticket at most once and 100 tickets at most, so
        ``k`` comments on one ticket need ``k`` jobs: the jobs are
        ``max(k, ceil(n / 100))``, filled evenly (`_schedule`), one after
        the other so that a ticket's comments arrive in order. A job of two
        comments or fewer is made of plain ticket updates instead (one call
        each, and the answer names the comment). When a comment of a ticket
        is not confirmed, the ticket's later comments wait for the next try.
        The job results carry no comment ids: those results are OK without
        a remote id (a pull links them).
        """
        blocked: set[int] = set()
        for job in _schedule(writes):
            ready: list[_CommentWrite] = []
            for write in job:
                if write.ticket_id in blocked:
                    outcome.set(
                        PushResult.retryable(
                            write.change, "an earlier comment on its ticket is not confirmed yet"
                        )
                    )
                else:
                    ready.append(write)
            if len(ready) <= _DIRECT_MAX:
                for write in ready:
                    outcome.set(self._add_comment(write, outcome))
            else:
                self._comment_job(ready, outcome)
            for write in ready:
                if outcome.results[write.change.change_id].status is PushStatus.RETRYABLE:
                    blocked.add(write.ticket_id)

    def _comment_job(self, writes: list[_CommentWrite], outcome: _Outcome) -> None:
        tickets = [Ticket(id=w.ticket_id, comment=Comment(**w.comment)) for w in writes]
        changes = [w.change for w in writes]
        results = self._job(
            changes, outcome, lambda: self._client.tickets.update(tickets), idempotent=False
        )
        for index, write in enumerate(writes if results is not None else []):
            result = _update_result(results or [], index, write.ticket_id)
            if result is None:
                outcome.set(PushResult.retryable(write.change, "the job reported nothing for it"))
            elif result.get("error") or result.get("success") is False:
                outcome.set(PushResult.permanent(write.change, _job_error(result)))
            else:
                outcome.set(PushResult.ok(write.change, None, remote_type=write.remote_type))

    def _add_comment(self, write: _CommentWrite, outcome: _Outcome) -> PushResult:
        """One ticket update carrying the comment; the audit names the new comment's id."""
        change = write.change
        try:
            with self._writing(outcome, idempotent=False):
                audit = self._client.tickets.update(
                    Ticket(id=write.ticket_id, comment=Comment(**write.comment))
                )
        except APIException as exc:
            return self._record_error(change, exc)
        events = audit.audit.to_dict().get("events") or []
        made = next((e for e in events if e.get("type") == "Comment"), None)
        if made is None:
            return PushResult.retryable(change, "Zendesk recorded no comment")
        return PushResult.ok(
            change,
            str(made["id"]),
            remote_type=write.remote_type,
            remote_version=audit.audit.created_at,
        )

    # helpers -----------------------------------------------------------------------

    def _record_error(self, change: OutboundChange, exc: APIException) -> PushResult:
        """A 4xx for one record is permanent; anything else fails the whole call."""
        status = exc.response.status_code if exc.response is not None else None
        if status is None or status in (401, 403, 408, 409) or status >= 500:
            raise exc
        return PushResult.permanent(change, f"Zendesk answered {status}: {_vendor_message(exc)}")

    # -- pull ----------------------------------------------------------------------

    async def pull(self, cursor: str | None, *, limit: int = 100) -> PullPage:
        """Users, tickets and comments changed after ``cursor``.

        Reads one page of the incremental user export and one of the ticket
        export (``limit`` records each, Zendesk's own opaque cursors), and one
        page of the ticket event export with its comments
        (``include=comment_events``, ``events_per_page`` events): a few calls
        whatever the number of tickets. Agents and admins are not contacts and
        are left out. ``has_more`` is true until all three reach
        ``end_of_stream``.

        A comment is only given once its ticket has been: events are read
        only when the ticket export had caught up at the end of the previous
        pull, and before this pull's ticket page; if that page does not catch
        up, the events read are left for a later pull. Changes come users,
        then tickets, then comments.

        The event export is time-based and starts at a second, inclusive: the
        cursor keeps the last second read and the ids of its events, so the
        next pull starts at that second and skips those (events added in that
        second since are read, none twice). When a full page holds only events
        already read (more events in one second than a page holds, which
        Zendesk cannot page past), the comments of that second are read from
        the tickets changed since (`_overflow`) and the export goes on at the
        next second.

        Raises:
            PermanentIntegrationError: ``cursor`` is not one this integration made.
        """
        state = self._decode_cursor(cursor)
        return await self._run(lambda: self._pull(state, max(1, min(limit, 1000))))

    def _pull(self, state: _PullState, limit: int) -> PullPage:
        users, user_cursor, users_done = self._export(self._client.users, state.users, limit)
        read = self._events(state) if state.tickets_done else None
        tickets, ticket_cursor, tickets_done = self._export(
            self._client.tickets, state.tickets, limit
        )
        if read is not None and not tickets_done:
            read = None  # tickets changed faster than a page: their comments wait
        me = self._me_id()
        names = {int(u["id"]): (u.get("name"), u.get("role") == "end-user") for u in users}
        changes = [c for c in (user_change(u) for u in users) if c is not None]
        ticket_changes = {str(t["id"]): t for t in tickets}
        if read is not None:
            for ticket in read.tickets:
                ticket_changes.setdefault(str(ticket["id"]), ticket)
        changes.extend(ticket_change(t) for t in ticket_changes.values())
        deleted = {k for k, t in ticket_changes.items() if str(t.get("status")) == "deleted"}
        comments = [] if read is None else read.comments
        comments = [(c, tid) for c, tid in comments if str(tid) not in deleted]
        authors = {int(c["author_id"]) for c, _ in comments if c.get("author_id")}
        names.update(self._user_names(sorted(authors - set(names))))
        for comment, ticket_id in comments:
            name, customer = names.get(int(comment.get("author_id") or 0), (None, False))
            changes.append(
                comment_change(
                    comment,
                    ticket_id=ticket_id,
                    our_user_id=me,
                    author_name=name,
                    from_customer=customer,
                )
            )
        events = state.events if read is None else read.position
        next_cursor = _PullState(
            users=user_cursor, tickets=ticket_cursor, tickets_done=tickets_done, events=events
        ).encode()
        events_done = read is not None and read.done
        return PullPage(
            changes=tuple(changes),
            cursor=next_cursor,
            has_more=not (users_done and tickets_done and events_done),
        )

    def _events(self, state: _PullState) -> _EventsRead:
        """One page of the ticket event export after ``state.events``, with its comments."""
        since, seen = state.events.since, set(state.events.seen)
        size = self.config.events_per_page
        page = self._client.tickets.events(
            start_time=since,
            include="comment_events",
            per_page=size if size != EVENTS_PER_PAGE else None,
        )
        raw = [event.to_dict() for event in (page.values or [])]
        fresh = [
            e
            for e in raw
            if int(e["timestamp"]) > since
            or (int(e["timestamp"]) == since and int(e["id"]) not in seen)
        ]
        if not fresh:
            if len(raw) >= size:  # a full second that cannot be paged past
                return self._overflow(since, seen)
            return _EventsRead(position=state.events, done=bool(page.end_of_stream))
        fresh.sort(key=lambda e: (int(e["timestamp"]), int(e["id"])))
        last = int(fresh[-1]["timestamp"])
        at_last = {int(e["id"]) for e in raw if int(e["timestamp"]) == last}
        if last == since:
            at_last |= seen
        comments = [
            (
                {**child, "created_at": child.get("created_at") or event.get("created_at")},
                event["ticket_id"],
            )
            for event in fresh
            for child in event.get("child_events") or []
            if child.get("event_type") == "Comment" and "body" in child
        ]
        return _EventsRead(
            position=_EventsAt(since=last, seen=tuple(sorted(at_last))),
            done=bool(page.end_of_stream),
            comments=comments,
        )

    def _overflow(self, second: int, seen: set[int]) -> _EventsRead:
        """The comments of ``second`` not in ``seen`` (audit ids), read ticket by ticket.

        Only when one second holds more events than a page: every ticket
        changed since that second is listed (cursor export) and its comments
        read; the export then goes on at the next second.
        """
        tickets: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            if cursor is None:
                page = self._client.tickets.incremental(start_time=second, per_page=1000)
            else:
                page = self._client.tickets.incremental(cursor=cursor, per_page=1000)
            tickets.extend(item.to_dict() for item in (page.values or []))
            cursor = getattr(page, "after_cursor", None)
            if bool(getattr(page, "end_of_stream", True)) or not cursor:
                break
        found: list[tuple[dict[str, Any], Any]] = []
        touched: list[dict[str, Any]] = []
        for ticket in tickets:
            if str(ticket.get("status")) == "deleted":
                continue
            try:
                listed = [c.to_dict() for c in self._client.tickets.comments(ticket=ticket["id"])]
            except RecordNotFoundException:
                continue
            mine = [
                c
                for c in listed
                if c.get("created_at")
                and int(parse_time(c["created_at"]).timestamp()) == second
                and int(c.get("audit_id") or 0) not in seen
            ]
            if mine:
                touched.append(ticket)
                found.extend((c, ticket["id"]) for c in mine)
        logger.warning(
            "zendesk: more ticket events at %d than a page holds; read %d comments of that "
            "second from %d tickets",
            second,
            len(found),
            len(tickets),
        )
        return _EventsRead(
            position=_EventsAt(since=second + 1, seen=()),
            done=False,
            comments=found,
            tickets=touched,
        )

    def _export(
        self, api: Any, cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None, bool]:
        """One page of a cursor-based incremental export: ``(records, after_cursor, end)``."""
        if cursor is None:
            page = api.incremental(start_time=0, per_page=limit)
        else:
            page = api.incremental(cursor=cursor, per_page=limit)
        records = [item.to_dict() for item in (page.values or [])]
        after = getattr(page, "after_cursor", None) or cursor
        return records, after, bool(getattr(page, "end_of_stream", True))

    def _user_names(self, ids: list[int]) -> dict[int, tuple[str | None, bool]]:
        """Name, and whether an end user (a customer), of each of ``ids``."""
        names: dict[int, tuple[str | None, bool]] = {}
        for start in range(0, len(ids), BATCH):
            for user in self._client.users(ids=ids[start : start + BATCH]):
                names[int(user.id)] = (user.name, user.role == "end-user")
        return names

    def _decode_cursor(self, cursor: str | None) -> _PullState:
        if cursor is None:
            return _PullState()
        try:
            return _PullState.decode(cursor)
        except (ValueError, TypeError, AttributeError, KeyError, binascii.Error):
            raise PermanentIntegrationError(
                "not a Zendesk pull cursor of this integration", integration=self.name
            ) from None

    # -- webhooks ------------------------------------------------------------------

    async def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        """Check a Zendesk webhook's signature and age, and map its event.

        Signature: ``X-Zendesk-Webhook-Signature`` is
        ``base64(HMAC-SHA256(webhook_secret, timestamp + body))`` with the
        timestamp from ``X-Zendesk-Webhook-Signature-Timestamp``; it is
        compared in constant time, and deliveries signed more than
        ``webhook_replay_seconds`` away from now are refused.

        Payload: a Zendesk event (``type``, ``detail``, ``event``, ``time``), as
        webhooks subscribed to events send them and as a trigger's webhook
        should be configured to send them:

        - ``zen:event-type:ticket.*``: ``detail`` is the ticket (``id``,
          ``external_id``, ``subject``, ``status``, ``priority``, ``tags``,
          ``requester_id``, ``updated_at``; ids may be strings and status and
          priority upper case); gives a conversation change. With
          ``ticket.comment_added``, ``event.comment`` (``id``, ``body``,
          ``is_public``, ``author`` with ``id`` and ``name``) also gives a
          message or note. ``ticket.soft_deleted`` and
          ``ticket.permanently_deleted`` give a delete.
        - ``zen:event-type:user.*``: ``detail`` is the user (``id``, ``name``,
          ``email``, ``phone``, ``external_id``, ``role``, ``updated_at``);
          gives a contact change for end users. ``user.deleted`` gives a delete.

        Other event types give no change.

        Raises:
            WebhookVerificationError: No secret configured, missing or bad
                signature, outside the replay window, or not a JSON event.
        """
        secret = self.config.webhook_secret
        if secret is None:
            raise WebhookVerificationError(
                "no webhook_secret is configured for zendesk", integration=self.name
            )
        lowered = {key.lower(): value for key, value in headers.items()}
        signature = lowered.get(SIGNATURE_HEADER.lower())
        stamp = lowered.get(TIMESTAMP_HEADER.lower())
        if not signature or not stamp:
            raise WebhookVerificationError(
                "the Zendesk signature headers are missing", integration=self.name
            )
        expected = sign_webhook(body, secret=secret.get_secret_value(), timestamp=stamp)
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            raise WebhookVerificationError("bad webhook signature", integration=self.name)
        try:
            signed_at = parse_time(stamp)
        except ValueError:
            raise WebhookVerificationError(
                "the signature timestamp is not a time", integration=self.name
            ) from None
        age = abs((datetime.now(timezone.utc) - signed_at).total_seconds())
        if age > self.config.webhook_replay_seconds:
            raise WebhookVerificationError(
                f"the delivery was signed {age:.0f}s away from now "
                f"(window {self.config.webhook_replay_seconds:g}s)",
                integration=self.name,
            )
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict):
                raise ValueError("not an object")
            event_type = str(payload.get("type") or "")
            needs_me = event_type.endswith("ticket.comment_added")
            me = (await self._run(self._me_id)) if needs_me else self._me
            return _webhook_changes(payload, event_type, me)
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookVerificationError(
                f"not a Zendesk event payload: {type(exc).__name__}", integration=self.name
            ) from None


# -- module helpers ------------------------------------------------------------------


def _webhook_changes(
    payload: Mapping[str, Any], event_type: str, me: int | None
) -> list[InboundChange]:
    detail = payload.get("detail")
    if not isinstance(detail, dict):
        raise ValueError("no detail")
    kind = event_type.removeprefix("zen:event-type:")
    when = detail.get("updated_at") or payload.get("time")
    if kind.startswith("user."):
        user = {**detail, "updated_at": when}
        if kind == "user.deleted":
            user["active"] = False
        change = user_change(user)
        return [change] if change is not None else []
    if not kind.startswith("ticket."):
        return []
    ticket = {**detail, "updated_at": when}
    if kind in ("ticket.soft_deleted", "ticket.permanently_deleted"):
        ticket["status"] = "deleted"
    changes = [ticket_change(ticket)]
    event = payload.get("event")
    comment = event.get("comment") if isinstance(event, dict) else None
    if kind == "ticket.comment_added" and isinstance(comment, dict):
        found = comment.get("author")
        author: dict[str, Any] = found if isinstance(found, dict) else {}
        changes.append(
            comment_change(
                {
                    "id": comment["id"],
                    "body": comment.get("body") or "",
                    "public": comment.get("is_public", True),
                    "author_id": author.get("id"),
                    "created_at": payload.get("time") or when,
                },
                ticket_id=detail["id"],
                our_user_id=me,
                author_name=author.get("name"),
                from_customer=author.get("is_staff") is False,
            )
        )
    return changes


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


def _owner_error(message: str) -> bool:
    """Whether Zendesk's validation message is about the assignee (e.g. not an agent)."""
    return "assignee" in message.lower()


def _job_error(result: Mapping[str, Any]) -> str:
    error = str(result.get("error") or "failed")
    details = result.get("details")
    return f"{error}: {details}" if details else error


def _schedule(writes: list[_CommentWrite]) -> list[list[_CommentWrite]]:
    """Comments spread over the fewest jobs: each ticket at most once per job, 100 per job.

    With ``n`` comments and at most ``k`` on one ticket, that is
    ``m = max(k, ceil(n / 100))`` jobs. Going round the jobs, each ticket
    takes the next ``k_i`` of them (distinct, as ``k_i <= m``), and its
    comments go to those jobs in ascending order, so they are written in
    order; every job gets ``floor(n / m)`` or ``ceil(n / m) <= 100`` comments.
    """
    if not writes:
        return []
    by_ticket: dict[int, list[_CommentWrite]] = {}
    for write in writes:
        by_ticket.setdefault(write.ticket_id, []).append(write)
    count = max(max(len(group) for group in by_ticket.values()), -(-len(writes) // BATCH))
    jobs: list[list[_CommentWrite]] = [[] for _ in range(count)]
    position = 0
    for group in by_ticket.values():
        slots = sorted((position + offset) % count for offset in range(len(group)))
        for slot, write in zip(slots, group, strict=True):
            jobs[slot].append(write)
        position = (position + len(group)) % count
    return jobs


def _comment_ok(change: OutboundChange, comment: Mapping[str, Any], remote_type: str) -> PushResult:
    created = comment.get("created_at")
    return PushResult.ok(
        change,
        str(comment["id"]),
        remote_type=remote_type,
        remote_version=str(created) if created else None,
    )


def _ticket_id(change: OutboundChange) -> int | None:
    parent = change.parent_remote_id
    return int(parent) if parent and parent.isdigit() else None


def _same_comment(comment: Mapping[str, Any], text: str, public: bool) -> bool:
    body = str(comment.get("plain_body") or comment.get("body") or "").strip()
    return body == text and bool(comment.get("public")) is public


def _has_attachment(comment: Mapping[str, Any], filename: str) -> bool:
    attachments = comment.get("attachments") or []
    return comment.get("public") is False and any(
        isinstance(a, dict) and a.get("file_name") == filename for a in attachments
    )
