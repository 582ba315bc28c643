"""Portable spellings of the few statements the ORM cannot express with a row count."""

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Model


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def insert_ignore(table: str, columns: Sequence[str]) -> str:
    """``INSERT`` one row that does nothing when a unique key already holds it; the cursor's row count
    tells which happened."""
    cols = ", ".join(quote(c) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    if connection.vendor == "mysql":
        return f"INSERT IGNORE INTO {quote(table)} ({cols}) VALUES ({marks})"
    if connection.vendor == "sqlite":
        return f"INSERT OR IGNORE INTO {quote(table)} ({cols}) VALUES ({marks})"
    return f"INSERT INTO {quote(table)} ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING"


@cache
def _insert_head(vendor: str, model: type[Model], columns: tuple[str, ...], ignore: bool) -> str:
    known = {f.column for f in model._meta.concrete_fields}
    unknown = set(columns) - known
    if unknown:
        raise ValueError(f"not columns of {model.__name__}: {sorted(unknown)}")
    verb = "INSERT"
    if ignore:
        verb = {"mysql": "INSERT IGNORE", "sqlite": "INSERT OR IGNORE"}.get(vendor, verb)
    return f"{verb} INTO {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) VALUES "


def _literal(value: Any) -> str | None:
    """``value`` as SQL text, escaped by the driver (MySQLdb), with ``%`` doubled for the parameter
    formatting that follows; None where the driver has no such call."""
    literal = getattr(connection.connection, "literal", None)
    if literal is None:
        return None
    text = literal(value)
    if isinstance(text, bytes):
        text = text.decode(getattr(connection.connection, "encoding", "utf-8"))
    return text.replace("%", "%%")


def _statement(
    model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], shared: Mapping[str, Any], ignore: bool
) -> tuple[str, list[Any]]:
    connection.ensure_connection()
    head = _insert_head(connection.vendor, model, (*columns, *shared), ignore)
    fixed = [_literal(value) for value in shared.values()]
    per_row = list(shared.values()) if None in fixed else []
    tail = "".join(f", {f}" for f in fixed) if not per_row else ""
    # A column whose every value is an int is written as digits: safe without escaping, and spares the
    # driver one escaping call per value (the bulk paths' ids).
    digits = [all(type(row[i]) is int for row in rows) for i in range(len(columns))]
    if any(digits):
        marks = ["{}" if is_int else "%s" for is_int in digits]
        fixed_tail = tail.replace("{", "{{").replace("}", "}}")
        row_format = "(" + ", ".join([*marks, *["%s"] * len(per_row)]) + fixed_tail + ")"
        inline = [i for i, is_int in enumerate(digits) if is_int]
        bound = [i for i, is_int in enumerate(digits) if not is_int]
        sql = head + ", ".join(row_format.format(*[row[i] for i in inline]) for row in rows)
        if per_row:
            params: list[Any] = [value for row in rows for value in (*[row[i] for i in bound], *per_row)]
        else:
            params = [row[i] for row in rows for i in bound]
    else:
        row_marks = "(" + ", ".join(["%s"] * (len(columns) + len(per_row))) + tail + ")"
        params = [value for row in rows for value in (*row, *per_row)]
        sql = head + ", ".join([row_marks] * len(rows))
    if ignore and connection.vendor not in ("mysql", "sqlite"):
        sql += " ON CONFLICT DO NOTHING"
    return sql, params


def insert_rows(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    shared: Mapping[str, Any] | None = None,
    returning_pk: bool = False,
) -> list[int]:
    """One multi-row ``INSERT`` of plain values (already in database form) for bulk paths where the
    ORM's per-value preparation would cost more than the database.

    ``shared`` holds the columns whose value is the same in every row: the driver escapes each once
    (where it can) instead of once per row. Returns the new primary keys in row order when asked
    (``RETURNING`` where the database has it, else the last insert id, which MySQL hands out
    consecutively for one multi-row INSERT).
    """
    if not rows:
        return []
    sql, params = _statement(model, columns, rows, shared or {}, ignore=False)
    with connection.cursor() as cursor:
        if returning_pk and connection.features.can_return_rows_from_bulk_insert:
            cursor.execute(f"{sql} RETURNING {quote(model._meta.pk.column)}", params)
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(sql, params)
        if not returning_pk:
            return []
        first = cursor.lastrowid
        return list(range(first, first + len(rows)))


def insert_rows_ignoring_duplicates(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    shared: Mapping[str, Any] | None = None,
) -> int:
    """``insert_rows`` that skips the rows a unique key already holds; returns how many were inserted."""
    if not rows:
        return 0
    sql, params = _statement(model, columns, rows, shared or {}, ignore=True)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
