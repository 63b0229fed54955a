"""Constants, errors and record shapes of an emulated HubSpot portal (CRM API v3/v4).

Shapes follow the HubSpot API reference and ``vendor-fixtures/hubspot_*.json``:
objects are ``{"id", "properties", "createdAt", "updatedAt", "archived"}`` with
every property value a string, batch answers carry ``status``, ``results``,
``requestedAt``/``startedAt``/``completedAt`` and, on partial failure (HTTP 207),
``errors`` and ``numErrors``; error bodies are ``{"status": "error", "message",
"correlationId", "category", ...}``. `_state` keeps and changes the records.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .._time import parse_iso_datetime

Record = dict[str, Any]

OBJECT_TYPES = ("contacts", "tickets", "notes")
"""The CRM objects the emulator serves."""

SINGULAR = {"contacts": "contact", "tickets": "ticket", "notes": "note"}
"""The singular names used in webhook subscription types (``ticket.propertyChange``)."""

TYPE_IDS = {"contacts": "0-1", "tickets": "0-5", "notes": "0-46"}
"""HubSpot's object type ids, as the v4 association answers name them."""

BATCH_LIMIT = 100
"""Inputs per batch create / update / read / upsert / archive, as in HubSpot."""

SEARCH_PAGE_MAX = 200
"""The largest ``limit`` of one search page."""

SEARCH_RESULT_CAP = 10_000
"""A search never pages past this many results: ``after`` at or past it answers 400."""

SEARCH_MAX_FILTER_GROUPS = 5
SEARCH_MAX_FILTERS_PER_GROUP = 10
SEARCH_MAX_FILTERS = 25
NOTE_BODY_MAX = 65_536
"""``hs_note_body`` is limited to 65,536 characters."""

PORTAL_ID = 12345678
APP_ID = 987654

DEFAULT_ASSOCIATION_TYPES: dict[tuple[str, str], int] = {
    ("contacts", "tickets"): 15,
    ("tickets", "contacts"): 16,
    ("contacts", "notes"): 201,
    ("notes", "contacts"): 202,
    ("tickets", "notes"): 227,
    ("notes", "tickets"): 228,
}
"""HubSpot-defined default association type ids (``associationCategory: HUBSPOT_DEFINED``)."""

DEFAULT_PIPELINE = "0"
DEFAULT_STAGES = {"1": "New", "2": "Waiting on contact", "3": "Waiting on us", "4": "Closed"}
"""The stages of the default ticket pipeline ``"0"`` of a new portal."""

TICKET_PRIORITIES = ("LOW", "MEDIUM", "HIGH", "URGENT")

MODIFIED_PROPERTY = {
    "contacts": "lastmodifieddate",
    "tickets": "hs_lastmodifieddate",
    "notes": "hs_lastmodifieddate",
}
"""The last-modified property to filter and sort searches on (contacts use ``lastmodifieddate``)."""

CREATED_PROPERTY = {"contacts": "createdate", "tickets": "createdate", "notes": "hs_createdate"}

DEFAULT_PROPERTIES = {
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "tickets": (
        "content",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
        "hs_pipeline",
        "hs_pipeline_stage",
        "hs_ticket_category",
        "hs_ticket_priority",
        "subject",
    ),
    "notes": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
}
"""Properties returned when a read names none, per HubSpot's search guide."""

STANDARD_PROPERTIES: dict[str, dict[str, str]] = {
    "contacts": {
        "email": "string",
        "firstname": "string",
        "lastname": "string",
        "phone": "string",
        "company": "string",
        "createdate": "datetime",
        "lastmodifieddate": "datetime",
        "hs_lastmodifieddate": "datetime",
        "hs_object_id": "number",
    },
    "tickets": {
        "subject": "string",
        "content": "string",
        "hs_pipeline": "enumeration",
        "hs_pipeline_stage": "enumeration",
        "hs_ticket_priority": "enumeration",
        "hs_ticket_category": "enumeration",
        "hubspot_owner_id": "enumeration",
        "createdate": "datetime",
        "hs_lastmodifieddate": "datetime",
        "hs_object_id": "number",
    },
    "notes": {
        "hs_note_body": "string",
        "hs_timestamp": "datetime",
        "hubspot_owner_id": "enumeration",
        "hs_attachment_ids": "enumeration",
        "hs_createdate": "datetime",
        "hs_lastmodifieddate": "datetime",
        "hs_object_id": "number",
    },
}
"""The built-in properties of each object and their types."""

