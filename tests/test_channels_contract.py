"""The Twilio adapter keeps the public channel adapter contract, against the emulator."""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("twilio")

from chatkit.channels import ChannelAdapter, ChannelRequest, DeliveryState
from chatkit.models.conversations import Channel
from chatkit.testing import ChannelAdapterContract
from chatkit_integrations.twilio import TwilioAdapter, TwilioSettings
from chatkit_integrations.twilio.emulator import EmulatedMessage, TwilioEmulator

WEBHOOK = "https://chat.example.com/channels/twilio"


class TestTwilioSMS(ChannelAdapterContract):
    twilio: TwilioEmulator

    @contextlib.contextmanager
    def provider(self) -> Iterator[ChannelAdapter]:
        with TwilioEmulator() as twilio:
            self.twilio = twilio
            yield TwilioAdapter(
                TwilioSettings(
                    account_sid=twilio.account_sid,
                    auth_token=twilio.auth_token,  # type: ignore[arg-type]
                    api_base_url=twilio.url,
                    sms_from="+14155559999",
                    whatsapp_from="+14155559999",
                )
            )

    def _request(self, url: str, params: dict[str, str]) -> ChannelRequest:
        return ChannelRequest(
            url=url,
            headers={
                "x-twilio-signature": self.twilio.signature(url, params),
                "content-type": "application/x-www-form-urlencoded",
            },
            body=urllib.parse.urlencode(params).encode(),
        )

    def signed_inbound(
        self, adapter: ChannelAdapter, *, text: str, sender: str, message_id: str | None
    ) -> ChannelRequest:
        prefix = "whatsapp:" if self.channel.value == "whatsapp" else ""
        message = EmulatedMessage(
            sid=message_id or "SM" + "1" * 32,
            account_sid=self.twilio.account_sid,
            to=f"{prefix}+14155559999",
            from_=f"{prefix}{sender}",
            body=text,
            direction="inbound",
            status="received",
            date_created=datetime.now(UTC),
        )
        return self._request(f"{WEBHOOK}/messages", self.twilio.inbound_params(message))

    def signed_status(
        self, adapter: ChannelAdapter, *, provider_message_id: str, state: DeliveryState
    ) -> ChannelRequest:
        params = {
            "MessageSid": provider_message_id,
            "SmsSid": provider_message_id,
            "MessageStatus": state.value,
            "SmsStatus": state.value,
            "AccountSid": self.twilio.account_sid,
            "To": self.customer,
            "From": "+14155559999",
            "ApiVersion": "2010-04-01",
        }
        return self._request(f"{WEBHOOK}/status?m=msg_contract", params)

    def delivered_texts(self) -> list[str]:
        return [m.body for m in self.twilio.sent()]

    def fail_next_send(self, kind: Literal["rate_limited", "server_error"]) -> None:
        self.twilio.fail_next("429" if kind == "rate_limited" else "503")

    def refused_recipient(self) -> str:
        return "+15005550001"

    def secrets(self) -> list[str]:
        return [self.twilio.auth_token]


class TestTwilioWhatsApp(TestTwilioSMS):
    channel = Channel.WHATSAPP


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "Body",
                "From",
                "To",
                "NumMedia",
                "MediaUrl0",
                "MediaContentType0",
                "MessageStatus",
                "SmsStatus",
                "ErrorCode",
                "ErrorMessage",
                "ProfileName",
                "MessageSid",
                "AccountSid",
            ]
        )
        | _TEXT,
        _TEXT,
        max_size=12,
    ),
    sid=st.sampled_from(["SM" + "d" * 32, "MM" + "e" * 32, "", "SMshort"]),
    query=_TEXT,
)
def test_any_signed_form_is_read_or_refused_with_a_typed_error(
    params: dict[str, str], sid: str, query: str
) -> None:
    import asyncio

    from chatkit.errors import ChannelWebhookError

    token = "f" * 32
    account = "AC" + "0" * 32
    adapter = TwilioAdapter(TwilioSettings(account_sid=account, auth_token=token))  # type: ignore[arg-type]
    params = {"AccountSid": account, "MessageSid": sid, **params}
    url = f"{WEBHOOK}/messages?{urllib.parse.urlencode({'m': query})}"
    from twilio.request_validator import RequestValidator

    request = ChannelRequest(
        url=url,
        headers={"x-twilio-signature": RequestValidator(token).compute_signature(url, params)},
        body=urllib.parse.urlencode(params).encode(),
    )
    refused: ChannelWebhookError | None = None
    try:
        parsed = asyncio.run(adapter.parse_webhook(request))
    except ChannelWebhookError as exc:
        refused = exc
    if refused is not None:
        assert refused.status_code in (400, 403, 413)
        assert token not in str(refused)
        return
    for message in parsed.messages:
        assert message.sender.startswith("+")
        assert message.text == params.get("Body", "")
