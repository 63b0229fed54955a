"""The customer API: what a website's widget or a mobile app calls.

Sessions (``/v1/sessions``) turn a website's public key (and, for a
signed-in user, an identity hash) into a bearer token; every other route
takes the caller with ``Depends(current_customer)`` and sees only the
conversations of the session's contact (and of contacts merged into it).
An id in a path that is not the caller's gives 404, exactly as an unknown one.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from ..bots.flows import AskStep
from ..errors import ConflictError, InvalidInputError, NotFoundError
from ..models import (
    ANALYTICS_CLIENT_ID,
    AnalyticsConsent,
    Attachment,
    Author,
    AuthorRole,
    Contact,
    Conversation,
    ConversationStatus,
    Message,
    MessageKind,
    Survey,
    SurveyStatus,
    WebSession,
    Website,
)
from ..models._base import new_id, utcnow
from ..services._core import bump
from ..services.routing import RoutingResult
from ..stores.base import Gt, Insert, Update
from ._deps import APIRouter, Depends, Header, Query, Request, Response, StreamingResponse
from .auth import CustomerPrincipal, current_customer, web_context
from .context import WebContext
from .errors import AuthenticationError, PermissionDeniedError
from .identity import verify_identity_hash
from .origins import check_origin
from .sessions import hash_token, new_token
from .settings import DEFAULT_IDENTITY_MAX_AGE

__all__ = [
    "AnalyticsUpdate",
    "AnalyticsView",
    "AttachmentView",
    "BotView",
    "ConversationPage",
    "ConversationView",
    "CustomerMessage",
    "MessagePage",
    "MessageSent",
    "NewMessage",
    "OfflineMessage",
    "OfflineReceipt",
    "QueueView",
    "ReplyMessage",
    "SessionCreated",
    "SessionRequest",
    "SurveyAnswer",
    "SurveyView",
    "TypingPreviewRequest",
    "router",
]

router = APIRouter(tags=["customer"])

Web = Annotated[WebContext, Depends(web_context)]
Customer = Annotated[CustomerPrincipal, Depends(current_customer)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Retrying with the same key returns the first message instead of a second.",
    ),
]


class SessionRequest(BaseModel):
    """Start a customer session for a website.

    Anonymous visitors send only the website's public key. A signed-in user
    also sends their ``user_id`` or ``email`` and the ``identity_hash`` the
    website's server computed: HMAC-SHA256(identity secret, user id or
    e-mail), hex. With ``identity_timestamp`` (Unix seconds) the hash is of
    ``"<user id or e-mail>:<timestamp>"`` and expires after
    `WebSettings.identity_max_age` seconds, so a copied hash cannot be
    replayed later; when that setting is on, only such hashes are accepted.
    When both ``user_id`` and ``email`` are sent, the hash is of the user id.

    The widget may pass the visitor's web analytics client id
    (``analytics_client_id``, as Google Analytics' ``gtag('get', ...,
    'client_id')`` gives it: ``<digits>.<digits>``) and what the visitor
    agreed to in the website's consent banner (``analytics_consent``): chat
    events then reach the website's analytics on that visitor (see the GA4
    integration). Both are optional and can change later
    (``PUT /v1/sessions/current/analytics``).
    """

    model_config = ConfigDict(extra="forbid")

    website_key: str = Field(min_length=1, max_length=100)
    user_id: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, min_length=3, max_length=320)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    identity_hash: str | None = Field(default=None, min_length=1, max_length=128)
    identity_timestamp: int | None = Field(default=None, ge=0, le=2**40)
    analytics_client_id: str | None = Field(
        default=None, max_length=41, pattern=ANALYTICS_CLIENT_ID.pattern
    )
    analytics_consent: AnalyticsConsent | None = None


class AnalyticsUpdate(BaseModel):
    """The visitor's analytics client id and consent, as the website's banner now says.

    A field left out keeps its value; ``analytics_consent`` replaces the
    whole consent.
    """

    model_config = ConfigDict(extra="forbid")

    analytics_client_id: str | None = Field(
        default=None, max_length=41, pattern=ANALYTICS_CLIENT_ID.pattern
    )
    analytics_consent: AnalyticsConsent | None = None


class AnalyticsView(BaseModel):
    """What the session holds for analytics."""

    analytics_client_id: str | None
    analytics_consent: AnalyticsConsent | None
    consent_required: bool


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
        analytics_client_id=body.analytics_client_id,
        analytics_consent=body.analytics_consent,
    )
    await web.call(web.kit._core.commit, [Insert(session)])
    return session, token


_CLOCK_SKEW = 60.0
"""Seconds an identity timestamp may be ahead of this server's clock."""


