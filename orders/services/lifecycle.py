"""The order lifecycle after placement: pay, cancel, refund, complete (SPEC 7).

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

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.db import retry_on_conflict
from coupons.models import CouponStatus, CouponTemplate, UserCoupon
from marketing.models import MemberProfile
from orders.errors import InvalidOrderTransition
from orders.models import Order, OrderCoupon, OrderStatus

S = OrderStatus

ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED}),
    S.PAID: frozenset({S.COMPLETED, S.REFUNDED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}


def can_transition(order: Order, to_status: str) -> bool:
    return to_status in ORDER_TRANSITIONS[order.status]


def _lock_order(order: Order, to_status: str) -> Order:
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if not can_transition(locked, to_status):
        raise InvalidOrderTransition(
            _("This order is %(status)s and cannot become %(to)s.")
            % {"status": locked.get_status_display(), "to": S(to_status).label},
            details={"status": locked.status, "to": to_status},
        )
    return locked


def _lock_coupons(order: Order) -> list[UserCoupon]:
    """The order's coupons still LOCKED to it, locked in primary-key order, templates attached."""
    ids = list(OrderCoupon.objects.filter(order_id=order.pk).values_list("coupon_id", flat=True))
    if not ids:
        return []
    coupons = [
        c
        for c in UserCoupon.objects.select_for_update().filter(pk__in=ids).order_by("pk")
        if c.status == CouponStatus.LOCKED and c.order_id == order.pk
    ]
    templates = CouponTemplate.objects.in_bulk({c.template_id for c in coupons})
    for coupon in coupons:
        coupon.template = templates[coupon.template_id]
    return coupons


def _bump_templates(changes: dict[int, dict[str, Any]]) -> None:
    """Add to template counters with F() in primary-key order (the lock order of template rows)."""
    for template_id in sorted(changes):
        deltas = {field: F(field) + delta for field, delta in changes[template_id].items() if delta}
        if deltas:
            CouponTemplate.objects.filter(pk=template_id).update(**deltas)


def _move(coupons: Iterable[UserCoupon], **fields: Any) -> None:
    ids = [c.pk for c in coupons]
    if not ids:
        return
    changed = UserCoupon.objects.filter(pk__in=ids, status=CouponStatus.LOCKED).update(**fields)
    if changed != len(ids):  # the rows are locked: anything else is a broken invariant
        raise RuntimeError(f"moved {changed} of {len(ids)} coupons")


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


@retry_on_conflict
def order_pay(*, order: Order, actor: Any) -> Order:
    """Record the payment of an order (no payment provider yet: this stands for its confirmation).

    Coupons become USED; on the customer's first paid order the FIRST_ORDER_PAID gift pack fires after
    commit (once per customer: the pack grant is unique per user and occasion); the member profile's
    ``last_order_at`` is set.
    """
    order = _lock_order(order, S.PAID)
    now = timezone.now()
    coupons = _lock_coupons(order)
    _move(coupons, status=CouponStatus.USED, used_at=now, updated_at=now)
    discounts = dict(OrderCoupon.objects.filter(order_id=order.pk).values_list("coupon_id", "discount"))
    changes: dict[int, dict[str, Any]] = defaultdict(lambda: {"locked_count": 0, "used_count": 0})
    for coupon in coupons:
        change = changes[coupon.template_id]
        change["locked_count"] -= 1
        change["used_count"] += 1
        change["discount_total"] = change.get("discount_total", Decimal("0.00")) + discounts[coupon.pk]
    _bump_templates(changes)

    first = not Order.objects.filter(user_id=order.user_id, paid_at__isnull=False).exclude(pk=order.pk).exists()
    MemberProfile.objects.filter(user_id=order.user_id).update(last_order_at=now)
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
    if first:
        from marketing.triggers import on_first_order_paid

        # Fires after commit; two first orders paid at once still give one pack (unique grant key).
        on_first_order_paid(user_id=order.user_id, order_id=order.pk)
    return order


@retry_on_conflict
def order_cancel(*, order: Order, actor: Any, reason: str = "") -> Order:
    """Cancel an unpaid order (the customer, staff, or the payment-timeout job with ``actor=None``) and
    release its coupons. An order paid meanwhile is refused with INVALID_STATE, never cancelled."""
    order = _lock_order(order, S.CANCELLED)
    now = timezone.now()
    coupons = _lock_coupons(order)
    # A coupon goes back only if its template returns coupons on cancel and was not stopped with
    # "revoke unused" while the order was open; else it is forfeited (REVOKED).
    returnable = [c for c in coupons if c.template.return_on_cancel and not c.template.unused_revoked]
    returned = [c for c in returnable if c.expires_at > now]
    expired = [c for c in returnable if c.expires_at <= now]
    revoked = [c for c in coupons if c not in returnable]
    _move(returned, status=CouponStatus.UNUSED, order=None, updated_at=now)
    _move(expired, status=CouponStatus.EXPIRED, order=None, updated_at=now)
    _move(revoked, status=CouponStatus.REVOKED, updated_at=now)
    changes: dict[int, dict[str, Any]] = defaultdict(lambda: {"locked_count": 0})
    for coupon in coupons:
        changes[coupon.template_id]["locked_count"] -= 1
    for group, field in ((expired, "expired_count"), (revoked, "revoked_count")):
        for coupon in group:
            changes[coupon.template_id][field] = changes[coupon.template_id].get(field, 0) + 1
    _bump_templates(changes)

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
            "returned": [c.pk for c in returned],
            "expired": [c.pk for c in expired],
            "revoked": [c.pk for c in revoked],
        },
    )


@retry_on_conflict
def order_refund(*, order: Order, actor: Any, reason: str = "") -> Order:
    """Record a refund of a paid order (no payment provider yet). Coupons stay USED."""
    order = _lock_order(order, S.REFUNDED)
    from_status = order.status
    order.status, order.refunded_at = S.REFUNDED, timezone.now()
    return _save(
        order, actor=actor, from_status=from_status, action="refund", fields=["refunded_at"], remark=reason or ""
    )


@retry_on_conflict
def order_complete(*, order: Order, actor: Any) -> Order:
    """A paid order was served."""
    order = _lock_order(order, S.COMPLETED)
    from_status = order.status
    order.status = S.COMPLETED
    return _save(order, actor=actor, from_status=from_status, action="complete", fields=[])
