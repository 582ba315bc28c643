"""Idempotency-Key handling for state-changing POSTs, after Stripe's design.

The first response of a key (even an error) is stored and replayed for 24 hours; the same key with a
different request is refused (422). A 5xx or a 429 is not stored, so the client may retry it.

The key's record, the view's effect and the stored response commit in one transaction:

- the record is inserted first; a concurrent request with the same key blocks on that unique key until
  the first commits (then it replays the stored answer) or rolls back (then it runs itself), so any
  number of concurrent requests cause one effect;
- a process that dies mid-request rolls back its effect together with its record, so a retry with the
  same key runs again instead of waiting for an answer that will never come.

Deadlocks and lock-wait timeouts restart the whole request (the inner services' own retries are off
inside this transaction).

A view whose service commits its own transaction (a claim: one ``CALL`` on MySQL) is decorated with
``idempotent(recorded_with_effect=True)``: the view hands the service the key's ``KeyRecord``, and the
service writes the record, answer included, as the last statement of the effect's transaction. A second
request with the same key finds the record there when it reaches that statement (``KeyTaken``: nothing of
its own is kept) and replays it. A refusal writes nothing, so its error answer is stored afterwards, on
its own; a concurrent request with the same key then either stored first (and that answer is replayed) or
finds this one.
"""

import functools
import hashlib
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, overload

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.request import Request
from rest_framework.response import Response

from core.db import MAX_ATTEMPTS, is_retryable
from core.errors import ApplicationError, IdempotencyMismatch, ValidationFailed
from core.models import IdempotencyRecord
from core.statements import insert_rows, quote

HEADER = "HTTP_IDEMPOTENCY_KEY"