def _signed_user(web: WebContext, user: str, timestamp: int | None) -> str:
    """What the identity hash must be of; refuses stale or missing timestamps."""
    max_age = web.settings.identity_max_age
    if timestamp is None:
        if max_age is not None:
            raise AuthenticationError("the identity hash needs an identity_timestamp")
        return user
    age = utcnow().timestamp() - timestamp
    if age > (max_age if max_age is not None else DEFAULT_IDENTITY_MAX_AGE) or age < -_CLOCK_SKEW:
        raise AuthenticationError("the identity hash has expired; compute a fresh one")
    return f"{user}:{timestamp}"


@router.post("/v1/sessions", status_code=201, response_model=SessionCreated)
async def start_session(body: SessionRequest, request: Request, web: Web) -> SessionCreated:
    """Start a session: anonymous (the website key alone) or identified (with an identity hash).

    Limited per client IP address (``new_session``: 5 an hour by default;
    refused attempts count too). An unknown website key or a wrong, missing
    or expired identity hash is 401 and counts against ``failed_auth`` (10
    per 10 minutes per IP address; then 429 before anything is checked). A
    website with ``require_identity`` refuses anonymous visitors (403).
    """
    ip = web.client_ip(request)
    await web.check("failed_auth", ip)
    try:
        site: Website = await web.call(web.kit.websites.by_key, body.website_key)
    except NotFoundError:
        await web.hit("failed_auth", ip)
        raise AuthenticationError("unknown website key") from None
    check_origin(request, site)
    await web.hit("new_session", ip)
    user = body.user_id or body.email
    if user is None and body.identity_hash is not None:
        raise AuthenticationError("an identity hash needs the user_id or email it was made of")
    if user is not None:
        try:
            signed = _signed_user(web, user, body.identity_timestamp)
            if body.identity_hash is None or not verify_identity_hash(
                site.identity_secret, signed, body.identity_hash
            ):
                raise AuthenticationError("the identity hash does not match")
        except AuthenticationError:  # wrong, missing or expired: a failed attempt
            await web.hit("failed_auth", ip)
            raise
    elif site.require_identity:
        raise PermissionDeniedError("this website accepts identified users only")
    if user is not None:
        identity = ("external", f"{site.id}:{body.user_id}") if body.user_id else ("email", user)
        identify = web.kit.contacts.identify
        contact = await web.call(identify, identity, name=body.name, verified=True)
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
    now = utcnow()
    ended = bump(session, revoked_at=now, expires_at=min(now, session.expires_at))
    await web.kit._core.commit([Update(ended)])


@router.put("/v1/sessions/current/analytics", response_model=AnalyticsView)
async def update_analytics(body: AnalyticsUpdate, customer: Customer, web: Web) -> AnalyticsView:
    """Set the visitor's analytics client id or consent (when they answer the consent banner).

    Chat events not sent yet go out (or not) by the consent the session holds
    when they are sent.
    """

    async def attempt() -> WebSession:
        store = await web.kit._core.ready()
        session = await store.get(WebSession, customer.session_id)
        if session is None:
            raise AuthenticationError("the session token is not valid")
        updates: dict[str, object] = {}
        if "analytics_client_id" in body.model_fields_set:
            updates["analytics_client_id"] = body.analytics_client_id
        if "analytics_consent" in body.model_fields_set:
            updates["analytics_consent"] = body.analytics_consent
        if not updates:
            return session
        new = bump(session, **updates)
        await web.kit._core.commit([Update(new)])
        return new

    session = await web.call(web.kit._core.retry, attempt)
    site: Website = await web.call(web.kit.websites.get, session.website_id)
    return AnalyticsView(
        analytics_client_id=session.analytics_client_id,
        analytics_consent=session.analytics_consent,
        consent_required=site.analytics_consent_required,
    )


