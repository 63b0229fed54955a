"""The search of the emulated HubSpot portal: filter groups, one sort, paging, the cap."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._records import (
    SEARCH_MAX_FILTER_GROUPS,
    SEARCH_MAX_FILTERS,
    SEARCH_MAX_FILTERS_PER_GROUP,
    SEARCH_PAGE_MAX,
    CrmObject,
    Record,
    parse_datetime,
    validation_error,
)
from ._state_objects import _ObjectState


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


class _SearchState(_ObjectState):
    """``POST /crm/v3/objects/{type}/search`` of `HubSpotState`."""

    search_cap: int

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
