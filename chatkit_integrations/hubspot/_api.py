"""A typed layer over ``hubspot-api-client`` (which is untyped): the calls the integration makes.

Requests go out through the generated client (its URLs, auth and
serialisation); its answer models are turned into the small typed records
below at once, and its exceptions into `HubSpotHTTPError`, so nothing untyped
leaks into `integration`. Blocking: call from a worker thread.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from chatkit._optional import import_optional, missing

try:
    import urllib3  # hubspot-api-client's HTTP library
except ImportError as exc:
    raise missing("hubspot", "the HubSpot integration", exc) from exc

__all__ = [
    "ApiObject",
    "BatchAnswer",
    "BatchError",
    "HubSpotAPI",
    "HubSpotHTTPError",
    "SearchPage",
]


OWNERS_PAGE = 500
"""Owners read per page of ``GET /crm/v3/owners/`` (HubSpot's most)."""


class HubSpotHTTPError(Exception):
    """A whole call failed: HTTP status (0: no answer), parsed JSON body, headers.

    The message holds the status, category and HubSpot's message, never the token.
    """

    def __init__(self, status: int, body: Mapping[str, Any], headers: Mapping[str, str]) -> None:
        self.status = status
        self.body = dict(body)
        self.headers = {key.lower(): value for key, value in headers.items()}
        self.category = str(self.body.get("category") or self.body.get("errorType") or "")
        self.message = str(self.body.get("message") or "")
        super().__init__(f"HubSpot answered {status or 'nothing'} {self.category}: {self.message}")

    def header(self, name: str) -> str | None:
        """A response header, by case-insensitive name."""
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class ApiObject:
    """A CRM record as answered: id, properties, ``updatedAt``; ``new`` and trace id of writes."""

    id: str
    properties: dict[str, str | None]
    updated_at: datetime | None = None
    new: bool | None = None
    trace_id: str | None = None


@dataclass(frozen=True)
class BatchError:
    """One entry of a 207 answer's ``errors``."""

    category: str
    message: str
    context: dict[str, list[str]] = field(default_factory=dict)

    @property
    def trace_ids(self) -> list[str]:
        """The ``objectWriteTraceId`` values of the inputs it concerns."""
        return list(self.context.get("objectWriteTraceId", []))


@dataclass(frozen=True)
class BatchAnswer:
    """A batch answer: the records written or read, and the per-input errors (207)."""

    results: list[ApiObject]
    errors: list[BatchError]


@dataclass(frozen=True)
class SearchPage:
    """One search page: results, the total, and ``paging.next.after`` when more exist."""

    results: list[ApiObject]
    total: int
    next_after: str | None


def _exception_types() -> tuple[type[BaseException], ...]:
    from hubspot.crm.associations.v4 import exceptions as v4  # type: ignore[import-untyped]
    from hubspot.crm.contacts import exceptions as contacts  # type: ignore[import-untyped]
    from hubspot.crm.objects.notes import exceptions as notes  # type: ignore[import-untyped]
    from hubspot.crm.tickets import exceptions as tickets  # type: ignore[import-untyped]

    return cast(
        "tuple[type[BaseException], ...]",
        (contacts.ApiException, tickets.ApiException, notes.ApiException, v4.ApiException),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _aware(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _object(model: Any) -> ApiObject:
    properties = getattr(model, "properties", None) or {}
    return ApiObject(
        id=str(model.id),
        properties={str(k): _text(v) for k, v in dict(properties).items()},
        updated_at=_aware(getattr(model, "updated_at", None)),
        new=getattr(model, "new", None),
        trace_id=_text(getattr(model, "object_write_trace_id", None)),
    )


def _error(model: Any) -> BatchError:
    context = getattr(model, "context", None) or {}
    return BatchError(
        category=str(getattr(model, "category", "") or ""),
        message=str(getattr(model, "message", "") or ""),
        context={
            str(k): [str(v) for v in (vs if isinstance(vs, list) else [vs])]
            for k, vs in dict(context).items()
        },
    )


def _batch(answer: Any) -> BatchAnswer:
    if answer is None:  # a status the generated client has no model for
        return BatchAnswer([], [])
    return BatchAnswer(
        results=[_object(r) for r in getattr(answer, "results", None) or []],
        errors=[_error(e) for e in getattr(answer, "errors", None) or []],
    )


class HubSpotAPI:
    """The CRM calls chatkit makes, through one configured ``hubspot.Client``.

    Args:
        access_token: The private app token.
        host: The API base URL (an emulator's URL in tests).
        timeout: Seconds per request.
    """

    OBJECT_TYPES = ("contacts", "tickets", "notes")

    def __init__(self, *, access_token: str, host: str, timeout: float) -> None:
        hubspot = import_optional("hubspot", "the HubSpot integration")
        # No automatic retries on statuses: urllib3 would otherwise sleep on a
        # Retry-After by itself; the sync engine schedules retries. Connection
        # failures are still retried twice.
        retry = urllib3.Retry(
            total=2,
            connect=2,
            read=0,
            status=0,
            other=0,
            respect_retry_after_header=False,
            raise_on_status=False,
        )
        client: Any = hubspot.Client.create(access_token=access_token, host=host, retry=retry)
        self._timeout = timeout
        self._errors = _exception_types()
        # Each discovery attribute builds a new API client and connection pool: build once.
        discovery = {
            "contacts": client.crm.contacts,
            "tickets": client.crm.tickets,
            "notes": client.crm.objects.notes,
        }
        self._basic = {name: d.basic_api for name, d in discovery.items()}
        self._batch = {name: d.batch_api for name, d in discovery.items()}
        self._search = {name: d.search_api for name, d in discovery.items()}
        self._associations = client.crm.associations.v4.batch_api
        self._owners = client.crm.owners.owners_api

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, _request_timeout=self._timeout, **kwargs)
        except self._errors as exc:
            raw = getattr(exc, "body", None)
            try:
                body = json.loads(raw) if raw else {}
            except (TypeError, ValueError):
                body = {"message": str(raw)[:200]}
            headers = getattr(exc, "headers", None) or {}
            status = int(getattr(exc, "status", 0) or 0)
            raise HubSpotHTTPError(
                status, body if isinstance(body, dict) else {}, dict(headers)
            ) from None
        except urllib3.exceptions.HTTPError as exc:
            raise HubSpotHTTPError(0, {"message": type(exc).__name__}, {}) from None

    def probe(self) -> int:
        """One cheap read (a page of one contact); returns how many came back."""
        page = self._call(self._basic["contacts"].get_page, limit=1)
        return len(getattr(page, "results", None) or [])

    def upsert(self, object_type: str, inputs: Sequence[Mapping[str, Any]]) -> BatchAnswer:
        """``POST /crm/v3/objects/{type}/batch/upsert`` (inputs with ``id`` and ``idProperty``)."""
        return _batch(self._call(self._batch[object_type].upsert, {"inputs": list(inputs)}))

    def create(self, object_type: str, inputs: Sequence[Mapping[str, Any]]) -> BatchAnswer:
        """``POST /crm/v3/objects/{type}/batch/create``."""
        return _batch(self._call(self._batch[object_type].create, {"inputs": list(inputs)}))

    def update(self, object_type: str, inputs: Sequence[Mapping[str, Any]]) -> BatchAnswer:
        """``POST /crm/v3/objects/{type}/batch/update``."""
        return _batch(self._call(self._batch[object_type].update, {"inputs": list(inputs)}))

    def read(
        self,
        object_type: str,
        ids: Iterable[str],
        properties: Sequence[str],
        *,
        id_property: str | None = None,
    ) -> BatchAnswer:
        """``POST /crm/v3/objects/{type}/batch/read``; missing ids come back as errors."""
        body: dict[str, Any] = {
            "inputs": [{"id": i} for i in ids],
            "properties": list(properties),
            "propertiesWithHistory": [],
        }
        if id_property is not None:
            body["idProperty"] = id_property
        return _batch(self._call(self._batch[object_type].read, body))

    def archive(self, object_type: str, ids: Iterable[str]) -> None:
        """``POST /crm/v3/objects/{type}/batch/archive`` (archiving a missing id is fine)."""
        self._call(self._batch[object_type].archive, {"inputs": [{"id": i} for i in ids]})

    def search(
        self,
        object_type: str,
        *,
        filter_groups: Sequence[Mapping[str, Any]],
        sort: Mapping[str, str] | None,
        properties: Sequence[str],
        limit: int,
        after: str | None = None,
    ) -> SearchPage:
        """``POST /crm/v3/objects/{type}/search``."""
        body: dict[str, Any] = {
            "filterGroups": list(filter_groups),
            "properties": list(properties),
            "limit": limit,
        }
        if sort is not None:
            body["sorts"] = [dict(sort)]
        if after is not None:
            body["after"] = after
        page = self._call(self._search[object_type].do_search, body)
        paging = getattr(page, "paging", None)
        following = getattr(paging, "next", None) if paging is not None else None
        return SearchPage(
            results=[_object(r) for r in getattr(page, "results", None) or []],
            total=int(getattr(page, "total", 0) or 0),
            next_after=_text(getattr(following, "after", None)),
        )

    def owners(self, *, limit: int = OWNERS_PAGE) -> dict[str, str]:
        """Every active owner with an email: ``{email (lower case): owner id}``.

        ``GET /crm/v3/owners/`` page by page (``limit`` a page, HubSpot's most
        is 500): one call for up to 500 owners. Where two owners share an
        email, the first listed wins.
        """
        found: dict[str, str] = {}
        after: str | None = None
        while True:
            page = self._call(self._owners.get_page, limit=limit, after=after, archived=False)
            for owner in getattr(page, "results", None) or []:
                email = _text(getattr(owner, "email", None))
                if email and getattr(owner, "id", None) is not None:
                    found.setdefault(email.strip().lower(), str(owner.id))
            paging = getattr(page, "paging", None)
            following = getattr(paging, "next", None) if paging is not None else None
            after = _text(getattr(following, "after", None))
            if not after:
                return found

    def associate(
        self, from_type: str, to_type: str, pairs: Sequence[tuple[str, str]]
    ) -> list[BatchError]:
        """Default associations ``from → to`` for each pair; returns the per-pair errors."""
        inputs = [{"from": {"id": a}, "to": {"id": b}} for a, b in pairs]
        answer = self._call(
            self._associations.create_default, from_type, to_type, {"inputs": inputs}
        )
        return [_error(e) for e in getattr(answer, "errors", None) or []]

    def associated(self, from_type: str, to_type: str, ids: Sequence[str]) -> dict[str, list[str]]:
        """The ids of ``to_type`` records associated with each of ``ids`` (v4 batch read)."""
        found: dict[str, list[str]] = {}
        for start in range(0, len(ids), 100):
            chunk = [{"id": i} for i in ids[start : start + 100]]
            answer = self._call(self._associations.get_page, from_type, to_type, {"inputs": chunk})
            for result in getattr(answer, "results", None) or []:
                source = str(getattr(getattr(result, "_from", None), "id", ""))
                found[source] = [str(t.to_object_id) for t in getattr(result, "to", None) or []]
        return found