@router.delete("/v1/sessions/current", status_code=204)
async def end_session(customer: Customer, web: Web) -> None:
    """End this session: its token stops working at once."""
    await web.call(_end, web, customer.session_id)


# -- views ---------------------------------------------------------------------


class AttachmentView(BaseModel):
    """A file attached to a message (or uploaded, waiting to be sent)."""

    id: str
    name: str
    mime_type: str
    kind: str
    size: int
    width: int | None = None
    height: int | None = None


class CustomerMessage(BaseModel):
    """A message as the customer sees it (private notes are never shown)."""

    id: str
    conversation_id: str
    seq: int = Field(description="Position in the conversation; page with ?after=<seq>.")
    kind: Literal["text", "system"]
    author: Literal["customer", "agent", "bot", "system"]
    text: str
    attachments: list[AttachmentView] = Field(default_factory=list)
    created_at: datetime


class ConversationView(BaseModel):
    """A conversation of the customer's."""

    id: str
    status: ConversationStatus
    channel: str
    subject: str | None = None
    last_seq: int
    last_message_at: datetime | None = None
    created_at: datetime


class ConversationPage(BaseModel):
    """One page of conversations, most recently active first."""

    items: list[ConversationView]
    next_cursor: str | None = Field(default=None, description="Pass as ?cursor= for the next page.")


class MessagePage(BaseModel):
    """Messages after a sequence number, oldest first."""

    items: list[CustomerMessage]
    next_after: int | None = Field(
        default=None, description="Pass as ?after= for more; null when there is nothing more."
    )


class NewMessage(BaseModel):
    """A customer's message; it continues their open conversation or starts one."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=100_000)
    metadata: dict[str, JsonValue] | None = None


class ReplyMessage(BaseModel):
    """A customer's message in one of their conversations, possibly with uploaded attachments."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(default="", max_length=100_000)
    attachments: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50
    )


class MessageSent(BaseModel):
    """The message as stored, and the conversation it went into."""

    conversation_id: str
    new_conversation: bool
    message: CustomerMessage


class TypingPreviewRequest(BaseModel):
    """What the customer is typing, before they send it."""

    model_config = ConfigDict(extra="forbid")

    draft: str = Field(max_length=10_000)


class BotView(BaseModel):
    """Where a bot is in the conversation; answer its question by sending a message."""

    flow: str
    status: str
    step: str | None
    waiting: str | None = Field(description="``answer``, ``feedback`` or null.")
    choices: list[str] = Field(
        default_factory=list, description="For a choice question: send one of these as the text."
    )


class SurveyView(BaseModel):
    """A satisfaction survey sent to the customer."""

    id: str
    conversation_id: str
    status: SurveyStatus
    title: str
    questions: list[dict[str, JsonValue]]
    comment_prompt: str | None = None
    expires_at: datetime


class SurveyAnswer(BaseModel):
    """The customer's answers, by question id."""

    model_config = ConfigDict(extra="forbid")

    answers: dict[Annotated[str, Field(max_length=100)], int | str] = Field(max_length=50)
    comment: str | None = Field(default=None, max_length=10_000)


class QueueView(BaseModel):
    """Where the conversation waits for an agent."""

    queued: bool
    position: int | None = Field(default=None, description="1 is next.")
    expected_wait_seconds: float | None = None
    open_now: bool = True
    opens_at: datetime | None = None
    assigned: bool


