"""Sending a delivery: claim it, POST it signed, record the attempt, and decide what comes next.

A sender claims a delivery as it starts sending it, by one conditional UPDATE (due PENDING, or SENDING
with a claim older than WEBHOOK_CLAIM_TIMEOUT, whose sender died) that also counts the attempt: two
senders never send one delivery at the same time, a sender killed mid-request leaves a claim that ages
into a new send, and a delivery that only waits in the broker's queue uses up no attempt, however long it
waits. So every delivery arrives at least once; a receiver drops repeats by the event id
(``X-Webhook-Id``). The request goes out with no database transaction or lock held, and ends within
WEBHOOK_TIMEOUT_SECONDS as a whole (``webhooks.addresses``), far inside WEBHOOK_CLAIM_TIMEOUT (the system
check ``webhooks.W001`` says when it is not), so a claim only ages past it when its sender is gone.

Whatever goes wrong once a delivery is claimed, an exception of the sender's own included, ends as a
failed attempt with its backoff and the attempt limit; a claim left by a sender that died on the last
attempt ends the delivery FAILED rather than sending it once more.

Nothing is sent to a deactivated endpoint: a delivery to one ends FAILED when it comes due, unsent.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.client import HTTPException
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import InvalidTransition, PermissionDeniedError
from webhooks.addresses import opener
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from webhooks.signing import sign

logger = logging.getLogger(__name__)

S = DeliveryStatus
USER_AGENT = "coupons-webhooks/1.0"


@dataclass(frozen=True)
class Outcome:
    status: str
    retry_in: float | None  # seconds until the next attempt is due (PENDING), else None


def retry_delay(attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): doubling from the base."""
    return float(min(settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt - 1), settings.WEBHOOK_RETRY_MAX_SECONDS))


def _sendable(now: datetime) -> Q:
    stale = now - timedelta(seconds=settings.WEBHOOK_CLAIM_TIMEOUT)
    return Q(status=S.PENDING, next_attempt_at__lte=now) | Q(status=S.SENDING, claimed_at__lt=stale)


def delivery_claim(*, delivery: WebhookDelivery, now: datetime | None = None) -> int | None:
    """Claim ``delivery``, as it was read, to send it now, if it is due (or its sender died): counts the
    attempt and stamps the claim. The attempt number, or None if not ours (sent, not due, changed since
    it was read, another sender has it)."""
    now = now or timezone.now()
    attempts = delivery.attempts
    if delivery.status == S.SENDING and attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        return None  # its sender died on the last attempt: ended by ``delivery_send``, not sent again
    claimed = WebhookDelivery.objects.filter(_sendable(now), pk=delivery.pk, attempts=attempts).update(
        status=S.SENDING, claimed_at=now, attempts=attempts + 1, updated_at=now
    )
    return attempts + 1 if claimed else None


def deliveries_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """The deliveries that are due or whose sender died, longest due first (the every-minute job queues
    them). Nothing is claimed here: whoever sends one claims it then, so one queued twice is sent once."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(_sendable(now))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def request_body(delivery: WebhookDelivery) -> bytes:
    return json.dumps(
        {
            "id": str(delivery.event_id),
            "type": delivery.event_type,
            "created_at": delivery.occurred_at.isoformat(),
            "data": delivery.payload,
        },
        cls=DjangoJSONEncoder,
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer that is not 2xx, not a place to send the secret's signature


_opener = opener(_NoRedirect)  # checked addresses only (``webhooks.addresses``)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read(1024)
            code = response.status
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except urllib.error.URLError as exc:
        return None, (str(exc.reason) or repr(exc.reason))[:500]
    except (OSError, HTTPException, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    return code, "" if 200 <= code < 300 else f"HTTP {code}"


def delivery_send(*, delivery_id: int) -> Outcome | None:
    """Send one delivery if it is due (or its sender died), claiming it as the request starts. None when
    the delivery is not this caller's to send (already sent, not due, another sender has it). One to a
    deactivated endpoint is not sent: it ends FAILED, with no attempt counted; nor is one whose sender died
    on the last attempt: it ends FAILED, with that attempt logged as lost."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        return None
    if not delivery.endpoint.is_active:
        return _end_unsent(delivery, _("Not sent: the endpoint is deactivated."))
    if delivery.status == S.SENDING and delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        return _end_lost(delivery)
    attempt = delivery_claim(delivery=delivery)
    if attempt is None:
        return None
    started_at = timezone.now()
    started = time.monotonic()
    try:
        status_code, error = _send(delivery, attempt)
    except Exception as exc:
        # A fault of the sender's own is an attempt like any other: left unrecorded, the claim would stay
        # SENDING and be taken over every WEBHOOK_CLAIM_TIMEOUT, with no backoff and no end.
        logger.exception(
            "webhook %s to %s, attempt %s: the sender failed", delivery.event_id, delivery.endpoint.url, attempt
        )
        status_code, error = None, f"{type(exc).__name__}: {exc}"
        if delivery.endpoint.secret:  # whatever the message holds, the attempt log never shows the secret
            error = error.replace(delivery.endpoint.secret, "[secret]")
        error = error[:500]
    latency_ms = int((time.monotonic() - started) * 1000)
    return _record(delivery, attempt, started_at, status_code, error, latency_ms)


