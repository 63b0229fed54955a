"""SQL text shared by the SQL stores: record writes and `Store.find` queries."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import TypeAdapter

from ..models._base import Record
from ._rows import RecordCache, load_records
from .base import Condition, Gt, In, Lt, SearchTerm, column_value

__all__ = [
    "Dialect",
    "NoMatch",
    "fts5_query",
    "tsquery",
    "list_adapter",
    "listed_kinds",
    "listing_rows",
    "parse_rows",
    "record_values",
]

R = TypeVar("R", bound=Record)


class NoMatch(Exception):
    """The query cannot match anything (an empty ``In``); skip the round trip."""


@functools.cache
def list_adapter(kind: type[R]) -> TypeAdapter[list[R]]:
    """A validator for a JSON array of ``kind`` (one call per page of rows)."""
    return TypeAdapter(list[kind])  # type: ignore[valid-type]


def parse_rows(
    kind: type[R], rows: Sequence[Sequence[Any]], cache: RecordCache | None = None
) -> list[R]:
    """Records of ``kind`` from stored rows whose first column is the JSON ``data``.

    The rows were written by a store, so their after-validators are not run
    again (see `chatkit.stores._rows`). One call for the whole page is
    cheaper than one per row. With a ``cache``, rows decoded before are not
    decoded again (see `chatkit.stores._rows.RecordCache`).
    """
    return load_records(kind, rows, cache)


def listing_rows(record: Record) -> list[tuple[str, str, str, str]]:
    """The ``listings`` rows of a record: table, list name, sort key, record id."""
    table = type(record).table
    return [(table, name, key, record.id) for name, key in record.list_entries()]


def listed_kinds() -> list[type[Record]]:
    """Every record class (chatkit's and any defined since) that sits in ordered lists."""
    from .. import models  # noqa: F401 - defines the built-in record classes

    found: list[type[Record]] = []
    pending: list[type[Record]] = [Record]
    while pending:
        kind = pending.pop()
        pending += kind.__subclasses__()
        if kind.listed and kind not in found:
            found.append(kind)
    return found


def record_values(record: Record) -> list[Any]:
    """``version``, the indexed columns and ``data`` of a record, in table order."""
    kind = type(record)
    return [
        record.version,
        *(column_value(getattr(record, c)) for c in kind.columns),
        record.model_dump_json(),
    ]


def fts5_query(terms: Sequence[SearchTerm]) -> str:
    """An FTS5 ``MATCH`` expression finding any of ``terms``.

    Every term is a quoted string (``"order"``, or ``"order"*`` for a
    prefix), so no word of user text is read as an operator (``OR``,
    ``NEAR``, ``NOT``) or a column filter.
    """
    return " OR ".join(
        '"' + t.text.replace('"', '""') + '"' + ("*" if t.prefix else "") for t in terms
    )


def tsquery(terms: Sequence[SearchTerm]) -> str:
    """A PostgreSQL ``to_tsquery`` text finding any of ``terms``.

    Every term is a quoted lexeme (``'order'``, or ``'order':*`` for a
    prefix) joined with ``|``; pass the result as a query parameter.
    """
    return " | ".join(
        "'" + t.text.replace("\\", "\\\\").replace("'", "''") + "'" + (":*" if t.prefix else "")
        for t in terms
    )


class Dialect:
    """Placeholder style and NULL ordering of one SQL engine.

    Args:
        placeholder: ``"?"`` (SQLite) or ``"%s"`` (psycopg).
        nulls_last_clause: Whether ``NULLS LAST`` is supported; otherwise
            ``col IS NULL`` is sorted first.
    """

    def __init__(self, placeholder: str, *, nulls_last_clause: bool) -> None:
        self.ph = placeholder
        self.nulls_last_clause = nulls_last_clause
        self._writes: dict[tuple[str, str], str] = {}

    def insert(self, kind: type[Record]) -> str:
        """``INSERT`` of id, version, columns and data."""
        return self._write(kind, "insert")

    def update(self, kind: type[Record]) -> str:
        """``UPDATE`` of version, columns and data where id and old version match."""
        return self._write(kind, "update")

    def _write(self, kind: type[Record], verb: str) -> str:
        key = (kind.table, verb)
        sql = self._writes.get(key)
        if sql is None:
            cols = ["version", *kind.columns, "data"]
            if verb == "insert":
                marks = ", ".join([self.ph] * (len(cols) + 1))
                sql = f"INSERT INTO {kind.table} (id, {', '.join(cols)}) VALUES ({marks})"
            else:
                sets = ", ".join(f"{c} = {self.ph}" for c in cols)
                sql = f"UPDATE {kind.table} SET {sets} WHERE id = {self.ph} AND version = {self.ph}"
            self._writes[key] = sql
        return sql

    def select(
        self,
        kind: type[Record],
        where: Mapping[str, Condition] | None,
        order_by: str,
        descending: bool,
        limit: int | None,
    ) -> tuple[str, list[Any]]:
        """``SELECT data`` for `Store.find`'s arguments.

        Raises:
            ValueError: A column is not queryable.
            NoMatch: The conditions cannot match.
        """
        clauses, params = self._where(kind, where)
        allowed = {"id", *kind.columns}
        if order_by not in allowed:
            raise ValueError(f"{kind.__name__} has no queryable column {order_by!r}")
        direction = "DESC" if descending else "ASC"
        order = f"{order_by} {direction}"
        nullable = kind.nullable(order_by)
        if nullable and self.nulls_last_clause:
            order += " NULLS LAST"
        # Unique sort keys need no tiebreak (and stay index-friendly without one).
        if order_by != "id" and order_by not in kind.sort_keys:
            order += f", id {direction}"
        if nullable and not self.nulls_last_clause:
            order = f"{order_by} IS NULL, {order}"
        sql = f"SELECT data FROM {kind.table}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {self.ph}"
            params.append(limit)
        return sql, params

    def conditions(
        self, kind: type[Record], where: Mapping[str, Condition] | None, *, alias: str = ""
    ) -> tuple[list[str], list[Any]]:
        """``WHERE`` clauses (to join with ``AND``) and parameters for `Store.find`'s ``where``.

        Args:
            kind: The record class.
            where: The conditions.
            alias: Table alias that qualifies each column (``"r"``), for joins.

        Raises:
            ValueError: A column is not queryable.
            NoMatch: The conditions cannot match.
        """
        return self._where(kind, where, alias=alias)

    def _where(
        self, kind: type[Record], where: Mapping[str, Condition] | None, *, alias: str = ""
    ) -> tuple[list[str], list[Any]]:
        allowed = {"id", *kind.columns}
        clauses: list[str] = []
        params: list[Any] = []
        for column, condition in (where or {}).items():
            if column not in allowed:
                raise ValueError(f"{kind.__name__} has no queryable column {column!r}")
            name = f"{alias}.{column}" if alias else column
            if isinstance(condition, In):
                values = [column_value(v) for v in condition.values]
                if not values:
                    raise NoMatch
                clauses.append(f"{name} IN ({', '.join([self.ph] * len(values))})")
                params.extend(values)
            elif isinstance(condition, (Lt, Gt)):
                clauses.append(f"{name} {'<' if isinstance(condition, Lt) else '>'} {self.ph}")
                params.append(column_value(condition.value))
            elif condition is None:
                clauses.append(f"{name} IS NULL")
            else:
                clauses.append(f"{name} = {self.ph}")
                params.append(column_value(condition))
        return clauses, params

    def count(
        self, kind: type[Record], where: Mapping[str, Condition] | None
    ) -> tuple[str, list[Any]]:
        """``SELECT COUNT(*)`` for `Store.count`'s arguments (raises like `select`)."""
        clauses, params = self._where(kind, where)
        sql = f"SELECT COUNT(*) FROM {kind.table}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        return sql, params

    def listed(
        self, kind: type[Record], list_name: str, after: str | None, limit: int
    ) -> tuple[str, list[Any]]:
        """``SELECT data`` of one ordered list's records, in key order (`Store.find_listed`)."""
        ph = self.ph
        sql = (
            f"SELECT r.data FROM listings l JOIN {kind.table} r ON r.id = l.record_id "
            f"WHERE l.tbl = {ph} AND l.name = {ph}"
        )
        params: list[Any] = [kind.table, list_name]
        if after is not None:
            sql += f" AND l.sort_key > {ph}"
            params.append(after)
        sql += f" ORDER BY l.sort_key, l.record_id LIMIT {ph}"
        params.append(limit)
        return sql, params

    def unlist(self) -> str:
        """``DELETE`` of one record's list entries (parameters: table, id)."""
        return f"DELETE FROM listings WHERE tbl = {self.ph} AND record_id = {self.ph}"

    def list_entry(self) -> str:
        """``INSERT`` of one list entry (parameters: `listing_rows`' tuples)."""
        marks = ", ".join([self.ph] * 4)
        return f"INSERT INTO listings (tbl, name, sort_key, record_id) VALUES ({marks})"
