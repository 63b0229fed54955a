"""Messaging channels as plugins: SMS, MMS and WhatsApp (through Twilio), more later.

A `ChannelAdapter` speaks to one provider account; `Channels` (``kit.channels``)
does the rest: webhooks in (verified, written once, into the right contact
and conversation), replies out (from the outbox, retried, sent at most once),
and delivery states. Adapters are found by name in the entry-point group
``chatkit.channels`` (`adapters`).

Example:
    ```python
    from chatkit.channels import adapters

    twilio = adapters.load("twilio").from_env()
    kit.channels.add(twilio)
    app = kit.asgi()  # webhooks at /channels/twilio/messages and /channels/twilio/status
    ```
"""

from __future__ import annotations

from ..plugins import Builtin, PluginLoader
from .base import (
    ChannelAdapter,
    ChannelRequest,
    ChannelResponse,
    ChannelWebhook,
    DeliveryState,
    InboundMedia,
    InboundMessage,
    OutboundMessage,
    SendResult,
    StatusUpdate,
)
from .phone import normalize_phone

__all__ = [
    "ChannelAdapter",
    "ChannelRequest",
    "ChannelResponse",
    "ChannelWebhook",
    "DeliveryState",
    "InboundMedia",
    "InboundMessage",
    "OutboundMessage",
    "SendResult",
    "StatusUpdate",
    "adapters",
    "normalize_phone",
]

adapters: PluginLoader[type[ChannelAdapter]] = PluginLoader(
    "chatkit.channels",
    {
        "twilio": Builtin(
            "chatkit_integrations.twilio.adapter:TwilioAdapter", "pip install 'chatkit[twilio]'"
        ),
    },
)
"""Channel adapter classes by provider name (entry-point group ``chatkit.channels``)."""
