"""Webhooks in and out: body limits for inbound deliveries, target checks for outbound calls.

Inbound (``kit.sync.handle_webhook`` and every integration's
``verify_webhook``): a body larger than `WebhookSettings.max_body_bytes` is
refused before its signature is even computed, and a JSON body nested deeper
than `MAX_WEBHOOK_DEPTH` is refused before it is parsed; both raise
`WebhookBodyError` (a `WebhookVerificationError`) and apply nothing.

Outbound (automation ``webhook`` actions and the deliveries of
`chatkit.services.Webhooks`): the target's host is resolved,
every address it resolves to is checked, and the connection goes to a checked
address. Loopback, private, link-local, shared (CGNAT), multicast, reserved
and unspecified addresses, in IPv4 and IPv6 (IPv4-mapped included), are
refused with `WebhookTargetError` before any connection is made, unless
`WebhookSettings.allowed_networks` lists them or
`WebhookSettings.allow_private_targets` is on. Redirects are followed (at
most `MAX_REDIRECTS`) and each hop is checked the same way.

Signed deliveries (`chatkit.services.Webhooks`) carry a ``Chatkit-Signature``
header, ``t=<unix seconds>,v1=<hex>``, where the hex is HMAC-SHA256 of
``f"{t}.{raw body}"`` under the subscription's secret; during a secret
rotation there are two ``v1`` values, one per secret. `sign_payload` makes
one and `verify_signature` checks one on the receiving side (constant-time,
with a replay window).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from itertools import accumulate
from typing import Any

import anyio
import httpcore
import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import (
    WebhookBodyError,
    WebhookSignatureError,
    WebhookTargetError,
    WebhookTooLargeError,
)

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_TOLERANCE",
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "MAX_REDIRECTS",
    "MAX_WEBHOOK_DEPTH",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookSettings",
    "check_webhook_body",
    "is_public_address",
    "read_webhook_json",
    "sign_payload",
    "verify_signature",
    "webhook_client",
]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""1 MiB: well above what Zendesk and HubSpot send (HubSpot batches at most 100 small events)."""

MAX_WEBHOOK_DEPTH = 64
"""Deepest nesting of JSON arrays and objects an inbound webhook body may have."""

MAX_REDIRECTS = 3
"""How many redirects an outbound webhook call follows, each hop checked."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class WebhookSettings(BaseModel):
    """Inbound webhook limits, outbound targets, and how signed deliveries are retried.

    Attributes:
        max_body_bytes: Largest inbound webhook body accepted by
            ``kit.sync.handle_webhook``; a larger one raises
            `WebhookTooLargeError` before its signature is checked. Default
            1 MiB.
        allow_private_targets: Let outbound webhooks (automation actions and
            `Webhooks` deliveries) call loopback, private, link-local and
            other non-public addresses (tests, an intranet). Off by default.
        allowed_networks: Networks (``"10.20.0.0/16"``, ``"127.0.0.1/32"``,
            ``"fd00::/8"``) outbound webhooks may call even though they are
            not public; narrower than ``allow_private_targets``.
        max_attempts: Attempts per delivery before it is dead-lettered
            (default 8: about 18 hours with the default delays).
        retry_delay: Seconds before the first retry; each next wait is three
            times longer (with +-20% jitter), up to ``max_retry_delay``.
        max_retry_delay: The longest wait between two attempts, also for a
            ``Retry-After`` asking for more (default 12 hours).
        timeout: Seconds one attempt may take in all (connecting, redirects,
            sending, the answer's headers).
        concurrency: Deliveries one dispatcher sends at once.
        per_subscription: Deliveries one dispatcher sends at once to one
            subscription, so a slow endpoint cannot take every slot.
        pause_on_gone: Pause a subscription whose endpoint answers
            ``410 Gone`` (its delivery is dead-lettered either way).
        rotation_grace: Seconds the previous secret keeps signing (a second
            ``v1`` value) after `Webhooks.rotate_secret`.
        log_days: Days delivered and dead deliveries stay in the delivery
            log (with the bodies sent) before `Webhooks.prune` (the worker's
            daily ``prune_webhooks`` job) deletes them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1, le=1024 * 1024 * 1024)
    allow_private_targets: bool = False
    allowed_networks: tuple[str, ...] = ()
    max_attempts: int = Field(default=8, ge=1, le=100)
    retry_delay: float = Field(default=60.0, ge=0.0, le=86_400.0)
    max_retry_delay: float = Field(default=12 * 3600.0, ge=0.0, le=7 * 86_400.0)
    timeout: float = Field(default=10.0, gt=0.0, le=300.0)
    concurrency: int = Field(default=16, ge=1, le=1000)
    per_subscription: int = Field(default=4, ge=1, le=1000)
    pause_on_gone: bool = True
    rotation_grace: float = Field(default=86_400.0, ge=0.0, le=30 * 86_400.0)
    log_days: float = Field(default=30.0, gt=0.0, le=3650.0)

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item[:60]!r} is not a network such as 10.0.0.0/8 or fd00::/8"
                ) from None
        return value

    def networks(self) -> tuple[IPNetwork, ...]:
        """`allowed_networks`, parsed."""
        return tuple(ipaddress.ip_network(item, strict=False) for item in self.allowed_networks)


