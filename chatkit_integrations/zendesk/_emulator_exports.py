"""The Zendesk emulator's incremental exports: tickets and users (cursor), ticket events (time)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from ._records import Record, ZendeskAPIError
from ._state import ZendeskState

if TYPE_CHECKING:
    from starlette.requests import Request


class _ExportRoutes:
    """The ``/api/v2/incremental`` endpoints of `ZendeskEmulator`."""

    state: ZendeskState

    async def _incremental_tickets(self, request: Request) -> tuple[int, Record]:
        return self._cursor_export(request, "tickets", self.state.incremental_tickets)

    async def _incremental_users(self, request: Request) -> tuple[int, Record]:
        return self._cursor_export(request, "users", self.state.incremental_users)

    def _cursor_export(
        self,
        request: Request,
        key: str,
        export: Callable[..., tuple[list[Record], str, bool]],
    ) -> tuple[int, Record]:
        """A cursor-based incremental export page (``/api/v2/incremental/{key}/cursor``)."""
        params = request.query_params
        cursor = params.get("cursor")
        start_time = params.get("start_time")
        if (cursor is None) == (start_time is None):
            raise ZendeskAPIError(
                400,
                {"error": "InvalidPaginationParameter", "description": "start_time or cursor"},
            )
        per_page = min(int(params.get("per_page", "1000")), 1000)
        items, after_cursor, end_of_stream = export(
            start_time=None if start_time is None else int(start_time),
            cursor=cursor,
            per_page=per_page,
        )
        after_url = (
            f"{self.state.base_url}/api/v2/incremental/{key}/cursor.json"
            f"?cursor={quote(after_cursor, safe='')}"
        )
        if "per_page" in params:
            after_url += f"&per_page={per_page}"
        return 200, {
            key: items,
            "after_url": after_url,
            "before_url": None,
            "after_cursor": after_cursor,
            "before_cursor": None,
            "end_of_stream": end_of_stream,
        }

    async def _incremental_ticket_events(self, request: Request) -> tuple[int, Record]:
        # Time-based: ``start_time`` (required), ``include=comment_events``, ``per_page``
        # (at most 1000); ``next_page`` starts at ``end_time``, the last event's second.
        params = request.query_params
        start_time = params.get("start_time", "")
        per_page = params.get("per_page", "1000")
        if not start_time.isdigit() or not per_page.isdigit() or int(per_page) < 1:
            raise ZendeskAPIError(
                400,
                {"error": "InvalidValue", "description": "start_time and per_page are integers"},
            )
        size = min(int(per_page), 1000)
        include = {item.strip() for item in params.get("include", "").split(",")}
        events, end_time, end_of_stream = self.state.incremental_ticket_events(
            start_time=int(start_time), per_page=size, comments="comment_events" in include
        )
        query = {"start_time": str(end_time)}
        if "include" in params:
            query["include"] = params["include"]
        if "per_page" in params:
            query["per_page"] = str(size)
        return 200, {
            "ticket_events": events,
            "next_page": f"{self.state.base_url}{request.url.path}?{urlencode(query)}",
            "count": len(events),
            "end_of_stream": end_of_stream,
            "end_time": end_time,
        }
