"""SMS, MMS and WhatsApp through Twilio: the `TwilioAdapter` (``chatkit[twilio]``).

Inbound: Twilio POSTs form-encoded webhooks (incoming messages, status
callbacks) signed with ``X-Twilio-Signature``: HMAC-SHA1 under the account's
Auth Token of the full URL Twilio called followed by every POST parameter
(sorted, name then value). The official client's
`twilio.request_validator.RequestValidator` checks it over every parameter
received. Behind a proxy the URL Twilio called is not the one the app
sees: set `TwilioSettings.public_url`.

Outbound: the official `twilio.rest.Client` (``messages.create``), in a
thread, with a status callback URL carrying chatkit's message id.
`TwilioSettings.api_base_url` points it at another host (the emulator,
``chatkit emulate twilio``).
"""

from __future__ import annotations

import logging
import os
import re
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, Self

import anyio.to_thread
import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from chatkit._optional import missing
from chatkit.channels.base import (
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
from chatkit.channels.phone import normalize_phone
from chatkit.errors import (
    ChannelMediaError,
    ChannelSendError,
    ChannelWebhookError,
    IntegrationConfigError,
)
from chatkit.models.conversations import Channel

try:
    from twilio.base.exceptions import TwilioRestException
    from twilio.http.http_client import TwilioHttpClient
    from twilio.request_validator import RequestValidator
    from twilio.rest import Client
except ImportError as exc:
    raise missing("twilio", "the Twilio channel", exc) from exc

__all__ = ["EMPTY_TWIML", "TwilioAdapter", "TwilioSettings", "twilio_state"]

log = logging.getLogger("chatkit.channels.twilio")

EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
"""The answer to an incoming-message webhook: reply nothing now (chatkit replies later)."""

SIGNATURE_HEADER = "x-twilio-signature"
_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
_MAX_PARAMS = 200
_MAX_MEDIA = 10

_STATES: dict[str, DeliveryState] = {
    "accepted": DeliveryState.QUEUED,
    "scheduled": DeliveryState.QUEUED,
    "queued": DeliveryState.QUEUED,
    "sending": DeliveryState.SENT,
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.READ,
    "failed": DeliveryState.FAILED,
    "undelivered": DeliveryState.FAILED,
    "canceled": DeliveryState.FAILED,
}


def twilio_state(status: str | None) -> DeliveryState | None:
    """chatkit's delivery state for a Twilio ``MessageStatus`` (``None``: not one to record)."""
    return _STATES.get((status or "").lower())


class TwilioSettings(BaseModel):
    """One Twilio account: credentials, numbers and where Twilio reaches chatkit.

    Read them from the environment with `TwilioSettings.from_env`. The Auth
    Token is a `SecretStr`: it never shows in ``repr``, logs or errors.

    Attributes:
        name: The account's name in chatkit: webhooks come to
            ``/channels/<name>/messages`` (incoming) and ``/channels/<name>/status``.
        account_sid: ``AC...``.
        auth_token: The Auth Token (signs webhooks, authenticates API calls).
        public_url: Where Twilio reaches the chatkit web app, e.g.
            ``https://chat.example.com/chat``: the URL Twilio signs is this plus
            ``/channels/<name>/...`` and the query string. Required behind a
            proxy; also used for status callbacks (without it, none is asked).
        sms_from: The number replies go out from by SMS when the customer's
            message gives none (E.164).
        whatsapp_from: The same for WhatsApp (E.164, without ``whatsapp:``).
        messaging_service_sid: Send through this Messaging Service (``MG...``)
            instead of a number.
        api_base_url: Twilio's REST API; the emulator's URL in tests.
        media_hosts: Hosts inbound media may be fetched from (Twilio's API
            and its media CDN; the API base URL's host is always allowed).
        max_body_bytes: Largest webhook body accepted.
        max_media_bytes: Largest inbound media accepted (Twilio's MMS limit is 5 MB).
        timeout: Seconds an API call may take.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default="twilio", pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr
    public_url: str | None = None
    sms_from: str | None = None
    whatsapp_from: str | None = None
    messaging_service_sid: str | None = Field(default=None, pattern=r"^MG[0-9a-fA-F]{32}$")
    api_base_url: str = "https://api.twilio.com"
    media_hosts: tuple[str, ...] = ("api.twilio.com", "mms.twiliocdn.com", "media.twiliocdn.com")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_media_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    timeout: float = Field(default=15.0, gt=0)

    @field_validator("public_url", "api_base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urllib.parse.urlsplit(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("must be an http(s) URL with a host")
        return value.rstrip("/")

    @classmethod
    def from_env(
        cls, name: str = "twilio", environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> Self:
        """Settings from ``CHATKIT_<NAME>_*`` variables (``CHATKIT_TWILIO_ACCOUNT_SID``...).

        Reads ``ACCOUNT_SID``, ``AUTH_TOKEN``, ``PUBLIC_URL``, ``SMS_FROM``,
        ``WHATSAPP_FROM``, ``MESSAGING_SERVICE_SID`` and ``API_BASE_URL``;
        for the account named ``twilio`` the SDK's own ``TWILIO_ACCOUNT_SID``
        and ``TWILIO_AUTH_TOKEN`` work too.

        Raises:
            IntegrationConfigError: A variable is missing or invalid (the
                message names it, never its value).
        """
        env = os.environ if environ is None else environ
        prefix = f"CHATKIT_{name.upper().replace('-', '_')}_"
        fields: dict[str, Any] = {"name": name}
        for key in (
            "account_sid",
            "auth_token",
            "public_url",
            "sms_from",
            "whatsapp_from",
            "messaging_service_sid",
            "api_base_url",
        ):
            value = env.get(prefix + key.upper())
            if value is None and name == "twilio" and key in ("account_sid", "auth_token"):
                value = env.get("TWILIO_" + key.upper())
            if value:
                fields[key] = value
        fields.update(overrides)
        missing_keys = [k for k in ("account_sid", "auth_token") if k not in fields]
        if missing_keys:
            raise IntegrationConfigError(
                "Twilio needs " + ", ".join(prefix + k.upper() for k in missing_keys),
                integration="twilio",
                fields=tuple(prefix + k.upper() for k in missing_keys),
            )
        try:
            return cls(**fields)
        except ValueError as exc:
            bad = sorted({str(e["loc"][0]) for e in getattr(exc, "errors", list)()})
            raise IntegrationConfigError(
                "invalid Twilio settings: " + ", ".join(prefix + b.upper() for b in bad),
                integration="twilio",
                fields=tuple(prefix + b.upper() for b in bad),
            ) from None


class _Params(dict[str, list[str]]):
    """Form parameters with repeats, as `RequestValidator` reads them (``getlist``)."""

    def getlist(self, name: str) -> list[str]:
        return self[name]

    def first(self, name: str) -> str | None:
        values = self.get(name)
        return values[0] if values else None


class TwilioAdapter(ChannelAdapter):
    """SMS, MMS and WhatsApp through one Twilio account.

    Example:
        ```python
        from chatkit_integrations.twilio import TwilioAdapter, TwilioSettings

        kit.channels.add(TwilioAdapter(TwilioSettings.from_env()))
        ```
    """

    kind: ClassVar[str] = "twilio"

    def __init__(self, settings: TwilioSettings) -> None:
        if not isinstance(settings, TwilioSettings):
            raise IntegrationConfigError(
                "TwilioAdapter takes TwilioSettings", integration="twilio", fields=("settings",)
            )
        self.settings = settings
        self.name = settings.name
        self.channels = frozenset({Channel.SMS, Channel.WHATSAPP})
        self.max_media_bytes = settings.max_media_bytes
        self._validator = RequestValidator(settings.auth_token.get_secret_value())
        api_host = urllib.parse.urlsplit(settings.api_base_url).hostname or ""
        self._media_hosts = frozenset({*settings.media_hosts, api_host})
        self._client: Client | None = None

    @classmethod
    def from_env(
        cls, name: str = "twilio", environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> TwilioAdapter:
        """An adapter configured from the environment (`TwilioSettings.from_env`)."""
        return cls(TwilioSettings.from_env(name, environ, **overrides))

    def __repr__(self) -> str:
        return f"TwilioAdapter(name={self.name!r}, account_sid={self.settings.account_sid!r})"

    # -- inbound -----------------------------------------------------------------

    def signed_url(self, request: ChannelRequest) -> str:
        """The URL Twilio signed: `TwilioSettings.public_url` + path + query, else as received."""
        if self.settings.public_url is None:
            return request.url
        query = urllib.parse.urlsplit(request.url).query
        path = request.path.lstrip("/")
        url = f"{self.settings.public_url}/channels/{self.name}/{path}"
        return f"{url}?{query}" if query else url

    def _refuse(self, reason: str, status: int, detail: str) -> ChannelWebhookError:
        return ChannelWebhookError(
            f"twilio webhook refused: {detail}",
            channel=self.name,
            reason=reason,
            status_code=status,
        )

    def _params(self, body: bytes) -> _Params:
        try:
            text = body.decode("utf-8")
            pairs = urllib.parse.parse_qsl(
                text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=_MAX_PARAMS
            )
        except (UnicodeDecodeError, ValueError):
            raise self._refuse("malformed", 400, "the body is not a form") from None
        params = _Params()
        for key, value in pairs:
            params.setdefault(key, []).append(value)
        return params

    async def parse_webhook(self, request: ChannelRequest) -> ChannelWebhook:
        """Check ``X-Twilio-Signature`` over the URL and every parameter, then read the body.

        Raises:
            ChannelWebhookError: ``too_large`` (413), ``missing_signature`` or
                ``bad_signature`` (403), ``wrong_account`` (403),
                ``malformed`` (400: not a form, no message id, a media URL
                on another host).
        """
        if len(request.body) > self.settings.max_body_bytes:
            raise self._refuse("too_large", 413, f"body over {self.settings.max_body_bytes} bytes")
        signature = request.header(SIGNATURE_HEADER)
        if not signature:
            raise self._refuse("missing_signature", 403, "no X-Twilio-Signature")
        content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
        if content_type not in ("application/x-www-form-urlencoded", ""):
            raise self._refuse("malformed", 400, "not form-encoded")
        params = self._params(request.body)
        url = self.signed_url(request)
        if not self._validator.validate(url, params, signature):
            raise self._refuse("bad_signature", 403, "X-Twilio-Signature does not match")
        if params.first("AccountSid") != self.settings.account_sid:
            raise self._refuse("wrong_account", 403, "AccountSid is not this account's")
        sid = params.first("MessageSid") or params.first("SmsSid") or ""
        if not _SID.match(sid):
            raise self._refuse("malformed", 400, "no valid MessageSid")
        if "Body" in params or "NumMedia" in params:
            return ChannelWebhook(
                messages=[self._inbound(sid, params)],
                response=ChannelResponse(body=EMPTY_TWIML, media_type="text/xml"),
            )
        state = twilio_state(params.first("MessageStatus") or params.first("SmsStatus"))
        if state is None:
            return ChannelWebhook(response=ChannelResponse(body=EMPTY_TWIML, media_type="text/xml"))
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)
        message_id = next(iter(query.get("m", [])), None)
        try:
            status = StatusUpdate(
                provider_message_id=sid,
                state=state,
                message_id=message_id[:100] if message_id else None,
                error_code=(params.first("ErrorCode") or None),
                error=(params.first("ErrorMessage") or None),
            )
        except ValueError:
            raise self._refuse("malformed", 400, "a status field is out of range") from None
        return ChannelWebhook(
            statuses=[status], response=ChannelResponse(body=EMPTY_TWIML, media_type="text/xml")
        )

    def _inbound(self, sid: str, params: _Params) -> InboundMessage:
        sender = params.first("From") or ""
        recipient = params.first("To") or ""
        channel = Channel.WHATSAPP if sender.startswith("whatsapp:") else Channel.SMS
        try:
            sender_e164 = normalize_phone(sender)
            recipient_e164 = normalize_phone(recipient) if recipient else ""
        except ValueError:
            raise self._refuse("malformed", 400, "From or To is not a phone number") from None
        try:
            count = int(params.first("NumMedia") or "0")
        except ValueError:
            raise self._refuse("malformed", 400, "NumMedia is not a number") from None
        if not 0 <= count <= _MAX_MEDIA:
            raise self._refuse("malformed", 400, f"NumMedia must be 0 to {_MAX_MEDIA}")
        media: list[InboundMedia] = []
        for index in range(count):
            url = params.first(f"MediaUrl{index}") or ""
            if not self._media_host_ok(url):
                raise self._refuse("malformed", 400, f"MediaUrl{index} is not on Twilio's host")
            media.append(
                InboundMedia(url=url, content_type=params.first(f"MediaContentType{index}"))
            )
        body = params.first("Body") or ""
        raw = {
            k: v[0][:200]
            for k, v in params.items()
            if k in ("MessagingServiceSid", "NumSegments", "WaId", "SmsStatus", "ApiVersion")
        }
        try:
            return InboundMessage(
                provider_message_id=sid,
                channel=channel,
                sender=sender_e164,
                recipient=recipient_e164,
                text=body,
                media=media,
                name=(params.first("ProfileName") or None),
                raw=raw,
            )
        except ValueError:
            raise self._refuse("malformed", 400, "a field is out of range") from None

    def _media_host_ok(self, url: str) -> bool:
        try:
            parsed = urllib.parse.urlsplit(url)
        except ValueError:
            return False
        return parsed.scheme in ("https", "http") and (parsed.hostname or "") in self._media_hosts

    async def fetch_media(self, media: InboundMedia) -> AsyncIterator[bytes]:
        """Stream a media URL from Twilio (HTTP basic auth), redirects checked host by host.

        Raises:
            ChannelMediaError: ``foreign_host``, ``too_large`` or ``unavailable``.
        """
        url = media.url
        limit = self.settings.max_media_bytes
        auth = (self.settings.account_sid, self.settings.auth_token.get_secret_value())
        async with httpx.AsyncClient(timeout=self.settings.timeout) as client:
            for _hop in range(4):
                if not self._media_host_ok(url):
                    raise ChannelMediaError(
                        "twilio media is not on Twilio's host",
                        channel=self.name,
                        reason="foreign_host",
                    )
                same = urllib.parse.urlsplit(url).hostname in (
                    urllib.parse.urlsplit(self.settings.api_base_url).hostname,
                    "api.twilio.com",
                )
                try:
                    async with client.stream("GET", url, auth=auth if same else None) as response:
                        if response.is_redirect:
                            url = str(response.url.join(response.headers.get("location", "")))
                            continue
                        if response.status_code != 200:
                            raise ChannelMediaError(
                                f"twilio media answered {response.status_code}",
                                channel=self.name,
                                reason="unavailable",
                            )
                        length = response.headers.get("content-length")
                        if length is not None and length.isdigit() and int(length) > limit:
                            raise ChannelMediaError(
                                f"twilio media over {limit} bytes",
                                channel=self.name,
                                reason="too_large",
                            )
                        size = 0
                        async for chunk in response.aiter_bytes():
                            size += len(chunk)
                            if size > limit:
                                raise ChannelMediaError(
                                    f"twilio media over {limit} bytes",
                                    channel=self.name,
                                    reason="too_large",
                                )
                            yield chunk
                        return
                except httpx.HTTPError as exc:
                    raise ChannelMediaError(
                        f"twilio media unavailable: {type(exc).__name__}",
                        channel=self.name,
                        reason="unavailable",
                    ) from None
        raise ChannelMediaError("too many redirects", channel=self.name, reason="unavailable")

    def window(self, channel: Channel) -> timedelta | None:
        """24 hours for WhatsApp (free-form replies), none for SMS."""
        return timedelta(hours=24) if channel is Channel.WHATSAPP else None

    # -- outbound ----------------------------------------------------------------

    def client(self) -> Client:
        """The official Twilio client, pointed at `TwilioSettings.api_base_url`."""
        if self._client is None:
            settings = self.settings
            client = Client(
                settings.account_sid,
                settings.auth_token.get_secret_value(),
                http_client=TwilioHttpClient(timeout=settings.timeout),
            )
            if settings.api_base_url != "https://api.twilio.com":
                client.api.base_url = settings.api_base_url
            self._client = client
        return self._client

    def _address(self, channel: Channel, number: str) -> str:
        return f"whatsapp:{number}" if channel is Channel.WHATSAPP else number

    def _sender(self, message: OutboundMessage) -> str | None:
        number = message.sender or (
            self.settings.whatsapp_from
            if message.channel is Channel.WHATSAPP
            else self.settings.sms_from
        )
        return self._address(message.channel, number) if number else None

    def status_callback(self, message_id: str) -> str | None:
        """The status callback URL for a message (``None`` without `public_url`)."""
        if self.settings.public_url is None:
            return None
        query = urllib.parse.urlencode({"m": message_id})
        return f"{self.settings.public_url}/channels/{self.name}/status?{query}"

    async def send(self, message: OutboundMessage) -> SendResult:
        """``messages.create`` through the official client (in a thread)."""
        kwargs: dict[str, Any] = {
            "to": self._address(message.channel, message.to),
            "body": message.text,
        }
        sender = self._sender(message)
        if self.settings.messaging_service_sid and message.sender is None:
            kwargs["messaging_service_sid"] = self.settings.messaging_service_sid
        elif sender is not None:
            kwargs["from_"] = sender
        else:
            raise ChannelSendError(
                "no number to send from: set sms_from or whatsapp_from",
                channel=self.name,
                retryable=False,
            )
        callback = message.status_callback or self.status_callback(message.message_id)
        if callback:
            kwargs["status_callback"] = callback
        if message.media_urls:
            kwargs["media_url"] = list(message.media_urls)
        client = self.client()
        try:
            created = await anyio.to_thread.run_sync(lambda: client.messages.create(**kwargs))
        except TwilioRestException as exc:
            raise self._send_error(exc) from None
        except Exception as exc:  # requests' errors: no answer
            raise self._network_error(exc) from None
        state = twilio_state(created.status) or DeliveryState.QUEUED
        if state is DeliveryState.FAILED:
            state = DeliveryState.QUEUED
        return SendResult(provider_message_id=str(created.sid), state=state)

    def _send_error(self, exc: TwilioRestException) -> ChannelSendError:
        code = str(exc.code) if exc.code is not None else None
        retryable = exc.status == 429 or exc.status >= 500 or code == "20429"
        return ChannelSendError(
            f"Twilio answered {exc.status}"
            + (f" (error {code})" if code else "")
            + f": {str(exc.msg)[:300]}",
            channel=self.name,
            retryable=retryable,
            status_code=exc.status,
            provider_code=code,
        )

    def _network_error(self, exc: Exception) -> ChannelSendError:
        name = type(exc).__name__
        import requests

        uncertain = isinstance(exc, requests.exceptions.ReadTimeout) or (
            isinstance(exc, requests.exceptions.ConnectionError)
            and not isinstance(exc, requests.exceptions.ConnectTimeout)
            and "Connection refused" not in str(exc)
        )
        return ChannelSendError(
            f"no answer from Twilio ({name})",
            channel=self.name,
            retryable=True,
            uncertain=uncertain,
        )

    async def find_sent(self, message: OutboundMessage, since: datetime) -> SendResult | None:
        """A message to the same number with the same body created since ``since``, if any."""
        client = self.client()
        to = self._address(message.channel, message.to)
        try:
            found = await anyio.to_thread.run_sync(
                lambda: client.messages.list(to=to, limit=100, page_size=100)
            )
        except TwilioRestException as exc:
            raise self._send_error(exc) from None
        except Exception as exc:
            raise self._network_error(exc) from None
        for item in found:
            created = item.date_created
            if item.body == message.text and created is not None and created >= since:
                state = twilio_state(item.status) or DeliveryState.QUEUED
                return SendResult(provider_message_id=str(item.sid), state=state)
        return None

    async def aclose(self) -> None:
        """Drop the client (its HTTP session)."""
        self._client = None
