"""HubSpot part: pull, a search per object on its last-modified date, with its cursor."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Mapping, Sequence

from chatkit.errors import IntegrationError
from chatkit.integrations import InboundChange, PullPage

from . import _mapping as mapping
from ._api import ApiObject, HubSpotHTTPError
from ._client import _MODIFIED, SEARCH_PAGE_MAX, _HubSpotClient

_CURSOR_KEYS = {"contacts": "c", "tickets": "t", "notes": "n"}


_PULL_ORDER = ("contacts", "tickets", "notes")


class _Pull(_HubSpotClient):
    """Contacts, tickets and notes changed in HubSpot, inbound."""

    async def pull(self, cursor: str | None, *, limit: int = 100) -> PullPage:
        """Changes after ``cursor``: contacts, tickets and notes by last-modified date.

        Each object type is searched from its own position ``(timestamp, id)``
        with ``modified > timestamp OR (modified = timestamp AND id > id)``,
        sorted by the modified date; every page starts a fresh search from the
        cursor, so no search pages past HubSpot's 10,000-result cap and records
        changed during the scan are not skipped. A full page ending in a run
        of equal timestamps keeps only what precedes the run; a page that is
        one run is listed by ``hs_object_id``, so equal timestamps are neither
        skipped nor repeated.
        """
        positions = _decode_cursor(cursor)
        return await asyncio.to_thread(self._pull, positions, max(1, min(limit, SEARCH_PAGE_MAX)))

    def _pull(self, positions: dict[str, tuple[int, int]], limit: int) -> PullPage:
        try:
            return self._pull_page(positions, limit)
        except HubSpotHTTPError as error:
            raise self._classify(error) from None

    def _scan(
        self, object_type: str, position: tuple[int, int], limit: int
    ) -> tuple[list[tuple[int, int, ApiObject]], bool]:
        modified = _MODIFIED[object_type]
        stamp, last_id = position
        page = self.api.search(
            object_type,
            filter_groups=[
                {
                    "filters": [
                        {"propertyName": modified, "operator": "EQ", "value": str(stamp)},
                        {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)},
                    ]
                },
                {"filters": [{"propertyName": modified, "operator": "GT", "value": str(stamp)}]},
            ],
            sort={"propertyName": modified, "direction": "ASCENDING"},
            properties=self._properties(object_type),
            limit=limit,
        )
        rows = sorted(_keyed(object_type, page.results))
        if page.next_after is None or not rows:
            return rows, False
        newest = rows[-1][0]
        head = [row for row in rows if row[0] < newest]
        if head:  # the run at `newest` may go on past this page: take it next time
            return head, True
        # The whole page is one timestamp: list that timestamp by id.
        page = self.api.search(
            object_type,
            filter_groups=[
                {
                    "filters": [
                        {"propertyName": modified, "operator": "EQ", "value": str(newest)},
                        {
                            "propertyName": "hs_object_id",
                            "operator": "GT",
                            "value": str(last_id if newest == stamp else 0),
                        },
                    ]
                }
            ],
            sort={"propertyName": "hs_object_id", "direction": "ASCENDING"},
            properties=self._properties(object_type),
            limit=limit,
        )
        return sorted(_keyed(object_type, page.results)), True

    def _pull_page(self, positions: dict[str, tuple[int, int]], limit: int) -> PullPage:
        candidates: list[tuple[int, int, int, str, ApiObject]] = []
        more = False
        for order, object_type in enumerate(_PULL_ORDER):
            rows, has_more = self._scan(object_type, positions[object_type], limit)
            more = more or has_more
            candidates.extend((ts, order, oid, object_type, obj) for ts, oid, obj in rows)
        candidates.sort(key=lambda row: row[:3])
        if len(candidates) > limit:
            more = True
        taken = candidates[:limit]
        moved = dict(positions)
        for ts, _, oid, object_type, _ in taken:
            moved[object_type] = (ts, oid)
        tickets = [obj.id for _, _, _, t, obj in taken if t == "tickets"]
        notes = [obj.id for _, _, _, t, obj in taken if t == "notes"]
        contact_of = self.api.associated("tickets", "contacts", tickets) if tickets else {}
        ticket_of = self.api.associated("notes", "tickets", notes) if notes else {}
        changes: list[InboundChange] = []
        for ts, _, _, object_type, obj in taken:
            change = self._inbound(object_type, obj, ts, contact_of, ticket_of)
            if change is not None:
                changes.append(change)
        return PullPage(changes=tuple(changes), cursor=_encode_cursor(moved), has_more=more)


def _keyed(object_type: str, records: Sequence[ApiObject]) -> list[tuple[int, int, ApiObject]]:
    rows = []
    for record in records:
        moment = mapping.hubspot_datetime(record.properties.get(_MODIFIED[object_type]))
        if moment is None:
            continue
        rows.append((mapping.millis(moment), int(record.id), record))
    return rows


def _encode_cursor(positions: Mapping[str, tuple[int, int]]) -> str:
    payload = {"v": 1, **{_CURSOR_KEYS[t]: list(p) for t, p in positions.items()}}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> dict[str, tuple[int, int]]:
    positions = dict.fromkeys(_PULL_ORDER, (0, 0))
    if not cursor:
        return positions
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        for object_type, key in _CURSOR_KEYS.items():
            stamp, last = payload[key]
            positions[object_type] = (int(stamp), int(last))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise IntegrationError(
            "hubspot: not a cursor of this integration", integration="hubspot"
        ) from None
    return positions
