"""An emulator of the Zoho CRM REST API (v7) and Zoho Accounts' token endpoint.

Where each shape comes from (the official SDK's models, the API reference, or
nothing found) is noted next to the code that answers it, and in the guide's
"What the emulator is based on" section.

It serves, over real HTTP on 127.0.0.1, what chatkit syncs with Zoho CRM, in
the shapes of Zoho's API reference:

- ``POST /oauth/v2/token`` with ``grant_type=refresh_token``: ``access_token``,
  ``api_domain``, ``token_type`` and ``expires_in`` (3600); a bad refresh
  token answers ``{"error": "invalid_code"}`` (with HTTP 200: not confirmed);
- ``GET /crm/v7/{module}`` (``fields`` required, ``ids``, ``sort_by`` /
  ``sort_order``, ``per_page`` up to 200, ``page`` and ``page_token``,
  ``If-Modified-Since``): ``{"data": [...], "info": {"per_page", "count",
  "page", "sort_by", "sort_order", "more_records", "next_page_token",
  "previous_page_token", "page_token_expiry"}}``, or 204 without a body when
  nothing matches; ``GET /crm/v7/{module}/{id}``, the related list
  ``GET /crm/v7/Cases/{id}/Notes`` and ``GET /crm/v7/{module}/deleted``
  (``deleted_by``, ``id``, ``display_name``, ``type``, ``created_by``,
  ``deleted_time``; paged by ``page``);
- ``POST /crm/v7/{module}/upsert`` with ``duplicate_check_fields`` and
  ``POST /crm/v7/{module}`` (insert), up to 100 records a call, answering
  one entry per record in ``data``: ``{"code": "SUCCESS", "action":
  "insert"|"update", "duplicate_field", "details": {"id", "Created_Time",
  "Modified_Time", "Created_By", "Modified_By"}, "message", "status":
  "success"}`` or ``{"code": "INVALID_DATA"|"MANDATORY_NOT_FOUND"|
  "DUPLICATE_DATA", "details": {"api_name", "json_path", ...}, "message",
  "status": "error"}`` (HTTP 201 when all succeed and one was inserted, 200
  when all were updated, 207 when some fail, 400 when all fail - this last one
  not confirmed); ``DELETE /crm/v7/{module}?ids=...``;
- ``POST|GET|DELETE /crm/v7/actions/watch``: notification channels with
  ``channel_id``, ``events``, ``channel_expiry`` (at most a day, one hour by
  default), ``token`` and ``notify_url``; every record change then queues a
  callback body ``{"server_time", "query_params", "module", "resource_uri",
  "ids", "affected_fields", "operation", "channel_id", "token"}``, which
  `ZohoCRMEmulator.take_notifications` returns and `deliver_notifications`
  posts to the channel's ``notify_url``;
- errors: 401 ``INVALID_TOKEN`` for a missing, unknown or expired token; the
  next N calls failing with 429 ``TOO_MANY_REQUESTS`` (with ``Retry-After``
  and the ``X-RATELIMIT-LIMIT`` / ``X-RATELIMIT-REMAINING`` /
  ``X-RATELIMIT-RESET`` headers: status and header names not confirmed by a
  source) or a 5xx ``INTERNAL_ERROR``
  (`ZohoCRMEmulator.fail_next`); records refused by field (`ZohoCRMState.refuse`).

The modules have the fields chatkit uses, plus a unique custom field
(``Chatkit_Id`` by default) on Contacts and Cases. The state is plain Python
(`ZohoCRMEmulator.state`): a test plays an agent editing a case "in Zoho" with
`ZohoCRMState.update`, and counts calls with `calls` / `write_calls`.

Needs ``pip install 'chatkit[emulators]'``.

Example:
    ```python
    with ZohoCRMEmulator(refresh_token="1000.r") as zoho:
        config = {"client_id": "c", "client_secret": "s", "refresh_token": "1000.r",
                  "accounts_url": zoho.url}
        ...
        zoho.state.update("Cases", case_id, {"Status": "Closed"})
    ```
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from chatkit._optional import missing

try:
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
except ImportError as exc:
    raise missing("starlette", "the Zoho CRM emulator", exc) from exc

from .._server import Emulator
from .._time import parse_iso_datetime

__all__ = ["BATCH_LIMIT", "MODULES", "PAGE_LIMIT", "ZohoCRMEmulator", "ZohoCRMState"]

Record = dict[str, Any]

BATCH_LIMIT = 100
"""Records per insert / upsert / delete call, as in Zoho CRM."""
PAGE_LIMIT = 200
"""The largest ``per_page`` of a record list."""
MODULES = ("Contacts", "Cases", "Notes")
MANDATORY = {"Contacts": ("Last_Name",), "Cases": ("Subject",), "Notes": ("Note_Content",)}
PICKLISTS = {
    ("Cases", "Status"): ("New", "On Hold", "Escalated", "Closed"),
    ("Cases", "Priority"): ("High", "Medium", "Low"),
    ("Cases", "Case_Origin"): ("Phone", "Email", "Web"),
}
STANDARD_FIELDS = {
    "Contacts": {"First_Name", "Last_Name", "Email", "Phone", "Owner", "Description"},
    "Cases": {
        "Subject",
        "Status",
        "Priority",
        "Case_Origin",
        "Contact_Name",
        "Description",
        "Owner",
    },
    "Notes": {"Note_Title", "Note_Content", "Parent_Id", "Owner"},
}
for _fields in STANDARD_FIELDS.values():
    _fields |= {"Created_Time", "Modified_Time", "Created_By", "Modified_By"}
TOKEN_SECONDS = 3600
USER = {"name": "Patricia Boyle", "id": "5725767000000411001", "email": "p.boyle@zylker.com"}
"""The API user: ``Created_By`` / ``Modified_By`` of what the API writes."""
AGENT = {"name": "Ana Agent", "id": "5725767000000411002", "email": "ana@zylker.com"}
"""The CRM user behind `ZohoCRMState.update` / `create` (an agent in the UI)."""


def zoho_time(moment: datetime) -> str:
    """``2024-01-15T15:26:49+00:00``: Zoho's datetime format (seconds, with offset)."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def error(code: str, message: str, details: Mapping[str, Any] | None = None) -> Record:
    """An error entry or body in Zoho's shape.

    Keys, codes and messages are those of the official SDK's APIException model
    (zoho/zohocrm-python-sdk-8.0, versions/6.0.0/zohocrmsdk/src/json_details.json,
    "record.APIException"): ``code`` (INVALID_DATA, MANDATORY_NOT_FOUND, DUPLICATE_DATA,
    INVALID_TOKEN, LIMIT_EXCEEDED, LIMIT_REACHED, REQUIRED_PARAM_MISSING, INVALID_MODULE,
    INTERNAL_ERROR, ...), ``details``, ``message`` and ``status`` "error".
    ``TOO_MANY_REQUESTS`` is not in that list; Zoho names it for exceeded concurrency
    limits (help.zoho.com, "Kaizen #203 - Handling API Limits and Error Responses").
    """
    return {"code": code, "details": dict(details or {}), "message": message, "status": "error"}


