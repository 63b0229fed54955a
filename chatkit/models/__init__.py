"""The data model: contacts, agents, conversations, messages, tickets."""

from __future__ import annotations

from ._base import (
    JSON_MAX_BYTES,
    JSON_MAX_DEPTH,
    JSON_MAX_INT,
    JSON_MIN_INT,
    Page,
    Record,
    UTCDateTime,
    new_id,
    utcnow,
)
from .abuse import Block, BlockKind, Incident, IncidentCategory
from .agents import Agent, AgentRole, AgentStatus, AgentToken, Presence
from .attachments import Attachment, AttachmentInfo, AttachmentKind
from .canned import CannedReply
from .channels import ChannelReceipt, ChannelSend, ChannelSendStatus
from .contacts import (
    Contact,
    Identity,
    IdentityClaim,
    IdentityKind,
    IdentityRecord,
    normalize_identity,
)
from .context import ConversationContext, ExternalRecord
from .conversations import TRANSITIONS, Channel, Conversation, ConversationStatus, Priority
from .kb import Article, ArticleHit
from .messages import (
    Author,
    AuthorRole,
    DeliveryState,
    Message,
    MessageDelivery,
    MessageKind,
)
from .notifications import NotificationRecord, NotificationStatus
from .retention import MINIMUM_RETENTION_DAYS, HoldTarget, LegalHold, RetentionPolicy
from .surveys import (
    ReviewItem,
    ReviewNote,
    Survey,
    SurveyForm,
    SurveyQuestion,
    SurveySettings,
    SurveyStatus,
)
from .teams import Team
from .tickets import (
    OPEN_TICKET_STATUSES,
    TICKET_TRANSITIONS,
    Ticket,
    TicketNote,
    TicketStatus,
)
from .web import (
    ANALYTICS_CLIENT_ID,
    AnalyticsConsent,
    WebSession,
    Website,
    WidgetSettings,
    normalize_origin,
)
from .webhooks import WebhookDelivery, WebhookDeliveryStatus, WebhookSubscription

__all__ = [
    "JSON_MAX_BYTES",
    "JSON_MAX_DEPTH",
    "JSON_MAX_INT",
    "JSON_MIN_INT",
    "Block",
    "ChannelReceipt",
    "ChannelSend",
    "ChannelSendStatus",
    "DeliveryState",
    "MessageDelivery",
    "BlockKind",
    "Incident",
    "IncidentCategory",
    "ReviewItem",
    "ReviewNote",
    "Survey",
    "SurveyForm",
    "SurveyQuestion",
    "SurveySettings",
    "SurveyStatus",
    "MINIMUM_RETENTION_DAYS",
    "HoldTarget",
    "LegalHold",
    "RetentionPolicy",
    "OPEN_TICKET_STATUSES",
    "TICKET_TRANSITIONS",
    "TRANSITIONS",
    "Agent",
    "AgentRole",
    "AgentStatus",
    "AgentToken",
    "Article",
    "ArticleHit",
    "Attachment",
    "AttachmentInfo",
    "AttachmentKind",
    "Author",
    "AuthorRole",
    "CannedReply",
    "Channel",
    "Contact",
    "Conversation",
    "ConversationContext",
    "ExternalRecord",
    "ConversationStatus",
    "Identity",
    "IdentityClaim",
    "IdentityKind",
    "IdentityRecord",
    "Message",
    "MessageKind",
    "NotificationRecord",
    "NotificationStatus",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookSubscription",
    "Page",
    "Presence",
    "Priority",
    "Record",
    "Team",
    "ANALYTICS_CLIENT_ID",
    "AnalyticsConsent",
    "WebSession",
    "Website",
    "WidgetSettings",
    "normalize_origin",
    "Ticket",
    "TicketNote",
    "TicketStatus",
    "UTCDateTime",
    "new_id",
    "normalize_identity",
    "utcnow",
]