class OfflineMessage(BaseModel):
    """A message left while the team is closed; it opens a ticket."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=10_000)
    email: str | None = Field(
        default=None,
        max_length=320,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="Where to answer (kept with the ticket; never added to the contact).",
    )
    name: str | None = Field(default=None, min_length=1, max_length=200)
    team: str | None = Field(default=None, min_length=1, max_length=100)


class OfflineReceipt(BaseModel):
    """The ticket the offline message opened."""

    ticket_id: str
    opens_at: datetime | None = Field(default=None, description="When the team opens next.")


def _message_view(message: Message) -> CustomerMessage:
    return CustomerMessage(
        id=message.id,
        conversation_id=message.conversation_id,
        seq=message.seq,
        kind="system" if message.kind is MessageKind.SYSTEM else "text",
        author=message.author.role.value,
        text=message.text,
        attachments=[
            AttachmentView(
                id=a.id,
                name=a.name,
                mime_type=a.mime_type,
                kind=a.kind.value,
                size=a.size,
                width=a.width,
                height=a.height,
            )
            for a in message.attachments
        ],
        created_at=message.created_at,
    )


def _conversation_view(conversation: Conversation) -> ConversationView:
    return ConversationView(
        id=conversation.id,
        status=conversation.status,
        channel=conversation.channel.value,
        subject=conversation.subject,
        last_seq=conversation.last_seq,
        last_message_at=conversation.last_message_at,
        created_at=conversation.created_at,
    )


# -- helpers -------------------------------------------------------------------


async def _contact_id(web: WebContext, customer: CustomerPrincipal) -> str:
    """The customer's contact as it is now (a merged contact's survivor)."""
    try:
        contact: Contact = await web.call(web.kit.contacts.get, customer.contact_id)
    except NotFoundError:  # purged (retention): the session has nobody left to speak for
        raise AuthenticationError("the session's contact no longer exists") from None
    return contact.id


async def _owned(
    web: WebContext, customer: CustomerPrincipal, conversation_id: str
) -> Conversation:
    """The conversation, when it is the customer's; 404 otherwise (unknown or not theirs)."""
    try:
        conversation: Conversation = await web.call(web.kit.conversations.get, conversation_id)
    except (NotFoundError, InvalidInputError):
        raise NotFoundError("conversation", conversation_id[:100]) from None
    if conversation.contact_id != await _contact_id(web, customer):
        raise NotFoundError("conversation", conversation_id[:100])
    return conversation


async def _session(web: WebContext, customer: CustomerPrincipal) -> WebSession:
    store = await web.call(web.kit._core.ready)
    session: WebSession | None = await web.call(store.get, WebSession, customer.session_id)
    if session is None:
        raise AuthenticationError("the session token is not valid")
    return session


def _sender(session: WebSession) -> tuple[str, str]:
    """The identity a session's messages come from."""
    if session.visitor_id is not None:
        return ("web", session.visitor_id)
    kind, _, value = (session.identity or "").partition(":")
    return (kind, value)


async def _is_current(web: WebContext, conversation: Conversation) -> bool:
    """Whether ``conversation`` is where `Messages.receive` would put the contact's next message."""
    latest = await web.call(
        web.kit.conversations.list,
        contact_id=conversation.contact_id,
        status=[s for s in ConversationStatus if s is not ConversationStatus.CLOSED],
        limit=1,
    )
    return bool(latest.items) and latest.items[0].id == conversation.id


async def _receive(
    web: WebContext,
    request: Request,
    customer: CustomerPrincipal,
    text: str,
    key: str | None,
    metadata: dict[str, JsonValue] | None,
) -> MessageSent:
    session = await _session(web, customer)
    ip = web.client_ip(request)
    await web.hit("message", customer.session_id)
    contact_id = await _contact_id(web, customer)
    current = await web.call(
        web.kit.conversations.list,
        contact_id=contact_id,
        status=[s for s in ConversationStatus if s is not ConversationStatus.CLOSED],
        limit=1,
    )
    if not current.items:
        await web.hit("new_conversation", ip)
    receive = web.kit.messages.receive
    kind, value = _sender(session)
    inbound = await web.call(
        receive,
        channel="web",
        sender=(kind, value),
        text=text,
        idempotency_key=key,
        metadata=metadata,
        ip=ip or None,
        email=value if kind == "email" else None,
        verified=True,
    )
    if inbound.contact.id != contact_id:  # the identity moved to another contact meanwhile
        raise ConflictError("this session's identity now belongs to another contact")
    return MessageSent(
        conversation_id=inbound.conversation.id,
        new_conversation=inbound.new_conversation,
        message=_message_view(inbound.message),
    )


# -- routes --------------------------------------------------------------------


