"""An emulator of the HubSpot CRM API, for testing with the real ``hubspot-api-client``.

It serves, over real HTTP on 127.0.0.1, what chatkit syncs with HubSpot:
contacts, tickets and notes (``/crm/v3/objects/{type}``: create answering 201,
read, patch, archive; batch create / update / read / upsert / archive of at
most 100 inputs, with HTTP 207 multi-status answers for partial failures;
upsert by a unique property such as ``chatkit_id``; search with filter groups,
one sort, ``after`` paging up to 200 a page and the 10,000-result cap) and the
v4 default associations (ticket ↔ contact, note ↔ ticket), and the owners
(``GET /crm/v3/owners/`` with ``email``, ``limit`` up to 500, ``after`` and
``archived``; `HubSpotState.add_owner` adds them, and a ticket's
``hubspot_owner_id`` must name an active one). Records carry
``createdAt``/``updatedAt``, ``hs_lastmodifieddate`` (``lastmodifieddate`` for
contacts) and ``hs_object_id``. Errors can be injected per test (the next N
calls answer 429 with HubSpot's body and ``policyName``, 401, 5xx), or a
rate limit switched on. Changes to contacts and tickets queue webhook events,
and `HubSpotEmulator.signed_webhook` builds deliveries signed with v3 as
HubSpot signs them. The state is plain Python (`HubSpotEmulator.state`), so a
test can play an agent editing a ticket "in HubSpot", and every call is logged
by method and path for counting.

Needs ``pip install 'chatkit[emulators,hubspot]'``.

Example:
    ```python
    from chatkit_integrations.hubspot.emulator import HubSpotEmulator

    with HubSpotEmulator(access_token="pat-1") as hubspot:
        client = hubspot.client()            # a hubspot.Client pointed at the emulator
        ...
        hubspot.state.update("tickets", ticket_id, {"hs_pipeline_stage": "4"},
                             source="CRM_UI")   # an agent closes it
        print(hubspot.calls(), hubspot.write_calls())
    ```
"""

from __future__ import annotations

import copy
import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from chatkit._optional import import_optional, missing

try:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
except ImportError as exc:
    raise missing("starlette", "the HubSpot emulator", exc) from exc

from .._server import Emulator
from ._records import (
    BATCH_LIMIT,
    DEFAULT_ASSOCIATION_TYPES,
    OBJECT_TYPES,
    SEARCH_RESULT_CAP,
    SINGULAR,
    TYPE_IDS,
    HubSpotAPIError,
    Record,
    batch_envelope,
    batch_error,
    correlation_id,
    error_body,
    validation_error,
)
from ._state import FailurePlan, HubSpotState, InputError
from .webhooks import SignedWebhook, build_signed_webhook

__all__ = ["BATCH_LIMIT", "SEARCH_RESULT_CAP", "HubSpotAPIError", "HubSpotEmulator", "HubSpotState"]

Handler = Callable[[Request], Awaitable[tuple[int, Record | None]]]

TOO_MANY_INPUTS = (
    "The maximum number of inputs supported in a batch request is 100. "
    "Please reduce the number of items and try again"
)
"""The message of the 400 for a batch over 100 inputs (worded like HubSpot's batch limits)."""

_FAILURE_MESSAGES: dict[int, tuple[str, str]] = {
    401: (
        "Authentication credentials not found. This API supports OAuth 2.0 authentication "
        "and you can find more details at https://developers.hubspot.com/docs/methods/auth/"
        "oauth-overview",
        "INVALID_AUTHENTICATION",
    ),
    403: (
        "This app hasn't been granted all required scopes to make this call.",
        "MISSING_SCOPES",
    ),
    500: ("internal error", "INTERNAL_ERROR"),
    502: ("Bad Gateway", "INTERNAL_ERROR"),
    503: ("Service Unavailable", "INTERNAL_ERROR"),
}
_RATE_MESSAGES = {
    "DAILY": "You have reached your daily limit.",
    "SECONDLY": "You have reached your secondly limit.",
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
}


def rate_limit_body(policy: str) -> Record:
    """HubSpot's 429 body: ``errorType: RATE_LIMIT`` and the ``policyName`` that was hit."""
    return {
        "status": "error",
        "message": _RATE_MESSAGES.get(policy, f"You have reached your {policy.lower()} limit."),
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
        "requestId": secrets.token_hex(16),
    }


