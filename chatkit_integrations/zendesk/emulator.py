"""An emulator of the Zendesk Support API, for testing with the real ``zenpy`` client.

It serves, over real HTTP on 127.0.0.1, what chatkit syncs with Zendesk: users
(create, show, ``me``, search by external_id, create_or_update, create_many,
create_or_update_many), tickets (create, show, list by external_id, update with
public or private comments, create_many and update_many as jobs of at most 100
with job statuses; update_many takes one change for many ids, or a list of
individual updates, each with its own comment; a write-only ``assignee_email``
assigns the agent or admin with that email, and any other assignee is refused
with 422 ``RecordInvalid``), ticket comments, file uploads attached to comments
(``uploads`` tokens, attachments and their content), the cursor-based
incremental exports of tickets and users, and the time-based incremental
ticket event export (each audit with its child events; comments in full with
``include=comment_events``), recorded for every change that makes an audit:
API calls, update_many jobs and the state methods tests call. Writes are made by the authenticated
user: the user whose email signs the request, else the account's admin. Errors
can be injected per test (the next N calls answer 429 with ``Retry-After``,
500, 401, ...), and
`ZendeskEmulator.signed_webhook` builds webhook deliveries signed as Zendesk
signs them. The state is plain Python (`ZendeskEmulator.state`), so a test can
play an agent editing a ticket "in Zendesk".

Needs ``pip install 'chatkit[emulators]'``.

Example:
    ```python
    import os
    from zenpy import Zenpy
    from chatkit_integrations.zendesk.emulator import ZendeskEmulator

    with ZendeskEmulator() as zendesk:
        os.environ.update(zendesk.zenpy_env())   # ZENPY_FORCE_SCHEME / _NETLOC
        client = Zenpy(subdomain="chatkit", email="a@example.com", token="t")
        ...
        zendesk.state.update_ticket(1, {"status": "solved"})   # an agent acts
    ```
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from chatkit._optional import missing

try:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
except ImportError as exc:
    raise missing("starlette", "the Zendesk emulator", exc) from exc

from .._server import BackgroundServer, Emulator
from ._emulator_exports import _ExportRoutes
from ._emulator_http import _RATE_LIMIT_HEADERS, TOO_MANY_VALUES, Handler, _failure
from ._emulator_tickets import _TicketRoutes
from ._emulator_uploads import _UploadRoutes
from ._emulator_users import _UserRoutes
from ._records import ADMIN_USER_ID, BULK_LIMIT, ZendeskAPIError
from ._state import FailurePlan, ZendeskState
from .webhooks import SignedWebhook, build_signed_webhook

__all__ = ["BULK_LIMIT", "TOO_MANY_VALUES", "ZendeskAPIError", "ZendeskEmulator", "ZendeskState"]


class ZendeskEmulator(_UserRoutes, _TicketRoutes, _ExportRoutes, _UploadRoutes, Emulator):
    """The emulated Zendesk account and the ASGI app that serves it.

    Args:
        subdomain: The account's subdomain (only cosmetic: URLs point at the emulator).
        api_token: When set, requests must authenticate with this API token
            (``email/token:TOKEN``) or as a bearer; otherwise any credentials pass.
        webhook_secret: The signing secret of the account's webhook; random by default.
        clock: The emulator's clock (timezone-aware datetimes); now by default.
        job_polls: Polls of a job status answering ``working`` before ``completed``.
    """

    default_port = 8765

    def __init__(
        self,
        *,
        subdomain: str = "chatkit",
        api_token: str | None = None,
        webhook_secret: str | None = None,
        clock: Callable[[], datetime] | None = None,
        job_polls: int = 1,
    ) -> None:
        self.subdomain = subdomain
        self.state = ZendeskState(subdomain=subdomain, clock=clock, job_polls=job_polls)
        self._api_token = api_token
        self._webhook_secret = webhook_secret or secrets.token_urlsafe(32)
        self.app = Starlette(routes=self._routes())

    def __repr__(self) -> str:
        where = self._server.url if self._server is not None else "not started"
        return f"ZendeskEmulator(subdomain={self.subdomain!r}, {where})"

    # -- running -------------------------------------------------------------------

    def _started(self, server: BackgroundServer) -> None:
        self.state.base_url = server.url

    @property
    def netloc(self) -> str:
        """``host:port`` of the running emulator."""
        return self.url.removeprefix("http://")

    def zenpy_env(self) -> dict[str, str]:
        """The environment variables that point ``zenpy`` at this emulator."""
        return {"ZENPY_FORCE_SCHEME": "http", "ZENPY_FORCE_NETLOC": self.netloc}

    # -- test controls -------------------------------------------------------------

    def fail_next(
        self, status: int, *, times: int = 1, retry_after: int | None = None, after: int = 0
    ) -> None:
        """Answer ``times`` API calls with ``status`` (429 adds ``Retry-After``).

        ``after`` lets that many calls pass first (an outage in the middle of a batch).
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        self.state.fail_next(status, times=times, retry_after=retry_after, after=after)

    @property
    def webhook_secret(self) -> str:
        """The signing secret of the account's webhook (give it to the receiver)."""
        return self._webhook_secret

    def signed_webhook(
        self, payload: Mapping[str, object] | bytes, *, timestamp: datetime | str | None = None
    ) -> SignedWebhook:
        """A webhook delivery carrying ``payload``, signed with `webhook_secret`."""
        return build_signed_webhook(payload, secret=self._webhook_secret, timestamp=timestamp)

    # -- HTTP ----------------------------------------------------------------------

    def _authenticated(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header:
            return False
        if self._api_token is None:
            return True
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return hmac.compare_digest(value, self._api_token)
        try:
            decoded = base64.b64decode(value).decode()
        except ValueError:
            return False
        _, _, token = decoded.partition("/token:")
        return hmac.compare_digest(token, self._api_token)

    def _caller(self, request: Request) -> int:
        """The authenticated user: the one whose email signs the request, else the admin."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                email = base64.b64decode(value).decode().partition(":")[0]
            except ValueError:
                email = ""
            found = self.state.user_id_by_email(email.removesuffix("/token"))
            if found is not None:
                return found
        return ADMIN_USER_ID

    def _wrap(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            self.state.requests.append((request.method, request.url.path))
            plan = self.state.take_failure()
            if plan is not None:
                return _failure(plan)
            if not self._authenticated(request):
                return _failure(FailurePlan(401, 1))
            request.state.caller = self._caller(request)
            try:
                status, body = await handler(request)
            except ZendeskAPIError as error:
                return JSONResponse(
                    error.body, error.status, headers={**_RATE_LIMIT_HEADERS, **error.headers}
                )
            if status == 204:
                return Response(status_code=204, headers=_RATE_LIMIT_HEADERS)
            return JSONResponse(body, status, headers=_RATE_LIMIT_HEADERS)

        return endpoint

    def _routes(self) -> list[Route]:
        table: list[tuple[str, str, Handler]] = [
            ("/api/v2/users.json", "POST", self._create_user),
            ("/api/v2/users/search.json", "GET", self._search_users),
            ("/api/v2/users/create_or_update.json", "POST", self._create_or_update_user),
            ("/api/v2/users/create_many.json", "POST", self._create_many_users),
            ("/api/v2/users/create_or_update_many.json", "POST", self._create_or_update_many),
            ("/api/v2/users/me.json", "GET", self._me),
            ("/api/v2/users/show_many.json", "GET", self._show_many_users),
            ("/api/v2/users/{user_id:int}.json", "GET", self._show_user),
            ("/api/v2/users/{user_id:int}.json", "PUT", self._update_user),
            ("/api/v2/users/{user_id:int}.json", "DELETE", self._delete_user),
            ("/api/v2/tickets.json", "POST", self._create_ticket),
            ("/api/v2/tickets.json", "GET", self._list_tickets),
            ("/api/v2/tickets/create_many.json", "POST", self._create_many_tickets),
            ("/api/v2/tickets/update_many.json", "PUT", self._update_many_tickets),
            ("/api/v2/tickets/show_many.json", "GET", self._show_many_tickets),
            ("/api/v2/tickets/{ticket_id:int}.json", "GET", self._show_ticket),
            ("/api/v2/tickets/{ticket_id:int}.json", "PUT", self._update_ticket),
            ("/api/v2/tickets/{ticket_id:int}.json", "DELETE", self._delete_ticket),
            ("/api/v2/tickets/{ticket_id:int}/comments.json", "GET", self._list_comments),
            ("/api/v2/job_statuses/{job_id}.json", "GET", self._show_job),
            ("/api/v2/incremental/tickets/cursor.json", "GET", self._incremental_tickets),
            ("/api/v2/incremental/users/cursor.json", "GET", self._incremental_users),
            ("/api/v2/incremental/ticket_events.json", "GET", self._incremental_ticket_events),
            ("/api/v2/uploads.json", "POST", self._upload),
            ("/api/v2/attachments/{attachment_id:int}.json", "GET", self._show_attachment),
        ]
        routes = [
            Route(path, self._wrap(handler), methods=[method]) for path, method, handler in table
        ]
        # The content URL of an attachment: its token is the credential, as in Zendesk.
        routes.append(Route("/attachments/token/{token}/", self._attachment_content))
        return routes

    # -- uploads -------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Serve the emulator until interrupted: ``python -m chatkit_integrations.zendesk.emulator``."""
    import argparse

    parser = argparse.ArgumentParser(description="Emulate the Zendesk Support API locally.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-token", default=None, help="require this API token")
    parser.add_argument("--webhook-secret", default=None, help="sign webhooks with this secret")
    args = parser.parse_args(argv)
    emulator = ZendeskEmulator(api_token=args.api_token, webhook_secret=args.webhook_secret)
    print(
        f"Zendesk emulator on http://{args.host}:{args.port} - point zenpy at it with "
        f"ZENPY_FORCE_SCHEME=http ZENPY_FORCE_NETLOC={args.host}:{args.port}"
    )
    emulator.serve_forever(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
