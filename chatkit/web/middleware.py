"""`WebMiddleware`: request ids, secure headers, CORS, body limits and the last-resort 500.

A plain ASGI middleware (not Starlette's ``BaseHTTPMiddleware``), so request
bodies stream through it and WebSocket handshakes pass untouched except for
their request id. The real-time WebSocket (`REALTIME_PATH`) is served by the
middleware itself, so that each of the thousands of idle connections does
not also hold the router's layers.
"""

from __future__ import annotations

import gc
import json
import logging
import re
import secrets
import traceback
from collections.abc import Mapping
from typing import Final

from ._deps import ASGIApp, Message, Receive, Scope, Send
from .context import WebContext
from .errors import PayloadTooLargeError, error_body
from .origins import origin_allowed

__all__ = [
    "AGENT_PREFIX",
    "ALLOWED_HEADERS",
    "JSON_CSP",
    "REALTIME_PATH",
    "WebMiddleware",
    "page_csp",
    "request_id",
]

logger = logging.getLogger("chatkit.web")

AGENT_PREFIX: Final = "/v1/agent"
"""Paths of the agent API start with this (relative to where the app is mounted);
CORS for them follows `WebSettings.agent_origins`, every other path the websites' origins."""

REALTIME_PATH: Final = "/v1/realtime"
"""The real-time WebSocket's path (relative to where the app is mounted), served by the
middleware itself rather than through the router."""

JSON_CSP: Final = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
"""The Content-Security-Policy of every response that does not set its own."""

ALLOWED_HEADERS: Final = "Authorization, Content-Type, Idempotency-Key, X-Website-Key, X-Request-Id"
"""Request headers a cross-origin caller may send."""

_METHODS: Final = "GET, POST, PUT, PATCH, DELETE"
_EXPOSED: Final = "X-Request-Id, Retry-After"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_frozen = False


