"""The agent API (``/v1/agent/...``): what the agent console calls.

Routes take the caller with ``Depends(current_agent)`` (`chatkit.web.auth`),
ask the app's `Policy` (``web.policy``) before they read or change a
conversation, and run kit calls through ``web.call``
(`chatkit.web.WebContext`). A conversation the caller may not see is 404,
exactly as an unknown one.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from ..bots.state import BotSummary
from ..errors import InvalidInputError, NotFoundError
from ..models import (
    Agent,
    AgentStatus,
    Attachment,
    Author,
    AuthorRole,
    CannedReply,
    Channel,
    Contact,
    Conversation,
    ConversationContext,
    ConversationStatus,
    ExternalRecord,
    Message,
    MessageKind,
    Presence,
    Priority,
    Team,
    Ticket,
)
from ..services.previews import TypingPreview
from ..stores.base import Gt, In
from ._deps import APIRouter, Depends, Query, Request, Response, StreamingResponse
from .auth import ADMIN, SUPERVISOR, AgentPrincipal, current_agent, web_context
from .context import WebContext
from .errors import ErrorResponse, PermissionDeniedError
from .policy import Action

__all__ = [
    "AgentMessageRequest",
    "AgentView",
    "AssignRequest",
    "CannedReplyRequest",
    "ConversationDetail",
    "InboxPage",
    "InboxView",
    "PresenceRequest",
    "PriorityRequest",
    "SnoozeRequest",
    "TagsRequest",
    "TicketRequest",
    "AgentLoad",
    "Directory",
    "Mood",
    "inbox_items",
    "AttachmentUploaded",
    "CapacityRequest",
    "InboxItem",
    "Overview",
    "PreparedReply",
    "TeamQueue",
    "inbox",
    "router",
    "waiting_since",
]

router = APIRouter(prefix="/v1/agent", tags=["agent"])

TYPING_MARK = "\u2026"
"""The draft an agent's typing flag stands for (an ellipsis: the flag, not the words)."""

Web = Annotated[WebContext, Depends(web_context)]
Caller = Annotated[AgentPrincipal, Depends(current_agent)]

InboxView = Literal["mine", "unassigned", "teams", "all"]
"""The inbox views: assigned to me, nobody's (of my teams), my teams', all I may see."""

Mood = Literal["negative", "neutral", "positive"]
"""A mood filter: below -0.25, from -0.25 to 0.25, above 0.25 (`Conversation.mood`)."""

_UNREAD_LOOKBACK = 50
"""How many latest messages an inbox row looks through to count the unread ones."""


# -- request and response models ------------------------------------------------


class AgentView(BaseModel):
    """The calling agent."""

    id: str
    name: str
    role: str = Field(description="The role the app authenticated the caller with.")
    teams: list[str]
    presence: Presence
    status: AgentStatus
    active_chats: int
    max_concurrent_chats: int


class PresenceRequest(BaseModel):
    """Set what the agent chose to be."""

    model_config = ConfigDict(extra="forbid")

    presence: Presence


class InboxItem(Conversation):
    """A conversation as an inbox row: the conversation, and what the row shows about it."""

    waiting_since: datetime = Field(
        description="Since when it waits: queued, else its latest message, else its creation."
    )
    unread: int = Field(
        description="Customer messages since the last reply of an agent or bot (counted "
        f"over the latest {_UNREAD_LOOKBACK} messages)."
    )
    contact_name: str | None = Field(description="The customer's display name, if known.")
    last_text: str | None = Field(
        description="The start of the latest message that is not a private note."
    )
    sla_due_at: datetime | None = Field(
        description="The earliest running SLA clock of its open tickets, if any."
    )


class InboxPage(BaseModel):
    """An inbox view, waiting longest first."""

    view: InboxView
    items: list[InboxItem]
    total: int = Field(description="How many conversations match, before ``limit``.")


class ConversationDetail(BaseModel):
    """A conversation with everything needed to answer it."""

    context: ConversationContext = Field(
        description="Contact, history across channels, notes, open tickets, CRM records."
    )
    intent: str | None
    mood: float | None
    mood_trend: float | None
    bot_summary: BotSummary | None


