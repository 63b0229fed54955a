"""Settings of a kit, with defaults that need no configuration."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)

from .automation.replies import AutoReplySettings
from .automation.rules import RuleSet
from .bots.handover import BotSettings
from .channels.settings import ChannelSettings
from .errors import InvalidInputError, cut
from .escalation import EscalationRule
from .models.conversations import Channel
from .models.retention import RetentionPolicy
from .models.surveys import SurveySettings
from .notifications.settings import NotificationSettings
from .sla import SLAPolicies
from .understanding.intents import IntentDefinition
from .webhooks import WebhookSettings

__all__ = [
    "DEFAULT_URL",
    "AttachmentLimits",
    "AutoReplySettings",
    "ChatKitSettings",
    "PresenceSettings",
    "UnderstandingSettings",
    "WebhookSettings",
    "default_url",
]

DEFAULT_URL = "sqlite:///chatkit.db"
"""Store used when no URL is given and ``CHATKIT_URL`` is unset: ``chatkit.db``
in the current working directory."""


def default_url() -> str:
    """``$CHATKIT_URL`` when set, else `DEFAULT_URL`."""
    return os.environ.get("CHATKIT_URL") or DEFAULT_URL


class AttachmentLimits(BaseModel):
    """What uploads are accepted.

    Attributes:
        max_bytes: Largest attachment, in bytes (default 100 MiB: video messages).
        max_per_message: Most attachments on one message.
        allowed_types: MIME types accepted, ``*`` as a subtype wildcard
            (``"image/*"``). Types are sniffed from the content.
        active_content: What happens to content a browser would run (HTML;
            SVG or XML with script, event handlers, ``javascript:`` URLs or
            embedded HTML): ``"refuse"`` (the default) raises
            `ActiveContentError`; ``"download"`` stores it as
            ``application/octet-stream``, which browsers only download,
            when its sniffed type is in `allowed_types`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_bytes: int = Field(default=100 * 1024 * 1024, ge=1)
    max_per_message: int = Field(default=10, ge=1, le=100)
    allowed_types: tuple[str, ...] = (
        "image/*",
        "video/*",
        "audio/*",
        "application/pdf",
        "application/zip",
        "application/xml",
        "text/plain",
    )
    active_content: Literal["refuse", "download"] = "refuse"

    def allows(self, mime_type: str) -> bool:
        """Whether ``mime_type`` matches one of `allowed_types`."""
        major = mime_type.split("/", 1)[0]
        return any(t in (mime_type, f"{major}/*", "*/*") for t in self.allowed_types)


