"""What every service shares: the store, settings, retries and input checks."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, Final, TypeVar

import pydantic

from ..blobs import BlobStore
from ..errors import (
    ConflictError,
    DuplicateIdentityError,
    DuplicateKeyError,
    InvalidInputError,
    StoreError,
    cut,
    quoted,
)
from ..events import Event
from ..events.base import BaseEvent
from ..models._base import Page, Record, utcnow
from ..settings import ChatKitSettings
from ..stores.base import Condition, Gt, Lt, Op, Store, column_value
from ..transports import MemoryTransport, Transport
from .pipeline import MessagePipeline

__all__ = [
    "UNSET",
    "Core",
    "Unset",
    "bump",
    "changed",
    "check_events",
    "check_id",
    "check_language",
    "check_limit",
    "check_names",
    "check_time",
    "checked",
    "choice",
    "short",
    "decode_cursor",
    "encode_cursor",
]

T = TypeVar("T")
M = TypeVar("M", bound=pydantic.BaseModel)
E = TypeVar("E", bound=Enum)
RecordT = TypeVar("RecordT", bound=Record)


class Unset(Enum):
    """Type of `UNSET`: "argument not given", as distinct from ``None``."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET


SHORT: Final = 100
"""How many characters of a user's value an error message shows at most."""


def short(text: object, limit: int = SHORT) -> str:
    """``text`` as a string cut to ``limit`` characters (with an ellipsis when cut).

    Error messages quote user input through this, so a 10 MB value gives a
    short message, not a 10 MB one.
    """
    if isinstance(text, str):
        return cut(text, limit)
    try:
        return cut(str(text), limit)
    except ValueError:  # int -> str conversion limit (sys.set_int_max_str_digits)
        return f"<{type(text).__name__}>"


def checked(model: type[M], **fields: Any) -> M:
    """Build ``model`` from ``fields``, turning pydantic errors into `InvalidInputError`.

    The message names the first error only, with the field path and the
    reason each cut to a readable length (they can quote the input).
    """
    try:
        return model(**fields)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = short(".".join(str(p) for p in first["loc"])) or None
        msg = short(first["msg"], 2 * SHORT)
        raise InvalidInputError(
            f"invalid {model.__name__}: {where + ': ' if where else ''}{msg}", field=where
        ) from exc
    except RecursionError as exc:  # pydantic quoting a value nested too deeply
        raise InvalidInputError(f"invalid {model.__name__}: a value is nested too deeply") from exc


def changed(record: RecordT, **updates: Any) -> RecordT:
    """Copy ``record`` as its next version with ``updates`` validated and applied."""
    data = record.model_dump()
    data.update(updates, version=record.version + 1, updated_at=utcnow())
    return checked(type(record), **data)


def bump(record: RecordT, **updates: Any) -> RecordT:
    """Like `changed` for values chatkit computed itself (no re-validation)."""
    return record.model_copy(
        update={**updates, "version": record.version + 1, "updated_at": utcnow()}
    )


def encode_cursor(key: str) -> str:
    """Turn a sort key into an opaque page cursor."""
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """Inverse of `encode_cursor`.

    Raises:
        InvalidInputError: The cursor was not made by chatkit.
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidInputError("malformed page cursor", field="cursor") from exc


def check_limit(limit: int, maximum: int = 1000) -> int:
    """Validate a page size."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise InvalidInputError(f"limit must be an integer from 1 to {maximum}", field="limit")
    return limit


def check_language(value: object, field: str = "language") -> str:
    """Validate a BCP 47 language tag and return its canonical spelling (``"en-US"``)."""
    from ..automation._language import normalize_language

    if not isinstance(value, str):
        raise InvalidInputError(f"{field} must be a BCP 47 language tag", field=field)
    try:
        return normalize_language(value)
    except ValueError as exc:
        raise InvalidInputError(str(exc), field=field) from exc


