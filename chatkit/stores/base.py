"""The storage contract every backend implements.

A store keeps `Record` objects (contacts, conversations, messages...) and the
event outbox. It knows nothing of the domain: services read with `Store.get`
and `Store.find`, decide, then hand `Store.commit` a list of operations and
events that are applied atomically or not at all.

Concurrency is optimistic: an `Update` carries the new version and the store
applies it only where the stored version is one less, otherwise it raises
`ConflictError` and nothing of that commit is written. Unique keys declared
on the record classes (`Record.unique`) raise `DuplicateKeyError`.

A backend needs thirteen methods; `Store.find_listed`, `Store.count` and
`Store.search_text` have slow but correct defaults that a backend overrides
with indexed queries.
`chatkit.testing.StoreContract` is the test suite that proves one.
"""

from __future__ import annotations

import math
import re
import unicodedata
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
    "DispatchStatus",
    "DeleteEvents",
    "Gt",
    "In",
    "Insert",
    "Lease",
    "Lt",
    "Op",
    "SearchTerm",
    "SetCursor",
    "Store",
    "Update",
    "column_value",
    "fold_text",
    "gcra_step",
    "text_index_of",
    "text_relevance",
    "text_terms",
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


@dataclass(frozen=True)
class Lease:
    """A range of outbox events handed to one dispatcher of a group.

    Until `expires_at` (seconds since the epoch, by the store's clock) no
    other dispatcher of the group gets these events. The holder finishes the
    lease when it has handled them (`Store.lease_events` with ``done=``),
    releases it when it could not (`Store.release_lease`), or renews it
    (`Store.renew_lease`); a lease that simply expires, because its holder
    died, goes to the next dispatcher that asks.
    """

    group: str
    owner: str
    first: int
    """Position of the first event of the range (its key within the group)."""
    last: int
    """Position of the last event of the range."""
    expires_at: float
    attempts: int
    """How many times the range was handed out, this time included."""
    events: list[Event]
    """The events of the range still in the outbox, oldest first."""


@dataclass(frozen=True)
class DispatchStatus:
    """Where a dispatch group stands."""

    group: str
    claimed_upto: int
    """Last position handed out to a dispatcher (0 when nothing was)."""
    done_upto: int
    """Every event at or before this position has been handled."""
    in_flight: int
    """Leased ranges not finished yet (held, expired or waiting to be retried)."""
    expired: int
    """Of those, ranges whose lease ran out and that any dispatcher may take."""


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


# -- full-text search terms ----------------------------------------------------

_WORD = re.compile(r"[^\W_]+")
_MAX_WORDS = 32


@dataclass(frozen=True)
class SearchTerm:
    """One term of a full-text query (see `text_terms`).

    Attributes:
        text: Lower-case letters and digits only (safe to quote in any
            query language).
        prefix: Whether it matches every word that starts with it.
    """

    text: str
    prefix: bool


def gcra_step(
    tat: float | None, *, now: float, increment: float, tolerance: float
) -> tuple[bool, float]:
    """One GCRA decision: whether a request is allowed, and the TAT after it.

    ``tat`` is the stored theoretical arrival time (``None`` for none);
    the request is allowed when ``max(tat, now) + increment - now <=
    tolerance``. Every rate-limit backend applies exactly this rule.
    """
    start = now if tat is None or tat < now else tat
    new = start + increment
    if new - now <= tolerance:
        return True, new
    return False, start


def fold_text(text: str) -> str:
    """Lower-case ``text`` and fold diacritics away (``"Sipariş"`` → ``"siparis"``).

    NFKD decomposition without combining marks, and Turkish dotless ``ı``
    read as ``i``, so a search typed without the accents finds the word.
    """
    lowered = text.replace("\u0130", "i").lower().replace("\u0131", "i")
    decomposed = unicodedata.normalize("NFKD", lowered)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped)  # Hangul syllables back together


def text_index_of(kind: type[Record]) -> tuple[str, tuple[tuple[str, float], ...]]:
    """The text index of ``kind``: its name and its ``(field, weight)`` pairs.

    Raises:
        TypeError: ``kind`` declares no ``text_index`` and ``text_fields``.
    """
    index = getattr(kind, "text_index", None)
    fields = getattr(kind, "text_fields", None)
    if not isinstance(index, str) or not fields:
        raise TypeError(
            f"{kind.__name__} has no full-text index: only kinds that declare "
            "text_index and text_fields (such as Article) can be searched by text"
        )
    return index, tuple((str(name), float(weight)) for name, weight in fields)


