"""Portable spellings of the few statements the ORM cannot express with a row count."""

from collections.abc import Sequence

from django.db import connection


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