class PresenceSettings(BaseModel):
    """When agents count as idle or offline.

    Attributes:
        idle_after: Seconds without activity (`Agents.touch`) after which an
            available or online agent counts as idle.
        offline_after: Seconds without a heartbeat (`Agents.heartbeat`)
            after which an agent counts as offline, e.g. because the process
            serving their console stopped.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    idle_after: float = Field(default=300.0, gt=0)
    offline_after: float = Field(default=90.0, gt=0)


DEFAULT_INTENT_TOPICS: dict[str, str] = {
    "order_status": "orders & billing",
    "refund_return": "orders & billing",
    "billing_payment": "orders & billing",
    "cancel_service": "account",
    "account_access": "account",
    "technical_problem": "troubleshooting",
    "product_question": "product advice",
}
"""Intents of the built-in taxonomy and the routing category each belongs to."""


class UnderstandingSettings(BaseModel):
    """How customers' messages are understood (see `chatkit.understanding`).

    Attributes:
        enabled: Analyse each customer text message as it is written: its
            language, intent, entities and sentiment go on the message
            (`Message.analysis`) and the conversation's mood, intent and
            language follow, in the same commit.
        classifier: The `chatkit.understanding.Classifier` by name
            (``"default"``: built in, offline; ``"openai"`` or an installed one).
        sentiment: The `chatkit.understanding.SentimentAnalyzer` by name
            (``"default"``, ``"vader"``, ``"openai"`` or an installed one).
        min_confidence: Least confidence for an intent to count (below it the
            message has no intent).
        products: Product names to recognise as ``product`` entities.
        intents: Your own intents (or more words for built-in ones), added
            to the built-in taxonomy: keywords and examples per language
            (see `chatkit.understanding.IntentDefinition`).
        intent_topics: The routing topic (category) of each intent:
            `Routing.route` sends a conversation with no team or topic to a
            team with its intent's category, when there is one.
        mood_alpha: Weight of the newest message in the running mood.
        mood_window: How many messages back the mood trend looks.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    classifier: str = "default"
    sentiment: str = "default"
    min_confidence: float = Field(default=0.5, ge=0, le=1)
    products: tuple[str, ...] = ()
    intents: tuple[IntentDefinition, ...] = ()
    intent_topics: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_INTENT_TOPICS))
    mood_alpha: float = Field(default=0.5, gt=0, le=1)
    mood_window: int = Field(default=3, ge=1, le=20)

    @model_validator(mode="wrap")
    @classmethod
    def _typed_errors(
        cls, value: Any, handler: ModelWrapValidatorHandler[UnderstandingSettings]
    ) -> UnderstandingSettings:
        """Raise `InvalidInputError` naming the field, not pydantic's error."""
        try:
            return handler(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or None
            raise InvalidInputError(
                f"invalid understanding settings: {where + ': ' if where else ''}{first['msg']}",
                field=where,
            ) from exc


class ChatKitSettings(BaseModel):
    """Behaviour knobs of a kit. Every field has a working default.

    Attributes:
        max_message_length: Longest message text accepted, in characters.
        acknowledgement: Sent by the bot right after a customer's first
            message in a new conversation (via `Messages.receive`). ``None``
            sends nothing.
        conflict_retries: How often a write that lost a race is retried
            before `ConflictError` reaches the caller.
        event_poll_interval: Seconds between outbox checks of an idle
            subscriber, which catch events committed by other processes.
            Events from this process arrive at once.
        attachments: Limits on uploads.
        retention: How long conversations are kept (see `Retention.purge`).
        typing_previews: Show agents customers' drafts as they type. When off,
            agents only see that the customer is typing.
        preview_interval: Least seconds between two previews delivered for
            one writer in one conversation; the latest draft always arrives.
        presence: When agents count as idle or offline.
        sla_policies: SLA policies for tickets, in order: the first that
            matches a ticket's priority and team applies (see `chatkit.sla`).
        routing_strategy: The `chatkit.routing` strategy `Routing.route` uses
            when none is given (``least_busy``, ``round_robin``, ``sticky``
            or an installed one).
        default_handle_time: Seconds a conversation is assumed to take when
            a team has no resolved conversations yet to estimate waits from.
        escalation_rules: The escalation matrix `Routing.escalate` applies
            (see `chatkit.escalation.EscalationRule`).
        understanding: Intent, entity and sentiment analysis of customers'
            messages (on by default; built in and offline).
        auto_replies: Instant replies that answer what the customer said
            (off by default; `acknowledgement` turns the greeting on).
        automation_rules: Declarative rules `Automation` runs on events
            (see `chatkit.automation.RuleSet`).
        notifications: E-mail (and your notifiers) to customers and agents
            when their tickets change (see `Notifications`).
        bots: Bot flows and the words that hand over to a person (`Bots`).
        surveys: The satisfaction survey form, its expiry and the low-score
            follow-up (`Surveys`).
        verified_channels: Channels whose sender address, given to
            `Messages.receive` as a plain string and without ``verified=``,
            counts as verified: the address the provider delivered the
            message from. SMS, WhatsApp and Messenger by default. Web (a
            visitor id the browser presents) and e-mail (a ``From:`` header
            anyone can write) are not: add them only if every sender address
            your application passes on them was proven (a visitor id you
            issued and checked, mail your server authenticated with DKIM).
        webhooks: The size cap on inbound webhook bodies, which non-public
            networks outbound webhooks (automation actions, `Webhooks`
            deliveries) may call (none by default), and how deliveries are
            retried (see `chatkit.webhooks.WebhookSettings`).
        channels: How replies are sent through SMS and WhatsApp accounts
            (`chatkit.channels.settings.ChannelSettings`): attempts, backoff, timeout.

    Raises:
        InvalidInputError: A field has a wrong type or value; its ``field``
            names it (``"retention.default_days"``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_message_length: int = Field(default=10_000, ge=1, le=1_000_000)
    acknowledgement: str | None = None
    conflict_retries: int = Field(default=50, ge=0)
    event_poll_interval: float = Field(default=1.0, gt=0)
    attachments: AttachmentLimits = Field(default_factory=AttachmentLimits)
    retention: RetentionPolicy = Field(default_factory=RetentionPolicy)
    typing_previews: bool = True
    preview_interval: float = Field(default=0.25, ge=0)
    presence: PresenceSettings = Field(default_factory=PresenceSettings)
    sla_policies: SLAPolicies = ()
    routing_strategy: str = "least_busy"
    default_handle_time: float = Field(default=300.0, gt=0)
    escalation_rules: tuple[EscalationRule, ...] = ()
    understanding: UnderstandingSettings = Field(default_factory=UnderstandingSettings)
    auto_replies: AutoReplySettings = Field(default_factory=AutoReplySettings)
    automation_rules: RuleSet = Field(default_factory=RuleSet)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    bots: BotSettings = Field(default_factory=BotSettings)
    surveys: SurveySettings = Field(default_factory=SurveySettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    channels: ChannelSettings = Field(default_factory=ChannelSettings)
    verified_channels: frozenset[Channel] = frozenset(
        {Channel.SMS, Channel.WHATSAPP, Channel.MESSENGER}
    )

    @model_validator(mode="wrap")
    @classmethod
    def _typed_errors(
        cls, value: Any, handler: ModelWrapValidatorHandler[ChatKitSettings]
    ) -> ChatKitSettings:
        """Raise `InvalidInputError` naming the field, not pydantic's error."""
        try:
            return handler(value)
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            where = cut(".".join(str(p) for p in first["loc"]), 100) or None
            raise InvalidInputError(
                f"invalid settings: {where + ': ' if where else ''}{cut(first['msg'], 200)}",
                field=where,
            ) from exc
