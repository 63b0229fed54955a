"""The kit's resource services; reach them as ``kit.contacts``, ``kit.messages``..."""

from __future__ import annotations

from .abuse import Abuse
from .agents import Agents
from .attachments import Attachments
from .automation import Automation
from .autoreplies import AutoReplies
from .bots import Bots
from .canned import CannedReplies
from .channels import ChannelDispatcher, Channels
from .contacts import Contacts
from .conversations import Conversations
from .dispatch import Dispatcher, EventHandler
from .events import Events, Subscription
from .exports import ConversationRecord, Exports
from .kb import KnowledgeBase
from .messages import Inbound, Messages
from .notifications import Notifications
from .previews import Previews, PreviewWatch, TypingPreview
from .retention import PurgeReport, Retention
from .reviews import Reviews
from .routing import Escalation, Routing, RoutingResult
from .surveys import Surveys
from .teams import Teams
from .tickets import Tickets
from .transcripts import SMTPSettings, Transcripts
from .understanding import Understanding
from .webhooks import WebhookDispatcher, Webhooks
from .websites import Websites

__all__ = [
    "ChannelDispatcher",
    "Channels",
    "Abuse",
    "Bots",
    "KnowledgeBase",
    "Notifications",
    "Reviews",
    "Surveys",
    "Agents",
    "Attachments",
    "AutoReplies",
    "Automation",
    "CannedReplies",
    "Contacts",
    "ConversationRecord",
    "Dispatcher",
    "EventHandler",
    "Exports",
    "Conversations",
    "Escalation",
    "Events",
    "Inbound",
    "Messages",
    "Subscription",
    "PreviewWatch",
    "Previews",
    "PurgeReport",
    "Retention",
    "Routing",
    "RoutingResult",
    "SMTPSettings",
    "Teams",
    "Tickets",
    "Transcripts",
    "TypingPreview",
    "Understanding",
    "Websites",
    "WebhookDispatcher",
    "Webhooks",
]