class AgentTypingRequest(BaseModel):
    """Whether the agent is typing a reply (the draft itself never leaves the console)."""

    model_config = ConfigDict(extra="forbid")

    typing: bool


class AgentMessageRequest(BaseModel):
    """A reply to the customer, or a private note."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=100_000)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)
    attachments: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list,
        max_length=10,
        description="Ids of files uploaded to this conversation (``.../attachments``).",
    )


class CannedReplyRequest(BaseModel):
    """Send a canned reply by its shortcut."""

    model_config = ConfigDict(extra="forbid")

    shortcut: str = Field(min_length=1, max_length=100)
    language: str | None = Field(default=None, min_length=2, max_length=35)


class PreparedReply(BaseModel):
    """A canned reply filled in for a conversation, for the agent to edit before sending."""

    id: str
    shortcut: str
    title: str
    language: str
    text: str = Field(description="The body with the conversation's variables filled in.")


class AttachmentUploaded(BaseModel):
    """A file uploaded by an agent; send it with a reply's ``attachments``."""

    id: str
    name: str
    mime_type: str
    kind: str
    size: int
    width: int | None = None
    height: int | None = None


class CapacityRequest(BaseModel):
    """How many conversations the agent takes at once."""

    model_config = ConfigDict(extra="forbid")

    max_concurrent_chats: int = Field(ge=1, le=50)


class AgentLoad(BaseModel):
    """One agent in the supervisor overview."""

    id: str
    name: str
    role: str
    teams: list[str]
    presence: Presence
    status: AgentStatus
    active_chats: int
    max_concurrent_chats: int


class TeamQueue(BaseModel):
    """The conversations of one team (``team`` is ``None`` for those of no team)."""

    team: str | None
    open: int = Field(description="Open conversations.")
    unattended: int = Field(description="Open ones whose latest message is the customer's.")
    unassigned: int = Field(description="Open ones without an agent.")
    pending: int = Field(description="Conversations waiting on the customer (pending).")


class Directory(BaseModel):
    """Who a conversation can go to: every agent and every team."""

    agents: list[AgentLoad]
    teams: list[str]


class Overview(BaseModel):
    """Agents and queues, for supervisors and administrators."""

    agents: list[AgentLoad]
    queues: list[TeamQueue]


class AssignRequest(BaseModel):
    """Assign or transfer: to an agent (``null`` unassigns), optionally to a team, with a note."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str | None = Field(default=None, min_length=1, max_length=100)
    team: str | None = Field(
        default=None, min_length=1, max_length=100, description="Move to this team too."
    )
    note: str | None = Field(
        default=None, min_length=1, max_length=10_000, description="A private note for the team."
    )


class SnoozeRequest(BaseModel):
    """Hide the conversation until a time (or until the customer writes)."""

    model_config = ConfigDict(extra="forbid")

    until: datetime


class PriorityRequest(BaseModel):
    """Change the priority."""

    model_config = ConfigDict(extra="forbid")

    priority: Priority


class TagsRequest(BaseModel):
    """Add and remove tags."""

    model_config = ConfigDict(extra="forbid")

    add: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50
    )
    remove: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50
    )


class TicketRequest(BaseModel):
    """Open a ticket from the conversation."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=500)
    priority: Priority = Priority.NORMAL
    note: str | None = Field(default=None, min_length=1, max_length=10_000)
    team: str | None = Field(default=None, min_length=1, max_length=100)


# -- helpers ---------------------------------------------------------------------


def waiting_since(conversation: Conversation) -> datetime:
    """Since when the conversation waits: queued, else its latest message, else its creation."""
    return conversation.queued_at or conversation.last_message_at or conversation.created_at


