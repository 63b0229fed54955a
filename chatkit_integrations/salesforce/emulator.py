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

import re
import tempfile
from collections.abc import Callable
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
from ._emulator_collections import _CollectionRoutes
from ._emulator_http import _JSON, _Answer
from ._emulator_login import _LoginRoutes
from ._emulator_query import _QueryRoutes
from ._emulator_sobjects import _SObjectRoutes
from ._records import (
    COLLECTION_LIMIT,
    DEFAULT_API_VERSION,
    EXCEEDED_ID_LIMIT,
    QUERY_BATCH_DEFAULT,
    Record,
    RecordError,
    SalesforceAPIError,
    not_found,
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


class SalesforceEmulator(_QueryRoutes, _SObjectRoutes, _CollectionRoutes, _LoginRoutes, Emulator):
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


def _route_of(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return "/".join(parts[3:4]) if len(parts) > 3 else path


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