class HubSpotEmulator(Emulator):
    """The emulated HubSpot portal and the ASGI app that serves it.

    Args:
        access_token: When set, requests must carry ``Authorization: Bearer``
            with this token (a private app token); otherwise any bearer passes.
        client_secret: The app's client secret for signing webhooks; random by default.
        unique_property: A custom property created on contacts and tickets
            with unique values (for upserts) and on notes (plain, notes cannot
            have unique properties); ``None`` for a bare portal.
        clock: The emulator's clock (timezone-aware datetimes); now by default.
        search_cap: Results a search can page through (HubSpot: 10,000).
    """

    default_port = 8767

    def __init__(
        self,
        *,
        access_token: str | None = None,
        client_secret: str | None = None,
        unique_property: str | None = "chatkit_id",
        clock: Callable[[], datetime] | None = None,
        search_cap: int = SEARCH_RESULT_CAP,
    ) -> None:
        self.state = HubSpotState(clock=clock, search_cap=search_cap)
        if unique_property is not None:
            self.state.define_property("contacts", unique_property, unique=True)
            self.state.define_property("tickets", unique_property, unique=True)
            self.state.define_property("notes", unique_property)
        self._access_token = access_token
        self._client_secret = client_secret or secrets.token_urlsafe(32)
        self.app = Starlette(routes=self._routes())

    def __repr__(self) -> str:
        where = self._server.url if self._server is not None else "not started"
        return f"HubSpotEmulator({where})"

    # -- running -------------------------------------------------------------------

    def client(self, access_token: str | None = None) -> Any:
        """A ``hubspot.Client`` pointed at this emulator (needs ``hubspot-api-client``)."""
        hubspot = import_optional("hubspot", "a HubSpot client")
        token = access_token or self._access_token or "pat-emulator"
        return hubspot.Client.create(access_token=token, host=self.url)

    # -- test controls -------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: int | None = None,
        policy: str = "SECONDLY",
        after: int = 0,
    ) -> None:
        """Answer ``times`` API calls with ``status``, once ``after`` calls were served.

        A 429 carries HubSpot's rate-limit body with ``policyName`` ``policy``
        (``"SECONDLY"``, ``"TEN_SECONDLY_ROLLING"`` or ``"DAILY"``) and, when
        ``retry_after`` is given, a ``Retry-After`` header.
        """
        self.state.fail_next(
            status, times=times, retry_after=retry_after, policy=policy, after=after
        )

    def set_rate_limit(
        self, calls: int | None, per_seconds: float = 10.0, *, daily: int | None = None
    ) -> None:
        """Throttle like HubSpot: 429 past ``calls`` per ``per_seconds`` or ``daily`` calls."""
        self.state.set_rate_limit(calls, per_seconds, daily=daily)

    def calls(self, method: str | None = None, path: str | None = None) -> int:
        """API calls served so far, optionally of one method and/or path prefix."""
        return self.state.calls(method, path)

    def write_calls(self) -> int:
        """API calls that could write (not GETs, searches or batch reads)."""
        return self.state.write_calls()

    def reset_calls(self) -> None:
        """Forget the call log."""
        self.state.reset_calls()

    @property
    def client_secret(self) -> str:
        """The app's client secret (give it to the webhook receiver)."""
        return self._client_secret

    def signed_webhook(
        self,
        events: Sequence[Mapping[str, object]] | bytes | None = None,
        *,
        url: str = "https://example.com/hooks/hubspot",
        timestamp: datetime | int | str | None = None,
    ) -> SignedWebhook:
        """A delivery of ``events`` (default: the queued ones, see `take_events`), v3-signed."""
        payload: Sequence[Mapping[str, object]] | bytes = (
            self.state.take_events() if events is None else events
        )
        return build_signed_webhook(
            payload, client_secret=self._client_secret, url=url, timestamp=timestamp
        )

    def take_events(self) -> list[Record]:
        """The webhook events queued by changes to contacts and tickets since the last take."""
        return self.state.take_events()

    # -- HTTP ----------------------------------------------------------------------

    def _authenticated(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        return self._access_token is None or hmac.compare_digest(token, self._access_token)

    def _wrap(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            self.state.record_call(request.method, request.url.path)
            plan = self.state.take_failure()
            if plan is not None:
                return self._failure(plan)
            if not self._authenticated(request):
                return self._failure(FailurePlan(401, 1))
            headers = self.state.rate_headers()
            try:
                status, body = await handler(request)
            except HubSpotAPIError as error:
                return JSONResponse(error.body, error.status, headers={**headers, **error.headers})
            except InputError as error:
                status = 404 if error.category == "OBJECT_NOT_FOUND" else 400
                if error.category == "CONFLICT":
                    status = 409
                body = error_body(error.message, error.category)
                return JSONResponse(body, status, headers=headers)
            if body is None:
                return Response(status_code=status, headers=headers)
            return JSONResponse(body, status, headers=headers)

        return endpoint

    def _failure(self, plan: FailurePlan) -> Response:
        headers = self.state.rate_headers()
        if plan.status == 429:
            body = rate_limit_body(plan.policy)
            headers["X-HubSpot-RateLimit-Remaining"] = "0"
            if plan.policy == "DAILY":
                headers["X-HubSpot-RateLimit-Daily-Remaining"] = "0"
        else:
            message, category = _FAILURE_MESSAGES.get(
                plan.status, ("Injected failure", "INTERNAL_ERROR")
            )
            body = error_body(message, category)
        if plan.retry_after is not None:
            headers["Retry-After"] = str(plan.retry_after)
        return JSONResponse(body, plan.status, headers=headers)

    def _routes(self) -> list[Route]:
        objects = "/crm/v3/objects/{object_type}"
        table: list[tuple[str, str, Handler]] = [
            (f"{objects}/search", "POST", self._search),
            (f"{objects}/batch/create", "POST", self._batch_create),
            (f"{objects}/batch/update", "POST", self._batch_update),
            (f"{objects}/batch/read", "POST", self._batch_read),
            (f"{objects}/batch/upsert", "POST", self._batch_upsert),
            (f"{objects}/batch/archive", "POST", self._batch_archive),
            (objects, "GET", self._list),
            (objects, "POST", self._create),
            (f"{objects}/{{object_id}}", "GET", self._get),
            (f"{objects}/{{object_id}}", "PATCH", self._update),
            (f"{objects}/{{object_id}}", "DELETE", self._archive),
            (
                "/crm/v4/objects/{from_type}/{from_id}/associations/default/{to_type}/{to_id}",
                "PUT",
                self._associate_one,
            ),
            (
                "/crm/v4/objects/{object_type}/{object_id}/associations/{to_type}",
                "GET",
                self._association_page,
            ),
            (
                "/crm/v4/associations/{from_type}/{to_type}/batch/associate/default",
                "POST",
                self._associate_batch,
            ),
            ("/crm/v4/associations/{from_type}/{to_type}/batch/read", "POST", self._read_batch),
            ("/crm/v3/owners/", "GET", self._owners),
            ("/crm/v3/owners", "GET", self._owners),
        ]
        return [
            Route(path, self._wrap(handler), methods=[method]) for path, method, handler in table
        ]

    # -- owners --------------------------------------------------------------------

    async def _owners(self, request: Request) -> tuple[int, Record | None]:
        params = request.query_params
        return 200, self.state.owners_page(
            email=params.get("email"),
            limit=int(params.get("limit", "100")),
            after=params.get("after"),
            archived=params.get("archived", "false").lower() == "true",
        )

    # -- single objects ------------------------------------------------------------

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

    # -- batches -------------------------------------------------------------------

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

    # -- search --------------------------------------------------------------------

    async def _search(self, request: Request) -> tuple[int, Record | None]:
        object_type = _object_type(request)
        return 200, self.state.search(object_type, await _json(request))

    # -- associations (v4) ---------------------------------------------------------

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


_ALIASES = {
    "contact": "contacts",
    "ticket": "tickets",
    "note": "notes",
    **{type_id: name for name, type_id in TYPE_IDS.items()},
}


def _normalise(object_type: str) -> str:
    name = _ALIASES.get(object_type, object_type)
    if name not in OBJECT_TYPES:
        raise HubSpotAPIError(
            400, error_body(f"Unable to infer object type from: {object_type}", "VALIDATION_ERROR")
        )
    return name


def _object_type(request: Request) -> str:
    return _normalise(str(request.path_params["object_type"]))


def _pair(from_type: str, to_type: str) -> tuple[str, str]:
    pair = (_normalise(from_type), _normalise(to_type))
    if pair not in DEFAULT_ASSOCIATION_TYPES:
        raise validation_error(f"No default association between {pair[0]} and {pair[1]}")
    return pair


def _association_label(from_type: str, to_type: str) -> str:
    return f"{SINGULAR[from_type]}_to_{SINGULAR[to_type]}"


async def _json(request: Request) -> Record:
    try:
        body: Any = await request.json()
    except ValueError:
        raise validation_error("Invalid input JSON: the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected an object")
    return body


def _properties(item: Mapping[str, Any]) -> dict[str, Any]:
    properties = item.get("properties") or {}
    if not isinstance(properties, Mapping):
        raise InputError("properties must be an object", "VALIDATION_ERROR")
    return dict(properties)


def _limited(inputs: object) -> list[Record]:
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise validation_error("Invalid input JSON: inputs must be an array of objects")
    if len(inputs) > BATCH_LIMIT:
        raise validation_error(TOO_MANY_INPUTS)
    return [dict(i) for i in inputs]


async def _inputs(request: Request) -> list[Record]:
    return _limited((await _json(request)).get("inputs"))


def main(argv: list[str] | None = None) -> None:
    """Serve the emulator until interrupted: ``python -m chatkit_integrations.hubspot.emulator``."""
    import argparse

    parser = argparse.ArgumentParser(description="Emulate the HubSpot CRM API locally.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--access-token", default=None, help="require this private app token")
    parser.add_argument("--client-secret", default=None, help="sign webhooks with this secret")
    parser.add_argument(
        "--unique-property", default="chatkit_id", help="the custom unique id property"
    )
    args = parser.parse_args(argv)
    emulator = HubSpotEmulator(
        access_token=args.access_token,
        client_secret=args.client_secret,
        unique_property=args.unique_property or None,
    )
    print(
        f"HubSpot emulator on http://{args.host}:{args.port} - point the client at it with "
        f'hubspot.Client.create(access_token=..., host="http://{args.host}:{args.port}")'
    )
    emulator.serve_forever(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
