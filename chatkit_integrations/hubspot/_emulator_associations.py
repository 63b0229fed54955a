"""The HubSpot emulator's v4 association routes: associate, batch associate, read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._emulator_http import _inputs, _pair
from ._records import SINGULAR, Record, batch_envelope, batch_error
from ._state import HubSpotState, InputError

if TYPE_CHECKING:
    from starlette.requests import Request


class _AssociationRoutes:
    """The ``/crm/v4`` association endpoints of `HubSpotEmulator`."""

    state: HubSpotState

    async def _associate_one(self, request: Request) -> tuple[int, Record | None]:
        params = request.path_params
        from_type, to_type = _pair(params["from_type"], params["to_type"])
        requested = self.state.clock()
        result = self.state.associate_default(
            from_type, params["from_id"], to_type, params["to_id"]
        )
        done = self.state.clock()
        return 200, batch_envelope(
            [result], [], requested=requested, started=requested, completed=done
        )

    async def _associate_batch(self, request: Request) -> tuple[int, Record | None]:
        params = request.path_params
        from_type, to_type = _pair(params["from_type"], params["to_type"])
        inputs = await _inputs(request)
        requested = self.state.clock()
        results: list[Record] = []
        errors: list[Record] = []
        for item in inputs:
            source = (item.get("from") or {}).get("id")
            target = (item.get("to") or {}).get("id")
            try:
                results.append(self.state.associate_default(from_type, source, to_type, target))
            except InputError as error:
                errors.append(batch_error(error.message, error.category, context=error.context))
        done = self.state.clock()
        envelope = batch_envelope(
            results, errors, requested=requested, started=requested, completed=done
        )
        return (207 if errors else 200), envelope

    async def _read_batch(self, request: Request) -> tuple[int, Record | None]:
        params = request.path_params
        from_type, to_type = _pair(params["from_type"], params["to_type"])
        inputs = await _inputs(request)
        requested = self.state.clock()
        results: list[Record] = []
        missing: list[str] = []
        for item in inputs:
            source = str(item.get("id"))
            linked = self.state.associated(from_type, source, to_type)
            if linked:
                results.append({"from": {"id": source}, "to": linked})
            else:
                missing.append(source)
        errors = [
            batch_error(
                f"No {to_type} is associated with {SINGULAR[from_type]} {source}.",
                "OBJECT_NOT_FOUND",
                context={"fromObjectId": [source]},
            )
            for source in missing
        ]
        done = self.state.clock()
        envelope = batch_envelope(
            results, errors, requested=requested, started=requested, completed=done
        )
        return (207 if errors else 200), envelope

    async def _association_page(self, request: Request) -> tuple[int, Record | None]:
        params = request.path_params
        from_type, to_type = _pair(params["object_type"], params["to_type"])
        self.state.get(from_type, params["object_id"])
        return 200, {"results": self.state.associated(from_type, params["object_id"], to_type)}
