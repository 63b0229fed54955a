"""The state of an emulated Salesforce org: records, users, sessions, failures, calls.

Plain Python, no HTTP: the emulator's routes call these methods, and tests call
them directly to read or change what is "in Salesforce" (an agent edits a
case). Every write keeps ``CreatedDate``, ``LastModifiedDate`` and
``SystemModstamp`` as Salesforce does, and validates fields the way the REST
API does (required fields, lengths, restricted picklists, lookups, read-only
fields, unique external ids).
"""

from __future__ import annotations

import base64
import binascii
import copy
import itertools
import re
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import _soql
from ._records import (
    CANON,
    CLOSED_STATUSES,
    DEFAULT_API_VERSION,
    EXTERNAL_ID_FIELDS,
    KEY_PREFIXES,
    QUERY_BATCH_DEFAULT,
    SCHEMA,
    SOBJECTS,
    FieldSpec,
    Record,
    RecordError,
    SalesforceAPIError,
    case_safe,
    make_id,
    not_found,
    sf_datetime,
    sobject_of_id,
)

__all__ = ["Call", "FailurePlan", "SalesforceState"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FILE_TYPES = {"txt": "TEXT", "pdf": "PDF", "csv": "CSV", "html": "HTML", "json": "JSON"}
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


class SalesforceState:
    """Records, users, sessions, planned failures and the call log of one emulated org.

    Thread-safe: the emulator serves from its own thread while a test reads
    and edits the same state.

    Args:
        clock: Returns the current time (timezone-aware); tests may pin it.
        daily_api_limit: The org's ``DailyApiRequests`` limit; REST calls past
            it answer 403 ``REQUEST_LIMIT_EXCEEDED``.
        query_batch_size: Records per SOQL result page (200 to 2000) unless
            the request asks for fewer with ``Sforce-Query-Options``.

    Attributes:
        api_user_id: The integration user the API session acts as.
        agent_user_id: A support agent, the author of edits made "in Salesforce".
        api_usage: REST calls counted against `daily_api_limit` (settable).
        calls: Every request answered, in order.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        daily_api_limit: int = 15000,
        query_batch_size: int = QUERY_BATCH_DEFAULT,
    ) -> None:
        if not 1 <= query_batch_size <= QUERY_BATCH_DEFAULT:
            # pages under Salesforce's minimum of 200 are allowed so tests can page cheaply
            raise ValueError("query_batch_size must be between 1 and 2000")
        self.clock = clock or (lambda: datetime.now(UTC))
        self.daily_api_limit = daily_api_limit
        self.query_batch_size = query_batch_size
        self.lock = threading.RLock()
        self.records: dict[str, dict[str, Record]] = {name: {} for name in SCHEMA}
        self.blobs: dict[str, bytes] = {}
        self.sessions: dict[str, str] = {}
        self.failures: list[FailurePlan] = []
        self.calls: list[Call] = []
        self.api_usage = 0
        self._ids: dict[str, itertools.count[int]] = {
            name: itertools.count(1) for name in KEY_PREFIXES
        }
        self._case_numbers = itertools.count(1001)
        self._locators: dict[str, list[Record]] = {}
        self.api_user_id = self._add_user("Chatkit", "Integration", "api@chatkit.example")
        self.agent_user_id = self._add_user("Alice", "Agent", "alice.agent@chatkit.example")

    def add_user(self, first: str, last: str, email: str, *, active: bool = True) -> str:
        """Add a user (an agent of the org) with this Email and Username; returns its Id.

        Cases can be assigned to it (``OwnerId``) while it is active; set
        ``IsActive`` false in `records` to play its deactivation.
        """
        with self.lock:
            user_id = self._add_user(first, last, email)
            self.records["User"][user_id]["IsActive"] = active
            return user_id

    def _add_user(self, first: str, last: str, username: str) -> str:
        now = sf_datetime(self.clock())
        user_id = make_id("User", next(self._ids["User"]))
        self.records["User"][user_id] = {
            "Id": user_id,
            "IsDeleted": False,
            "Username": username,
            "FirstName": first,
            "LastName": last,
            "Name": f"{first} {last}",
            "Email": username,
            "IsActive": True,
            "CreatedDate": now,
            "CreatedById": user_id,
            "LastModifiedDate": now,
            "LastModifiedById": user_id,
            "SystemModstamp": now,
        }
        return user_id

    # -- sessions ------------------------------------------------------------------

    def new_session(self, user_id: str | None = None, token: str | None = None) -> str:
        """Register an access token acting as ``user_id`` (the API user by default)."""
        with self.lock:
            token = token or f"{self.org_id}!AQ{secrets.token_urlsafe(48)}"
            self.sessions[token] = user_id or self.api_user_id
            return token

    def expire_sessions(self) -> None:
        """Invalidate every access token (the next calls answer 401 INVALID_SESSION_ID)."""
        with self.lock:
            self.sessions.clear()

    @property
    def org_id(self) -> str:
        """The org's 18-character id."""
        return "00D5g000004ChatKAAS"

    # -- failures and calls ----------------------------------------------------------

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

    # -- reading -------------------------------------------------------------------

    def _sobject(self, name: str) -> str:
        sobject = SOBJECTS.get(name.lower())
        if sobject is None:
            raise SalesforceAPIError.one(
                404, "NOT_FOUND", f"The requested resource does not exist: sObject type {name}"
            )
        return sobject

    def _lookup(self, record_id: str) -> Record | None:
        if len(record_id) == 15:
            record_id = case_safe(record_id)
        sobject = sobject_of_id(record_id)
        if sobject is None:
            return None
        return self.records[sobject].get(record_id)

    def resolve(self, sobject: str, record_id: str) -> Record | None:
        """The live record ``record_id`` (any sObject when ``sobject`` is empty), or None."""
        with self.lock:
            record = self._lookup(record_id)
            if record is None or record["IsDeleted"]:
                return None
            if sobject and sobject_of_id(record["Id"]) != sobject:
                return None
            return record

    def get(self, sobject: str, record_id: str) -> Record:
        """A copy of ``record_id``; raises a 404 `SalesforceAPIError` when missing or deleted."""
        with self.lock:
            sobject = self._sobject(sobject)
            record = self.resolve(sobject, record_id)
            if record is None:
                raise not_found()
            return copy.deepcopy(record)

    def find(self, sobject: str, **equals: Any) -> list[Record]:
        """Copies of the live ``sobject`` records whose fields equal ``equals``, oldest first."""
        with self.lock:
            sobject = self._sobject(sobject)
            return [
                copy.deepcopy(record)
                for record in self.records[sobject].values()
                if not record["IsDeleted"]
                and all(record.get(key) == value for key, value in equals.items())
            ]

    def all(self, sobject: str, *, include_deleted: bool = False) -> list[Record]:
        """Copies of every ``sobject`` record, oldest first."""
        with self.lock:
            sobject = self._sobject(sobject)
            return [
                copy.deepcopy(r)
                for r in self.records[sobject].values()
                if include_deleted or not r["IsDeleted"]
            ]

    def blob(self, version_id: str) -> bytes:
        """The file content of a ContentVersion."""
        with self.lock:
            self.get("ContentVersion", version_id)
            return self.blobs[case_safe(version_id) if len(version_id) == 15 else version_id]

    def by_external_id(self, sobject: str, field_name: str, value: str) -> Record | None:
        """The live record whose external id ``field_name`` is ``value``, or None."""
        with self.lock:
            sobject = self._sobject(sobject)
            canonical = CANON[sobject].get(field_name)
            if canonical is None or canonical not in EXTERNAL_ID_FIELDS.get(sobject, ()):
                raise SalesforceAPIError.one(
                    404,
                    "NOT_FOUND",
                    f"Provided external ID field does not exist or is not accessible: {field_name}",
                )
            for record in self.records[sobject].values():
                if not record["IsDeleted"] and record.get(canonical) == value:
                    return record
            return None

    # -- validation ----------------------------------------------------------------

    def check_fields(self, sobject: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Canonical field names; an unknown field fails the whole request (400 INVALID_FIELD)."""
        out: dict[str, Any] = {}
        for name, value in fields.items():
            if name == "attributes":
                continue
            canonical = CANON[sobject].get(name)
            if canonical is None:
                raise SalesforceAPIError.one(
                    400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}"
                )
            out[canonical] = value
        return out

    def _validate(
        self, sobject: str, fields: Mapping[str, Any], *, creating: bool, current: Record | None
    ) -> None:
        schema = SCHEMA[sobject]
        locked = [
            name
            for name in fields
            if not (schema[name].createable if creating else schema[name].updateable)
        ]
        if locked:
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(locked)}. Please check the security "
                "settings of this field and verify that it is read/write for your profile or "
                "permission set.",
                locked,
            )
        merged = {**(current or {}), **fields}
        missing = [
            name
            for name, spec in schema.items()
            if spec.required and (creating or name in fields) and merged.get(name) in (None, "")
        ]
        if missing:
            raise RecordError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )
        for name, value in fields.items():
            if value is not None:
                self._check_value(sobject, name, schema[name], value)
        for name in EXTERNAL_ID_FIELDS.get(sobject, ()):
            value = fields.get(name)
            if value in (None, ""):
                continue
            for other in self.records[sobject].values():
                if (
                    not other["IsDeleted"]
                    and other.get(name) == value
                    and (current is None or other["Id"] != current["Id"])
                ):
                    raise RecordError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {name} duplicates value on record with id: "
                        f"{other['Id']}",
                    )

    def _check_value(self, sobject: str, name: str, spec: FieldSpec, value: Any) -> None:
        label = spec.label or name
        if spec.type == "boolean":
            if not isinstance(value, bool):
                raise RecordError(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD",
                    f"{label}: value not of required type: {value}",
                    [name],
                )
            return
        if spec.type in ("string", "textarea", "email", "phone", "picklist", "reference") and (
            not isinstance(value, str)
        ):
            raise RecordError(
                "INVALID_TYPE_ON_FIELD_IN_RECORD",
                f"{label}: value not of required type: {value}",
                [name],
            )
        if spec.length is not None and isinstance(value, str) and len(value) > spec.length:
            raise RecordError(
                "STRING_TOO_LONG",
                f"{label}: data value too large: {value[:50]}... (max length={spec.length})",
                [name],
            )
        if spec.type == "email" and value and not _EMAIL.match(value):
            raise RecordError(
                "INVALID_EMAIL_ADDRESS", f"{label}: invalid email address: {value}", [name]
            )
        if spec.type == "picklist" and spec.picklist and value not in spec.picklist:
            raise RecordError(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{label}: bad value for restricted picklist field: {value}",
                [name],
            )
        if spec.type == "reference" and value:
            wanted = spec.reference_to
            found_type = sobject_of_id(value) if len(value) in (15, 18) else None
            if found_type is None or (wanted is not None and found_type != wanted):
                raise RecordError(
                    "MALFORMED_ID", f"{label}: id value of incorrect type: {value}", [name]
                )
            target = self._lookup(value)
            if target is None:
                raise RecordError(
                    "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name]
                )
            if target["IsDeleted"]:
                raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [name])
            if name == "OwnerId" and target.get("IsActive") is False:
                raise RecordError(
                    "INACTIVE_OWNER_OR_USER",
                    f"operation performed with inactive user [{value}] as owner of "
                    f"{sobject.lower()}",
                )

    # -- writing -------------------------------------------------------------------

    def _stamp(self, record: Record, user_id: str, *, creating: bool) -> None:
        now = sf_datetime(self.clock())
        if creating:
            record["CreatedDate"] = now
            record["CreatedById"] = user_id
        record["LastModifiedDate"] = now
        record["LastModifiedById"] = user_id
        record["SystemModstamp"] = now

    def _derive(self, sobject: str, record: Record, changed: Mapping[str, Any]) -> None:
        if sobject == "Contact":
            record["Name"] = " ".join(p for p in (record["FirstName"], record["LastName"]) if p)
        elif sobject == "Case":
            closed = record["Status"] in CLOSED_STATUSES
            if closed and not record["IsClosed"]:
                record["ClosedDate"] = sf_datetime(self.clock())
            if not closed:
                record["ClosedDate"] = None
            record["IsClosed"] = closed

    def create(
        self, sobject: str, fields: Mapping[str, Any], *, user_id: str | None = None
    ) -> Record:
        """Create a record as ``POST /sobjects/{sobject}`` does; returns a copy.

        By default it is made by the agent (an edit "in Salesforce"); the
        emulator passes the API session's user.

        Raises:
            RecordError: A field is refused (required, too long, bad lookup...).
            SalesforceAPIError: An unknown field (400 INVALID_FIELD).
        """
        with self.lock:
            sobject = self._sobject(sobject)
            values = self.check_fields(sobject, fields)
            self._validate(sobject, values, creating=True, current=None)
            user_id = user_id or self.agent_user_id
            if sobject == "ContentVersion":
                return copy.deepcopy(self._create_version(values, user_id))
            record = self._new_record(sobject, values, user_id)
            self._derive(sobject, record, values)
            return copy.deepcopy(record)

    def _new_record(self, sobject: str, values: Mapping[str, Any], user_id: str) -> Record:
        record: Record = {
            name: copy.deepcopy(spec.default) for name, spec in SCHEMA[sobject].items()
        }
        record.update(values)
        record_id = make_id(sobject, next(self._ids[sobject]))
        record["Id"] = record_id
        record["IsDeleted"] = False
        if "OwnerId" in record and not record["OwnerId"]:
            record["OwnerId"] = user_id
        if sobject == "Case":
            record["CaseNumber"] = f"{next(self._case_numbers):08d}"
        self._stamp(record, user_id, creating=True)
        self.records[sobject][record_id] = record
        return record

    def _create_version(self, values: dict[str, Any], user_id: str) -> Record:
        try:
            data = base64.b64decode(str(values["VersionData"]), validate=True)
        except (binascii.Error, ValueError):
            raise RecordError(
                "INVALID_FIELD", "Version Data: value not of required type", ["VersionData"]
            ) from None
        path = str(values["PathOnClient"])
        extension = path.rsplit(".", 1)[-1].lower() if "." in path else ""
        document_id = values.get("ContentDocumentId")
        previous: list[Record] = []
        if document_id:
            document = self.resolve("ContentDocument", document_id)
            if document is None:
                raise RecordError(
                    "INVALID_CROSS_REFERENCE_KEY",
                    "invalid cross reference id",
                    ["ContentDocumentId"],
                )
            previous = [
                v
                for v in self.records["ContentVersion"].values()
                if v["ContentDocumentId"] == document["Id"] and not v["IsDeleted"]
            ]
        else:
            document = self._new_record("ContentDocument", {"Title": values["Title"]}, user_id)
        version = self._new_record("ContentVersion", values, user_id)
        version["VersionData"] = None
        self.blobs[version["Id"]] = data
        version.update(
            ContentDocumentId=document["Id"],
            IsLatest=True,
            VersionNumber=str(len(previous) + 1),
            ContentSize=len(data),
            FileExtension=extension or None,
            FileType=_FILE_TYPES.get(extension, "UNKNOWN"),
        )
        for old in previous:
            old["IsLatest"] = False
        document.update(
            Title=version["Title"],
            LatestPublishedVersionId=version["Id"],
            FileType=version["FileType"],
            ContentSize=len(data),
        )
        self._stamp(document, user_id, creating=False)
        location = values.get("FirstPublishLocationId")
        if location and not previous:
            self._new_record(
                "ContentDocumentLink",
                {
                    "ContentDocumentId": document["Id"],
                    "LinkedEntityId": location,
                    "ShareType": "V",
                    "Visibility": "AllUsers",
                },
                user_id,
            )
        return version

    def update(
        self,
        sobject: str,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        user_id: str | None = None,
    ) -> Record:
        """Change a record as ``PATCH /sobjects/{sobject}/{id}`` does; returns a copy.

        Tests call this to play an agent editing the record in Salesforce.
        Like Salesforce, every update moves ``LastModifiedDate`` and
        ``SystemModstamp``, even when no value changes.
        """
        with self.lock:
            sobject = self._sobject(sobject)
            values = self.check_fields(sobject, fields)
            record = self._lookup(record_id)
            if record is None or sobject_of_id(record["Id"]) != sobject:
                raise RecordError(
                    "MALFORMED_ID" if sobject_of_id(record_id) != sobject else "NOT_FOUND",
                    f"{sobject} ID: id value of incorrect type: {record_id}"
                    if sobject_of_id(record_id) != sobject
                    else "The requested resource does not exist",
                    ["Id"],
                )
            if record["IsDeleted"]:
                raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [])
            self._validate(sobject, values, creating=False, current=record)
            record.update(values)
            self._derive(sobject, record, values)
            self._stamp(record, user_id or self.agent_user_id, creating=False)
            return copy.deepcopy(record)

    def upsert(
        self,
        sobject: str,
        field_name: str,
        value: str,
        fields: Mapping[str, Any],
        *,
        user_id: str | None = None,
    ) -> tuple[Record, bool]:
        """Create or update by external id, as ``PATCH /sobjects/{s}/{field}/{value}``.

        Returns ``(record, created)``.
        """
        with self.lock:
            sobject = self._sobject(sobject)
            existing = self.by_external_id(sobject, field_name, value)
            canonical = CANON[sobject].get(field_name) or field_name
            body = {k: v for k, v in fields.items() if k.lower() != canonical.lower()}
            if existing is not None:
                return self.update(sobject, existing["Id"], body, user_id=user_id), False
            return self.create(sobject, {**body, canonical: value}, user_id=user_id), True

    def delete(self, record_id: str, *, user_id: str | None = None) -> None:
        """Delete a record (to the recycle bin), as ``DELETE /sobjects/{s}/{id}`` does.

        A case takes its comments with it; a contact with cases cannot be
        deleted (``DELETE_FAILED``), as in Salesforce.
        """
        with self.lock:
            record = self._lookup(record_id)
            if record is None:
                raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
            if record["IsDeleted"]:
                raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [])
            sobject = sobject_of_id(record["Id"]) or ""
            user_id = user_id or self.agent_user_id
            if sobject == "Contact":
                cases = [
                    c["CaseNumber"]
                    for c in self.records["Case"].values()
                    if c["ContactId"] == record["Id"] and not c["IsDeleted"]
                ]
                if cases:
                    raise RecordError(
                        "DELETE_FAILED",
                        f"Your attempt to delete {record['Name']} could not be completed "
                        f"because it is associated with the following cases.: "
                        f"{', '.join(cases)}",
                    )
            doomed = [record]
            if sobject == "Case":
                doomed += [
                    c
                    for c in self.records["CaseComment"].values()
                    if c["ParentId"] == record["Id"] and not c["IsDeleted"]
                ]
            if sobject == "ContentDocument":
                doomed += [
                    r
                    for name in ("ContentVersion", "ContentDocumentLink")
                    for r in self.records[name].values()
                    if r["ContentDocumentId"] == record["Id"] and not r["IsDeleted"]
                ]
            for item in doomed:
                item["IsDeleted"] = True
                self._stamp(item, user_id, creating=False)

    # -- queries -------------------------------------------------------------------

    def query(
        self,
        soql: str,
        *,
        include_deleted: bool = False,
        batch_size: int | None = None,
        api_version: str = DEFAULT_API_VERSION,
    ) -> Record:
        """Run ``soql``; the first page, shaped like ``GET /query?q=``."""
        with self.lock:
            parsed = _soql.parse(soql)
            rows = [
                r
                for r in self.records[parsed.sobject].values()
                if (include_deleted or not r["IsDeleted"])
                and _soql.matches(parsed, r, self._resolve_any)
            ]
            if parsed.order:
                rows.sort(key=_soql.sort_key(parsed, self._resolve_any))
            rows = rows[parsed.offset :]
            if parsed.limit is not None:
                rows = rows[: parsed.limit]
            projected = [
                _soql.project(parsed, r, self._resolve_any, self._attributes(api_version))
                for r in rows
            ]
            size = min(batch_size or self.query_batch_size, self.query_batch_size)
            locator = make_id("QueryLocator", next(self._ids["QueryLocator"]))
            self._locators[locator] = projected
            return self._page(locator, 0, size, api_version)

    def query_more(self, locator: str, offset: int, *, api_version: str, batch_size: int) -> Record:
        """The page of an earlier query that starts at ``offset``."""
        with self.lock:
            if locator not in self._locators:
                raise SalesforceAPIError.one(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            return self._page(locator, offset, batch_size, api_version)

    def _page(self, locator: str, offset: int, size: int, api_version: str) -> Record:
        rows = self._locators[locator]
        page = copy.deepcopy(rows[offset : offset + size])
        done = offset + size >= len(rows)
        body: Record = {"totalSize": len(rows), "done": done}
        if not done:
            body["nextRecordsUrl"] = (
                f"/services/data/v{api_version}/query/{locator}-{offset + size}"
            )
        else:
            self._locators.pop(locator, None)
        body["records"] = page
        return body

    def _resolve_any(self, sobject: str, record_id: str) -> Record | None:
        record = self._lookup(record_id)
        if record is None or record["IsDeleted"]:
            return None
        if sobject and sobject_of_id(record["Id"]) != sobject:
            return None
        return record

    @staticmethod
    def _attributes(api_version: str) -> Callable[[str, str], Record]:
        def attributes(sobject: str, record_id: str) -> Record:
            return {
                "type": sobject,
                "url": f"/services/data/v{api_version}/sobjects/{sobject}/{record_id}",
            }

        return attributes

    def as_rest(
        self, sobject: str, record: Record, api_version: str, fields: Iterable[str] | None = None
    ) -> Record:
        """``record`` as ``GET /sobjects/{s}/{id}`` answers it (``attributes`` first)."""
        names = list(SCHEMA[sobject]) if fields is None else list(fields)
        out: Record = {"attributes": self._attributes(api_version)(sobject, record["Id"])}
        for name in names:
            value = record.get(name)
            if sobject == "ContentVersion" and name == "VersionData":
                value = (
                    f"/services/data/v{api_version}/sobjects/{sobject}/{record['Id']}/VersionData"
                )
            out[name] = value
        return out
