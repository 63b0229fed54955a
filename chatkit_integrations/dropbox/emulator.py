"""An emulator of the Dropbox API v2, for testing with the official ``dropbox`` SDK.

It serves, over HTTPS on 127.0.0.1 with a throw-away certificate authority
(``trustme``), what the transcript archive uses, under the real routes
(``POST /2/<namespace>/<route>``, arguments in the JSON body for RPC routes
and in the ``Dropbox-API-Arg`` header for upload routes; both the API and the
content host are this one server):

- ``files/upload``; ``files/upload_session/start``, ``append_v2``,
  ``finish``, ``finish_batch_v2`` (at most 1,000 entries, one result per
  entry) and the older ``finish_batch`` with ``finish_batch/check``;
- ``files/get_metadata``; ``files/delete_batch`` with ``delete_batch/check``
  (a folder is deleted with everything in it);
- ``users/get_current_account`` and ``users/get_space_usage``;
- ``oauth2/token`` with ``grant_type=refresh_token`` (short-lived ``sl.``
  access tokens, 400 ``invalid_grant`` for a revoked refresh token).

Write modes behave as Dropbox documents them: identical content is never a
conflict (unless ``strict_conflict``), ``add`` conflicts with a different
file, ``update`` needs the current ``rev``, ``autorename`` picks
``name (1).ext`` or ``name (conflicted copy).ext``. A ``content_hash`` sent
with uploaded bytes is checked (``content_hash_mismatch``); every file's
metadata carries the ``content_hash`` of what was stored. Space is limited
(``insufficient_space``). Errors have Dropbox's bodies: ``error_summary``
and the tagged ``error`` (409), 401 ``invalid_access_token`` /
``expired_access_token``, 429 ``too_many_requests`` with ``retry_after`` and
a ``Retry-After`` header; 5xx on demand (`DropboxEmulator.fail_next`).

Needs ``pip install 'chatkit[emulators]'``; the client side needs
``chatkit[dropbox]``. The SDK reads its hosts when imported: set the
variables of `DropboxEmulator.environ` before ``import dropbox``.

Example:
    ```python
    from chatkit_integrations.dropbox.emulator import DropboxEmulator

    with DropboxEmulator(port=8767) as box:
        os.environ.update(box.environ())          # before importing dropbox
        dbx = box.client()                         # dropbox.Dropbox, refresh token
        dbx.files_upload(b"hello", "/hello.txt")
        box.state.read("/hello.txt")               # b"hello"
        box.fail_next(429, retry_after=2)          # the next call is throttled
    ```
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl

from chatkit._optional import import_optional, missing

try:
    import trustme
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
except ImportError as exc:
    raise missing("starlette", "the Dropbox emulator", exc) from exc

from .._server import BackgroundServer, Emulator
from ._state import (
    MAX_BATCH,
    Call,
    DropboxAPIError,
    DropboxState,
    Record,
    StoredFile,
    _LookupFailed,
    _WriteFailed,
    bad_input,
    route_error,
    tagged,
)

if TYPE_CHECKING:
    import requests
    from dropbox import Dropbox  # type: ignore[import-untyped]

__all__ = ["MAX_BATCH", "Call", "DropboxEmulator", "DropboxState", "StoredFile"]

_JSON = "application/json"
_UPLOADS = frozenset(
    {
        "files/upload",
        "files/upload_session/start",
        "files/upload_session/append_v2",
        "files/upload_session/finish",
    }
)
"""Upload-style routes: the argument in ``Dropbox-API-Arg``, bytes in the body."""


class DropboxEmulator(Emulator):
    """The emulated Dropbox account and the HTTPS app that serves it.

    Args:
        port: The port to serve on when started as a context manager (``0``:
            a free one). The SDK reads its host once, at import: a process
            that imports ``dropbox`` once keeps talking to that port, so
            tests keep one emulator (`reset` between them).
        app_key: The app's key.
        app_secret: The app's secret.
        allocated: The account's space in bytes.
        job_polls: ``*/check`` polls answered ``in_progress`` before ``complete``.
    """

    default_port = 8767

    def __init__(
        self,
        *,
        port: int = 0,
        app_key: str = "chatkit-app-key",
        app_secret: str = "chatkit-app-secret",
        allocated: int = 2 * 1024**3,
        job_polls: int = 0,
    ) -> None:
        self._settings: dict[str, Any] = {
            "app_key": app_key,
            "app_secret": app_secret,
            "allocated": allocated,
            "job_polls": job_polls,
        }
        self.state = DropboxState(**self._settings)
        self._port = port
        self.app = Starlette(
            routes=[
                Route("/oauth2/token", self._token, methods=["POST"]),
                Route("/2/{route:path}", self._api, methods=["POST"]),
            ]
        )
        self.close_connections = False
        """Answer every call with ``Connection: close`` (off: keep-alive, like Dropbox)."""
        self._tls_dir: tempfile.TemporaryDirectory[str] | None = None
        self._ca_pem: Path | None = None

    def __repr__(self) -> str:
        where = self._server.url if self._server is not None else "not started"
        return f"DropboxEmulator({where})"

    def __enter__(self) -> DropboxEmulator:
        return self.start(port=self._port)

    # -- running -------------------------------------------------------------------

    def _server_for(self, host: str, port: int) -> BackgroundServer:
        """HTTPS: a new throw-away CA signs a certificate for ``host``; its PEM is at `ca_pem`."""
        self._tls_dir = tempfile.TemporaryDirectory(prefix="chatkit-dropbox-")
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
    def host(self) -> str:
        """``127.0.0.1:PORT``: the value of ``DROPBOX_API_HOST`` for the SDK."""
        return self.url.removeprefix("https://")

    @property
    def ca_pem(self) -> str:
        """Path of the PEM file of the CA that signed the emulator's certificate."""
        if self._ca_pem is None:
            raise RuntimeError("the emulator is not started")
        return str(self._ca_pem)

    def environ(self) -> dict[str, str]:
        """The variables that point the SDK here; set them before ``import dropbox``."""
        return {
            "DROPBOX_API_HOST": self.host,
            "DROPBOX_API_CONTENT_HOST": self.host,
            "DROPBOX_API_NOTIFY_HOST": self.host,
        }

    def session(self) -> requests.Session:
        """A requests session that trusts the emulator's CA and ignores ``REQUESTS_CA_BUNDLE``."""
        dropbox = import_optional("dropbox", "the Dropbox emulator's client")
        session = dropbox.create_session(ca_certs=self.ca_pem)
        session.trust_env = False
        return cast("requests.Session", session)

    def client(self, **kwargs: Any) -> Dropbox:
        """A ``dropbox.Dropbox`` with the app's refresh token (the SDK refreshes as needed).

        Needs ``chatkit[dropbox]``, and `environ` set before ``dropbox`` was imported.
        """
        dropbox = import_optional("dropbox", "the Dropbox emulator's client")
        options: dict[str, Any] = {
            "oauth2_refresh_token": self.state.refresh_token,
            "app_key": self.state.app_key,
            "app_secret": self.state.app_secret,
            "session": self.session(),
        }
        options.update(kwargs)
        return cast("Dropbox", dropbox.Dropbox(**options))

    # -- test controls -------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: int | None = None,
        route: str | None = None,
        after: int = 0,
    ) -> None:
        """Answer the next ``times`` calls with ``status``; see `DropboxState.fail_next`."""
        self.state.fail_next(status, times=times, retry_after=retry_after, route=route, after=after)

    def reset(self) -> None:
        """A fresh account as constructed: no file, session, job, failure or call, new
        tokens, the space and polls given at first (it keeps serving)."""
        self.state = DropboxState(**self._settings)

    # -- HTTP plumbing ---------------------------------------------------------------

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"X-Dropbox-Request-Id": "chatkit-emulator", **(extra or {})}
        if self.close_connections:
            headers["Connection"] = "close"
        return headers

    def _error(self, error: DropboxAPIError) -> Response:
        if error.body is not None:
            return JSONResponse(
                error.body, error.status, headers=self._headers(error.headers), media_type=_JSON
            )
        return Response(
            error.text or "",
            error.status,
            headers=self._headers(error.headers),
            media_type="text/plain; charset=utf-8",
        )

    async def _token(self, request: Request) -> Response:
        state = self.state
        status = 500
        try:
            failure = state.take_failure("oauth2/token")
            if failure is not None:
                raise failure
            form = dict(parse_qsl((await request.body()).decode("utf-8")))
            body = state.refresh(form)
            status = 200
            return JSONResponse(body, 200, headers=self._headers(), media_type=_JSON)
        except DropboxAPIError as error:
            status = error.status
            return self._error(error)
        finally:
            state.record("oauth2/token", status)

    async def _api(self, request: Request) -> Response:
        state = self.state
        route = request.path_params["route"]
        status = 500
        try:
            failure = state.take_failure(route)
            if failure is not None:
                raise failure
            handler = _ROUTES.get(route)
            if handler is None:
                raise DropboxAPIError(404, text=f"Unknown API function: {route!r}")
            state.authorize(request.headers.get("authorization"))
            raw = await request.body()
            if route in _UPLOADS:
                arg = _json_arg(route, request.headers.get("dropbox-api-arg"))
                data = raw
            else:
                if not request.headers.get("content-type", "").startswith(_JSON):
                    raise bad_input(route, 'Bad HTTP "Content-Type" header. Expecting JSON.')
                arg = _json_arg(route, raw.decode("utf-8") or "null")
                data = b""
            result = handler(state, route, arg, data)
            status = 200
            return JSONResponse(result, 200, headers=self._headers(), media_type=_JSON)
        except DropboxAPIError as error:
            status = error.status
            return self._error(error)
        finally:
            state.record(route, status)


