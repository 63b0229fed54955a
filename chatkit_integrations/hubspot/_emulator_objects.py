"""The HubSpot emulator's single-object routes: list, create, read, update, archive, search."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._emulator_http import _association_label, _json, _object_type, _properties
from ._records import OBJECT_TYPES, Record
from ._state import HubSpotState

if TYPE_CHECKING:
    from starlette.requests import Request


class _ObjectRoutes:
    """The ``/crm/v3/objects/{type}`` endpoints of `HubSpotEmulator`, one record at a time."""

    state: HubSpotState

    async def _list(self, request: Request) -> tuple[int, Record | None]:
        object_type = _object_type(request)
        params = request.query_params
        return 200, self.state.list_page(
            object_type, limit=int(params.get("limit", "10")), after=params.get("after")
        )

    async def _create(self, request: Request) -> tuple[int, Record | None]:
        object_type = _object_type(request)
        body = await _json(request)
        record = self.state.create(
            object_type,
            _properties(body),
            associations=list(body.get("associations") or []),
        )
        return 201, record

    async def _get(self, request: Request) -> tuple[int, Record | None]:
        object_type = _object_type(request)
        params = request.query_params
        properties = [p for p in params.get("properties", "").split(",") if p]
        record = self.state.get(
            object_type,
            request.path_params["object_id"],
            id_property=params.get("idProperty"),
            properties=properties,
            archived=params.get("archived", "false").lower() == "true",
        )
        wanted = [t for t in params.get("associations", "").split(",") if t]
        if wanted:
            record["associations"] = {
                to_type: {
                    "results": [
                        {
                            "id": str(item["toObjectId"]),
                            "type": _association_label(object_type, to_type),
                        }
                        for item in self.state.associated(object_type, record["id"], to_type)
                    ]
                }
                for to_type in wanted
                if to_type in OBJECT_TYPES
            }
        return 200, record

    async def _update(self, request: Request) -> tuple[int, Record | None]:
        object_type = _object_type(request)
        body = await _json(request)
        return 200, self.state.update(
            object_type,
            request.path_params["object_id"],
            _properties(body),
            id_property=request.query_params.get("idProperty"),
        )

    async def _archive(self, request: Request) -> tuple[int, Record | None]:
        self.state.archive(_object_type(request), request.path_params["object_id"])
        return 204, None

    async def _search(self, request: Request) -> tuple[int, Record | None]:
        object_type = _object_type(request)
        return 200, self.state.search(object_type, await _json(request))