async def inbox(
    web: WebContext,
    agent: AgentPrincipal,
    view: InboxView,
    *,
    status: list[ConversationStatus],
    channel: Channel | None = None,
    tag: str | None = None,
    priority: Priority | None = None,
    language: str | None = None,
    mood: Mood | None = None,
) -> list[Conversation]:
    """The conversations of an inbox view that the app's policy lets ``agent`` see.

    Ordered waiting longest first (`waiting_since`, oldest first), as
    Chatwoot does. ``teams`` and ``unassigned`` are limited to the agent's
    teams (an admin's ``unassigned`` is every unassigned conversation).
    """
    store = await web.call(web.kit._core.ready)
    where: dict[str, object] = {"status": In(status)}
    teams: list[str] = []
    if view in ("teams", "unassigned"):
        record = await _agent_record(web, agent)
        teams = list(record.teams) if record is not None else []
    if view == "mine":
        where["assignee_id"] = agent.agent_id
    elif view == "unassigned":
        where["assignee_id"] = None
    elif view == "teams":
        if not teams:
            return []
        where["team"] = In(teams)
    found: list[Conversation] = await web.call(store.find, Conversation, where)
    tag = tag.strip().lower() if tag else None
    lang = language.lower().split("-")[0] if language else None
    result = []
    for conversation in found:
        if channel is not None and conversation.channel is not channel:
            continue
        if tag is not None and tag not in conversation.tags:
            continue
        if priority is not None and conversation.priority is not priority:
            continue
        if lang is not None and (conversation.language or "").lower().split("-")[0] != lang:
            continue
        if mood is not None and _mood(conversation.mood) != mood:
            continue
        if view == "unassigned" and agent.role != "admin" and conversation.team not in teams:
            continue
        if await web.policy.can_see(agent, conversation):
            result.append(conversation)
    result.sort(key=lambda c: (waiting_since(c), c.id))
    return result


def _mood(value: float | None) -> Mood | None:
    if value is None:
        return None
    if value < -0.25:
        return "negative"
    return "positive" if value > 0.25 else "neutral"


def _sla_due(tickets: list[Ticket]) -> datetime | None:
    due = [
        found[1]
        for ticket in tickets
        if ticket.sla is not None and (found := ticket.sla.next_due()) is not None
    ]
    return min(due) if due else None


async def inbox_items(web: WebContext, conversations: list[Conversation]) -> list[InboxItem]:
    """Inbox rows for ``conversations``: contact names, unread counts, SLA clocks, last text."""
    store = await web.call(web.kit._core.ready)
    contact_ids = sorted({c.contact_id for c in conversations})
    contacts: list[Contact] = (
        await web.call(store.find, Contact, {"id": In(contact_ids)}) if contact_ids else []
    )
    names = {c.id: c.name for c in contacts}
    ticket_ids = sorted({t for c in conversations for t in c.open_tickets})
    tickets: list[Ticket] = (
        await web.call(store.find, Ticket, {"id": In(ticket_ids)}) if ticket_ids else []
    )
    by_id = {t.id: t for t in tickets}

    async def recent(conversation: Conversation) -> list[Message]:
        if not conversation.last_seq:
            return []
        found: list[Message] = await web.call(
            store.find,
            Message,
            {
                "conversation_id": conversation.id,
                "seq": Gt(conversation.last_seq - _UNREAD_LOOKBACK),
            },
            order_by="seq",
            descending=True,
        )
        return found

    # One read per row; issued together, so a store with a pool reads them side by side.
    latest = await asyncio.gather(*(recent(c) for c in conversations))
    rows = []
    for conversation, messages in zip(conversations, latest, strict=True):
        unread = 0
        last_text: str | None = None
        for message in messages:
            if message.kind is not MessageKind.TEXT:
                continue
            if last_text is None:
                last_text = message.text[:200]
            if message.author.role is not AuthorRole.CUSTOMER:
                break
            unread += 1
        rows.append(
            InboxItem(
                **dict(conversation),
                waiting_since=waiting_since(conversation),
                unread=unread,
                contact_name=names.get(conversation.contact_id),
                last_text=last_text,
                sla_due_at=_sla_due([by_id[t] for t in conversation.open_tickets if t in by_id]),
            )
        )
    return rows


async def _agent_record(web: WebContext, agent: AgentPrincipal) -> Agent | None:
    try:
        record: Agent = await web.call(web.kit.agents.get, agent.agent_id)
    except (NotFoundError, InvalidInputError):
        return None
    return record


async def _me(web: WebContext, agent: AgentPrincipal) -> Agent:
    record = await _agent_record(web, agent)
    if record is None:
        raise NotFoundError("agent", agent.agent_id[:100])
    return record


