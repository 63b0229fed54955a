"""Authorization: who may see a conversation, act on it, and receive an event.

Every route of the web app and every event the real-time layer pushes asks
the app's `Policy` (``WebContext.policy``). `DefaultPolicy` implements the
rules below; plug your own with ``kit.asgi(policy=MyPolicy)`` (a class, or
any callable, given the `WebContext` and returning a `Policy`).

Default rules:

- A customer sees the conversations of their session's contact (including
  those of contacts merged into it) and receives only the customer-facing
  events of those (`CUSTOMER_EVENTS`): never a private note, never a typing
  preview, never an agent's, contact's or ticket's internals.
- An agent (role ``agent``) sees the conversations of their teams and those
  assigned to them.
- A supervisor also sees those assigned to their reports: the agents who
  share a team with them.
- An admin sees everything.
- Reports (`DefaultPolicy.can_report`): admins read them all, supervisors
  those of their own teams, agents none.
- A role the policy does not know gets the rules of ``agent``.

The real-time hub asks `Policy.can_receive` for every event and every
connection. While it does, `DefaultPolicy` answers from what it already
read: the conversations, agents and contacts it looked up are kept until an
outbox event changes them (the hub shows the policy every event, in commit
order, through `DefaultPolicy.follow`) or for `RECEIVE_CACHE_SECONDS` at most.
Routes (`can_see`, `can_act`) always read the store.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol, TypeAlias, TypeVar, runtime_checkable

from ..errors import InvalidInputError, NotFoundError
from ..events import (
    AgentTokenCreated,
    AgentTokenRevoked,
    ContactMerged,
    Event,
    MessageCreated,
    NotificationFailed,
    NotificationSent,
    TicketCreated,
    TicketUpdated,
)
from ..models import Agent, Conversation, MessageKind, Ticket
from ..services.previews import TypingPreview
from .auth import ADMIN, SUPERVISOR, AgentPrincipal, CustomerPrincipal

if TYPE_CHECKING:
    from .context import WebContext

__all__ = [
    "AGENT_ACTIONS",
    "CUSTOMER_ACTIONS",
    "CUSTOMER_EVENTS",
    "Action",
    "DefaultPolicy",
    "Policy",
    "PolicyFactory",
    "RECEIVE_CACHE_SECONDS",
    "TEAM_EVENTS",
]

T = TypeVar("T")

Action: TypeAlias = Literal[
    "view",
    "reply",
    "note",
    "assign",
    "snooze",
    "resolve",
    "reopen",
    "priority",
    "tags",
    "ticket",
    "typing",
    "block",
]
"""What a caller does to a conversation (`Policy.can_act`)."""

CUSTOMER_ACTIONS: frozenset[str] = frozenset({"view", "reply", "typing"})
"""What a customer may do in their own conversations by default."""

AGENT_ACTIONS: frozenset[str] = frozenset(
    {"view", "reply", "note", "assign", "snooze", "resolve", "reopen", "priority", "tags"}
    | {"ticket", "typing", "block"}
)
"""What an agent may do in the conversations they see, by default."""

CUSTOMER_EVENTS: frozenset[str] = frozenset(
    {
        "message.created",  # not a private note
        "conversation.created",
        "conversation.status_changed",
        "conversation.assigned",
        "conversation.queued",
        "bot.started",
        "bot.finished",
        "survey.sent",
        "survey.expired",
    }
)
"""Event types a customer may receive, of their own conversations only."""

_PRIVILEGED_EVENTS: frozenset[str] = frozenset(
    {
        "abuse.incident_recorded",
        "contact.blocked",
        "contact.unblocked",
        "message.refused",
        "review.note_added",
        "automation.action_taken",
        "conversation.purged",
        "conversation.imported",
    }
)
"""Event types only supervisors and admins receive when no conversation they see carries them."""

TEAM_EVENTS: frozenset[str] = frozenset(
    {
        "agent.created",
        "agent.updated",
        "agent.status_changed",
        "team.created",
        "team.updated",
        "canned.created",
        "canned.updated",
        "canned.deleted",
        "canned.used",
        "kb.article_created",
        "kb.article_updated",
        "kb.article_deleted",
    }
)
"""Event types about the team (agents, teams, canned replies, articles): all agents get them."""

Principal: TypeAlias = AgentPrincipal | CustomerPrincipal

RECEIVE_CACHE_SECONDS: float = 30.0
"""The longest `DefaultPolicy` keeps a lookup made for the real-time hub (events drop it sooner)."""

_RECEIVE_CACHE_SIZE = 4096
"""Lookups kept per kind (conversations, agents, contacts) before the oldest half is dropped."""

RECEIVING: ContextVar[bool] = ContextVar("chatkit_policy_receiving", default=False)
"""Set by the real-time hub in its own tasks: `DefaultPolicy`'s lookups may come from its cache."""


