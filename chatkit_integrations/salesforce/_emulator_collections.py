"""The Salesforce emulator's sObject collections: create, update, delete, upsert (allOrNone)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._emulator_http import _Answer, _HTTPBase, _object
from ._records import (
    COLLECTION_LIMIT,
    EXCEEDED_ID_LIMIT,
    EXTERNAL_ID_FIELDS,
    SOBJECTS,
    Record,
    RecordError,
    SalesforceAPIError,
    not_found,
    sobject_of_id,
)

if TYPE_CHECKING:
    from starlette.requests import Request


def _records(body: Record) -> list[Record]:
    records = body.get("records")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise SalesforceAPIError.one(
            400, "INVALID_FIELD", "records: a list of sObjects is required"
        )
    if len(records) > COLLECTION_LIMIT:
        raise SalesforceAPIError(400, EXCEEDED_ID_LIMIT)
    return [dict(r) for r in records]


class _CollectionRoutes(_HTTPBase):
    """The ``/composite/sobjects`` resources of `SalesforceEmulator`."""

    async def _collections(self, request: Request, parts: list[str], user_id: str) -> _Answer:
        method = request.method
        if len(parts) == 2:
            self._allow(method, "PATCH")
            return await self._collection_upsert(request, parts[0], parts[1], user_id)
        if parts:
            raise not_found()
        self._allow(method, "POST", "PATCH", "DELETE")
        route = "composite/sobjects"
        if method == "DELETE":
            ids = [i for i in request.query_params.get("ids", "").split(",") if i]
            if not ids:
                raise SalesforceAPIError.one(400, "MISSING_ARGUMENT", "ids not specified")
            if len(ids) > COLLECTION_LIMIT:
                raise SalesforceAPIError(400, EXCEEDED_ID_LIMIT)
            all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"
            results = self._each(
                ids, all_or_none, lambda rid: self._delete_result(rid, user_id), keep_id=True
            )
            return _Answer(200, results, route)
        body = await _object(request)
        records = _records(body)
        all_or_none = bool(body.get("allOrNone", False))
        typed = [(self._record_type(r), r) for r in records]
        for sobject, record in typed:
            self.state.check_fields(sobject, {k: v for k, v in record.items() if k != "id"})
        if method == "POST":

            def create(item: tuple[str, Record]) -> Record:
                sobject, record = item
                if "id" in record or "Id" in record:
                    raise RecordError(
                        "INVALID_FIELD", "Cannot specify Id in an insert call", ["Id"]
                    )
                created = self.state.create(sobject, record, user_id=user_id)
                return {"id": created["Id"], "success": True, "errors": []}

            return _Answer(200, self._each(typed, all_or_none, create), route)

        def update(item: tuple[str, Record]) -> Record:
            sobject, record = item
            fields = dict(record)
            record_id = str(fields.pop("id", None) or fields.pop("Id", None) or "")
            if not record_id:
                raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", [])
            self.state.update(sobject, record_id, fields, user_id=user_id)
            return {"id": record_id, "success": True, "errors": []}

        return _Answer(200, self._each(typed, all_or_none, update), route)

    async def _collection_upsert(
        self, request: Request, name: str, field_name: str, user_id: str
    ) -> _Answer:
        sobject = SOBJECTS.get(name.lower())
        if sobject is None:
            raise SalesforceAPIError.one(
                404, "NOT_FOUND", f"The requested resource does not exist: sObject type {name}"
            )
        canonical = next(
            (f for f in EXTERNAL_ID_FIELDS.get(sobject, ()) if f.lower() == field_name.lower()),
            None,
        )
        if canonical is None:
            raise SalesforceAPIError.one(
                400,
                "INVALID_FIELD",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
            )
        body = await _object(request)
        records = _records(body)
        all_or_none = bool(body.get("allOrNone", False))
        for record in records:
            if self._record_type(record) != sobject:
                raise SalesforceAPIError.one(
                    400,
                    "INVALID_TYPE",
                    f"The list can contain objects only of the type {sobject}",
                )
            self.state.check_fields(sobject, record)

        def upsert(record: Record) -> Record:
            fields = {k: v for k, v in record.items() if k != "attributes"}
            value = next((v for k, v in fields.items() if k.lower() == canonical.lower()), None)
            if value in (None, ""):
                raise RecordError("MISSING_ARGUMENT", f"{canonical} not specified", [])
            saved, created = self.state.upsert(
                sobject, canonical, str(value), fields, user_id=user_id
            )
            return {"id": saved["Id"], "success": True, "errors": [], "created": created}

        return _Answer(
            200, self._each(records, all_or_none, upsert), "composite/sobjects/{sobject}/{field}"
        )

    def _record_type(self, record: Record) -> str:
        attributes = record.get("attributes")
        name = attributes.get("type") if isinstance(attributes, dict) else None
        sobject = SOBJECTS.get(str(name).lower()) if name else None
        if sobject is None:
            raise SalesforceAPIError.one(
                400,
                "INVALID_TYPE",
                "Must specify a type for each record in the attributes map"
                if not name
                else f"sObject type '{name}' is not supported.",
            )
        return sobject

    def _delete_result(self, record_id: str, user_id: str) -> Record:
        if sobject_of_id(record_id) is None:
            raise RecordError("MALFORMED_ID", f"malformed id {record_id}", [])
        self.state.delete(record_id, user_id=user_id)
        return {"id": record_id, "success": True, "errors": []}

    def _each(
        self,
        items: list[Any],
        all_or_none: bool,
        action: Callable[[Any], Record],
        *,
        keep_id: bool = False,
    ) -> list[Record]:
        """Per-record results in request order; ``allOrNone`` rolls every change back."""
        if len(items) > COLLECTION_LIMIT:
            raise SalesforceAPIError(400, EXCEEDED_ID_LIMIT)
        with self.state.lock:
            snapshot = (
                {
                    name: {k: dict(v) for k, v in rows.items()}
                    for name, rows in self.state.records.items()
                },
                dict(self.state.blobs),
            )
            results: list[Record] = []
            failed = False
            for item in items:
                try:
                    results.append(action(item))
                except RecordError as error:
                    failed = True
                    result: Record = {"success": False, "errors": error.errors}
                    if keep_id:
                        result = {"id": item, **result}
                    results.append(result)
            if all_or_none and failed:
                self.state.records, self.state.blobs = snapshot
                rolled = {
                    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "message": "Record rolled back because not all records were valid and the "
                    "request was using AllOrNone header",
                    "fields": [],
                }
                results = [
                    r if not r["success"] else {"success": False, "errors": [rolled]}
                    for r in results
                ]
            return results
