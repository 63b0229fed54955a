"""Who is calling: principals, the agent authentication hook, and the route dependencies.

Routes ask for the caller with FastAPI dependencies::

    @router.get("/v1/conversations")
    async def mine(customer: CustomerPrincipal = Depends(current_customer)) -> ...

`current_customer` accepts a customer session token (``Authorization:
Bearer <token>``, from ``POST /v1/sessions``) and checks the request's
origin against the session's website; `current_agent` asks the host's
`Authenticate` hook, then (when the kit has per-agent API tokens) a bearer
agent token.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from ..errors import InvalidTokenError, NotFoundError
from ..models import Website
from ._deps import HTTPConnection
from .context import WebContext
from .errors import AuthenticationError, OriginNotAllowedError
from .origins import check_origin, origin_allowed, request_origin, same_origin
from .sessions import TOKEN_PREFIX, find_session

__all__ = [
    "ADMIN",
    "AGENT",
    "SUPERVISOR",
    "AgentIdentity",
    "AgentPrincipal",
    "Authenticate",
    "CustomerPrincipal",
    "Principal",
    "authenticate_customer",
    "bearer_token",
    "current_agent",
    "current_customer",
    "current_principal",
    "get_context",
    "web_context",
]

AGENT = "agent"
"""The role of an agent: their teams' conversations and those assigned to them."""
SUPERVISOR = "supervisor"
"""The role of a supervisor: their teams' conversations and their reports'."""
ADMIN = "admin"
"""The role of an administrator: everything."""


class AgentIdentity(BaseModel):
    """Who an agent's request comes from, as the host's `Authenticate` hook says.

    Attributes:
        agent_id: The agent's id in the kit (``kit.agents``).
        role: ``"agent"``, ``"supervisor"``, ``"admin"`` or a role of your
            own policy.
    """

    model_config = ConfigDict(frozen=True)

    agent_id: str = Field(min_length=1, max_length=200)
    role: str = Field(default=AGENT, min_length=1, max_length=100)


Authenticate: TypeAlias = Callable[[HTTPConnection], Awaitable[AgentIdentity | None]]
"""The host's hook: given a request, the agent it comes from, or ``None`` (not an agent).

It runs on the serving event loop with the Starlette connection: a
``Request``, or a ``WebSocket`` during a handshake (both have ``headers``,
``cookies``, ``session`` when a session middleware runs, ``client``). Return
``None`` for a caller who is not an agent.
"""


class CustomerPrincipal(BaseModel):
    """A customer, holding a session of one website.

    Attributes:
        session_id: The session (``WebSession``) the token belongs to.
        website_id: The website it was started for.
        contact_id: The contact the customer is; their conversations are
            those of this contact (and of the contacts merged into it).
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["customer"] = "customer"
    session_id: str
    website_id: str
    contact_id: str


class AgentPrincipal(BaseModel):
    """An agent, as authenticated by the hook or an agent API token.

    Attributes:
        agent_id: The agent's id.
        role: Their role (``"agent"``, ``"supervisor"``, ``"admin"``, or your own).
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["agent"] = "agent"
    agent_id: str
    role: str


Principal: TypeAlias = Annotated[CustomerPrincipal | AgentPrincipal, Field(discriminator="kind")]
"""Whoever is calling: a `CustomerPrincipal` or an `AgentPrincipal`."""


def get_context(connection: HTTPConnection) -> WebContext:
    """The `WebContext` of the app serving a request or WebSocket.

    As a FastAPI dependency, prefer `web_context`: FastAPI runs a plain
    function dependency such as this one on a worker thread, a hand-off
    that costs every request more than the lookup itself.
    """
    web: WebContext = connection.app.state.chatkit
    return web


async def web_context(connection: HTTPConnection) -> WebContext:
    """The `WebContext` of the app serving a request: ``Depends(web_context)`` in a route.

    The same as `get_context`, as an ``async`` dependency, which FastAPI
    runs on the serving loop instead of a worker thread.
    """
    return get_context(connection)


