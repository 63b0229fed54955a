"""Messages inside a conversation."""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ._base import Record, SafeJsonObject, SafeText, UTCDateTime
from .attachments import AttachmentInfo
from .authors import Author, AuthorRole
from .conversations import Channel

__all__ = [
    "Author",
    "AuthorRole",
    "DeliveryState",
    "EntityValue",
    "Message",
    "MessageAnalysis",
    "MessageDelivery",
    "MessageKind",
]


class MessageKind(str, Enum):
    """What a message is."""

    TEXT = "text"
    """Visible to the customer."""
    NOTE = "note"
    """A private note between agents; never shown to the customer."""
    SYSTEM = "system"
    """An activity entry written by chatkit or a bot (acknowledgements, status changes)."""


class DeliveryState(str, Enum):
    """Where an outbound message stands with the provider, in order of progress."""

    PENDING = "pending"
    """Written by chatkit; not handed to the provider yet (or waiting for a retry)."""
    QUEUED = "queued"
    """The provider accepted it and will send it."""
    SENT = "sent"
    """The provider handed it to the carrier or network."""
    DELIVERED = "delivered"
    """It reached the customer's device."""
    READ = "read"
    """The customer read it (WhatsApp, Messenger)."""
    FAILED = "failed"
    """It will not reach the customer; see the error."""

    @property
    def rank(self) -> int:
        """Progress order: a status update never moves a message back to a lower rank."""
        return _RANK[self]


_RANK = {
    DeliveryState.PENDING: 0,
    DeliveryState.QUEUED: 1,
    DeliveryState.SENT: 2,
    DeliveryState.DELIVERED: 3,
    DeliveryState.READ: 4,
    DeliveryState.FAILED: 5,
}


class MessageDelivery(BaseModel):
    """How a message sent through a provider (SMS, WhatsApp) is faring.

    Attributes:
        state: Pending, queued, sent, delivered, read or failed.
        account: The channel account it goes through (``"twilio"``).
        provider_message_id: The provider's id (Twilio's ``SM...``), once sent.
        error_code: The provider's error code of a failure (``"21211"``).
        error: Why it failed, as the provider said.
        updated_at: When the state last changed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: DeliveryState = DeliveryState.PENDING
    account: SafeText | None = Field(default=None, max_length=100)
    provider_message_id: SafeText | None = Field(default=None, max_length=200)
    error_code: SafeText | None = Field(default=None, max_length=50)
    error: SafeText | None = Field(default=None, max_length=500)
    updated_at: UTCDateTime | None = None


class EntityValue(BaseModel):
    """Something specific a customer mentioned (see `chatkit.understanding.Entity`).

    Attributes:
        type: ``order_number``, ``email``, ``phone``, ``date``, ``duration``,
            ``amount`` or ``product``.
        value: The normalised value (``245-12784``, ``12.5 USD``, ``--08-01``).
        text: The text as written.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    value: SafeText
    text: SafeText


class MessageAnalysis(BaseModel):
    """What chatkit understood of a customer's message (`ChatKitSettings.understanding`).

    Attributes:
        language: The language, given or detected (``"en"``, ``"ko"``, ``"tr"``).
        intent: The detected intent (``"order_status"``), ``None`` when
            nothing matched with `UnderstandingSettings.min_confidence`.
        confidence: Confidence in the best intent, 0 to 1.
        entities: Entities found, in order of appearance.
        sentiment: -1 (very negative) to 1 (very positive).
        sentiment_label: ``negative``, ``neutral`` or ``positive``.
        aspects: What the feeling is about (``delivery``, ``calls``...).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    language: str
    intent: str | None = None
    confidence: float = Field(default=0.0, ge=0, le=1)
    entities: list[EntityValue] = Field(default_factory=list)
    sentiment: float = Field(default=0.0, ge=-1, le=1)
    sentiment_label: str = "neutral"
    aspects: list[str] = Field(default_factory=list)

    def entity_values(self, type: str) -> list[str]:
        """Values of the entities of one type, e.g. ``"order_number"``."""
        return [e.value for e in self.entities if e.type == type]


class Message(Record):
    """One entry in a conversation.

    Attributes:
        conversation_id: The conversation it belongs to.
        seq: Position in the conversation, from 1, gapless and stable.
        kind: Text, private note or system entry.
        author: Who wrote it.
        channel: The channel it arrived or left on.
        text: The body.
        idempotency_key: Client-chosen key; a retried send with the same key
            returns the first message instead of writing a second one.
        metadata: Free JSON for the application.
        attachments: Images, files and video messages sent with it.
        analysis: Intent, entities and sentiment of a customer's text
            message, written with it (``None`` for other messages, or with
            understanding turned off).
        delivery: For a reply sent through a provider (SMS, WhatsApp): its
            delivery state, the provider's id and error (``None`` otherwise).
    """

    table: ClassVar[str] = "messages"
    columns: ClassVar[tuple[str, ...]] = ("conversation_id", "seq", "idempotency_key")
    unique: ClassVar[tuple[tuple[str, ...], ...]] = (
        ("conversation_id", "seq"),
        ("conversation_id", "idempotency_key"),
    )

    conversation_id: str
    seq: int = Field(ge=1)
    kind: MessageKind = MessageKind.TEXT
    author: Author
    channel: Channel = Channel.WEB
    text: SafeText
    idempotency_key: SafeText | None = Field(default=None, max_length=200)
    metadata: SafeJsonObject = Field(default_factory=dict)
    attachments: list[AttachmentInfo] = Field(default_factory=list)
    analysis: MessageAnalysis | None = None
    delivery: MessageDelivery | None = None
