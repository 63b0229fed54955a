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

Import every event from here. The classes are defined in modules named for
what they are about: `chatkit.events.base` (`BaseEvent`),
`chatkit.events.people` (contacts, agents, teams, blocks),
`chatkit.events.content` (canned replies, knowledge-base articles),
`chatkit.events.conversations` (conversations, messages, bots, automation),
`chatkit.events.surveys` (surveys, review notes) and `chatkit.events.tickets`
(tickets, SLA clocks, notifications); this module holds the `Event` union
and `parse_event`.
"""

from __future__ import annotations

from typing import Annotated, TypeAlias

from pydantic import Field, TypeAdapter

from .base import BaseEvent
from .content import (
    ArticleCreated,
    ArticleDeleted,
    ArticleUpdated,
    CannedReplyCreated,
    CannedReplyDeleted,
    CannedReplyUpdated,
    CannedReplyUsed,
)
from .conversations import (
    AutomationActionTaken,
    BotAnswered,
    BotFieldCollected,
    BotFinished,
    BotHandoff,
    BotStarted,
    ConversationAssigned,
    ConversationCreated,
    ConversationEscalated,
    ConversationImported,
    ConversationMoodChanged,
    ConversationPriorityChanged,
    ConversationPurged,
    ConversationQueued,
    ConversationStatusChanged,
    ConversationTagsChanged,
    ConversationWatchersChanged,
    MessageCreated,
    MessageRefused,
)
from .people import (
    AbuseIncidentRecorded,
    AgentCreated,
    AgentStatusChanged,
    AgentUpdated,
    ContactBlocked,
    ContactCreated,
    ContactIdentityAdded,
    ContactMerged,
    ContactUnblocked,
    ContactUpdated,
    TeamCreated,
    TeamUpdated,
)
from .surveys import (
    ReviewNoteAdded,
    SurveyAnswered,
    SurveyExpired,
    SurveyFollowUp,
    SurveySent,
)
from .tickets import (
    NotificationFailed,
    NotificationSent,
    TicketCreated,
    TicketNoteAdded,
    TicketSLABreached,
    TicketSLAWarning,
    TicketStatusChanged,
    TicketUpdated,
)

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
