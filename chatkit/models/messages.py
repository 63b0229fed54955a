"""Messages inside a conversation."""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from pydantic import Field

from ._base import Record, SafeJsonObject, SafeText
from .attachments import AttachmentInfo
from .authors import Author, AuthorRole
from .conversations import Channel

__all__ = ["Author", "AuthorRole", "Message", "MessageKind"]


class MessageKind(str, Enum):
    """What a message is."""

    TEXT = "text"
    """Visible to the customer."""
    NOTE = "note"
    """A private note between agents; never shown to the customer."""
    SYSTEM = "system"
    """An activity entry written by chatkit or a bot (acknowledgements, status changes)."""


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
