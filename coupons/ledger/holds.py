"""Coupons held by an order: locked when it is placed, consumed when it is paid, released when it is
cancelled.

The caller (checkout, the order lifecycle) holds the order row locked. Coupon rows are locked in
primary-key order, and the template counters are written last, in primary-key order: the template
rows are the hot ones.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from core.events import Event, emit
from coupons.ledger.counters import add_to_counters
from coupons.ledger.transitions import check_move, move, move_all
from coupons.models import CouponStatus, CouponTemplate, UserCoupon

C = CouponStatus


def coupons_lock_for_order(*, order_id: int, template_of: Mapping[int, int], now: datetime) -> None:
    """UNUSED -> LOCKED for the coupons ``template_of`` names (coupon id -> template id), linked to the
    order; ``locked_count`` +1 per coupon. The caller holds the coupon rows locked and saw them UNUSED."""
    coupon_ids = list(template_of)
    if not coupon_ids:
        return
    changed = move(coupon_ids, from_status=C.UNUSED, to_status=C.LOCKED, now=now, order_id=order_id)
    # The rows are locked and were UNUSED when checked: anything else is a broken invariant.
    if changed != len(coupon_ids):
        raise RuntimeError(f"order {order_id}: locked {changed} of {len(coupon_ids)} coupons")
    per_template = Counter(template_of[coupon_id] for coupon_id in coupon_ids)
    add_to_counters({template_id: {"locked_count": n} for template_id, n in per_template.items()})


def coupons_locked_to(*, order_id: int, coupon_ids: Iterable[int]) -> list[UserCoupon]:
    """The coupons among ``coupon_ids`` still LOCKED to the order, row-locked in primary-key order,
    their templates attached."""
    ids = list(coupon_ids)
    if not ids:
        return []
    coupons = [
        c
        for c in UserCoupon.objects.select_for_update().filter(pk__in=ids).order_by("pk")
        if c.status == C.LOCKED and c.order_id == order_id
    ]
    templates = CouponTemplate.objects.in_bulk({c.template_id for c in coupons})
    for coupon in coupons:
        coupon.template = templates[coupon.template_id]
    return coupons


def coupons_consume(
    *, order_id: int, coupons: list[UserCoupon], discounts: Mapping[int, Decimal], now: datetime
) -> None:
    """LOCKED -> USED (``used_at``) for an order paid; ``locked_count`` -1, ``used_count`` +1,
    ``discount_total`` + the money each coupon took. ``coupons`` come from ``coupons_locked_to``."""
    move_all([c.pk for c in coupons], from_status=C.LOCKED, to_status=C.USED, now=now, used_at=now)
    changes: dict[int, dict[str, int | Decimal]] = defaultdict(lambda: {"locked_count": 0, "used_count": 0})
    for coupon in coupons:
        change = changes[coupon.template_id]
        change["locked_count"] -= 1
        change["used_count"] += 1
        change["discount_total"] = change.get("discount_total", Decimal("0.00")) + discounts[coupon.pk]
    add_to_counters(changes)
    if coupons:
        emit(Event.COUPON_USED, coupon_ids=[c.pk for c in coupons], order_id=order_id)


@dataclass
class Released:
    returned: list[UserCoupon] = field(default_factory=list)
    expired: list[UserCoupon] = field(default_factory=list)
    revoked: list[UserCoupon] = field(default_factory=list)


def coupons_release(*, coupons: list[UserCoupon], now: datetime) -> Released:
    """Let go of the coupons of a cancelled order. ``coupons`` come from ``coupons_locked_to``.

    A coupon goes back (UNUSED, unlinked; EXPIRED if its ``expires_at`` passed meanwhile) only if its
    template returns coupons on cancel and was not stopped with "revoke unused" while the order was
    open; else it is forfeited (REVOKED, still linked to the order). ``locked_count`` -1 each, and
    ``expired_count`` or ``revoked_count`` +1 as the case may be.
    """
    if not coupons:
        return Released()
    # The terms are read again under the templates' row locks (coupons first, then templates: this module's
    # order). A stop with "revoke unused" that committed after ``coupons_locked_to`` read them is seen here;
    # one still running finishes first.
    terms = (
        CouponTemplate.objects.select_for_update()
        .filter(pk__in={c.template_id for c in coupons})
        .order_by("pk")
        .values_list("pk", "return_on_cancel", "unused_revoked")
    )
    returning = {pk for pk, returns, revoked in terms if returns and not revoked}
    returnable = [c for c in coupons if c.template_id in returning]
    released = Released(
        returned=[c for c in returnable if c.expires_at > now],
        expired=[c for c in returnable if c.expires_at <= now],
        revoked=[c for c in coupons if c not in returnable],
    )
    move_all([c.pk for c in released.returned], from_status=C.LOCKED, to_status=C.UNUSED, now=now, order=None)
    move_all([c.pk for c in released.expired], from_status=C.LOCKED, to_status=C.EXPIRED, now=now, order=None)
    move_all([c.pk for c in released.revoked], from_status=C.LOCKED, to_status=C.REVOKED, now=now)
    changes: dict[int, dict[str, int | Decimal]] = defaultdict(lambda: {"locked_count": 0})
    for coupon in coupons:
        changes[coupon.template_id]["locked_count"] -= 1
    for group, counter in ((released.expired, "expired_count"), (released.revoked, "revoked_count")):
        for coupon in group:
            changes[coupon.template_id][counter] = changes[coupon.template_id].get(counter, 0) + 1
    add_to_counters(changes)
    return released


def coupons_revoke_unused(*, template: CouponTemplate, now: datetime) -> int:
    """Every UNUSED coupon of a template being stopped becomes REVOKED; ``revoked_count`` grows by as
    many and the template is marked ``unused_revoked``. The caller holds the template row locked and
    saves nothing else of it here. LOCKED coupons finish their orders."""
    check_move(C.UNUSED, C.REVOKED)
    revoked = UserCoupon.objects.filter(template=template, status=C.UNUSED).update(status=C.REVOKED, updated_at=now)
    template.revoked_count += revoked
    template.unused_revoked = True
    template.save(update_fields=["revoked_count", "unused_revoked"])
    return revoked


# The dates demo data may move; a status or a counter never changes this way.
REDATABLE = frozenset({"acquired_at", "valid_from", "expires_at", "used_at"})


def coupons_redate(*, coupon_ids: list[int], **dates: datetime) -> int:
    """Move the dates of coupons into the past, as if they had been issued or used then (demo data: a
    history for the dashboard, a coupon the expiry sweep will end). Statuses and counters stay."""
    unknown = set(dates) - REDATABLE
    if unknown:
        raise ValueError(f"not a date a coupon may be moved by: {sorted(unknown)}")
    return UserCoupon.objects.filter(pk__in=coupon_ids).update(**dates)