# -- inbound ---------------------------------------------------------------------------

# A JSON string (or, when unterminated, the rest of the body): always matches from
# a quote, in one linear pass, so scanning a hostile body stays linear.
_STRING = re.compile(rb'"(?:[^"\\]|\\.?)*(?:"|\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def _depth(body: bytes) -> int:
    """The deepest nesting of ``[``/``{`` outside JSON strings (an upper bound when malformed)."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(accumulate(map(_STEP.__getitem__, brackets)))


def check_webhook_body(
    body: bytes,
    *,
    integration: str,
    max_bytes: int | None = DEFAULT_MAX_BODY_BYTES,
    max_depth: int = MAX_WEBHOOK_DEPTH,
) -> None:
    """Refuse a webhook body that is too large, or JSON nested too deeply, before reading it.

    Cheap and linear: call it before checking a signature or parsing.

    Raises:
        WebhookTooLargeError: Longer than ``max_bytes`` (answer 413).
        WebhookBodyError: Not bytes, or nested deeper than ``max_depth``.
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        raise WebhookBodyError(
            f"a webhook body must be bytes, not {type(body).__name__}", integration=integration
        )
    size = len(body)
    if max_bytes is not None and size > max_bytes:
        raise WebhookTooLargeError(
            f"the webhook body is {size} bytes; at most {max_bytes} are accepted",
            integration=integration,
            size=size,
            limit=max_bytes,
        )
    if _depth(bytes(body)) > max_depth:
        raise WebhookBodyError(
            f"the webhook body is nested deeper than {max_depth} levels", integration=integration
        )


def read_webhook_json(
    body: bytes,
    *,
    integration: str,
    max_bytes: int | None = None,
    max_depth: int = MAX_WEBHOOK_DEPTH,
) -> Any:
    """Parse a webhook body as JSON after `check_webhook_body`.

    Raises:
        WebhookTooLargeError: Longer than ``max_bytes``.
        WebhookBodyError: Nested too deeply, or not JSON.
    """
    import json

    check_webhook_body(body, integration=integration, max_bytes=max_bytes, max_depth=max_depth)
    try:
        return json.loads(bytes(body))
    except (ValueError, RecursionError) as exc:
        raise WebhookBodyError(
            f"the webhook body is not JSON ({type(exc).__name__})", integration=integration
        ) from None


# -- outbound --------------------------------------------------------------------------

_SHARED = ipaddress.ip_network("100.64.0.0/10")


def is_public_address(address: IPAddress) -> bool:
    """Whether ``address`` is a public unicast address (IPv4-mapped IPv6 is read as IPv4).

    Loopback, private, link-local, shared (100.64.0.0/10), multicast,
    reserved, unspecified and other non-global addresses are not public, nor
    is an IPv6 address that embeds one (6to4, Teredo).
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public_address(address.ipv4_mapped)
        embedded = address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None and not is_public_address(embedded):
            return False
    elif address in _SHARED:
        return False
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _allowed(address: IPAddress, settings: WebhookSettings) -> bool:
    if settings.allow_private_targets or is_public_address(address):
        return True
    candidates: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    return any(
        candidate in network
        for network in settings.networks()
        for candidate in candidates
        if candidate.version == network.version
    )


async def _resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (a literal resolves to itself, with no lookup)."""
    try:
        return [ipaddress.ip_address(host.strip("[]").split("%", 1)[0])]
    except ValueError:
        pass
    try:
        found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve {host[:100]!r}: {exc}") from None
    addresses: list[IPAddress] = []
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """Resolves each host, checks every address, and connects only to a checked one."""

    def __init__(self, settings: WebhookSettings) -> None:
        self._settings = settings
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await _resolve(host, port)
        refused = [a for a in addresses if not _allowed(a, self._settings)]
        if refused or not addresses:
            shown = ", ".join(str(a) for a in refused[:3]) or "nothing"
            raise WebhookTargetError(
                f"webhook target {host[:100]!r} resolves to {shown}, which is not a public "
                "address; allow it with WebhookSettings.allowed_networks or "
                "allow_private_targets",
                host=host[:100],
            )
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover - never configured
        raise WebhookTargetError("webhooks do not call unix sockets", host=path[:100])

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def webhook_client(settings: WebhookSettings, *, timeout: float = 10.0) -> httpx.AsyncClient:
    """An HTTP client whose every connection, redirects included, goes to a checked address.

    Proxies from the environment (``HTTPS_PROXY``) are not used: a proxy
    would connect for us, past the check.
    """
    transport = httpx.AsyncHTTPTransport()
    pool = transport._pool
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    pool._network_backend = _CheckedBackend(settings)
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
    )


# -- signatures ------------------------------------------------------------------------

SIGNATURE_HEADER = "Chatkit-Signature"
"""``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`` (one ``v1`` per secret)."""

