"""Records from stored rows, without running their validators again.

Every record a store holds was validated when it was written, and its
``data`` column is that record's own `model_dump_json`. Reading it back needs
the JSON parsed into typed values (datetimes, enums, nested models), but not
the Python validators that run *after* a typed value exists: `SafeText`'s
encoding check, `UTCDateTime`'s conversion to UTC, lower-cased e-mails,
de-duplicated lists and cross-field checks are checks and normalisations that
a stored record already passed, and they return a stored value unchanged.
Those are what `load_record` and `load_records` leave out (about 40% of the
cost of reading a page of messages). Validators that run *before* a typed
value exists (they may upgrade an older stored shape) still run, and
pydantic-core still checks every type and constraint, so a row that does not
fit its kind still fails. The records built are equal, field for field, to
those ``kind.model_validate_json`` builds (the tests check this for every
kind), and their lists and dicts are read-only (`FrozenList`, `FrozenDict`),
on every store, whether a record came from the cache or not.

Use these only on rows a store wrote; anything else (imports, requests) goes
through full validation.

`RecordCache` keeps the records decoded from recent rows, keyed by the
stored JSON text itself: the same text always decodes to an equal record, so
a row read again (a conversation's history re-read by an agent's console)
costs a dictionary look-up instead of a decode, and a row whose text changed
(an edit, a new version) is simply a different key. Cached records are
shared between readers, so the records it decodes have read-only lists and
dicts (`FrozenList`, `FrozenDict`, built by the validator itself, JSON values
and defaults included): no reader can change what another one reads. Misses
are still decoded in one ``validate_json`` call per page.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel, TypeAdapter
from pydantic_core import CoreSchema, SchemaValidator

from ..models._base import Record

__all__ = [
    "DEFAULT_RECORD_CACHE_SIZE",
    "FrozenDict",
    "FrozenList",
    "RecordCache",
    "load_record",
    "load_records",
    "trusted_schema",
]

R = TypeVar("R", bound=Record)

_lock = threading.Lock()
_one: dict[tuple[type[Record], bool], SchemaValidator] = {}
_many: dict[tuple[type[Record], bool], SchemaValidator] = {}


def trusted_schema(
    schema: CoreSchema, *, read_only: bool = False
) -> tuple[CoreSchema, set[type[BaseModel]]]:
    """``schema`` without its after-validators, and the model classes it builds.

    Each ``function-after`` node is replaced by the schema it wraps (which
    takes over its definition name, if any); every other node (before, wrap
    and plain validators included) is kept. With ``read_only``, every list
    and dict the schema builds (defaults included) is a `FrozenList` or a
    `FrozenDict` instead.
    """
    models: set[type[BaseModel]] = set()

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            while node.get("type") == "function-after":
                inner = node["schema"]
                if "ref" in node:  # a named definition: the name moves inward
                    if "ref" in inner:
                        break
                    inner = {**inner, "ref": node["ref"]}
                node = inner
            if node.get("type") == "model":
                models.add(node["cls"])
            out = {key: strip(value) for key, value in node.items()}
            return read_only_node(out) if read_only else out
        if isinstance(node, list):
            return [strip(value) for value in node]
        return node

    stripped: CoreSchema = strip(schema)
    return stripped, models


def read_only_node(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` building a `FrozenList` / `FrozenDict` where it builds a list / dict."""
    kind = node.get("type")
    if kind in ("list", "dict", "any"):  # "any": JSON values (JsonValue, Any) as parsed
        freeze = {"list": FrozenList, "dict": FrozenDict, "any": _freeze_json}[kind]
        wrapper: dict[str, Any] = {
            "type": "function-after",
            "function": {"type": "no-info", "function": freeze},
            "schema": node,
        }
        if "ref" in node:  # a named definition: the name moves outward
            wrapper["ref"] = node.pop("ref")
        return wrapper
    if kind == "default":
        default = node.get("default")
        factory = node.get("default_factory")
        if factory is list or (type(default) is list and not default):
            node.pop("default", None)
            node["default_factory"] = FrozenList
        elif factory is dict or (type(default) is dict and not default):
            node.pop("default", None)
            node["default_factory"] = FrozenDict
    return node


def _build(schema: CoreSchema, read_only: bool = False) -> SchemaValidator:
    """A validator for the trusted form of ``schema``.

    pydantic-core reuses a model class's own (full) validator for every
    ``model`` node whose class is complete, which would bring the stripped
    validators back; the classes are marked incomplete only while this
    validator is built. Were that to stop working, the validator would
    simply be the full one: slower, never different.
    """
    stripped, models = trusted_schema(schema, read_only=read_only)
    with _lock:
        marked = [m for m in models if m.__dict__.get("__pydantic_complete__")]
        try:
            for model in marked:
                type.__setattr__(model, "__pydantic_complete__", False)
            return SchemaValidator(stripped)
        finally:
            for model in marked:
                type.__setattr__(model, "__pydantic_complete__", True)


