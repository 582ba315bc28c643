"""The unpaid-order timeout job: cancel orders left unpaid past ORDER_PAYMENT_TIMEOUT."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from core.errors import InvalidTransition
from orders.models import Order, OrderStatus
from orders.services.lifecycle import TIMEOUT_REASON, order_cancel


def orders_cancel_unpaid(*, now: datetime | None = None, batch_size: int = 200, max_batches: int = 50) -> int:
    """Cancel unpaid orders older than the timeout, each in its own transaction, releasing their coupons.

    An order paid (or cancelled) between the query and its lock is skipped: ``order_cancel`` re-checks the
    status under the row lock, so a payment never loses to the job and two jobs never cancel twice.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.ORDER_PAYMENT_TIMEOUT)
    cancelled = 0
    last_id = 0
    for _batch in range(max_batches):
        ids = list(
            Order.objects.filter(status=OrderStatus.PENDING_PAYMENT, created_at__lt=cutoff, id__gt=last_id)
            .order_by("id")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            break
        for order_id in ids:
            try:
                order_cancel(order=Order(pk=order_id), actor=None, reason=TIMEOUT_REASON)
            except InvalidTransition:
                continue
            cancelled += 1
        last_id = ids[-1]
    return cancelled
