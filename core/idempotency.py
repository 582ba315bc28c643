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
"""

import functools
import hashlib
import json
import random
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

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
    try:
        body: Any = request.data
    except Exception:  # malformed bodies hash by their bytes
        body = request.body.decode("utf-8", "replace")
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


def _replay(record: IdempotencyRecord, digest: str) -> Response:
    if record.request_hash != digest:
        raise IdempotencyMismatch(_("This Idempotency-Key was used with a different request."))
    response = Response(record.response_body, status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(view_method: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate an APIView's ``post`` so an ``Idempotency-Key`` header makes it safe to repeat."""

    @functools.wraps(view_method)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.META.get(HEADER)
        if not key or not request.user.is_authenticated:
            return view_method(self, request, *args, **kwargs)
        if len(key) > 255:
            raise ValidationFailed(_("Idempotency-Key is too long (255 characters at most)."))
        digest = _request_hash(request)
        ttl = timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
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
                existing = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
                if existing is None:
                    continue  # the first request rolled back in between: run again
                if existing.created_at < timezone.now() - ttl:
                    IdempotencyRecord.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
                    continue
                if existing.status_code is None:
                    continue
                return _replay(existing, digest)
            except DatabaseError as exc:
                if attempt == MAX_ATTEMPTS or not is_retryable(exc):
                    raise
                time.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise ApplicationError(_("The request with this Idempotency-Key is busy; retry."), code="IDEMPOTENCY_KEY_BUSY")

    wrapper.idempotent = True  # type: ignore[attr-defined]  # read by core.api.schema
    return wrapper