def _freeze_gc() -> None:
    """Move every object alive now out of the garbage collector's reach (once per process).

    What is alive when the first request arrives (the modules, the app, the
    kit) lives as long as the process; a full collection would walk it all
    again and again, pausing the serving loop for tens of milliseconds each
    time (`WebSettings.freeze_gc`).
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()


def page_csp(frame_ancestors: list[str]) -> str:
    """A Content-Security-Policy for an HTML page that these origins may frame (the widget's).

    Pass the website's canonical origins; an empty list forbids framing.
    """
    ancestors = " ".join(frame_ancestors) if frame_ancestors else "'none'"
    return (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        f"frame-ancestors {ancestors}"
    )


def request_id(scope: Scope) -> str:
    """The id of the request ``scope`` belongs to (set by `WebMiddleware`)."""
    state = scope.get("state") or {}
    value = state.get("request_id")
    return value if isinstance(value, str) else ""


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            try:
                return str(value.decode("latin-1"))
            except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
                return None
    return None


class WebMiddleware:
    """Wraps the web app: every HTTP response gets the request id and secure headers.

    - ``X-Request-Id``: the caller's (when it is 1 to 64 of ``[A-Za-z0-9._:-]``)
      or a new one; also in ``request.state.request_id`` and in error bodies.
    - ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``,
      ``Cache-Control: no-store``, and, unless the route set its own,
      ``Content-Security-Policy`` `JSON_CSP` and ``X-Frame-Options: DENY``;
      ``Strict-Transport-Security`` on HTTPS.
    - CORS: a preflight is answered here from the allowlists (the websites'
      origins, or `WebSettings.agent_origins` for the agent API), and an
      allowed origin gets ``Access-Control-Allow-Origin`` (exactly itself).
    - A body over the limit gets 413 (by ``Content-Length`` before reading,
      or as soon as the streamed body passes it).
    - An exception no handler took becomes a 500 with the request id; the
      log has its type and stack, never its message, the body or headers.
    """

    def __init__(self, app: ASGIApp, *, web: WebContext) -> None:
        self.app = app
        self.web = web

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if not _frozen and self.web.settings.freeze_gc:
            _freeze_gc()
        incoming = _header(scope, b"x-request-id")
        rid = (
            incoming
            if incoming and _REQUEST_ID.fullmatch(incoming)
            else f"req_{secrets.token_hex(12)}"
        )
        scope.setdefault("state", {})["request_id"] = rid
        if scope["type"] == "websocket":
            if self._relative_path(scope) == REALTIME_PATH:
                # Served from here: a real-time socket lives for hours, and each layer of
                # routing under this one would keep its frames and closures alive with it.
                from starlette.websockets import WebSocket

                from .realtime import realtime_socket

                await realtime_socket(WebSocket(scope, receive, send))
                return
            await self.app(scope, receive, send)
            return
        await self._http(scope, receive, send, rid)

    def _relative_path(self, scope: Scope) -> str:
        path: str = scope.get("path", "")
        root: str = scope.get("root_path", "")
        return path[len(root) :] if root and path.startswith(root) else path

    async def _allowed_origins(self, scope: Scope) -> frozenset[str] | list[str]:
        if self._relative_path(scope).startswith(AGENT_PREFIX):
            return self.web.settings.agent_origins
        return await self.web.website_origins()

    async def _http(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        settings = self.web.settings
        https = scope.get("scheme") == "https"
        origin = _header(scope, b"origin")
        cors_origin: str | None = None
        if origin is not None:
            try:
                allowed = await self._allowed_origins(scope)
            except Exception:  # the store is down: no CORS grant, the route reports the fault
                allowed = frozenset()
            if origin_allowed(origin, allowed):
                cors_origin = origin

        def secure(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
            names = {k.lower() for k, _ in headers}
            extra = [
                (b"x-request-id", rid.encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", b"no-referrer"),
            ]
            if b"cache-control" not in names:
                extra.append((b"cache-control", b"no-store"))
            if b"content-security-policy" not in names:
                extra.append((b"content-security-policy", JSON_CSP.encode()))
                extra.append((b"x-frame-options", b"DENY"))
            if https and settings.hsts_seconds:
                extra.append(
                    (b"strict-transport-security", f"max-age={settings.hsts_seconds}".encode())
                )
            if origin is not None:
                extra.append((b"vary", b"Origin"))
            if cors_origin is not None:
                extra.append((b"access-control-allow-origin", cors_origin.encode("latin-1")))
                extra.append((b"access-control-expose-headers", _EXPOSED.encode()))
            drop = {k for k, _ in extra} - {b"vary"}
            return [(k, v) for k, v in headers if k.lower() not in drop] + extra

        async def respond(status: int, body: Mapping[str, object] | None, **more: str) -> None:
            payload = b"" if body is None else json.dumps(body).encode()
            headers = [(k.replace("_", "-").encode(), v.encode()) for k, v in more.items()]
            if body is not None:
                headers.append((b"content-type", b"application/json"))
            headers.append((b"content-length", str(len(payload)).encode()))
            await send(
                {"type": "http.response.start", "status": status, "headers": secure(headers)}
            )
            await send({"type": "http.response.body", "body": payload})

        # CORS preflight: answered here, never reaches a route.
        if (
            scope["method"] == "OPTIONS"
            and origin is not None
            and _header(scope, b"access-control-request-method") is not None
        ):
            if cors_origin is None:
                await respond(
                    403,
                    error_body(
                        "origin_not_allowed", "this origin is not allowed to call this API", rid
                    ),
                )
            else:
                await respond(
                    204,
                    None,
                    access_control_allow_methods=_METHODS,
                    access_control_allow_headers=ALLOWED_HEADERS,
                    access_control_max_age="600",
                )
            return

        limit = settings.max_body_bytes
        if self._relative_path(scope).rstrip("/").endswith("/attachments"):
            limit = settings.max_upload_bytes or self.web.kit.settings.attachments.max_bytes
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False
            if too_big:
                error = PayloadTooLargeError(limit)
                await respond(413, error_body("payload_too_large", str(error), rid, "body"))
                return

        state = {"started": False, "too_large": False, "received": 0}

        async def limited_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    state["too_large"] = True
                    raise PayloadTooLargeError(limit)
            return message

        async def send_secure(message: Message) -> None:
            if state["too_large"] and not state["started"]:
                return  # the 413 below answers instead of whatever the app made of it
            if message["type"] == "http.response.start":
                state["started"] = True
                message = {**message, "headers": secure(list(message.get("headers", [])))}
            await send(message)

        try:
            await self.app(scope, limited_receive, send_secure)
        except Exception as exc:
            if not state["too_large"]:
                logger.error(
                    "unhandled %s in %s %s (request %s)\n%s",
                    type(exc).__name__,
                    scope["method"],
                    self._relative_path(scope)[:200],
                    rid,
                    "".join(traceback.format_tb(exc.__traceback__)),
                )
                if not state["started"]:
                    await respond(
                        500,
                        error_body(
                            "internal_error",
                            f"something went wrong on the server (request {rid})",
                            rid,
                        ),
                    )
                return
        if state["too_large"] and not state["started"]:
            error = PayloadTooLargeError(limit)
            await respond(413, error_body("payload_too_large", str(error), rid, "body"))
