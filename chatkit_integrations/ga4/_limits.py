"""The Measurement Protocol's documented limits, and a validator that reports like GA4's.

From Google's "Send Measurement Protocol events" guide (Limitations) and
the validation server's reference (``validationMessages`` with
``fieldPath``, ``description`` and ``validationCode``). The emulator answers
``/debug/mp/collect`` with it; the integration checks its own requests with
it before sending.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_EVENTS",
    "MAX_NAME",
    "MAX_PARAMS",
    "MAX_PARAM_VALUE",
    "MAX_USER_PROPERTIES",
    "MAX_USER_PROPERTY_NAME",
    "MAX_USER_PROPERTY_VALUE",
    "NAME",
    "RESERVED_EVENT_NAMES",
    "RESERVED_PREFIXES",
    "RESERVED_USER_PROPERTIES",
    "VALIDATION_CODES",
    "name_problem",
    "validate_body",
]

MAX_EVENTS = 25
"""Events in one request."""
MAX_PARAMS = 25
"""Parameters of one event."""
MAX_USER_PROPERTIES = 25
"""User properties of one request."""
MAX_NAME = 40
"""Characters of an event or parameter name."""
MAX_PARAM_VALUE = 100
"""Characters of a parameter value (standard properties)."""
MAX_USER_PROPERTY_NAME = 24
"""Characters of a user property name."""
MAX_USER_PROPERTY_VALUE = 36
"""Characters of a user property value."""
MAX_BODY_BYTES = 130_000
"""The post body must be smaller than 130 kB."""

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
"""Event and parameter names: a letter first, then letters, digits and underscores."""

RESERVED_PREFIXES = ("_", "google_", "ga_", "firebase_")
"""Prefixes no event, parameter or user property name may have."""

RESERVED_EVENT_NAMES = frozenset(
    {
        "ad_activeview",
        "ad_click",
        "ad_exposure",
        "ad_query",
        "ad_reward",
        "adunit_exposure",
        "app_background",
        "app_clear_data",
        "app_exception",
        "app_remove",
        "app_store_refund",
        "app_store_subscription_cancel",
        "app_store_subscription_convert",
        "app_store_subscription_renew",
        "app_update",
        "app_upgrade",
        "dynamic_link_app_open",
        "dynamic_link_app_update",
        "dynamic_link_first_open",
        "error",
        "first_open",
        "first_visit",
        "in_app_purchase",
        "notification_dismiss",
        "notification_foreground",
        "notification_open",
        "notification_receive",
        "os_update",
        "session_start",
        "session_start_with_rollout",
        "user_engagement",
    }
)
"""Event names GA4 reserves."""

RESERVED_USER_PROPERTIES = frozenset(
    {"first_open_time", "first_visit_time", "last_deep_link_referrer", "user_id"}
)
"""User property names GA4 reserves."""

VALIDATION_CODES = (
    "VALUE_INVALID",
    "VALUE_REQUIRED",
    "NAME_INVALID",
    "NAME_RESERVED",
    "VALUE_OUT_OF_BOUNDS",
    "EXCEEDED_MAX_ENTITIES",
    "NAME_DUPLICATED",
)
"""Every ``validationCode`` the validation server documents."""

_CONSENT_VALUES = ("GRANTED", "DENIED")


def name_problem(name: object, *, limit: int = MAX_NAME) -> str | None:
    """The validation code a name breaks, or ``None`` when it is fine (reserved names aside)."""
    if not isinstance(name, str) or not name:
        return "NAME_INVALID"
    if name.startswith(RESERVED_PREFIXES):
        return "NAME_RESERVED"
    if len(name) > limit or not NAME.match(name):
        return "NAME_INVALID"
    return None


def _message(path: str, description: str, code: str) -> dict[str, str]:
    return {"fieldPath": path, "description": description, "validationCode": code}


def _check_params(index: int, params: object, out: list[dict[str, str]]) -> None:
    where = f"events[{index}].params"
    if not isinstance(params, dict):
        out.append(
            _message(where, f"Event at index: [{index}] has invalid params.", "VALUE_INVALID")
        )
        return
    if len(params) > MAX_PARAMS:
        out.append(
            _message(
                where,
                f"Event at index: [{index}] has {len(params)} params; at most {MAX_PARAMS}.",
                "EXCEEDED_MAX_ENTITIES",
            )
        )
    for key, value in params.items():
        path = f"{where}.{key}"
        code = name_problem(key)
        if code is not None:
            out.append(
                _message(
                    path,
                    f"Event at index: [{index}] has invalid param [{str(key)[:100]}]. "
                    "Names must start with an alphabetic character, hold only letters, "
                    f"digits and underscores, be at most {MAX_NAME} characters, and use no "
                    "reserved prefix.",
                    code,
                )
            )
        if isinstance(value, str) and len(value) > MAX_PARAM_VALUE:
            out.append(
                _message(
                    path,
                    f"Event at index: [{index}] has param [{key}] with a value longer "
                    f"than {MAX_PARAM_VALUE} characters.",
                    "VALUE_OUT_OF_BOUNDS",
                )
            )
        elif not isinstance(value, str | int | float | bool | list | dict) and value is not None:
            out.append(
                _message(path, f"Event at index: [{index}] has an invalid value.", "VALUE_INVALID")
            )


def _check_user_properties(props: object, out: list[dict[str, str]]) -> None:
    if not isinstance(props, dict):
        out.append(
            _message("user_properties", "user_properties must be an object.", "VALUE_INVALID")
        )
        return
    if len(props) > MAX_USER_PROPERTIES:
        out.append(
            _message(
                "user_properties",
                f"{len(props)} user properties; at most {MAX_USER_PROPERTIES}.",
                "EXCEEDED_MAX_ENTITIES",
            )
        )
    for key, prop in props.items():
        path = f"user_properties.{key}"
        code = name_problem(key, limit=MAX_USER_PROPERTY_NAME)
        if code is None and key in RESERVED_USER_PROPERTIES:
            code = "NAME_RESERVED"
        if code is not None:
            out.append(_message(path, f"User property [{str(key)[:100]}] is invalid.", code))
        value = prop.get("value") if isinstance(prop, dict) else None
        if isinstance(value, str) and len(value) > MAX_USER_PROPERTY_VALUE:
            out.append(
                _message(
                    path,
                    f"User property [{key}] has a value longer than "
                    f"{MAX_USER_PROPERTY_VALUE} characters.",
                    "VALUE_OUT_OF_BOUNDS",
                )
            )


def validate_body(
    body: Any, *, size: int = 0, now_micros: int | None = None
) -> list[dict[str, str]]:
    """The ``validationMessages`` GA4's validation server gives for a request body.

    Args:
        body: The parsed JSON body.
        size: Its size in bytes.
        now_micros: The time now, to check ``timestamp_micros`` (up to 72 hours back).
    """
    out: list[dict[str, str]] = []
    if size >= MAX_BODY_BYTES:
        out.append(
            _message(
                "",
                f"The post body must be smaller than {MAX_BODY_BYTES} bytes.",
                "VALUE_OUT_OF_BOUNDS",
            )
        )
    if not isinstance(body, dict):
        return [*out, _message("", "The body must be a JSON object.", "VALUE_INVALID")]
    client_id = body.get("client_id")
    if client_id is None and body.get("app_instance_id") is None:
        out.append(_message("client_id", "client_id is required.", "VALUE_REQUIRED"))
    elif client_id is not None and (not isinstance(client_id, str) or not client_id):
        out.append(_message("client_id", "client_id must be a non-empty string.", "VALUE_INVALID"))
    user_id = body.get("user_id")
    if user_id is not None and (not isinstance(user_id, str) or not user_id or len(user_id) > 256):
        out.append(
            _message("user_id", "user_id must be a string of 1 to 256 characters.", "VALUE_INVALID")
        )
    consent = body.get("consent")
    if consent is not None:
        if not isinstance(consent, dict):
            out.append(_message("consent", "consent must be an object.", "VALUE_INVALID"))
        else:
            for key, value in consent.items():
                if key not in ("ad_user_data", "ad_personalization"):
                    out.append(
                        _message(f"consent.{key}", f"Unknown consent [{key}].", "NAME_INVALID")
                    )
                elif value not in _CONSENT_VALUES:
                    out.append(
                        _message(
                            f"consent.{key}",
                            "Consent values are GRANTED or DENIED.",
                            "VALUE_INVALID",
                        )
                    )
    if "user_properties" in body:
        _check_user_properties(body["user_properties"], out)
    events = body.get("events")
    if not isinstance(events, list) or not events:
        out.append(_message("events", "events is required: at least one event.", "VALUE_REQUIRED"))
        return out
    if len(events) > MAX_EVENTS:
        out.append(
            _message(
                "events",
                f"The request has {len(events)} events; at most {MAX_EVENTS}.",
                "EXCEEDED_MAX_ENTITIES",
            )
        )
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            out.append(_message(f"events[{index}]", "An event must be an object.", "VALUE_INVALID"))
            continue
        name = event.get("name")
        if name is None:
            out.append(
                _message(f"events[{index}].name", "Event name is required.", "VALUE_REQUIRED")
            )
        else:
            code = name_problem(name)
            if code is None and name in RESERVED_EVENT_NAMES:
                code = "NAME_RESERVED"
            if code is not None:
                out.append(
                    _message(
                        "events",
                        f"Event at index: [{index}] has invalid name [{str(name)[:100]}]. "
                        "Names must start with an alphabetic character.",
                        code,
                    )
                )
        if "params" in event:
            _check_params(index, event["params"], out)
        stamp = event.get("timestamp_micros")
        if stamp is not None:
            if isinstance(stamp, str) and stamp.isdigit():
                stamp = int(stamp)
            if not isinstance(stamp, int) or isinstance(stamp, bool):
                out.append(
                    _message(f"events[{index}].timestamp_micros", "Not a number.", "VALUE_INVALID")
                )
            elif now_micros is not None and not (
                now_micros - 72 * 3600 * 1_000_000 <= stamp <= now_micros + 60 * 1_000_000
            ):
                out.append(
                    _message(
                        f"events[{index}].timestamp_micros",
                        "timestamp_micros must be within the last 72 hours.",
                        "VALUE_OUT_OF_BOUNDS",
                    )
                )
    return out
