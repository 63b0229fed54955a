"""Reply templates: safe text with a few named blanks.

A template is text with variables in double braces. A variable may declare
a fallback after a ``|``, used when the value is missing::

    Hi {{ contact.first_name | there }}, order {{ order.number }} left today.
    -- {{ agent.name | "the support team" }}

Syntax:
    - ``{{ name }}``: a dotted name (letters, digits and ``_``, each part
      starting with a letter), whose first part is an allowed root
      (`DEFAULT_ROOTS`: ``agent``, ``company``, ``contact``,
      ``conversation``, ``message``, ``order``, ``team``, ``ticket``).
      Spaces inside the braces do not matter.
    - ``{{ name | fallback }}``: the text after the first ``|``, trimmed, is
      used when the value is missing. Quote it (``| "dear customer"``) to
      keep spaces at its ends; ``{{ name | }}`` means "blank when missing".
      A fallback is plain text: it cannot contain braces.
    - ``{{ name | raw }}`` or ``{{ name | fallback | raw }}``: in an HTML
      template (`Template.render_html`), insert the value as it is instead of
      escaping it. Only for values you trust to be markup; in plain text it
      changes nothing. A last ``| raw`` is always this filter: write
      ``| "raw"`` for a fallback that is the word raw.
    - Single braces are ordinary text (``{`` and ``}``); ``{{`` and ``}}``
      are reserved and cannot be written literally, so a rendered text
      holds ``{{`` or ``}}`` only when a value brought them.

Rules:
    - Templates are parsed once (`Template.parse`); unknown roots, malformed
      names, a ``{{`` that is never closed, a ``}}`` that was never opened
      and a ``{{`` inside a variable raise `TemplateError` naming the line
      and column. Parse canned responses when you load them, not when a
      customer is waiting.
    - A value is missing when its key is absent, ``None`` or a blank
      string. A missing value without a fallback raises `TemplateError`
      on `Template.render`: a reply with a raw ``{{...}}`` or a gap is
      never produced.
    - Values are inserted literally and never parsed again: a customer
      called ``{{agent.secret}}`` is greeted as exactly that.
    - HTML is rendered with `Template.render_html`: every value is escaped
      (``<``, ``>``, ``&``, ``"`` and ``'``), so a contact named
      ``<img src=x onerror=alert(1)>`` shows as that text and never becomes
      markup. Only ``| raw`` inserts a value unescaped. Fallbacks and the
      template's own text are the author's markup and are kept as written.
    - Only plain data is reachable: the context is nested mappings whose
      leaves are strings, numbers or booleans (``true``/``false``). No
      attribute of a Python object is ever read, and passing one (a
      pydantic model, a datetime) raises `TemplateError`: dump it first
      (``contact.model_dump(mode="json")``).

Example:
    ```python
    reply = Template.parse("Hi {{ contact.first_name | there }}, about order {{ order.number }}")
    reply.variables   # ("contact.first_name", "order.number")
    reply.render({"contact": {"first_name": "Ada"}, "order": {"number": "A-17"}})
    # 'Hi Ada, about order A-17'
    ```
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import GetCoreSchemaHandler, ValidationInfo
from pydantic_core import CoreSchema, core_schema

from ..errors import TemplateError

__all__ = ["DEFAULT_ROOTS", "Template"]

DEFAULT_ROOTS: frozenset[str] = frozenset(
    {"agent", "company", "contact", "conversation", "message", "order", "team", "ticket"}
)
"""The first parts of variable names a template may use unless told otherwise.