@router.get("/v1/conversations", response_model=ConversationPage)
async def list_conversations(
    customer: Customer,
    web: Web,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> ConversationPage:
    """The customer's conversations (those of contacts merged into theirs too), latest first."""
    page = await web.call(
        web.kit.conversations.list,
        contact_id=await _contact_id(web, customer),
        limit=limit,
        cursor=cursor,
    )
    return ConversationPage(
        items=[_conversation_view(c) for c in page.items], next_cursor=page.next_cursor
    )


@router.get("/v1/conversations/{conversation_id}", response_model=ConversationView)
async def get_conversation(conversation_id: str, customer: Customer, web: Web) -> ConversationView:
    """One of the customer's conversations."""
    return _conversation_view(await _owned(web, customer, conversation_id))


async def _after(
    web: WebContext, conversation_id: str, after: int, limit: int
) -> tuple[list[Message], int | None]:
    store = await web.kit._core.ready()
    found = await store.find(
        Message,
        {"conversation_id": conversation_id, "seq": Gt(after)},
        order_by="seq",
        limit=limit + 1,
    )
    more = len(found) > limit
    found = found[:limit]
    shown = [m for m in found if m.kind is not MessageKind.NOTE]
    return shown, (found[-1].seq if more and found else None)


@router.get("/v1/conversations/{conversation_id}/messages", response_model=MessagePage)
async def list_messages(
    conversation_id: str,
    customer: Customer,
    web: Web,
    after: Annotated[int, Query(ge=0, le=2**62, description="Messages after this seq.")] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MessagePage:
    """The conversation's messages after ``after``, oldest first (private notes are left out)."""
    conversation = await _owned(web, customer, conversation_id)
    shown, next_after = await web.call(_after, web, conversation.id, after, limit)
    return MessagePage(items=[_message_view(m) for m in shown], next_after=next_after)


@router.post("/v1/messages", status_code=201, response_model=MessageSent)
async def send_message(
    body: NewMessage,
    request: Request,
    customer: Customer,
    web: Web,
    idempotency_key: IdempotencyKey = None,
) -> MessageSent:
    """Send a message: it continues the customer's open conversation, or starts one.

    Bots and automatic replies answer it as for any channel. Limited per
    session (``message``) and, when it starts a conversation, per IP address
    (``new_conversation``: 6 in 12 hours by default).
    """
    return await _receive(web, request, customer, body.text, idempotency_key, body.metadata)


@router.post(
    "/v1/conversations/{conversation_id}/messages", status_code=201, response_model=MessageSent
)
async def reply(
    conversation_id: str,
    body: ReplyMessage,
    request: Request,
    customer: Customer,
    web: Web,
    idempotency_key: IdempotencyKey = None,
) -> MessageSent:
    """Send a message in one of the customer's conversations, with uploaded attachments if any.

    A closed conversation takes no messages (409); send to ``/v1/messages``
    to start a new one.
    """
    conversation = await _owned(web, customer, conversation_id)
    if conversation.status is ConversationStatus.CLOSED:
        raise ConflictError("this conversation is closed; send to /v1/messages to start a new one")
    if not body.attachments and await _is_current(web, conversation):
        return await _receive(web, request, customer, body.text, idempotency_key, None)
    await web.hit("message", customer.session_id)
    message: Message = await web.call(
        web.kit.messages.send,
        conversation.id,
        body.text,
        author=Author.customer(conversation.contact_id),
        channel="web",
        idempotency_key=idempotency_key,
        attachments=body.attachments,
    )
    return MessageSent(
        conversation_id=conversation.id, new_conversation=False, message=_message_view(message)
    )


def _bridge(web: WebContext, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``stream`` (read on the serving loop) as chunks the kit's loop can read."""
    if web._portal is None:
        return stream
    import asyncio

    loop = asyncio.get_running_loop()

    async def step() -> bytes | None:
        try:
            return await stream.__anext__()
        except StopAsyncIteration:
            return None

    async def chunks() -> AsyncIterator[bytes]:
        while True:
            chunk = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(step(), loop))
            if chunk is None:
                return
            yield chunk

    return chunks()


@router.post(
    "/v1/conversations/{conversation_id}/attachments",
    status_code=201,
    response_model=AttachmentView,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def upload_attachment(
    conversation_id: str,
    request: Request,
    customer: Customer,
    web: Web,
    name: Annotated[str, Query(min_length=1, max_length=255, description="The file's name.")],
) -> AttachmentView:
    """Upload a file (the raw bytes as the body); send it with a message's ``attachments``.

    The body streams into the blob store; the kit's attachment limits
    (size, types, active content) apply, and the body limit
    (`WebSettings.max_upload_bytes`).
    """
    conversation = await _owned(web, customer, conversation_id)
    await web.hit("upload", customer.session_id)
    attachment = await web.call(
        web.kit.attachments.upload,
        conversation.id,
        _bridge(web, request.stream()),
        name=name,
        author=Author.customer(conversation.contact_id),
    )
    return AttachmentView(
        id=attachment.id,
        name=attachment.name,
        mime_type=attachment.mime_type,
        kind=attachment.kind.value,
        size=attachment.size,
        width=attachment.width,
        height=attachment.height,
    )


def _disposition(name: str) -> str:
    ascii_name = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


@router.get(
    "/v1/conversations/{conversation_id}/attachments/{attachment_id}",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {"schema": {"type": "string"}}}},
        307: {
            "description": "The blob store signs URLs (an S3 bucket): ``Location`` is a "
            "short-lived URL that downloads the file from it."
        },
    },
)
async def download_attachment(
    conversation_id: str, attachment_id: str, customer: Customer, web: Web
) -> Response:
    """Download a file of the conversation: one sent in a message, or one the customer uploaded.

    Files of private notes are never given out. Served as a download
    (``Content-Disposition: attachment``) with its sniffed type. When the
    kit's blob store signs URLs (`chatkit.blobs.s3.S3BlobStore`), the answer
    is a redirect (307) to a short-lived signed URL of the bucket, which
    sends the same type and disposition; otherwise the app streams the bytes.
    """
    conversation = await _owned(web, customer, conversation_id)
    try:
        attachment: Attachment = await web.call(web.kit.attachments.get, attachment_id)
    except (NotFoundError, InvalidInputError):
        raise NotFoundError("attachment", attachment_id[:100]) from None
    visible = attachment.conversation_id == conversation.id
    if visible and attachment.message_id is not None:
        message: Message = await web.call(web.kit.messages.get, attachment.message_id)
        visible = message.kind is not MessageKind.NOTE
    elif visible:
        visible = attachment.uploaded_by.role is AuthorRole.CUSTOMER  # not sent yet: theirs only
    if not visible:
        raise NotFoundError("attachment", attachment_id[:100])
    signed: str | None = await web.call(web.kit.attachments.signed_url, attachment.id)
    if signed is not None:
        return Response(
            status_code=307,
            headers={
                "Location": signed,
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
            },
        )
    return StreamingResponse(
        web.stream(web.kit.attachments.open(attachment.id)),
        media_type=attachment.mime_type,
        headers={
            "Content-Disposition": _disposition(attachment.name),
            "Content-Length": str(attachment.size),
            "Content-Security-Policy": "default-src 'none'; sandbox; frame-ancestors 'none'",
        },
    )


