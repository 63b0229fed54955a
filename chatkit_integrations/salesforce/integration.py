"""The Salesforce (Service Cloud) integration, on the vendor's own client ``simple-salesforce``.

What is synced, and how:

| chatkit | Salesforce | push | pull |
|---|---|---|---|
| contact | Contact | sObject Collections upsert on the external id | SOQL on SystemModstamp |
| conversation | Case | sObject Collections upsert on the external id | SOQL on SystemModstamp |
| owner (assignee) | Case OwnerId | a User by Email (one SOQL per batch, cached) | (not read) |
| message | CaseComment, published | Collections create / update | SOQL on SystemModstamp |
| note | CaseComment, private | Collections create / update | SOQL on SystemModstamp |
| transcript | ContentVersion on the case | ``POST sobjects/ContentVersion`` | (not read) |

Contacts and cases carry the chatkit id in an External ID field
(``Chatkit_Id__c`` by default; create it, unique, on both objects), so a
retried push updates what the first try created. Case comments cannot have
custom fields: on a retried change (``attempt > 1``) the case's comments by
our API user are read first, and one with the same text and visibility is
reused. Transcripts are files published to the case (``FirstPublishLocationId``);
the id kept for them is the ContentDocument, and a new transcript of the
same conversation becomes its next version.

Owner: a case's ``OwnerId`` is the active User whose Email is the
conversation's ``assignee_email``. The owners of a push not cached yet are
looked up in one query (``SELECT Id, Email FROM User WHERE Email IN (...)
AND IsActive = true``, 200 emails a query) and kept per integration instance:
users found for good, emails with no active user for
``_UNKNOWN_OWNER_TTL`` seconds. With no such user, or no assignee, OwnerId
is left out: a new case gets the org's default owner (the API user, or the
assignment rules), an existing case keeps its owner (a Case always has one).
A case refused with ``INACTIVE_OWNER_OR_USER`` (a cached owner deactivated
since) is retryable, and its owner is looked up again.

Inbound is polling (Salesforce has no signed webhooks for this): one SOQL
query per object ordered by ``SystemModstamp, Id``, through ``queryAll`` so
deletions come too. The cursor keeps, per object, the last stamp returned
and the ids already returned at that stamp; the next query reads from that
stamp on (``>=``) and drops those ids, so records sharing a stamp are neither
skipped nor repeated.

Errors: 401 ``INVALID_SESSION_ID`` logs in again once when a username and
password are configured, else raises `IntegrationAuthError`; 403
``REQUEST_LIMIT_EXCEEDED`` for the daily total raises `IntegrationQuotaError`
(a concurrency limit is retryable); 429, 5xx, timeouts and connection failures
raise `RetryableIntegrationError` with the ``Retry-After`` Salesforce gave. A
record refused inside a collection gets its own result: retryable for
``UNABLE_TO_LOCK_ROW`` and other passing codes, permanent otherwise, with
Salesforce's message.

Where the parts are: `SalesforceIntegration` (here) is the push that runs
them in order, and deletes; contacts, cases and owners in ``_cases.py``,
case comments and transcripts in ``_comments.py``, pull in ``_pull.py``;
the session, login, settings (`SalesforceConfig`) and error classification
in ``_client.py``.

simple-salesforce is synchronous: every call runs in a worker thread
(`asyncio.to_thread`). To test against `emulator.SalesforceEmulator`, set
``instance_url`` to the emulator and ``ca_bundle`` to its CA file.

Example:
    ```python
    config = SalesforceConfig(
        instance_url="https://acme.my.salesforce.com", session_id="00D...!AQ...",
    )
    async with SalesforceIntegration(config) as salesforce:
        results = await salesforce.push(changes)
        page = await salesforce.pull(saved_cursor)
    ```
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chatkit.errors import (
    IntegrationAuthError,
    IntegrationError,
    IntegrationQuotaError,
    PermanentIntegrationError,
    RetryableIntegrationError,
)
from chatkit.integrations import (
    Capabilities,
    ChangeAction,
    HealthState,
    HealthStatus,
    ObjectSync,
    OutboundChange,
    PushResult,
    RateBudget,
    SyncObject,
)

from ._cases import _CasesPush
from ._client import (
    _GONE_CODES,
    BATCH,
    NAME,
    SalesforceConfig,
    _chunks,
    _limits,
    _Outcome,
    _query_all,
    _quote,
    _refused,
    _restful,
)
from ._comments import _CommentsPush
from ._pull import _Pull

__all__ = ["BATCH", "SalesforceConfig", "SalesforceIntegration"]


class SalesforceIntegration(_CasesPush, _CommentsPush, _Pull):
    """Contacts, cases, case comments and transcripts, kept in step with a Salesforce org."""

    name = NAME
    config_class = SalesforceConfig
    capabilities = Capabilities(
        objects=(
            ObjectSync.both_ways(SyncObject.CONTACT, "Contact", BATCH),
            ObjectSync.both_ways(SyncObject.CONVERSATION, "Case", BATCH),
            ObjectSync.both_ways(SyncObject.MESSAGE, "CaseComment", BATCH),
            ObjectSync.both_ways(SyncObject.NOTE, "CaseComment", BATCH),
            ObjectSync.outbound_only(SyncObject.TRANSCRIPT, "ContentVersion", 20),
        ),
        webhooks=False,
        # Salesforce counts calls per 24 hours; the engine also paces itself within it.
        rate=RateBudget(calls=25, per_seconds=1, daily_calls=15000),
    )
    config: SalesforceConfig

    # -- check -----------------------------------------------------------------------

    async def check(self) -> HealthStatus:
        """One ``GET /limits``: OK, DEGRADED under 5% of the daily calls left, or why not."""
        try:
            limits = await self._run(self._call, _limits)
        except IntegrationAuthError as exc:
            return HealthStatus(state=HealthState.AUTH_FAILED, detail=str(exc))
        except IntegrationQuotaError as exc:
            return HealthStatus(state=HealthState.QUOTA_EXHAUSTED, detail=str(exc))
        except IntegrationError as exc:
            return HealthStatus(state=HealthState.UNREACHABLE, detail=str(exc))
        daily = limits.get("DailyApiRequests", {}) if isinstance(limits, dict) else {}
        maximum, remaining = int(daily.get("Max", 0)), int(daily.get("Remaining", 0))
        detail = f"{remaining} of {maximum} daily API requests left"
        if maximum and remaining <= 0:
            return HealthStatus(state=HealthState.QUOTA_EXHAUSTED, detail=detail)
        if maximum and remaining < maximum * 0.05:
            return HealthStatus(state=HealthState.DEGRADED, detail=detail)
        return HealthStatus(state=HealthState.OK, detail=detail)

    # -- push ------------------------------------------------------------------------

    async def push(self, changes: Sequence[OutboundChange]) -> list[PushResult]:
        """Write the batch: deletes, contacts, cases, then comments and transcripts.

        Raises:
            IntegrationAuthError: Credentials refused.
            IntegrationQuotaError: The daily API limit is used up.
            RetryableIntegrationError: The first call failed for now; once
                something was written, the rest come back as retryable results
                instead.
        """
        return await self._run(self._push, list(changes))

    def _push(self, changes: list[OutboundChange]) -> list[PushResult]:
        outcome = _Outcome(results={})
        deletes = [c for c in changes if c.action is ChangeAction.DELETE]
        upserts = [c for c in changes if c.action is ChangeAction.UPSERT]
        steps: list[
            tuple[list[OutboundChange], Callable[[list[OutboundChange], _Outcome], None]]
        ] = [
            (deletes, self._delete),
            ([c for c in upserts if c.object is SyncObject.CONTACT], self._upsert_contacts),
            ([c for c in upserts if c.object is SyncObject.CONVERSATION], self._upsert_cases),
            (
                [c for c in upserts if c.object in (SyncObject.MESSAGE, SyncObject.NOTE)],
                self._upsert_comments,
            ),
            ([c for c in upserts if c.object is SyncObject.TRANSCRIPT], self._upsert_transcripts),
        ]
        for batch, step in steps:
            if not batch:
                continue
            try:
                step(batch, outcome)
            except RetryableIntegrationError as exc:
                if not outcome.wrote:
                    raise
                for change in changes:
                    if change.change_id not in outcome.results:
                        outcome.results[change.change_id] = PushResult.retryable(
                            change, str(exc), retry_after=exc.retry_after
                        )
                break
            except PermanentIntegrationError as exc:
                for change in batch:
                    outcome.results.setdefault(
                        change.change_id, PushResult.permanent(change, str(exc))
                    )
        return [
            outcome.results.get(c.change_id)
            or PushResult.permanent(c, f"{c.object.value} is not synced to Salesforce")
            for c in changes
        ]

    def _delete(self, batch: list[OutboundChange], outcome: _Outcome) -> None:
        by_id: dict[str, list[OutboundChange]] = {}
        for change in batch:
            remote_id = change.remote_id
            if remote_id is None and change.object in (SyncObject.CONTACT, SyncObject.CONVERSATION):
                remote_id = self._by_external_id(change)
            if remote_id is None:  # never reached Salesforce, or already gone
                outcome.results[change.change_id] = PushResult.ok(change, None)
                continue
            by_id.setdefault(remote_id, []).append(change)
        for chunk in _chunks(list(by_id)):
            answers = self._call(
                _restful(
                    "composite/sobjects",
                    "DELETE",
                    params={"ids": ",".join(chunk), "allOrNone": "false"},
                )
            )
            outcome.wrote = True
            for remote_id, answer in zip(chunk, answers or [], strict=False):
                errors = answer.get("errors") or []
                codes = {str(e.get("statusCode")) for e in errors}
                for change in by_id[remote_id]:
                    if answer.get("success") or codes & _GONE_CODES:
                        outcome.results[change.change_id] = PushResult.ok(change, None)
                    else:
                        outcome.results[change.change_id] = _refused(change, errors)

    def _by_external_id(self, change: OutboundChange) -> str | None:
        sobject = "Contact" if change.object is SyncObject.CONTACT else "Case"
        soql = (
            f"SELECT Id FROM {sobject} WHERE {self.config.external_id_field} = "
            f"{_quote(change.local_id)} LIMIT 1"
        )
        rows = self._call(_query_all(soql))["records"]
        return str(rows[0]["Id"]) if rows else None
