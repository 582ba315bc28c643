"""Idempotency-Key handling for state-changing POSTs, after Stripe's design.

The first response of a key (even an error) is stored and replayed for 24 hours; the same key with a
different request is refused (422); concurrent requests with one key wait for the first and replay it,
so they cause one effect. A 5xx is not stored, so the client may retry it.
"""

import functools
import hashlib
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import ApplicationError, IdempotencyMismatch, ValidationFailed
from core.models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
WAIT_SECONDS = 30.0


def _request_hash(request: Request) -> str:
    try:
        body: Any = request.data
    except Exception:  # malformed bodies hash by their bytes
        body = request.body.decode("utf-8", "replace")
    payload = json.dumps({"method": request.method, "path": request.path, "body": body}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _claim(user: Any, key: str, request: Request, digest: str) -> tuple[IdempotencyRecord, bool]:
    ttl = timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=user, key=key, method=request.method or "", path=request.path[:255], request_hash=digest
                )
            return record, True
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
            if existing is None:
                continue
            if existing.created_at < timezone.now() - ttl:
                IdempotencyRecord.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
                continue
            return existing, False
    raise ApplicationError(_("The idempotency key is busy; retry."), code="IDEMPOTENCY_KEY_BUSY")


def _wait_for(record: IdempotencyRecord) -> IdempotencyRecord | None:
    deadline = time.monotonic() + WAIT_SECONDS
    delay = 0.005
    while time.monotonic() < deadline:
        current = IdempotencyRecord.objects.filter(pk=record.pk).first()
        if current is None or current.status_code is not None:
            return current
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    return None


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
        record, created = _claim(request.user, key, request, digest)
        if not created:
            if record.request_hash != digest:
                raise IdempotencyMismatch(_("This Idempotency-Key was used with a different request."))
            done = record if record.status_code is not None else _wait_for(record)
            if done is None:
                raise ApplicationError(
                    _("The first request with this key is still running; retry."), code="IDEMPOTENCY_KEY_BUSY"
                )
            response = Response(done.response_body, status=done.status_code)
            response["Idempotent-Replayed"] = "true"
            return response
        try:
            response = view_method(self, request, *args, **kwargs)
        except Exception as exc:  # an error response is stored too, unless it is a server error
            try:
                response = self.handle_exception(exc)
            except Exception:
                IdempotencyRecord.objects.filter(pk=record.pk).delete()
                raise
        if response.status_code >= 500:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            return response
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            status_code=response.status_code, response_body=response.data
        )
        return response

    return wrapper
