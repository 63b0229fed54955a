"""Read rule files: JSON, and YAML through PyYAML imported on first use."""

from __future__ import annotations

import functools
import importlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .._optional import import_optional
from ..errors import InvalidInputError

__all__ = ["MAX_DOCUMENT_DEPTH", "MAX_DOCUMENT_NODES", "check_document", "read_json", "read_yaml"]

MAX_DOCUMENT_DEPTH = 64
"""Deepest nesting of lists and mappings a rules, flow or survey document may have."""

MAX_DOCUMENT_NODES = 100_000
"""Most values (counting every YAML alias expansion) a rules, flow or survey document may hold."""

MAX_YAML_ALIASES = 100
"""Most YAML aliases (``*name``) one document may use."""

_FEATURE = "reading YAML"
_BOOL_TAG = "tag:yaml.org,2002:bool"


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def check_document(
    data: object,
    what: str,
    *,
    field: str,
    max_depth: int = MAX_DOCUMENT_DEPTH,
    max_nodes: int = MAX_DOCUMENT_NODES,
) -> None:
    """Refuse data nested deeper than ``max_depth`` or holding more than ``max_nodes`` values.

    Walks without recursion and stops at the first limit, so a structure
    built from shared references (a YAML alias bomb) or a cycle is refused
    quickly, without expanding it. Only lists, tuples and mappings are
    walked into. The message is short and never repeats the data.

    Raises:
        InvalidInputError: Too deep or too large.
    """
    pending: list[tuple[object, int]] = [(data, 1)]
    nodes = 0
    while pending:
        item, depth = pending.pop()
        nodes += 1
        if nodes > max_nodes:
            raise InvalidInputError(f"{what} holds more than {max_nodes} values", field=field)
        if isinstance(item, Mapping):
            children: Iterable[object] = (*item.keys(), *item.values())
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > max_depth:
            raise InvalidInputError(f"{what} is nested deeper than {max_depth} levels", field=field)
        pending.extend((child, depth + 1) for child in children)


def document_path(path: object) -> Path:
    """``path`` as a `Path`, refusing what is not a ``str`` or `Path`."""
    if not isinstance(path, str | Path):
        raise InvalidInputError("path must be a str or a Path", field="path")
    return Path(path)


def read_document(path: Path) -> str:
    """The UTF-8 text of ``path``; `OSError` when it cannot be read.

    Raises:
        InvalidInputError: The file is not UTF-8, or the path holds a NUL
            or a lone surrogate.
    """
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path.name}: not UTF-8 text", field="path") from exc
    except ValueError as exc:  # a NUL, or a lone surrogate the file system cannot take
        raise InvalidInputError("path holds a NUL or an invalid character", field="path") from exc


def _check_text(text: object, what: str) -> None:
    if not isinstance(text, str | bytes):
        raise InvalidInputError(f"{what} must be text (str or bytes)", field="rules")


def read_json(text: str | bytes) -> object:
    """Parse JSON, refusing duplicate keys in an object.

    Raises:
        InvalidInputError: Malformed JSON, with the line and column; nesting
            deeper than `MAX_DOCUMENT_DEPTH` or more than `MAX_DOCUMENT_NODES` values.
    """
    _check_text(text, "rules JSON")
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys)
    except RecursionError as exc:  # the C decoder refuses very deep nesting this way
        raise InvalidInputError(
            f"rules JSON is nested deeper than {MAX_DOCUMENT_DEPTH} levels", field="rules"
        ) from exc
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"rules JSON is malformed at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            field="rules",
        ) from exc
    except ValueError as exc:  # a duplicate key, or bytes that are not UTF-8
        raise InvalidInputError(f"rules JSON is malformed: {exc}", field="rules") from exc
    check_document(data, "rules JSON", field="rules")
    return data


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

    def compose_node(self: Any, parent: Any, index: Any) -> Any:
        # The composer recurses once per level: refuse depth before Python's
        # recursion limit, and count aliases (each may share a whole subtree).
        if self.check_event(yaml.events.AliasEvent):
            self._chatkit_aliases = getattr(self, "_chatkit_aliases", 0) + 1
            if self._chatkit_aliases > MAX_YAML_ALIASES:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"more than {MAX_YAML_ALIASES} aliases",
                    self.peek_event().start_mark,
                )
        depth = getattr(self, "_chatkit_depth", 0) + 1
        if depth > MAX_DOCUMENT_DEPTH:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"nested deeper than {MAX_DOCUMENT_DEPTH} levels",
                self.peek_event().start_mark,
            )
        self._chatkit_depth = depth
        try:
            return base.compose_node(self, parent, index)
        finally:
            self._chatkit_depth = depth - 1

    loader: Any = type(
        "_RulesLoader",
        (base,),
        {
            "yaml_implicit_resolvers": resolvers,
            "construct_mapping": construct_mapping,
            "compose_node": compose_node,
        },
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
        InvalidInputError: Malformed YAML, with the line and column; nesting
            deeper than `MAX_DOCUMENT_DEPTH`, more than `MAX_YAML_ALIASES`
            aliases or more than `MAX_DOCUMENT_NODES` values once aliases are expanded.
    """
    _check_text(text, "rules YAML")
    loader = _loader()
    yaml = importlib.import_module("yaml")
    try:
        data = yaml.load(text, Loader=loader)
    except RecursionError as exc:
        raise InvalidInputError(
            f"rules YAML is nested deeper than {MAX_DOCUMENT_DEPTH} levels", field="rules"
        ) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "malformed"
        raise InvalidInputError(
            f"rules YAML is malformed{where}: {problem}", field="rules"
        ) from exc
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"rules YAML is malformed: {exc}", field="rules") from exc
    check_document(data, "rules YAML", field="rules")
    return data
