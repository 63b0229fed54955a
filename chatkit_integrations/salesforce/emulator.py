"""An emulator of the Salesforce REST API, for testing with the real ``simple-salesforce``.

It serves, over HTTPS on 127.0.0.1 with a throw-away certificate authority
(``trustme``), what chatkit syncs with Salesforce, under the real paths of
``/services/data/vXX.X/``:

- ``sobjects/{Contact|Case|CaseComment|ContentVersion|...}``: create (POST),
  read, update (PATCH, 204) and delete; ``sobjects/{S}/{ExternalIdField}/{value}``
  upsert (201 created; 200 ``created: false`` from API 46.0, 204 before);
  ``sobjects/ContentVersion/{id}/VersionData`` for file content;
- sObject Collections ``composite/sobjects`` (POST create, PATCH update,
  DELETE ``?ids=``) and ``composite/sobjects/{S}/{ExternalIdField}`` (PATCH
  upsert): at most 200 records (more is the real 400 ``EXCEEDED_ID_LIMIT``),
  per-record results, ``allOrNone``;
- SOQL ``query?q=`` / ``queryAll?q=`` (a subset, see `_soql`), paged with
  ``done`` and ``nextRecordsUrl`` (``query/01g...-2000``), on every object
  including ``User`` (e.g. ``SELECT Id, Email FROM User WHERE Email IN (...)
  AND IsActive = true``; `SalesforceState.add_user` adds agents, and an
  inactive user as ``OwnerId`` is refused with ``INACTIVE_OWNER_OR_USER``);
- ``limits`` (``DailyApiRequests``), the ``Sforce-Limit-Info`` header, the
  SOAP ``login`` of username + password + security token and
  ``/services/oauth2/userinfo``.

Failures are injectable per test (`SalesforceEmulator.fail_next`: 401
``INVALID_SESSION_ID``, 403 ``REQUEST_LIMIT_EXCEEDED``, 500, 503
``SERVER_UNAVAILABLE``...), the daily API limit is enforced, every call is
logged (`SalesforceState.calls`, `SalesforceState.call_count`,
`SalesforceState.write_count`), and the state is plain Python
(`SalesforceEmulator.state`), so a test can play an agent editing a case.

Needs ``pip install 'chatkit[emulators]'``.

Example:
    ```python
    from chatkit_integrations.salesforce.emulator import SalesforceEmulator

    with SalesforceEmulator() as org:
        sf = org.client()                      # simple_salesforce.Salesforce
        sf.Contact.create({"LastName": "Smith"})
        case = org.state.create("Case", {"Subject": "Help"})   # an agent acts
        org.state.call_count(method="POST")    # API calls made
    ```
"""

from __future__ import annotations

import html
import json
import re
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

from chatkit._optional import import_optional, missing

try:
    import trustme
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
except ImportError as exc:
    raise missing("starlette", "the Salesforce emulator", exc) from exc

from .._server import BackgroundServer, Emulator
from ._records import (
    COLLECTION_LIMIT,
    DEFAULT_API_VERSION,
    EXCEEDED_ID_LIMIT,
    EXTERNAL_ID_FIELDS,
    QUERY_BATCH_DEFAULT,
    SOBJECTS,
    Record,
    RecordError,
    SalesforceAPIError,
    not_found,
    sobject_of_id,
)
from ._state import Call, FailurePlan, SalesforceState

if TYPE_CHECKING:
    import requests
    from simple_salesforce.api import Salesforce

__all__ = [
    "COLLECTION_LIMIT",
    "EXCEEDED_ID_LIMIT",
    "Call",
    "RecordError",
    "SalesforceAPIError",
    "SalesforceEmulator",
    "SalesforceState",
]

_VERSION = re.compile(r"^v(\d{2}\.\d)(?:/(.*))?$")
_BATCH_SIZE = re.compile(r"batchSize=(\d+)")
_JSON = "application/json;charset=UTF-8"
_XML = "text/xml; charset=utf-8"


@dataclass
class _Answer:
    status: int
    body: Any = None
    route: str = ""
    raw: bytes | None = None