def _agent_view(record: Agent, agent: AgentPrincipal) -> AgentView:
    return AgentView(
        id=record.id,
        name=record.name,
        role=agent.role,
        teams=list(record.teams),
        presence=record.presence,
        status=record.status,
        active_chats=record.active_chats,
        max_concurrent_chats=record.max_concurrent_chats,
    )


async def _allowed(
    web: WebContext, agent: AgentPrincipal, conversation_id: str, action: Action
) -> Conversation:
    """The conversation, when the policy lets ``agent`` do ``action``; else 404 (or 403).

    A conversation the agent may not see is 404, as an unknown one; one they
    see but may not act on is 403.
    """
    try:
        conversation: Conversation = await web.call(web.kit.conversations.get, conversation_id)
    except (NotFoundError, InvalidInputError):
        raise NotFoundError("conversation", conversation_id[:100]) from None
    if not await web.policy.can_see(agent, conversation):
        raise NotFoundError("conversation", conversation_id[:100])
    if action != "view" and not await web.policy.can_act(agent, conversation, action):
        raise PermissionDeniedError(f"you may not {action} in this conversation")
    return conversation


async def _next_preview(web: WebContext, conversation_id: str, wait: float) -> TypingPreview | None:
    async def watch() -> TypingPreview | None:
        async with web.kit.previews.watch(conversation_id) as previews:
            try:
                async with asyncio.timeout(wait):
                    async for preview in previews:
                        if preview.author.role is AuthorRole.CUSTOMER:
                            return preview
            except TimeoutError:
                return None
        return None

    return await web.call(watch)


# -- routes ----------------------------------------------------------------------


@router.get("/me", response_model=AgentView)
async def me(agent: Caller, web: Web) -> AgentView:
    """The calling agent: profile, teams, presence and status."""
    return _agent_view(await _me(web, agent), agent)


@router.put("/me/presence", response_model=AgentView)
async def set_presence(body: PresenceRequest, agent: Caller, web: Web) -> AgentView:
    """Set the agent's presence (available, online, away, offline)."""
    await _me(web, agent)
    record = await web.call(web.kit.agents.set_presence, agent.agent_id, body.presence)
    return _agent_view(record, agent)


@router.post("/me/heartbeat", response_model=AgentView)
async def heartbeat(agent: Caller, web: Web) -> AgentView:
    """A sign of life from the console; without one the agent turns offline."""
    await _me(web, agent)
    await web.call(web.kit.agents.heartbeat, [agent.agent_id])
    return _agent_view(await _me(web, agent), agent)


