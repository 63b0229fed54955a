"""An emulator of Twilio Programmable Messaging, for testing with the official ``twilio`` client.

It serves, over real HTTP on 127.0.0.1, what chatkit uses: ``Messages.create``
(``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded, HTTP
basic auth with the Account SID and Auth Token), message fetch and list (with
``To``/``From`` filters), and inbound media
(``/2010-04-01/Accounts/{sid}/Messages/{MessageSid}/Media/{MediaSid}``). JSON
shapes are the Message resource's (``sid``, ``status``, ``date_created`` in
RFC 2822, ``error_code``...), errors Twilio's (``{"code", "message",
"more_info", "status"}``).

It plays the customer: `TwilioEmulator.text` POSTs an incoming-message
webhook, signed with ``X-Twilio-Signature`` by the SDK's own
`RequestValidator`, to the configured webhook URL; sent messages get status
callbacks (``sent`` then ``delivered``; ``read`` too on WhatsApp). Faults can
be injected: the next N creates answer 429 (error 20429), 500 or 503, or
hang past the client's timeout.

Needs ``pip install 'chatkit[emulators,twilio]'``.

Example:
    ```python
    with TwilioEmulator(webhook_url="http://127.0.0.1:8000/channels/twilio") as twilio:
        settings = TwilioSettings(account_sid=twilio.account_sid,
                                  auth_token=twilio.auth_token, api_base_url=twilio.url)
        twilio.text("+14155550100", "Where is my parcel?")
    ```
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Self

import httpx

from chatkit._optional import missing

try:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
    from twilio.request_validator import RequestValidator
except ImportError as exc:
    raise missing("starlette", "the Twilio emulator", exc) from exc

from .._server import Emulator

__all__ = ["EmulatedMessage", "TwilioEmulator", "main"]

_API = "/2010-04-01/Accounts/{sid}"


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


@dataclass
class EmulatedMessage:
    """A message in the emulated account (sent by the API or received from a "customer")."""

    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    direction: str
    status: str
    date_created: datetime
    status_callback: str | None = None
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    error_code: int | None = None
    error_message: str | None = None

    def resource(self, base: str) -> dict[str, Any]:
        """The Message resource as Twilio's API returns it."""
        uri = f"{_API.format(sid=self.account_sid)}/Messages/{self.sid}.json"
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": self.body,
            "date_created": _rfc2822(self.date_created),
            "date_sent": _rfc2822(self.date_created) if self.status != "queued" else None,
            "date_updated": _rfc2822(self.date_created),
            "direction": self.direction,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "from": self.from_,
            "messaging_service_sid": None,
            "num_media": str(len(self.media)),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {
                "media": uri.replace(".json", "/Media.json"),
                "feedback": uri.replace(".json", "/Feedback.json"),
            },
            "to": self.to,
            "uri": uri,
        }


