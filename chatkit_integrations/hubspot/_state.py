"""The state of an emulated HubSpot portal: CRM objects, properties, associations, events.

Plain Python, no HTTP: the emulator's routes call these methods, and tests call
them directly to read or change what is "in HubSpot" (an agent editing a ticket).
Record shapes come from `_records`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ._records import (
    APP_ID,
    CREATED_PROPERTY,
    DEFAULT_ASSOCIATION_TYPES,
    DEFAULT_PIPELINE,
    DEFAULT_PROPERTIES,
    DEFAULT_STAGES,
    NOTE_BODY_MAX,
    OBJECT_TYPES,
    PORTAL_ID,
    READ_ONLY,
    SEARCH_MAX_FILTER_GROUPS,
    SEARCH_MAX_FILTERS,
    SEARCH_MAX_FILTERS_PER_GROUP,
    SEARCH_PAGE_MAX,
    SEARCH_RESULT_CAP,
    SINGULAR,
    STANDARD_PROPERTIES,
    TICKET_PRIORITIES,
    CrmObject,
    HubSpotAPIError,
    PropertyDef,
    Record,
    error_body,
    iso,
    millis,
    not_found,
    parse_datetime,
    validation_error,
)

__all__ = ["FailurePlan", "HubSpotState", "InputError"]


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


class InputError(Exception):
    """One batch input refused: becomes an entry of a 207 answer's ``errors``."""

    def __init__(self, message: str, category: str, **context: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.category = category
        self.context = context


def _invalid_property(name: str, message: str, error: str) -> InputError:
    detail = {
        "isValid": False,
        "message": message,
        "error": error,
        "name": name,
        "localizedErrorMessage": message,
    }
    return InputError(f"Property values were not valid: {json.dumps([detail])}", "VALIDATION_ERROR")


class HubSpotState:
    """Contacts, tickets, notes, their associations and webhook events of one portal.

    Thread-safe: the emulator serves from its own thread while a test reads and
    edits the same state.

    Args:
        clock: Returns the current time (timezone-aware); tests may pin it to
            give several records the same ``hs_lastmodifieddate``.
        search_cap: Results a search may page through (HubSpot: 10,000); set it
            small to test code that must restart its search.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        search_cap: int = SEARCH_RESULT_CAP,
    ) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.search_cap = search_cap
        self.lock = threading.RLock()
        self.objects: dict[str, dict[int, CrmObject]] = {t: {} for t in OBJECT_TYPES}
        self.properties: dict[str, dict[str, PropertyDef]] = {
            t: {name: PropertyDef(name, kind) for name, kind in props.items()}
            for t, props in STANDARD_PROPERTIES.items()
        }
        self.properties["contacts"]["email"].unique = True
        self.pipelines: dict[str, dict[str, str]] = {DEFAULT_PIPELINE: dict(DEFAULT_STAGES)}
        # (from_type, from_id, to_type) -> {to_id: [type ids]}
        self.associations: dict[tuple[str, int, str], dict[int, list[int]]] = {}
        self.failures: list[FailurePlan] = []
        self.requests: list[tuple[str, str]] = []
        self.events: list[Record] = []
        self.rate_limit: tuple[int, float] | None = None
        self.daily_limit: int | None = None
        self._window: deque[float] = deque()
        self._daily_used = 0
        self._ids = {
            "contacts": itertools.count(1001),
            "tickets": itertools.count(2001),
            "notes": itertools.count(3001),
        }
        self._event_ids = itertools.count(100_000_001)
        self.owners: dict[str, Record] = {}
        self._owner_ids = itertools.count(41_000_001)

    # -- properties ----------------------------------------------------------------

    def define_property(
        self, object_type: str, name: str, *, type: str = "string", unique: bool = False
    ) -> None:
        """Create a custom property, as ``POST /crm/v3/properties/{type}`` would."""
        with self.lock:
            self._check_type(object_type)
            self.properties[object_type][name] = PropertyDef(name, type, unique)

    # -- failures, throttling and call counts -------------------------------------

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

    # -- objects -------------------------------------------------------------------

    def _check_type(self, object_type: str) -> None:
        if object_type not in self.objects:
            raise HubSpotAPIError(
                400,
                error_body(f"Unable to infer object type from: {object_type}", "VALIDATION_ERROR"),
            )

    def _validate(
        self, object_type: str, properties: Mapping[str, Any], existing: CrmObject | None
    ) -> dict[str, str | None]:
        defs = self.properties[object_type]
        clean: dict[str, str | None] = {}
        for name, value in properties.items():
            if name not in defs:
                raise _invalid_property(
                    name, f'Property "{name}" does not exist', "PROPERTY_DOESNT_EXIST"
                )
            if name in READ_ONLY:
                raise _invalid_property(
                    name,
                    f'"{name}" is a read only property; its value cannot be set.',
                    "READ_ONLY_VALUE",
                )
            clean[name] = None if value is None else _as_text(value)
        merged = {**(existing.properties if existing else {}), **clean}
        if object_type == "tickets":
            self._validate_ticket(merged, clean, creating=existing is None)
        if object_type == "notes":
            if existing is None and not merged.get("hs_timestamp"):
                raise _invalid_property(
                    "hs_timestamp", "hs_timestamp is required", "REQUIRED_PROPERTY"
                )
            if len(merged.get("hs_note_body") or "") > NOTE_BODY_MAX:
                raise _invalid_property(
                    "hs_note_body",
                    f"hs_note_body is longer than {NOTE_BODY_MAX} characters",
                    "INVALID_STRING",
                )
            if clean.get("hs_timestamp") and parse_datetime(clean["hs_timestamp"]) is None:
                raise _invalid_property(
                    "hs_timestamp",
                    f"{clean['hs_timestamp']} is not a valid datetime",
                    "INVALID_DATE",
                )
        for name, value in clean.items():
            if value and defs[name].unique:
                for other in self.objects[object_type].values():
                    if other.archived or (existing is not None and other.id == existing.id):
                        continue
                    current = other.properties.get(name)
                    if current is not None and current.lower() == value.lower():
                        if object_type == "contacts" and name == "email":
                            raise InputError(
                                f"Contact already exists. Existing ID: {other.id}",
                                "CONFLICT",
                                existingId=[str(other.id)],
                            )
                        raise InputError(
                            f'A {SINGULAR[object_type]} with the unique value "{value}" for '
                            f'property "{name}" already exists. Existing ID: {other.id}',
                            "CONFLICT",
                            existingId=[str(other.id)],
                        )
        return clean

    def _validate_ticket(
        self, merged: Mapping[str, str | None], clean: Mapping[str, str | None], *, creating: bool
    ) -> None:
        if creating:
            for required in ("subject", "hs_pipeline_stage"):
                if not merged.get(required):
                    raise _invalid_property(
                        required, f"{required} is required", "REQUIRED_PROPERTY"
                    )
        pipeline = merged.get("hs_pipeline") or DEFAULT_PIPELINE
        if pipeline not in self.pipelines:
            raise _invalid_property(
                "hs_pipeline", f"{pipeline} was not one of the allowed options", "INVALID_OPTION"
            )
        stage = merged.get("hs_pipeline_stage")
        if ("hs_pipeline_stage" in clean or "hs_pipeline" in clean) and (
            stage not in self.pipelines[pipeline]
        ):
            raise _invalid_property(
                "hs_pipeline_stage",
                f"{stage} is not a valid pipeline stage of pipeline {pipeline}",
                "INVALID_OPTION",
            )
        owner = clean.get("hubspot_owner_id")
        if owner and (owner not in self.owners or self.owners[owner]["archived"]):
            raise _invalid_property(
                "hubspot_owner_id",
                f"{owner} was not one of the allowed options",
                "INVALID_OPTION",
            )
        priority = clean.get("hs_ticket_priority")
        if priority and priority not in TICKET_PRIORITIES:
            raise _invalid_property(
                "hs_ticket_priority",
                f"{priority} was not one of the allowed options: {list(TICKET_PRIORITIES)}",
                "INVALID_OPTION",
            )

    def _stamp(self, obj: CrmObject, now: datetime) -> None:
        obj.updated_at = now
        stamp = iso(now)
        obj.properties["hs_lastmodifieddate"] = stamp
        if obj.type == "contacts":
            obj.properties["lastmodifieddate"] = stamp

    def create(
        self,
        object_type: str,
        properties: Mapping[str, Any],
        *,
        associations: Iterable[Mapping[str, Any]] = (),
        source: str = "INTEGRATION",
    ) -> Record:
        """Create a record as ``POST /crm/v3/objects/{type}`` does; returns its API shape.

        Raises:
            InputError: A property is unknown, read-only, invalid or not unique.
        """
        with self.lock:
            self._check_type(object_type)
            clean = self._validate(object_type, properties, None)
            planned = [self._association_target(object_type, a) for a in associations]
            now = self.clock()
            object_id = next(self._ids[object_type])
            stamp = iso(now)
            props: dict[str, str | None] = {
                **clean,
                "hs_object_id": str(object_id),
                CREATED_PROPERTY[object_type]: stamp,
            }
            if object_type == "tickets":
                props.setdefault("hs_pipeline", DEFAULT_PIPELINE)
            obj = CrmObject(object_id, object_type, props, now, now)
            self._stamp(obj, now)
            self.objects[object_type][object_id] = obj
            for to_type, to_id, type_ids in planned:
                self._link(object_type, object_id, to_type, to_id, type_ids)
            self._event(obj, "creation", source=source)
            return self.shape(obj, list(clean))

    def _association_target(
        self, object_type: str, association: Mapping[str, Any]
    ) -> tuple[str, int, list[int]]:
        to = association.get("to") or {}
        types = association.get("types") or []
        try:
            type_ids = [
                int(str(t.get("associationTypeId"))) for t in types if isinstance(t, Mapping)
            ]
            to_id = int(str(to.get("id")))
        except ValueError:
            raise InputError(
                "Invalid association id or association type id", "VALIDATION_ERROR"
            ) from None
        for to_type in self.objects:
            if to_id in self.objects[to_type] and not self.objects[to_type][to_id].archived:
                known = {
                    DEFAULT_ASSOCIATION_TYPES.get((object_type, to_type)),
                }
                if any(t not in known for t in type_ids):
                    raise InputError(
                        f"Association type id(s) {type_ids} are not valid between "
                        f"{object_type} and {to_type}",
                        "VALIDATION_ERROR",
                    )
                return to_type, to_id, type_ids
        raise InputError(
            f"One or more associations are invalid: object {to_id} does not exist",
            "VALIDATION_ERROR",
        )

    def _find(
        self, object_type: str, key: object, id_property: str | None, *, archived: bool = False
    ) -> CrmObject | None:
        objects = self.objects[object_type]
        if id_property is None or id_property == "hs_object_id":
            try:
                obj = objects.get(int(str(key)))
            except ValueError:
                return None
            return obj if obj is not None and obj.archived == archived else None
        definition = self.properties[object_type].get(id_property)
        if definition is None or not definition.unique:
            raise validation_error(
                f"{id_property} is not a unique identifier property for {object_type}"
            )
        for obj in objects.values():
            value = obj.properties.get(id_property)
            if obj.archived == archived and value is not None and value.lower() == str(key).lower():
                return obj
        return None

    def get(
        self,
        object_type: str,
        key: object,
        *,
        id_property: str | None = None,
        properties: Iterable[str] = (),
        archived: bool = False,
    ) -> Record:
        """The record ``key`` (its id, or a unique value of ``id_property``); 404 when missing."""
        with self.lock:
            self._check_type(object_type)
            obj = self._find(object_type, key, id_property, archived=archived)
            if obj is None:
                raise not_found(object_type, key)
            return self.shape(obj, list(properties))

    def update(
        self,
        object_type: str,
        key: object,
        properties: Mapping[str, Any],
        *,
        id_property: str | None = None,
        source: str = "INTEGRATION",
    ) -> Record:
        """Change a record's properties (``PATCH``); only real changes bump its dates.

        Tests call this (``source="CRM_UI"``) to play an agent editing the record in HubSpot.

        Raises:
            HubSpotAPIError: 404 when the record is missing.
            InputError: A property is unknown, read-only, invalid or not unique.
        """
        with self.lock:
            self._check_type(object_type)
            obj = self._find(object_type, key, id_property)
            if obj is None:
                raise InputError("resource not found", "OBJECT_NOT_FOUND", id=[str(key)])
            clean = self._validate(object_type, properties, obj)
            changed = {k: v for k, v in clean.items() if obj.properties.get(k) != v}
            if changed:
                obj.properties.update(changed)
                self._stamp(obj, self.clock())
                for name, value in changed.items():
                    self._event(obj, "propertyChange", source=source, name=name, value=value)
            return self.shape(obj, list(clean))

    def upsert(
        self,
        object_type: str,
        id_property: str,
        key: str,
        properties: Mapping[str, Any],
        *,
        source: str = "INTEGRATION",
    ) -> tuple[Record, bool]:
        """Update the record whose ``id_property`` is ``key``, or create it: ``(record, new)``."""
        with self.lock:
            self._check_type(object_type)
            obj = self._find(object_type, key, id_property)
            if obj is not None:
                return self.update(object_type, obj.id, properties, source=source), False
            props = {**properties, id_property: key}
            return self.create(object_type, props, source=source), True

    def archive(self, object_type: str, key: object, *, source: str = "INTEGRATION") -> None:
        """Archive (delete) a record; archiving a missing or archived record does nothing."""
        with self.lock:
            self._check_type(object_type)
            obj = self._find(object_type, key, None)
            if obj is None:
                return
            now = self.clock()
            obj.archived = True
            obj.archived_at = now
            self._event(obj, "deletion", source=source)

    # -- owners --------------------------------------------------------------------

    def add_owner(
        self, email: str, first_name: str = "", last_name: str = "", *, archived: bool = False
    ) -> str:
        """Add an owner (a HubSpot user who can own records); returns its id."""
        with self.lock:
            owner_id = str(next(self._owner_ids))
            now = iso(self.clock())
            self.owners[owner_id] = {
                "id": owner_id,
                "email": email,
                "type": "PERSON",
                "firstName": first_name,
                "lastName": last_name,
                "userId": int(owner_id) + 1_000_000,
                "userIdIncludingInactive": int(owner_id) + 1_000_000,
                "createdAt": now,
                "updatedAt": now,
                "archived": archived,
                "teams": [],
            }
            return owner_id

    def owners_page(
        self,
        *,
        email: str | None = None,
        limit: int = 100,
        after: str | None = None,
        archived: bool = False,
    ) -> Record:
        """One page of ``GET /crm/v3/owners/``: by id, filtered by ``email`` and ``archived``."""
        with self.lock:
            if not 1 <= limit <= 500:
                raise validation_error("limit must be between 1 and 500")
            listed = [
                o
                for _, o in sorted(self.owners.items(), key=lambda item: int(item[0]))
                if o["archived"] is archived
                and (email is None or str(o["email"]).lower() == email.lower())
            ]
            start = int(after or 0)
            page = listed[start : start + limit]
            body: Record = {"results": [dict(o) for o in page]}
            if start + limit < len(listed):
                body["paging"] = {
                    "next": {"after": str(start + limit), "link": f"?after={start + limit}"}
                }
            return body

    def list_page(self, object_type: str, *, limit: int = 10, after: str | None = None) -> Record:
        """One page of ``GET /crm/v3/objects/{type}``, by id."""
        with self.lock:
            self._check_type(object_type)
            if not 1 <= limit <= 100:
                raise validation_error("limit must be between 1 and 100")
            live = sorted(o.id for o in self.objects[object_type].values() if not o.archived)
            start = int(after or 0)
            chosen = [i for i in live if i > start][:limit]
            page: Record = {
                "results": [self.shape(self.objects[object_type][i], []) for i in chosen]
            }
            if chosen and chosen[-1] != live[-1]:
                page["paging"] = {
                    "next": {"after": str(chosen[-1] + 1), "link": f"?after={chosen[-1] + 1}"}
                }
            return page

    def shape(self, obj: CrmObject, requested: Iterable[str]) -> Record:
        """The API shape of ``obj``: defaults plus ``requested`` properties (nulls included)."""
        names = list(dict.fromkeys([*DEFAULT_PROPERTIES[obj.type], *requested]))
        record: Record = {
            "id": str(obj.id),
            "properties": {name: obj.properties.get(name) for name in names},
            "createdAt": iso(obj.created_at),
            "updatedAt": iso(obj.updated_at),
            "archived": obj.archived,
        }
        if obj.archived and obj.archived_at is not None:
            record["archivedAt"] = iso(obj.archived_at)
        return record

    # -- direct access for tests ---------------------------------------------------

    def all(self, object_type: str, *, archived: bool = False) -> list[Record]:
        """Every record of a type with all its properties, oldest id first."""
        with self.lock:
            return [
                {**self.shape(o, []), "properties": dict(o.properties)}
                for o in sorted(self.objects[object_type].values(), key=lambda o: o.id)
                if o.archived == archived
            ]

    def find(self, object_type: str, name: str, value: str) -> list[Record]:
        """Live records whose property ``name`` equals ``value``."""
        return [r for r in self.all(object_type) if r["properties"].get(name) == value]

    # -- search --------------------------------------------------------------------

    def search(self, object_type: str, request: Mapping[str, Any]) -> Record:
        """``POST /crm/v3/objects/{type}/search``: filter groups, one sort, ``after`` paging.

        Raises:
            HubSpotAPIError: 400 for a limit over 200, more than one sort, too
                many filters, an unknown property, or ``after`` at or past the
                result cap (10,000 in HubSpot).
        """
        with self.lock:
            self._check_type(object_type)
            limit = int(request.get("limit") or 10)
            if not 1 <= limit <= SEARCH_PAGE_MAX:
                raise validation_error(
                    f"limit must be between 1 and {SEARCH_PAGE_MAX}, was {limit}"
                )
            after = int(str(request.get("after") or 0))
            if after >= self.search_cap:
                raise validation_error(
                    f"The search API can only page through {self.search_cap} results: "
                    f"after={after} is past the limit",
                    subCategory="SEARCH_RESULT_LIMIT_EXCEEDED",
                )
            groups = list(request.get("filterGroups") or [])
            self._check_filters(object_type, groups)
            sorts = list(request.get("sorts") or [])
            if len(sorts) > 1:
                raise validation_error("Only one sort is allowed per search request")
            matches = [
                o
                for o in self.objects[object_type].values()
                if not o.archived and (not groups or any(self._group(o, g) for g in groups))
            ]
            matches.sort(key=lambda o: o.id)  # ties keep id order
            if sorts:
                sort = sorts[0]
                name = str(sort.get("propertyName"))
                descending = str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
                kind = self._kind(object_type, name)
                matches.sort(
                    key=lambda o: _sort_key(kind, o.properties.get(name)), reverse=descending
                )
            requested = list(request.get("properties") or [])
            page = matches[after : after + limit]
            body: Record = {
                "total": len(matches),
                "results": [self.shape(o, requested) for o in page],
            }
            if after + limit < len(matches):
                body["paging"] = {
                    "next": {"after": str(after + limit), "link": f"?after={after + limit}"}
                }
            return body

    def _kind(self, object_type: str, name: str) -> str:
        definition = self.properties[object_type].get(name)
        if definition is None:
            raise validation_error(
                f"There was a problem with the request: property {name!r} does not exist "
                f"on {object_type}"
            )
        return definition.type

    def _check_filters(self, object_type: str, groups: list[Any]) -> None:
        if len(groups) > SEARCH_MAX_FILTER_GROUPS:
            raise validation_error(f"Too many filter groups (max {SEARCH_MAX_FILTER_GROUPS})")
        total = 0
        for group in groups:
            filters = group.get("filters") if isinstance(group, Mapping) else None
            if not isinstance(filters, list):
                raise validation_error("each filter group needs filters")
            if len(filters) > SEARCH_MAX_FILTERS_PER_GROUP:
                raise validation_error(
                    f"Too many filters in a group (max {SEARCH_MAX_FILTERS_PER_GROUP})"
                )
            total += len(filters)
            for item in filters:
                self._kind(object_type, str(item.get("propertyName")))
        if total > SEARCH_MAX_FILTERS:
            raise validation_error(f"Too many filters (max {SEARCH_MAX_FILTERS})")

    def _group(self, obj: CrmObject, group: Mapping[str, Any]) -> bool:
        return all(self._matches(obj, f) for f in group.get("filters") or [])

    def _matches(self, obj: CrmObject, item: Mapping[str, Any]) -> bool:
        name = str(item.get("propertyName"))
        operator = str(item.get("operator", "EQ")).upper()
        kind = self._kind(obj.type, name)
        actual = obj.properties.get(name)
        if operator == "HAS_PROPERTY":
            return actual not in (None, "")
        if operator == "NOT_HAS_PROPERTY":
            return actual in (None, "")
        if actual in (None, ""):
            return operator in ("NEQ", "NOT_IN")
        left = _sort_key(kind, actual)
        if operator in ("IN", "NOT_IN"):
            values = {_sort_key(kind, v) for v in item.get("values") or []}
            return (left in values) == (operator == "IN")
        if operator == "CONTAINS_TOKEN":
            token = str(item.get("value", "")).lower().strip("*")
            return token in str(actual).lower()
        right = _sort_key(kind, item.get("value"))
        if operator == "BETWEEN":
            high = _sort_key(kind, item.get("highValue"))
            return bool(right <= left <= high)
        comparisons: dict[str, Callable[[Any, Any], bool]] = {
            "EQ": lambda a, b: a == b,
            "NEQ": lambda a, b: a != b,
            "LT": lambda a, b: a < b,
            "LTE": lambda a, b: a <= b,
            "GT": lambda a, b: a > b,
            "GTE": lambda a, b: a >= b,
        }
        compare = comparisons.get(operator)
        if compare is None:
            raise validation_error(f"Unknown filter operator {operator}")
        try:
            return compare(left, right)
        except TypeError:
            return False

    # -- associations --------------------------------------------------------------

    def _link(
        self, from_type: str, from_id: int, to_type: str, to_id: int, type_ids: list[int]
    ) -> None:
        forward = DEFAULT_ASSOCIATION_TYPES[(from_type, to_type)]
        backward = DEFAULT_ASSOCIATION_TYPES[(to_type, from_type)]
        ids = self.associations.setdefault((from_type, from_id, to_type), {}).setdefault(to_id, [])
        if forward not in ids:
            ids.append(forward)
        back = self.associations.setdefault((to_type, to_id, from_type), {}).setdefault(from_id, [])
        if backward not in back:
            back.append(backward)
        del type_ids  # only the default (unlabeled) association is emulated

    def associate_default(
        self, from_type: str, from_id: object, to_type: str, to_id: object
    ) -> Record:
        """Create the default association between two records (both must exist)."""
        with self.lock:
            self._check_type(from_type)
            self._check_type(to_type)
            if (from_type, to_type) not in DEFAULT_ASSOCIATION_TYPES:
                raise InputError(
                    f"No default association between {from_type} and {to_type}",
                    "VALIDATION_ERROR",
                )
            source = self._find(from_type, from_id, None)
            target = self._find(to_type, to_id, None)
            if source is None or target is None:
                missing = from_id if source is None else to_id
                raise InputError(
                    f"No {SINGULAR[from_type if source is None else to_type]} with id {missing}",
                    "OBJECT_NOT_FOUND",
                    ids=[str(missing)],
                )
            self._link(from_type, source.id, to_type, target.id, [])
            return {
                "from": {"id": str(source.id)},
                "to": {"id": str(target.id)},
                "associationSpec": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": DEFAULT_ASSOCIATION_TYPES[(from_type, to_type)],
                },
            }

    def associated(self, from_type: str, from_id: object, to_type: str) -> list[Record]:
        """The v4 ``to`` list of a record's associations with ``to_type`` (live records)."""
        with self.lock:
            try:
                key = (from_type, int(str(from_id)), to_type)
            except ValueError:
                return []
            linked = self.associations.get(key, {})
            return [
                {
                    "toObjectId": to_id,
                    "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": t, "label": None} for t in types
                    ],
                }
                for to_id, types in sorted(linked.items())
                if to_id in self.objects[to_type] and not self.objects[to_type][to_id].archived
            ]

    # -- webhook events ------------------------------------------------------------

    def _event(
        self,
        obj: CrmObject,
        kind: str,
        *,
        source: str,
        name: str | None = None,
        value: str | None = None,
    ) -> None:
        if obj.type not in ("contacts", "tickets"):  # notes have no webhook subscriptions
            return
        event: Record = {
            "eventId": next(self._event_ids),
            "subscriptionId": 234567,
            "portalId": PORTAL_ID,
            "appId": APP_ID,
            "occurredAt": millis(self.clock()),
            "subscriptionType": f"{SINGULAR[obj.type]}.{kind}",
            "attemptNumber": 0,
            "objectId": obj.id,
            "changeSource": source,
            "sourceId": f"{APP_ID}" if source == "INTEGRATION" else "userId:45678",
        }
        if kind == "creation":
            event["changeFlag"] = "CREATED"
        elif kind == "deletion":
            event["changeFlag"] = "DELETED"
        else:
            event["propertyName"] = name
            event["propertyValue"] = value
        self.events.append(event)

    def take_events(self) -> list[Record]:
        """The webhook events since the last call (HubSpot would deliver them), oldest first."""
        with self.lock:
            events, self.events = self.events, []
            return events


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _sort_key(kind: str, value: Any) -> Any:
    if kind == "datetime":
        parsed = parse_datetime(value)
        return -1 if parsed is None else parsed
    if kind == "number":
        try:
            return float(str(value))
        except ValueError:
            return -1.0
    return "" if value is None else str(value).lower()


def _is_write(method: str, path: str) -> bool:
    if method == "GET":
        return False
    return not path.endswith(("/search", "/batch/read"))