def _json_arg(route: str, raw: str | None) -> Any:
    if raw is None:
        raise bad_input(route, 'Missing the "Dropbox-API-Arg" header.')
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_input(route, "could not decode input as JSON") from None


def _dict(route: str, arg: Any, *required: str) -> Record:
    if not isinstance(arg, dict):
        raise bad_input(route, "expected a JSON object")
    missing_fields = [name for name in required if name not in arg]
    if missing_fields:
        raise bad_input(route, f"missing required field '{missing_fields[0]}'")
    return arg


def _check_hash(arg: Record, data: bytes) -> None:
    from ._paths import content_hash

    expected = arg.get("content_hash")
    if expected is not None and expected != content_hash(data):
        raise route_error(tagged("content_hash_mismatch"))


# -- routes ------------------------------------------------------------------------


def _upload(state: DropboxState, route: str, arg: Any, data: bytes) -> Record:
    commit = _dict(route, arg, "path")
    _check_hash(commit, data)
    try:
        return state.commit(commit, data)
    except _WriteFailed as failed:
        session_id = state.start_session(data, close=True)
        raise route_error(
            {".tag": "path", "reason": failed.error}, upload_session_id=session_id
        ) from None


def _start(state: DropboxState, route: str, arg: Any, data: bytes) -> Record:
    options = _dict(route, arg or {})
    kind = options.get("session_type")
    concurrent = kind == "concurrent" or (
        isinstance(kind, dict) and kind.get(".tag") == "concurrent"
    )
    if concurrent and data:
        raise route_error(tagged("concurrent_session_data_not_allowed"))
    _check_hash(options, data)
    return {"session_id": state.start_session(data, bool(options.get("close", False)))}


