"""Events of messaging channels: provider deliveries taken in, and delivery states."""

from __future__ import annotations

from typing import Literal

from ..channels.base import InboundMessage, StatusUpdate
from ..models.messages import MessageDelivery
from .base import BaseEvent

__all__ = ["ChannelMessageReceived", "ChannelStatusReceived", "MessageDeliveryUpdated"]


class ChannelMessageReceived(BaseEvent):
    """A provider delivered a customer message; chatkit writes it into a conversation next.

    Written with the message's `chatkit.models.ChannelReceipt` when the
    webhook is acknowledged; the ``channel-inbound`` dispatch group turns it
    into a customer message (see `chatkit.services.Channels`).
    """

    type: Literal["channel.message_received"] = "channel.message_received"
    account: str
    inbound: InboundMessage


class ChannelStatusReceived(BaseEvent):
    """A provider reported a delivery state of a message chatkit sent."""

    type: Literal["channel.status_received"] = "channel.status_received"
    account: str
    status: StatusUpdate


class MessageDeliveryUpdated(BaseEvent):
    """A message sent through a provider changed delivery state (queued, sent, delivered...)."""

    type: Literal["message.delivery_updated"] = "message.delivery_updated"
    message_id: str
    delivery: MessageDelivery
