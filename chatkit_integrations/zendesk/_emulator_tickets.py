"""The Zendesk emulator's ticket routes: tickets, their comments, bulk updates and job statuses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._emulator_http import (
    TOO_MANY_VALUES,
    _bulk_payload,
    _client,
    _cursor_page,
    _id_list,
    _item_error,
    _payload,
)
from ._records import ACCOUNT_ID, BULK_LIMIT, Record, ZendeskAPIError
from ._state import ZendeskState

if TYPE_CHECKING:
    from starlette.requests import Request


class _TicketRoutes:
    """The ``/api/v2/tickets`` and ``/api/v2/job_statuses`` endpoints of `ZendeskEmulator`."""

    state: ZendeskState

    async def _create_ticket(self, request: Request) -> tuple[int, Record]:
        data = await _payload(request, "ticket")
        ticket, audit = self.state.create_ticket(
            data, author_id=request.state.caller, client=_client(request)
        )
        return 201, {"ticket": ticket, "audit": audit}

    async def _delete_ticket(self, request: Request) -> tuple[int, Record]:
        self.state.delete_ticket(request.path_params["ticket_id"])
        return 204, {}

    async def _show_many_tickets(self, request: Request) -> tuple[int, Record]:
        wanted = _id_list(request.query_params.get("ids", ""))
        with self.state.lock:
            live = {tid for tid, t in self.state.tickets.items() if t["status"] != "deleted"}
            tickets = [self.state.get_ticket(int(i)) for i in wanted if int(i) in live]
        return 200, {
            "tickets": tickets,
            "next_page": None,
            "previous_page": None,
            "count": len(tickets),
        }

    async def _show_ticket(self, request: Request) -> tuple[int, Record]:
        return 200, {"ticket": self.state.get_ticket(request.path_params["ticket_id"])}

    async def _update_ticket(self, request: Request) -> tuple[int, Record]:
        data = await _payload(request, "ticket")
        ticket_id = request.path_params["ticket_id"]
        ticket, audit = self.state.update_ticket(
            ticket_id, data, author_id=request.state.caller, client=_client(request)
        )
        return 200, {"ticket": ticket, "audit": audit}

    async def _create_many_tickets(self, request: Request) -> tuple[int, Record]:
        items = await _bulk_payload(request, "tickets")
        results = []
        for index, item in enumerate(items):
            try:
                ticket, _ = self.state.create_ticket(
                    item, author_id=request.state.caller, client=_client(request)
                )
            except ZendeskAPIError as error:
                results.append(_item_error(index, error))
            else:
                results.append({"index": index, "id": ticket["id"], "account_id": ACCOUNT_ID})
        return 200, {"job_status": self.state.start_job(results)}

    async def _update_many_tickets(self, request: Request) -> tuple[int, Record]:
        # Two forms, as in Zendesk: ``?ids=1,2`` with one ``ticket`` change for all, or a
        # ``tickets`` array of individual updates (``id`` and fields, and a ``comment``
        # each). Items are applied in order by the caller; each gets a job result
        # (``id``, ``action``, ``success``, ``status``; failures add ``index``,
        # ``error`` and ``details``).
        ids = request.query_params.get("ids")
        if ids:  # one change applied to many tickets: ?ids=1,2 with {"ticket": {...}}
            change = await _payload(request, "ticket")
            items = [{**change, "id": int(i)} for i in ids.split(",") if i]
            if len(items) > BULK_LIMIT:
                raise ZendeskAPIError(400, TOO_MANY_VALUES)
        else:
            items = await _bulk_payload(request, "tickets")
        results: list[Record] = []
        for index, item in enumerate(items):
            ticket_id = int(item.get("id") or 0)
            try:
                self.state.update_ticket(
                    ticket_id, item, author_id=request.state.caller, client=_client(request)
                )
            except ZendeskAPIError as error:
                results.append(
                    {
                        **_item_error(index, error),
                        "id": ticket_id,
                        "action": "update",
                        "success": False,
                        "status": "Failed",
                    }
                )
            else:
                results.append(
                    {"id": ticket_id, "action": "update", "success": True, "status": "Updated"}
                )
        return 200, {"job_status": self.state.start_job(results)}

    async def _list_tickets(self, request: Request) -> tuple[int, Record]:
        # ``GET /api/v2/tickets.json?external_id=X``: external ids are not unique in
        # Zendesk, so this lists every match (cursor pagination with page[size]).
        params = request.query_params
        external_id = params.get("external_id")
        if external_id is not None:
            tickets = self.state.find_tickets(external_id=external_id)
        else:
            with self.state.lock:
                tickets = [
                    self.state.get_ticket(tid)
                    for tid, ticket in sorted(self.state.tickets.items())
                    if ticket["status"] != "deleted"
                ]
        return 200, _cursor_page(request, "tickets", tickets, self.state.base_url)

    async def _list_comments(self, request: Request) -> tuple[int, Record]:
        comments = self.state.list_comments(request.path_params["ticket_id"])
        return 200, _cursor_page(request, "comments", comments, self.state.base_url)

    async def _show_job(self, request: Request) -> tuple[int, Record]:
        return 200, {"job_status": self.state.poll_job(request.path_params["job_id"])}
