"""`ChannelAdapterContract`: the tests every `chatkit.channels.ChannelAdapter` must pass.

Subclass it in your test suite and implement the provider hooks, usually
against an emulator of the provider::

    class TestTwilioAdapter(ChannelAdapterContract):
        @contextmanager
        def provider(self):
            with TwilioEmulator() as twilio:
                self.twilio = twilio
                yield TwilioAdapter(TwilioSettings(...))

        def signed_inbound(self, adapter, *, text, sender, message_id): ...
        def signed_status(self, adapter, *, provider_message_id, state): ...
        def delivered_texts(self): ...
        def fail_next_send(self, kind): ...
        def refused_recipient(self): ...
        def secrets(self): ...

The tests check what chatkit relies on: a signed delivery is read into
messages and statuses (emoji and non-Latin text included), and anything
unsigned, tampered with, oversized or malformed raises `ChannelWebhookError`;
sends return the provider's id and classify failures (429 and 5xx
retryable, a refusal not); media off the provider's host is refused;
secrets never show in ``repr``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest

from ..channels.base import (
    ChannelAdapter,
    ChannelRequest,
    DeliveryState,
    InboundMedia,
    OutboundMessage,
)
from ..errors import ChannelMediaError, ChannelSendError, ChannelWebhookError
from ..models.conversations import Channel

__all__ = ["ChannelAdapterContract"]

TEXTS = ("Where is my parcel?", "Merhaba 👋 где мой заказ? 我的订单在哪里")


class ChannelAdapterContract:
    """Base class of a channel adapter's contract tests; implement the hooks below.

    Attributes:
        channel: The channel the tests write and send on.
        customer: The customer's address (E.164 for phone channels).
    """

    channel: Channel = Channel.SMS
    customer: str = "+14155550123"

    # -- hooks ---------------------------------------------------------------------

    @contextlib.contextmanager
    def provider(self) -> Iterator[ChannelAdapter]:
        """Start the provider (an emulator) and yield an adapter configured for it."""
        raise NotImplementedError

    def signed_inbound(
        self, adapter: ChannelAdapter, *, text: str, sender: str, message_id: str | None
    ) -> ChannelRequest:
        """A correctly signed delivery of one customer message, as the provider sends it."""
        raise NotImplementedError

    def signed_status(
        self, adapter: ChannelAdapter, *, provider_message_id: str, state: DeliveryState
    ) -> ChannelRequest:
        """A correctly signed delivery report for a message the adapter sent."""
        raise NotImplementedError

    def delivered_texts(self) -> list[str]:
        """The texts the provider has accepted for sending so far."""
        raise NotImplementedError

    def fail_next_send(self, kind: Literal["rate_limited", "server_error"]) -> None:
        """Make the provider answer the next send with 429 or a 5xx."""
        raise NotImplementedError

    def refused_recipient(self) -> str:
        """An address the provider refuses for good (an invalid number)."""
        raise NotImplementedError

    def secrets(self) -> list[str]:
        """The account's secrets (they must not show in repr)."""
        raise NotImplementedError

    # -- fixtures ------------------------------------------------------------------

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture
    def adapter(self) -> Iterator[ChannelAdapter]:
        with self.provider() as adapter:
            yield adapter

    def _outbound(self, text: str, to: str | None = None) -> OutboundMessage:
        return OutboundMessage(
            message_id="msg_contract", channel=self.channel, to=to or self.customer, text=text
        )

    # -- the contract --------------------------------------------------------------

    def test_identity(self, adapter: ChannelAdapter) -> None:
        assert isinstance(adapter, ChannelAdapter)
        assert isinstance(adapter.kind, str)
        assert adapter.kind
        assert isinstance(adapter.name, str)
        assert adapter.name
        assert self.channel in adapter.channels
        assert adapter.max_media_bytes > 0
        for channel in adapter.channels:
            window = adapter.window(channel)
            assert window is None or window > timedelta(0)

    def test_repr_shows_no_secret(self, adapter: ChannelAdapter) -> None:
        shown = repr(adapter) + str(adapter) + repr(getattr(adapter, "settings", ""))
        for secret in self.secrets():
            assert secret not in shown

    @pytest.mark.anyio
    @pytest.mark.parametrize("text", TEXTS)
    async def test_signed_message_is_read(self, adapter: ChannelAdapter, text: str) -> None:
        request = self.signed_inbound(adapter, text=text, sender=self.customer, message_id=None)
        parsed = await adapter.parse_webhook(request)
        assert len(parsed.messages) == 1
        assert parsed.statuses == []
        message = parsed.messages[0]
        assert message.text == text
        assert message.sender == self.customer
        assert message.channel is self.channel
        assert message.provider_message_id
        assert 200 <= parsed.response.status_code < 300

    @pytest.mark.anyio
    async def test_the_provider_id_is_stable_across_redeliveries(
        self, adapter: ChannelAdapter
    ) -> None:
        request = self.signed_inbound(adapter, text="hi", sender=self.customer, message_id=None)
        first = await adapter.parse_webhook(request)
        again = await adapter.parse_webhook(request)
        assert first.messages[0].provider_message_id == again.messages[0].provider_message_id

    @pytest.mark.anyio
    async def test_unsigned_and_tampered_deliveries_are_refused(
        self, adapter: ChannelAdapter
    ) -> None:
        request = self.signed_inbound(adapter, text="hello", sender=self.customer, message_id=None)
        signature_headers = {
            k: v for k, v in request.headers.items() if "signature" in k or "hub" in k
        }
        assert signature_headers, "the signed request carries no signature header"
        unsigned = request.model_copy(
            update={
                "headers": {k: v for k, v in request.headers.items() if k not in signature_headers}
            }
        )
        with pytest.raises(ChannelWebhookError):
            await adapter.parse_webhook(unsigned)
        tampered = request.model_copy(update={"body": request.body.replace(b"hello", b"hellO")})
        assert tampered.body != request.body
        with pytest.raises(ChannelWebhookError) as caught:
            await adapter.parse_webhook(tampered)
        assert caught.value.status_code in (400, 401, 403)
        wrong = request.model_copy(
            update={
                "headers": {
                    **request.headers,
                    **{k: "x" + v[1:] for k, v in signature_headers.items()},
                }
            }
        )
        with pytest.raises(ChannelWebhookError):
            await adapter.parse_webhook(wrong)

    @pytest.mark.anyio
    async def test_oversized_and_malformed_bodies_are_refused(
        self, adapter: ChannelAdapter
    ) -> None:
        request = self.signed_inbound(adapter, text="hello", sender=self.customer, message_id=None)
        huge = request.model_copy(update={"body": request.body + b"&" + b"x" * (2 << 20)})
        with pytest.raises(ChannelWebhookError) as caught:
            await adapter.parse_webhook(huge)
        assert caught.value.reason == "too_large"
        for body in (b"\xff\xfe\x00", b"{" * 1000, b""):
            with pytest.raises(ChannelWebhookError):
                await adapter.parse_webhook(request.model_copy(update={"body": body}))

    @pytest.mark.anyio
    async def test_a_status_report_is_read(self, adapter: ChannelAdapter) -> None:
        sent = await adapter.send(self._outbound("status please"))
        request = self.signed_status(
            adapter, provider_message_id=sent.provider_message_id, state=DeliveryState.DELIVERED
        )
        parsed = await adapter.parse_webhook(request)
        assert parsed.messages == []
        assert [(s.provider_message_id, s.state) for s in parsed.statuses] == [
            (sent.provider_message_id, DeliveryState.DELIVERED)
        ]

    @pytest.mark.anyio
    async def test_send_returns_the_provider_id(self, adapter: ChannelAdapter) -> None:
        result = await adapter.send(self._outbound(TEXTS[1]))
        assert result.provider_message_id
        assert result.state in (DeliveryState.QUEUED, DeliveryState.SENT)
        assert TEXTS[1] in self.delivered_texts()

    @pytest.mark.anyio
    @pytest.mark.parametrize("kind", ["rate_limited", "server_error"])
    async def test_transient_failures_are_retryable(
        self, adapter: ChannelAdapter, kind: Literal["rate_limited", "server_error"]
    ) -> None:
        before = len(self.delivered_texts())
        self.fail_next_send(kind)
        with pytest.raises(ChannelSendError) as caught:
            await adapter.send(self._outbound("retry me"))
        assert caught.value.retryable
        if kind == "rate_limited":
            assert caught.value.status_code == 429
        assert len(self.delivered_texts()) == before

    @pytest.mark.anyio
    async def test_a_refusal_is_final_with_the_providers_error(
        self, adapter: ChannelAdapter
    ) -> None:
        with pytest.raises(ChannelSendError) as caught:
            await adapter.send(self._outbound("nope", to=self.refused_recipient()))
        assert not caught.value.retryable
        assert caught.value.provider_code
        for secret in self.secrets():
            assert secret not in str(caught.value)

    @pytest.mark.anyio
    async def test_find_sent_finds_only_what_was_sent(self, adapter: ChannelAdapter) -> None:
        since = datetime.now(UTC) - timedelta(seconds=5)
        outbound = self._outbound("find me once")
        assert await adapter.find_sent(outbound, since) is None
        sent = await adapter.send(outbound)
        found = await adapter.find_sent(outbound, since)
        assert found is None or found.provider_message_id == sent.provider_message_id

    @pytest.mark.anyio
    async def test_media_off_the_providers_host_is_refused(self, adapter: ChannelAdapter) -> None:
        with pytest.raises(ChannelMediaError) as caught:
            async for _ in adapter.fetch_media(InboundMedia(url="https://evil.example/x.png")):
                pass  # pragma: no cover
        assert caught.value.reason == "foreign_host"
