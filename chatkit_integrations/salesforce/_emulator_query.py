"""The Salesforce emulator's SOQL routes: ``query``, ``queryAll`` and their next pages."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ._emulator_http import _Answer, _HTTPBase
from ._records import QUERY_BATCH_DEFAULT, SalesforceAPIError

if TYPE_CHECKING:
    from starlette.requests import Request


_BATCH_SIZE = re.compile(r"batchSize=(\d+)")


class _QueryRoutes(_HTTPBase):
    """The ``/query`` and ``/queryAll`` resources of `SalesforceEmulator`."""

    def _query(self, request: Request, version: str, parts: list[str]) -> _Answer:
        batch = QUERY_BATCH_DEFAULT
        found = _BATCH_SIZE.search(request.headers.get("sforce-query-options", ""))
        if found:
            batch = max(200, min(int(found.group(1)), QUERY_BATCH_DEFAULT))
        include_deleted = parts[0] == "queryAll"
        if len(parts) == 2:
            locator, _, offset = parts[1].partition("-")
            if not offset.isdigit():
                raise SalesforceAPIError.one(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            body = self.state.query_more(
                locator,
                int(offset),
                api_version=version,
                batch_size=min(batch, self.state.query_batch_size),
            )
            return _Answer(200, body, f"{parts[0]}/{{locator}}")
        soql = request.query_params.get("q")
        if not soql:
            raise SalesforceAPIError.one(
                400, "MALFORMED_QUERY", "A query string has to be specified"
            )
        body = self.state.query(
            soql, include_deleted=include_deleted, batch_size=batch, api_version=version
        )
        return _Answer(200, body, parts[0])