READ_ONLY = frozenset(
    {"hs_object_id", "createdate", "hs_createdate", "lastmodifieddate", "hs_lastmodifieddate"}
)


@dataclass
class PropertyDef:
    """A property of an object type: its type and whether values must be unique."""

    name: str
    type: str = "string"
    unique: bool = False


@dataclass
class CrmObject:
    """One CRM record: numeric id, string properties, timestamps, archived flag."""

    id: int
    type: str
    properties: dict[str, str | None]
    created_at: datetime
    updated_at: datetime
    archived: bool = False
    archived_at: datetime | None = None
    history: list[Record] = field(default_factory=list)


class HubSpotAPIError(Exception):
    """An error answer of the emulated API: status code, JSON body, extra headers."""

    def __init__(
        self, status: int, body: Mapping[str, object], headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status}: {body.get('message')}")
        self.status = status
        self.body = dict(body)
        self.headers = dict(headers or {})


def correlation_id() -> str:
    """A fresh ``correlationId`` as HubSpot puts in every error (a UUID)."""
    return str(uuid.uuid4())


def error_body(message: str, category: str, **extra: Any) -> Record:
    """An error body in HubSpot's shape: status, message, correlationId, category."""
    return {
        "status": "error",
        "message": message,
        "correlationId": correlation_id(),
        "category": category,
        **extra,
    }


def validation_error(message: str, **extra: Any) -> HubSpotAPIError:
    """A 400 ``VALIDATION_ERROR``."""
    return HubSpotAPIError(400, error_body(message, "VALIDATION_ERROR", **extra))


def not_found(object_type: str, object_id: object) -> HubSpotAPIError:
    """The 404 of a read or write of a missing record."""
    return HubSpotAPIError(404, error_body("resource not found", "OBJECT_NOT_FOUND"))


def iso(moment: datetime) -> str:
    """``2019-10-30T03:30:17.883Z``: UTC with milliseconds, as HubSpot writes datetimes."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_seconds(moment: datetime) -> str:
    """``2023-11-07T05:31:56Z``: the batch timestamps' format in the fixture."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def millis(moment: datetime) -> int:
    """Milliseconds since the epoch."""
    return int(moment.timestamp() * 1000)


def parse_datetime(value: object) -> int | None:
    """A datetime property or filter value (epoch millis or ISO 8601) as epoch millis."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = parse_iso_datetime(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return millis(moment)


def batch_envelope(
    results: list[Record],
    errors: list[Record],
    *,
    requested: datetime,
    started: datetime,
    completed: datetime,
) -> Record:
    """A batch answer; with errors, the 207 multi-status shape of the fixture."""
    body: Record = {
        "completedAt": iso_seconds(completed),
        "results": results,
        "startedAt": iso_seconds(started),
        "status": "COMPLETE",
    }
    if errors:
        body["errors"] = errors
        body["links"] = {}
        body["numErrors"] = len(errors)
        body["requestedAt"] = iso_seconds(requested)
    return body


def batch_error(
    message: str,
    category: str,
    *,
    context: Mapping[str, list[str]] | None = None,
    error_id: str | None = None,
    details: list[Record] | None = None,
) -> Record:
    """One entry of a 207 answer's ``errors``, with the keys of the fixture's entries.

    ``id`` is the input's ``objectWriteTraceId`` when it had one (else a
    fresh id); ``subCategory`` is an (empty) object, as in the fixture.
    """
    return {
        "category": category,
        "context": dict(context or {}),
        "errors": list(details or []),
        "links": {},
        "message": message,
        "status": "error",
        "id": error_id or correlation_id(),
        "subCategory": {},
    }
