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
fit its kind still fails. The records built are equal, field for field and
type for type, to those ``kind.model_validate_json`` builds (the tests check
this for every kind).

Use these only on rows a store wrote; anything else (imports, requests) goes
through full validation.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter
from pydantic_core import CoreSchema, SchemaValidator

from ..models._base import Record

__all__ = ["load_record", "load_records", "trusted_schema"]

R = TypeVar("R", bound=Record)

_lock = threading.Lock()
_one: dict[type[Record], SchemaValidator] = {}
_many: dict[type[Record], SchemaValidator] = {}


def trusted_schema(schema: CoreSchema) -> tuple[CoreSchema, set[type[BaseModel]]]:
    """``schema`` without its after-validators, and the model classes it builds.

    Each ``function-after`` node is replaced by the schema it wraps (which
    takes over its definition name, if any); every other node (before, wrap
    and plain validators included) is kept.
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
            return {key: strip(value) for key, value in node.items()}
        if isinstance(node, list):
            return [strip(value) for value in node]
        return node

    stripped: CoreSchema = strip(schema)
    return stripped, models


def _build(schema: CoreSchema) -> SchemaValidator:
    """A validator for the trusted form of ``schema``.

    pydantic-core reuses a model class's own (full) validator for every
    ``model`` node whose class is complete, which would bring the stripped
    validators back; the classes are marked incomplete only while this
    validator is built. Were that to stop working, the validator would
    simply be the full one: slower, never different.
    """
    stripped, models = trusted_schema(schema)
    with _lock:
        marked = [m for m in models if m.__dict__.get("__pydantic_complete__")]
        try:
            for model in marked:
                type.__setattr__(model, "__pydantic_complete__", False)
            return SchemaValidator(stripped)
        finally:
            for model in marked:
                type.__setattr__(model, "__pydantic_complete__", True)


def load_record(kind: type[R], data: str | bytes) -> R:
    """The record of ``kind`` a store wrote as ``data`` (its `model_dump_json`)."""
    validator = _one.get(kind)
    if validator is None:
        validator = _one.setdefault(kind, _build(kind.__pydantic_core_schema__))
    record: R = validator.validate_json(data)
    return record


def load_records(kind: type[R], rows: Sequence[Sequence[Any]]) -> list[R]:
    """Records of ``kind`` from rows whose first column is the stored JSON ``data``.

    One call for the whole page, cheaper than one per row.
    """
    if not rows:
        return []
    validator = _many.get(kind)
    if validator is None:
        schema = TypeAdapter(list[kind]).core_schema  # type: ignore[valid-type]
        validator = _many.setdefault(kind, _build(schema))
    records: list[R] = validator.validate_json("[" + ",".join(row[0] for row in rows) + "]")
    return records
