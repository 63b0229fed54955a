"""The web app's errors, and how every error becomes an HTTP answer.

Every response for an error has the same JSON body::

    {"error": {"code": "not_found", "message": "...", "request_id": "...", "field": "text"}}

``code`` is stable (a client switches on it), ``message`` is for people,
``request_id`` is also in the ``X-Request-Id`` header and in the server's
log, and ``field`` names the offending input when there is one.
`status_for` maps each `chatkit.errors.ChatKitError` to a status; input
never gets a 5xx.
"""

from __future__ import annotations

import math
import re
from typing import Final

from pydantic import BaseModel

from ..errors import ChatKitError, InvalidInputError

__all__ = [
    "AuthenticationError",
    "ErrorBody",
    "ErrorResponse",
    "OriginNotAllowedError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "error_code",
    "error_body",
    "retry_after",
    "status_for",
]


class AuthenticationError(ChatKitError):
    """No valid credentials: a missing, unknown, expired or revoked token (HTTP 401)."""

    code = "unauthenticated"


class PermissionDeniedError(ChatKitError):
    """The caller is known but may not do this (HTTP 403)."""

    code = "forbidden"


class OriginNotAllowedError(PermissionDeniedError):
    """The request's ``Origin`` is not in the website's allowlist (HTTP 403)."""

    code = "origin_not_allowed"


class PayloadTooLargeError(InvalidInputError):
    """The request body is over the limit (HTTP 413).

    Attributes:
        limit: The limit, in bytes.
    """

    code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is over the limit of {limit} bytes", field="body")
        self.limit = limit


class ErrorBody(BaseModel):
    """What went wrong."""

    code: str
    message: str
    request_id: str
    field: str | None = None


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorBody


# By class name, so errors of modules this one does not import (a plug-in's,
# say) map too; the first name in the MRO wins.
_STATUS: Final[dict[str, int]] = {
    "AuthenticationError": 401,
    "PermissionDeniedError": 403,
    "ContactBlockedError": 403,
    "NotFoundError": 404,
    "PayloadTooLargeError": 413,
    "AttachmentTooLargeError": 413,
    "TooManyAttachmentsError": 413,
    "RateLimitedError": 429,
    "InvalidTransitionError": 409,
    "ConversationClosedError": 409,
    "ConflictError": 409,
    "AlreadyClaimedError": 409,
    "AgentAtCapacityError": 409,
    "AttachmentTypeError": 415,
    "InvalidInputError": 422,
    "MissingDependencyError": 500,
    "ConfigurationError": 500,
    "StoreError": 503,
    "TransportError": 503,
    "RemoteServiceError": 503,
    "IntegrationError": 503,
}

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def status_for(exc: ChatKitError) -> int:
    """The HTTP status of ``exc``: by its class (or the nearest base class named in the table).

    Bad input (`InvalidInputError`) is 422, unknown ids 404, conflicts 409,
    rate limits 429, missing credentials 401, refusals 403; faults of the
    store or a remote service 503; anything else chatkit raises on purpose 400.
    """
    for kind in type(exc).__mro__:
        status = _STATUS.get(kind.__name__)
        if status is not None:
            return status
    return 400


def error_code(exc: BaseException) -> str:
    """The stable code of ``exc``: its ``code`` attribute, else its class name in snake case.

    ``NotFoundError`` is ``not_found``, ``InvalidInputError`` ``invalid_input``.
    """
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code:
        return code
    name = type(exc).__name__.removesuffix("Error") or "error"
    return _CAMEL.sub("_", name).lower()


def retry_after(exc: BaseException) -> int | None:
    """Whole seconds to put in ``Retry-After`` for ``exc``, when it has a ``retry_after``."""
    value = getattr(exc, "retry_after", None)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return max(1, math.ceil(value))
    return None


def error_body(
    code: str, message: str, request_id: str, field: str | None = None
) -> dict[str, dict[str, str]]:
    """The JSON body of an error response."""
    body = {"code": code, "message": message, "request_id": request_id}
    if field:
        body["field"] = field
    return {"error": body}
