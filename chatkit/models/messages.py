"""Messages inside a conversation."""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from ._base import Record, SafeText
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


class AuthorRole(str, Enum):
    """Who wrote a message."""

    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"


class Author(BaseModel):
    """The writer of a message.

    Example:
        >>> Author.agent("ag_123").role
        <AuthorRole.AGENT: 'agent'>
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: AuthorRole
    id: str | None = None
    """Contact id for customers, agent id for agents, free-form for bots."""

    @model_validator(mode="after")
    def _id_required(self) -> Author:
        if self.role in (AuthorRole.CUSTOMER, AuthorRole.AGENT) and not self.id:
            raise ValueError(f"a {self.role.value} author needs an id")
        return self

    @classmethod
    def customer(cls, contact_id: str) -> Author:
        """The contact ``contact_id``."""
        return cls(role=AuthorRole.CUSTOMER, id=contact_id)

    @classmethod
    def agent(cls, agent_id: str) -> Author:
        """The agent ``agent_id``."""
        return cls(role=AuthorRole.AGENT, id=agent_id)

    @classmethod
    def system(cls) -> Author:
        """chatkit itself."""
        return cls(role=AuthorRole.SYSTEM)

    @classmethod
    def bot(cls, name: str = "bot") -> Author:
        """An automated responder."""
        return cls(role=AuthorRole.BOT, id=name)


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
    idempotency_key: str | None = Field(default=None, max_length=200)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