def load_record(kind: type[R], data: str | bytes, cache: RecordCache | None = None) -> R:
    """The record of ``kind`` a store wrote as ``data`` (its `model_dump_json`).

    With a ``cache``, a record decoded from the same text before is returned
    as it is, and a new one is kept for next time.
    """
    if cache is not None and cache.size and isinstance(data, str):
        return cache.load(kind, (data,))[0]
    return _decode(kind, (data,), read_only=True)[0]


def load_records(
    kind: type[R], rows: Sequence[Sequence[Any]], cache: RecordCache | None = None
) -> list[R]:
    """Records of ``kind`` from rows whose first column is the stored JSON ``data``.

    One call for the whole page, cheaper than one per row. With a ``cache``,
    rows decoded before come from it and the others are decoded (still in
    one call) and kept.
    """
    if not rows:
        return []
    if cache is not None and cache.size:
        return cache.load(kind, [row[0] for row in rows])
    return _decode(kind, [row[0] for row in rows], read_only=True)


def _decode(kind: type[R], texts: Sequence[str | bytes], read_only: bool = False) -> list[R]:
    """One ``validate_json`` call for stored JSON ``texts`` of ``kind``.

    With ``read_only``, the records' lists and dicts are read-only.
    """
    key = (kind, read_only)
    if len(texts) == 1:
        validator = _one.get(key)
        if validator is None:
            validator = _one.setdefault(key, _build(kind.__pydantic_core_schema__, read_only))
        return [validator.validate_json(texts[0])]
    validator = _many.get(key)
    if validator is None:
        schema = TypeAdapter(list[kind]).core_schema  # type: ignore[valid-type]
        validator = _many.setdefault(key, _build(schema, read_only))
    joined = ",".join(t if isinstance(t, str) else t.decode() for t in texts)
    records: list[R] = validator.validate_json("[" + joined + "]")
    return records


# -- the cache -------------------------------------------------------------------

DEFAULT_RECORD_CACHE_SIZE = 10_000
"""Records a store's `RecordCache` keeps unless configured otherwise."""

_READ_ONLY = "records are immutable; build a changed one with model_copy(update=...)"


def _read_only(*_: Any, **__: Any) -> NoReturn:
    raise TypeError(_READ_ONLY)


class FrozenList(list[Any]):
    """A list that refuses changes: the lists inside a cached (shared) record.

    It compares, iterates, serialises and validates like a plain list;
    ``list(x)``, `copy.copy` and `copy.deepcopy` give an ordinary, mutable one.
    """

    __slots__ = ()

    append = extend = insert = remove = pop = clear = sort = reverse = _read_only
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(item, memo) for item in self]

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (list(self),))


class FrozenDict(dict[str, Any]):
    """A dict that refuses changes: the dicts inside a cached (shared) record.

    It compares, iterates, serialises and validates like a plain dict;
    ``dict(x)``, `copy.copy` and `copy.deepcopy` give an ordinary, mutable one.
    """

    __slots__ = ()

    clear = pop = popitem = setdefault = update = _read_only
    __setitem__ = __delitem__ = __ior__ = _read_only

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {key: copy.deepcopy(value, memo) for key, value in self.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))


def _freeze_json(value: Any) -> Any:
    """A parsed JSON value with its lists and dicts read-only, all the way down."""
    kind = type(value)
    if kind is list:
        return FrozenList([_freeze_json(item) for item in value])
    if kind is dict:
        return FrozenDict({key: _freeze_json(item) for key, item in value.items()})
    return value


class RecordCache:
    """A bounded, thread-safe cache of records decoded from stored JSON.

    The key is the stored text: identical text decodes to an equal record,
    so a hit is always current (an edited row has other text, hence another
    key). The least recently used records go first once ``size`` is
    reached; ``size=0`` turns the cache off. Records handed out are shared:
    their lists and dicts are read-only (see `FrozenList`).

    Args:
        size: How many records to keep at most.
    """

    def __init__(self, size: int = DEFAULT_RECORD_CACHE_SIZE) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"record cache size must be a whole number >= 0, not {size!r}")
        self.size = size
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, Record] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every record (the counters too)."""
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0

    def load(self, kind: type[R], texts: Sequence[str]) -> list[R]:
        """The records of ``kind`` stored as ``texts``, in order; misses decoded in one call."""
        with self._lock:
            found: list[Any] = list(map(self._entries.get, texts))
            missing = [n for n, record in enumerate(found) if record.__class__ is not kind]
            touch = self._entries.move_to_end
            if missing:
                for record, key in zip(found, texts, strict=True):
                    if record.__class__ is kind:
                        touch(key)
            else:
                for key in texts:
                    touch(key)
            self.hits += len(texts) - len(missing)
            self.misses += len(missing)
        if not missing:
            return found
        decoded = _decode(kind, [texts[n] for n in missing], read_only=True)
        entries = self._entries
        with self._lock:
            for n, record in zip(missing, decoded, strict=True):
                key = texts[n]
                found[n] = entries[key] = record
                entries.move_to_end(key)
            while len(entries) > self.size:
                entries.popitem(last=False)
        return found
