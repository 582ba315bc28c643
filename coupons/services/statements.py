"""Portable spellings of the few statements the ORM cannot express with a row count."""

from collections.abc import Sequence
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


def insert_rows(
    model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], *, returning_pk: bool = False
) -> list[int]:
    """One multi-row ``INSERT`` of plain values (already in database form) for bulk paths where the
    ORM's per-value preparation would cost more than the database. Returns the new primary keys in
    row order when asked (``RETURNING`` where the database has it, else the last insert id, which
    MySQL hands out consecutively for one multi-row INSERT)."""
    if not rows:
        return []
    known = {f.column for f in model._meta.concrete_fields}
    unknown = set(columns) - known
    if unknown:
        raise ValueError(f"not columns of {model.__name__}: {sorted(unknown)}")
    cols = ", ".join(quote(c) for c in columns)
    row_marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({cols}) VALUES {', '.join([row_marks] * len(rows))}"
    params: list[Any] = [value for row in rows for value in row]
    pk = quote(model._meta.pk.column)
    with connection.cursor() as cursor:
        if returning_pk and connection.features.can_return_rows_from_bulk_insert:
            cursor.execute(f"{sql} RETURNING {pk}", params)
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(sql, params)
        if not returning_pk:
            return []
        first = cursor.lastrowid
        return list(range(first, first + len(rows)))
