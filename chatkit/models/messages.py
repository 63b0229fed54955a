"""Messages inside a conversation."""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ._base import Record, SafeJsonObject, SafeText
from .attachments import AttachmentInfo
from .authors import Author, AuthorRole
from .conversations import Channel

__all__ = ["Author", "AuthorRole", "EntityValue", "Message", "MessageAnalysis", "MessageKind"]


class MessageKind(str, Enum):
    """What a message is."""

    TEXT = "text"
    """Visible to the customer."""
    NOTE = "note"
    """A private note between agents; never shown to the customer."""
    SYSTEM = "system"
    """An activity entry written by chatkit or a bot (acknowledgements, status changes)."""


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
