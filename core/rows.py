"""Plain SELECTs over model fields, for hot reads that want rows rather than model instances.

The ORM compiles a queryset on every call and builds a model instance per row; for a read that runs on
every request and fetches hundreds of rows, that costs several times the query itself. A ``PlainSelect``
builds its column list and joins once per process and database from model metadata (so a renamed column
or table follows the model) and passes each value through the converters the ORM would apply (aware
datetimes, booleans, decimals on SQLite), so callers see the values ``values_list`` would give.

On MySQL/MariaDB a datetime column is read as microseconds since 1970-01-01 (``TIMESTAMPDIFF``, an
integer the driver reads in C) and made a datetime by adding them to that epoch: the driver's own
parsing of DATETIME values runs in Python and was half the cost of reading a wallet of coupons, and the
integer costs the server less than the column's text. The value is the one the ORM gives (an aware
datetime in the connection's zone).

A caller that keeps what it built from earlier rows can fetch the driver's rows (``fetch``), compare them
with the rows it kept, and convert only the new ones (``convert``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


@dataclass(frozen=True)
class Column:
    """One selected field. ``table`` is the alias the FROM clause gives its table; ``raw`` leaves the value
    as the driver returns it (e.g. a JSON column read as text, for a caller that parses it itself);
    ``sql`` selects that expression instead of the table's column (a scalar subquery), its value read
    as the field's."""

    field: Any  # a concrete field: Model._meta.get_field(name)
    table: str
    raw: bool = False
    sql: str | None = None


ColumnConverter = Callable[[Sequence[Any]], list[Any]]


@dataclass(frozen=True)
class _Built:
    head: str  # SELECT <columns> FROM <tables> (with a trailing space)
    converters: tuple[tuple[int, ColumnConverter], ...]  # by column: the column's values converted


def _orm_converter(col: Any, found: Sequence[Converter], connection: BaseDatabaseWrapper) -> ColumnConverter:
    def convert(values: Sequence[Any]) -> list[Any]:
        converted = list(values)
        for converter in found:
            converted = [converter(value, col, connection) for value in converted]
        return converted

    return convert


def _datetime_as_micros(connection: BaseDatabaseWrapper, field: Any) -> bool:
    return (
        connection.vendor == "mysql"
        and field.get_internal_type() == "DateTimeField"
        and connection.timezone is not None  # USE_TZ: stored in the connection's zone, read aware
        and not field.get_db_converters(connection)  # nothing of the field's own to apply
    )


# The microseconds count from 1970-01-01 00:00 in the connection's zone (the stored wall-clock time).
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _aware_datetimes(zone: tzinfo) -> ColumnConverter:
    if zone is UTC:

        def convert(values: Sequence[Any]) -> list[Any]:
            return [None if value is None else _EPOCH + timedelta(microseconds=value) for value in values]

        return convert

    def convert_in_zone(values: Sequence[Any]) -> list[Any]:
        return [
            None if value is None else (_EPOCH + timedelta(microseconds=value)).replace(tzinfo=zone) for value in values
        ]

    return convert_in_zone


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
        listed: list[str] = []
        converters: list[tuple[int, ColumnConverter]] = []
        for index, column in enumerate(columns):
            name = column.sql or f"{column.table}.{qn(column.field.column)}"
            if column.raw:
                listed.append(name)
                continue
            if _datetime_as_micros(connection, column.field):
                assert connection.timezone is not None
                listed.append(f"TIMESTAMPDIFF(MICROSECOND, '1970-01-01', {name})")
                converters.append((index, _aware_datetimes(connection.timezone)))
                continue
            listed.append(name)
            col = column.field.get_col(column.table)
            found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if found:
                converters.append((index, _orm_converter(col, found, connection)))
        built = _Built(head=f"SELECT {', '.join(listed)} FROM {tables} ", converters=tuple(converters))
        self._built[connection.alias] = built
        return built

    def rows(self, rest: str, params: Sequence[Any], *, using: str = "default") -> list[Sequence[Any]]:
        """The rows of ``SELECT ... FROM ... <rest>`` (``rest``: WHERE, ORDER BY, with %s placeholders)."""
        return self.convert(self.fetch(rest, params, using=using), using=using)

    def fetch(self, rest: str, params: Sequence[Any], *, using: str = "default") -> list[Sequence[Any]]:
        """The rows as the driver gives them, before the converters (``convert`` applies them)."""
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(self._for(connection).head + rest, params)
            return list(cursor.fetchall())

    def convert(self, fetched: Sequence[Sequence[Any]], *, using: str = "default") -> list[Sequence[Any]]:
        """Rows of ``fetch`` with each column's value as the ORM gives it."""
        built = self._for(connections[using])
        if not built.converters or not fetched:
            return list(fetched)
        # Column by column: one comprehension per converted column rather than a call per value.
        columns: list[Sequence[Any]] = list(zip(*fetched, strict=True))
        for index, convert in built.converters:
            columns[index] = convert(columns[index])
        return list(zip(*columns, strict=True))


def placeholders(count: int) -> str:
    """``%s, %s, ...``: ``count`` parameters of an ``IN (...)`` list."""
    return ", ".join(["%s"] * count)
