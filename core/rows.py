"""Plain SELECTs over model fields, for hot reads that want rows rather than model instances.

The ORM compiles a queryset on every call and builds a model instance per row; for a read that runs on
every request and fetches hundreds of rows, that costs several times the query itself. A ``PlainSelect``
builds its column list and joins once per process and database from model metadata (so a renamed column
or table follows the model) and passes each value through the converters the ORM would apply (aware
datetimes, booleans, decimals on SQLite), so callers see the values ``values_list`` would give.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


@dataclass(frozen=True)
class Column:
    """One selected field. ``table`` is the alias the FROM clause gives its table; ``raw`` leaves the value
    as the driver returns it (e.g. a JSON column read as text, for a caller that parses it itself)."""

    field: Any  # a concrete field: Model._meta.get_field(name)
    table: str
    raw: bool = False


@dataclass(frozen=True)
class _Built:
    head: str  # SELECT <columns> FROM <tables> (with a trailing space)
    converters: tuple[tuple[int, Any, tuple[Converter, ...]], ...]


class PlainSelect:
    """``build(quote_name)`` returns the FROM clause (tables and joins, aliased) and the columns; the
    statement is built the first time it runs on a database alias and kept for the process."""

    def __init__(self, build: Callable[[Callable[[str], str]], tuple[str, Sequence[Column]]]) -> None:
        self._build = build
        self._built: dict[str, _Built] = {}

    def _for(self, connection: BaseDatabaseWrapper) -> _Built:
        built = self._built.get(connection.alias)
        if built is not None:
            return built
        qn = connection.ops.quote_name
        tables, columns = self._build(qn)
        listed = ", ".join(f"{column.table}.{qn(column.field.column)}" for column in columns)
        converters = []
        for index, column in enumerate(columns):
            if column.raw:
                continue
            col = column.field.get_col(column.table)
            found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if found:
                converters.append((index, col, tuple(found)))
        built = _Built(head=f"SELECT {listed} FROM {tables} ", converters=tuple(converters))
        self._built[connection.alias] = built
        return built

    def rows(self, rest: str, params: Sequence[Any], *, using: str = "default") -> list[Sequence[Any]]:
        """The rows of ``SELECT ... FROM ... <rest>`` (``rest``: WHERE, ORDER BY, with %s placeholders)."""
        connection = connections[using]
        built = self._for(connection)
        with connection.cursor() as cursor:
            cursor.execute(built.head + rest, params)
            fetched = cursor.fetchall()
        if not built.converters:
            return list(fetched)
        rows: list[Sequence[Any]] = []
        for row in fetched:
            values = list(row)
            for index, col, found in built.converters:
                value = values[index]
                for converter in found:
                    value = converter(value, col, connection)
                values[index] = value
            rows.append(values)
        return rows


def placeholders(count: int) -> str:
    """``%s, %s, ...``: ``count`` parameters of an ``IN (...)`` list."""
    return ", ".join(["%s"] * count)