def _hangul(word: str) -> bool:
    return any("\uac00" <= c <= "\ud7a3" for c in word)


def text_terms(query: str) -> list[SearchTerm]:
    """The terms a full-text search looks for, built from user text.

    Every word (a run of letters or digits; punctuation, operators, quotes
    and emoji are dropped, so no query syntax gets through) is looked for as
    written in lower case and folded (`fold_text`). Words of four or more
    letters also match as a prefix (``order`` finds ``orders``), Korean
    words of two or more syllables too. Suffixed words also look for their
    likely stem, so languages that attach suffixes find the base word: a
    Korean word without its last syllable (``배송이`` → ``배송*``), a
    longer word without its last three letters (``siparişim`` →
    ``sipari*``). At most 32 distinct words are used.

    Returns:
        Distinct terms, in query order; empty when the text has no word.
    """
    terms: dict[str, SearchTerm] = {}

    def add(text: str, prefix: bool) -> None:
        known = terms.get(text)
        if known is None or (prefix and not known.prefix):
            terms[text] = SearchTerm(text, prefix)

    words = dict.fromkeys(_WORD.findall(query.replace("\u0130", "i").lower()))
    for word in list(words)[:_MAX_WORDS]:
        for form in dict.fromkeys((word, fold_text(word))):
            if not _WORD.fullmatch(form):
                continue
            size = len(form)
            if _hangul(form):
                add(form, size >= 2)
                if size >= 3:
                    add(form[:-1], True)
                if size >= 4:
                    add(form[:2], True)
            else:
                add(form, size >= 4)
                if size >= 6:
                    add(form[: max(4, size - 3)], True)
    return list(terms.values())