Pass ``roots=`` to `Template.parse` (or ``context={"template_roots": ...}`` to a
model's ``model_validate``) to allow others.
"""

_BRACES = re.compile(r"\{\{|\}\}")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*\Z")


@dataclass(frozen=True)
class _Variable:
    name: str
    path: tuple[str, ...]
    fallback: str | None
    raw: bool = False


def _place(text: str, position: int) -> tuple[int, int]:
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return line, column


def _parse_error(text: str, position: int, problem: str) -> TemplateError:
    line, column = _place(text, position)
    return TemplateError(
        f"template line {line}, column {column}: {problem}",
        position=position,
        line=line,
        column=column,
    )


class Template:
    """A parsed reply template; render it as often as you like.

    Build one with `Template.parse`. Templates compare equal when their
    text is the same, and pydantic fields typed `Template` accept the text
    (parsing it during validation) and serialise back to it.

    Attributes:
        source: The template text as written.
        variables: The dotted names it uses, in order of first use.
        required: The names used at least once without a fallback.
    """

    __slots__ = ("_parts", "required", "source", "variables")

    source: str
    variables: tuple[str, ...]
    required: tuple[str, ...]
    _parts: tuple[str | _Variable, ...]

    def __init__(self, source: str, parts: Sequence[str | _Variable]) -> None:
        """Use `Template.parse`; this constructor trusts ``parts``."""
        self.source = source
        self._parts = tuple(parts)
        names = [p.name for p in self._parts if isinstance(p, _Variable)]
        self.variables = tuple(dict.fromkeys(names))
        needed = {p.name for p in self._parts if isinstance(p, _Variable) and p.fallback is None}
        self.required = tuple(n for n in self.variables if n in needed)

    @classmethod
    def parse(cls, text: str, *, roots: Iterable[str] = DEFAULT_ROOTS) -> Template:
        """Parse ``text`` once, checking every variable.

        Args:
            text: The template.
            roots: The allowed first parts of variable names.

        Raises:
            TemplateError: Unbalanced braces, a malformed name, a root that
                is not allowed; ``position``, ``line`` and ``column`` say where.
        """
        if not isinstance(text, str):
            raise TemplateError(f"a template must be text, not {type(text).__name__}")
        allowed = frozenset(roots)
        parts: list[str | _Variable] = []
        start = 0
        while (found := _BRACES.search(text, start)) is not None:
            opening = found.start()
            if found.group() == "}}":
                raise _parse_error(text, opening, "'}}' without an opening '{{'")
            if opening > start:
                parts.append(text[start:opening])
            closing = text.find("}}", opening + 2)
            if closing < 0:
                raise _parse_error(text, opening, "'{{' is never closed with '}}'")
            nested = text.find("{{", opening + 2, closing)
            if nested >= 0:
                raise _parse_error(text, nested, "'{{' inside a variable; close the first one")
            parts.append(cls._variable(text, opening + 2, closing, allowed))
            start = closing + 2
        if start < len(text):
            parts.append(text[start:])
        return cls(text, parts)

    @staticmethod
    def _variable(text: str, begin: int, end: int, allowed: frozenset[str]) -> _Variable:
        inner = text[begin:end]
        name_part, bar, rest = inner.partition("|")
        name = name_part.strip()
        at = begin + (len(name_part) - len(name_part.lstrip()))
        if not name:
            raise _parse_error(text, at, "empty variable; write a name such as contact.first_name")
        if not _NAME.match(name):
            raise _parse_error(
                text,
                at,
                f"{name!r} is not a variable name (letters, digits and '_' in dotted "
                "parts, e.g. contact.first_name)",
            )
        root = name.split(".", 1)[0]
        if root not in allowed:
            raise _parse_error(
                text,
                at,
                f"unknown variable {name!r}; names start with {', '.join(sorted(allowed))}",
            )
        fallback: str | None = None
        raw = False
        if bar:
            head, filter_bar, last = rest.rpartition("|")
            if last.strip() == "raw":
                raw = True
                rest = head
                bar = filter_bar
        if bar:
            if "{" in rest or "}" in rest:
                at = (
                    begin
                    + len(name_part)
                    + 1
                    + min(i for i in (rest.find("{"), rest.find("}")) if i >= 0)
                )
                raise _parse_error(text, at, "a fallback cannot contain braces")
            fallback = rest.strip()
            if len(fallback) >= 2 and fallback[0] == fallback[-1] == '"':
                fallback = fallback[1:-1]
        return _Variable(name, tuple(name.split(".")), fallback, raw)

    def render(self, context: Mapping[str, object]) -> str:
        """Fill in the variables from ``context``, as plain text.

        Values are inserted as they are; use `render_html` for an HTML body.

        Args:
            context: Nested mappings of plain values, e.g.
                ``{"contact": {"first_name": "Ada"}, "order": {"number": "A-17"}}``.

        Raises:
            TemplateError: A variable without fallback is missing (``variable``
                names it), or the context holds something other than plain data.
        """
        return self._render(context, escape=False)

    def render_html(self, context: Mapping[str, object]) -> str:
        """Fill in the variables from ``context`` into HTML, escaping every value.

        Each value has ``&``, ``<``, ``>``, ``"`` and ``'`` replaced by
        character references, so it can only ever be text (in element
        content and in quoted attribute values). A variable written
        ``{{ name | raw }}`` is inserted unescaped. Fallbacks and the
        template's own text are kept as written.

        Raises:
            TemplateError: As `render`.
        """
        return self._render(context, escape=True)

    def _render(self, context: Mapping[str, object], *, escape: bool) -> str:
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = _lookup(context, part)
            if value is not None:
                out.append(html.escape(value, quote=True) if escape and not part.raw else value)
            elif part.fallback is not None:
                out.append(part.fallback)
            else:
                raise TemplateError(
                    f"template needs {part.name!r} and the context has no value for it "
                    f"(give one, or declare a fallback: {{{{ {part.name} | ... }}}})",
                    variable=part.name,
                )
        return "".join(out)

    def missing(self, context: Mapping[str, object]) -> list[str]:
        """The required variables that ``context`` has no value for (empty: `render` works).

        Raises:
            TemplateError: The context holds something other than plain data.
        """
        return [
            p.name
            for p in self._parts
            if isinstance(p, _Variable) and p.fallback is None and _lookup(context, p) is None
        ]

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"Template({self.source!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Template):
            return NotImplemented
        return self.source == other.source and self._parts == other._parts

    def __hash__(self) -> int:
        return hash(self.source)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.with_info_plain_validator_function(
            _coerce,
            json_schema_input_schema=core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, return_schema=core_schema.str_schema()
            ),
        )


def _coerce(value: object, info: ValidationInfo) -> Template:
    if isinstance(value, Template):
        return value
    if not isinstance(value, str):
        raise ValueError("must be template text")
    context = info.context if isinstance(info.context, Mapping) else {}
    roots = context.get("template_roots", DEFAULT_ROOTS)
    try:
        return Template.parse(value, roots=roots)
    except TemplateError as exc:
        raise ValueError(str(exc)) from exc


_SCALARS = (str, int, float, Decimal)


def _lookup(context: Mapping[str, object], variable: _Variable) -> str | None:
    """The text of ``variable`` in ``context``, or ``None`` when it is missing."""
    current: object = context
    for depth, key in enumerate(variable.path):
        if isinstance(current, Mapping):
            current = current.get(key)
        elif current is None or isinstance(current, (*_SCALARS, bool)):
            return None  # the path runs through a plain value: nothing there
        else:
            raise _not_plain(variable.path[:depth], current)
    if current is None:
        return None
    if isinstance(current, bool):
        return "true" if current else "false"
    if isinstance(current, str):
        return current if current.strip() else None
    if isinstance(current, _SCALARS):
        try:
            return str(current)
        except ValueError:  # an integer past Python's limit on digits
            name = ".".join(variable.path)
            raise TemplateError(f"{name} is a number too long to print", variable=name) from None
    raise _not_plain(variable.path, current)


def _not_plain(path: tuple[str, ...], value: object) -> TemplateError:
    name = ".".join(path) or "the context"
    kind = "an object" if isinstance(value, Mapping) else f"a {type(value).__name__}"
    if isinstance(value, (list, tuple, set, frozenset)):
        kind = "a list"
    return TemplateError(
        f"{name} is {kind}; templates read only plain values (strings, numbers, "
        "true/false) in nested dicts. Dump models first (model_dump(mode='json'))",
        variable=name,
    )
