"""Shared building blocks of the data model: ids, times, records, pages."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, ClassVar, Generic, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

__all__ = [
    "UTCDateTime",
    "Page",
    "Record",
    "SafeJsonObject",
    "SafeText",
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


def _check_json(value: dict[str, JsonValue]) -> dict[str, JsonValue]:
    pending: list[object] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError("data contains invalid unicode (a lone surrogate)") from exc
        elif isinstance(item, dict):
            pending += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            pending += item
    return value


SafeJsonObject = Annotated[dict[str, JsonValue], AfterValidator(_check_json)]
"""A JSON object whose keys and strings all encode to UTF-8 (so every store can keep it)."""


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
