"""The Salesforce emulator's sObject routes: create, read, update, delete, upsert by external id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._emulator_http import _Answer, _HTTPBase, _object
from ._records import SOBJECTS, Record, SalesforceAPIError, not_found

if TYPE_CHECKING:
    from starlette.requests import Request


class _SObjectRoutes(_HTTPBase):
    """The ``/sobjects/{sobject}`` resources of `SalesforceEmulator`, one record at a time."""

    async def _sobjects(
        self, request: Request, version: str, parts: list[str], user_id: str
    ) -> _Answer:
        sobject = SOBJECTS.get(parts[0].lower())
        if sobject is None:
            raise SalesforceAPIError.one(
                404, "NOT_FOUND", f"The requested resource does not exist: sObject type {parts[0]}"
            )
        method = request.method
        if len(parts) == 1:
            self._allow(method, "POST")
            record = self.state.create(sobject, await _object(request), user_id=user_id)
            return _Answer(
                201, {"id": record["Id"], "success": True, "errors": []}, "sobjects/{sobject}"
            )
        if len(parts) == 2:
            return await self._one(request, version, sobject, parts[1], user_id)
        if len(parts) == 3 and parts[2] == "VersionData" and sobject == "ContentVersion":
            self._allow(method, "GET")
            return _Answer(
                200, None, "sobjects/{sobject}/{id}/VersionData", raw=self.state.blob(parts[1])
            )
        if len(parts) == 3:
            return await self._by_external_id(
                request, version, sobject, parts[1], parts[2], user_id
            )
        raise not_found()

    async def _one(
        self, request: Request, version: str, sobject: str, record_id: str, user_id: str
    ) -> _Answer:
        route = "sobjects/{sobject}/{id}"
        method = request.method
        self._allow(method, "GET", "PATCH", "DELETE")
        if method == "GET":
            record = self.state.get(sobject, record_id)
            wanted = request.query_params.get("fields")
            fields = None
            if wanted:
                names = {name.strip(): None for name in wanted.split(",") if name.strip()}
                fields = ["Id", *(n for n in self.state.check_fields(sobject, names) if n != "Id")]
            return _Answer(200, self.state.as_rest(sobject, record, version, fields), route)
        if method == "PATCH":
            self.state.get(sobject, record_id)
            self.state.update(sobject, record_id, await _object(request), user_id=user_id)
            return _Answer(204, None, route)
        self.state.get(sobject, record_id)
        self.state.delete(record_id, user_id=user_id)
        return _Answer(204, None, route)

    async def _by_external_id(
        self,
        request: Request,
        version: str,
        sobject: str,
        field_name: str,
        value: str,
        user_id: str,
    ) -> _Answer:
        route = "sobjects/{sobject}/{field}/{value}"
        method = request.method
        self._allow(method, "GET", "PATCH", "DELETE")
        existing = self.state.by_external_id(sobject, field_name, value)
        if method == "GET":
            if existing is None:
                raise not_found()
            return _Answer(200, self.state.as_rest(sobject, existing, version), route)
        if method == "DELETE":
            if existing is None:
                raise not_found()
            self.state.delete(existing["Id"], user_id=user_id)
            return _Answer(204, None, route)
        body = await _object(request)
        record, created = self.state.upsert(sobject, field_name, value, body, user_id=user_id)
        if created:
            result: Record = {"id": record["Id"], "success": True, "errors": []}
            if float(version) >= 46.0:
                result["created"] = True
            return _Answer(201, result, route)
        if float(version) >= 46.0:
            return _Answer(
                200, {"id": record["Id"], "success": True, "errors": [], "created": False}, route
            )
        return _Answer(204, None, route)
