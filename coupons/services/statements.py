"""Portable spellings of the few statements the ORM cannot express with a row count."""

from collections.abc import Sequence
from functools import cache

from django.db import connection
from django.db.models import Field, Model


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


def insert_instance(obj: Model) -> None:
    """``INSERT`` one new model instance with a prepared statement of its concrete fields, as
    ``save(force_insert=True)`` would, without the query compiler (the claim path is hot)."""
    meta = obj._meta
    fields = _insert_fields(type(obj))
    sql = _insert_sql(type(obj), connection.vendor)
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        pk = cursor.lastrowid
    setattr(obj, meta.pk.attname, pk)
    obj._state.adding = False
    obj._state.db = connection.alias


@cache
def _insert_fields(model: type[Model]) -> list[Field]:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


@cache
def _insert_sql(model: type[Model], vendor: str) -> str:
    fields = _insert_fields(model)
    cols = ", ".join(quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {quote(model._meta.db_table)} ({cols}) VALUES ({marks})"