def text_relevance(
    fields: Sequence[tuple[str, float]], record: Record, terms: Sequence[SearchTerm]
) -> float:
    """Token-overlap relevance of ``record`` for ``terms``, 0 to 1 (0 when nothing matches).

    The same on every store, so a threshold on it means the same everywhere
    (the stores' own ranks, BM25 or ``ts_rank``, only order one search).
    """
    raw = 0.0
    for name, weight in fields:
        value = getattr(record, name, "")
        text = " ".join(value) if isinstance(value, (list, tuple)) else str(value or "")
        words = _WORD.findall(fold_text(text))
        if not words:
            continue
        norm = 1.0 + math.log(len(words))  # a hit in a short field counts more
        for term in terms:
            if term.prefix:
                hits = sum(1 for w in words if w.startswith(term.text))
            else:
                hits = words.count(term.text)
            if hits:
                raw += weight * hits / (hits + 1.0) / norm
    return raw / (raw + 1.0)


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

    async def find_listed(
        self, kind: type[R], list_name: str, *, after: str | None = None, limit: int = 100
    ) -> list[R]:
        """Return records of ``kind`` in one of their ordered lists, in key order.

        See `Record.list_entries`. The SQL stores keep the entries in an
        indexed table, so a page costs time that grows like log n. This
        default, for stores that keep no such table, sorts every record of
        ``kind`` in memory.

        Args:
            kind: The record class (one with `Record.listed` set).
            list_name: The list, e.g. ``"load:billing"``.
            after: Only entries whose key is greater (the key of the last
                record of the previous page).
            limit: Maximum number of records.
        """
        entries: list[tuple[str, R]] = []
        for record in await self.find(kind):
            for name, key in record.list_entries():
                if name == list_name and (after is None or key > after):
                    entries.append((key, record))
        entries.sort(key=lambda entry: entry[0])
        return [record for _, record in entries[:limit]]

    async def count(self, kind: type[R], where: Mapping[str, Condition] | None = None) -> int:
        """Return how many records match every condition (see `find` for ``where``).

        The default reads them; the SQL stores count in the database.
        """
        return len(await self.find(kind, where))

    async def search_text(
        self,
        kind: type[R],
        query: str,
        *,
        where: Mapping[str, Condition] | None = None,
        limit: int = 10,
    ) -> list[tuple[R, float]]:
        """Full-text search over a kind that has a text index, best match first.

        Only kinds that declare ``text_index`` (the name of their index) and
        ``text_fields`` (indexed fields and their weights, e.g. title 10,
        body 1, tags 3) support it, such as `chatkit.models.Article`. The
        query is user text: it is split into `text_terms`, any one of which
        may match, so nothing in it is read as query syntax.

        This default, for stores without a text index, ranks every record
        matching ``where`` in memory by weighted token overlap. The SQLite
        store ranks with FTS5's BM25 and the PostgreSQL store with
        ``ts_rank`` over a weighted ``tsvector``, both with an index.

        Args:
            kind: The record class.
            query: What the user typed.
            where: Conditions on the record, as in `find`.
            limit: Maximum number of results.

        Returns:
            ``(record, score)`` pairs, highest score first (ties by id). The
            score is above 0 and below 1; it orders the results of one search
            and is not comparable across stores.

        Raises:
            TypeError: ``kind`` has no text index.
            ValueError: A column of ``where`` is not queryable.
        """
        _, fields = text_index_of(kind)
        terms = text_terms(query)
        if not terms or limit < 1:
            return []
        scored = [(r, text_relevance(fields, r, terms)) for r in await self.find(kind, where)]
        hits = [(r, score) for r, score in scored if score > 0]
        hits.sort(key=lambda hit: (-hit[1], hit[0].id))
        return hits[:limit]

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

    # -- dispatch groups (several processes sharing the outbox work) -----------

    @abstractmethod
    async def lease_events(
        self,
        group: str,
        owner: str,
        *,
        limit: int,
        lease_seconds: float,
        done: Lease | None = None,
        start: int = 0,
    ) -> tuple[bool, Lease | None]:
        """Finish ``done`` and lease the next range of events to ``owner``, in one transaction.

        The range is the oldest one whose lease expired (a dispatcher died
        or released it) or, when there is none, the next at most ``limit``
        events after the group's last handed-out position. A group that does
        not exist yet is created, starting after position ``start``. With
        ``limit=0`` only ``done`` is finished.

        Returns:
            Whether ``done`` was finished (``False`` when it was not given or
            ``owner`` no longer held it), and the new lease or ``None`` when
            there is nothing to hand out.
        """

    @abstractmethod
    async def renew_lease(self, lease: Lease, lease_seconds: float) -> Lease | None:
        """Extend a lease ``owner`` still holds to ``lease_seconds`` from now (``None``: lost)."""

    @abstractmethod
    async def release_lease(self, lease: Lease, retry_after: float) -> bool:
        """Give a held lease back unfinished; any dispatcher may take it after ``retry_after`` s.

        Returns:
            ``False`` when the lease was no longer held by its owner.
        """

    @abstractmethod
    async def dispatch_status(self, group: str) -> DispatchStatus:
        """Progress of a dispatch group (all zero for a group that never ran)."""

    # -- rate limits -----------------------------------------------------------
    # One GCRA cell per key (see `chatkit.ratelimit`): the key's "theoretical
    # arrival time" (TAT), in seconds since the epoch. Optional: a store that
    # does not override these cannot back a `chatkit.ratelimit.StoreBackend`.

    async def rate_hit(
        self, key: str, *, now: float, increment: float, tolerance: float
    ) -> tuple[bool, float]:
        """Count a request against a GCRA cell, atomically with respect to every process.

        With ``tat`` the stored time (or ``now`` when missing or past), the
        request is allowed when ``tat + increment - now <= tolerance``; then
        ``tat + increment`` is stored. A refused request changes nothing.

        Returns:
            Whether it was allowed, and the cell's TAT after the call.
        """
        raise NotImplementedError(f"{type(self).__name__} does not keep rate limits")

    async def rate_peek(self, key: str) -> float | None:
        """The stored TAT of a cell (``None`` when there is none)."""
        raise NotImplementedError(f"{type(self).__name__} does not keep rate limits")

    async def rate_purge(self, before: float) -> int:
        """Delete cells whose TAT is before ``before`` (they count as empty); return how many."""
        raise NotImplementedError(f"{type(self).__name__} does not keep rate limits")

    async def rate_reset(self, key: str) -> None:
        """Delete a cell: its key starts afresh."""
        raise NotImplementedError(f"{type(self).__name__} does not keep rate limits")
