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
from typing import Any
from urllib.parse import quote, urlencode

from chatkit._optional import missing

try:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
except ImportError as exc:
    raise missing("starlette", "the Zendesk emulator", exc) from exc

from .._server import BackgroundServer, Emulator
from ._records import ACCOUNT_ID, ADMIN_USER_ID, BULK_LIMIT, Record, ZendeskAPIError
from ._state import FailurePlan, ZendeskState
from .webhooks import SignedWebhook, build_signed_webhook

__all__ = ["BULK_LIMIT", "ZendeskAPIError", "ZendeskEmulator", "ZendeskState"]

Handler = Callable[[Request], Awaitable[tuple[int, Record]]]

TOO_MANY_VALUES: Record = {
    "error": "TooManyValues",
    "description": "Parameter  cannot specify more than 100 values",
    "max_count": 100,
}
"""The 400 body of a bulk call with more than 100 items, exactly as Zendesk sends it."""

_FAILURE_BODIES: dict[int, Record] = {
    401: {"error": "Couldn't authenticate you"},
    403: {"error": "Forbidden", "description": "You do not have access to this page."},
    429: {
        "error": "APIRateLimitExceeded",
        "description": "Number of allowed API requests per minute exceeded",
    },
    500: {"error": "InternalServerError", "description": "Something went wrong"},
    503: {"error": "ServiceUnavailable", "description": "Service temporarily unavailable"},
}
_RATE_LIMIT_HEADERS = {"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "699"}


class ZendeskEmulator(Emulator):
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

    # -- users ---------------------------------------------------------------------

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

    # -- tickets -------------------------------------------------------------------

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

    # -- uploads -------------------------------------------------------------------

    async def _upload(self, request: Request) -> tuple[int, Record]:
        filename = request.query_params.get("filename", "")
        content_type = request.headers.get("content-type") or "application/octet-stream"
        upload = self.state.create_upload(
            filename,
            await request.body(),
            content_type=content_type.split(";")[0].strip(),
            token=request.query_params.get("token"),
        )
        return 201, {"upload": upload}

    async def _show_attachment(self, request: Request) -> tuple[int, Record]:
        return 200, {"attachment": self.state.get_attachment(request.path_params["attachment_id"])}

    async def _attachment_content(self, request: Request) -> Response:
        token = request.path_params["token"]
        name = request.query_params.get("name")
        with self.state.lock:
            for attachment, content in self.state.attachments.values():
                if f"/attachments/token/{token}/" in attachment["content_url"] and (
                    name is None or attachment["file_name"] == name
                ):
                    return Response(content, 200, media_type=attachment["content_type"])
        return JSONResponse({"error": "RecordNotFound", "description": "Not found"}, 404)


def _id_list(raw: str, *, int_ids: bool = True) -> list[str]:
    """The comma-separated ids of a show_many call: at most 100, integers unless external."""
    items = [item for item in raw.split(",") if item]
    if len(items) > BULK_LIMIT:
        raise ZendeskAPIError(400, TOO_MANY_VALUES)
    if int_ids and not all(item.isdigit() for item in items):
        raise ZendeskAPIError(
            400, {"error": "InvalidParameter", "description": "ids must be integers"}
        )
    return items


def _cursor_page(request: Request, key: str, items: list[Record], base_url: str) -> Record:
    """A page of a list endpoint with cursor pagination (``page[size]``, ``page[after]``)."""
    size = min(int(request.query_params.get("page[size]", "100")), 100)
    after = request.query_params.get("page[after]")
    try:
        start = int(base64.b64decode(after).decode()) if after else 0
    except ValueError as exc:
        raise ZendeskAPIError(
            400, {"error": "InvalidPaginationParameter", "description": "page[after] is invalid"}
        ) from exc
    page = items[start : start + size]
    has_more = start + size < len(items)
    after_cursor = base64.b64encode(str(start + len(page)).encode()).decode()
    params = {k: v for k, v in request.query_params.items() if not k.startswith("page[")}
    params.update({"page[after]": after_cursor, "page[size]": str(size)})
    next_url = f"{base_url}{request.url.path}?{urlencode(params)}"
    return {
        key: page,
        "meta": {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": None},
        "links": {"next": next_url if has_more else None, "prev": None},
    }


def _failure(plan: FailurePlan) -> Response:
    body = _FAILURE_BODIES.get(plan.status, {"error": "Error", "description": "Injected failure"})
    headers = dict(_RATE_LIMIT_HEADERS)
    if plan.retry_after is not None:
        headers["Retry-After"] = str(plan.retry_after)
    return JSONResponse(body, plan.status, headers=headers)


def _client(request: Request) -> str:
    return request.headers.get("user-agent", "unknown")


async def _payload(request: Request, key: str) -> Record:
    try:
        body: Any = await request.json()
    except ValueError as exc:
        raise ZendeskAPIError(400, {"error": "InvalidJSON", "description": str(exc)}) from exc
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise ZendeskAPIError(
            400, {"error": "InvalidParameter", "description": f"{key} parameter is required"}
        )
    return dict(body[key])


async def _bulk_payload(request: Request, key: str) -> list[Record]:
    try:
        body: Any = await request.json()
    except ValueError as exc:
        raise ZendeskAPIError(400, {"error": "InvalidJSON", "description": str(exc)}) from exc
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ZendeskAPIError(
            400, {"error": "InvalidParameter", "description": f"{key} parameter is required"}
        )
    if len(items) > BULK_LIMIT:
        raise ZendeskAPIError(400, TOO_MANY_VALUES)
    return [dict(item) for item in items]


def _item_error(index: int, error: ZendeskAPIError) -> Record:
    """A job result for a failed item: ``details`` is text, as in Zendesk's job results."""
    details = error.body.get("details")
    if isinstance(details, dict):
        texts = [
            str(problem.get("description") if isinstance(problem, dict) else problem)
            for problems in details.values()
            for problem in (problems if isinstance(problems, list) else [problems])
        ]
        text = "; ".join(texts)
    else:
        text = str(details or error.body.get("description") or "")
    return {"index": index, "error": error.body.get("error"), "details": text}


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
