"""Events into the outbox: one delivery row per (event, active endpoint subscribed to its type), written
inside the transaction that made the event true, so it commits or rolls back with the change.

``coupon.issued`` fires on the claim hot path: when no active endpoint subscribes to an event, recording
it costs a look-up in a per-process set of subscribed event types. The set is dropped when an endpoint
changes in this process and re-read every WEBHOOK_EVENT_TYPES_TTL seconds, so other processes see a
new subscription within that time.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from django.conf import settings
from django.utils import timezone

from core.events import Event
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

# (valid until, by time.monotonic(); the subscribed event types)
_types: tuple[float, frozenset[str]] | None = None
# Deliveries written in this thread and not yet handed to the broker (taken after commit).
_local = threading.local()
_MAX_PENDING = 10_000


def subscribed_event_types() -> frozenset[str]:
    global _types
    cached = _types
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cached[1]
    types = frozenset(
        event_type
        for event_types in WebhookEndpoint.objects.filter(is_active=True).values_list("event_types", flat=True)
        for event_type in event_types or ()
    )
    _types = (now + settings.WEBHOOK_EVENT_TYPES_TTL, types)
    return types


def forget_event_types() -> None:
    global _types
    _types = None


def _pending() -> list[int]:
    pending = getattr(_local, "pending", None)
    if pending is None:
        pending = _local.pending = []
    return pending


def take_pending() -> list[int]:
    """The deliveries written in this thread since the last call (some may belong to a transaction that
    rolled back: sending one finds no row and does nothing)."""
    pending = _pending()
    taken = pending[:]
    pending.clear()
    return taken


def record_event(*, event: Event, **payload: Any) -> None:
    """Subscribed to every event with ``in_transaction=True``. No ``atomic`` here: it also runs inside
    the claim's plain ``START TRANSACTION``."""
    if event not in subscribed_event_types():
        return
    endpoint_ids = [
        pk
        for pk, event_types in WebhookEndpoint.objects.filter(is_active=True).values_list("pk", "event_types")
        if event in (event_types or ())
    ]
    if endpoint_ids:
        deliveries_write(event_type=str(event), payload=payload, endpoint_ids=endpoint_ids)


def deliveries_write(*, event_type: str, payload: dict[str, Any], endpoint_ids: list[int]) -> list[WebhookDelivery]:
    """One delivery per endpoint of one event (one event id), due now."""
    event_id = uuid.uuid4()
    now = timezone.now()
    written = [
        WebhookDelivery.objects.create(
            event_id=event_id,
            event_type=event_type,
            payload=payload,
            occurred_at=now,
            endpoint_id=endpoint_id,
            status=DeliveryStatus.PENDING,
            next_attempt_at=now,
        )
        for endpoint_id in endpoint_ids
    ]
    pending = _pending()
    if len(pending) < _MAX_PENDING:  # past it, the every-minute job sends them
        pending.extend(delivery.pk for delivery in written)
    return written