def check_names(value: object, field: str) -> list[Any]:
    """Validate a list (or tuple) of names: a lone string is refused, not split."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise InvalidInputError(f"{field} must be a list of names", field=field)
    return list(value)


def choice(kind: type[E], value: object, field: str, what: str) -> E:
    """``value`` as a member of the string enum ``kind``, else `InvalidInputError`.

    Only strings are looked up: the enum's own error would quote (``repr``)
    any value, which fails for a deeply nested or a huge one.
    """
    if isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            pass
    raise InvalidInputError(f"unknown {what} {quoted(value)}", field=field)


def check_time(value: object, field: str = "now") -> datetime:
    """Validate a timezone-aware datetime; ``None`` means now."""
    if value is None:
        return utcnow()
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidInputError(f"{field} must be a timezone-aware datetime", field=field)
    return value


def check_events(value: object) -> list[Event]:
    """Validate a batch of events (what a dispatcher hands its handler)."""
    if not isinstance(value, list | tuple) or not all(isinstance(e, BaseEvent) for e in value):
        raise InvalidInputError("events must be a list of Event", field="events")
    return list(value)


def check_id(value: object, field: str) -> str:
    """Validate that an id argument is a non-empty string."""
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{field} must be a non-empty string id", field=field)
    return value


class Core:
    """Shared state of one kit: the store, settings, change notification.

    Args:
        store: The (possibly unopened) store.
        settings: Behaviour settings.
        blobs: Where attachment bytes go.
        transport: Carries commit signals to other processes.

    Attributes:
        pipeline: What writing a message sets off (screens, steps of its
            commit, reactions after it); starts with every stage chatkit's
            features declare.
    """

    def __init__(
        self,
        store: Store,
        settings: ChatKitSettings,
        blobs: BlobStore,
        transport: Transport | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.blobs = blobs
        self.transport = transport or MemoryTransport()
        self.pipeline = MessagePipeline.standard()
        self._opened = False
        self._open_lock: asyncio.Lock | None = None
        self._changed: asyncio.Event | None = None

    async def ready(self) -> Store:
        """Return the store, opening it on first use."""
        if not self._opened:
            if self._open_lock is None:
                self._open_lock = asyncio.Lock()
            async with self._open_lock:
                if not self._opened:
                    await self.store.open()
                    try:
                        await self.transport.open(lambda _position: self.notify())
                    except BaseException:
                        await self.store.close()
                        raise
                    self._opened = True
        return self.store

    async def close(self) -> None:
        """Close the store if it was opened."""
        if self._opened:
            self._opened = False
            try:
                await self.transport.close()
            finally:
                try:
                    await self.blobs.close()
                finally:
                    await self.store.close()

    async def commit(self, ops: Sequence[Op], events: Sequence[Event] = ()) -> list[int]:
        """Commit through the store and wake local event subscribers."""
        store = await self.ready()
        positions = await store.commit(ops, events)
        if positions:
            self.notify()
            await self.transport.publish(positions[-1])
        return positions

    def notify(self) -> None:
        """Wake every subscriber waiting in `wait_for_events`."""
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def wait_for_events(self, timeout: float) -> None:
        """Return after the next local commit with events, or after ``timeout`` seconds."""
        if self._changed is None:
            self._changed = asyncio.Event()
        changed = self._changed
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)

    async def paged(
        self,
        kind: type[RecordT],
        where: Mapping[str, Condition] | None = None,
        *,
        order_by: str = "id",
        descending: bool = False,
        limit: int,
        cursor: str | None,
    ) -> Page[RecordT]:
        """One page of ``kind`` sorted by a unique key column, continuing after ``cursor``."""
        check_limit(limit)
        store = await self.ready()
        conditions = dict(where or {})
        if cursor is not None:
            key = decode_cursor(cursor)
            conditions[order_by] = Lt(key) if descending else Gt(key)
        items = await store.find(
            kind, conditions, order_by=order_by, descending=descending, limit=limit + 1
        )
        if len(items) <= limit:
            return Page(items=items)
        last = str(column_value(getattr(items[limit - 1], order_by)))
        return Page(items=items[:limit], next_cursor=encode_cursor(last))

    async def retry(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt`` again after it lost a write race, up to the configured limit.

        `DuplicateKeyError` is not retried: the caller decides what it means. Nor is
        `DuplicateIdentityError`: another contact owns the identity, retrying cannot help.
        """
        retries = self.settings.conflict_retries
        for n in range(retries + 1):
            try:
                return await attempt()
            except (DuplicateKeyError, DuplicateIdentityError):
                raise
            except ConflictError:
                if n == retries:
                    raise
                await asyncio.sleep(random.uniform(0, min(0.05, 0.001 * 2**n)))
        raise StoreError("unreachable")  # pragma: no cover