@router.get("/inbox/{view}", response_model=InboxPage)
async def inbox_view(
    view: InboxView,
    agent: Caller,
    web: Web,
    status: Annotated[list[ConversationStatus] | None, Query(max_length=5)] = None,
    channel: Channel | None = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    priority: Priority | None = None,
    language: Annotated[str | None, Query(min_length=2, max_length=35)] = None,
    mood: Mood | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> InboxPage:
    """An inbox view (``mine``, ``unassigned``, ``teams``, ``all``), waiting longest first.

    ``status`` defaults to open; repeat it for several. Each row carries the
    customer's name, the unread count, the latest text and the SLA clock.
    """
    items = await inbox(
        web,
        agent,
        view,
        status=status or [ConversationStatus.OPEN],
        channel=channel,
        tag=tag,
        priority=priority,
        language=language,
        mood=mood,
    )
    rows = await inbox_items(web, items[:limit])
    return InboxPage(view=view, items=rows, total=len(items))


@router.get("/conversations/{conversation_id}", response_model=ConversationDetail)
async def conversation_detail(conversation_id: str, agent: Caller, web: Web) -> ConversationDetail:
    """The conversation with context: contact, history, notes, tickets, CRM records, bot summary."""
    conversation = await _allowed(web, agent, conversation_id, "view")
    context: ConversationContext = await web.call(web.kit.conversations.context, conversation.id)
    bot = context.conversation.bot
    if web.settings.integrations and context.external_records:
        context = context.model_copy(
            update={"external_records": [_linked(web, r) for r in context.external_records]}
        )
    return ConversationDetail(
        context=context,
        intent=context.conversation.intent,
        mood=context.conversation.mood,
        mood_trend=context.conversation.mood_trend,
        bot_summary=bot.summary if bot is not None else None,
    )


def _linked(web: WebContext, record: ExternalRecord) -> ExternalRecord:
    """The record with its ``url`` from its integration's `record_url` (http(s) only)."""
    for integration in web.settings.integrations:
        if integration.name == record.integration:
            url = integration.record_url(record.kind, record.remote_id)
            if url is not None and urlsplit(url).scheme in ("http", "https"):
                return record.model_copy(update={"url": url})
    return record


async def _write(
    web: WebContext,
    agent: AgentPrincipal,
    conversation_id: str,
    body: AgentMessageRequest,
    kind: MessageKind,
) -> Message:
    """Send a reply or a private note as the agent, once the policy allows it."""
    action: Action = "note" if kind is MessageKind.NOTE else "reply"
    conversation = await _allowed(web, agent, conversation_id, action)
    message: Message = await web.call(
        web.kit.messages.send,
        conversation.id,
        body.text,
        author=Author.agent(agent.agent_id),
        kind=kind,
        idempotency_key=body.idempotency_key,
        attachments=body.attachments,
    )
    return message


@router.post("/conversations/{conversation_id}/messages", status_code=201, response_model=Message)
async def reply(
    conversation_id: str, body: AgentMessageRequest, agent: Caller, web: Web
) -> Message:
    """Reply to the customer as the agent."""
    return await _write(web, agent, conversation_id, body, MessageKind.TEXT)


@router.post("/conversations/{conversation_id}/notes", status_code=201, response_model=Message)
async def note(conversation_id: str, body: AgentMessageRequest, agent: Caller, web: Web) -> Message:
    """A private note: agents see it, the customer never does."""
    return await _write(web, agent, conversation_id, body, MessageKind.NOTE)


@router.get("/canned", response_model=list[CannedReply])
async def canned_replies(
    agent: Caller,
    web: Web,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    language: Annotated[str | None, Query(min_length=2, max_length=35)] = None,
) -> list[CannedReply]:
    """Canned replies whose shortcut starts with ``q`` (all without it), by shortcut."""
    page = await web.call(web.kit.canned.list, limit=200)
    items: list[CannedReply] = list(page.items)
    prefix = q.lstrip("/").lower() if q else ""
    found = [
        r
        for r in items
        if r.shortcut.lstrip("/").lower().startswith(prefix)
        and (language is None or r.language.lower() == language.lower())
    ]
    return sorted(found, key=lambda r: (r.shortcut, r.language))


@router.post("/conversations/{conversation_id}/canned", status_code=201, response_model=Message)
async def send_canned(
    conversation_id: str, body: CannedReplyRequest, agent: Caller, web: Web
) -> Message:
    """Send a canned reply by its shortcut, rendered for this conversation."""
    conversation = await _allowed(web, agent, conversation_id, "reply")
    message: Message = await web.call(
        web.kit.canned.send,
        conversation.id,
        body.shortcut,
        agent_id=agent.agent_id,
        language=body.language,
    )
    return message


@router.post("/conversations/{conversation_id}/assign", response_model=Conversation)
async def assign(
    conversation_id: str, body: AssignRequest, agent: Caller, web: Web
) -> Conversation:
    """Assign or transfer the conversation (to an agent and/or a team), with an optional note."""
    conversation = await _allowed(web, agent, conversation_id, "assign")
    if body.agent_id is not None:
        try:
            await web.call(web.kit.agents.get, body.agent_id)
        except NotFoundError:
            raise InvalidInputError("no such agent", field="agent_id") from None
    if body.team is not None:
        try:
            await web.call(web.kit.teams.get, body.team)
        except NotFoundError:
            raise InvalidInputError("no such team", field="team") from None
    if body.team is not None:
        updated: Conversation = await web.call(
            web.kit.conversations.assign, conversation.id, body.agent_id, team=body.team
        )
    else:
        updated = await web.call(web.kit.conversations.assign, conversation.id, body.agent_id)
    if body.note is not None:  # after the move: a refused move leaves no note behind
        await web.call(
            web.kit.messages.send,
            conversation.id,
            body.note,
            author=Author.agent(agent.agent_id),
            kind=MessageKind.NOTE,
        )
        updated = await web.call(web.kit.conversations.get, conversation.id)
    return updated


@router.post("/conversations/{conversation_id}/snooze", response_model=Conversation)
async def snooze(
    conversation_id: str, body: SnoozeRequest, agent: Caller, web: Web
) -> Conversation:
    """Snooze until a time in the future; the customer writing wakes it too."""
    conversation = await _allowed(web, agent, conversation_id, "snooze")
    if body.until.utcoffset() is None:
        raise InvalidInputError("until needs a time zone", field="until")
    updated: Conversation = await web.call(
        web.kit.conversations.snooze, conversation.id, body.until
    )
    return updated


@router.post("/conversations/{conversation_id}/resolve", response_model=Conversation)
async def resolve(conversation_id: str, agent: Caller, web: Web) -> Conversation:
    """Mark resolved; a new customer message reopens it."""
    conversation = await _allowed(web, agent, conversation_id, "resolve")
    updated: Conversation = await web.call(web.kit.conversations.resolve, conversation.id)
    return updated


@router.post("/conversations/{conversation_id}/reopen", response_model=Conversation)
async def reopen(conversation_id: str, agent: Caller, web: Web) -> Conversation:
    """Back to open."""
    conversation = await _allowed(web, agent, conversation_id, "reopen")
    updated: Conversation = await web.call(web.kit.conversations.reopen, conversation.id)
    return updated


@router.put("/conversations/{conversation_id}/priority", response_model=Conversation)
async def set_priority(
    conversation_id: str, body: PriorityRequest, agent: Caller, web: Web
) -> Conversation:
    """Change the priority."""
    conversation = await _allowed(web, agent, conversation_id, "priority")
    updated: Conversation = await web.call(
        web.kit.conversations.set_priority, conversation.id, body.priority
    )
    return updated


@router.post("/conversations/{conversation_id}/tags", response_model=Conversation)
async def tags(conversation_id: str, body: TagsRequest, agent: Caller, web: Web) -> Conversation:
    """Add and remove tags (lower-cased)."""
    conversation = await _allowed(web, agent, conversation_id, "tags")
    updated = conversation
    if body.add:
        updated = await web.call(web.kit.conversations.add_tags, conversation.id, *body.add)
    if body.remove:
        updated = await web.call(web.kit.conversations.remove_tags, conversation.id, *body.remove)
    return updated


@router.post("/conversations/{conversation_id}/tickets", status_code=201, response_model=Ticket)
async def open_ticket(conversation_id: str, body: TicketRequest, agent: Caller, web: Web) -> Ticket:
    """Open a ticket from the conversation (its team, unless ``team`` says otherwise)."""
    conversation = await _allowed(web, agent, conversation_id, "ticket")
    if body.team is not None:
        try:
            await web.call(web.kit.teams.get, body.team)
        except NotFoundError:
            raise InvalidInputError("no such team", field="team") from None
    ticket: Ticket = await web.call(
        web.kit.tickets.create,
        subject=body.subject,
        conversation_id=conversation.id,
        priority=body.priority,
        note=body.note,
        team=body.team,
    )
    return ticket


@router.get(
    "/conversations/{conversation_id}/typing",
    response_model=TypingPreview,
    responses={204: {"description": "The customer typed nothing within ``wait`` seconds."}},
)
async def typing_preview(
    conversation_id: str,
    agent: Caller,
    web: Web,
    wait: Annotated[float, Query(ge=0, le=30)] = 10.0,
) -> TypingPreview | Response:
    """The customer's next typing preview (long poll: waits up to ``wait`` seconds, else 204).

    The text is ``null`` when the customer does not share drafts (only "is typing").
    """
    conversation = await _allowed(web, agent, conversation_id, "typing")
    preview = await _next_preview(web, conversation.id, wait)
    if preview is None:
        return Response(status_code=204)
    return preview


@router.post("/conversations/{conversation_id}/typing", status_code=204)
async def agent_typing(
    conversation_id: str, body: AgentTypingRequest, agent: Caller, web: Web
) -> Response:
    """Tell the customer that the agent is typing a reply, or has stopped.

    Allowed where the agent may reply. Only the flag travels: the customer's
    widget shows "is typing", never a draft.
    """
    conversation = await _allowed(web, agent, conversation_id, "reply")
    await web.call(
        web.kit.previews.send,
        conversation.id,
        TYPING_MARK if body.typing else "",
        author=Author.agent(agent.agent_id),
    )
    return Response(status_code=204)


# -- the console's extras: attachments, prepared and suggested replies, block, overview ---


@router.put("/me/capacity", response_model=AgentView)
async def set_capacity(body: CapacityRequest, agent: Caller, web: Web) -> AgentView:
    """Set how many conversations the agent takes at once (1 to 50)."""
    await _me(web, agent)
    record = await web.call(
        web.kit.agents.update, agent.agent_id, max_concurrent_chats=body.max_concurrent_chats
    )
    return _agent_view(record, agent)


@router.post(
    "/conversations/{conversation_id}/attachments",
    status_code=201,
    response_model=AttachmentUploaded,
    responses={
        415: {
            "model": ErrorResponse,
            "description": "A type of file the kit's attachment limits refuse",
        }
    },
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
    agent: Caller,
    web: Web,
    name: Annotated[str, Query(min_length=1, max_length=255, description="The file's name.")],
) -> AttachmentUploaded:
    """Upload a file (the raw bytes as the body); send it with a reply's ``attachments``.

    The kit's attachment limits (size, types, active content) apply.
    """
    from .customer import _bridge

    conversation = await _allowed(web, agent, conversation_id, "reply")
    attachment: Attachment = await web.call(
        web.kit.attachments.upload,
        conversation.id,
        _bridge(web, request.stream()),
        name=name,
        author=Author.agent(agent.agent_id),
    )
    return AttachmentUploaded(
        id=attachment.id,
        name=attachment.name,
        mime_type=attachment.mime_type,
        kind=attachment.kind.value,
        size=attachment.size,
        width=attachment.width,
        height=attachment.height,
    )


@router.get(
    "/conversations/{conversation_id}/attachments/{attachment_id}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string"}}}}},
)
async def download_attachment(
    conversation_id: str, attachment_id: str, agent: Caller, web: Web
) -> StreamingResponse:
    """Download a file of a conversation the agent sees (private notes' files included).

    Served with its sniffed type, ``Content-Disposition: attachment`` and a
    sandboxing Content-Security-Policy; the console shows images from it.
    """
    from .customer import _disposition

    conversation = await _allowed(web, agent, conversation_id, "view")
    try:
        attachment: Attachment = await web.call(web.kit.attachments.get, attachment_id)
    except (NotFoundError, InvalidInputError):
        raise NotFoundError("attachment", attachment_id[:100]) from None
    if attachment.conversation_id != conversation.id:
        raise NotFoundError("attachment", attachment_id[:100])
    return StreamingResponse(
        web.stream(web.kit.attachments.open(attachment.id)),
        media_type=attachment.mime_type,
        headers={
            "Content-Disposition": _disposition(attachment.name),
            "Content-Length": str(attachment.size),
            "Content-Security-Policy": "default-src 'none'; sandbox; frame-ancestors 'none'",
        },
    )


