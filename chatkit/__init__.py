"""chatkit: an embeddable live-chat customer-service SDK.

Example:
    ```python
    from chatkit import ChatKit, Author

    with ChatKit() as kit:  # SQLite file chatkit.db in the working directory
        inbound = kit.messages.receive(channel="sms", sender="+1 555 010 0000",
                                       text="Where is my order 245-12784?")
        agent = kit.agents.create(name="Mia")
        kit.conversations.assign(inbound.conversation.id, agent.id)
        kit.messages.send(inbound.conversation.id, "Looking it up now!",
                          author=Author.agent(agent.id))
    ```
"""

from __future__ import annotations

from . import redact as _redact
from ._facade import AsyncChatKit, ChatKit, SyncDispatcher, SyncSubscription
from .automation import Facts, Rule, RuleSet, Template
from .automation.replies import AutoReplySettings
from .bots import BotSettings, BotSummary, Flow, HandoverSettings
from .errors import (
    AgentAtCapacityError,
    AlreadyClaimedError,
    AttachmentError,
    AttachmentTooLargeError,
    AttachmentTypeError,
    ChatKitError,
    ConfigurationError,
    ConflictError,
    ContactBlockedError,
    ConversationClosedError,
    DuplicateIdentityError,
    DuplicateKeyError,
    InvalidInputError,
    InvalidTokenError,
    InvalidTransitionError,
    MessageTooLargeError,
    NotFoundError,
    PluginError,
    PluginLoadError,
    PluginNotFoundError,
    RateLimitedError,
    RemoteServiceError,
    SchemaVersionError,
    StoreError,
    TemplateError,
    TooManyAttachmentsError,
    TransportError,
)
from .escalation import EscalationRule
from .events import Event, parse_event
from .hours import BusinessHours, OpeningRange
from .models import (
    Agent,
    AgentRole,
    AgentStatus,
    AgentToken,
    Attachment,
    AttachmentInfo,
    AttachmentKind,
    Author,
    AuthorRole,
    Channel,
    Contact,
    Conversation,
    ConversationContext,
    ConversationStatus,
    ExternalRecord,
    Identity,
    IdentityClaim,
    IdentityKind,
    LegalHold,
    Message,
    MessageKind,
    Page,
    Presence,
    Priority,
    RetentionPolicy,
    Team,
    Ticket,
    TicketNote,
    TicketStatus,
)
from .models.abuse import Block, Incident, IncidentCategory
from .models.kb import Article, ArticleHit
from .models.messages import EntityValue, MessageAnalysis
from .models.surveys import Survey, SurveyForm, SurveySettings
from .models.tickets import SLAClock, SLATarget, TicketSLA
from .notifications import Notification, NotificationSettings, Notifier
from .services import (
    Dispatcher,
    Escalation,
    Inbound,
    PurgeReport,
    RoutingResult,
    SMTPSettings,
    Subscription,
    TypingPreview,
)
from .settings import (
    AttachmentLimits,
    ChatKitSettings,
    PresenceSettings,
    UnderstandingSettings,
)
from .sla import SLAPolicy
from .stores.base import DispatchStatus
from .transcripts import Transcript, TranscriptFormat

__version__ = "0.1.0"

# httpx logs "HTTP Request: POST <url>" at INFO: mask credentials in those URLs.
_redact.install_httpx_filter()

__all__ = [
    "SurveySettings",
    "SurveyForm",
    "Survey",
    "Notifier",
    "NotificationSettings",
    "Notification",
    "IncidentCategory",
    "Incident",
    "HandoverSettings",
    "Flow",
    "ContactBlockedError",
    "BotSummary",
    "BotSettings",
    "Block",
    "ArticleHit",
    "Article",
    "UnderstandingSettings",
    "TemplateError",
    "Template",
    "RuleSet",
    "Rule",
    "RemoteServiceError",
    "MessageAnalysis",
    "Facts",
    "EntityValue",
    "AutoReplySettings",
    "Agent",
    "AgentAtCapacityError",
    "AgentRole",
    "AgentStatus",
    "AgentToken",
    "AlreadyClaimedError",
    "AsyncChatKit",
    "Attachment",
    "AttachmentError",
    "AttachmentInfo",
    "AttachmentKind",
    "AttachmentLimits",
    "AttachmentTooLargeError",
    "AttachmentTypeError",
    "Author",
    "AuthorRole",
    "BusinessHours",
    "Channel",
    "ChatKit",
    "ChatKitError",
    "ChatKitSettings",
    "ConfigurationError",
    "ConflictError",
    "Contact",
    "Conversation",
    "ConversationClosedError",
    "ConversationContext",
    "ExternalRecord",
    "ConversationStatus",
    "Dispatcher",
    "DispatchStatus",
    "DuplicateIdentityError",
    "DuplicateKeyError",
    "Escalation",
    "EscalationRule",
    "Event",
    "Identity",
    "IdentityClaim",
    "IdentityKind",
    "Inbound",
    "InvalidInputError",
    "InvalidTokenError",
    "InvalidTransitionError",
    "Message",
    "MessageKind",
    "MessageTooLargeError",
    "NotFoundError",
    "OpeningRange",
    "LegalHold",
    "Page",
    "PluginError",
    "PluginLoadError",
    "PluginNotFoundError",
    "Presence",
    "Priority",
    "PresenceSettings",
    "PurgeReport",
    "RateLimitedError",
    "RetentionPolicy",
    "SLAClock",
    "SLAPolicy",
    "SLATarget",
    "RoutingResult",
    "SMTPSettings",
    "SchemaVersionError",
    "StoreError",
    "Subscription",
    "SyncDispatcher",
    "SyncSubscription",
    "Ticket",
    "Team",
    "TicketNote",
    "TicketSLA",
    "TicketStatus",
    "TooManyAttachmentsError",
    "Transcript",
    "TranscriptFormat",
    "TransportError",
    "TypingPreview",
    "__version__",
    "parse_event",
]