class SalesforceEmulator(Emulator):
    """The emulated Salesforce org and the HTTPS app that serves it.

    Args:
        api_version: The version `client` uses (any ``vXX.X`` is served).
        session_id: The access token the API user's session has; random by
            default (read it from `session_id`).
        username: The API user's login name for the SOAP login.
        password: Its password.
        security_token: Its security token (appended to the password).
        clock: The org's clock (timezone-aware datetimes); now by default.
        daily_api_limit: ``DailyApiRequests`` of the org.
        query_batch_size: Records per SOQL page (Salesforce: 2000; smaller
            values make paging cheap to test).
    """

    default_port = 8766

    def __init__(
        self,
        *,
        api_version: str = DEFAULT_API_VERSION,
        session_id: str | None = None,
        username: str = "api@chatkit.example",
        password: str = "chatkit-password",
        security_token: str = "chatkitSecurityToken",
        clock: Callable[[], datetime] | None = None,
        daily_api_limit: int = 15000,
        query_batch_size: int = QUERY_BATCH_DEFAULT,
    ) -> None:
        self.api_version = api_version
        self.state = SalesforceState(
            clock=clock, daily_api_limit=daily_api_limit, query_batch_size=query_batch_size
        )
        self.session_id = self.state.new_session(token=session_id)
        self.username = username
        self._password = password
        self._security_token = security_token
        self.app = Starlette(routes=self._routes())
        self.close_connections = True
        """Answer every call with ``Connection: close`` (the default).

        Over TLS, a stopping server waits for each client to close its
        keep-alive connection, and a client's socket lives as long as any
        response or exception refers to it: a test that keeps a raised error
        would hold `stop` for the whole TLS shutdown timeout. Closing after
        each answer costs one local TLS handshake per call; set it False to
        keep connections alive (e.g. for timing a long benchmark).
        """
        self._tls_dir: tempfile.TemporaryDirectory[str] | None = None
        self._ca_pem: Path | None = None

    def __repr__(self) -> str:
        where = self._server.url if self._server is not None else "not started"
        return f"SalesforceEmulator(v{self.api_version}, {where})"

    # -- running -------------------------------------------------------------------

    def _server_for(self, host: str, port: int) -> BackgroundServer:
        """HTTPS: a new throw-away CA signs a certificate for ``host``; its PEM is at `ca_pem`."""
        self._tls_dir = tempfile.TemporaryDirectory(prefix="chatkit-salesforce-")
        folder = Path(self._tls_dir.name)
        ca = trustme.CA()
        cert = ca.issue_cert(host, "127.0.0.1", "localhost")
        self._ca_pem = folder / "ca.pem"
        ca.cert_pem.write_to_path(str(self._ca_pem))
        cert_file, key_file = folder / "server.pem", folder / "server.key"
        cert.private_key_pem.write_to_path(str(key_file))
        for index, blob in enumerate(cert.cert_chain_pems):
            blob.write_to_path(str(cert_file), append=index > 0)
        return BackgroundServer(
            self.app, host=host, port=port, ssl_certfile=cert_file, ssl_keyfile=key_file
        )

    def stop(self) -> None:
        """Stop serving and remove the certificate files. Idempotent."""
        super().stop()
        if self._tls_dir is not None:
            self._tls_dir.cleanup()
            self._tls_dir = None
            self._ca_pem = None

    @property
    def instance_url(self) -> str:
        """The instance URL, e.g. ``https://127.0.0.1:54321``."""
        return self.url

    @property
    def ca_pem(self) -> str:
        """Path of the PEM file of the CA that signed the emulator's certificate."""
        if self._ca_pem is None:
            raise RuntimeError("the emulator is not started")
        return str(self._ca_pem)

    def session(self) -> requests.Session:
        """A ``requests.Session`` that trusts the emulator's CA (and ignores the environment).

        ``trust_env`` is off: ``REQUESTS_CA_BUNDLE`` would otherwise override
        ``verify`` and the throw-away CA would be ignored.
        """
        import requests

        session = requests.Session()
        session.verify = self.ca_pem
        session.trust_env = False
        return session

    def client(self, **kwargs: Any) -> Salesforce:
        """A ``simple_salesforce.Salesforce`` logged in to this org with `session_id`.

        Needs ``chatkit[salesforce]`` besides ``chatkit[emulators]``.
        """
        api = import_optional("simple_salesforce.api", "the Salesforce emulator's client")
        options: dict[str, Any] = {
            "instance_url": self.url,
            "session_id": self.session_id,
            "version": self.api_version,
            "session": self.session(),
        }
        options.update(kwargs)
        return cast("Salesforce", api.Salesforce(**options))

    # -- test controls -------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        error_code: str | None = None,
        message: str | None = None,
        retry_after: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``times`` API calls (of ``method``, to paths containing ``path``)
        with ``status`` and Salesforce's error body for it; see `SalesforceState.fail_next`."""
        self.state.fail_next(
            status,
            times=times,
            error_code=error_code,
            message=message,
            retry_after=retry_after,
            method=method,
            path=path,
        )

    # -- HTTP plumbing ---------------------------------------------------------------

    def _routes(self) -> list[Route]:
        methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]
        return [
            Route("/services/data/{rest:path}", self._data, methods=methods),
            Route("/services/Soap/u/{version}", self._login, methods=["POST"]),
            Route("/services/oauth2/userinfo", self._userinfo, methods=["GET", "POST"]),
        ]

    def _headers(self, *, error: bool = False) -> dict[str, str]:
        headers = {
            "Sforce-Limit-Info": f"api-usage={self.state.api_usage}/{self.state.daily_api_limit}"
        }
        if error or self.close_connections:
            headers["Connection"] = "close"
        return headers

    def _error(self, error: SalesforceAPIError) -> Response:
        return JSONResponse(
            error.errors,
            error.status,
            headers={**self._headers(error=True), **error.headers},
            media_type=_JSON,
        )

    def _failure(self, plan: FailurePlan) -> Response:
        headers = self._headers(error=True)
        if plan.retry_after is not None:
            headers["Retry-After"] = str(plan.retry_after)
        body = [{"message": plan.message, "errorCode": plan.error_code}]
        return JSONResponse(body, plan.status, headers=headers, media_type=_JSON)

    def _user(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "oauth"):
            return None
        with self.state.lock:
            return self.state.sessions.get(token.strip())

    async def _data(self, request: Request) -> Response:
        method, path = request.method, request.url.path
        route = "unknown"
        status = 500
        try:
            plan = self.state.take_failure(method, path)
            if plan is not None:
                status = plan.status
                return self._failure(plan)
            user_id = self._user(request)
            if user_id is None:
                status = 401
                return self._failure(
                    FailurePlan(401, 1, "INVALID_SESSION_ID", "Session expired or invalid")
                )
            with self.state.lock:
                if self.state.api_usage >= self.state.daily_api_limit:
                    status = 403
                    return self._failure(
                        FailurePlan(
                            403, 1, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."
                        )
                    )
                self.state.api_usage += 1
            try:
                answer = await self._dispatch(request, user_id)
            except RecordError as error:
                raise error.as_api_error() from None
            route, status = answer.route, answer.status
            if answer.raw is not None:
                return Response(
                    answer.raw,
                    status,
                    headers=self._headers(),
                    media_type="application/octetstream",
                )
            if status == 204:
                return Response(status_code=204, headers=self._headers())
            return JSONResponse(answer.body, status, headers=self._headers(), media_type=_JSON)
        except SalesforceAPIError as error:
            status = error.status
            return self._error(error)
        finally:
            route = _route_of(path) if route == "unknown" else route
            self.state.record_call(Call(method, path, route, status))

    async def _dispatch(self, request: Request, user_id: str) -> _Answer:
        match = _VERSION.match(request.path_params["rest"])
        if match is None:
            raise not_found()
        version = match.group(1)
        parts = [unquote(p) for p in (match.group(2) or "").strip("/").split("/") if p]
        method = request.method
        if not parts:
            raise not_found()
        head = parts[0]
        if head == "limits" and len(parts) == 1:
            self._allow(method, "GET")
            return _Answer(200, self._limits(), "limits")
        if head in ("query", "queryAll"):
            self._allow(method, "GET")
            return self._query(request, version, parts)
        if head == "sobjects" and len(parts) >= 2:
            return await self._sobjects(request, version, parts[1:], user_id)
        if head == "composite" and len(parts) >= 2 and parts[1] == "sobjects":
            return await self._collections(request, parts[2:], user_id)
        raise not_found()

    @staticmethod
    def _allow(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise SalesforceAPIError.one(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{method}' not allowed. Allowed are {','.join(allowed)}",
            )

    # -- resources -----------------------------------------------------------------

    def _limits(self) -> Record:
        maximum = self.state.daily_api_limit
        return {
            "DailyApiRequests": {
                "Max": maximum,
                "Remaining": max(maximum - self.state.api_usage, 0),
            },
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DataStorageMB": {"Max": 5, "Remaining": 5},
            "FileStorageMB": {"Max": 20, "Remaining": 20},
        }

    def _query(self, request: Request, version: str, parts: list[str]) -> _Answer:
        batch = QUERY_BATCH_DEFAULT
        found = _BATCH_SIZE.search(request.headers.get("sforce-query-options", ""))
        if found:
            batch = max(200, min(int(found.group(1)), QUERY_BATCH_DEFAULT))
        include_deleted = parts[0] == "queryAll"
        if len(parts) == 2:
            locator, _, offset = parts[1].partition("-")
            if not offset.isdigit():
                raise SalesforceAPIError.one(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            body = self.state.query_more(
                locator,
                int(offset),
                api_version=version,
                batch_size=min(batch, self.state.query_batch_size),
            )
            return _Answer(200, body, f"{parts[0]}/{{locator}}")
        soql = request.query_params.get("q")
        if not soql:
            raise SalesforceAPIError.one(
                400, "MALFORMED_QUERY", "A query string has to be specified"
            )
        body = self.state.query(
            soql, include_deleted=include_deleted, batch_size=batch, api_version=version
        )
        return _Answer(200, body, parts[0])

    async def _sobjects(
        self, request: Request, version: str, parts: list[str], user_id: str
    ) -> _Answer:
        sobject = SOBJECTS.get(parts[0].lower())
        if sobject is None:
            raise SalesforceAPIError.one(
                404, "NOT_FOUND", f"The requested resource does not exist: sObject type {parts[0]}"
            )
        method = request.method
        if len(parts) == 1:
            self._allow(method, "POST")
            record = self.state.create(sobject, await _object(request), user_id=user_id)
            return _Answer(
                201, {"id": record["Id"], "success": True, "errors": []}, "sobjects/{sobject}"
            )
        if len(parts) == 2:
            return await self._one(request, version, sobject, parts[1], user_id)
        if len(parts) == 3 and parts[2] == "VersionData" and sobject == "ContentVersion":
            self._allow(method, "GET")
            return _Answer(
                200, None, "sobjects/{sobject}/{id}/VersionData", raw=self.state.blob(parts[1])
            )
        if len(parts) == 3:
            return await self._by_external_id(
                request, version, sobject, parts[1], parts[2], user_id
            )
        raise not_found()

    async def _one(
        self, request: Request, version: str, sobject: str, record_id: str, user_id: str
    ) -> _Answer:
        route = "sobjects/{sobject}/{id}"
        method = request.method
        self._allow(method, "GET", "PATCH", "DELETE")
        if method == "GET":
            record = self.state.get(sobject, record_id)
            wanted = request.query_params.get("fields")
            fields = None
            if wanted:
                names = {name.strip(): None for name in wanted.split(",") if name.strip()}
                fields = ["Id", *(n for n in self.state.check_fields(sobject, names) if n != "Id")]
            return _Answer(200, self.state.as_rest(sobject, record, version, fields), route)
        if method == "PATCH":
            self.state.get(sobject, record_id)
            self.state.update(sobject, record_id, await _object(request), user_id=user_id)
            return _Answer(204, None, route)
        self.state.get(sobject, record_id)
        self.state.delete(record_id, user_id=user_id)
        return _Answer(204, None, route)

    async def _by_external_id(
        self,
        request: Request,
        version: str,
        sobject: str,
        field_name: str,
        value: str,
        user_id: str,
    ) -> _Answer:
        route = "sobjects/{sobject}/{field}/{value}"
        method = request.method
        self._allow(method, "GET", "PATCH", "DELETE")
        existing = self.state.by_external_id(sobject, field_name, value)
        if method == "GET":
            if existing is None:
                raise not_found()
            return _Answer(200, self.state.as_rest(sobject, existing, version), route)
        if method == "DELETE":
            if existing is None:
                raise not_found()
            self.state.delete(existing["Id"], user_id=user_id)
            return _Answer(204, None, route)
        body = await _object(request)
        record, created = self.state.upsert(sobject, field_name, value, body, user_id=user_id)
        if created:
            result: Record = {"id": record["Id"], "success": True, "errors": []}
            if float(version) >= 46.0:
                result["created"] = True
            return _Answer(201, result, route)
        if float(version) >= 46.0:
            return _Answer(
                200, {"id": record["Id"], "success": True, "errors": [], "created": False}, route
            )
        return _Answer(204, None, route)

    async def _collections(self, request: Request, parts: list[str], user_id: str) -> _Answer:
        method = request.method
        if len(parts) == 2:
            self._allow(method, "PATCH")
            return await self._collection_upsert(request, parts[0], parts[1], user_id)
        if parts:
            raise not_found()
        self._allow(method, "POST", "PATCH", "DELETE")
        route = "composite/sobjects"
        if method == "DELETE":
            ids = [i for i in request.query_params.get("ids", "").split(",") if i]
            if not ids:
                raise SalesforceAPIError.one(400, "MISSING_ARGUMENT", "ids not specified")
            if len(ids) > COLLECTION_LIMIT:
                raise SalesforceAPIError(400, EXCEEDED_ID_LIMIT)
            all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"
            results = self._each(
                ids, all_or_none, lambda rid: self._delete_result(rid, user_id), keep_id=True
            )
            return _Answer(200, results, route)
        body = await _object(request)
        records = _records(body)
        all_or_none = bool(body.get("allOrNone", False))
        typed = [(self._record_type(r), r) for r in records]
        for sobject, record in typed:
            self.state.check_fields(sobject, {k: v for k, v in record.items() if k != "id"})
        if method == "POST":

            def create(item: tuple[str, Record]) -> Record:
                sobject, record = item
                if "id" in record or "Id" in record:
                    raise RecordError(
                        "INVALID_FIELD", "Cannot specify Id in an insert call", ["Id"]
                    )
                created = self.state.create(sobject, record, user_id=user_id)
                return {"id": created["Id"], "success": True, "errors": []}

            return _Answer(200, self._each(typed, all_or_none, create), route)

        def update(item: tuple[str, Record]) -> Record:
            sobject, record = item
            fields = dict(record)
            record_id = str(fields.pop("id", None) or fields.pop("Id", None) or "")
            if not record_id:
                raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", [])
            self.state.update(sobject, record_id, fields, user_id=user_id)
            return {"id": record_id, "success": True, "errors": []}

        return _Answer(200, self._each(typed, all_or_none, update), route)

    async def _collection_upsert(
        self, request: Request, name: str, field_name: str, user_id: str
    ) -> _Answer:
        sobject = SOBJECTS.get(name.lower())
        if sobject is None:
            raise SalesforceAPIError.one(
                404, "NOT_FOUND", f"The requested resource does not exist: sObject type {name}"
            )
        canonical = next(
            (f for f in EXTERNAL_ID_FIELDS.get(sobject, ()) if f.lower() == field_name.lower()),
            None,
        )
        if canonical is None:
            raise SalesforceAPIError.one(
                400,
                "INVALID_FIELD",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
            )
        body = await _object(request)
        records = _records(body)
        all_or_none = bool(body.get("allOrNone", False))
        for record in records:
            if self._record_type(record) != sobject:
                raise SalesforceAPIError.one(
                    400,
                    "INVALID_TYPE",
                    f"The list can contain objects only of the type {sobject}",
                )
            self.state.check_fields(sobject, record)

        def upsert(record: Record) -> Record:
            fields = {k: v for k, v in record.items() if k != "attributes"}
            value = next((v for k, v in fields.items() if k.lower() == canonical.lower()), None)
            if value in (None, ""):
                raise RecordError("MISSING_ARGUMENT", f"{canonical} not specified", [])
            saved, created = self.state.upsert(
                sobject, canonical, str(value), fields, user_id=user_id
            )
            return {"id": saved["Id"], "success": True, "errors": [], "created": created}

        return _Answer(
            200, self._each(records, all_or_none, upsert), "composite/sobjects/{sobject}/{field}"
        )

    def _record_type(self, record: Record) -> str:
        attributes = record.get("attributes")
        name = attributes.get("type") if isinstance(attributes, dict) else None
        sobject = SOBJECTS.get(str(name).lower()) if name else None
        if sobject is None:
            raise SalesforceAPIError.one(
                400,
                "INVALID_TYPE",
                "Must specify a type for each record in the attributes map"
                if not name
                else f"sObject type '{name}' is not supported.",
            )
        return sobject

    def _delete_result(self, record_id: str, user_id: str) -> Record:
        if sobject_of_id(record_id) is None:
            raise RecordError("MALFORMED_ID", f"malformed id {record_id}", [])
        self.state.delete(record_id, user_id=user_id)
        return {"id": record_id, "success": True, "errors": []}

    def _each(
        self,
        items: list[Any],
        all_or_none: bool,
        action: Callable[[Any], Record],
        *,
        keep_id: bool = False,
    ) -> list[Record]:
        """Per-record results in request order; ``allOrNone`` rolls every change back."""
        if len(items) > COLLECTION_LIMIT:
            raise SalesforceAPIError(400, EXCEEDED_ID_LIMIT)
        with self.state.lock:
            snapshot = (
                {
                    name: {k: dict(v) for k, v in rows.items()}
                    for name, rows in self.state.records.items()
                },
                dict(self.state.blobs),
            )
            results: list[Record] = []
            failed = False
            for item in items:
                try:
                    results.append(action(item))
                except RecordError as error:
                    failed = True
                    result: Record = {"success": False, "errors": error.errors}
                    if keep_id:
                        result = {"id": item, **result}
                    results.append(result)
            if all_or_none and failed:
                self.state.records, self.state.blobs = snapshot
                rolled = {
                    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "message": "Record rolled back because not all records were valid and the "
                    "request was using AllOrNone header",
                    "fields": [],
                }
                results = [
                    r if not r["success"] else {"success": False, "errors": [rolled]}
                    for r in results
                ]
            return results

    # -- login -----------------------------------------------------------------------

    async def _login(self, request: Request) -> Response:
        body = (await request.body()).decode("utf-8", "replace")
        username = _xml_value(body, "username")
        password = _xml_value(body, "password")
        version = request.path_params["version"]
        expected = self._password + self._security_token
        ok = (
            username is not None
            and password is not None
            and secrets.compare_digest(username, self.username)
            and secrets.compare_digest(password.encode(), expected.encode())
        )
        if not ok:
            self.state.record_call(Call("POST", request.url.path, "login", 500, api=False))
            return Response(_LOGIN_FAULT, 500, headers=self._headers(error=True), media_type=_XML)
        token = self.state.new_session()
        self.state.record_call(Call("POST", request.url.path, "login", 200, api=False))
        base = f"{request.url.scheme}://{request.url.netloc}"
        user = self.state.get("User", self.state.api_user_id)
        xml = _LOGIN_OK.format(
            base=base,
            version=html.escape(version),
            org=self.state.org_id,
            session=html.escape(token),
            user=user["Id"],
            username=html.escape(user["Username"]),
            name=html.escape(user["Name"]),
        )
        return Response(xml, 200, headers=self._headers(), media_type=_XML)

    async def _userinfo(self, request: Request) -> Response:
        user_id = self._user(request)
        status = 200 if user_id is not None else 401
        self.state.record_call(
            Call(request.method, request.url.path, "userinfo", status, api=False)
        )
        if user_id is None:
            return JSONResponse(
                {"error": "invalid_token", "error_description": "Access token is invalid"},
                401,
                headers=self._headers(error=True),
            )
        user = self.state.get("User", user_id)
        org = self.state.org_id
        return JSONResponse(
            {
                "sub": f"https://login.salesforce.com/id/{org}/{user_id}",
                "user_id": user_id,
                "organization_id": org,
                "preferred_username": user["Username"],
                "name": user["Name"],
                "email": user["Email"],
                "active": True,
                "user_type": "STANDARD",
            },
            headers=self._headers(),
        )


def _route_of(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return "/".join(parts[3:4]) if len(parts) > 3 else path


def _xml_value(body: str, tag: str) -> str | None:
    found = re.search(rf"<(?:\w+:)?{tag}>(.*?)</(?:\w+:)?{tag}>", body, re.DOTALL)
    return html.unescape(found.group(1)) if found else None


async def _object(request: Request) -> Record:
    try:
        body: Any = json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise SalesforceAPIError.one(
            400, "JSON_PARSER_ERROR", f"Unexpected character: {exc}"
        ) from exc
    if not isinstance(body, dict):
        raise SalesforceAPIError.one(
            400, "JSON_PARSER_ERROR", "Cannot deserialize instance of object from the request body"
        )
    return body


def _records(body: Record) -> list[Record]:
    records = body.get("records")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise SalesforceAPIError.one(
            400, "INVALID_FIELD", "records: a list of sObjects is required"
        )
    if len(records) > COLLECTION_LIMIT:
        raise SalesforceAPIError(400, EXCEEDED_ID_LIMIT)
    return [dict(r) for r in records]


_LOGIN_OK = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
    'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    "<soapenv:Body><loginResponse><result>"
    "<metadataServerUrl>{base}/services/Soap/m/{version}/{org}</metadataServerUrl>"
    "<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
    "<serverUrl>{base}/services/Soap/u/{version}/{org}</serverUrl>"
    "<sessionId>{session}</sessionId><userId>{user}</userId>"
    "<userInfo><organizationId>{org}</organizationId><userFullName>{name}</userFullName>"
    "<userId>{user}</userId><userName>{username}</userName></userInfo>"
    "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
)
_LOGIN_FAULT = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
    'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:sf="urn:fault.partner.soap.sforce.com" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
    "<faultcode>INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username, "
    "password, security token; or user locked out.</faultstring><detail>"
    '<sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>'
    "<sf:exceptionMessage>Invalid username, password, security token; or user locked out."
    "</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body>"
    "</soapenv:Envelope>"
)


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted: ``python -m chatkit_integrations.salesforce.emulator``."""
    import argparse

    parser = argparse.ArgumentParser(description="Emulate the Salesforce REST API locally (HTTPS).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--session-id", default=None, help="the API user's access token")
    parser.add_argument("--api-version", default=DEFAULT_API_VERSION)
    parser.add_argument("--daily-api-limit", type=int, default=15000)
    args = parser.parse_args(argv)
    emulator = SalesforceEmulator(
        api_version=args.api_version,
        session_id=args.session_id,
        daily_api_limit=args.daily_api_limit,
    )
    emulator.start(host=args.host, port=args.port)
    print(
        f"Salesforce emulator on {emulator.url} (API v{args.api_version})\n"
        f"  CA certificate: {emulator.ca_pem}\n"
        f"  session id:     {emulator.session_id}\n"
        "Point simple-salesforce at it with instance_url, session_id and a requests.Session "
        "whose verify is the CA file and trust_env is False."
    )
    emulator.serve_forever(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
