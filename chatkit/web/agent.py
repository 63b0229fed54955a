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

from pydantic import BaseModel, ConfigDict, Field

from ..bots.state import BotSummary
from ..errors import InvalidInputError, NotFoundError
from ..models import (
    Agent,
    AgentStatus,
    Author,
    AuthorRole,
    CannedReply,
    Channel,
    Conversation,
    ConversationContext,
    ConversationStatus,
    Message,
    MessageKind,
    Presence,
    Priority,
    Ticket,
)
from ..services.previews import TypingPreview
from ..stores.base import In
from ._deps import APIRouter, Depends, Query, Response
from .auth import AgentPrincipal, current_agent, web_context
from .context import WebContext
from .errors import PermissionDeniedError
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
    "inbox",
    "router",
    "waiting_since",
]

router = APIRouter(prefix="/v1/agent", tags=["agent"])

Web = Annotated[WebContext, Depends(web_context)]
Caller = Annotated[AgentPrincipal, Depends(current_agent)]

InboxView = Literal["mine", "unassigned", "teams", "all"]
"""The inbox views: assigned to me, nobody's (of my teams), my teams', all I may see."""


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


class InboxPage(BaseModel):
    """An inbox view, waiting longest first."""

    view: InboxView
    items: list[Conversation]
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


class AgentMessageRequest(BaseModel):
    """A reply to the customer, or a private note."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=100_000)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)


class CannedReplyRequest(BaseModel):
    """Send a canned reply by its shortcut."""

    model_config = ConfigDict(extra="forbid")

    shortcut: str = Field(min_length=1, max_length=100)
    language: str | None = Field(default=None, min_length=2, max_length=35)


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
        if view == "unassigned" and agent.role != "admin" and conversation.team not in teams:
            continue
        if await web.policy.can_see(agent, conversation):
            result.append(conversation)
    result.sort(key=lambda c: (waiting_since(c), c.id))
    return result


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
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> InboxPage:
    """An inbox view (``mine``, ``unassigned``, ``teams``, ``all``), waiting longest first.

    ``status`` defaults to open; repeat it for several.
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
    )
    return InboxPage(view=view, items=items[:limit], total=len(items))


@router.get("/conversations/{conversation_id}", response_model=ConversationDetail)
async def conversation_detail(conversation_id: str, agent: Caller, web: Web) -> ConversationDetail:
    """The conversation with context: contact, history, notes, tickets, CRM records, bot summary."""
    conversation = await _allowed(web, agent, conversation_id, "view")
    context: ConversationContext = await web.call(web.kit.conversations.context, conversation.id)
    bot = context.conversation.bot
    return ConversationDetail(
        context=context,
        intent=context.conversation.intent,
        mood=context.conversation.mood,
        mood_trend=context.conversation.mood_trend,
        bot_summary=bot.summary if bot is not None else None,
    )


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
