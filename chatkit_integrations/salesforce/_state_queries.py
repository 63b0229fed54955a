"""SOQL queries of the emulated Salesforce org: result pages, query locators, REST shapes."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable

from . import _soql
from ._records import (
    DEFAULT_API_VERSION,
    SCHEMA,
    Record,
    SalesforceAPIError,
    make_id,
    sobject_of_id,
)
from ._state_reads import _ReadState


class _QueryState(_ReadState):
    """``query``, ``queryAll`` and their next pages over the records of `SalesforceState`."""

    _ids: dict[str, itertools.count[int]]
    query_batch_size: int
    _locators: dict[str, list[Record]]

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