TIMESTAMP_HEADER = "Chatkit-Timestamp"
"""The ``t`` of the signature, alone (informational; the signed one is in the signature)."""

DELIVERY_HEADER = "Chatkit-Delivery"
"""The delivery id (``whd_...``), the same on every attempt: de-duplicate by it."""

EVENT_HEADER = "Chatkit-Event"
"""The event type, e.g. ``message.created`` (``webhook.ping`` for a ping)."""

DEFAULT_TOLERANCE = 300
"""Seconds a signature's timestamp may differ from the receiver's clock (the replay window)."""

_HEX = re.compile(r"[0-9a-f]{64}")
_MAX_SIGNATURE_HEADER = 4096


def _as_bytes(body: bytes | bytearray | memoryview | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def _secrets(secret: str | Sequence[str]) -> list[str]:
    found = [secret] if isinstance(secret, str) else list(secret)
    if not found or not all(isinstance(s, str) and s for s in found):
        raise TypeError("secret must be a non-empty string or a list of them")
    return found


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign_payload(
    secret: str | Sequence[str],
    body: bytes | str,
    *,
    timestamp: int | None = None,
) -> str:
    """The ``Chatkit-Signature`` value for ``body``: ``t=<timestamp>,v1=<hex>[,v1=<hex>]``.

    Args:
        secret: The signing secret, or several (one ``v1`` each, e.g. the new
            and the previous one during a rotation).
        body: The exact bytes sent (a string is encoded as UTF-8).
        timestamp: Unix seconds (default: now).
    """
    when = int(time.time()) if timestamp is None else int(timestamp)
    raw = _as_bytes(body)
    return ",".join([f"t={when}", *(f"v1={_digest(s, when, raw)}" for s in _secrets(secret))])


def _header(headers: str | Mapping[str, str]) -> str | None:
    if isinstance(headers, str):
        return headers
    wanted = SIGNATURE_HEADER.lower()
    for name, value in headers.items():
        if isinstance(name, str) and name.lower() == wanted:
            return str(value)
    return None


def verify_signature(
    secret: str | Sequence[str],
    headers: str | Mapping[str, str],
    body: bytes | str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | datetime | None = None,
) -> int:
    """Check a delivery's ``Chatkit-Signature`` against the raw body; return its timestamp.

    Use the raw body as received, before any JSON parsing. The signature
    holds if any ``v1`` value matches any of the secrets (compared with
    `hmac.compare_digest`) and its timestamp is within ``tolerance`` seconds
    of ``now``, in either direction: a delivery captured and replayed later
    is refused. De-duplicate accepted deliveries by the ``Chatkit-Delivery``
    header: a retry is signed again, with a new timestamp.

    Args:
        secret: The subscription's secret, or several (while rotating).
        headers: The request's headers (any mapping; looked up without regard
            to case), or the ``Chatkit-Signature`` value itself.
        body: The raw request body.
        tolerance: The replay window in seconds (default 300).
        now: The current time (unix seconds or an aware datetime; default: now).

    Returns:
        The signature's timestamp (unix seconds).

    Raises:
        WebhookSignatureError: The header is missing or malformed, the
            timestamp is outside the window, or no signature matches.
    """
    keys = _secrets(secret)
    header = _header(headers)
    if header is None or not header.strip():
        raise WebhookSignatureError(f"no {SIGNATURE_HEADER} header", reason="missing")
    if len(header) > _MAX_SIGNATURE_HEADER:
        raise WebhookSignatureError(
            f"the {SIGNATURE_HEADER} header is too long", reason="malformed"
        )
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, equals, value = part.strip().partition("=")
        if not equals:
            raise WebhookSignatureError(
                f"the {SIGNATURE_HEADER} header is not t=<unix>,v1=<hex>", reason="malformed"
            )
        if name == "t":
            if (
                timestamp is not None
                or not (value.isascii() and value.isdigit())
                or len(value) > 12
            ):
                raise WebhookSignatureError(
                    f"the {SIGNATURE_HEADER} timestamp is not unix seconds", reason="malformed"
                )
            timestamp = int(value)
        elif name == "v1" and _HEX.fullmatch(value):
            signatures.append(value)
        # other schemes (and malformed v1 values) are passed over, as newer senders may add some
    if timestamp is None or not signatures:
        raise WebhookSignatureError(
            f"the {SIGNATURE_HEADER} header needs t=<unix> and at least one v1=<hex>",
            reason="malformed",
        )
    current = (
        time.time() if now is None else now.timestamp() if isinstance(now, datetime) else float(now)
    )
    if abs(current - timestamp) > tolerance:
        raise WebhookSignatureError(
            f"the signature's timestamp is {int(current - timestamp)} s off; at most "
            f"{int(tolerance)} s are accepted",
            reason="expired",
        )
    raw = _as_bytes(body)
    expected = [_digest(key, timestamp, raw) for key in keys]
    matched = False
    for candidate in signatures:
        for digest in expected:
            matched |= hmac.compare_digest(candidate, digest)
    if not matched:
        raise WebhookSignatureError(
            "no signature matches the secret and the body", reason="mismatch"
        )
    return timestamp