class _Lookups:
    """The conversations, agents and contacts `DefaultPolicy` read for the real-time hub.

    Each kind is a dict of id to (when read, what was read). `follow` drops
    what an event changes; ``generation`` counts the drops, so a read that
    was under way while one happened is not kept (it may predate the change).
    """

    __slots__ = ("agents", "contacts", "conversations", "generation")

    def __init__(self) -> None:
        self.conversations: dict[str, tuple[float, Conversation | None]] = {}
        self.agents: dict[str, tuple[float, Agent | None]] = {}
        self.contacts: dict[str, tuple[float, str | None]] = {}
        self.generation = 0

    def clear(self) -> None:
        self.conversations.clear()
        self.agents.clear()
        self.contacts.clear()
        self.generation += 1

    def follow(self, event: Event) -> None:
        kind = event.type
        if event.conversation_id is not None and kind.startswith("conversation."):
            # Assigned, queued (a team), escalated, status, purged...: read it again.
            self.conversations.pop(event.conversation_id, None)
            self.generation += 1
        if isinstance(event, ContactMerged):
            self.contacts.clear()
            for moved in event.moved_conversation_ids:
                self.conversations.pop(moved, None)
            self.generation += 1
        elif kind in ("agent.created", "agent.updated", "team.created", "team.updated"):
            self.agents.clear()
            self.generation += 1

    async def get(
        self,
        table: dict[str, tuple[float, T]],
        key: str,
        read: Callable[[], Awaitable[T]],
    ) -> T:
        now = time.monotonic()
        cached = table.get(key)
        if cached is not None and now - cached[0] < RECEIVE_CACHE_SECONDS:
            return cached[1]
        generation = self.generation
        found = await read()
        if generation == self.generation:
            if len(table) >= _RECEIVE_CACHE_SIZE:
                for old in list(table)[: _RECEIVE_CACHE_SIZE // 2]:
                    del table[old]
            table[key] = (now, found)
        return found


@runtime_checkable
class Policy(Protocol):
    """Decides what a principal may see, do and receive. All answers are yes or no.

    A route turns a "no" on a conversation into 404 (the caller cannot tell a
    foreign id from an unknown one); the real-time layer drops events for
    which `can_receive` says no.
    """

    async def can_see(self, principal: Principal, conversation: Conversation) -> bool:
        """Whether ``principal`` may read ``conversation`` (and know it exists)."""
        ...

    async def can_act(
        self, principal: Principal, conversation: Conversation, action: Action
    ) -> bool:
        """Whether ``principal`` may do ``action`` on ``conversation``."""
        ...

    async def can_receive(self, principal: Principal, event: Event | TypingPreview) -> bool:
        """Whether ``event`` (a `chatkit.events` event or a typing preview) may reach them."""
        ...


PolicyFactory: TypeAlias = Callable[["WebContext"], Policy]
"""How an app gets its policy: called once with the app's `WebContext` (a `Policy` class fits)."""


class DefaultPolicy:
    """The built-in `Policy` (see the module's rules); subclass it to change one rule.

    Args:
        web: The app's context; the policy reads agents, contacts,
            conversations and tickets through it.

    Example:
        ```python
        from chatkit.web import DefaultPolicy

        class NoTransfers(DefaultPolicy):
            async def can_act(self, principal, conversation, action):
                if action == "assign" and principal.kind == "agent" and principal.role == "agent":
                    return False
                return await super().can_act(principal, conversation, action)

        app = kit.asgi(policy=NoTransfers)
        ```
    """

    narrows_customers: ClassVar[bool] = True
    """Customers receive only events of their own contact's conversations, so the
    real-time hub offers an event to that contact's connections alone (a subclass
    that widens what customers receive sets this to False)."""

    def __init__(self, web: WebContext) -> None:
        self.web = web
        self._lookups = _Lookups()

    def follow(self, event: Event | None) -> None:
        """Drop what ``event`` changes from the lookups cached for the real-time hub.

        The hub calls it with every outbox event, in commit order, before
        asking `can_receive` about it, and with ``None`` when it starts
        reading the outbox (forget everything: events may have been missed).
        A subclass that caches more for `can_receive` extends it.
        """
        if event is None:
            self._lookups.clear()
        else:
            self._lookups.follow(event)

    # -- lookups -----------------------------------------------------------------
    # Inside the real-time hub (``RECEIVING``), they come from ``_lookups`` when fresh.

    async def agent(self, principal: AgentPrincipal) -> Agent | None:
        """The agent record of ``principal``; ``None`` when there is none."""
        return await self._agent(principal.agent_id)

    async def _agent(self, agent_id: str) -> Agent | None:
        async def read() -> Agent | None:
            try:
                agent: Agent = await self.web.call(self.web.kit.agents.get, agent_id)
            except (NotFoundError, InvalidInputError):
                return None
            return agent

        if RECEIVING.get():
            return await self._lookups.get(self._lookups.agents, agent_id, read)
        return await read()

    async def contact_id(self, contact_id: str) -> str | None:
        """The contact ``contact_id`` is now (a merged contact's survivor); ``None`` when gone."""

        async def read() -> str | None:
            try:
                contact = await self.web.call(self.web.kit.contacts.get, contact_id)
            except (NotFoundError, InvalidInputError):
                return None
            return str(contact.id)

        if RECEIVING.get():
            return await self._lookups.get(self._lookups.contacts, contact_id, read)
        return await read()

    async def manages(self, supervisor: Agent, agent_id: str) -> bool:
        """Whether ``agent_id`` reports to ``supervisor``: they share a team."""
        if not supervisor.teams:
            return False
        other = await self._agent(agent_id)
        return other is not None and bool(set(supervisor.teams) & set(other.teams))

    async def conversation(self, conversation_id: str) -> Conversation | None:
        """The conversation, or ``None`` when unknown."""

        async def read() -> Conversation | None:
            try:
                conversation: Conversation = await self.web.call(
                    self.web.kit.conversations.get, conversation_id
                )
            except (NotFoundError, InvalidInputError):
                return None
            return conversation

        if RECEIVING.get():
            return await self._lookups.get(self._lookups.conversations, conversation_id, read)
        return await read()

    # -- the policy --------------------------------------------------------------

    async def can_see(self, principal: Principal, conversation: Conversation) -> bool:
        """See the module's rules."""
        if isinstance(principal, CustomerPrincipal):
            mine = await self.contact_id(principal.contact_id)
            if mine is None:
                return False
            if conversation.contact_id == mine:
                return True
            return await self.contact_id(conversation.contact_id) == mine
        if principal.role == ADMIN:
            return True
        if conversation.assignee_id == principal.agent_id:
            return True
        agent = await self.agent(principal)
        if agent is None:
            return False
        if conversation.team is not None and conversation.team in agent.teams:
            return True
        if principal.role == SUPERVISOR and conversation.assignee_id is not None:
            return await self.manages(agent, conversation.assignee_id)
        return False

    async def can_act(
        self, principal: Principal, conversation: Conversation, action: Action
    ) -> bool:
        """Customers reply and type in their own conversations; agents act where they see."""
        allowed = CUSTOMER_ACTIONS if isinstance(principal, CustomerPrincipal) else AGENT_ACTIONS
        return action in allowed and await self.can_see(principal, conversation)

    async def can_report(self, principal: Principal, team: str | None) -> bool:
        """Whether ``principal`` may read reports (``/v1/agent/reports/...``) of ``team``.

        Admins read every report. Supervisors read the reports of their own
        teams (``team`` given and one of theirs). Agents and customers read none.
        """
        if isinstance(principal, CustomerPrincipal):
            return False
        if principal.role == ADMIN:
            return True
        if principal.role != SUPERVISOR or team is None:
            return False
        agent = await self.agent(principal)
        return agent is not None and team in agent.teams

    async def can_receive(self, principal: Principal, event: Event | TypingPreview) -> bool:
        """See the module's rules; events of a conversation follow `can_see` on it."""
        if isinstance(event, TypingPreview):
            if isinstance(principal, CustomerPrincipal):
                return False
            found = await self.conversation(event.conversation_id)
            return found is not None and await self.can_see(principal, found)
        if isinstance(principal, CustomerPrincipal):
            return await self._customer_receives(principal, event)
        return await self._agent_receives(principal, event)

    async def _customer_receives(self, principal: CustomerPrincipal, event: Event) -> bool:
        if event.type not in CUSTOMER_EVENTS or event.conversation_id is None:
            return False
        if isinstance(event, MessageCreated) and event.message.kind is MessageKind.NOTE:
            return False
        found = await self.conversation(event.conversation_id)
        return found is not None and await self.can_see(principal, found)

    async def _agent_receives(self, principal: AgentPrincipal, event: Event) -> bool:
        if principal.role == ADMIN:
            return True
        kind = event.type
        if kind in TEAM_EVENTS:
            return True
        if isinstance(event, AgentTokenCreated | AgentTokenRevoked):
            return event.agent_id == principal.agent_id
        if isinstance(event, NotificationSent | NotificationFailed):
            return event.recipient_kind == "agent" and event.recipient_id == principal.agent_id
        if event.conversation_id is not None:
            found = await self.conversation(event.conversation_id)
            if found is not None and await self.can_see(principal, found):
                return True
            if found is None and kind not in _PRIVILEGED_EVENTS:
                return False
        if kind.startswith("ticket."):
            return await self._sees_ticket(principal, event)
        if kind in _PRIVILEGED_EVENTS:
            return principal.role == SUPERVISOR and event.conversation_id is None
        if kind.startswith("contact."):
            return await self._sees_contact(principal, event.contact_id)
        return False

    async def _sees_ticket(self, principal: AgentPrincipal, event: Event) -> bool:
        ticket: Ticket | None
        if isinstance(event, TicketCreated | TicketUpdated):
            ticket = event.ticket
        else:
            ticket_id = getattr(event, "ticket_id", None)
            try:
                ticket = (
                    await self.web.call(self.web.kit.tickets.get, ticket_id)
                    if isinstance(ticket_id, str)
                    else None
                )
            except (NotFoundError, InvalidInputError):
                ticket = None
        if ticket is None:
            return False
        if ticket.owner_id == principal.agent_id:
            return True
        if ticket.conversation_id is not None:
            found = await self.conversation(ticket.conversation_id)
            if found is not None and await self.can_see(principal, found):
                return True
        agent = await self.agent(principal)
        return agent is not None and ticket.team is not None and ticket.team in agent.teams

    async def _sees_contact(self, principal: AgentPrincipal, contact_id: str | None) -> bool:
        """Contact events reach an agent who sees one of the contact's conversations."""
        if contact_id is None:
            return False
        survivor = await self.contact_id(contact_id)
        if survivor is None:
            return False
        store = await self.web.call(self.web.kit._core.ready)
        conversations: list[Conversation] = await self.web.call(
            store.find, Conversation, {"contact_id": survivor}
        )
        for conversation in conversations:
            if await self.can_see(principal, conversation):
                return True
        return False
