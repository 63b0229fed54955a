"""Webhooks in and out: body limits for inbound deliveries, target checks for outbound calls.

Inbound (``kit.sync.handle_webhook`` and every integration's
``verify_webhook``): a body larger than `WebhookSettings.max_body_bytes` is
refused before its signature is even computed, and a JSON body nested deeper
than `MAX_WEBHOOK_DEPTH` is refused before it is parsed; both raise
`WebhookBodyError` (a `WebhookVerificationError`) and apply nothing.

Outbound (automation ``webhook`` actions): the target's host is resolved,
every address it resolves to is checked, and the connection goes to a checked
address. Loopback, private, link-local, shared (CGNAT), multicast, reserved
and unspecified addresses, in IPv4 and IPv6 (IPv4-mapped included), are
refused with `WebhookTargetError` before any connection is made, unless
`WebhookSettings.allowed_networks` lists them or
`WebhookSettings.allow_private_targets` is on. Redirects are followed (at
most `MAX_REDIRECTS`) and each hop is checked the same way.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from itertools import accumulate
from typing import Any

import anyio
import httpcore
import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import WebhookBodyError, WebhookTargetError, WebhookTooLargeError

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "MAX_REDIRECTS",
    "MAX_WEBHOOK_DEPTH",
    "WebhookSettings",
    "check_webhook_body",
    "is_public_address",
    "read_webhook_json",
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
    """Limits on inbound webhook deliveries and on the targets of outbound webhooks.

    Attributes:
        max_body_bytes: Largest inbound webhook body accepted by
            ``kit.sync.handle_webhook``; a larger one raises
            `WebhookTooLargeError` before its signature is checked. Default
            1 MiB.
        allow_private_targets: Let automation webhooks call loopback,
            private, link-local and other non-public addresses (tests, an
            intranet). Off by default.
        allowed_networks: Networks (``"10.20.0.0/16"``, ``"127.0.0.1/32"``,
            ``"fd00::/8"``) automation webhooks may call even though they are
            not public; narrower than ``allow_private_targets``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1, le=1024 * 1024 * 1024)
    allow_private_targets: bool = False
    allowed_networks: tuple[str, ...] = ()

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