class TwilioEmulator(Emulator):
    """The emulated Twilio account and the ASGI app that serves it.

    Args:
        webhook_url: Where incoming-message webhooks go (the chatkit app's
            ``.../channels/twilio``; ``/messages`` is appended).
        account_sid: The account's SID (random by default).
        auth_token: The Auth Token (random by default).
        callback_delay: Seconds between a create and its status callbacks.
        read_receipts: Send ``read`` callbacks for WhatsApp messages.
    """

    default_port = 8767

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        account_sid: str | None = None,
        auth_token: str | None = None,
        callback_delay: float = 0.0,
        read_receipts: bool = True,
    ) -> None:
        self.account_sid = account_sid or _sid("AC")
        self.auth_token = auth_token or secrets.token_hex(16)
        self.webhook_url = webhook_url.rstrip("/") if webhook_url else None
        self.callback_delay = callback_delay
        self.read_receipts = read_receipts
        self.messages: dict[str, EmulatedMessage] = {}
        self.creates = 0
        """``Messages.create`` calls answered (faults included)."""
        self.callbacks: list[tuple[str, int]] = []
        """(status, HTTP status of the receiver's answer) of each status callback sent."""
        self._faults: list[tuple[str, float]] = []
        self._lock = threading.Lock()
        self._validator = RequestValidator(self.auth_token)
        self._pool: list[threading.Thread] = []
        self.app = Starlette(routes=self._routes())

    def __repr__(self) -> str:
        where = self._server.url if self._server is not None else "not started"
        return f"TwilioEmulator(account_sid={self.account_sid!r}, {where})"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls -------------------------------------------------------------

    def fail_next(self, kind: str, *, times: int = 1, seconds: float = 0.0) -> None:
        """Answer the next ``times`` creates with a fault.

        Args:
            kind: ``"429"`` (error 20429 with ``Retry-After``), ``"500"``,
                ``"503"``, ``"timeout"`` (hold the request ``seconds`` and
                then create the message: the client gave up, Twilio did not),
                or ``"slow"`` (create the message, then hold the answer
                ``seconds``).
            times: How many creates.
            seconds: For ``timeout``: how long to hold each one.
        """
        with self._lock:
            self._faults.extend([(kind, seconds)] * times)

    def sent(self, to: str | None = None) -> list[EmulatedMessage]:
        """Messages created through the API (oldest first), or only those to ``to``."""
        return [
            m
            for m in self.messages.values()
            if m.direction == "outbound-api" and (to is None or m.to == to)
        ]

    def signature(self, url: str, params: dict[str, str]) -> str:
        """``X-Twilio-Signature`` of a request, computed by the SDK's `RequestValidator`."""
        return str(self._validator.compute_signature(url, params))

    def text(
        self,
        sender: str,
        body: str,
        *,
        to: str = "+15005550006",
        media: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
        profile_name: str | None = None,
        message_sid: str | None = None,
        url: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A customer texts the account: POST a signed incoming-message webhook.

        ``sender`` is ``+E164`` for SMS or ``whatsapp:+E164`` for WhatsApp
        (``to`` then gets the same prefix). Returns the receiver's answer.
        """
        if sender.startswith("whatsapp:") and not to.startswith("whatsapp:"):
            to = f"whatsapp:{to}"
        sid = message_sid or _sid("MM" if media else "SM")
        message = EmulatedMessage(
            sid=sid,
            account_sid=self.account_sid,
            to=to,
            from_=sender,
            body=body,
            direction="inbound",
            status="received",
            date_created=datetime.now(UTC),
        )
        for content_type, data in media:
            message.media[_sid("ME")] = (content_type, data)
        self.messages[sid] = message
        params = self.inbound_params(message, profile_name=profile_name)
        params.update(extra or {})
        return self.post_signed(url or f"{self._webhook()}/messages", params)

    def inbound_params(
        self, message: EmulatedMessage, *, profile_name: str | None = None
    ) -> dict[str, str]:
        """The parameters Twilio posts to an incoming-message webhook."""
        params = {
            "ToCountry": "US",
            "SmsMessageSid": message.sid,
            "NumMedia": str(len(message.media)),
            "ToCity": "",
            "FromZip": "",
            "SmsSid": message.sid,
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": message.body,
            "FromCountry": "US",
            "To": message.to,
            "MessagingServiceSid": "",
            "ToZip": "",
            "NumSegments": "1",
            "MessageSid": message.sid,
            "AccountSid": self.account_sid,
            "From": message.from_,
            "ApiVersion": "2010-04-01",
        }
        for index, (media_sid, (content_type, _)) in enumerate(message.media.items()):
            params[f"MediaContentType{index}"] = content_type
            params[f"MediaUrl{index}"] = (
                f"{self.url}{_API.format(sid=self.account_sid)}/Messages/{message.sid}"
                f"/Media/{media_sid}"
            )
        if message.from_.startswith("whatsapp:"):
            params["ProfileName"] = profile_name or ""
            params["WaId"] = message.from_.removeprefix("whatsapp:+")
        return params

    def post_signed(
        self, url: str, params: dict[str, str], *, signature: str | None = None
    ) -> httpx.Response:
        """POST ``params`` form-encoded to ``url``, signed as Twilio signs (or by ``signature``)."""
        headers = {
            "X-Twilio-Signature": signature or self.signature(url, params),
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        }
        return httpx.post(url, content=urllib.parse.urlencode(params), headers=headers, timeout=30)

    def _webhook(self) -> str:
        if self.webhook_url is None:
            raise RuntimeError("the emulator has no webhook_url")
        return self.webhook_url

    # -- HTTP ----------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        base = "/2010-04-01/Accounts/{account_sid}"
        return [
            Route(f"{base}/Messages.json", self._create, methods=["POST"]),
            Route(f"{base}/Messages.json", self._list, methods=["GET"]),
            Route(f"{base}/Messages/{{message_sid}}.json", self._fetch, methods=["GET"]),
            Route(
                f"{base}/Messages/{{message_sid}}/Media/{{media_sid}}", self._media, methods=["GET"]
            ),
        ]

    def _error(self, status: int, code: int, message: str) -> JSONResponse:
        return JSONResponse(
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
            status_code=status,
            headers={"Retry-After": "1"} if status == 429 else None,
        )

    def _authorized(self, request: Request) -> JSONResponse | None:
        if request.path_params["account_sid"] != self.account_sid:
            return self._error(404, 20404, "The requested resource was not found")
        header = request.headers.get("authorization", "")
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if header != f"Basic {expected}":
            return self._error(401, 20003, "Authenticate")
        return None

    async def _create(self, request: Request) -> Response:
        refused = self._authorized(request)
        if refused is not None:
            return refused
        fields = urllib.parse.parse_qs((await request.body()).decode("utf-8"))
        form = {k: v[0] for k, v in fields.items()}
        with self._lock:
            self.creates += 1
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None:
            kind, seconds = fault
            if kind == "429":
                return self._error(429, 20429, "Too Many Requests")
            if kind in ("500", "503"):
                return self._error(int(kind), 20500, "Internal Server Error")
            if kind == "timeout":
                import anyio

                await anyio.sleep(seconds)
        to = str(form.get("To") or "")
        sender = str(form.get("From") or form.get("MessagingServiceSid") or "")
        body = str(form.get("Body") or "")
        if not to:
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not sender:
            return self._error(400, 21603, "A 'From' phone number is required.")
        if not body and not fields.get("MediaUrl"):
            return self._error(400, 21602, "Message body is required.")
        if to.removeprefix("whatsapp:").startswith("+1500555000"):
            # Twilio's magic test number: "+15005550001" is an invalid To.
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        message = EmulatedMessage(
            sid=_sid("SM"),
            account_sid=self.account_sid,
            to=to,
            from_=sender,
            body=body,
            direction="outbound-api",
            status="queued",
            date_created=datetime.now(UTC),
            status_callback=str(form.get("StatusCallback") or "") or None,
        )
        self.messages[message.sid] = message
        if message.status_callback:
            self._later(self._report, message)
        if fault is not None and fault[0] == "slow":
            import anyio

            await anyio.sleep(fault[1])
        return JSONResponse(message.resource(self.url), status_code=201)

    def _later(self, fn: Callable[[EmulatedMessage], None], message: EmulatedMessage) -> None:
        thread = threading.Thread(target=fn, args=(message,), daemon=True)
        thread.start()

    def _report(self, message: EmulatedMessage) -> None:
        steps = ["sent", "delivered"]
        if message.to.startswith("whatsapp:") and self.read_receipts:
            steps.append("read")
        for status in steps:
            if self.callback_delay:
                time.sleep(self.callback_delay)
            message.status = status
            self.status_callback(message, status)

    def status_callback(self, message: EmulatedMessage, status: str, **extra: str) -> int:
        """POST one signed status callback for ``message``; the receiver's HTTP status."""
        if not message.status_callback:
            return 0
        params = {
            "SmsSid": message.sid,
            "SmsStatus": status,
            "MessageStatus": status,
            "To": message.to,
            "MessageSid": message.sid,
            "AccountSid": self.account_sid,
            "From": message.from_,
            "ApiVersion": "2010-04-01",
            **extra,
        }
        try:
            answer = self.post_signed(message.status_callback, params).status_code
        except httpx.HTTPError:
            answer = 0
        self.callbacks.append((status, answer))
        return answer

    async def _list(self, request: Request) -> Response:
        refused = self._authorized(request)
        if refused is not None:
            return refused
        to = request.query_params.get("To")
        sender = request.query_params.get("From")
        size = min(int(request.query_params.get("PageSize") or 50), 1000)
        found = [
            m.resource(self.url)
            for m in sorted(self.messages.values(), key=lambda m: m.date_created, reverse=True)
            if (to is None or m.to == to) and (sender is None or m.from_ == sender)
        ][:size]
        uri = f"{_API.format(sid=self.account_sid)}/Messages.json?PageSize={size}&Page=0"
        return JSONResponse(
            {
                "messages": found,
                "end": max(0, len(found) - 1),
                "first_page_uri": uri,
                "next_page_uri": None,
                "page": 0,
                "page_size": size,
                "previous_page_uri": None,
                "start": 0,
                "uri": uri,
            }
        )

    async def _fetch(self, request: Request) -> Response:
        refused = self._authorized(request)
        if refused is not None:
            return refused
        message = self.messages.get(request.path_params["message_sid"])
        if message is None:
            return self._error(404, 20404, "The requested resource was not found")
        return JSONResponse(message.resource(self.url))

    async def _media(self, request: Request) -> Response:
        refused = self._authorized(request)
        if refused is not None:
            return refused
        message = self.messages.get(request.path_params["message_sid"])
        item = message.media.get(request.path_params["media_sid"]) if message else None
        if item is None:
            return self._error(404, 20404, "The requested resource was not found")
        content_type, data = item
        return Response(data, media_type=content_type)


def main(argv: list[str] | None = None) -> None:
    """Serve the emulator until interrupted (``chatkit emulate twilio``)."""
    import argparse

    parser = argparse.ArgumentParser(description="Emulate Twilio Programmable Messaging locally.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=TwilioEmulator.default_port)
    parser.add_argument("--account-sid", default=None, help="the account SID (AC + 32 hex)")
    parser.add_argument("--auth-token", default=None, help="the Auth Token (signs webhooks)")
    parser.add_argument(
        "--webhook-url",
        default=None,
        help="the chatkit app's channel URL, e.g. http://127.0.0.1:8000/channels/twilio",
    )
    args = parser.parse_args(argv)
    emulator = TwilioEmulator(
        webhook_url=args.webhook_url, account_sid=args.account_sid, auth_token=args.auth_token
    )
    print(
        f"Twilio emulator on http://{args.host}:{args.port}\n"
        f"  CHATKIT_TWILIO_ACCOUNT_SID={emulator.account_sid}\n"
        f"  CHATKIT_TWILIO_AUTH_TOKEN={emulator.auth_token}  (the emulator's, not a real one)\n"
        f"  CHATKIT_TWILIO_API_BASE_URL=http://{args.host}:{args.port}"
    )
    emulator.serve_forever(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
