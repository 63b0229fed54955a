"""Conversations and their lifecycle."""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from pydantic import Field

from ..bots.state import BotState
from ._base import Record, SafeText, UTCDateTime
from .contacts import IdentityClaim

__all__ = [
    "Channel",
    "Conversation",
    "ConversationStatus",
    "Priority",
    "TRANSITIONS",
]


class Channel(str, Enum):
    """Where a message came from or went to."""

    WEB = "web"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"
    EMAIL = "email"
    API = "api"
    """Written by application code rather than a customer-facing channel."""


class ConversationStatus(str, Enum):
    """Lifecycle of a conversation. See `TRANSITIONS` for the legal moves."""

    OPEN = "open"
    PENDING = "pending"
    """Waiting on the customer."""
    SNOOZED = "snoozed"
    """Hidden until `Conversation.snoozed_until`, or until the customer writes."""
    RESOLVED = "resolved"
    """Done, but a new customer message reopens it."""
    CLOSED = "closed"
    """Final. A customer who writes again starts a new conversation."""


_S = ConversationStatus
TRANSITIONS: dict[ConversationStatus, frozenset[ConversationStatus]] = {
    _S.OPEN: frozenset({_S.PENDING, _S.SNOOZED, _S.RESOLVED, _S.CLOSED}),
    _S.PENDING: frozenset({_S.OPEN, _S.SNOOZED, _S.RESOLVED, _S.CLOSED}),
    _S.SNOOZED: frozenset({_S.OPEN, _S.PENDING, _S.RESOLVED, _S.CLOSED}),
    _S.RESOLVED: frozenset({_S.OPEN, _S.CLOSED}),
    _S.CLOSED: frozenset(),
}
"""For each status, the statuses it may move to."""


class Priority(str, Enum):
    """Priority of a conversation or ticket, lowest first."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        """0 for low up to 3 for urgent; higher sorts first in work queues."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class Conversation(Record):
    """A conversation between one contact and the support team.

    Attributes:
        contact_id: The customer.
        status: Where it is in its lifecycle.
        snoozed_until: When a snoozed conversation wakes up.
        subject: Optional short summary.
        channel: Channel of the most recent message (the conversation can move).
        channels: Every channel the conversation has used, in first-use order.
        priority: Work priority.
        tags: Labels, kept sorted.
        assignee_id: The agent who owns it, if any.
        team: The team it is queued for, if any.
        watchers: Agents who follow it without owning it.
        last_seq: Sequence number of the latest message (0 when empty).
        last_message_at: Time of the latest message.
        resolved_at: When it was last resolved.
        topic: What it is about (a category or skill), used by routing.
        language: The customer's language (BCP 47), used by routing.
        queued_at: When it started waiting for an agent (``None`` when not queued).
        mood: The customer's mood, -1 (angry) to 1 (happy), when something
            measured it (`Routing.set_mood`).
        escalations: Names of the escalation rules that fired for it.
        open_tickets: Ids of the open tickets opened from it (kept by
            `Tickets`), so that its messages move their SLA clocks.
        intent: The latest intent detected in the customer's messages.
        mood_trend: How the mood moved over the last few customer messages
            (negative: getting angrier).
        mood_history: The last few mood values (kept to compute the trend).
        auto_replies: The automatic replies already sent in it, by trigger
            (``"greeting"``, ``"queued"``...), so none is sent twice.
        auto_replied_at: When the last automatic reply went out.
        bot: The bot flow running (or that ran) in it, with its handoff
            summary (see `chatkit.services.Bots`).
        claim: Set when the conversation was started by a sender who claimed,
            without proof, an identity another contact holds: which identity,
            and the id of the contact holding it. Agents see it here (and in
            `Conversations.context`) and may merge the two contacts. It stays
            after a merge, as the record of how the conversation started.
    """

    table: ClassVar[str] = "conversations"
    columns: ClassVar[tuple[str, ...]] = (
        "contact_id",
        "status",
        "assignee_id",
        "activity_key",
        "team",
        "queue_key",
    )
    sort_keys: ClassVar[frozenset[str]] = frozenset({"activity_key", "queue_key"})

    contact_id: str
    status: ConversationStatus = ConversationStatus.OPEN
    snoozed_until: UTCDateTime | None = None
    subject: SafeText | None = Field(default=None, max_length=500)
    channel: Channel = Channel.WEB
    channels: list[Channel] = Field(default_factory=list)
    priority: Priority = Priority.NORMAL
    tags: list[SafeText] = Field(default_factory=list)
    assignee_id: str | None = None
    team: SafeText | None = None
    watchers: list[str] = Field(default_factory=list)
    last_seq: int = 0
    last_message_at: UTCDateTime | None = None
    resolved_at: UTCDateTime | None = None
    topic: SafeText | None = Field(default=None, max_length=100)
    language: SafeText | None = Field(default=None, max_length=35)
    queued_at: UTCDateTime | None = None
    mood: float | None = Field(default=None, ge=-1, le=1)
    escalations: list[str] = Field(default_factory=list)
    open_tickets: list[str] = Field(default_factory=list)
    intent: SafeText | None = Field(default=None, max_length=100)
    mood_trend: float | None = Field(default=None, ge=-2, le=2)
    mood_history: list[float] = Field(default_factory=list)
    auto_replies: list[str] = Field(default_factory=list)
    auto_replied_at: UTCDateTime | None = None
    bot: BotState | None = None
    claim: IdentityClaim | None = None

    @property
    def waiting(self) -> bool:
        """Open, queued and not assigned: waiting for an agent."""
        return (
            self.queued_at is not None
            and self.assignee_id is None
            and self.status is ConversationStatus.OPEN
        )

    @property
    def queue_key(self) -> str | None:
        """Work-queue order while `waiting`: higher priority first, then longest waiting."""
        if not self.waiting:
            return None
        assert self.queued_at is not None
        stamp = self.queued_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return f"{3 - self.priority.rank}|{stamp}|{self.id}"

    @property
    def activity_key(self) -> str:
        """Sort key for "most recently active first" listings: update time, then id."""
        return f"{self.updated_at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}|{self.id}"
