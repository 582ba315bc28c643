"""The order lifecycle after placement: pay, cancel, refund, complete.

One transition map (``ORDER_TRANSITIONS``) and one refusal (``InvalidOrderTransition``, 409
INVALID_STATE). Every transition locks the order row first, then its coupons in primary-key order, then
updates the templates' counters in primary-key order, and writes its audit record in the same
transaction; so a pay and a cancel racing on one order are serialised on the order row and the loser is
refused with INVALID_STATE.

Coupons and counters:
- pay: LOCKED -> USED (``used_at``); ``locked_count`` -1, ``used_count`` +1, ``discount_total`` + the
  money the coupon took (a gift's worth is recorded on ``OrderCoupon.gift_worth``, not here).
- cancel: with ``template.return_on_cancel`` the coupon goes back to UNUSED (EXPIRED if its
  ``expires_at`` passed meanwhile), unlinked from the order; without it the coupon is forfeited:
  REVOKED, still linked to the cancelled order. ``locked_count`` -1, and ``expired_count`` or
  ``revoked_count`` +1 as the case may be.
- refund: the coupons stay USED and the counters are unchanged (the discount was given: the refund
  pays back what the customer paid, not the coupon).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.audit import audit_record
from core.db import retry_on_conflict
from core.events import Event, emit
from coupons.ledger import coupons_consume, coupons_locked_to, coupons_release
from coupons.models import UserCoupon
from orders.errors import InvalidOrderTransition, PaymentWindowClosed
from orders.models import Order, OrderCoupon, OrderStatus

S = OrderStatus

ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED}),
    S.PAID: frozenset({S.COMPLETED, S.REFUNDED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}


# The reasons the system writes on a cancelled order, stored in English and shown in the reader's language
# (``cancel_reason_text``); a reason a customer or staff member typed is shown as typed.
TIMEOUT_REASON = gettext_noop("payment timeout")
STAFF_REASON = gettext_noop("cancelled by staff")
SYSTEM_REASONS = frozenset({TIMEOUT_REASON, STAFF_REASON})


def cancel_reason_text(reason: str) -> str:
    return _(reason) if reason in SYSTEM_REASONS else reason


def can_transition(order: Order, to_status: str) -> bool:
    return to_status in ORDER_TRANSITIONS[order.status]


def payment_window_closed(order: Order, now: datetime) -> bool:
    """Whether an unpaid order is past its payment window: the timeout job cancels it (``timeouts``)."""
    return order.created_at < now - timedelta(minutes=settings.ORDER_PAYMENT_TIMEOUT)


def transition_refusal(order: Order, to_status: str) -> InvalidOrderTransition:
    return InvalidOrderTransition(
        _("This order is %(status)s and cannot become %(to)s.")
        % {"status": order.get_status_display(), "to": S(to_status).label},
        details={"status": order.status, "to": to_status},
    )


def cancel_refusal(order: Order) -> InvalidOrderTransition:
    """Why ``order`` as read cannot be cancelled (the refusal ``order_cancel`` gives)."""
    return transition_refusal(order, S.CANCELLED)


def _lock_order(order: Order, to_status: str) -> Order:
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if not can_transition(locked, to_status):
        raise transition_refusal(locked, to_status)
    return locked


def _lock_coupons(order: Order) -> list[UserCoupon]:
    """The order's coupons still LOCKED to it, locked in primary-key order, templates attached."""
    ids = OrderCoupon.objects.filter(order_id=order.pk).values_list("coupon_id", flat=True)
    return coupons_locked_to(order_id=order.pk, coupon_ids=ids)


def _save(
    order: Order,
    *,
    actor: Any,
    from_status: str,
    action: str,
    fields: list[str],
    remark: str = "",
    data: dict[str, Any] | None = None,
) -> Order:
    order.save(update_fields=[*fields, "status", "updated_at"])
    audit_record(
        subject=order,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=order.status,
        remark=remark,
        data=data,
    )
    return order