@router.post("/v1/conversations/{conversation_id}/typing", status_code=204)
async def typing(
    conversation_id: str, body: TypingPreviewRequest, customer: Customer, web: Web
) -> None:
    """Show agents what the customer is typing (throttled; only where the website enables it)."""
    site: Website = await web.call(web.kit.websites.get, customer.website_id)
    if not site.typing_previews:
        raise PermissionDeniedError("this website does not send typing previews")
    conversation = await _owned(web, customer, conversation_id)
    await web.hit("typing", customer.session_id)
    await web.call(
        web.kit.previews.send,
        conversation.id,
        body.draft,
        author=Author.customer(conversation.contact_id),
    )


@router.get("/v1/conversations/{conversation_id}/bot", response_model=BotView | None)
async def bot(conversation_id: str, customer: Customer, web: Web) -> BotView | None:
    """Where the bot is (null when no bot ran); answer its question with a message."""
    conversation = await _owned(web, customer, conversation_id)
    state = conversation.bot
    if state is None:
        return None
    step = await web.call(web.kit.bots.current_step, conversation.id)
    choices = [c.value for c in step.choices] if isinstance(step, AskStep) else []
    return BotView(
        flow=state.flow,
        status=str(getattr(state.status, "value", state.status)),
        step=state.step,
        waiting=state.waiting,
        choices=choices,
    )


