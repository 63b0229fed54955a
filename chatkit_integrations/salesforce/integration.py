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

import asyncio
import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar, cast

from pydantic import Field, JsonValue, SecretStr, model_validator
from typing_extensions import Self

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
    InboundChange,
    Integration,
    IntegrationConfig,
    ObjectSync,
    OutboundChange,
    PullPage,
    PushResult,
    RateBudget,
    SyncObject,
)

from .._time import parse_iso_datetime
from ._mapping import (
    case_fields,
    case_to_chatkit,
    comment_body,
    contact_fields,
    contact_to_chatkit,
    owner_email,
)

try:
    import requests
    from requests.adapters import HTTPAdapter
    from simple_salesforce.api import Salesforce, SFType
    from simple_salesforce.exceptions import (
        SalesforceAuthenticationFailed,
        SalesforceError,
        SalesforceExpiredSession,
        SalesforceRefusedRequest,
    )
    from simple_salesforce.login import SalesforceLogin
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the Salesforce integration needs simple-salesforce: pip install 'chatkit[salesforce]'"
    ) from exc

__all__ = ["BATCH", "SalesforceConfig", "SalesforceIntegration"]

logger = logging.getLogger(__name__)

BATCH = 200
"""Records per sObject Collections call, Salesforce's limit."""
NAME = "salesforce"
_T = TypeVar("_T")
_RETRYABLE_CODES = frozenset(
    {
        "UNABLE_TO_LOCK_ROW",
        "SERVER_UNAVAILABLE",
        "UNKNOWN_EXCEPTION",
        "REQUEST_LIMIT_EXCEEDED",
        "REQUEST_RUNNING_TOO_LONG",
        "QUERY_TIMEOUT",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    }
)
_GONE_CODES = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND"})
_DAILY_LIMIT = "TotalRequests"
_UNKNOWN_OWNER_TTL = 600.0
"""Seconds an owner email with no active Salesforce User is taken as unknown
without asking again (users found are kept for the instance's life)."""
_PULLED = ("Contact", "Case", "CaseComment")


class SalesforceConfig(IntegrationConfig):
    """Settings, from code, ``CHATKIT_SALESFORCE_*`` variables or a file.

    Give either ``session_id`` (an OAuth access token) or ``username``,
    ``password`` and ``security_token`` (SOAP login, renewed when the session
    expires).

    Attributes:
        instance_url: The org, e.g. ``https://acme.my.salesforce.com``. With a
            password login the instance the login answers is used instead.
        session_id: An access token of the API user.
        username: The API user's username, for the password login.
        password: Its password.
        security_token: Its security token.
        domain: The login domain: ``login``, ``test`` (sandboxes) or a My
            Domain such as ``acme.my``.
        login_url: A full base URL for the login instead of ``domain`` (an
            emulator, a scratch org).
        api_version: REST API version, e.g. ``59.0``.
        external_id_field: The External ID field on Contact and Case holding
            the chatkit id.
        api_user_id: The API user's id (``005...``), to recognise our own
            comments; read from ``/services/oauth2/userinfo`` when not set.
        case_origin: ``Origin`` of the cases chatkit creates (``None``: unset).
        ca_bundle: A CA file to trust instead of the system's (tests).
        verify: Whether to verify TLS certificates.
        timeout: Seconds to wait for one HTTP answer.
    """

    instance_url: str = Field(pattern=r"^https://[^/\s]+/?$")
    session_id: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    domain: str = Field(default="login", pattern=r"^[A-Za-z0-9.-]+$")
    login_url: str | None = Field(default=None, pattern=r"^https://[^/\s]+/?$")
    api_version: str = Field(default="59.0", pattern=r"^\d{2}\.\d$")
    external_id_field: str = Field(default="Chatkit_Id__c", pattern=r"^[A-Za-z][A-Za-z0-9_]*__c$")
    api_user_id: str | None = Field(default=None, pattern=r"^005[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$")
    case_origin: str | None = "Chat"
    ca_bundle: str | None = None
    verify: bool = True
    timeout: float = Field(default=30, gt=0, le=600)

    @model_validator(mode="after")
    def _credentials(self) -> Self:
        password_login = (self.username, self.password, self.security_token)
        if self.session_id is None and any(v is None for v in password_login):
            raise ValueError("give session_id, or username, password and security_token together")
        return self

    @property
    def password_login(self) -> bool:
        """Whether it logs in with username, password and security token."""
        return self.username is not None and self.password is not None


