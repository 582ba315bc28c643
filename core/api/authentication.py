"""Token authentication in one plain SQL join.

DRF's ``TokenAuthentication`` reads the token through the ORM (``select_related("user").get(key=...)``):
building and compiling that query costs about twenty times the query itself, on every API request.
This class keeps its contract (``Authorization: Token <key>``, the same 401 answers, ``request.user`` a
real ``User`` and ``request.auth`` the ``Token``) and sends one prepared join instead. The user is built
with ``Model.from_db`` from every column but the password hash, passed through the same converters the
ORM applies, so services, permission checks and foreign keys see the instance the ORM would have given.
There is no cache: a deleted token or a deactivated user is refused on the next request, in every process.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


@dataclass(frozen=True)
class _Lookup:
    model: Any
    sql: str
    field_names: list[str]
    converters: list[tuple[int, Any, list[Converter]]]


_lookups: dict[str, _Lookup] = {}


def _lookup_for(connection: BaseDatabaseWrapper) -> _Lookup:
    """The join and the row converters for one database alias, built once per process."""
    lookup = _lookups.get(connection.alias)
    if lookup is not None:
        return lookup
    user_model = get_user_model()
    qn = connection.ops.quote_name
    user_table, token_table = user_model._meta.db_table, Token._meta.db_table
    fields: list[Field] = [f for f in user_model._meta.concrete_fields if f.attname != "password"]
    columns = ", ".join(f"u.{qn(f.column)}" for f in fields)
    user_pk, token_user = qn(user_model._meta.pk.column), qn(Token._meta.get_field("user").column)
    sql = (
        f"SELECT {columns} FROM {qn(token_table)} t INNER JOIN {qn(user_table)} u ON u.{user_pk} = t.{token_user} "
        f"WHERE t.{qn(Token._meta.pk.column)} = %s"
    )
    converters = []
    for index, field in enumerate(fields):
        col = field.get_col("u")
        found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if found:
            converters.append((index, col, found))
    lookup = _Lookup(model=user_model, sql=sql, field_names=[f.attname for f in fields], converters=converters)
    _lookups[connection.alias] = lookup
    return lookup


def user_for_token(key: str, *, using: str = "default") -> Any:
    """The token's user (a ``User`` without its password hash loaded), or ``None``: one query."""
    connection = connections[using]
    lookup = _lookup_for(connection)
    with connection.cursor() as cursor:
        cursor.execute(lookup.sql, [key])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, col, converters in lookup.converters:
        for converter in converters:
            values[index] = converter(values[index], col, connection)
    return lookup.model.from_db(using, lookup.field_names, values)


class SingleQueryTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``, answered by one join of the token and its user."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user = user_for_token(key)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = Token.from_db("default", ["key", "user_id"], [key, user.pk])
        token.user = user  # the relation is cached: reading request.auth.user costs no query
        return user, token
