"""The `ChannelAdapter` contract: what a messaging provider plugs into chatkit.

An adapter speaks to one provider account (a Twilio account, a WhatsApp
Business number, a Messenger page). chatkit gives it what the provider sent
(`ChannelRequest`: the raw body, the headers and the public URL it was sent
to) and asks it back for `ChannelWebhook` (the customer messages and delivery
updates in it, and what to answer). For a reply chatkit gives it an
`OutboundMessage` and expects the provider's id back (`SendResult`), or a
`chatkit.errors.ChannelSendError` that says whether trying again may help.

Everything that is not the provider's business (contacts, conversations,
de-duplication, ordering, retries, the delivery log) is chatkit's: see
`chatkit.channels.Channels`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ..models._base import SafeText, UTCDateTime, utcnow
from ..models.conversations import Channel
from ..models.messages import DeliveryState

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
]


class ChannelRequest(BaseModel):
    """One HTTP request a provider made to chatkit, as received.

    Attributes:
        method: ``POST`` for deliveries, ``GET`` for handshakes (Meta's
            ``hub.challenge``).
        url: The public URL the provider called, query string included (what
            it signed): the configured public URL when behind a proxy.
        path: What follows ``/channels/<name>/`` (``"messages"``, ``"status"``).
        headers: Request headers, names lower-cased.
        body: The raw body, byte for byte (HMAC signatures cover these bytes).
        received_at: When chatkit received it.
    """

    model_config = ConfigDict(frozen=True)

    method: str = "POST"
    url: str
    path: str = ""
    headers: Mapping[str, str] = Field(default_factory=dict)
    body: bytes = b""
    received_at: UTCDateTime = Field(default_factory=utcnow)

    def header(self, name: str) -> str | None:
        """A header's value by case-insensitive name."""
        return self.headers.get(name.lower())


class ChannelResponse(BaseModel):
    """What chatkit answers the provider with (an empty TwiML document, a challenge echo)."""

    model_config = ConfigDict(frozen=True)

    status_code: int = 200
    body: bytes = b""
    media_type: str = "text/plain"


class InboundMedia(BaseModel):
    """A picture, voice note or file a customer sent; fetched with `ChannelAdapter.fetch_media`.

    Attributes:
        url: Where the provider serves it (an adapter refuses any other host).
        content_type: The type the provider announced.
        name: A file name, when the provider gave one.
    """

    model_config = ConfigDict(frozen=True)

    url: str = Field(max_length=2000)
    content_type: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)


class InboundMessage(BaseModel):
    """A customer's message as the provider delivered it.

    Attributes:
        provider_message_id: The provider's id: a redelivery carries the same
            one, and chatkit writes it once.
        channel: ``sms`` or ``whatsapp`` (``messenger``, ``email`` later).
        sender: The customer's address: E.164 for phone channels.
        recipient: The business address it was sent to (the account's number).
        text: The body (may be empty when media came).
        media: Attachments to fetch.
        name: The customer's profile name, when the provider gave one.
        sent_at: The provider's timestamp, when given: messages delivered out
            of order are written in this order.
        raw: Provider fields worth keeping (never secrets).
    """

    model_config = ConfigDict(frozen=True)

    provider_message_id: str = Field(min_length=1, max_length=200)
    channel: Channel
    sender: str = Field(min_length=1, max_length=200)
    recipient: str = Field(default="", max_length=200)
    text: SafeText = ""
    media: list[InboundMedia] = Field(default_factory=list, max_length=20)
    name: SafeText | None = Field(default=None, max_length=200)
    sent_at: UTCDateTime | None = None
    raw: dict[str, str] = Field(default_factory=dict)


class StatusUpdate(BaseModel):
    """A delivery report for a message chatkit sent.

    Attributes:
        provider_message_id: The provider's id of the sent message.
        state: The new state.
        message_id: chatkit's message id, when the callback carries it (chatkit
            puts it in the callback URL it gives the provider).
        error_code: The provider's error code of a failure.
        error: The provider's explanation of a failure.
        at: The provider's timestamp, when given.
    """

    model_config = ConfigDict(frozen=True)

    provider_message_id: str = Field(min_length=1, max_length=200)
    state: DeliveryState
    message_id: str | None = Field(default=None, max_length=100)
    error_code: str | None = Field(default=None, max_length=50)
    error: SafeText | None = Field(default=None, max_length=500)
    at: UTCDateTime | None = None