@router.post("/conversations/{conversation_id}/canned/prepare", response_model=PreparedReply)
async def prepare_canned(
    conversation_id: str, body: CannedReplyRequest, agent: Caller, web: Web
) -> PreparedReply:
    """A canned reply filled in for this conversation, to edit before sending (nothing is sent)."""
    conversation = await _allowed(web, agent, conversation_id, "reply")
    reply, text = await web.call(
        web.kit.canned.prepare,
        conversation.id,
        body.shortcut,
        agent_id=agent.agent_id,
        language=body.language,
    )
    return PreparedReply(
        id=reply.id, shortcut=reply.shortcut, title=reply.title, language=reply.language, text=text
    )


@router.get("/conversations/{conversation_id}/suggestions", response_model=list[CannedReply])
async def suggestions(
    conversation_id: str,
    agent: Caller,
    web: Web,
    limit: Annotated[int, Query(ge=1, le=20)] = 3,
) -> list[CannedReply]:
    """Canned replies that fit the conversation: its detected intent, topic and language first."""
    conversation = await _allowed(web, agent, conversation_id, "view")
    language = "en"
    if conversation.language:
        language = conversation.language
    try:
        found: list[CannedReply] = await web.call(
            web.kit.canned.suggest,
            intent=conversation.intent,
            language=language,
            topic=conversation.topic,
            limit=limit,
        )
    except InvalidInputError:  # a stored language that is not a tag
        found = await web.call(
            web.kit.canned.suggest,
            intent=conversation.intent,
            topic=conversation.topic,
            limit=limit,
        )
    return found


