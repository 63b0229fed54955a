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
from ._emulator_associations import _AssociationRoutes
from ._emulator_batches import _BatchRoutes
from ._emulator_http import _FAILURE_MESSAGES, TOO_MANY_INPUTS, Handler, rate_limit_body
from ._emulator_objects import _ObjectRoutes
from ._emulator_owners import _OwnerRoutes
from ._records import BATCH_LIMIT, SEARCH_RESULT_CAP, HubSpotAPIError, Record, error_body
from ._state import FailurePlan, HubSpotState, InputError
from .webhooks import SignedWebhook, build_signed_webhook

__all__ = [
    "BATCH_LIMIT",
    "SEARCH_RESULT_CAP",
    "TOO_MANY_INPUTS",
    "HubSpotAPIError",
    "HubSpotEmulator",
    "HubSpotState",
    "rate_limit_body",
]


class HubSpotEmulator(_OwnerRoutes, _ObjectRoutes, _BatchRoutes, _AssociationRoutes, Emulator):
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
