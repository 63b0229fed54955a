"""The picture an agent gets when picking up a conversation."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ._base import UTCDateTime
from .contacts import Contact
from .conversations import Conversation
from .messages import Message
from .tickets import Ticket

__all__ = ["ConversationContext", "ExternalRecord"]


class ExternalRecord(BaseModel):
    """The twin of the contact or the conversation in a synced CRM or help desk.

    Attributes:
        integration: The integration, e.g. ``"zendesk"``.
        kind: ``contact`` or ``conversation``.
        local_id: The chatkit id.
        remote_type: The vendor's type, e.g. ``"ticket"`` or ``"Case"``.
        remote_id: The vendor's id (look the record up in the vendor's UI or API).
        synced_at: When the two were last known to agree.
        url: The record in the vendor's UI, when the integration knows it
            (`Integration.record_url`; the agent API fills it in).
    """

    model_config = ConfigDict(frozen=True)

    integration: str
    kind: str
    local_id: str
    remote_type: str | None
    remote_id: str
    synced_at: UTCDateTime | None = None
    url: str | None = None


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
        external_records: The contact's and the conversation's records in
            each synced CRM or help desk (see `chatkit.sync`), so the agent
            can open the customer's CRM record and the case.
    """

    model_config = ConfigDict(frozen=True)

    conversation: Conversation
    contact: Contact
    history: list[Message]
    notes: list[Message]
    open_tickets: list[Ticket]
    previous_conversations: list[Conversation]
    external_records: list[ExternalRecord] = []
