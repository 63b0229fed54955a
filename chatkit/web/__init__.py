"""The web app: chatkit's customer and agent APIs over HTTP and WebSocket (``chatkit[web]``).

Built on FastAPI (Starlette underneath): request validation and the
OpenAPI 3.1 document come from the same pydantic models as the responses.

```python
from fastapi import FastAPI
from chatkit import AsyncChatKit

kit = AsyncChatKit("sqlite:///support.db")
host = FastAPI()
host.mount("/chat", kit.asgi())
```

What others build on:

- `create_app` / ``kit.asgi()``: the app; `ROUTERS` lists its routers.
- `WebSettings`: limits, session lifetime, rate limits (`chatkit.ratelimit`,
  shared through the kit's store or Redis), trusted proxies.
- `WebContext`: the kit, settings and hooks of one app (``Depends(web_context)``);
  `WebContext.call` runs a kit call on the kit's loop, `WebContext.hit` counts
  a rate limit (`WebContext.check` asks without counting), `WebContext.client_ip`
  finds the client's address.
- `current_customer`, `current_agent`, `current_principal`: FastAPI
  dependencies giving a `CustomerPrincipal` or an `AgentPrincipal`.
- `Authenticate`, `AgentIdentity`: the host's agent authentication hook.
- `authenticate_customer`: a session token to a `CustomerPrincipal`, for a
  WebSocket endpoint that receives the token in its own way.
- `Policy`, `DefaultPolicy`: authorization (who sees a conversation, acts on
  it, receives an event); ``WebContext.policy``, plugged with ``kit.asgi(policy=...)``.
- `check_origin`: the website origin check (customer requests, WebSocket handshakes).
- The errors `AuthenticationError` (401), `PermissionDeniedError` (403),
  `OriginNotAllowedError` (403), `PayloadTooLargeError` (413) and the
  mapping of every `chatkit.errors.ChatKitError` to a status (`status_for`).
"""

from __future__ import annotations

from ..models.web import WebSession, Website, normalize_origin
from .app import ROUTERS, create_app
from .auth import (
    ADMIN,
    AGENT,
    SUPERVISOR,
    AgentIdentity,
    AgentPrincipal,
    Authenticate,
    CustomerPrincipal,
    Principal,
    authenticate_customer,
    bearer_token,
    current_agent,
    current_customer,
    current_principal,
    get_context,
    web_context,
)
from .context import WebContext
from .errors import (
    AuthenticationError,
    ErrorBody,
    ErrorResponse,
    OriginNotAllowedError,
    PayloadTooLargeError,
    PermissionDeniedError,
    error_code,
    status_for,
)
from .identity import identity_hash, verify_identity_hash
from .middleware import JSON_CSP, WebMiddleware, page_csp, request_id
from .origins import check_origin, origin_allowed, same_origin
from .policy import (
    AGENT_ACTIONS,
    CUSTOMER_ACTIONS,
    CUSTOMER_EVENTS,
    TEAM_EVENTS,
    Action,
    DefaultPolicy,
    Policy,
    PolicyFactory,
)
from .settings import WebSettings

__all__ = [
    "ADMIN",
    "AGENT",
    "AGENT_ACTIONS",
    "CUSTOMER_ACTIONS",
    "CUSTOMER_EVENTS",
    "Action",
    "DefaultPolicy",
    "Policy",
    "PolicyFactory",
    "JSON_CSP",
    "ROUTERS",
    "SUPERVISOR",
    "TEAM_EVENTS",
    "AgentIdentity",
    "AgentPrincipal",
    "Authenticate",
    "AuthenticationError",
    "CustomerPrincipal",
    "ErrorBody",
    "ErrorResponse",
    "OriginNotAllowedError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Principal",
    "WebContext",
    "WebMiddleware",
    "WebSession",
    "WebSettings",
    "Website",
    "authenticate_customer",
    "bearer_token",
    "check_origin",
    "create_app",
    "current_agent",
    "current_customer",
    "current_principal",
    "error_code",
    "get_context",
    "identity_hash",
    "normalize_origin",
    "origin_allowed",
    "page_csp",
    "request_id",
    "same_origin",
    "status_for",
    "verify_identity_hash",
    "web_context",
]
