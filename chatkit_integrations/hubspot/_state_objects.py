"""The CRM objects of the emulated HubSpot portal: contacts, tickets, notes.

Create (with associations), read by id or unique property, update, upsert,
archive, list pages, the API shape of a record, and direct access for tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ._records import (
    CREATED_PROPERTY,
    DEFAULT_ASSOCIATION_TYPES,
    DEFAULT_PIPELINE,
    DEFAULT_PROPERTIES,
    CrmObject,
    Record,
    iso,
    not_found,
    validation_error,
)
from ._state_events import _EventState
from ._state_properties import InputError, _PropertyState


class _ObjectState(_PropertyState, _EventState):
    """Contacts, tickets and notes of `HubSpotState`."""

    clock: Callable[[], datetime]
    _ids: dict[str, itertools.count[int]]

    if TYPE_CHECKING:  # defined in _state_associations

        def _link(
            self, from_type: str, from_id: int, to_type: str, to_id: int, type_ids: list[int]
        ) -> None: ...

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
