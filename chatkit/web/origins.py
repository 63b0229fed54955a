"""Origin checks: each website's exact allowlist, for HTTP requests and WebSocket handshakes."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from ..models.web import Website, normalize_origin
from .errors import OriginNotAllowedError

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

__all__ = ["check_origin", "origin_allowed", "request_origin", "same_origin"]


def origin_allowed(origin: str, allowed: Collection[str]) -> bool:
    """Whether ``origin`` (as a browser sends it) is in ``allowed`` (canonical origins).

    The comparison is exact on ``scheme://host:port`` after `normalize_origin`:
    no wildcard, no suffix or substring match; ``null`` and malformed
    origins are never allowed.
    """
    try:
        return normalize_origin(origin) in allowed
    except ValueError:
        return False


def request_origin(connection: HTTPConnection) -> str | None:
    """The ``Origin`` header of a request or WebSocket handshake (``None`` when absent)."""
    return connection.headers.get("origin")


def same_origin(connection: HTTPConnection, origin: str) -> bool:
    """Whether ``origin`` is the origin the request was addressed to (its scheme and ``Host``)."""
    host = connection.headers.get("host")
    if not host:
        return False
    scheme = "https" if connection.url.scheme in ("https", "wss") else "http"
    try:
        return normalize_origin(origin) == normalize_origin(f"{scheme}://{host}")
    except ValueError:
        return False


def check_origin(connection: HTTPConnection, website: Website) -> None:
    """Refuse a customer request or WebSocket handshake from an origin ``website`` does not allow.

    A request without an ``Origin`` header (a mobile app, a server) passes:
    browsers always send one on cross-origin requests and WebSocket
    handshakes, and only browsers need this protection. So does a request
    from the app's own origin: that is the chat widget's frame
    (``/widget/frame.html``), which only the website's origins may embed
    (its ``frame-ancestors``). The realtime layer calls this on every
    customer handshake before accepting it.

    Raises:
        OriginNotAllowedError: The origin is present and not in the list (HTTP 403).
    """
    origin = request_origin(connection)
    if origin is not None and not website.allows(origin) and not same_origin(connection, origin):
        raise OriginNotAllowedError(
            "this origin may not call the customer API of this website; "
            "add it to the website's origins"
        )
