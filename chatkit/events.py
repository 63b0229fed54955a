"""Domain events: one typed record of every state change.

Each event is written in the same store transaction as the change it
describes (a transactional outbox), so a subscriber never misses an event and
never sees one for a change that was rolled back. Events are a pydantic
discriminated union on ``type``; parse any of them with `parse_event`.

Example:
    ```python
    async for event in kit.events.subscribe(consumer="audit"):
        match event:
            case MessageCreated(message=msg):
                print(msg.text)
            case ConversationStatusChanged(to_status=status):
                print("now", status)
    ```
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from .bots.state import BotSummary, ShownArticle
from .models._base import UTCDateTime, new_id, utcnow
from .models.abuse import Block, Incident
from .models.agents import Agent, AgentStatus
from .models.canned import CannedReply
from .models.contacts import Contact, Identity
from .models.conversations import Conversation, ConversationStatus, Priority
from .models.kb import Article
from .models.messages import Message
from .models.surveys import ReviewNote, Survey
from .models.teams import Team
from .models.tickets import SLATarget, Ticket, TicketNote, TicketStatus

__all__ = [
    "AgentCreated",
    "AgentStatusChanged",
    "AgentUpdated",
    "CannedReplyCreated",
    "CannedReplyDeleted",
    "CannedReplyUpdated",
    "CannedReplyUsed",
    "ArticleCreated",
    "ArticleDeleted",
    "ArticleUpdated",
    "AutomationActionTaken",
    "BotAnswered",
    "BotFieldCollected",
    "BotFinished",
    "BotHandoff",
    "BotStarted",
    "AbuseIncidentRecorded",
    "ContactBlocked",
    "ContactUnblocked",
    "MessageRefused",
    "ReviewNoteAdded",
    "SurveyAnswered",
    "SurveyExpired",
    "SurveyFollowUp",
    "SurveySent",
    "ConversationEscalated",
    "ConversationMoodChanged",
    "ConversationQueued",
    "TeamCreated",
    "TeamUpdated",
    "BaseEvent",
    "ContactCreated",
    "ContactIdentityAdded",
    "ContactMerged",
    "ContactUpdated",
    "ConversationAssigned",
    "ConversationCreated",
    "ConversationImported",
    "ConversationPriorityChanged",
    "ConversationPurged",
    "ConversationStatusChanged",
    "ConversationTagsChanged",
    "ConversationWatchersChanged",
    "Event",
    "MessageCreated",
    "NotificationFailed",
    "NotificationSent",
    "TicketCreated",
    "TicketNoteAdded",
    "TicketSLABreached",
    "TicketSLAWarning",
    "TicketStatusChanged",
    "TicketUpdated",
    "parse_event",
]


class BaseEvent(BaseModel):
    """Fields every event has.

    Attributes:
        id: Stable unique id (``evt_...``); use it to de-duplicate.
        type: The discriminator, e.g. ``"message.created"``.
        occurred_at: When the change was made (UTC).
        position: Place in the outbox, assigned by the store on commit;
            strictly increasing in commit order. ``None`` before commit.
        conversation_id: The conversation concerned, if any.
        contact_id: The contact concerned, if any.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: new_id("evt"))
    occurred_at: UTCDateTime = Field(default_factory=utcnow)
    position: int | None = None
    conversation_id: str | None = None
    contact_id: str | None = None


class ContactCreated(BaseEvent):
    """A contact was created."""

    type: Literal["contact.created"] = "contact.created"
    contact: Contact


class ContactUpdated(BaseEvent):
    """A contact's name or attributes changed."""

    type: Literal["contact.updated"] = "contact.updated"
    contact: Contact
    changed: list[str]


class ContactIdentityAdded(BaseEvent):
    """A new identity now leads to the contact."""

    type: Literal["contact.identity_added"] = "contact.identity_added"
    identity: Identity


class ContactMerged(BaseEvent):
    """``merged_contact_id`` was merged into ``contact_id``; only the latter remains."""

    type: Literal["contact.merged"] = "contact.merged"
    merged_contact_id: str
    contact: Contact
    moved_conversation_ids: list[str]
    moved_ticket_ids: list[str]


class AgentCreated(BaseEvent):
    """An agent profile was created."""

    type: Literal["agent.created"] = "agent.created"
    agent: Agent


class AgentUpdated(BaseEvent):
    """An agent profile changed."""

    type: Literal["agent.updated"] = "agent.updated"
    agent: Agent
    changed: list[str]