def order_pay(*, order: Order, actor: Any) -> Order:
    """Record the payment of an order (no payment provider yet: this stands for its confirmation).

    Coupons become USED; on the customer's first paid order the FIRST_ORDER_PAID gift pack fires after
    commit (once per customer: the pack grant is unique per user and occasion); the member profile's
    ``last_order_at`` is set.

    An order past its payment window is not paid, whether or not the timeout job has reached it yet: it
    is cancelled then and there, as the job would cancel it (its coupons released), and the payment is
    refused with ``PaymentWindowClosed`` (409 INVALID_STATE).
    """
    try:
        return _pay(order=order, actor=actor)
    except PaymentWindowClosed:
        try:
            order_cancel(order=order, actor=None, reason=TIMEOUT_REASON)
        except InvalidOrderTransition:
            pass  # cancelled or paid meanwhile: the refusal stands as it is
        raise


@retry_on_conflict
def _pay(*, order: Order, actor: Any) -> Order:
    order = _lock_order(order, S.PAID)
    now = timezone.now()
    if payment_window_closed(order, now):
        raise PaymentWindowClosed(
            _("This order was not paid within %(minutes)s minutes: it has been cancelled.")
            % {"minutes": settings.ORDER_PAYMENT_TIMEOUT},
            details={"status": order.status, "to": S.PAID, "reason": "PAYMENT_TIMEOUT"},
        )
    coupons = _lock_coupons(order)
    discounts = dict(OrderCoupon.objects.filter(order_id=order.pk).values_list("coupon_id", "discount"))
    coupons_consume(order_id=order.pk, coupons=coupons, discounts=discounts, now=now)

    first = not Order.objects.filter(user_id=order.user_id, paid_at__isnull=False).exclude(pk=order.pk).exists()
    from_status = order.status
    order.status, order.paid_at = S.PAID, now
    _save(
        order,
        actor=actor,
        from_status=from_status,
        action="pay",
        fields=["paid_at"],
        data={"coupon_ids": [c.pk for c in coupons], "first_paid_order": first},
    )
    # Subscribers: the member's last order time (in this transaction) and, on a first paid order, the
    # FIRST_ORDER_PAID pack (after commit; two first orders paid at once still give one pack).
    emit(Event.ORDER_PAID, order_id=order.pk, user_id=order.user_id, first_paid_order=first, paid_at=now.isoformat())
    return order


@retry_on_conflict
def order_cancel(*, order: Order, actor: Any, reason: str = "") -> Order:
    """Cancel an unpaid order (the customer, staff, or the payment-timeout job with ``actor=None``) and
    release its coupons. An order paid meanwhile is refused with INVALID_STATE, never cancelled."""
    order = _lock_order(order, S.CANCELLED)
    now = timezone.now()
    coupons = _lock_coupons(order)
    released = coupons_release(coupons=coupons, now=now)

    from_status = order.status
    order.status, order.cancelled_at, order.cancel_reason = S.CANCELLED, now, (reason or "")[:200]
    return _save(
        order,
        actor=actor,
        from_status=from_status,
        action="cancel",
        fields=["cancelled_at", "cancel_reason"],
        remark=reason or "",
        data={
            "returned": [c.pk for c in released.returned],
            "expired": [c.pk for c in released.expired],
            "revoked": [c.pk for c in released.revoked],
        },
    )


@retry_on_conflict
def order_refund(*, order: Order, actor: Any, reason: str = "") -> Order:
    """Record a refund of a paid order (no payment provider yet). Coupons stay USED."""
    order = _lock_order(order, S.REFUNDED)
    from_status = order.status
    order.status, order.refunded_at = S.REFUNDED, timezone.now()
    _save(order, actor=actor, from_status=from_status, action="refund", fields=["refunded_at"], remark=reason or "")
    emit(Event.ORDER_REFUNDED, order_id=order.pk, user_id=order.user_id)
    return order


@retry_on_conflict
def order_complete(*, order: Order, actor: Any) -> Order:
    """A paid order was served."""
    order = _lock_order(order, S.COMPLETED)
    from_status = order.status
    order.status = S.COMPLETED
    return _save(order, actor=actor, from_status=from_status, action="complete", fields=[])
