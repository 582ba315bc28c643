"""Stamps: a token per set of rows, changed in the transaction of every change to those rows.

A process that keeps what it read from some rows (checkout keeps the menu's dishes and the coupon
templates) reads the rows' stamp in a statement of the same request, for almost nothing (``token_sql``: a
scalar subquery on one row of ``core_stamp``, read once per statement), and trusts what it kept while the
token is the one it kept it under. A change to the rows changes the token in the change's own
transaction, so a statement that sees the old token cannot see the change, and one that sees the change
sees the new token. What is read after a statement saw a token is at least as new as that token, so
keeping it under that token is safe.

The token is random, not a counter: a change that is rolled back takes its token with it, and the next
change (in a test, the same rows made again under the same ids) gets another one. A missing row reads
as NULL, under which nothing is kept; the rows are made after migrate and flush (``core.apps``).

The writes that change a stamp: ``save`` and ``delete`` of the model's instances (signals, after the
write: in the write's transaction, as the services and admin write; outside one, a moment after it, so a
request in between may still use what was kept), and ``update``, ``bulk_create`` and ``bulk_update`` of a
``StampedQuerySet`` (in one transaction with the write). ``only`` limits a stamp to some fields: a
``save(update_fields=...)`` or an ``update`` that touches none of them leaves it alone (a template's
counters move on every claim). Raw SQL and data migrations change no stamp: processes started after a
migration read afresh.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.db.models.signals import post_delete, post_save

from core.models import Stamp


@dataclass(frozen=True)
class _Stamped:
    name: str
    only: frozenset[str] | None  # field names (attnames too); None: every write

    def touched_by(self, fields: Iterable[str] | None) -> bool:
        return self.only is None or fields is None or not self.only.isdisjoint(fields)


_STAMPED: dict[type[models.Model], _Stamped] = {}
_NAME = re.compile(r"[a-z][a-z-]*")


def new_token() -> int:
    return secrets.randbits(62) + 1


def token_sql(name: str, quote_name: Callable[[str], str]) -> str:
    """The stamp's token (NULL when its row is missing) as an expression for a column of another SELECT."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"a stamp's name is lower-case letters and dashes, not {name!r}")
    table, key, token = (quote_name(part) for part in (Stamp._meta.db_table, "name", "token"))
    return f"(SELECT {token} FROM {table} WHERE {key} = '{name}')"


def bump(name: str, *, using: str = "default") -> None:
    """Give the stamp ``name`` a new token (in the caller's transaction, if any)."""
    token = new_token()
    if not Stamp.objects.using(using).filter(name=name).update(token=token):
        Stamp.objects.using(using).get_or_create(name=name, defaults={"token": token})


def stamp_writes(model: type[models.Model], name: str, *, only: Iterable[str] | None = None) -> None:
    """Bump ``name`` on every write to ``model`` (of the fields ``only``, when given). The model's
    default manager must be built on ``StampedQuerySet`` for writes that send no signal."""
    names = None
    if only is not None:
        fields = [model._meta.get_field(field) for field in only]
        names = frozenset(name for field in fields for name in (field.name, getattr(field, "attname", field.name)))
    _STAMPED[model] = _Stamped(name, names)
    post_save.connect(_saved, sender=model, dispatch_uid=f"core.stamps.saved.{model._meta.label}")
    post_delete.connect(_deleted, sender=model, dispatch_uid=f"core.stamps.deleted.{model._meta.label}")


def _saved(sender: type[models.Model], update_fields: Iterable[str] | None = None, using: str = "default", **kwargs):
    stamped = _STAMPED[sender]
    if stamped.touched_by(update_fields):
        bump(stamped.name, using=using)


def _deleted(sender: type[models.Model], using: str = "default", **kwargs):
    bump(_STAMPED[sender].name, using=using)


class StampedQuerySet(models.QuerySet):
    """A queryset whose writes that send no signal bump the model's stamp (``stamp_writes``) in one
    transaction with the write."""

    def _stamped(self, fields: Iterable[str] | None) -> _Stamped | None:
        stamped = _STAMPED.get(self.model)
        return stamped if stamped is not None and stamped.touched_by(fields) else None

    def update(self, **kwargs: Any) -> int:
        stamped = self._stamped(kwargs)
        if stamped is None:
            return super().update(**kwargs)
        with transaction.atomic(using=self.db, savepoint=False):
            count = super().update(**kwargs)
            if count:
                bump(stamped.name, using=self.db)
            return count

    def bulk_create(self, objs: Iterable[Any], *args: Any, **kwargs: Any) -> list[Any]:
        stamped = self._stamped(None)
        if stamped is None:
            return super().bulk_create(objs, *args, **kwargs)
        with transaction.atomic(using=self.db, savepoint=False):
            created = super().bulk_create(objs, *args, **kwargs)
            if created:
                bump(stamped.name, using=self.db)
            return created

    # bulk_update goes through update(); delete() through the signals.


def missing_stamps(stamp: type[models.Model], using: str) -> list[models.Model]:
    """Rows, with fresh tokens, for the stamps that have none (``stamp``: the model, maybe historical)."""
    names = {stamped.name for stamped in _STAMPED.values()}
    existing = set(stamp._default_manager.using(using).values_list("name", flat=True))
    return [stamp(name=name, token=new_token()) for name in sorted(names - existing)]