@dataclass
class _Outcome:
    """Per-change results of one push, filled in as calls succeed."""

    results: dict[str, PushResult]
    wrote: bool = False


class SalesforceIntegration(Integration):
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

    def __init__(self, config: IntegrationConfig) -> None:
        super().__init__(config)
        self._client: Salesforce | None = None
        self._session: requests.Session | None = None
        self._lock = threading.Lock()
        self._retry_after: float | None = None
        self._api_user_id: str | None = self.config.api_user_id
        self._owners: dict[str, tuple[str | None, float]] = {}

    # -- connection ------------------------------------------------------------------

    async def open(self) -> None:
        """Create the HTTP session (and log in, for a password login). Idempotent."""
        await asyncio.to_thread(self._connect)

    async def close(self) -> None:
        """Close the HTTP session. Idempotent; never raises."""
        with self._lock:
            session, self._session, self._client = self._session, None, None
        if session is not None:
            try:
                session.close()
            except Exception:  # pragma: no cover - closing never fails the caller
                logger.debug("salesforce: closing the HTTP session failed", exc_info=True)

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        if self.config.ca_bundle is not None:
            session.verify = self.config.ca_bundle
            session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        else:
            session.verify = self.config.verify
        session.hooks["response"].append(self._remember_retry_after)
        adapter = _TimeoutAdapter(self.config.timeout)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def _remember_retry_after(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        value = response.headers.get("Retry-After")
        try:
            self._retry_after = float(value) if value is not None else None
        except ValueError:
            self._retry_after = None

    def _connect(self, *, renew: bool = False) -> Salesforce:
        with self._lock:
            if self._client is not None and not renew:
                return self._client
            if self._session is None:
                self._session = self._new_session()
            config = self.config
            instance_url = config.instance_url.rstrip("/")
            if config.password_login:
                assert config.username is not None
                assert config.password is not None
                assert config.security_token is not None
                try:
                    token, instance = SalesforceLogin(
                        username=config.username,
                        password=config.password.get_secret_value(),
                        security_token=config.security_token.get_secret_value(),
                        sf_version=config.api_version,
                        session=self._session,
                        domain=config.domain,
                        scratch_url=config.login_url.rstrip("/") if config.login_url else None,
                    )
                except SalesforceAuthenticationFailed as exc:
                    raise IntegrationAuthError(
                        f"salesforce: login refused ({exc.code})", integration=NAME
                    ) from None
                except requests.RequestException as exc:
                    raise RetryableIntegrationError(
                        f"salesforce: login failed: {type(exc).__name__}", integration=NAME
                    ) from None
                instance_url = f"https://{instance}"
            else:
                assert config.session_id is not None
                token = config.session_id.get_secret_value()
            self._client = Salesforce(
                instance_url=instance_url,
                session_id=token,
                session=self._session,
                version=config.api_version,
            )
            return self._client

    def _call(self, action: Callable[[Salesforce], _T]) -> _T:
        """Run one API call, translating failures into chatkit's errors."""
        renewed = False
        while True:
            client = self._connect()
            self._retry_after = None
            try:
                return action(client)
            except SalesforceExpiredSession as exc:
                if self.config.password_login and not renewed:
                    renewed = True
                    self._connect(renew=True)
                    continue
                raise IntegrationAuthError(
                    f"salesforce: {_describe(exc)}", integration=NAME
                ) from None
            except SalesforceRefusedRequest as exc:
                code, message = _first_error(exc)
                if code == "REQUEST_LIMIT_EXCEEDED" and _DAILY_LIMIT in message:
                    raise IntegrationQuotaError(
                        f"salesforce: {message}",
                        integration=NAME,
                        retry_after=self._retry_after,
                    ) from None
                if code == "REQUEST_LIMIT_EXCEEDED":
                    raise RetryableIntegrationError(
                        f"salesforce: {message}",
                        integration=NAME,
                        status_code=403,
                        retry_after=self._retry_after,
                    ) from None
                raise IntegrationAuthError(
                    f"salesforce: request refused: {_describe(exc)}", integration=NAME
                ) from None
            except SalesforceError as exc:
                if exc.status == 429 or exc.status >= 500:
                    raise RetryableIntegrationError(
                        f"salesforce: {_describe(exc)}",
                        integration=NAME,
                        status_code=exc.status,
                        retry_after=self._retry_after,
                    ) from None
                raise PermanentIntegrationError(
                    f"salesforce: {_describe(exc)}", integration=NAME, status_code=exc.status
                ) from None
            except requests.RequestException as exc:
                raise RetryableIntegrationError(
                    f"salesforce: {type(exc).__name__} talking to Salesforce", integration=NAME
                ) from None

    async def _run(self, function: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.to_thread(function, *args)

    def _api_user(self) -> str | None:
        if self._api_user_id is None:
            info = self._call(_oauth2_userinfo)
            if isinstance(info, dict) and info.get("user_id"):
                self._api_user_id = str(info["user_id"])
        return self._api_user_id

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

    def _collection(
        self, method: str, path: str, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        answer = self._call(_restful(path, method, json={"allOrNone": False, "records": records}))
        return list(answer or [])

    def _apply(
        self,
        batch: list[OutboundChange],
        answers: list[dict[str, Any]],
        outcome: _Outcome,
        remote_type: str,
    ) -> None:
        outcome.wrote = True
        for change, answer in zip(batch, answers, strict=False):
            if answer.get("success"):
                outcome.results[change.change_id] = PushResult.ok(
                    change, str(answer["id"]), remote_type=remote_type
                )
            else:
                outcome.results[change.change_id] = _refused(change, answer.get("errors") or [])

    def _upsert_contacts(self, batch: list[OutboundChange], outcome: _Outcome) -> None:
        field = self.config.external_id_field
        for chunk in _chunks(batch):
            records = [
                {
                    "attributes": {"type": "Contact"},
                    field: change.local_id,
                    **contact_fields(change.data),
                }
                for change in chunk
            ]
            answers = self._collection("PATCH", f"composite/sobjects/Contact/{field}", records)
            self._apply(chunk, answers, outcome, "Contact")

    def _upsert_cases(self, batch: list[OutboundChange], outcome: _Outcome) -> None:
        field = self.config.external_id_field
        owners = self._owner_ids(batch)
        for chunk in _chunks(batch):
            records = []
            for change in chunk:
                email = owner_email(change.data)
                owner_id = owners.get(email) if email else None
                record: dict[str, Any] = {
                    "attributes": {"type": "Case"},
                    field: change.local_id,
                    **case_fields(change.data, origin=self.config.case_origin, owner_id=owner_id),
                }
                if change.parent_remote_id:
                    record["ContactId"] = change.parent_remote_id
                records.append(record)
            answers = self._collection("PATCH", f"composite/sobjects/Case/{field}", records)
            self._apply(chunk, answers, outcome, "Case")
            for change, answer in zip(chunk, answers, strict=False):
                codes = {str(e.get("statusCode")) for e in answer.get("errors") or []}
                email = owner_email(change.data)
                if "INACTIVE_OWNER_OR_USER" in codes and email:
                    self._owners.pop(email, None)  # deactivated since: look it up again
                    outcome.results[change.change_id] = PushResult.retryable(
                        change, f"its owner {email} is an inactive Salesforce user"
                    )

    def _owner_ids(self, changes: list[OutboundChange]) -> dict[str, str]:
        """``{email: User Id}`` for the owners of ``changes`` that are active users.

        Emails not cached (or cached as unknown longer than
        ``_UNKNOWN_OWNER_TTL``) are looked up in one SOQL query per 200.
        """
        now = time.monotonic()
        wanted = sorted({e for e in (owner_email(c.data) for c in changes) if e})
        missing = [
            email
            for email in wanted
            if email not in self._owners
            or (
                self._owners[email][0] is None
                and now - self._owners[email][1] >= _UNKNOWN_OWNER_TTL
            )
        ]
        for chunk in _chunks(missing):
            soql = (
                "SELECT Id, Email FROM User "
                f"WHERE Email IN ({', '.join(_quote(e) for e in chunk)}) AND IsActive = true"
            )
            found: dict[str, str] = {}
            for row in sorted(self._call(_query_all(soql))["records"], key=lambda r: r["Id"]):
                found.setdefault(str(row.get("Email") or "").lower(), str(row["Id"]))
            for email in chunk:
                self._owners[email] = (found.get(email), now)
        return {e: owner for e in wanted if (owner := self._owners[e][0]) is not None}

    def _upsert_comments(self, batch: list[OutboundChange], outcome: _Outcome) -> None:
        ready: list[OutboundChange] = []
        for change in batch:
            if change.remote_id or change.parent_remote_id:
                ready.append(change)
            else:  # the case is not in Salesforce yet: the engine pushes it first
                outcome.results[change.change_id] = PushResult.retryable(
                    change, "the conversation's case is not in Salesforce yet"
                )
        found = self._find_comments([c for c in ready if c.attempt > 1 and not c.remote_id])
        updates = [c for c in ready if c.remote_id or c.change_id in found]
        creates = [c for c in ready if c not in updates]
        for chunk in _chunks(updates):
            records = [
                {
                    "attributes": {"type": "CaseComment"},
                    "id": change.remote_id or found[change.change_id],
                    "CommentBody": comment_body(change.data.get("text")),
                    "IsPublished": change.object is SyncObject.MESSAGE,
                }
                for change in chunk
            ]
            self._apply(
                chunk,
                self._collection("PATCH", "composite/sobjects", records),
                outcome,
                "CaseComment",
            )
        for chunk in _chunks(creates):
            records = [
                {
                    "attributes": {"type": "CaseComment"},
                    "ParentId": change.parent_remote_id,
                    "CommentBody": comment_body(change.data.get("text")),
                    "IsPublished": change.object is SyncObject.MESSAGE,
                }
                for change in chunk
            ]
            self._apply(
                chunk,
                self._collection("POST", "composite/sobjects", records),
                outcome,
                "CaseComment",
            )

    def _find_comments(self, retried: list[OutboundChange]) -> dict[str, str]:
        """For retried comments, the comment an earlier try created: ``{change_id: id}``.

        CommentBody cannot be filtered in SOQL: the cases' comments by our API
        user are read and compared here. Each comment answers one change.
        """
        if not retried:
            return {}
        user = self._api_user()
        found: dict[str, str] = {}
        taken: set[str] = set()
        parents = sorted({str(c.parent_remote_id) for c in retried})
        for chunk in _chunks(parents):
            where = f"ParentId IN ({', '.join(_quote(p) for p in chunk)})"
            if user:
                where += f" AND CreatedById = {_quote(user)}"
            soql = (
                "SELECT Id, ParentId, CommentBody, IsPublished FROM CaseComment "
                f"WHERE {where} ORDER BY CreatedDate, Id"
            )
            rows = self._call(_query_all(soql))["records"]
            for change in retried:
                body = comment_body(change.data.get("text"))
                public = change.object is SyncObject.MESSAGE
                for row in rows:
                    if (
                        row["Id"] not in taken
                        and row["ParentId"] == change.parent_remote_id
                        and row["CommentBody"] == body
                        and bool(row["IsPublished"]) == public
                    ):
                        found[change.change_id] = row["Id"]
                        taken.add(row["Id"])
                        break
        return found

    def _upsert_transcripts(self, batch: list[OutboundChange], outcome: _Outcome) -> None:
        for change in batch:
            if not change.parent_remote_id:
                outcome.results[change.change_id] = PushResult.retryable(
                    change, "the conversation's case is not in Salesforce yet"
                )
                continue
            filename = str(change.data.get("filename") or f"{change.local_id}.txt")
            document_id = change.remote_id
            if document_id is None and change.attempt > 1:
                document_id = self._find_transcript(change.parent_remote_id, filename)
            record: dict[str, Any] = {
                "Title": filename,
                "PathOnClient": filename,
                "VersionData": base64.b64encode(
                    str(change.data.get("text") or "").encode("utf-8")
                ).decode("ascii"),
            }
            if document_id:
                record["ContentDocumentId"] = document_id
            else:
                record["FirstPublishLocationId"] = change.parent_remote_id
            try:
                created = self._call(_create_version(record))
            except PermanentIntegrationError as exc:
                outcome.results[change.change_id] = PushResult.permanent(change, str(exc))
                continue
            outcome.wrote = True
            version_id = str(created["id"])
            if not document_id:
                version = self._call(_version_document(version_id))
                document_id = str(version["ContentDocumentId"])
            outcome.results[change.change_id] = PushResult.ok(
                change, document_id, remote_type="ContentDocument", remote_version=version_id
            )

    def _find_transcript(self, case_id: str, title: str) -> str | None:
        soql = (
            "SELECT ContentDocumentId FROM ContentVersion WHERE "
            f"FirstPublishLocationId = {_quote(case_id)} AND Title = {_quote(title)} "
            "AND IsLatest = true ORDER BY CreatedDate DESC LIMIT 1"
        )
        rows = self._call(_query_all(soql))["records"]
        return str(rows[0]["ContentDocumentId"]) if rows else None

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

    # -- pull ------------------------------------------------------------------------

    async def pull(self, cursor: str | None, *, limit: int = 100) -> PullPage:
        """Contacts, cases and case comments changed after ``cursor``, oldest first."""
        return await self._run(self._pull, cursor, limit)

    def _pull(self, cursor: str | None, limit: int) -> PullPage:
        positions = _read_cursor(cursor)
        user = self._api_user()
        field = self.config.external_id_field
        selects = {
            "Contact": f"Id, Name, Email, Phone, MobilePhone, {field}, IsDeleted, SystemModstamp",
            "Case": f"Id, Subject, Status, Priority, ContactId, {field}, IsDeleted, SystemModstamp",
            "CaseComment": "Id, ParentId, CommentBody, IsPublished, CreatedById, CreatedBy.Name, "
            "IsDeleted, SystemModstamp",
        }
        rows: list[tuple[str, int, str, str, dict[str, Any]]] = []
        more = False
        for rank, sobject in enumerate(_PULLED):
            where, seen, stamp = "", frozenset[str](), None
            if sobject in positions:
                stamp, seen_ids = positions[sobject]
                seen = frozenset(seen_ids)
                where = f" WHERE SystemModstamp >= {_soql_datetime(stamp)}"
            soql = (
                f"SELECT {selects[sobject]} FROM {sobject}{where} "
                f"ORDER BY SystemModstamp, Id LIMIT {limit + len(seen) + 1}"
            )
            records = [
                record
                for record in self._call(_query_all(soql, include_deleted=True))["records"]
                if not (
                    str(record["Id"]) in seen
                    and stamp is not None
                    and _parse_datetime(str(record["SystemModstamp"])) == _parse_datetime(stamp)
                )
            ]
            more = more or len(records) > limit
            for record in records[:limit]:
                moment = _parse_datetime(str(record["SystemModstamp"]))
                rows.append((moment.isoformat(), rank, str(record["Id"]), sobject, record))
        rows.sort(key=lambda row: row[:3])
        taken, rest = rows[:limit], rows[limit:]
        for _, _, record_id, sobject, record in taken:
            record_stamp = str(record["SystemModstamp"])
            previous = positions.get(sobject)
            if previous is not None and _parse_datetime(previous[0]) == _parse_datetime(
                record_stamp
            ):
                positions[sobject] = (previous[0], [*previous[1], record_id])
            else:
                positions[sobject] = (record_stamp, [record_id])
        changes = tuple(self._inbound(sobject, record, user) for *_, sobject, record in taken)
        return PullPage(
            changes=changes,
            cursor=_write_cursor(positions) if positions else cursor,
            has_more=more or bool(rest),
        )

    def _inbound(self, sobject: str, record: dict[str, Any], user: str | None) -> InboundChange:
        action = ChangeAction.DELETE if record.get("IsDeleted") else ChangeAction.UPSERT
        common: dict[str, Any] = {
            "action": action,
            "remote_type": sobject,
            "remote_id": str(record["Id"]),
            "remote_version": str(record["SystemModstamp"]),
            "changed_at": _parse_datetime(str(record["SystemModstamp"])),
        }
        field = self.config.external_id_field
        if sobject == "Contact":
            return InboundChange(
                object=SyncObject.CONTACT,
                local_id=record.get(field) or None,
                data=contact_to_chatkit(record) if action is ChangeAction.UPSERT else {},
                **common,
            )
        if sobject == "Case":
            return InboundChange(
                object=SyncObject.CONVERSATION,
                local_id=record.get(field) or None,
                parent_remote_id=record.get("ContactId") or None,
                data=case_to_chatkit(record) if action is ChangeAction.UPSERT else {},
                **common,
            )
        author = record.get("CreatedBy")
        data: dict[str, JsonValue] = {}
        if action is ChangeAction.UPSERT:
            data = {
                "text": record.get("CommentBody") or "",
                "author_name": author.get("Name") if isinstance(author, dict) else None,
                "from_integration": user is not None and record.get("CreatedById") == user,
            }
        return InboundChange(
            object=SyncObject.MESSAGE if record.get("IsPublished") else SyncObject.NOTE,
            parent_remote_id=record.get("ParentId") or None,
            data=data,
            **common,
        )


# -- helpers -------------------------------------------------------------------------


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request a timeout (simple-salesforce passes none)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=self._timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def _limits(sf: Salesforce) -> Any:
    return sf.limits()


def _oauth2_userinfo(sf: Salesforce) -> Any:
    return sf.oauth2("userinfo")


def _restful(path: str, method: str, **kwargs: Any) -> Callable[[Salesforce], Any]:
    def run(sf: Salesforce) -> Any:
        return sf.restful(path, method=method, **kwargs)

    return run


def _query_all(soql: str, *, include_deleted: bool = False) -> Callable[[Salesforce], Any]:
    def run(sf: Salesforce) -> Any:
        return sf.query_all(soql, include_deleted=include_deleted)

    return run


def _create_version(record: dict[str, Any]) -> Callable[[Salesforce], Any]:
    def run(sf: Salesforce) -> Any:
        return cast(SFType, sf.ContentVersion).create(record)

    return run


def _version_document(version_id: str) -> Callable[[Salesforce], Any]:
    def run(sf: Salesforce) -> Any:
        versions = cast(SFType, sf.ContentVersion)
        return versions.get(version_id, params={"fields": "ContentDocumentId"})

    return run


def _chunks(items: list[_T], size: int = BATCH) -> list[list[_T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _quote(value: str) -> str:
    """A SOQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _parse_datetime(text: str) -> datetime:
    moment = parse_iso_datetime(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _soql_datetime(stamp: str) -> str:
    """``2026-03-01T09:15:00.000Z``: a SOQL datetime literal with milliseconds."""
    moment = _parse_datetime(stamp)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _read_cursor(cursor: str | None) -> dict[str, tuple[str, list[str]]]:
    if not cursor:
        return {}
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
        return {
            str(sobject): (str(position[0]), [str(i) for i in position[1]])
            for sobject, position in raw.items()
            if sobject in _PULLED
        }
    except (ValueError, TypeError, IndexError, AttributeError):
        raise PermanentIntegrationError(
            "salesforce: the saved pull cursor is not one of ours", integration=NAME
        ) from None


def _write_cursor(positions: dict[str, tuple[str, list[str]]]) -> str:
    """Per object, the last SystemModstamp returned and the ids returned at it (base64 JSON).

    The next query asks for ``SystemModstamp >=`` that stamp and drops those
    ids: records sharing a stamp are neither skipped nor repeated, even one
    changed later within the same millisecond whatever its id.
    """
    raw = {sobject: list(positions[sobject]) for sobject in _PULLED if sobject in positions}
    return base64.urlsafe_b64encode(json.dumps(raw, separators=(",", ":")).encode()).decode()


def _first_error(exc: SalesforceError) -> tuple[str, str]:
    content: Any = exc.content  # simple-salesforce stores the decoded JSON here
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return str(first.get("errorCode") or ""), str(first.get("message") or "")
    return "", str(content)[:200]


def _describe(exc: SalesforceError) -> str:
    code, message = _first_error(exc)
    return f"{exc.status} {code}: {message}" if code else f"{exc.status}: {message}"


def _refused(change: OutboundChange, errors: list[dict[str, Any]]) -> PushResult:
    """The result of a record Salesforce refused inside a collection."""
    text = "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in errors) or "refused"
    codes = {str(e.get("statusCode")) for e in errors}
    if codes & _RETRYABLE_CODES:
        return PushResult.retryable(change, text)
    return PushResult.permanent(change, text)
