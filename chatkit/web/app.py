"""`create_app`: the web app of a kit, with its routers, handlers and middleware."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..errors import ChatKitError, ConfigurationError, RateLimitedError
from ._deps import (
    APIRouter,
    FastAPI,
    HTTPException,
    JSONResponse,
    Request,
    RequestValidationError,
)
from .agent import router as agent_router
from .auth import Authenticate
from .channels import router as channels_router
from .console import router as console_router
from .context import WebContext
from .customer import router as customer_router
from .errors import ErrorResponse, error_body, error_code, retry_after, status_for
from .middleware import WebMiddleware, request_id
from .policy import PolicyFactory
from .realtime import router as realtime_router
from .reports import router as reports_router
from .settings import WebSettings
from .widget import router as widget_router

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal

    from .._facade import AsyncChatKit, ChatKit

__all__ = ["ROUTERS", "create_app"]

logger = logging.getLogger("chatkit.web")

ROUTERS: tuple[APIRouter, ...] = (
    customer_router,
    agent_router,
    realtime_router,
    console_router,
    widget_router,
    reports_router,
    channels_router,
)
"""The routers of the web app, in order. A new module adds its ``router`` here (one line)."""

_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "Malformed request (e.g. JSON that does not parse)",
        401: "Missing, unknown, expired or revoked credentials",
        403: "Not allowed (e.g. an origin outside the website's allowlist)",
        404: "Unknown id, or one the caller may not see",
        409: "Conflict with the current state",
        413: "Request body over the limit",
        422: "Invalid input",
        429: "Rate limit used up; see Retry-After and the RateLimit-* headers",
    }.items()
}
_ERROR_RESPONSES[429]["headers"] = {
    name: {"description": description, "schema": {"type": "integer"}}
    for name, description in {
        "Retry-After": "Seconds until the same request would be allowed",
        "RateLimit-Limit": "Requests the limit allows at once",
        "RateLimit-Remaining": "Requests left now (0)",
        "RateLimit-Reset": "Seconds until the whole allowance is back",
    }.items()
}


def _status_text(status: int) -> str:
    return {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}.get(
        status, "http_error"
    )


def create_app(
    kit: AsyncChatKit | ChatKit,
    settings: WebSettings | None = None,
    *,
    authenticate: Authenticate | None = None,
    policy: PolicyFactory | None = None,
) -> FastAPI:
    """The web app of ``kit``: an ASGI application (FastAPI) serving ``/v1/...``.

    Mount it (``host.mount("/chat", create_app(kit))``) or serve it with
    uvicorn. It needs no lifespan: the kit opens its store on the first
    request. It never closes the kit: whoever made the kit closes it.

    Args:
        kit: The kit to serve. A blocking `ChatKit`'s calls run on its own
            background loop (see `WebContext.call`).
        settings: `WebSettings`; defaults otherwise.
        authenticate: The host's agent authentication hook (`Authenticate`).
        policy: Makes the authorization `Policy` from the app's `WebContext`
            (a `Policy` class fits); `DefaultPolicy` otherwise.

    Example:
        ```python
        from fastapi import FastAPI

        host = FastAPI()
        host.mount("/chat", kit.asgi())
        ```
    """
    from .._facade import ChatKit

    if settings is None:
        settings = WebSettings()
    elif not isinstance(settings, WebSettings):
        raise ConfigurationError("settings must be a chatkit.web.WebSettings")
    for name, hook in (("authenticate", authenticate), ("policy", policy)):
        if hook is not None and not callable(hook):
            raise ConfigurationError(f"{name} must be callable (or None)")
    portal: Callable[[], BlockingPortal] | None = None
    if isinstance(kit, ChatKit):
        aio = kit.aio
        portal = kit._runner.portal
    else:
        aio = kit
    web = WebContext(aio, settings, authenticate=authenticate, portal=portal, policy=policy)

    app = FastAPI(
        title="chatkit",
        version=__version__,
        summary="The chatkit web app: customer and agent APIs of live chat.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        responses=_ERROR_RESPONSES,
    )
    app.state.chatkit = web

    @app.exception_handler(ChatKitError)
    async def chatkit_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ChatKitError)
        status = status_for(exc)
        rid = request_id(request.scope)
        if status >= 500:
            logger.error("%s in %s (request %s)", type(exc).__name__, request.url.path[:200], rid)
            message = f"the service is not available right now (request {rid})"
        else:
            message = str(exc)
        headers: dict[str, str] = {}
        if status == 429 and isinstance(exc, RateLimitedError):
            headers.update(exc.headers)  # Retry-After and RateLimit-* (Decision.headers)
        seconds = retry_after(exc)
        if seconds is not None and status in (429, 503):
            headers.setdefault("Retry-After", str(seconds))
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        field = getattr(exc, "field", None)
        return JSONResponse(
            error_body(error_code(exc), message, rid, field if isinstance(field, str) else None),
            status_code=status,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        rid = request_id(request.scope)
        errors = exc.errors()
        first: dict[str, Any] = dict(errors[0]) if errors else {}
        if first.get("type") == "json_invalid":
            return JSONResponse(
                error_body("malformed_json", "the request body is not valid JSON", rid, "body"),
                status_code=400,
            )
        loc = [str(p) for p in first.get("loc", ())]
        if len(loc) > 1 and loc[0] in ("body", "query", "path", "header"):
            loc = loc[1:]
        field = ".".join(loc)[:200] or None
        reason = str(first.get("msg", "invalid value"))[:200]
        message = f"{field}: {reason}" if field else reason
        return JSONResponse(error_body("invalid_input", message, rid, field), status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        rid = request_id(request.scope)
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        return JSONResponse(
            error_body(_status_text(exc.status_code), detail, rid),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(WebMiddleware, web=web)
    return app
