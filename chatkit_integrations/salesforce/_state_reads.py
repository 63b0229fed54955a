"""Reading the records of the emulated Salesforce org: by id, by field, by external id, blobs."""

from __future__ import annotations

import copy
import threading
from typing import Any

from ._records import (
    CANON,
    EXTERNAL_ID_FIELDS,
    SOBJECTS,
    Record,
    SalesforceAPIError,
    case_safe,
    not_found,
    sobject_of_id,
)


class _ReadState:
    """Record lookups of `SalesforceState`."""

    lock: threading.RLock
    records: dict[str, dict[str, Record]]
    blobs: dict[str, bytes]

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
