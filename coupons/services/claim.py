"""Claiming a coupon from the claim center."""

from __future__ import annotations

import time
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import NotFound
from core.idempotency import KeyRecord
from coupons.issuable import issuable_now
from coupons.ledger import gate
from coupons.ledger.issuing import (
    NotClaimable,
    issue_now,
    not_claimable_error,
    not_eligible_error,
    sold_out_error,
)
from coupons.models import CouponSource, CouponTemplate, TemplateStatus, UserCoupon
from coupons.services.eligibility import in_target, member_for, needs_member

# Approved templates read by this process. An approved template's definition never changes (it is
# copied to change it); its status may, and the stock UPDATE re-checks that on every claim.
TEMPLATE_CACHE_SECONDS = 30.0
TEMPLATE_CACHE_SIZE = 2_000
_templates: dict[int, tuple[float, CouponTemplate]] = {}


def approved_template(template_id: int) -> CouponTemplate | None:
    """The template, from this process's cache when it was approved when last read."""
    now = time.monotonic()
    hit = _templates.get(template_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    template = CouponTemplate.objects.filter(pk=template_id).first()
    if template is not None and template.status == TemplateStatus.APPROVED:
        if len(_templates) >= TEMPLATE_CACHE_SIZE:
            _templates.clear()
        _templates[template_id] = (now + TEMPLATE_CACHE_SECONDS, template)
    return template


def forget_templates() -> None:
    _templates.clear()


# Statuses of a template that customers have never been offered.
UNRELEASED = frozenset({TemplateStatus.DRAFT, TemplateStatus.PENDING_REVIEW, TemplateStatus.REJECTED})


def coupon_claim(*, user: Any, template_id: int, record: KeyRecord | None = None) -> UserCoupon:
    """Claim one coupon of a live template for ``user``.

    ``record``, the request's Idempotency-Key record, is written with the coupon (``issue_now``).

    The admission gate answers first: a template it knows is sold out or closed is refused without a
    database query. Then the template must be approved, inside its claim window, visible in the claim
    center and targeted at the user; stock and the per-user limit are taken by the database.

    A template never approved (draft, under review, rejected) is ``NotFound``, as an unknown id is.

    Raises ``NotFound``, ``NotClaimable``, ``NotEligible``, ``SoldOut`` or ``LimitReached``.
    """
    now = timezone.now()
    verdict = gate.admit(template_id, 1, now)
    if verdict == gate.SOLD_OUT:
        raise sold_out_error(template_id)
    if verdict in (gate.CLOSED, gate.NOT_STARTED):
        raise not_claimable_error(template_id, verdict.upper())
    template = approved_template(template_id)
    if template is None or template.status in UNRELEASED:
        # A template never approved is not shown to customers: it answers as an unknown one does.
        raise NotFound(_("Not found."), details={"template_id": template_id})
    reason = issuable_now(template, now)
    if reason is not None:
        gate.forget_or_close(template)
        raise not_claimable_error(template_id, reason)
    if not template.visible_in_claim_center:
        raise not_claimable_error(template_id, "NOT_IN_CLAIM_CENTER")
    if needs_member(template.target) and not in_target(template.target, member_for(user), now):
        raise not_eligible_error(template_id)
    try:
        (coupon,) = issue_now(template=template, user_id=user.pk, quantity=1, source=CouponSource.CLAIM, record=record)
    except NotClaimable:
        _templates.pop(template_id, None)  # stopped or ended since it was read
        raise
    return coupon
