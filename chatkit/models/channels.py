"""Messaging channels' records: the inbound receipts and the outbound sent-log.

See `chatkit.channels.Channels` for how they are written and read.
"""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from pydantic import Field

from ._base import Record, SafeText, UTCDateTime
from .conversations import Channel
from .messages import DeliveryState

__all__ = ["ChannelReceipt", "ChannelSend", "ChannelSendStatus"]


class ChannelReceipt(Record):
    """A provider delivery chatkit took in: one per provider message id (or status report).

    Its id is derived from the account and the provider's id, so a
    redelivered webhook is refused by the store's primary key and written
    once, whatever the number of web processes.

    Attributes:
        account: The channel account (``"twilio"``).
        provider_message_id: The provider's id of the message.
        kind: ``message`` (a customer message) or ``status`` (a delivery report).
        received_at: When chatkit first received it.
    """

    table: ClassVar[str] = "channel_receipts"
    columns: ClassVar[tuple[str, ...]] = ("account",)

    account: SafeText = Field(max_length=100)
    provider_message_id: SafeText = Field(max_length=200)
    kind: SafeText = Field(default="message", max_length=20)
    received_at: UTCDateTime


class ChannelSendStatus(str, Enum):
    """Where an outbound send stands in chatkit's sent-log."""

    PENDING = "pending"
    """Waiting for its first attempt or a retry (`ChannelSend.next_attempt_at`)."""
    SENT = "sent"
    """The provider took it (`ChannelSend.provider_message_id`)."""
    FAILED = "failed"
    """Given up on: refused for good, or out of attempts (`ChannelSend.error`)."""


class ChannelSend(Record):
    """One reply to one customer through one provider account: the sent-log and retry queue.

    There is one per message (its id is derived from the message id), so a
    reply is handed to the provider at most once after it was recorded as
    sent; an attempt whose outcome was never recorded is checked with
    `ChannelAdapter.find_sent` before it is sent again.

    Attributes:
        message_id: The chatkit message.
        conversation_id: Its conversation.
        account: The channel account sending it.
        channel: ``sms`` or ``whatsapp``.
        to: The customer's address.
        sender: The business address to send from.
        status: Pending, sent or failed.
        state: The delivery state (also on `Message.delivery`).
        attempts: Attempts made (counted when one starts).
        next_attempt_at: When the next attempt is due (pending only).
        last_attempt_at: When the last attempt started.
        provider_message_id: The provider's id, once sent.
        error_code: The provider's error code of the last failure.
        error: Why the last attempt failed.
        due_key: Sortable form of `next_attempt_at` while pending (also moved
            past an attempt's timeout while a dispatcher holds it).
    """

    table: ClassVar[str] = "channel_sends"
    columns: ClassVar[tuple[str, ...]] = (
        "message_id",
        "account",
        "status",
        "due_key",
        "provider_message_id",
    )
    unique: ClassVar[tuple[tuple[str, ...], ...]] = (("message_id",),)

    message_id: str
    conversation_id: str
    account: SafeText = Field(max_length=100)
    channel: Channel
    to: SafeText = Field(max_length=200)
    sender: SafeText | None = Field(default=None, max_length=200)
    status: ChannelSendStatus = ChannelSendStatus.PENDING
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = Field(default=0, ge=0)
    next_attempt_at: UTCDateTime | None = None
    last_attempt_at: UTCDateTime | None = None
    provider_message_id: SafeText | None = Field(default=None, max_length=200)
    error_code: SafeText | None = Field(default=None, max_length=50)
    error: SafeText | None = Field(default=None, max_length=500)
    due_key: str | None = None