class AgentStatusChanged(BaseEvent):
    """An agent's status changed (available, busy, online, idle, away, offline)."""

    type: Literal["agent.status_changed"] = "agent.status_changed"
    agent_id: str
    status: AgentStatus
    previous: AgentStatus
    reason: str
    """``presence`` (the agent chose), ``activity``, ``heartbeat``, ``load``
    (conversations assigned or released), ``idle`` or ``heartbeat_lost``
    (found by `Agents.refresh`)."""


class TeamCreated(BaseEvent):
    """A team was created."""

    type: Literal["team.created"] = "team.created"
    team: Team


class TeamUpdated(BaseEvent):
    """A team changed (hours, categories, description)."""

    type: Literal["team.updated"] = "team.updated"
    team: Team
    changed: list[str]


class CannedReplyCreated(BaseEvent):
    """A canned reply was saved."""

    type: Literal["canned.created"] = "canned.created"
    reply: CannedReply


class CannedReplyUpdated(BaseEvent):
    """A canned reply changed: its text, labels, shortcut or language, or its review date."""

    type: Literal["canned.updated"] = "canned.updated"
    reply: CannedReply
    changed: list[str]


class CannedReplyDeleted(BaseEvent):
    """A canned reply was deleted."""

    type: Literal["canned.deleted"] = "canned.deleted"
    reply_id: str
    shortcut: str
    language: str


class CannedReplyUsed(BaseEvent):
    """A canned reply was sent (or an agent recorded a use of it).

    ``conversation_id`` and ``message_id`` are set when it was sent with
    `CannedReplies.send`.
    """

    type: Literal["canned.used"] = "canned.used"
    reply_id: str
    shortcut: str
    language: str
    usage_count: int
    """The count after this use."""
    message_id: str | None = None


class ArticleCreated(BaseEvent):
    """A knowledge-base article was written (published or as a draft)."""

    type: Literal["kb.article_created"] = "kb.article_created"
    article: Article


class ArticleUpdated(BaseEvent):
    """A knowledge-base article changed: its text, labels or language, or was (un)published."""

    type: Literal["kb.article_updated"] = "kb.article_updated"
    article: Article
    changed: list[str]


class ArticleDeleted(BaseEvent):
    """A knowledge-base article was deleted."""

    type: Literal["kb.article_deleted"] = "kb.article_deleted"
    article_id: str
    language: str


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


class ContactBlocked(BaseEvent):
    """A block was made: matching messages are refused from now on."""

    type: Literal["contact.blocked"] = "contact.blocked"
    block: Block


class ContactUnblocked(BaseEvent):
    """A block was lifted."""

    type: Literal["contact.unblocked"] = "contact.unblocked"
    block: Block
    """The block as it was when lifted (with its count of refused messages)."""


class AbuseIncidentRecorded(BaseEvent):
    """An agent or a rule recorded an abuse incident."""

    type: Literal["abuse.incident_recorded"] = "abuse.incident_recorded"
    incident: Incident


class SurveySent(BaseEvent):
    """A satisfaction survey was posted into a resolved conversation."""

    type: Literal["survey.sent"] = "survey.sent"
    survey: Survey


class SurveyAnswered(BaseEvent):
    """The customer answered a survey; automation rules see it as ``rating.received``."""

    type: Literal["survey.answered"] = "survey.answered"
    survey: Survey
    score: float
    """0 (worst) to 1 (best)."""
    low_rating: bool
    """Whether it is at or below `SurveySettings.low_score` (a follow-up is opened)."""


class SurveyFollowUp(BaseEvent):
    """A low rating got its follow-up: a ticket for a supervisor, with the transcript."""

    type: Literal["survey.follow_up"] = "survey.follow_up"
    survey_id: str
    ticket_id: str
    score: float


class SurveyExpired(BaseEvent):
    """A survey was not answered in time and takes no answer any more."""

    type: Literal["survey.expired"] = "survey.expired"
    survey_id: str


class ReviewNoteAdded(BaseEvent):
    """A reviewer wrote a note on a conversation."""

    type: Literal["review.note_added"] = "review.note_added"
    note: ReviewNote


class TicketCreated(BaseEvent):
    """A ticket was opened."""

    type: Literal["ticket.created"] = "ticket.created"
    ticket: Ticket


class TicketUpdated(BaseEvent):
    """A ticket's subject, priority, owner or due date changed."""

    type: Literal["ticket.updated"] = "ticket.updated"
    ticket: Ticket
    changed: list[str]


