"""Read rule files: JSON, and YAML through PyYAML imported on first use."""

from __future__ import annotations

import functools
import importlib
import json
import re
from typing import Any

from .._optional import import_optional
from ..errors import InvalidInputError

__all__ = ["read_json", "read_yaml"]

_FEATURE = "reading YAML"
_BOOL_TAG = "tag:yaml.org,2002:bool"


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def read_json(text: str | bytes) -> object:
    """Parse JSON, refusing duplicate keys in an object.

    Raises:
        InvalidInputError: Malformed JSON, with the line and column.
    """
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"rules JSON is malformed at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            field="rules",
        ) from exc
    except ValueError as exc:  # a duplicate key, or bytes that are not UTF-8
        raise InvalidInputError(f"rules JSON is malformed: {exc}", field="rules") from exc


@functools.cache
def _loader() -> Any:
    """A YAML 1.2-flavoured safe loader class.

    Only ``true``/``false`` are booleans: in PyYAML's YAML 1.1 a key ``on:``
    (every rule has one) or a value ``no`` (Norwegian) would become a
    boolean. Duplicate keys are an error instead of the last one winning.
    """
    yaml = import_optional("yaml", _FEATURE)
    base = yaml.SafeLoader
    resolvers = {
        first: [(tag, regexp) for tag, regexp in entries if tag != _BOOL_TAG]
        for first, entries in base.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self: Any, node: Any, deep: bool = False) -> Any:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # unhashable: the base constructor reports it
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return base.construct_mapping(self, node, deep=deep)

    loader: Any = type(
        "_RulesLoader",
        (base,),
        {"yaml_implicit_resolvers": resolvers, "construct_mapping": construct_mapping},
    )
    loader.add_implicit_resolver(
        _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    return loader


def read_yaml(text: str | bytes) -> object:
    """Parse YAML safely (plain data only; ``true``/``false`` are the only booleans).

    Raises:
        MissingDependencyError: PyYAML is not installed (a `ConfigurationError`
            whose message says ``pip install 'chatkit[yaml]'``).
        InvalidInputError: Malformed YAML, with the line and column.
    """
    loader = _loader()
    yaml = importlib.import_module("yaml")
    try:
        return yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "malformed"
        raise InvalidInputError(
            f"rules YAML is malformed{where}: {problem}", field="rules"
        ) from exc
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"rules YAML is malformed: {exc}", field="rules") from exc
