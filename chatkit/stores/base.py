"""The storage contract every backend implements.

A store keeps `Record` objects (contacts, conversations, messages...) and the
event outbox. It knows nothing of the domain: services read with `Store.get`
and `Store.find`, decide, then hand `Store.commit` a list of operations and
events that are applied atomically or not at all.

Concurrency is optimistic: an `Update` carries the new version and the store
applies it only where the stored version is one less, otherwise it raises
`ConflictError` and nothing of that commit is written. Unique keys declared
on the record classes (`Record.unique`) raise `DuplicateKeyError`.

A backend needs nine methods. `chatkit.testing.StoreContract` is the test
suite that proves one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar, TypeAlias, TypeVar

from ..blobs import BlobStore
from ..events import Event
from ..models._base import Record

__all__ = [
    "Condition",
    "Delete",
    "DeleteEvents",
    "Gt",
    "In",
    "Insert",
    "Lt",
    "Op",
    "SetCursor",
    "Store",
    "Update",
    "column_value",
]

R = TypeVar("R", bound=Record)


@dataclass(frozen=True)
class Insert:
    """Insert a new record; its id must not exist yet."""

    record: Record


@dataclass(frozen=True)
class Update:
    """Replace a record whose stored version is ``record.version - 1``."""

    record: Record


@dataclass(frozen=True)
class Delete:
    """Delete a record (no error when it is already gone)."""

    kind: type[Record]
    id: str


@dataclass(frozen=True)
class SetCursor:
    """Save a named consumer's position in the event outbox."""

    consumer: str
    position: int


@dataclass(frozen=True)
class DeleteEvents:
    """Delete every outbox event of a conversation (retention purges only)."""

    conversation_id: str


Op: TypeAlias = Insert | Update | Delete | SetCursor | DeleteEvents
"""One write inside `Store.commit`."""


@dataclass(frozen=True)
class In:
    """Column value is one of ``values``."""

    values: Sequence[Any]


@dataclass(frozen=True)
class Lt:
    """Column value is less than ``value``."""

    value: Any


@dataclass(frozen=True)
class Gt:
    """Column value is greater than ``value``."""

    value: Any


Condition: TypeAlias = In | Lt | Gt | Any
"""A `find` condition: `In`, `Lt`, `Gt`, or a plain value for equality (``None`` is IS NULL)."""


def column_value(value: Any) -> Any:
    """Convert a model value to the scalar a store indexes and compares.

    Datetimes become fixed-width UTC strings (so text order is time order),
    enums their value, booleans integers.
    """
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, bool):
        return int(value)
    return value


class Store(ABC):
    """Abstract store. Subclass it to add a backend.

    Implementations are picked by URL scheme through `chatkit.plugins` (entry
    point group ``chatkit.stores``) and built with `from_url`.

    Example:
        ```python
        store = SQLiteStore.from_url("sqlite:///support.db")
        await store.open()
        conversation = await store.get(Conversation, "conv_...")
        ```
    """

    schemes: ClassVar[tuple[str, ...]] = ()
    """URL schemes this store answers to, e.g. ``("sqlite",)``."""

    @classmethod
    @abstractmethod
    def from_url(cls, url: str) -> Store:
        """Build an unopened store from its URL.

        Raises:
            ConfigurationError: When the URL is not usable by this store.
        """

    @abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema to the current version.

        Raises:
            StoreError: When the backend cannot be reached or upgraded.
            SchemaVersionError: When the data was written by a newer chatkit.
        """

    @abstractmethod
    async def close(self) -> None:
        """Release connections and threads. Idempotent."""

    @abstractmethod
    async def get(self, kind: type[R], id: str) -> R | None:
        """Return the record of type ``kind`` with this id, or ``None``."""

    @abstractmethod
    async def find(
        self,
        kind: type[R],
        where: Mapping[str, Condition] | None = None,
        *,
        order_by: str = "id",
        descending: bool = False,
        limit: int | None = None,
    ) -> list[R]:
        """Return records matching every condition, sorted by one column.

        Args:
            kind: The record class.
            where: Column name (``id`` or one of ``kind.columns``) to condition.
            order_by: Column to sort by; ties are broken by ``id``. ``NULL``
                values sort last in both directions.
            descending: Sort direction.
            limit: Maximum number of records.
        """

    @abstractmethod
    async def commit(self, ops: Sequence[Op], events: Sequence[Event] = ()) -> list[int]:
        """Apply ``ops`` and append ``events`` to the outbox, all or nothing.

        Returns:
            The outbox positions given to ``events``, in order.

        Raises:
            ConflictError: An `Update` found another version, or an `Insert`
                found the id taken. Nothing was written.
            DuplicateKeyError: A unique key would be broken. Nothing was written.
            StoreError: The backend failed. Nothing was written.
        """

    @abstractmethod
    async def read_events(self, after: int = 0, limit: int = 500) -> list[Event]:
        """Return outbox events with position greater than ``after``, oldest first.

        Every returned event has its ``position`` set.
        """

    @abstractmethod
    async def last_position(self) -> int:
        """Return the position of the newest outbox event (0 when there is none)."""

    async def scrub(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Make deleted data unrecoverable from the medium, where the backend can.

        Called after a retention purge. The SQLite store checkpoints and
        truncates its WAL (deleted content is already zeroed with
        ``secure_delete``). The default does nothing.
        """

    def default_blob_store(self) -> BlobStore | None:
        """The blob store a kit on this store uses when none is given (``None``: no default)."""
        return None

    @abstractmethod
    async def get_cursor(self, consumer: str) -> int:
        """Return the saved outbox position of a named consumer (0 if none)."""