def _request_hash(request: Request) -> str:
    # A body that cannot be read raises here (400, or 415): the request is refused before its key is looked
    # at, and nothing is stored for the key (as Stripe does for a request that fails before it runs). Caught,
    # it would leave DRF's empty data behind and the view would run as if no body had been sent.
    body: Any = request.data
    payload = json.dumps({"method": request.method, "path": request.path, "body": body}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


class _NotStored(Exception):
    """Carries a response out of the transaction so that it rolls back (5xx, 429)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


# The record is written with two plain statements (the INSERT that claims the key, the UPDATE that stores
# the answer): the ORM's save and update machinery would cost more CPU than the claim they guard.
_RECORD_COLUMNS = ("user_id", "key", "method", "path", "request_hash", "status_code", "response_body", "created_at")


def _insert_record(*, user_id: int, key: str, method: str, path: str, digest: str) -> int:
    """The key's record, answer not yet known; a duplicate (user, key) raises ``IntegrityError``."""
    created_at = connection.ops.adapt_datetimefield_value(timezone.now())
    row = (user_id, key, method, path, digest, None, None, created_at)
    (pk,) = insert_rows(IdempotencyRecord, _RECORD_COLUMNS, [row], returning_pk=True)
    return pk


def _store_answer(pk: int, response: Response) -> None:
    """The response's status and body on the record, encoded as ``IdempotencyRecord.response_body``."""
    body = IdempotencyRecord._meta.get_field("response_body").get_db_prep_save(response.data, connection)
    sql = (
        f"UPDATE {quote(IdempotencyRecord._meta.db_table)} SET {quote('status_code')} = %s, "
        f"{quote('response_body')} = %s WHERE {quote('id')} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [response.status_code, body, pk])


class KeyTaken(Exception):
    """The key's record was written by another request first: replay it (nothing of this one is kept)."""


@dataclass(slots=True)
class KeyRecord:
    """The record a request's service writes with its effect, in the effect's transaction.

    ``answer`` turns the effect into the response body the view answers with (status ``status_code``);
    ``body_for`` gives it in the record's database form. ``written`` is set by whoever wrote it.
    """

    user_id: int
    key: str
    method: str
    path: str
    request_hash: str
    answer: Callable[[Any], Mapping[str, Any]]
    status_code: int
    written: bool = False

    def body_for(self, effect: Any) -> str:
        body = IdempotencyRecord._meta.get_field("response_body").get_db_prep_save(self.answer(effect), connection)
        return str(body)

    def row(self, effect: Any) -> tuple[Any, ...]:
        """The record's values in ``_RECORD_COLUMNS`` order, with the answer for ``effect``."""
        created_at = connection.ops.adapt_datetimefield_value(timezone.now())
        return (
            self.user_id, self.key, self.method, self.path, self.request_hash, self.status_code,
            self.body_for(effect), created_at,
        )  # fmt: skip

    def insert(self, effect: Any) -> None:
        """The record with its answer, as one statement of the caller's transaction; ``KeyTaken`` when the
        key is held (the caller's transaction must then be rolled back)."""
        try:
            insert_rows(IdempotencyRecord, _RECORD_COLUMNS, [self.row(effect)])
        except IntegrityError as exc:
            raise KeyTaken(self.key) from exc
        self.written = True


def key_record(
    request: Request, *, answer: Callable[[Any], Mapping[str, Any]], status_code: int = 201
) -> KeyRecord | None:
    """The key's record for the service to write with its effect, when the request sent a key to a view
    decorated with ``idempotent(recorded_with_effect=True)``; None otherwise."""
    pending: _Pending | None = getattr(request, "_idempotency_pending", None)
    if pending is None:
        return None
    record = pending.record(answer, status_code)
    pending.records.append(record)
    return record


@dataclass(slots=True)
class _Pending:
    user_id: int
    key: str
    method: str
    path: str
    digest: str
    records: list[KeyRecord]

    def record(self, answer: Callable[[Any], Mapping[str, Any]], status_code: int) -> KeyRecord:
        return KeyRecord(self.user_id, self.key, self.method, self.path, self.digest, answer, status_code)


def _replay(record: IdempotencyRecord, digest: str) -> Response:
    if record.request_hash != digest:
        raise IdempotencyMismatch(_("This Idempotency-Key was used with a different request."))
    response = Response(record.response_body, status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


View = Callable[..., Response]


@overload
def idempotent(view_method: View) -> View: ...
@overload
def idempotent(*, recorded_with_effect: bool) -> Callable[[View], View]: ...
def idempotent(view_method: View | None = None, *, recorded_with_effect: bool = False) -> Any:
    """Decorate an APIView's ``post`` so an ``Idempotency-Key`` header makes it safe to repeat.

    With ``recorded_with_effect`` the view passes ``key_record(request, ...)`` to a service that writes
    it in the effect's own transaction (see the module's docstring) instead of the view running inside
    one transaction with the record.
    """
    if view_method is None:
        return functools.partial(_decorate, recorded_with_effect=recorded_with_effect)
    return _decorate(view_method, recorded_with_effect=False)


def _decorate(view_method: View, *, recorded_with_effect: bool) -> View:
    @functools.wraps(view_method)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.META.get(HEADER)
        if not key or not request.user.is_authenticated:
            return view_method(self, request, *args, **kwargs)
        if len(key) > 255:
            raise ValidationFailed(_("Idempotency-Key is too long (255 characters at most)."))
        digest = _request_hash(request)
        if recorded_with_effect:
            return _recorded_with_effect(view_method, self, request, key, digest, args, kwargs)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            inserted = False
            try:
                with transaction.atomic():
                    record_pk = _insert_record(
                        user_id=request.user.pk,
                        key=key,
                        method=request.method or "",
                        path=request.path[:255],
                        digest=digest,
                    )
                    inserted = True
                    try:
                        response = view_method(self, request, *args, **kwargs)
                    except Exception as exc:  # an error answer is stored too, unless it is a server error
                        if isinstance(exc, DatabaseError) and is_retryable(exc):
                            raise  # rolled back with the record: the whole request runs again (below)
                        response = self.handle_exception(exc)
                    if response.status_code >= 500 or response.status_code == 429:
                        raise _NotStored(response)
                    _store_answer(record_pk, response)
                return response
            except _NotStored as refused:
                return refused.response
            except IntegrityError:
                if inserted:
                    raise
                existing = _stored(request.user, key)
                if existing is None or existing.status_code is None:
                    continue  # rolled back in between, or past its TTL (deleted): run again
                return _replay(existing, digest)
            except DatabaseError as exc:
                if attempt == MAX_ATTEMPTS or not is_retryable(exc):
                    raise
                time.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise ApplicationError(_("The request with this Idempotency-Key is busy; retry."), code="IDEMPOTENCY_KEY_BUSY")

    wrapper.idempotent = True  # type: ignore[attr-defined]  # read by core.api.schema
    return wrapper


def _stored(user: Any, key: str) -> IdempotencyRecord | None:
    """The key's record when it is live; one past the TTL is deleted (the key may be used again)."""
    existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
    ttl = timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    if existing is not None and existing.created_at < timezone.now() - ttl:
        IdempotencyRecord.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
        return None
    return existing


def _recorded_with_effect(
    view_method: View, view: Any, request: Request, key: str, digest: str, args: Any, kwargs: Any
) -> Response:
    """Run the view, whose service writes the key's record with its effect; store a refusal's answer
    after it; replay the record another request wrote first."""
    user_id = request.user.pk
    assert user_id is not None  # authenticated
    for _attempt in range(MAX_ATTEMPTS):
        pending = _Pending(user_id, key, request.method or "", request.path[:255], digest, [])
        request._idempotency_pending = pending  # type: ignore[attr-defined]  # read by key_record
        try:
            response: Response | None = view_method(view, request, *args, **kwargs)
        except KeyTaken:
            response = None
        except Exception as exc:  # an error answer is stored too, unless it is a server error
            response = view.handle_exception(exc)
        finally:
            del request._idempotency_pending  # type: ignore[attr-defined]
        if response is not None:
            if any(record.written for record in pending.records):
                return response
            if response.status_code < 400:
                raise RuntimeError(f"{view_method.__qualname__} answered without writing its Idempotency-Key's record")
            if response.status_code >= 500 or response.status_code == 429:
                return response
            refusal = pending.record(lambda answered: answered.data, response.status_code)
            try:
                refusal.insert(response)
                return response
            except KeyTaken:
                pass  # another request with the key stored its answer first: replay that one
        existing = _stored(request.user, key)
        if existing is not None and existing.status_code is not None:
            return _replay(existing, digest)
    raise ApplicationError(_("The request with this Idempotency-Key is busy; retry."), code="IDEMPOTENCY_KEY_BUSY")