@router.post("/conversations/{conversation_id}/block", response_model=Conversation)
async def block_contact(conversation_id: str, agent: Caller, web: Web) -> Conversation:
    """Block the conversation's customer: their messages are refused from now on."""
    conversation = await _allowed(web, agent, conversation_id, "block")
    await web.call(
        web.kit.abuse.block,
        contact_id=conversation.contact_id,
        blocked_by=Author.agent(agent.agent_id),
        note=f"blocked from conversation {conversation.id}",
    )
    updated: Conversation = await web.call(web.kit.conversations.get, conversation.id)
    return updated


def _load(a: Agent) -> AgentLoad:
    return AgentLoad(
        id=a.id,
        name=a.name,
        role=a.role.value,
        teams=list(a.teams),
        presence=a.presence,
        status=a.status,
        active_chats=a.active_chats,
        max_concurrent_chats=a.max_concurrent_chats,
    )


@router.get("/directory", response_model=Directory)
async def directory(agent: Caller, web: Web) -> Directory:
    """Every agent (with their status and load) and every team, by name: where to transfer."""
    store = await web.call(web.kit._core.ready)
    agents: list[Agent] = await web.call(store.find, Agent, {})
    teams: list[Team] = await web.call(store.find, Team, {})
    return Directory(
        agents=[_load(a) for a in sorted(agents, key=lambda a: (a.name.lower(), a.id))],
        teams=sorted(t.name for t in teams),
    )


