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

import logging
import zlib
from collections import OrderedDict
from typing import Annotated, TypeAlias

from pydantic import Field, TypeAdapter, ValidationError

from .base import BaseEvent
from .channels import ChannelMessageReceived, ChannelStatusReceived, MessageDeliveryUpdated
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
    AgentTokenCreated,
    AgentTokenRevoked,
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
    "UnreadableEvent",
    "AgentCreated",
    "AgentStatusChanged",
    "AgentTokenCreated",
    "AgentTokenRevoked",
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
    "ChannelMessageReceived",
    "ChannelStatusReceived",
    "MessageDeliveryUpdated",
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
    "read_stored_event",
    "unreadable_events",
]


Event: TypeAlias = Annotated[
    ContactCreated
    | ContactUpdated
    | ContactIdentityAdded
    | ContactMerged
    | AgentCreated
    | AgentUpdated
    | AgentStatusChanged
    | AgentTokenCreated
    | AgentTokenRevoked
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
    | MessageDeliveryUpdated
    | ChannelMessageReceived
    | ChannelStatusReceived
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


_log = logging.getLogger("chatkit.events")

_UNREADABLE_KEPT = 1000
_unreadable: OrderedDict[tuple[int, int], UnreadableEvent] = OrderedDict()


class UnreadableEvent:
    """An outbox row that could not be parsed as an event, and was skipped.

    Attributes:
        position: Its place in the outbox.
        reason: A short description of the first problem found (never the data).
    """

    __slots__ = ("position", "reason")

    def __init__(self, position: int, reason: str) -> None:
        self.position = position
        self.reason = reason

    def __repr__(self) -> str:
        return f"UnreadableEvent(position={self.position}, reason={self.reason!r})"


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0] if errors else {"loc": (), "msg": str(exc)}
        where = ".".join(str(p) for p in first["loc"])[:200]
        return f"{where + ': ' if where else ''}{str(first['msg'])[:200]}"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def read_stored_event(position: int, data: str | bytes | dict[str, object]) -> Event | None:
    """Parse the event stored at ``position``; ``None`` (reported, not raised) when unreadable.

    Readers of the outbox (`Events.list`, subscriptions, dispatchers) use
    this so that one row no version of chatkit can read (written by hand, by
    a bug, or by an older release that accepted a value it cannot give back)
    is skipped instead of blocking every event after it. Each such row is
    logged once per process at WARNING on the ``chatkit.events`` logger and
    listed by `unreadable_events`.
    """
    try:
        event = parse_event(data)
    except (ValidationError, ValueError, RecursionError, MemoryError) as exc:
        raw = data if isinstance(data, str | bytes) else repr(sorted(data))
        digest = zlib.crc32(raw.encode("utf-8", "replace") if isinstance(raw, str) else raw)
        key = (position, digest)
        if key not in _unreadable:
            skipped = UnreadableEvent(position, _reason(exc))
            _unreadable[key] = skipped
            while len(_unreadable) > _UNREADABLE_KEPT:
                _unreadable.popitem(last=False)
            _log.warning(
                "skipped unreadable event at outbox position %d: %s", position, skipped.reason
            )
        return None
    if event.position != position:
        event = event.model_copy(update={"position": position})
    return event


def unreadable_events() -> list[UnreadableEvent]:
    """Outbox rows skipped as unreadable by readers in this process, oldest first.

    At most the last 1000 are kept. Each row appears once however often it
    was read. An empty list means every event read so far parsed.
    """
    return list(_unreadable.values())