def bearer_token(connection: HTTPConnection) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if there is one."""
    header = connection.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        return None
    return token


async def current_customer(connection: HTTPConnection) -> CustomerPrincipal:
    """The customer whose session token the request carries (a FastAPI dependency).

    Works on HTTP routes and WebSocket routes alike (the token in an
    ``Authorization: Bearer`` header); a WebSocket endpoint that receives the
    token another way calls `authenticate_customer`.

    Raises:
        AuthenticationError: No token, or an unknown, expired or revoked one (401).
        OriginNotAllowedError: The request's origin is not one of the
            session's website's origins (403).
    """
    cached = getattr(connection.state, "customer", None)
    if isinstance(cached, CustomerPrincipal):
        return cached
    token = bearer_token(connection)
    if token is None:
        raise AuthenticationError("this needs a customer session token (Authorization: Bearer)")
    principal = await authenticate_customer(connection, token)
    connection.state.customer = principal
    return principal


async def authenticate_customer(connection: HTTPConnection, token: str) -> CustomerPrincipal:
    """The customer holding session ``token``, checked as `current_customer` does.

    The session must be live, its website must exist, and the connection's
    ``Origin`` (when it has one) must be one of the website's origins. For a
    WebSocket handshake, call this before accepting it.

    Raises:
        AuthenticationError: An unknown, expired or revoked token (401).
        OriginNotAllowedError: A foreign origin (403).
    """
    web = get_context(connection)
    session = await web.call(find_session, web.kit, token)
    try:
        website: Website = await web.call(web.kit.websites.get, session.website_id)
    except NotFoundError:
        raise AuthenticationError("the session's website no longer exists") from None
    check_origin(connection, website)
    return CustomerPrincipal(
        session_id=session.id, website_id=website.id, contact_id=session.contact_id
    )


def _agent_origin(request: HTTPConnection, web: WebContext) -> None:
    origin = request_origin(request)
    if origin is None or same_origin(request, origin):
        return
    if not origin_allowed(origin, web.settings.agent_origins):
        raise OriginNotAllowedError(
            "this origin may not call the agent API; add it to WebSettings.agent_origins"
        )


async def current_agent(request: HTTPConnection) -> AgentPrincipal:
    """The agent the request comes from (a FastAPI dependency).

    Asks the `Authenticate` hook given to the app first; when it gives no
    answer and the kit has per-agent API tokens (``kit.agents.authenticate_token``),
    a bearer token is checked with it. A cross-origin request must come from
    one of `WebSettings.agent_origins`.

    Raises:
        AuthenticationError: Neither recognised the caller (401).
        OriginNotAllowedError: A foreign origin (403).
    """
    cached = getattr(request.state, "agent", None)
    if isinstance(cached, AgentPrincipal):
        return cached
    web = get_context(request)
    _agent_origin(request, web)
    identity: AgentIdentity | None = None
    if web.authenticate is not None:
        identity = await web.authenticate(request)
    if identity is None:
        identity = await _agent_token(request, web)
    if identity is None:
        raise AuthenticationError("this needs an authenticated agent")
    if not isinstance(identity, AgentIdentity):
        raise TypeError("the authenticate hook must return an AgentIdentity or None")
    principal = AgentPrincipal(agent_id=identity.agent_id, role=identity.role)
    request.state.agent = principal
    return principal


async def _agent_token(request: HTTPConnection, web: WebContext) -> AgentIdentity | None:
    token = bearer_token(request)
    check = getattr(web.kit.agents, "authenticate_token", None)
    if token is None or token.startswith(TOKEN_PREFIX):  # a customer's session token
        return None
    if check is None or not inspect.iscoroutinefunction(check):
        return None
    try:
        found = await web.call(check, token)
    except (AuthenticationError, InvalidTokenError, NotFoundError):
        return None
    if found is None:
        return None
    if isinstance(found, AgentIdentity):
        return found
    agent_id = getattr(found, "agent_id", None) or getattr(found, "id", None)
    role = getattr(found, "role", None) or AGENT
    if not isinstance(agent_id, str) or not agent_id:
        return None
    return AgentIdentity(agent_id=agent_id, role=str(getattr(role, "value", role)))


async def current_principal(request: HTTPConnection) -> AgentPrincipal | CustomerPrincipal:
    """The caller, agent or customer (a FastAPI dependency for routes both may use).

    An agent is tried first (the hook, an agent token), then a customer session token.

    Raises:
        AuthenticationError: Neither (401).
    """
    try:
        return await current_agent(request)
    except AuthenticationError:
        return await current_customer(request)
