"""The picture an agent gets when picking up a conversation."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from .contacts import Contact
from .conversations import Conversation
from .messages import Message
from .tickets import Ticket

__all__ = ["ConversationContext"]


class ConversationContext(BaseModel):
    """Everything an agent needs to pick a conversation up cold.

    Attributes:
        conversation: The conversation itself.
        contact: The customer, with identities and attributes.
        history: Every message of every conversation of this contact, oldest
            first, across channels, including agents' private notes.
        notes: The private notes alone, oldest first.
        open_tickets: The contact's tickets that are not solved or closed.
        previous_conversations: The contact's other conversations, newest first.
    """

    model_config = ConfigDict(frozen=True)

    conversation: Conversation
    contact: Contact
    history: list[Message]
    notes: list[Message]
    open_tickets: list[Ticket]
    previous_conversations: list[Conversation]