def _survey_view(survey: Survey) -> SurveyView:
    return SurveyView(
        id=survey.id,
        conversation_id=survey.conversation_id,
        status=survey.status,
        title=survey.form.title,
        questions=[q.model_dump(mode="json") for q in survey.form.questions],
        comment_prompt=survey.form.comment_prompt,
        expires_at=survey.expires_at,
    )


@router.get("/v1/conversations/{conversation_id}/surveys", response_model=list[SurveyView])
async def surveys(conversation_id: str, customer: Customer, web: Web) -> list[SurveyView]:
    """The satisfaction surveys sent in this conversation."""
    conversation = await _owned(web, customer, conversation_id)
    found = await web.call(web.kit.surveys.for_conversation, conversation.id)
    return [_survey_view(s) for s in found]


@router.post("/v1/surveys/{survey_id}/answers", response_model=SurveyView)
async def answer_survey(
    survey_id: str, body: SurveyAnswer, customer: Customer, web: Web
) -> SurveyView:
    """Answer a survey (once)."""
    try:
        survey: Survey = await web.call(web.kit.surveys.get, survey_id)
    except (NotFoundError, InvalidInputError):
        raise NotFoundError("survey", survey_id[:100]) from None
    try:
        await _owned(web, customer, survey.conversation_id)
    except NotFoundError:
        raise NotFoundError("survey", survey_id[:100]) from None
    answered = await web.call(web.kit.surveys.answer, survey.id, body.answers, body.comment)
    return _survey_view(answered)


@router.get("/v1/conversations/{conversation_id}/queue", response_model=QueueView)
async def queue(conversation_id: str, customer: Customer, web: Web) -> QueueView:
    """The conversation's place in its team's queue and the expected wait."""
    conversation = await _owned(web, customer, conversation_id)
    view: QueueView = await web.call(_queue_view, web, conversation)
    return view


async def _queue_view(web: WebContext, conversation: Conversation) -> QueueView:
    """The queue view of ``conversation`` (run it through ``web.call``; the real-time
    layer pushes the same view as ``queue.position`` frames)."""
    place: RoutingResult = await web.kit.routing.queue_position(conversation.id)
    wait = place.expected_wait
    return QueueView(
        queued=place.queued,
        position=place.position,
        expected_wait_seconds=None if wait is None else max(0.0, wait.total_seconds()),
        open_now=place.open_now,
        opens_at=place.opens_at,
        assigned=place.agent_id is not None,
    )


async def _closed_until(web: WebContext, team_name: str | None) -> tuple[bool, datetime | None]:
    """Whether the team (or, without one, every team) is closed now, and when it opens."""
    now = utcnow()
    if team_name is not None:
        teams = [await web.kit.teams.get(team_name)]
    else:
        teams = []
        cursor = None
        while True:
            page = await web.kit.teams.list(limit=100, cursor=cursor)
            teams += page.items
            cursor = page.next_cursor
            if cursor is None or len(teams) >= 1000:
                break
    if any(t.hours is None or t.hours.is_open(now) for t in teams):
        return False, None
    opens = [o for t in teams if t.hours is not None and (o := t.hours.next_open(now))]
    return True, min(opens) if opens else None


@router.post("/v1/offline-messages", status_code=201, response_model=OfflineReceipt)
async def offline_message(
    body: OfflineMessage, request: Request, customer: Customer, web: Web
) -> OfflineReceipt:
    """Leave a message while the team is closed: it opens a ticket for the team.

    Only while the team (``team``, else every team) is outside its business
    hours; otherwise 409: chat instead. The e-mail address is kept on the
    ticket to answer to, and never added to the contact (it is not verified).
    """
    closed, opens_at = await web.call(_closed_until, web, body.team)
    if not closed:
        raise ConflictError("the team is open now; send a message instead")
    await web.hit("offline_message", web.client_ip(request))
    lines = [body.text]
    if body.name:
        lines.append(f"Name: {body.name}")
    if body.email:
        lines.append(f"Reply to: {body.email}")
    ticket = await web.call(
        web.kit.tickets.create,
        subject=f"Offline message: {body.text[:80]}",
        contact_id=await _contact_id(web, customer),
        note="\n".join(lines),
        team=body.team,
    )
    return OfflineReceipt(ticket_id=ticket.id, opens_at=opens_at)
