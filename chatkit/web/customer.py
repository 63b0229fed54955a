"""The customer API: what a website's widget or a mobile app calls.

Sessions (``/v1/sessions``) turn a website's public key (and, for a
signed-in user, an identity hash) into a bearer token; every other route
takes the caller with ``Depends(current_customer)`` and sees only the
conversations of the session's contact.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ..errors import NotFoundError
from ..models import Contact, WebSession, Website
from ..models._base import new_id, utcnow
from ..services._core import bump
from ..stores.base import Insert, Update
from ._deps import APIRouter, Depends, Request
from .auth import CustomerPrincipal, current_customer, get_context
from .context import WebContext
from .errors import AuthenticationError, PermissionDeniedError
from .identity import verify_identity_hash
from .origins import check_origin
from .sessions import hash_token, new_token

__all__ = ["SessionCreated", "SessionRequest", "router"]

router = APIRouter(tags=["customer"])

Web = Annotated[WebContext, Depends(get_context)]
Customer = Annotated[CustomerPrincipal, Depends(current_customer)]


class SessionRequest(BaseModel):
    """Start a customer session for a website.

    Anonymous visitors send only the website's public key. A signed-in user
    also sends their ``user_id`` or ``email`` and the ``identity_hash`` the
    website's server computed: HMAC-SHA256(identity secret, user id or
    e-mail), hex.
    """

    model_config = ConfigDict(extra="forbid")

    website_key: str = Field(min_length=1, max_length=100)
    user_id: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, min_length=3, max_length=320)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    identity_hash: str | None = Field(default=None, min_length=1, max_length=128)


class SessionCreated(BaseModel):
    """A new session: keep ``token`` and send it as ``Authorization: Bearer <token>``."""

    token: str
    session_id: str
    website_id: str
    contact_id: str
    identified: bool
    expires_at: datetime


async def _start(
    web: WebContext, site: Website, body: SessionRequest, contact: Contact, visitor: str | None
) -> tuple[WebSession, str]:
    token = new_token()
    identity = None
    if visitor is None:
        identity = f"external:{site.id}:{body.user_id}" if body.user_id else f"email:{body.email}"
    session = WebSession(
        id=new_id("wsess"),
        token_hash=hash_token(token),
        website_id=site.id,
        contact_id=contact.id,
        visitor_id=visitor,
        identity=identity,
        expires_at=utcnow() + timedelta(seconds=web.settings.session_seconds),
    )
    await web.call(web.kit._core.commit, [Insert(session)])
    return session, token


@router.post("/v1/sessions", status_code=201, response_model=SessionCreated)
async def start_session(body: SessionRequest, request: Request, web: Web) -> SessionCreated:
    """Start a session: anonymous (the website key alone) or identified (with an identity hash).

    Limited per client IP address (``sessions_per_ip``: 5 an hour by default).
    A website with ``require_identity`` refuses anonymous visitors (403); a
    wrong identity hash is 401.
    """
    try:
        site: Website = await web.call(web.kit.websites.by_key, body.website_key)
    except NotFoundError:
        raise AuthenticationError("unknown website key") from None
    check_origin(request, site)
    user = body.user_id or body.email
    if user is None and body.identity_hash is not None:
        raise AuthenticationError("an identity hash needs the user_id or email it was made of")
    if user is not None:
        if body.identity_hash is None or not verify_identity_hash(
            site.identity_secret, user, body.identity_hash
        ):
            raise AuthenticationError("the identity hash does not match")
    elif site.require_identity:
        raise PermissionDeniedError("this website accepts identified users only")
    await web.hit("sessions_per_ip", web.client_ip(request))
    if user is not None:
        identity = ("external", f"{site.id}:{body.user_id}") if body.user_id else ("email", user)
        contact = await web.call(web.kit.contacts.identify, identity, name=body.name, verified=True)
        visitor = None
    else:
        visitor = secrets.token_hex(16)
        contact = await web.call(web.kit.contacts.identify, ("web", visitor), name=body.name)
    session, token = await _start(web, site, body, contact, visitor)
    return SessionCreated(
        token=token,
        session_id=session.id,
        website_id=site.id,
        contact_id=contact.id,
        identified=visitor is None,
        expires_at=session.expires_at,
    )


async def _end(web: WebContext, session_id: str) -> None:
    store = await web.kit._core.ready()
    session = await store.get(WebSession, session_id)
    if session is None or session.revoked_at is not None:
        return
    await web.kit._core.commit([Update(bump(session, revoked_at=utcnow()))])


@router.delete("/v1/sessions/current", status_code=204)
async def end_session(customer: Customer, web: Web) -> None:
    """End this session: its token stops working at once."""
    await web.call(_end, web, customer.session_id)
