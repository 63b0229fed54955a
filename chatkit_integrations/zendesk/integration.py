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

Where the parts are: `ZendeskIntegration` (here) is the push that runs them
in order and the bulk jobs they share; users in ``_users.py``, tickets and
their owners in ``_tickets.py``, comments and transcripts in
``_comments.py``, pull and the exports in ``_pull.py``, webhooks in
``_webhook_events.py``; the client, settings (`ZendeskConfig`) and error
classification in ``_client.py``.

Example:
    ```python
    config = ZendeskConfig(subdomain="acme", email="bot@acme.com", api_token="...")
    async with ZendeskIntegration(config) as zendesk:
        results = await zendesk.push(changes)
        page = await zendesk.pull(saved_cursor)
    ```
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from chatkit.errors import (
    IntegrationAuthError,
    IntegrationError,
    PermanentIntegrationError,
    RetryableIntegrationError,
)
from chatkit.integrations import (
    Capabilities,
    HealthState,
    HealthStatus,
    ObjectSync,
    OutboundChange,
    PushResult,
    RateBudget,
    SyncObject,
)

from ._client import BATCH, COMMENT_BATCH, ZendeskConfig, _Outcome, logger
from ._comments import _CommentsPush
from ._pull import _Pull
from ._tickets import _TicketsPush
from ._users import _UsersPush
from ._webhook_events import _Webhooks
from ._zenpy import APIException

__all__ = ["ZendeskConfig", "ZendeskIntegration"]


class ZendeskIntegration(_UsersPush, _TicketsPush, _CommentsPush, _Pull, _Webhooks):
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

    # -- bulk jobs (shared by users, tickets and comments) -------------------------

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
