"""Turn pydantic's validation errors into chatkit's typed errors, with readable places."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ..errors import InvalidInputError, TemplateError, cut

__all__ = ["brief", "location", "typed_error"]

MAX_MESSAGE = 400
"""Longest message `typed_error` gives; the rest is cut (a message never repeats a whole input)."""


def brief(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut to about ``limit`` characters for an error message."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit]) + "…"
    text = repr(value) if not isinstance(value, list | dict | tuple | set) else type(value).__name__
    return text if len(text) <= limit else text[:limit] + "…"


def _cut(text: str) -> str:
    return cut(text, MAX_MESSAGE)


def location(loc: Sequence[int | str], skip: Collection[str] = ()) -> str:
    """``("then", 0, "priority")`` as ``"then[0].priority"``.

    Args:
        loc: A pydantic error location.
        skip: Names to leave out when they follow a list index (the tags
            pydantic adds for discriminated unions, e.g. ``"webhook"``).
    """
    text = ""
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not (isinstance(previous, int) and part in skip):
            text += f".{part}" if text else part
        previous = part
    return text


def _choices(expected: str) -> str:
    return expected.replace("'", "").replace(" or ", ", ")


def _describe(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind in ("enum", "literal_error") and "expected" in ctx:
        return f"must be one of {_choices(str(ctx['expected']))}"
    if kind == "union_tag_invalid":
        return (
            f"unknown type {brief(ctx.get('tag'))}; expected one of "
            f"{_choices(str(ctx.get('expected_tags', '')))}"
        )
    if kind == "union_tag_not_found":
        return f"needs a {ctx.get('discriminator', 'type')!s} field"
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def typed_error(exc: ValidationError, label: str, skip: Collection[str] = ()) -> InvalidInputError:
    """The first problem of ``exc`` as an `InvalidInputError` (a `TemplateError` for templates).

    The message reads ``"<label> <field>: <problem>"``, e.g. ``"rule
    'late-order' then[0].priority: must be one of low, normal, high,
    urgent"``; the error's ``field`` is the place (``"then[0].priority"``).
    The message is at most `MAX_MESSAGE` characters.
    """
    errors = exc.errors()
    first = errors[0]
    where = location(first["loc"], skip)
    text = f"{label} {where}: {_describe(first)}" if where else f"{label}: {_describe(first)}"
    if len(errors) > 1:
        text = _cut(text[: MAX_MESSAGE - 30])
        text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    text = _cut(text)
    cause = (first.get("ctx") or {}).get("error")
    template = cause.__cause__ if isinstance(cause, BaseException) else None
    if isinstance(template, TemplateError):
        return TemplateError(
            text,
            field=where or None,
            position=template.position,
            line=template.line,
            column=template.column,
        )
    return InvalidInputError(text, field=where or None)
