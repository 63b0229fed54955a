"""Writing the records of the emulated Salesforce org: create, update, upsert, delete.

Every write keeps ``CreatedDate``, ``LastModifiedDate`` and ``SystemModstamp``
as Salesforce does; a ContentVersion upload stores its file's bytes.
"""

from __future__ import annotations

import base64
import binascii
import copy
import itertools
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ._records import (
    CANON,
    CLOSED_STATUSES,
    SCHEMA,
    Record,
    RecordError,
    make_id,
    sf_datetime,
    sobject_of_id,
)
from ._state_validation import _ValidationState

_FILE_TYPES = {"txt": "TEXT", "pdf": "PDF", "csv": "CSV", "html": "HTML", "json": "JSON"}


class _WriteState(_ValidationState):
    """Record writes of `SalesforceState`."""

    clock: Callable[[], datetime]
    _ids: dict[str, itertools.count[int]]
    agent_user_id: str
    _case_numbers: itertools.count[int]

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