class ChannelWebhook(BaseModel):
    """What one verified webhook request contained, and what to answer."""

    model_config = ConfigDict(frozen=True)

    messages: list[InboundMessage] = Field(default_factory=list)
    statuses: list[StatusUpdate] = Field(default_factory=list)
    response: ChannelResponse = Field(default_factory=ChannelResponse)


class OutboundMessage(BaseModel):
    """A reply to send through the provider.

    Attributes:
        message_id: chatkit's message id (also the idempotency key).
        channel: ``sms`` or ``whatsapp``...
        to: The customer's address (E.164 for phone channels).
        sender: The business address to send from (the number the customer
            wrote to); ``None``: the account's default.
        text: The body.
        media_urls: Public URLs of media to send with it.
        status_callback: Where the provider should report delivery states.
    """

    model_config = ConfigDict(frozen=True)

    message_id: str
    channel: Channel
    to: str
    sender: str | None = None
    text: str = ""
    media_urls: list[str] = Field(default_factory=list)
    status_callback: str | None = None


class SendResult(BaseModel):
    """What the provider said when it took a message."""

    model_config = ConfigDict(frozen=True)

    provider_message_id: str
    state: DeliveryState = DeliveryState.QUEUED


class ChannelAdapter(ABC):
    """One provider account: verify and read its webhooks, send through it, fetch its media.

    Subclass it and register the class in the entry-point group
    ``chatkit.channels``; `chatkit.testing.ChannelAdapterContract` checks an
    adapter keeps this contract. Adapters hold their account's secrets: they
    never put them in ``repr``, logs or errors.

    Attributes:
        kind: The provider (``"twilio"``); the entry point's name.
        name: This account's name, the ``<name>`` of ``/channels/<name>/...``.
        channels: The channels this account serves.
        max_media_bytes: The largest inbound media accepted.
    """

    kind: ClassVar[str]
    name: str
    channels: frozenset[Channel]
    max_media_bytes: int = 16 * 1024 * 1024

    @abstractmethod
    async def parse_webhook(self, request: ChannelRequest) -> ChannelWebhook:
        """Verify ``request`` came from the provider, then read it.

        Raises:
            ChannelWebhookError: Bad, missing or stale signature, a body too
                large, a malformed payload, another account's request. The
                adapter raised before anything was written.
        """

    @classmethod
    def from_env(cls, name: str, environ: Mapping[str, str] | None = None) -> ChannelAdapter:
        """An adapter for the account called ``name``, configured from environment variables.

        What `Channels.add_from_env` calls (``CHATKIT_CHANNELS``); adapters that
        can be configured that way override it.

        Raises:
            ConfigurationError: The variables are missing or invalid (named,
                never their values).
        """
        from ..errors import ConfigurationError

        raise ConfigurationError(f"the {cls.__name__} channel is not configured from environment")

    async def handshake(self, request: ChannelRequest) -> ChannelResponse | None:
        """Answer a provider's verification ``GET`` (Meta's ``hub.challenge``).

        ``None`` (the default): this provider makes none, and a GET is refused.

        Raises:
            ChannelWebhookError: The handshake's token is wrong.
        """
        return None

    @abstractmethod
    async def send(self, message: OutboundMessage) -> SendResult:
        """Hand ``message`` to the provider; its id for the message.

        Raises:
            ChannelSendError: With ``retryable`` for 429, 5xx, timeouts and lost
                connections, without for refusals; ``uncertain`` when the
                request may have reached the provider.
        """

    async def find_sent(self, message: OutboundMessage, since: datetime) -> SendResult | None:
        """The provider's record of ``message``, if an earlier attempt sent it after ``since``.

        chatkit asks before sending again after an attempt whose outcome it
        does not know (a worker stopped mid-send, a timeout): what keeps a
        customer from getting a reply twice. ``None``: not found, or the
        provider cannot tell (then the message is sent again).
        """
        return None

    @abstractmethod
    def fetch_media(self, media: InboundMedia) -> AsyncIterator[bytes]:
        """Stream an inbound attachment's bytes.

        Raises (on first iteration):
            ChannelMediaError: The URL is not on the provider's host, the media
                is larger than `max_media_bytes`, or it cannot be read.
        """

    def window(self, channel: Channel) -> timedelta | None:
        """How long after the customer's last message a free-form reply may go out.

        ``None`` (SMS): no limit. WhatsApp allows 24 hours; after that only
        templates (not sent by chatkit yet).
        """
        return None

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections. The default does nothing."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
