"""The ledger of coupons: the one writer of held coupons (``UserCoupon``), per-user quotas
(``ClaimQuota``) and a template's counters (``issued_quantity``, ``locked_count``, ``used_count``,
``expired_count``, ``revoked_count``, ``discount_total``).

- ``issuing``: issue one user's coupons (``issue_coupons``, ``issue_now``) or one coupon each to many
  users (``issue_many``); stock and quotas are taken by conditional statements.
- ``holds``: lock coupons for an order, consume them when it is paid, release them when it is cancelled;
  revoke a stopped template's unused coupons.
- ``expiry``: expire the coupons that are due.
- ``transitions``: ``COUPON_TRANSITIONS`` and ``IllegalCouponMove``; ``counters``: adding to counters.
- ``gate``: the Redis mirror of a template's stock that answers a claim before the database does.

Everything else (orders, marketing, admin, jobs) calls these functions; none writes those tables.
"""

from coupons.issuable import issuable_now
from coupons.ledger.bulk import ManyIssued, issue_many
from coupons.ledger.expiry import SweepResult, coupons_expire_due
from coupons.ledger.holds import (
    Released,
    coupons_consume,
    coupons_lock_for_order,
    coupons_locked_to,
    coupons_redate,
    coupons_release,
    coupons_revoke_unused,
)
from coupons.ledger.issuing import (
    MAX_ISSUE_QUANTITY,
    LimitReached,
    NotClaimable,
    NotEligible,
    SoldOut,
    issue_coupons,
    issue_now,
    limit_reached_error,
    not_claimable_error,
    not_eligible_error,
    sold_out_error,
    with_fresh_codes,
)
from coupons.ledger.transitions import COUPON_TRANSITIONS, IllegalCouponMove

__all__ = [
    "COUPON_TRANSITIONS",
    "MAX_ISSUE_QUANTITY",
    "IllegalCouponMove",
    "LimitReached",
    "ManyIssued",
    "NotClaimable",
    "NotEligible",
    "Released",
    "SoldOut",
    "SweepResult",
    "coupons_redate",
    "coupons_consume",
    "coupons_expire_due",
    "coupons_lock_for_order",
    "coupons_locked_to",
    "coupons_release",
    "coupons_revoke_unused",
    "issuable_now",
    "issue_coupons",
    "issue_many",
    "issue_now",
    "limit_reached_error",
    "not_claimable_error",
    "not_eligible_error",
    "sold_out_error",
    "with_fresh_codes",
]