def _append(state: DropboxState, route: str, arg: Any, data: bytes) -> None:
    options = _dict(route, arg, "cursor")
    _check_hash(options, data)
    try:
        with state.lock:
            session = state.session(options["cursor"])
            session.data.extend(data)
            session.closed = bool(options.get("close", False))
    except _LookupFailed as failed:
        raise route_error(failed.error) from None


def _finish_one(state: DropboxState, entry: Any) -> tuple[bool, Record]:
    """One ``UploadSessionFinishArg``: ``(True, FileMetadata)`` or ``(False, error)``."""
    if not isinstance(entry, dict) or "cursor" not in entry or "commit" not in entry:
        return False, tagged("lookup_failed", "not_found")
    try:
        with state.lock:
            session = state.session(entry["cursor"], for_finish=True)
            metadata = state.commit(entry["commit"], bytes(session.data))
            session.finished = True
            return True, metadata
    except _LookupFailed as failed:
        return False, {".tag": "lookup_failed", "lookup_failed": failed.error}
    except _WriteFailed as failed:
        return False, {".tag": "path", "path": failed.error}


def _finish(state: DropboxState, route: str, arg: Any, data: bytes) -> Record:
    """``upload_session/finish``: the call's own bytes are appended first (they stay
    appended when the commit fails: retry with no bytes and the new offset)."""
    options = _dict(route, arg, "cursor", "commit")
    _check_hash(options, data)
    cursor = options["cursor"]
    with state.lock:
        try:
            session = state.session(cursor, for_finish=True)
        except _LookupFailed as failed:
            raise route_error({".tag": "lookup_failed", "lookup_failed": failed.error}) from None
        if data:
            if session.closed:
                raise route_error(tagged("lookup_failed", "closed"))
            session.data.extend(data)
        moved = {**options, "cursor": {**cursor, "offset": len(session.data)}}
        ok, result = _finish_one(state, moved)
    if not ok:
        raise route_error(result)
    return result


