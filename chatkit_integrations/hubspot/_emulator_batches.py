"""The HubSpot emulator's batch routes: create, update, upsert, read, archive (207 multi-status)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._emulator_http import _inputs, _json, _limited, _object_type, _properties
from ._records import SINGULAR, HubSpotAPIError, Record, batch_envelope, batch_error, error_body
from ._state import HubSpotState, InputError

if TYPE_CHECKING:
    from starlette.requests import Request


class _BatchRoutes:
    """The ``/crm/v3/objects/{type}/batch`` endpoints of `HubSpotEmulator`."""

    state: HubSpotState

    def _run_batch(
        self,
        object_type: str,
        inputs: list[Record],
        apply: Callable[[Record], Record],
        *,
        ok_status: int,
    ) -> tuple[int, Record]:
        """Apply each input; 207 for partial failures when every input has a trace id.

        Without ``objectWriteTraceId`` on every input, HubSpot does not take
        partial success: the first failure fails the whole call (400) and
        nothing is written.
        """
        requested = self.state.clock()
        traced = bool(inputs) and all(item.get("objectWriteTraceId") for item in inputs)
        with self.state.lock:
            saved = self.state_snapshot() if not traced else None
            results: list[Record] = []
            errors: list[Record] = []
            for item in inputs:
                trace = item.get("objectWriteTraceId")
                try:
                    result = apply(item)
                except InputError as error:
                    if not traced:
                        assert saved is not None
                        self.state_restore(saved)
                        status = 409 if error.category == "CONFLICT" else 400
                        raise HubSpotAPIError(
                            status, error_body(error.message, error.category)
                        ) from None
                    context = {**error.context, "objectWriteTraceId": [str(trace)]}
                    errors.append(
                        batch_error(
                            error.message, error.category, context=context, error_id=str(trace)
                        )
                    )
                else:
                    if trace:
                        result["objectWriteTraceId"] = str(trace)
                    results.append(result)
        done = self.state.clock()
        body = batch_envelope(
            results, errors, requested=requested, started=requested, completed=done
        )
        return (207 if errors else ok_status), body

    def state_snapshot(self) -> dict[str, Any]:
        """A copy of the records, associations, events and id counters (for all-or-nothing)."""
        state = self.state
        return copy.deepcopy(
            {
                "objects": state.objects,
                "associations": state.associations,
                "events": state.events,
                "ids": state._ids,
                "event_ids": state._event_ids,
            }
        )

    def state_restore(self, saved: Mapping[str, Any]) -> None:
        """Put back what `state_snapshot` copied."""
        state = self.state
        state.objects = saved["objects"]
        state.associations = saved["associations"]
        state.events = saved["events"]
        state._ids = saved["ids"]
        state._event_ids = saved["event_ids"]

    async def _batch_create(self, request: Request) -> tuple[int, Record | None]:
        object_type = _object_type(request)
        inputs = await _inputs(request)

        def apply(item: Record) -> Record:
            return self.state.create(
                object_type, _properties(item), associations=list(item.get("associations") or [])
            )

        return self._run_batch(object_type, inputs, apply, ok_status=201)

    async def _batch_update(self, request: Request) -> tuple[int, Record | None]:
        object_type = _object_type(request)
        inputs = await _inputs(request)

        def apply(item: Record) -> Record:
            return self.state.update(
                object_type, item.get("id"), _properties(item), id_property=item.get("idProperty")
            )

        return self._run_batch(object_type, inputs, apply, ok_status=200)

    async def _batch_upsert(self, request: Request) -> tuple[int, Record | None]:
        object_type = _object_type(request)
        inputs = await _inputs(request)

        def apply(item: Record) -> Record:
            id_property = item.get("idProperty")
            key = item.get("id")
            if not id_property or key in (None, ""):
                raise InputError("Upsert inputs need id and idProperty", "VALIDATION_ERROR")
            try:
                record, new = self.state.upsert(
                    object_type, str(id_property), str(key), _properties(item)
                )
            except HubSpotAPIError as error:  # idProperty is not a unique property
                raise InputError(str(error.body.get("message")), "VALIDATION_ERROR") from None
            return {**record, "new": new}

        return self._run_batch(object_type, inputs, apply, ok_status=200)

    async def _batch_read(self, request: Request) -> tuple[int, Record | None]:
        object_type = _object_type(request)
        body = await _json(request)
        inputs = _limited(body.get("inputs"))
        requested = self.state.clock()
        properties = [str(p) for p in body.get("properties") or []]
        id_property = body.get("idProperty")
        results: list[Record] = []
        missing: list[str] = []
        for item in inputs:
            key = item.get("id")
            try:
                results.append(
                    self.state.get(object_type, key, id_property=id_property, properties=properties)
                )
            except HubSpotAPIError as error:
                if error.status != 404:
                    raise
                missing.append(str(key))
        errors = []
        if missing:
            errors.append(
                batch_error(
                    f"Could not get some {SINGULAR[object_type].upper()} objects, they may be "
                    "deleted or not exist. Check that ids are valid.",
                    "OBJECT_NOT_FOUND",
                    context={"ids": missing},
                )
            )
        done = self.state.clock()
        envelope = batch_envelope(
            results, errors, requested=requested, started=requested, completed=done
        )
        return (207 if errors else 200), envelope

    async def _batch_archive(self, request: Request) -> tuple[int, Record | None]:
        object_type = _object_type(request)
        for item in await _inputs(request):
            self.state.archive(object_type, item.get("id"))
        return 204, None
