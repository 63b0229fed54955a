"""Shared building blocks of the data model: ids, times, records, pages."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timezone
from typing import Annotated, ClassVar, Generic, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "UTCDateTime",
    "Page",
    "Record",
    "SafeText",
    "new_id",
    "utcnow",
]


def new_id(prefix: str) -> str:
    """Return a fresh id such as ``conv_5x3k...``: a prefix and 128 random bits.

    Args:
        prefix: The kind prefix without the underscore, e.g. ``"conv"``.
    """
    raw = base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=").lower()
    return f"{prefix}_{raw}"


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


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