def _batch_entries(state: DropboxState, route: str, arg: Any) -> Record:
    entries = _dict(route, arg, "entries")["entries"]
    if not isinstance(entries, list) or len(entries) > MAX_BATCH:
        raise bad_input(route, f"entries: list has more than {MAX_BATCH} items")
    results: list[Record] = []
    for entry in entries:
        ok, value = _finish_one(state, entry)
        results.append(
            {".tag": "success", **value} if ok else {".tag": "failure", "failure": value}
        )
    return {"entries": results}


def _finish_batch_v2(state: DropboxState, route: str, arg: Any, data: bytes) -> Record:
    return _batch_entries(state, route, arg)


def _finish_batch(state: DropboxState, route: str, arg: Any, data: bytes) -> Record:
    result = _batch_entries(state, route, arg)
    return {".tag": "async_job_id", "async_job_id": state.new_job(result)}


def _check(state: DropboxState, route: str, arg: Any, data: bytes) -> Record:
    return state.poll(str(_dict(route, arg, "async_job_id")["async_job_id"]))


def _get_metadata(state: DropboxState, route: str, arg: Any, data: bytes) -> Record:
    options = _dict(route, arg, "path")
    try:
        return state.metadata(str(options["path"]))
    except _LookupFailed as failed:
        raise route_error({".tag": "path", "path": failed.error}) from None


def _delete_batch(state: DropboxState, route: str, arg: Any, data: bytes) -> Record:
    entries = _dict(route, arg, "entries")["entries"]
    if not isinstance(entries, list) or len(entries) > MAX_BATCH:
        raise bad_input(route, f"entries: list has more than {MAX_BATCH} items")
    results: list[Record] = []
    for entry in entries:
        try:
            metadata = state.delete(str(entry.get("path")), entry.get("parent_rev"))
            results.append({".tag": "success", "metadata": metadata})
        except _LookupFailed as failed:
            results.append(
                {".tag": "failure", "failure": {".tag": "path_lookup", "path_lookup": failed.error}}
            )
    return {".tag": "async_job_id", "async_job_id": state.new_job({"entries": results})}


def _current_account(state: DropboxState, route: str, arg: Any, data: bytes) -> Record:
    return {
        "account_id": state.account_id,
        "name": {
            "given_name": "Chatkit",
            "surname": "Archive",
            "familiar_name": "Chatkit",
            "display_name": "Chatkit Archive",
            "abbreviated_name": "CA",
        },
        "email": "archive@chatkit.example",
        "email_verified": True,
        "disabled": False,
        "country": "US",
        "locale": "en",
        "referral_link": "https://db.tt/chatkit",
        "is_paired": False,
        "account_type": {".tag": "basic"},
        "root_info": {
            ".tag": "user",
            "root_namespace_id": "3235641",
            "home_namespace_id": "3235641",
        },
    }


def _space_usage(state: DropboxState, route: str, arg: Any, data: bytes) -> Record:
    return state.space_usage()


_ROUTES = {
    "files/upload": _upload,
    "files/upload_session/start": _start,
    "files/upload_session/append_v2": _append,
    "files/upload_session/finish": _finish,
    "files/upload_session/finish_batch_v2": _finish_batch_v2,
    "files/upload_session/finish_batch": _finish_batch,
    "files/upload_session/finish_batch/check": _check,
    "files/get_metadata": _get_metadata,
    "files/delete_batch": _delete_batch,
    "files/delete_batch/check": _check,
    "users/get_current_account": _current_account,
    "users/get_space_usage": _space_usage,
}


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted: ``chatkit emulate dropbox`` (or ``python -m`` this module)."""
    import argparse

    parser = argparse.ArgumentParser(description="Emulate the Dropbox API v2 locally (HTTPS).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DropboxEmulator.default_port)
    parser.add_argument("--app-key", default="chatkit-app-key")
    parser.add_argument("--app-secret", default="chatkit-app-secret")
    parser.add_argument("--allocated", type=int, default=2 * 1024**3, help="space in bytes")
    args = parser.parse_args(argv)
    emulator = DropboxEmulator(
        app_key=args.app_key, app_secret=args.app_secret, allocated=args.allocated
    )
    emulator.start(host=args.host, port=args.port)
    print(
        f"Dropbox emulator on {emulator.url}\n"
        f"  CA certificate: {emulator.ca_pem}\n"
        f"  app key:        {emulator.state.app_key}\n"
        f"  app secret:     {emulator.state.app_secret}\n"
        f"  refresh token:  {emulator.state.refresh_token}\n"
        f"Before importing dropbox: export DROPBOX_API_HOST={emulator.host} "
        f"DROPBOX_API_CONTENT_HOST={emulator.host}\n"
        "and give the SDK a session whose CA is the file above (trust_env False)."
    )
    emulator.serve_forever(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
