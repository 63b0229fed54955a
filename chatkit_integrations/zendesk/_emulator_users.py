"""The Zendesk emulator's user routes: create, show, ``me``, search, update, delete, bulk."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._emulator_http import _bulk_payload, _id_list, _item_error, _payload
from ._records import ACCOUNT_ID, Record, ZendeskAPIError
from ._state import ZendeskState

if TYPE_CHECKING:
    from starlette.requests import Request


class _UserRoutes:
    """The ``/api/v2/users`` endpoints of `ZendeskEmulator`."""

    state: ZendeskState

    async def _create_user(self, request: Request) -> tuple[int, Record]:
        data = await _payload(request, "user")
        return 201, {"user": self.state.create_user(data)}

    async def _me(self, request: Request) -> tuple[int, Record]:
        return 200, {"user": self.state.get_user(request.state.caller)}

    async def _delete_user(self, request: Request) -> tuple[int, Record]:
        return 200, {"user": self.state.delete_user(request.path_params["user_id"])}

    async def _show_many_users(self, request: Request) -> tuple[int, Record]:
        # ?ids=1,2 or ?external_ids=a,b (at most 100); unknown ones are left out.
        params = request.query_params
        with self.state.lock:
            if "external_ids" in params:
                wanted = _id_list(params["external_ids"], int_ids=False)
                users = [u for e in wanted for u in self.state.search_users(external_id=str(e))]
            else:
                wanted = _id_list(params.get("ids", ""))
                users = [self.state.get_user(int(i)) for i in wanted if int(i) in self.state.users]
        return 200, {"users": users, "next_page": None, "previous_page": None, "count": len(users)}

    async def _show_user(self, request: Request) -> tuple[int, Record]:
        return 200, {"user": self.state.get_user(request.path_params["user_id"])}

    async def _update_user(self, request: Request) -> tuple[int, Record]:
        data = await _payload(request, "user")
        return 200, {"user": self.state.update_user(request.path_params["user_id"], data)}

    async def _search_users(self, request: Request) -> tuple[int, Record]:
        params = request.query_params
        if "external_id" in params:
            users = self.state.search_users(external_id=params["external_id"])
        else:
            query = params.get("query", "")
            email = query.removeprefix("email:").strip()
            users = self.state.search_users(email=email) if email else []
        return 200, {"users": users, "next_page": None, "previous_page": None, "count": len(users)}

    async def _create_or_update_user(self, request: Request) -> tuple[int, Record]:
        data = await _payload(request, "user")
        user, created = self.state.create_or_update_user(data)
        return (201 if created else 200), {"user": user}

    async def _create_many_users(self, request: Request) -> tuple[int, Record]:
        items = await _bulk_payload(request, "users")
        results = []
        for index, item in enumerate(items):
            try:
                user = self.state.create_user(item)
            except ZendeskAPIError as error:
                results.append(_item_error(index, error))
            else:
                results.append({"index": index, "id": user["id"], "account_id": ACCOUNT_ID})
        return 200, {"job_status": self.state.start_job(results)}

    async def _create_or_update_many(self, request: Request) -> tuple[int, Record]:
        items = await _bulk_payload(request, "users")
        results = []
        for index, item in enumerate(items):
            try:
                user, created = self.state.create_or_update_user(item)
            except ZendeskAPIError as error:
                results.append(_item_error(index, error))
            else:
                status = "Created" if created else "Updated"
                results.append({"index": index, "id": user["id"], "status": status})
        return 200, {"job_status": self.state.start_job(results)}