@dataclass
class _Channel:
    channel_id: str
    events: list[str]
    expiry: datetime
    token: str | None
    notify_url: str


@dataclass
class ZohoCRMState:
    """Records, tokens, channels, the call log and failure plans of one emulated org."""

    unique_field: str | None = "Chatkit_Id"
    clock: Any = None
    records: dict[str, dict[str, Record]] = field(default_factory=lambda: {m: {} for m in MODULES})
    deleted: dict[str, list[Record]] = field(default_factory=lambda: {m: [] for m in MODULES})
    refused: dict[tuple[str, str], str] = field(default_factory=dict)
    tokens: dict[str, datetime] = field(default_factory=dict)
    channels: dict[str, _Channel] = field(default_factory=dict)
    notifications: list[tuple[str, Record]] = field(default_factory=list)
    log: list[tuple[str, str]] = field(default_factory=list)
    failures: list[tuple[int, float | None]] = field(default_factory=list)
    refreshes: int = 0
    refused_tokens: int = 0
    _next_id: int = 5725767000000500000
    lock: threading.RLock = field(default_factory=threading.RLock)

    def fields(self, module: str) -> set[str]:
        """The fields ``module`` has: standard ones, and the unique custom field."""
        standard = STANDARD_FIELDS[module]
        custom = {self.unique_field} if self.unique_field and module != "Notes" else set()
        return {*standard, *custom}

    def now(self) -> datetime:
        """The emulator's clock (UTC)."""
        return self.clock() if self.clock is not None else datetime.now(UTC)

    def _id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    # -- for tests: the CRM user's edits ------------------------------------------

    def find(self, module: str, field_name: str, value: object) -> list[Record]:
        """Records of ``module`` whose ``field_name`` is ``value``."""
        return [r for r in self.records[module].values() if r.get(field_name) == value]

    def get(self, module: str, record_id: str) -> Record:
        """One record (raises `KeyError`)."""
        return self.records[module][record_id]

    def create(
        self, module: str, values: Mapping[str, Any], *, by: Mapping[str, str] = AGENT
    ) -> Record:
        """Create a record as a CRM user would (queues notifications)."""
        with self.lock:
            return self._write(module, None, dict(values), by)[0]

    def update(
        self,
        module: str,
        record_id: str,
        values: Mapping[str, Any],
        *,
        by: Mapping[str, str] = AGENT,
    ) -> Record:
        """Change a record as a CRM user would (queues notifications)."""
        with self.lock:
            return self._write(module, record_id, dict(values), by)[0]

    def refuse(self, module: str, field_name: str, message: str = "invalid data") -> None:
        """Refuse, as ``INVALID_DATA``, every record written with ``field_name`` set."""
        self.refused[(module, field_name)] = message

    def expire_tokens(self) -> None:
        """Expire every access token issued (the next call answers 401 INVALID_TOKEN)."""
        self.tokens.clear()

    # -- writes --------------------------------------------------------------------

    def _check(
        self, module: str, values: Record, index: int, existing: Record | None
    ) -> Record | None:
        for name in MANDATORY[module]:
            if not values.get(name) and not (existing or {}).get(name):
                return error(
                    "MANDATORY_NOT_FOUND",
                    "required field not found",
                    {"api_name": name, "json_path": f"$.data[{index}].{name}"},
                )
        for name, value in values.items():
            if (module, name) in self.refused and value not in (None, ""):
                return error(
                    "INVALID_DATA",
                    self.refused[(module, name)],
                    {"api_name": name, "json_path": f"$.data[{index}].{name}"},
                )
            allowed = PICKLISTS.get((module, name))
            if allowed is not None and value not in (None, *allowed):
                return error(
                    "INVALID_DATA",
                    "invalid data",
                    {
                        "api_name": name,
                        "json_path": f"$.data[{index}].{name}",
                        "expected_data_type": "picklist",
                    },
                )
            if name == "Email" and value and "@" not in str(value):
                return error(
                    "INVALID_DATA",
                    "invalid data",
                    {
                        "api_name": name,
                        "json_path": f"$.data[{index}].{name}",
                        "expected_data_type": "email",
                    },
                )
        if module == "Notes" and existing is None:
            parent = values.get("Parent_Id")
            parent_module = values.get("$se_module") or values.get("se_module")
            if isinstance(parent, dict):
                parent_module = (parent.get("module") or {}).get("api_name") or parent_module
                parent = parent.get("id")
            if parent_module not in ("Contacts", "Cases") or str(parent) not in self.records.get(
                str(parent_module), {}
            ):
                return error(
                    "INVALID_DATA",
                    "the id given seems to be invalid",
                    {"api_name": "Parent_Id", "json_path": f"$.data[{index}].Parent_Id"},
                )
        return None

    def _write(
        self,
        module: str,
        record_id: str | None,
        values: Record,
        by: Mapping[str, str],
        index: int = 0,
    ) -> tuple[Record, str]:
        existing = self.records[module].get(record_id) if record_id else None
        if record_id and existing is None:
            raise KeyError(record_id)
        problem = self._check(module, values, index, existing)
        if problem is not None:
            return problem, "error"
        now = zoho_time(self.now())
        user = {"name": by["name"], "id": by["id"], "email": by["email"]}
        if module == "Notes" and existing is None:
            parent = values.pop("Parent_Id")
            parent_module = values.pop("$se_module", None) or values.pop("se_module", None)
            if isinstance(parent, dict):
                parent_module = parent["module"]["api_name"]
                parent = parent["id"]
            values["Parent_Id"] = {"module": {"api_name": parent_module}, "id": str(parent)}
            values["$se_module"] = parent_module
        if isinstance(values.get("Contact_Name"), dict):
            values["Contact_Name"] = {"id": str(values["Contact_Name"].get("id"))}
        if existing is None:
            record: Record = {"id": self._id(), "Created_Time": now, "Created_By": user}
            self.records[module][record["id"]] = record
            operation = "insert"
        else:
            record = existing
            operation = "update"
        changed = [k for k, v in values.items() if record.get(k) != v]
        record.update(values)
        record["Modified_Time"] = now
        record["Modified_By"] = user
        if existing is None or changed:
            self._notify(module, operation, record["id"], changed)
        return record, operation

    def _notify(self, module: str, operation: str, record_id: str, fields: list[str]) -> None:
        verb = {"insert": "create", "update": "edit"}.get(operation, operation)
        for channel in self.channels.values():
            if channel.expiry <= self.now():
                continue
            if not {f"{module}.all", f"{module}.{verb}"} & set(channel.events):
                continue
            # The keys, their order and an "insert" with empty affected_fields are those of
            # the API reference's "Sample response received at the notification URL"
            # (zoho.com/crm/developer/docs/api/v7/notifications/enable.html), whose
            # resource_uri reads .../crm/v2/{module} even on the v7 page; channel_id is a
            # string there. NOT confirmed: the "update" / "delete" operation names (a public
            # consumer, PipedreamHQ/pipedream's Zoho CRM source, tests operation ==
            # "delete") and the shape of affected_fields for an update.
            body: Record = {
                "server_time": int(self.now().timestamp() * 1000),
                "query_params": {},
                "module": module,
                "resource_uri": f"https://www.zohoapis.com/crm/v2/{module}",
                "ids": [record_id],
                "affected_fields": [{record_id: fields}] if operation == "update" else [],
                "operation": operation,
                "channel_id": channel.channel_id,
                "token": channel.token,
            }
            self.notifications.append((channel.notify_url, body))

    def delete(self, module: str, record_id: str, *, by: Mapping[str, str] = AGENT) -> bool:
        """Delete a record (to the recycle bin); False when there is none."""
        with self.lock:
            record = self.records[module].pop(record_id, None)
            if record is None:
                return False
            user = {"name": by["name"], "id": by["id"]}
            # Exactly the rows of the API reference's v7 "Sample Response" (zoho.com/crm/
            # developer/docs/api/v7/get-deleted-records.html): deleted_by {name, id}, id,
            # display_name, type, created_by {name, id}, deleted_time; the same keys as the
            # official SDK's DeletedRecord model. (The old v2 sample spelt "Created_By".)
            self.deleted[module].append(
                {
                    "deleted_by": user,
                    "id": record_id,
                    "display_name": record.get("Last_Name") or record.get("Subject") or "",
                    "type": "recycle",
                    "created_by": {
                        "name": record["Created_By"]["name"],
                        "id": record["Created_By"]["id"],
                    },
                    "deleted_time": zoho_time(self.now()),
                }
            )
            self._notify(module, "delete", record_id, [])
            return True

    # -- calls ---------------------------------------------------------------------

    def calls(self, method: str | None = None, path: str | None = None) -> int:
        """API calls served, optionally of one method and/or path prefix."""
        return sum(
            1
            for m, p in self.log
            if (method is None or m == method) and (path is None or p.startswith(path))
        )

    def write_calls(self) -> int:
        """Record writes (POST/PUT/PATCH/DELETE on modules; not token or watch calls)."""
        return sum(
            1
            for m, p in self.log
            if m != "GET" and p.startswith("/crm/") and "/actions/watch" not in p
        )


