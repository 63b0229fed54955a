"""Events about conversations and their messages, bots and automation rules."""

from __future__ import annotations

from typing import Literal

from ..bots.state import BotSummary, ShownArticle
from ..models._base import UTCDateTime
from ..models.conversations import Conversation, ConversationStatus, Priority
from ..models.messages import Message
from .base import BaseEvent

__all__ = [
    "AutomationActionTaken",
    "BotAnswered",
    "BotFieldCollected",
    "BotFinished",
    "BotHandoff",
    "BotStarted",
    "ConversationAssigned",
    "ConversationCreated",
    "ConversationEscalated",
    "ConversationImported",
    "ConversationMoodChanged",
    "ConversationPriorityChanged",
    "ConversationPurged",
    "ConversationQueued",
    "ConversationStatusChanged",
    "ConversationTagsChanged",
    "ConversationWatchersChanged",
    "MessageCreated",
    "MessageRefused",
]


class ConversationQueued(BaseEvent):
    """A conversation waits for an agent of ``team`` (``None``: any agent)."""

    type: Literal["conversation.queued"] = "conversation.queued"
    team: str | None
    topic: str | None
    language: str | None


class ConversationEscalated(BaseEvent):
    """An escalation rule fired for a conversation (see `chatkit.escalation`)."""

    type: Literal["conversation.escalated"] = "conversation.escalated"
    rule: str
    reason: str
    actions: list[str]
    """What was done: ``priority:<p>``, ``reassigned:<agent>``, ``team:<name>``,
    ``mode:<ticket|callback|email>`` (and ``ticket:<id>`` once a ticket was
    opened), or nothing but this notification."""


class ConversationMoodChanged(BaseEvent):
    """The customer's mood changed label, or is getting worse (see `Understanding`)."""

    type: Literal["conversation.mood_changed"] = "conversation.mood_changed"
    mood: float
    """The running mood now, -1 (angry) to 1 (happy)."""
    previous: float | None
    trend: float
    """Change over the last few customer messages (negative: getting angrier)."""
    label: str
    worsening: bool


class AutomationActionTaken(BaseEvent):
    """An automation rule ran one of its actions (see `Automation`)."""

    type: Literal["automation.action_taken"] = "automation.action_taken"
    rule: str
    trigger: str
    action: str
    """The action type: ``reply``, ``tag``, ``set_priority``, ``assign``, ``route``,
    ``escalate``, ``create_ticket``, ``notify`` or ``webhook``."""
    detail: str
    """What was done (the message id, the tags, the ticket id, the HTTP status...)."""
    ok: bool = True
    error: str | None = None
    source_event_id: str
    """The event the rule fired on."""
    target: str | None = None
    """For ``notify``: who is to be told (``supervisors``, an agent's e-mail...)."""


class BotStarted(BaseEvent):
    """A bot flow started in a conversation (see `chatkit.services.Bots`)."""

    type: Literal["bot.started"] = "bot.started"
    flow: str
    run: str
    step: str | None


class BotFieldCollected(BaseEvent):
    """A bot stored the customer's answer to one of its questions."""

    type: Literal["bot.field_collected"] = "bot.field_collected"
    flow: str
    step: str
    field: str
    value: str


class BotAnswered(BaseEvent):
    """A bot sent the customer a knowledge-base article."""

    type: Literal["bot.answered"] = "bot.answered"
    flow: str
    step: str
    article: ShownArticle
    query: str


class BotHandoff(BaseEvent):
    """A bot handed the conversation over to a person, with what they need to know."""

    type: Literal["bot.handoff"] = "bot.handoff"
    flow: str
    reason: str
    summary: BotSummary


class BotFinished(BaseEvent):
    """A bot flow ended without a handover.

    ``outcome`` is ``completed`` (the flow ran to its end), ``taken_over``
    (an agent took the conversation) or ``stopped`` (`Bots.stop`).
    """

    type: Literal["bot.finished"] = "bot.finished"
    flow: str
    outcome: Literal["completed", "taken_over", "stopped"]


class ConversationCreated(BaseEvent):
    """A conversation was started."""

    type: Literal["conversation.created"] = "conversation.created"
    conversation: Conversation


class ConversationStatusChanged(BaseEvent):
    """A conversation moved between statuses."""

    type: Literal["conversation.status_changed"] = "conversation.status_changed"
    from_status: ConversationStatus
    to_status: ConversationStatus
    snoozed_until: UTCDateTime | None = None
    reason: str | None = None
    """Why, when chatkit made the move itself (``"customer_message"``, ``"snooze_expired"``)."""


class ConversationAssigned(BaseEvent):
    """A conversation's assignee or team changed (``assignee_id`` ``None`` means unassigned)."""

    type: Literal["conversation.assigned"] = "conversation.assigned"
    assignee_id: str | None
    previous_assignee_id: str | None
    team: str | None
    previous_team: str | None


class ConversationPriorityChanged(BaseEvent):
    """A conversation's priority changed."""

    type: Literal["conversation.priority_changed"] = "conversation.priority_changed"
    from_priority: Priority
    to_priority: Priority


class ConversationTagsChanged(BaseEvent):
    """Tags were added to or removed from a conversation."""

    type: Literal["conversation.tags_changed"] = "conversation.tags_changed"
    added: list[str]
    removed: list[str]
    tags: list[str]


class ConversationWatchersChanged(BaseEvent):
    """Agents started or stopped watching a conversation."""

    type: Literal["conversation.watchers_changed"] = "conversation.watchers_changed"
    added: list[str]
    removed: list[str]
    watchers: list[str]


class ConversationPurged(BaseEvent):
    """A conversation and everything in it were deleted by a retention purge.

    Carries ids and counts only: the content is gone.
    """

    type: Literal["conversation.purged"] = "conversation.purged"
    messages: int
    attachments: int


class ConversationImported(BaseEvent):
    """A conversation and its messages were imported from a JSON-lines export."""

    type: Literal["conversation.imported"] = "conversation.imported"
    messages: int


class MessageCreated(BaseEvent):
    """A message, note or system entry was added to a conversation."""

    type: Literal["message.created"] = "message.created"
    message: Message


class MessageRefused(BaseEvent):
    """A blocked sender's message was refused (its text is stored nowhere).

    ``contact_id`` is set when the sender is a known contact.
    """

    type: Literal["message.refused"] = "message.refused"
    block_id: str
    kind: str
    """What the block matched: ``contact``, ``identity``, ``ip`` or ``email_domain``."""
    value: str
    channel: str | None
    refused: int
    """The block's count of refused messages, this one included."""
