"""The subset of SOQL the emulator answers.

``SELECT f, Rel.f FROM Obj [WHERE cond] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...]
[LIMIT n] [OFFSET n]``, where ``cond`` combines ``f op value`` (``= != <> < <= >
>=``), ``f [NOT] IN (v, ...)`` and ``f LIKE 'x%'`` with ``AND``, ``OR``, ``NOT``
and parentheses. Values are quoted strings (``\\'`` escapes), numbers,
``true``/``false``/``null``, dates and datetimes (``2024-03-01T09:15:00.000Z``,
``...+00:00``). As in Salesforce, ``=`` on text is case-insensitive, and long
text areas cannot be filtered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._records import (
    CANON,
    SCHEMA,
    SOBJECTS,
    Record,
    SalesforceAPIError,
    parse_sf_datetime,
    relationship,
    sf_datetime,
    sobject_of_id,
)

__all__ = ["Query", "parse"]

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<str>'(?:[^'\\]|\\.)*')
   |(?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
   |(?P<date>\d{4}-\d{2}-\d{2})
   |(?P<num>-?\d+(?:\.\d+)?)
   |(?P<op>!=|<>|<=|>=|=|<|>|\(|\)|,)
   |(?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
_UNESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    value: Any = None


Getter = Callable[[Record], Any]
Resolver = Callable[[str, str], Record | None]  # (sobject or None-by-prefix, id) -> record


@dataclass
class Query:
    """A parsed SELECT: what to read, from where, filtered and ordered how."""

    sobject: str
    fields: list[str]
    where: Any = None
    order: list[tuple[str, bool, bool]] = field(default_factory=list)  # field, desc, nulls_last
    limit: int | None = None
    offset: int = 0


def _malformed(message: str) -> SalesforceAPIError:
    return SalesforceAPIError.one(400, "MALFORMED_QUERY", message)


def _tokens(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise _malformed(f"unexpected token: '{text[position:].split()[0]}'")
        position = match.end()
        kind = match.lastgroup
        raw = match.group(kind or "")
        if kind == "str":
            tokens.append(_Tok("value", raw, _UNESCAPE.sub(r"\1", raw[1:-1])))
        elif kind == "dt":
            tokens.append(_Tok("value", raw, _DateTime(sf_datetime(parse_sf_datetime(raw)))))
        elif kind == "date":
            tokens.append(_Tok("value", raw, raw))
        elif kind == "num":
            tokens.append(_Tok("value", raw, float(raw) if "." in raw else int(raw)))
        elif kind == "op":
            tokens.append(_Tok("op", raw))
        else:
            lowered = raw.lower()
            if lowered in ("true", "false"):
                tokens.append(_Tok("value", raw, lowered == "true"))
            elif lowered == "null":
                tokens.append(_Tok("value", raw, None))
            else:
                tokens.append(_Tok("word", raw))
    return tokens


@dataclass(frozen=True)
class _DateTime:
    text: str  # canonical sf_datetime, so string order is time order


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.position = 0

    def peek(self) -> _Tok | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def next(self) -> _Tok:
        token = self.peek()
        if token is None:
            raise _malformed("unexpected end of query")
        self.position += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.upper() in words:
            self.position += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            token = self.peek()
            raise _malformed(f"unexpected token: '{token.text if token else 'end of query'}'")

    def expect_op(self, op: str) -> None:
        token = self.next()
        if token.kind != "op" or token.text != op:
            raise _malformed(f"unexpected token: '{token.text}'")

    def word(self) -> str:
        token = self.next()
        if token.kind != "word":
            raise _malformed(f"unexpected token: '{token.text}'")
        return token.text

    def parse(self) -> Query:
        self.expect_keyword("SELECT")
        fields = [self.word()]
        while self.peek() is not None and self.peek() == _Tok("op", ","):
            self.next()
            fields.append(self.word())
        self.expect_keyword("FROM")
        name = self.word()
        sobject = SOBJECTS.get(name.lower())
        if sobject is None:
            raise SalesforceAPIError.one(
                400,
                "INVALID_TYPE",
                f"sObject type '{name}' is not supported. If you are attempting to use a custom "
                "object, be sure to append the '__c' after the entity name.",
            )
        query = Query(sobject=sobject, fields=fields)
        if self.keyword("WHERE"):
            query.where = self.condition()
        if self.keyword("ORDER"):
            self.expect_keyword("BY")
            while True:
                name = self.word()
                descending = False
                if self.keyword("DESC"):
                    descending = True
                else:
                    self.keyword("ASC")
                nulls_last = descending
                if self.keyword("NULLS"):
                    nulls_last = self.keyword("LAST")
                    if not nulls_last:
                        self.expect_keyword("FIRST")
                query.order.append((name, descending, nulls_last))
                if self.peek() == _Tok("op", ","):
                    self.next()
                    continue
                break
        if self.keyword("LIMIT"):
            query.limit = self.integer()
        if self.keyword("OFFSET"):
            query.offset = self.integer()
        if self.peek() is not None:
            raise _malformed(f"unexpected token: '{self.next().text}'")
        return query

    def integer(self) -> int:
        token = self.next()
        if token.kind != "value" or not isinstance(token.value, int):
            raise _malformed(f"unexpected token: '{token.text}'")
        return int(token.value)

    def condition(self) -> Any:
        parts = [self.conjunction()]
        while self.keyword("OR"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else ("or", parts)

    def conjunction(self) -> Any:
        parts = [self.unary()]
        while self.keyword("AND"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else ("and", parts)

    def unary(self) -> Any:
        if self.keyword("NOT"):
            return ("not", self.unary())
        if self.peek() == _Tok("op", "("):
            self.next()
            inner = self.condition()
            self.expect_op(")")
            return inner
        name = self.word()
        negated = self.keyword("NOT")
        if self.keyword("IN"):
            self.expect_op("(")
            values = [self.value()]
            while self.peek() == _Tok("op", ","):
                self.next()
                values.append(self.value())
            self.expect_op(")")
            return ("in", name, values, negated)
        if negated:
            raise _malformed("unexpected token: 'NOT'")
        if self.keyword("LIKE"):
            pattern = self.value()
            if not isinstance(pattern, str):
                raise _malformed("LIKE needs a string")
            return ("like", name, pattern)
        token = self.next()
        if token.kind != "op" or token.text not in ("=", "!=", "<>", "<", "<=", ">", ">="):
            raise _malformed(f"unexpected token: '{token.text}'")
        return ("cmp", name, "!=" if token.text == "<>" else token.text, self.value())

    def value(self) -> Any:
        token = self.next()
        if token.kind != "value":
            raise _malformed(f"unexpected token: '{token.text}'")
        return token.value


def parse(text: str) -> Query:
    """Parse ``text``; raises a 400 `SalesforceAPIError` (MALFORMED_QUERY, INVALID_FIELD...)."""
    query = _Parser(text).parse()
    for name in query.fields:
        _field_path(query.sobject, name)
    for name, _, _ in query.order:
        _field_path(query.sobject, name)
    _check_filters(query.sobject, query.where)
    return query


def _no_such_column(name: str, sobject: str) -> SalesforceAPIError:
    return SalesforceAPIError.one(
        400,
        "INVALID_FIELD",
        f"No such column '{name}' on entity '{sobject}'. If you are attempting to use a custom "
        "field, be sure to append the '__c' after the custom field name. Please reference your "
        "WSDL or the describe call for the appropriate names.",
    )


def _field_path(sobject: str, name: str) -> tuple[str, str | None, str | None, str]:
    """``(field on sobject, relationship name, target sobject, field on target)``."""
    if "." not in name:
        canonical = CANON[sobject].get(name)
        if canonical is None:
            raise _no_such_column(name, sobject)
        return canonical, None, None, canonical
    rel_name, _, target_field = name.partition(".")
    found = relationship(sobject, rel_name)
    if found is None or "." in target_field:
        raise SalesforceAPIError.one(
            400,
            "INVALID_FIELD",
            f"Didn't understand relationship '{rel_name}' in field path. If you are attempting "
            "to use a custom relationship, be sure to append the '__r' after the custom "
            "relationship name.",
        )
    reference_field, target = found
    rel_canonical = reference_field[:-2]
    if target is not None:
        canonical = CANON[target].get(target_field)
        if canonical is None:
            raise _no_such_column(target_field, target)
        return reference_field, rel_canonical, target, canonical
    return reference_field, rel_canonical, None, target_field


def _check_filters(sobject: str, condition: Any) -> None:
    if condition is None:
        return
    kind = condition[0]
    if kind in ("and", "or"):
        for part in condition[1]:
            _check_filters(sobject, part)
        return
    if kind == "not":
        _check_filters(sobject, condition[1])
        return
    name = condition[1]
    field_name, _, target, target_field = _field_path(sobject, name)
    spec = SCHEMA[target or sobject].get(target_field if target else field_name)
    if spec is not None and spec.type in ("textarea", "base64"):
        raise SalesforceAPIError.one(
            400, "INVALID_FIELD", f"field '{target_field}' can not be filtered in a query call"
        )


# -- evaluation ----------------------------------------------------------------


def value_of(sobject: str, record: Record, name: str, resolve: Resolver) -> Any:
    """The value of field path ``name`` on ``record`` (following one relationship)."""
    field_name, rel, target, target_field = _field_path(sobject, name)
    if rel is None:
        return record.get(field_name)
    related_id = record.get(field_name)
    if not related_id:
        return None
    related = resolve(target or "", related_id)
    return None if related is None else related.get(target_field)


def _comparable(sobject: str, name: str, value: Any) -> Any:
    if isinstance(value, _DateTime):
        return value.text
    if isinstance(value, str):
        field_name, _, target, target_field = _field_path(sobject, name)
        spec = SCHEMA[target or sobject].get(target_field if target else field_name)
        if spec is not None and spec.type in ("id", "reference"):
            return value[:15]
        if spec is not None and spec.type == "datetime" and value:
            return sf_datetime(parse_sf_datetime(value))
        return value.casefold()
    return value


def matches(query: Query, record: Record, resolve: Resolver) -> bool:
    """Whether ``record`` satisfies the WHERE clause of ``query``."""
    return _eval(query.sobject, query.where, record, resolve)


def _eval(sobject: str, condition: Any, record: Record, resolve: Resolver) -> bool:
    if condition is None:
        return True
    kind = condition[0]
    if kind == "and":
        return all(_eval(sobject, part, record, resolve) for part in condition[1])
    if kind == "or":
        return any(_eval(sobject, part, record, resolve) for part in condition[1])
    if kind == "not":
        return not _eval(sobject, condition[1], record, resolve)
    name = condition[1]
    actual = _comparable(sobject, name, value_of(sobject, record, name, resolve))
    if kind == "in":
        wanted = {_comparable(sobject, name, v) for v in condition[2]}
        return (actual in wanted) != bool(condition[3])
    if kind == "like":
        if actual is None:
            return False
        pattern = re.escape(condition[2].casefold()).replace("%", ".*").replace("_", ".")
        return re.fullmatch(pattern, str(actual), re.DOTALL) is not None
    op, expected = condition[2], _comparable(sobject, name, condition[3])
    if op == "=":
        return bool(actual == expected)
    if op == "!=":
        return bool(actual != expected)
    if actual is None or expected is None:
        return False
    try:
        if op == "<":
            return bool(actual < expected)
        if op == "<=":
            return bool(actual <= expected)
        if op == ">":
            return bool(actual > expected)
        return bool(actual >= expected)
    except TypeError:
        return False


def sort_key(query: Query, resolve: Resolver) -> Callable[[Record], tuple[Any, ...]]:
    """A key ordering records as ``ORDER BY`` says (stable for ties)."""

    def key(record: Record) -> tuple[Any, ...]:
        parts: list[Any] = []
        for name, descending, nulls_last in query.order:
            value = _comparable(query.sobject, name, value_of(query.sobject, record, name, resolve))
            is_null = value is None
            null_rank = (1 if nulls_last else 0) if is_null else (0 if nulls_last else 1)
            parts.append(_Desc(null_rank, value) if descending else (null_rank, value))
        return tuple(parts)

    return key


class _Desc:
    """Inverts the order of a (null rank, value) pair for DESC."""

    __slots__ = ("null_rank", "value")

    def __init__(self, null_rank: int, value: Any) -> None:
        self.null_rank = null_rank
        self.value = value

    def __lt__(self, other: _Desc) -> bool:
        if self.null_rank != other.null_rank:
            return self.null_rank < other.null_rank
        if self.value is None or other.value is None:
            return False
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _Desc)
            and self.null_rank == other.null_rank
            and self.value == other.value
        )

    __hash__ = None  # type: ignore[assignment]


def project(
    query: Query,
    record: Record,
    resolve: Resolver,
    attributes: Callable[[str, str], Record],
) -> Record:
    """The record as a query returns it: ``attributes`` then the SELECTed fields in order."""
    out: Record = {"attributes": attributes(query.sobject, record["Id"])}
    for name in query.fields:
        field_name, rel, target, target_field = _field_path(query.sobject, name)
        if rel is None:
            out[field_name] = record.get(field_name)
            continue
        related_id = record.get(field_name)
        related = resolve(target or "", related_id) if related_id else None
        if related is None:
            out.setdefault(rel, None)
            continue
        nested = out.get(rel)
        if not isinstance(nested, dict):
            related_type = target or sobject_of_id(str(related_id)) or ""
            nested = {"attributes": attributes(related_type, str(related_id))}
            out[rel] = nested
        nested[target_field] = related.get(target_field)
    return out