class ZohoCRMEmulator(Emulator):
    """The emulated Zoho CRM org and the ASGI app that serves it.

    Args:
        client_id: The OAuth client's id the token endpoint expects.
        client_secret: Its secret.
        refresh_token: The refresh token it exchanges for access tokens.
        unique_field: The unique custom field on Contacts and Cases (``None``:
            an org without it; upserts naming it answer ``INVALID_DATA``).
        clock: A clock giving aware datetimes (default: now).
        token_seconds: Lifetime of the access tokens issued (Zoho: 3600).
    """

    default_port = 8769

    def __init__(
        self,
        *,
        client_id: str = "1000.CLIENT",
        client_secret: str = "client-secret",
        refresh_token: str = "1000.refresh",
        unique_field: str | None = "Chatkit_Id",
        clock: Any = None,
        token_seconds: int = TOKEN_SECONDS,
    ) -> None:
        self.state = ZohoCRMState(unique_field=unique_field, clock=clock)
        self.token_seconds = token_seconds
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.app = Starlette(
            routes=[
                Route("/oauth/v2/token", self._token, methods=["POST"]),
                Route(
                    "/crm/v7/actions/watch", self._watch, methods=["GET", "POST", "PUT", "DELETE"]
                ),
                Route("/crm/v7/{module}/upsert", self._upsert, methods=["POST"]),
                Route("/crm/v7/{module}/deleted", self._deleted, methods=["GET"]),
                Route("/crm/v7/{module}/{id}/Notes", self._related_notes, methods=["GET"]),
                Route("/crm/v7/{module}/{id}", self._one, methods=["GET"]),
                Route("/crm/v7/{module}", self._module, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )

    # -- test controls ---------------------------------------------------------------

    def fail_next(
        self, status: int, *, times: int = 1, retry_after: float | None = None, after: int = 0
    ) -> None:
        """Answer ``times`` API calls (not token calls) with ``status``, after ``after`` more.

        Plans add up: ``fail_next(429, times=2)`` then ``fail_next(502, after=4)``
        fails calls 1, 2 and 5 from now.
        """
        with self.state.lock:
            queue = self.state.failures
            while len(queue) < after:
                queue.append((0, None))  # a call that passes
            for offset in range(times):
                at = after + offset
                if at < len(queue) and queue[at][0] == 0:
                    queue[at] = (status, retry_after)
                else:
                    queue.insert(at, (status, retry_after))

    def calls(self, method: str | None = None, path: str | None = None) -> int:
        """API calls served (see `ZohoCRMState.calls`)."""
        return self.state.calls(method, path)

    def write_calls(self) -> int:
        """Record writes served (see `ZohoCRMState.write_calls`)."""
        return self.state.write_calls()

    def reset_calls(self) -> None:
        """Forget the call log."""
        self.state.log.clear()

    def take_notifications(self) -> list[tuple[str, Record]]:
        """``(notify_url, body)`` of the callbacks queued since the last take."""
        with self.state.lock:
            taken, self.state.notifications = self.state.notifications, []
        return taken

    def deliver_notifications(self) -> int:
        """POST the queued callbacks to their ``notify_url``; the number delivered."""
        taken = self.take_notifications()
        for url, body in taken:
            httpx.post(url, json=body, timeout=10.0)
        return len(taken)

    # -- HTTP ----------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        form.update(request.query_params)
        with self.state.lock:
            self.state.log.append(("POST", "/oauth/v2/token"))
            if form.get("grant_type") != "refresh_token":
                return JSONResponse({"error": "unsupported_grant_type"})
            if (
                form.get("client_id") != self.client_id
                or form.get("client_secret") != self.client_secret
            ):
                return JSONResponse({"error": "invalid_client"})
            if form.get("refresh_token") != self.refresh_token:
                # {"error": "invalid_code"} for a refused refresh token: help.zoho.com
                # community, "OAuth - grant_type:refresh_token - {"error":"invalid_code"}".
                # The official SDK (zoho/zohocrm-python-sdk-8.0, api/authenticator/
                # oauth_token.py, parse_response) reads an error from the body's "error"
                # key whatever the HTTP status; HTTP 200 itself is NOT confirmed.
                return JSONResponse({"error": "invalid_code"})
            self.state.refreshes += 1
            token = "1000." + secrets.token_hex(16)
            self.state.tokens[token] = self.state.now() + timedelta(seconds=self.token_seconds)
        return JSONResponse(
            {
                "access_token": token,
                "scope": "ZohoCRM.modules.ALL ZohoCRM.notifications.ALL",
                "api_domain": str(request.base_url).rstrip("/"),
                "token_type": "Bearer",
                "expires_in": self.token_seconds,
            }
        )

    def _gate(self, request: Request) -> Response | None:
        """Log the call; answer 401 or an injected failure, or None to go on."""
        with self.state.lock:
            self.state.log.append((request.method, request.url.path))
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            expiry = self.state.tokens.get(token)
            if scheme != "Zoho-oauthtoken" or expiry is None or expiry <= self.state.now():
                self.state.refused_tokens += 1
                return JSONResponse(error("INVALID_TOKEN", "invalid oauth token"), status_code=401)
            status, retry_after = self.state.failures.pop(0) if self.state.failures else (0, None)
            if status:
                if status == 429:
                    # NOT confirmed by a source: the HTTP status 429, the Retry-After and
                    # X-RATELIMIT-* header names (no Zoho page or SDK found names them; the
                    # official SDKs read no rate-limit header) and this message.
                    wait = retry_after if retry_after is not None else 1
                    reset = int((self.state.now().timestamp() + wait) * 1000)
                    return JSONResponse(
                        error("TOO_MANY_REQUESTS", "The number of requests exceeded the limit"),
                        status_code=429,
                        headers={
                            "Retry-After": f"{wait:g}",
                            "X-RATELIMIT-LIMIT": "100",
                            "X-RATELIMIT-REMAINING": "0",
                            "X-RATELIMIT-RESET": str(reset),
                        },
                    )
                if status == 401:
                    return JSONResponse(
                        error("INVALID_TOKEN", "invalid oauth token"), status_code=401
                    )
                return JSONResponse(
                    error("INTERNAL_ERROR", "Internal Server Error"), status_code=status
                )
        return None

    @staticmethod
    def _bad_module(module: str) -> Response | None:
        if module not in MODULES:
            return JSONResponse(
                error("INVALID_MODULE", "The module name given seems to be invalid"),
                status_code=400,
            )
        return None

    async def _records_body(self, request: Request) -> tuple[list[Any], Record] | Response:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse(error("INVALID_DATA", "invalid data"), status_code=400)
        except ClientDisconnect:  # the client went away mid-request (a killed worker)
            return Response(status_code=400)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not data:
            return JSONResponse(
                error("MANDATORY_NOT_FOUND", "required field not found", {"api_name": "data"}),
                status_code=400,
            )
        if len(data) > BATCH_LIMIT:
            return JSONResponse(
                error(
                    "LIMIT_EXCEEDED",
                    "the number of records exceeds the limit",
                    {"limit": BATCH_LIMIT},
                ),
                status_code=400,
            )
        return data, body

    @staticmethod
    def _answer(entries: list[Record]) -> Response:
        # Zoho CRM's status codes page (zoho.com/crm/developer/docs/api/v8/status-codes.html):
        # 201 "record added" for insertions, 207 Multi-Status when a batch is partly
        # successful. 200 when every record is updated (or deleted). 400 when every record
        # fails is NOT confirmed by a source (the client accepts a 400 with per-record data).
        failed = sum(1 for e in entries if e["status"] == "error")
        if failed:
            status = 400 if failed == len(entries) else 207
        else:
            status = 201 if any(e.get("action") == "insert" for e in entries) else 200
        return JSONResponse({"data": entries}, status_code=status)

    @staticmethod
    def _success(record: Record, operation: str, duplicate_field: str | None) -> Record:
        # Exactly the API reference's v7 upsert "Sample Response" (zoho.com/crm/developer/
        # docs/api/v7/upsert-records.html): code "SUCCESS", duplicate_field (null on
        # insert), action "insert" | "update", details {Modified_Time, Modified_By {name,
        # id}, Created_Time, id, Created_By {name, id}}, message "record added" | "record
        # updated", status "success", in that order; the same keys as the official SDK's
        # SuccessResponse (zoho/zohocrm-python-sdk-8.0, versions/6.0.0/zohocrmsdk/src/
        # json_details.json). Whether a plain insert / update also carries
        # duplicate_field and action is NOT confirmed (the SDK makes both optional).
        entry: Record = {
            "code": "SUCCESS",
            "details": {
                "Modified_Time": record["Modified_Time"],
                "Modified_By": {
                    "name": record["Modified_By"]["name"],
                    "id": record["Modified_By"]["id"],
                },
                "Created_Time": record["Created_Time"],
                "id": record["id"],
                "Created_By": {
                    "name": record["Created_By"]["name"],
                    "id": record["Created_By"]["id"],
                },
            },
            "message": "record added" if operation == "insert" else "record updated",
            "status": "success",
        }
        return {"code": "SUCCESS", "duplicate_field": duplicate_field, "action": operation, **entry}

    async def _upsert(self, request: Request) -> Response:
        module = request.path_params["module"]
        failure = self._gate(request) or self._bad_module(module)
        if failure is not None:
            return failure
        parsed = await self._records_body(request)
        if isinstance(parsed, Response):
            return parsed
        data, body = parsed
        checks = body.get("duplicate_check_fields") or [self.state.unique_field]
        unknown = [c for c in checks if c not in self.state.fields(module)]
        if unknown:
            return JSONResponse(
                error(
                    "INVALID_DATA",
                    "invalid data",
                    {"api_name": unknown[0], "json_path": "$.duplicate_check_fields"},
                ),
                status_code=400,
            )
        entries: list[Record] = []
        with self.state.lock:
            for index, values in enumerate(data):
                if not isinstance(values, dict):
                    entries.append(
                        error("INVALID_DATA", "invalid data", {"json_path": f"$.data[{index}]"})
                    )
                    continue
                found: Record | None = None
                matched: str | None = None
                for name in checks:
                    if values.get(name) not in (None, ""):
                        hits = self.state.find(module, name, values[name])
                        if hits:
                            found, matched = hits[0], name
                            break
                record, operation = self.state._write(
                    module, found["id"] if found else None, dict(values), USER, index
                )
                entries.append(
                    record if operation == "error" else self._success(record, operation, matched)
                )
        return self._answer(entries)

    async def _module(self, request: Request) -> Response:
        module = request.path_params["module"]
        failure = self._gate(request) or self._bad_module(module)
        if failure is not None:
            return failure
        if request.method == "POST":
            parsed = await self._records_body(request)
            if isinstance(parsed, Response):
                return parsed
            data, _ = parsed
            entries: list[Record] = []
            with self.state.lock:
                for index, values in enumerate(data):
                    if (
                        module != "Notes"
                        and self.state.unique_field
                        and values.get(self.state.unique_field)
                        and self.state.find(
                            module, self.state.unique_field, values[self.state.unique_field]
                        )
                    ):
                        entries.append(
                            error(
                                "DUPLICATE_DATA",
                                "duplicate data",
                                {
                                    "api_name": self.state.unique_field,
                                    "json_path": f"$.data[{index}].{self.state.unique_field}",
                                },
                            )
                        )
                        continue
                    record, operation = self.state._write(module, None, dict(values), USER, index)
                    entries.append(
                        record if operation == "error" else self._success(record, operation, None)
                    )
            return self._answer(entries)
        if request.method == "PUT":
            parsed = await self._records_body(request)
            if isinstance(parsed, Response):
                return parsed
            data, _ = parsed
            entries = []
            with self.state.lock:
                for index, values in enumerate(data):
                    values = dict(values) if isinstance(values, dict) else {}
                    record_id = str(values.pop("id", ""))
                    if record_id not in self.state.records[module]:
                        entries.append(
                            error(
                                "INVALID_DATA",
                                "the id given seems to be invalid",
                                {"api_name": "id", "json_path": f"$.data[{index}].id"},
                            )
                        )
                        continue
                    record, operation = self.state._write(module, record_id, values, USER, index)
                    entries.append(
                        record if operation == "error" else self._success(record, operation, None)
                    )
            return self._answer(entries)
        if request.method == "DELETE":
            ids = [i for i in request.query_params.get("ids", "").split(",") if i]
            if not ids or len(ids) > BATCH_LIMIT:
                return JSONResponse(
                    error("INVALID_DATA", "invalid data", {"api_name": "ids"}),
                    status_code=400,
                )
            entries = []
            for record_id in ids:
                if self.state.delete(module, record_id):
                    entries.append(
                        {
                            "code": "SUCCESS",
                            "details": {"id": record_id},
                            "message": "record deleted",
                            "status": "success",
                        }
                    )
                else:
                    entries.append(
                        error(
                            "INVALID_DATA",
                            "the id given seems to be invalid",
                            {"id": record_id},
                        )
                    )
            return self._answer(entries)
        return self._list(request, module, None)

    def _list(self, request: Request, module: str, parent: str | None) -> Response:
        params = request.query_params
        fields = [f for f in params.get("fields", "").split(",") if f]
        if not fields:
            return JSONResponse(
                error(
                    "REQUIRED_PARAM_MISSING",
                    "One of the expected parameter is missing",
                    {"param": "fields"},
                ),
                status_code=400,
            )
        try:
            per_page = int(params.get("per_page", PAGE_LIMIT))
            page = int(params.get("page", 1))
        except ValueError:
            return JSONResponse(
                error("INVALID_DATA", "invalid data", {"param": "per_page"}), status_code=400
            )
        if not 1 <= per_page <= PAGE_LIMIT:
            return JSONResponse(
                error(
                    "INVALID_DATA",
                    "invalid data",
                    {"param": "per_page", "maximum_length": PAGE_LIMIT},
                ),
                status_code=400,
            )
        since_header = request.headers.get("if-modified-since")
        since: datetime | None = None
        if since_header:
            try:
                since = parse_iso_datetime(since_header)
            except ValueError:
                return JSONResponse(error("INVALID_DATA", "invalid data"), status_code=400)
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
        with self.state.lock:
            rows = list(self.state.records[module].values())
            ids = [i for i in params.get("ids", "").split(",") if i]
            if ids:
                rows = [r for r in rows if r["id"] in ids]
            if parent is not None:
                rows = [r for r in rows if r.get("Parent_Id", {}).get("id") == parent]
            if since is not None:
                rows = [r for r in rows if parse_iso_datetime(r["Modified_Time"]) > since]
            sort_by = params.get("sort_by", "id")
            reverse = params.get("sort_order", "desc") == "desc"
            rows.sort(key=lambda r: (str(r.get(sort_by, "")), int(r["id"])), reverse=reverse)
            token = params.get("page_token")
            if token is not None:
                if not token.isdigit():
                    return JSONResponse(
                        error("INVALID_DATA", "invalid data", {"param": "page_token"}),
                        status_code=400,
                    )
                start = int(token)
            else:
                if page * per_page > 2000:
                    return JSONResponse(
                        error(
                            "LIMIT_REACHED",
                            "maximum limit reached, use page_token",
                            {"limit": 2000},
                        ),
                        status_code=400,
                    )
                start = (page - 1) * per_page
            chunk = rows[start : start + per_page]
            more = start + per_page < len(rows)
            known = self.state.fields(module)
            data = [
                {
                    **{f: r.get(f) for f in fields if f in known},  # unset fields are null
                    **{k: v for k, v in r.items() if k == "id" or k.startswith("$")},
                }
                for r in chunk
            ]
        if not data:
            return Response(status_code=204)
        info = {
            "per_page": per_page,
            "count": len(data),
            "page": page if token is None else start // per_page + 1,
            "sort_by": params.get("sort_by", "id"),
            "sort_order": params.get("sort_order", "desc"),
            "more_records": more,
            "next_page_token": str(start + per_page) if more else None,
            "previous_page_token": None,
            "page_token_expiry": zoho_time(self.state.now() + timedelta(days=1)) if more else None,
        }
        return JSONResponse({"data": data, "info": info})

    async def _one(self, request: Request) -> Response:
        module = request.path_params["module"]
        failure = self._gate(request) or self._bad_module(module)
        if failure is not None:
            return failure
        with self.state.lock:
            record = self.state.records[module].get(request.path_params["id"])
            if record is None:
                return Response(status_code=204)
            return JSONResponse({"data": [dict(record)]})

    async def _deleted(self, request: Request) -> Response:
        """``GET /{module}/deleted``: deleted records, newest first, paged by number."""
        module = request.path_params["module"]
        failure = self._gate(request) or self._bad_module(module)
        if failure is not None:
            return failure
        params = request.query_params
        try:
            per_page = min(int(params.get("per_page", PAGE_LIMIT)), PAGE_LIMIT)
            page = max(int(params.get("page", 1)), 1)
        except ValueError:
            return JSONResponse(error("INVALID_DATA", "invalid data"), status_code=400)
        since = request.headers.get("if-modified-since")
        with self.state.lock:
            rows = list(reversed(self.state.deleted[module]))
        if since:
            moment = parse_iso_datetime(since)
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            rows = [r for r in rows if parse_iso_datetime(r["deleted_time"]) > moment]
        chunk = rows[(page - 1) * per_page : page * per_page]
        if not chunk:
            return Response(status_code=204)
        # {"data", "info": {per_page, count, page, more_records}} as the v7 sample response.
        info = {
            "per_page": per_page,
            "count": len(chunk),
            "page": page,
            "more_records": page * per_page < len(rows),
        }
        return JSONResponse({"data": chunk, "info": info})

    async def _related_notes(self, request: Request) -> Response:
        module = request.path_params["module"]
        failure = self._gate(request) or self._bad_module(module)
        if failure is not None:
            return failure
        return self._list(request, "Notes", request.path_params["id"])

    async def _watch(self, request: Request) -> Response:
        failure = self._gate(request)
        if failure is not None:
            return failure
        if request.method == "GET":
            with self.state.lock:
                watch = [
                    {
                        "channel_id": c.channel_id,
                        "events": c.events,
                        "channel_expiry": zoho_time(c.expiry),
                        "token": c.token,
                        "notify_url": c.notify_url,
                        "notify_on_related_action": False,
                    }
                    for c in self.state.channels.values()
                ]
            return JSONResponse({"watch": watch}) if watch else Response(status_code=204)
        if request.method == "DELETE":
            ids = [i for i in request.query_params.get("channel_ids", "").split(",") if i]
            with self.state.lock:
                for channel_id in ids:
                    self.state.channels.pop(channel_id, None)
            return JSONResponse(
                {
                    "watch": [
                        {
                            "code": "SUCCESS",
                            "details": {"channel_id": i},
                            "message": "Successfully unsubscribed from actions-watch",
                            "status": "success",
                        }
                        for i in ids
                    ]
                }
            )
        try:
            body = await request.json()
        except (ValueError, ClientDisconnect):
            return JSONResponse(error("INVALID_DATA", "invalid data"), status_code=400)
        answers: list[Record] = []
        now = self.state.now()
        for item in body.get("watch", []):
            if not item.get("notify_url") or not item.get("channel_id") or not item.get("events"):
                answers.append(
                    error(
                        "MANDATORY_NOT_FOUND",
                        "required field not found",
                        {"api_name": "notify_url"},
                    )
                )
                continue
            token = item.get("token")
            if token is not None and len(str(token)) > 50:
                answers.append(
                    error(
                        "INVALID_DATA", "invalid data", {"api_name": "token", "maximum_length": 50}
                    )
                )
                continue
            expiry = now + timedelta(hours=1)
            if item.get("channel_expiry"):
                wanted = parse_iso_datetime(item["channel_expiry"])
                if wanted.tzinfo is None:
                    wanted = wanted.replace(tzinfo=UTC)
                if now < wanted <= now + timedelta(days=1):
                    expiry = wanted
            channel = _Channel(
                str(item["channel_id"]), list(item["events"]), expiry, token, item["notify_url"]
            )
            with self.state.lock:
                self.state.channels[channel.channel_id] = channel
            answers.append(
                {
                    "code": "SUCCESS",
                    "details": {
                        "events": [
                            {
                                "channel_expiry": zoho_time(expiry),
                                # as the API reference's sample answer (v2 URI)
                                "resource_uri": f"https://www.zohoapis.com/crm/v2/{e.split('.')[0]}",
                                "resource_id": "5725767000000002179",
                                "resource_name": e.split(".")[0],
                                "channel_id": channel.channel_id,
                            }
                            for e in channel.events
                        ]
                    },
                    "message": "Successfully subscribed for actions-watch of the given module",
                    "status": "success",
                }
            )
        # The API reference lists MANDATORY_NOT_FOUND and INVALID_DATA (a token over 50
        # characters) as HTTP 400 (docs/api/v7/notifications/enable.html, Possible Errors).
        if answers and all(a["status"] == "error" for a in answers):
            return JSONResponse({"watch": answers}, status_code=400)
        return JSONResponse({"watch": answers}, status_code=200 if request.method == "PUT" else 201)


def main(argv: list[str] | None = None) -> None:
    """Serve the emulator until interrupted: ``chatkit emulate zoho_crm``."""
    import argparse

    parser = argparse.ArgumentParser(description="Emulate the Zoho CRM API (v7) locally.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=ZohoCRMEmulator.default_port)
    parser.add_argument("--client-id", default="1000.CLIENT")
    parser.add_argument("--client-secret", default="client-secret")
    parser.add_argument("--refresh-token", default="1000.refresh")
    args = parser.parse_args(argv)
    emulator = ZohoCRMEmulator(
        client_id=args.client_id, client_secret=args.client_secret, refresh_token=args.refresh_token
    )
    print(
        f"Zoho CRM emulator on http://{args.host}:{args.port} - set accounts_url to it "
        f"(client_id {args.client_id}, refresh_token {args.refresh_token})"
    )
    emulator.serve_forever(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
