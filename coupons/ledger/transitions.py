"""The life of a held coupon: one map of the moves a ``UserCoupon.status`` may make, and one refusal.

UNUSED -> LOCKED (an order is placed with it), EXPIRED (the sweep), REVOKED (its template is stopped
with "revoke unused"); LOCKED -> USED (the order is paid), UNUSED / EXPIRED / REVOKED (the order is
cancelled: returned, returned after its end, forfeited). USED, EXPIRED and REVOKED are final.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from core.errors import InvalidTransition
from coupons.models import CouponStatus, UserCoupon

C = CouponStatus

COUPON_TRANSITIONS: dict[str, frozenset[str]] = {
    C.UNUSED: frozenset({C.LOCKED, C.EXPIRED, C.REVOKED}),
    C.LOCKED: frozenset({C.USED, C.UNUSED, C.EXPIRED, C.REVOKED}),
    C.USED: frozenset(),
    C.EXPIRED: frozenset(),
    C.REVOKED: frozenset(),
}


class IllegalCouponMove(InvalidTransition):
    """A coupon asked to make a move ``COUPON_TRANSITIONS`` does not allow (409 INVALID_STATE)."""


def check_move(from_status: str, to_status: str) -> None:
    if to_status not in COUPON_TRANSITIONS[from_status]:
        raise IllegalCouponMove(
            _("A coupon that is %(status)s cannot become %(to)s.")
            % {"status": C(from_status).label, "to": C(to_status).label},
            details={"status": from_status, "to": to_status},
        )


def move(ids: list[int], *, from_status: str, to_status: str, now: datetime, **fields: Any) -> int:
    """Move the coupons ``ids`` that are still ``from_status`` to ``to_status`` (one conditional
    UPDATE); returns how many moved."""
    check_move(from_status, to_status)
    if not ids:
        return 0
    return UserCoupon.objects.filter(pk__in=ids, status=from_status).update(status=to_status, updated_at=now, **fields)


def move_all(ids: list[int], *, from_status: str, to_status: str, now: datetime, **fields: Any) -> None:
    """``move`` for rows the caller holds locked: anything but all of them moving is a broken invariant."""
    changed = move(ids, from_status=from_status, to_status=to_status, now=now, **fields)
    if changed != len(ids):
        raise RuntimeError(f"moved {changed} of {len(ids)} coupons")