class TicketStatusChanged(BaseEvent):
    """A ticket moved between statuses."""

    type: Literal["ticket.status_changed"] = "ticket.status_changed"
    ticket_id: str
    from_status: TicketStatus
    to_status: TicketStatus


class TicketNoteAdded(BaseEvent):
    """A note was added to a ticket."""

    type: Literal["ticket.note_added"] = "ticket.note_added"
    ticket_id: str
    note: TicketNote


class TicketSLAWarning(BaseEvent):
    """An SLA clock of a ticket nears its due time (see `SLAPolicy.warn_before`).

    Published once per clock run by `Tickets.check_sla`; not published when
    the clock is already past due (a breach comes instead).
    """

    type: Literal["ticket.sla_warning"] = "ticket.sla_warning"
    ticket_id: str
    policy: str
    target: SLATarget
    due_at: UTCDateTime | None
    priority: Priority
    team: str | None
    owner_id: str | None


class TicketSLABreached(BaseEvent):
    """An SLA clock of a ticket passed its due time without being met.

    Published once per clock run, by `Tickets.check_sla` or by the change
    that stopped or paused the clock late (a late response, a late solve).
    """

    type: Literal["ticket.sla_breached"] = "ticket.sla_breached"
    ticket_id: str
    policy: str
    target: SLATarget
    due_at: UTCDateTime | None
    priority: Priority
    team: str | None
    owner_id: str | None


class NotificationSent(BaseEvent):
    """A notifier sent a ticket notification (see `chatkit.services.Notifications`)."""

    type: Literal["notification.sent"] = "notification.sent"
    notification_id: str
    """The `NotificationRecord` in the notification log."""
    notifier: str
    """``email``, or the name of another notifier (``slack``...)."""
    kind: str
    """``ticket.created``, ``ticket.updated`` or ``ticket.resolved``."""
    recipient_kind: Literal["customer", "agent"]
    recipient_id: str | None
    ticket_id: str | None
    source_event_id: str
    """The ticket event it was sent for."""
    attempts: int


class NotificationFailed(BaseEvent):
    """A ticket notification failed for good and will not be retried.

    A recipient refused by the mail server, or a template that cannot be
    filled in (``notifier`` is then ``"render"``). Temporary failures are
    retried and publish nothing.
    """

    type: Literal["notification.failed"] = "notification.failed"
    notification_id: str
    notifier: str
    kind: str
    recipient_kind: Literal["customer", "agent"]
    recipient_id: str | None
    ticket_id: str | None
    source_event_id: str
    attempts: int
    error: str


Event: TypeAlias = Annotated[
    ContactCreated
    | ContactUpdated
    | ContactIdentityAdded
    | ContactMerged
    | AgentCreated
    | AgentUpdated
    | AgentStatusChanged
    | TeamCreated
    | TeamUpdated
    | CannedReplyCreated
    | CannedReplyUpdated
    | CannedReplyDeleted
    | CannedReplyUsed
    | ArticleCreated
    | ArticleUpdated
    | ArticleDeleted
    | ConversationQueued
    | ConversationEscalated
    | ConversationMoodChanged
    | AutomationActionTaken
    | BotStarted
    | BotFieldCollected
    | BotAnswered
    | BotHandoff
    | BotFinished
    | ConversationCreated
    | ConversationStatusChanged
    | ConversationAssigned
    | ConversationPriorityChanged
    | ConversationTagsChanged
    | ConversationWatchersChanged
    | ConversationPurged
    | ConversationImported
    | MessageCreated
    | MessageRefused
    | ContactBlocked
    | ContactUnblocked
    | AbuseIncidentRecorded
    | SurveySent
    | SurveyAnswered
    | SurveyFollowUp
    | SurveyExpired
    | ReviewNoteAdded
    | TicketCreated
    | TicketUpdated
    | TicketStatusChanged
    | TicketNoteAdded
    | TicketSLAWarning
    | TicketSLABreached
    | NotificationSent
    | NotificationFailed,
    Field(discriminator="type"),
]
"""Any domain event; narrow on ``type`` or with ``isinstance``/``match``."""

_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: str | bytes | dict[str, object]) -> Event:
    """Parse an event from JSON text or a dict, picking the class by ``type``.

    Raises:
        pydantic.ValidationError: When the data is not a known event.
    """
    if isinstance(data, dict):
        return _EVENT_ADAPTER.validate_python(data)
    return _EVENT_ADAPTER.validate_json(data)