@router.get("/overview", response_model=Overview)
async def overview(agent: Caller, web: Web) -> Overview:
    """Agents and queues: supervisors see their teams', administrators everyone's.

    Each queue counts its open, unattended (the customer wrote last),
    unassigned and pending conversations. A plain agent gets 403.
    """
    if agent.role not in (SUPERVISOR, ADMIN):
        raise PermissionDeniedError("the overview is for supervisors and administrators")
    store = await web.call(web.kit._core.ready)
    agents: list[Agent] = await web.call(store.find, Agent, {})
    conversations: list[Conversation] = await web.call(
        store.find,
        Conversation,
        {"status": In([ConversationStatus.OPEN, ConversationStatus.PENDING])},
    )
    teams: set[str] | None = None
    if agent.role != ADMIN:
        me = await _me(web, agent)
        teams = set(me.teams)
        agents = [a for a in agents if a.id == me.id or teams & set(a.teams)]
        conversations = [c for c in conversations if c.team in teams]
    queues: dict[str | None, TeamQueue] = {
        name: TeamQueue(team=name, open=0, unattended=0, unassigned=0, pending=0)
        for name in sorted(teams if teams is not None else {a for x in agents for a in x.teams})
    }
    for conversation in conversations:
        queue = queues.setdefault(
            conversation.team,
            TeamQueue(team=conversation.team, open=0, unattended=0, unassigned=0, pending=0),
        )
        if conversation.status is ConversationStatus.PENDING:
            queue.pending += 1
            continue
        queue.open += 1
        if conversation.assignee_id is None:
            queue.unassigned += 1
        if await _customer_wrote_last(web, conversation):
            queue.unattended += 1
    return Overview(
        agents=[_load(a) for a in sorted(agents, key=lambda a: (a.name.lower(), a.id))],
        queues=sorted(queues.values(), key=lambda q: (q.team is None, q.team or "")),
    )


async def _customer_wrote_last(web: WebContext, conversation: Conversation) -> bool:
    if not conversation.last_seq:
        return False
    store = await web.call(web.kit._core.ready)
    recent: list[Message] = await web.call(
        store.find,
        Message,
        {"conversation_id": conversation.id, "seq": Gt(conversation.last_seq - 20)},
        order_by="seq",
        descending=True,
    )
    for message in recent:
        if message.kind is MessageKind.TEXT:
            return message.author.role is AuthorRole.CUSTOMER
    return False
