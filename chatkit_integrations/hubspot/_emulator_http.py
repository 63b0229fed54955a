"""What the HubSpot emulator's routes share: request bodies, object types, errors.

The 400 message of a batch over 100 inputs, the bodies of injected failures
and rate limits, and the helpers that read a request's JSON, its batch
``inputs`` and ``properties``, and name its object types and association pair.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from chatkit._optional import missing

try:
    from starlette.requests import Request
except ImportError as exc:
    raise missing("starlette", "the HubSpot emulator", exc) from exc

from ._records import (
    BATCH_LIMIT,
    DEFAULT_ASSOCIATION_TYPES,
    OBJECT_TYPES,
    SINGULAR,
    TYPE_IDS,
    HubSpotAPIError,
    Record,
    correlation_id,
    error_body,
    validation_error,
)
from ._state import InputError

Handler = Callable[[Request], Awaitable[tuple[int, Record | None]]]

TOO_MANY_INPUTS = (
    "The maximum number of inputs supported in a batch request is 100. "
    "Please reduce the number of items and try again"
)
"""The message of the 400 for a batch over 100 inputs (worded like HubSpot's batch limits)."""

_FAILURE_MESSAGES: dict[int, tuple[str, str]] = {
    401: (
        "Authentication credentials not found. This API supports OAuth 2.0 authentication "
        "and you can find more details at https://developers.hubspot.com/docs/methods/auth/"
        "oauth-overview",
        "INVALID_AUTHENTICATION",
    ),
    403: (
        "This app hasn't been granted all required scopes to make this call.",
        "MISSING_SCOPES",
    ),
    500: ("internal error", "INTERNAL_ERROR"),
    502: ("Bad Gateway", "INTERNAL_ERROR"),
    503: ("Service Unavailable", "INTERNAL_ERROR"),
}
_RATE_MESSAGES = {
    "DAILY": "You have reached your daily limit.",
    "SECONDLY": "You have reached your secondly limit.",
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
}


def rate_limit_body(policy: str) -> Record:
    """HubSpot's 429 body: ``errorType: RATE_LIMIT`` and the ``policyName`` that was hit."""
    return {
        "status": "error",
        "message": _RATE_MESSAGES.get(policy, f"You have reached your {policy.lower()} limit."),
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
        "requestId": secrets.token_hex(16),
    }


_ALIASES = {
    "contact": "contacts",
    "ticket": "tickets",
    "note": "notes",
    **{type_id: name for name, type_id in TYPE_IDS.items()},
}


def _normalise(object_type: str) -> str:
    name = _ALIASES.get(object_type, object_type)
    if name not in OBJECT_TYPES:
        raise HubSpotAPIError(
            400, error_body(f"Unable to infer object type from: {object_type}", "VALIDATION_ERROR")
        )
    return name


def _object_type(request: Request) -> str:
    return _normalise(str(request.path_params["object_type"]))


def _pair(from_type: str, to_type: str) -> tuple[str, str]:
    pair = (_normalise(from_type), _normalise(to_type))
    if pair not in DEFAULT_ASSOCIATION_TYPES:
        raise validation_error(f"No default association between {pair[0]} and {pair[1]}")
    return pair


def _association_label(from_type: str, to_type: str) -> str:
    return f"{SINGULAR[from_type]}_to_{SINGULAR[to_type]}"


async def _json(request: Request) -> Record:
    try:
        body: Any = await request.json()
    except ValueError:
        raise validation_error("Invalid input JSON: the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected an object")
    return body


def _properties(item: Mapping[str, Any]) -> dict[str, Any]:
    properties = item.get("properties") or {}
    if not isinstance(properties, Mapping):
        raise InputError("properties must be an object", "VALIDATION_ERROR")
    return dict(properties)


def _limited(inputs: object) -> list[Record]:
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise validation_error("Invalid input JSON: inputs must be an array of objects")
    if len(inputs) > BATCH_LIMIT:
        raise validation_error(TOO_MANY_INPUTS)
    return [dict(i) for i in inputs]


async def _inputs(request: Request) -> list[Record]:
    return _limited((await _json(request)).get("inputs"))
