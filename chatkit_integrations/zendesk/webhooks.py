"""Zendesk webhook signatures, computed exactly as Zendesk signs its deliveries.

Zendesk signs each webhook request with the webhook's signing secret:
``base64(HMAC-SHA256(secret, TIMESTAMP + BODY))`` — the timestamp header value
concatenated with the raw body, no separator — and sends the result in
``X-Zendesk-Webhook-Signature`` with the timestamp in
``X-Zendesk-Webhook-Signature-Timestamp`` (developer.zendesk.com,
"Verifying webhook authenticity"). Requests without a body sign the timestamp
alone.

Example:
    ```python
    request = build_signed_webhook({"type": "zen:event-type:ticket.created"}, secret="s3cret")
    httpx.post(url, content=request.body, headers=request.headers)
    ```
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "SignedWebhook",
    "build_signed_webhook",
    "format_timestamp",
    "sign_webhook",
]

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"


def format_timestamp(moment: datetime) -> str:
    """The signature timestamp as Zendesk writes it: ISO 8601 UTC, e.g. ``2026-12-01T03:45:54Z``."""
    if moment.tzinfo is None:
        raise ValueError("the webhook timestamp must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_webhook(body: bytes, *, secret: str, timestamp: str) -> str:
    """The value of ``X-Zendesk-Webhook-Signature`` for ``body`` sent at ``timestamp``.

    Args:
        body: The raw request body (``b""`` when there is none).
        secret: The webhook's signing secret.
        timestamp: The exact value of ``X-Zendesk-Webhook-Signature-Timestamp``.

    Returns:
        ``base64(HMAC-SHA256(secret, timestamp + body))`` as ASCII text.
    """
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class SignedWebhook:
    """A webhook request as Zendesk would send it: raw body and headers.

    Attributes:
        body: The raw JSON body.
        headers: ``Content-Type``, the signature and its timestamp.
    """

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"SignedWebhook(body=<{len(self.body)} bytes>, headers={sorted(self.headers)})"


def build_signed_webhook(
    payload: Mapping[str, object] | bytes,
    *,
    secret: str,
    timestamp: datetime | str | None = None,
) -> SignedWebhook:
    """Build a webhook request signed the way Zendesk signs it.

    Args:
        payload: A JSON object (serialised compactly) or the raw body.
        secret: The webhook's signing secret.
        timestamp: When it is "sent": a datetime, the exact header text, or
            now by default.

    Returns:
        The body and headers to POST to the receiving endpoint.
    """
    body = (
        payload
        if isinstance(payload, bytes)
        else json.dumps(payload, separators=(",", ":")).encode()
    )
    if timestamp is None:
        timestamp = datetime.now(UTC)
    stamp = timestamp if isinstance(timestamp, str) else format_timestamp(timestamp)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign_webhook(body, secret=secret, timestamp=stamp),
        TIMESTAMP_HEADER: stamp,
    }
    return SignedWebhook(body=body, headers=headers)