def _send(delivery: WebhookDelivery, attempt: int) -> tuple[int | None, str]:
    body = request_body(delivery)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Webhook-Id": str(delivery.event_id),
        "X-Webhook-Event": delivery.event_type,
        "X-Webhook-Timestamp": timestamp,
        "X-Webhook-Signature": sign(secret=delivery.endpoint.secret, timestamp=timestamp, body=body),
        "X-Webhook-Attempt": str(attempt),
    }
    return _post(delivery.endpoint.url, body, headers)


def _failed(deliveries: Any, error: str, now: Any) -> int:
    """End ``deliveries`` FAILED with ``error``, nothing more to send; how many were still as read."""
    return deliveries.update(
        status=S.FAILED,
        last_status_code=None,
        last_error=error,
        last_latency_ms=None,
        next_attempt_at=None,
        claimed_at=None,
        updated_at=now,
    )


def _end_unsent(delivery: WebhookDelivery, error: str) -> Outcome | None:
    """End a delivery as FAILED without a request (no attempt), if it is still there to send as read."""
    now = timezone.now()
    ended = _failed(
        WebhookDelivery.objects.filter(_sendable(now), pk=delivery.pk, attempts=delivery.attempts), error, now
    )
    if not ended:
        return None
    logger.warning("webhook %s to %s not sent: %s", delivery.event_id, delivery.endpoint.url, error)
    return Outcome(S.FAILED, None)


def _end_lost(delivery: WebhookDelivery) -> Outcome | None:
    """End FAILED a delivery whose sender died on its last attempt (its claim aged past the timeout), logging
    that attempt, if the claim is still there as read."""
    now = timezone.now()
    error = _("The sender of the last attempt was lost before it recorded an answer.")
    with transaction.atomic():
        claimed = WebhookDelivery.objects.filter(
            _sendable(now), pk=delivery.pk, status=S.SENDING, attempts=delivery.attempts
        )
        ended = _failed(claimed, error, now)
        if not ended:
            return None
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            started_at=delivery.claimed_at or now,
            status_code=None,
            error=error,
            latency_ms=None,
        )
    logger.warning(
        "webhook %s to %s, attempt %s: %s", delivery.event_id, delivery.endpoint.url, delivery.attempts, error
    )
    return Outcome(S.FAILED, None)


def _record(
    delivery: WebhookDelivery, attempt: int, started_at: datetime, status_code: int | None, error: str, latency_ms: int
) -> Outcome:
    now = timezone.now()
    delivered = status_code is not None and 200 <= status_code < 300
    if delivered:
        error = ""
    elif not error:  # a failed attempt always says why
        error = f"HTTP {status_code}" if status_code is not None else "no response"
    fields: dict[str, Any] = {
        "last_status_code": status_code,
        "last_error": error,
        "last_latency_ms": latency_ms,
        "claimed_at": None,
        "updated_at": now,
    }
    retry_in = None
    if delivered:
        fields.update(status=S.DELIVERED, delivered_at=now, next_attempt_at=None)
    elif attempt >= settings.WEBHOOK_MAX_ATTEMPTS:
        fields.update(status=S.FAILED, next_attempt_at=None)
    else:
        retry_in = retry_delay(attempt)
        fields.update(status=S.PENDING, next_attempt_at=now + timedelta(seconds=retry_in))
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=attempt,
            started_at=started_at,
            status_code=status_code,
            error=error,
            latency_ms=latency_ms,
        )
        # Only while the claim is still ours: a sender that was thought dead must not undo a later send.
        WebhookDelivery.objects.filter(pk=delivery.pk, status=S.SENDING, attempts=attempt).update(**fields)
    if not delivered:
        logger.warning("webhook %s to %s, attempt %s: %s", delivery.event_id, delivery.endpoint.url, attempt, error)
    return Outcome(fields["status"], retry_in)


@transaction.atomic
def delivery_retry_now(*, delivery: WebhookDelivery, actor: Any) -> WebhookDelivery:
    """Make a pending or failed delivery due now (a failed one gets one more attempt). Refused while its
    endpoint is deactivated: nothing more is sent to it."""
    if actor is None or not actor.has_perm("webhooks.retry_webhookdelivery"):
        raise PermissionDeniedError(_("You do not have permission to do this."))
    locked = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    if locked.status not in (S.PENDING, S.FAILED):
        raise InvalidTransition(
            _("Only a pending or failed delivery can be retried."), details={"status": locked.status}
        )
    if not locked.endpoint.is_active:
        raise InvalidTransition(
            _("This delivery's endpoint is deactivated: reactivate the endpoint to retry its deliveries."),
            details={"endpoint_id": locked.endpoint_id, "endpoint_is_active": False},
        )
    from_status = locked.status
    locked.status = S.PENDING
    locked.next_attempt_at = timezone.now()
    locked.save(update_fields=["status", "next_attempt_at", "updated_at"])
    audit_record(subject=locked, actor=actor, action="retry", from_status=from_status, to_status=S.PENDING)
    return locked
