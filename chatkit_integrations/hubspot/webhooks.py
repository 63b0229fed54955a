"""HubSpot webhook signatures (v3), computed and checked exactly as HubSpot does.

HubSpot signs each webhook request with the app's client secret:
``base64(HMAC-SHA256(client_secret, METHOD + URI + BODY + TIMESTAMP))`` where
``URI`` is the full request URL (scheme, host, path and query) with a few
percent-encoded characters decoded, ``BODY`` is the raw body and
``TIMESTAMP`` the value of ``X-HubSpot-Request-Timestamp`` (epoch
milliseconds). The result goes in ``X-HubSpot-Signature-v3``. Receivers must
refuse timestamps older than five minutes (developers.hubspot.com, "Validating
requests from HubSpot"; the same computation as ``hubspot.utils.signature``
in the official client, checked against its test vectors).

Example:
    ```python
    delivery = build_signed_webhook(events, client_secret="s3cret",
                                    url="https://example.com/hooks/hubspot")
    httpx.post(delivery.url, content=delivery.body, headers=delivery.headers)
    ```
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "MAX_AGE_SECONDS",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "VERSION_HEADER",
    "SignatureError",
    "SignedWebhook",
    "build_signed_webhook",
    "decode_uri",
    "sign_v3",
    "verify_v3",
]

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
VERSION_HEADER = "X-HubSpot-Signature-Version"
MAX_AGE_SECONDS = 300
"""HubSpot's replay window: refuse deliveries signed more than five minutes ago."""

# The percent-encodings HubSpot decodes in the URI before signing.
_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


class SignatureError(ValueError):
    """A delivery's signature is missing, wrong, or outside the replay window."""


def decode_uri(uri: str) -> str:
    """The URI as HubSpot signs it: the listed percent-encodings decoded (either case)."""
    out = []
    i = 0
    while i < len(uri):
        chunk = uri[i : i + 3].upper()
        if chunk in _DECODED:
            out.append(_DECODED[chunk])
            i += 3
        else:
            out.append(uri[i])
            i += 1
    return "".join(out)


def sign_v3(
    body: bytes | str, *, client_secret: str, url: str, timestamp: str, method: str = "POST"
) -> str:
    """The value of ``X-HubSpot-Signature-v3`` for a request.

    Args:
        body: The raw request body.
        client_secret: The app's client secret.
        url: The full URL the request was sent to.
        timestamp: The exact value of ``X-HubSpot-Request-Timestamp``.
        method: The HTTP method.

    Returns:
        ``base64(HMAC-SHA256(client_secret, method + uri + body + timestamp))``.
    """
    raw = body if isinstance(body, bytes) else body.encode("utf-8")
    message = method.upper().encode() + decode_uri(url).encode() + raw + timestamp.encode()
    digest = hmac.new(client_secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_v3(
    headers: Mapping[str, str],
    body: bytes,
    *,
    client_secret: str,
    url: str,
    method: str = "POST",
    now: float | None = None,
    max_age: float = MAX_AGE_SECONDS,
) -> None:
    """Check a delivery's v3 signature (constant-time) and its age.

    Args:
        headers: The request headers; names compared case-insensitively.
        body: The raw body, exactly as received.
        client_secret: The app's client secret.
        url: The public URL HubSpot posts to (as configured in the app).
        method: The HTTP method.
        now: The current time in epoch seconds (default: now).
        max_age: The replay window in seconds.

    Raises:
        SignatureError: Missing headers, a timestamp out of the window, or a
            signature that does not match. The message never holds the secret.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    signature = lowered.get(SIGNATURE_HEADER.lower())
    stamp = lowered.get(TIMESTAMP_HEADER.lower())
    if not signature or not stamp:
        raise SignatureError(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}")
    try:
        sent = int(stamp) / 1000
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not epoch milliseconds") from None
    current = time.time() if now is None else now
    if current - sent > max_age:
        raise SignatureError(f"the delivery is older than {max_age:g} seconds")
    if sent - current > max_age:
        raise SignatureError("the delivery's timestamp is in the future")
    expected = sign_v3(body, client_secret=client_secret, url=url, timestamp=stamp, method=method)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise SignatureError("the signature does not match")


@dataclass(frozen=True)
class SignedWebhook:
    """A webhook request as HubSpot would send it.

    Attributes:
        url: Where it goes.
        body: The raw JSON body (an array of events).
        headers: HubSpot's headers, with the v3 signature and its timestamp.
    """

    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"SignedWebhook(url={self.url!r}, body=<{len(self.body)} bytes>)"


def build_signed_webhook(
    events: Sequence[Mapping[str, object]] | bytes,
    *,
    client_secret: str,
    url: str,
    timestamp: datetime | int | str | None = None,
) -> SignedWebhook:
    """Build a webhook delivery signed the way HubSpot signs it.

    Args:
        events: The event objects (serialised compactly) or the raw body.
        client_secret: The app's client secret.
        url: The receiving URL.
        timestamp: When it is "sent": a datetime, epoch milliseconds, the
            exact header text, or now by default.
    """
    body = events if isinstance(events, bytes) else json.dumps(list(events)).encode()
    if timestamp is None:
        stamp = str(int(time.time() * 1000))
    elif isinstance(timestamp, datetime):
        stamp = str(int(timestamp.timestamp() * 1000))
    else:
        stamp = str(timestamp)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: "
        "webhooks-nio-http-client) - WebhooksExecutorDaemon-executor",
        "X-HubSpot-Request-Timestamp": stamp,
        SIGNATURE_HEADER: sign_v3(body, client_secret=client_secret, url=url, timestamp=stamp),
        VERSION_HEADER: "v3",
        "X-HubSpot-Timeout-Millis": "10000",
    }
    return SignedWebhook(url=url, body=body, headers=headers)
