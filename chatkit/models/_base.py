"""Shared building blocks of the data model: ids, times, records, pages."""

from __future__ import annotations

import math
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, ClassVar, Generic, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

__all__ = [
    "JSON_MAX_BYTES",
    "JSON_MAX_DEPTH",
    "JSON_MAX_INT",
    "JSON_MIN_INT",
    "UTCDateTime",
    "Page",
    "Record",
    "SafeJsonObject",
    "SafeText",
    "check_json_limits",
    "new_id",
    "utcnow",
]


def new_id(prefix: str) -> str:
    """Return a fresh id such as ``conv_3f9c...``: a prefix and 128 random bits in hex.

    Args:
        prefix: The kind prefix without the underscore, e.g. ``"conv"``.
    """
    return f"{prefix}_{secrets.token_hex(16)}"


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


_ZERO = timedelta(0)


def _to_utc(value: datetime) -> datetime:
    if value.utcoffset() == _ZERO:
        return value  # already UTC (the common case: values read back from a store)
    return value.astimezone(UTC)


UTCDateTime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, normalised to UTC. Naive datetimes are rejected."""


def _check_text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text contains invalid unicode (a lone surrogate)") from exc
    if "\x00" in value:
        raise ValueError("text contains a NUL character")
    return value


SafeText = Annotated[str, AfterValidator(_check_text)]
"""A string that encodes to UTF-8 and holds no NUL character."""


JSON_MAX_DEPTH = 32
"""Deepest nesting of objects and arrays accepted in a stored JSON value (contact
attributes, message metadata). The top-level object counts as level 1."""

JSON_MAX_BYTES = 64 * 1024
"""Largest stored JSON value accepted, in bytes of compact UTF-8 JSON (64 KiB)."""

JSON_MIN_INT = -(2**63)
"""Smallest integer accepted in a stored JSON value (signed 64-bit)."""

JSON_MAX_INT = 2**63 - 1
"""Largest integer accepted in a stored JSON value (signed 64-bit)."""


def check_json_limits(value: object) -> None:
    """Raise `ValueError` (a short message) when ``value`` breaks a `SafeJsonObject` limit."""
    _check_json(value)  # type: ignore[arg-type]  # walks any object; only JSON passes


def _check_json(value: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """Refuse what a store or a JSON reader could not give back as it went in.

    Walks the value once, without recursion, and stops at the first problem:
    a string that does not encode to UTF-8, an integer outside signed 64 bits,
    a float that is not finite, nesting deeper than `JSON_MAX_DEPTH` or more
    than `JSON_MAX_BYTES` of JSON. Messages are short and never repeat the value.
    """
    pending: list[tuple[object, int]] = [(value, 1)]
    size = 0
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            try:
                size += len(item.encode("utf-8")) + 3  # quotes, and a separator
            except UnicodeEncodeError as exc:
                raise ValueError("data contains invalid unicode (a lone surrogate)") from exc
        elif isinstance(item, bool) or item is None:
            size += 5
        elif isinstance(item, int):
            if not JSON_MIN_INT <= item <= JSON_MAX_INT:
                raise ValueError("data contains an integer outside the signed 64-bit range")
            size += 21
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ValueError("data contains a float that is not finite (NaN or infinity)")
            size += 25
        elif isinstance(item, dict | list):
            if depth > JSON_MAX_DEPTH:
                raise ValueError(f"data is nested deeper than {JSON_MAX_DEPTH} levels")
            size += 2
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending += [(child, depth + 1) for child in children]
        if size > JSON_MAX_BYTES:
            raise ValueError(f"data is larger than {JSON_MAX_BYTES // 1024} KiB of JSON")
    return value


SafeJsonObject = Annotated[dict[str, JsonValue], AfterValidator(_check_json)]
"""A JSON object every store and JSON reader can give back exactly as it went in.

Keys and strings encode to UTF-8; integers fit in signed 64 bits
(`JSON_MIN_INT` .. `JSON_MAX_INT`); floats are finite; objects and arrays nest
at most `JSON_MAX_DEPTH` levels deep; the whole is at most `JSON_MAX_BYTES`
of compact JSON (sizes are counted generously: numbers count as their longest
form). Anything else is refused with a `ValueError` (an `InvalidInputError`
from the services), and nothing is written.
"""


class Record(BaseModel):
    """Base of every stored object.

    Attributes:
        id: Prefixed unique id.
        version: Incremented on every update; used for optimistic concurrency.
        created_at: When the object was created (UTC).
        updated_at: When it last changed (UTC).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    table: ClassVar[str]
    """Name of the store table (or collection) holding this kind."""
    columns: ClassVar[tuple[str, ...]] = ()
    """Fields that stores index and allow in queries (besides ``id``)."""
    unique: ClassVar[tuple[tuple[str, ...], ...]] = ()
    """Groups of columns whose values must be unique together (NULLs never clash)."""
    sort_keys: ClassVar[frozenset[str]] = frozenset()
    """Columns that are never NULL and unique on their own: sorting by one needs no tiebreak."""

    listed: ClassVar[bool] = False
    """Whether records of this kind sit in ordered lists (see `list_entries`)."""

    def list_entries(self) -> tuple[tuple[str, str], ...]:
        """The ordered lists this record sits in, as ``(list name, sort key)`` pairs.

        Stores keep these entries in step with the record, in the same
        transaction as every write of it, and `Store.find_listed` reads one
        list in key order with an index. That answers "the first few of a
        group, in this order" where the group is not a column (an agent's
        teams, say) in time that grows like log n. Keys must be unique
        within a list: end them with the record's id. Only kinds with
        `listed` set are asked.
        """
        return ()

    @classmethod
    def nullable(cls, column: str) -> bool:
        """Whether ``column`` can hold ``None`` (derived columns never do)."""
        field = cls.model_fields.get(column)
        return field is not None and not field.is_required() and field.default is None

    id: str
    version: int = 1
    created_at: UTCDateTime = Field(default_factory=utcnow)
    updated_at: UTCDateTime = Field(default_factory=utcnow)


R = TypeVar("R")


class Page(BaseModel, Generic[R]):
    """One page of a listing.

    Attributes:
        items: The objects on this page.
        next_cursor: Pass as ``cursor=`` to get the next page; ``None`` on the last page.
    """

    model_config = ConfigDict(frozen=True)

    items: list[R]
    next_cursor: str | None = None
