"""When a template issues coupons: the one definition, and its forms.

``issuable_now`` is the definition: an APPROVED template, inside its issue window (start included, end
excluded), whose fixed-date validity has not ended. Issuing also needs stock (``has_stock``).

The same rule is spelled where it must run elsewhere, each checked against this definition by
``tests/coupons/test_issuable.py`` over a grid of templates:
- ``issuable_filter``: the queryset form (the claim center's list);
- the stock UPDATE of ``coupons.ledger.issuing`` (status, window and stock, re-checked by the database
  on every issue; the validity of an approved template never changes, so it is checked here in Python);
- the admission gate's Lua script (``coupons.ledger.gate``): window and stock, and "closed" for a
  template no longer approved.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, Q

from coupons.models import UNLIMITED, CouponTemplate, TemplateStatus, ValidityType


def issuable_now(template: CouponTemplate, now: datetime) -> str | None:
    """Why a template issues nothing now (a reason code), or None when it may issue."""
    if template.status != TemplateStatus.APPROVED:
        return template.status
    if template.issue_start_time and now < template.issue_start_time:
        return "NOT_STARTED"
    if template.issue_end_time and now >= template.issue_end_time:
        return "ENDED"
    if template.validity_type == ValidityType.FIXED_DATE and template.valid_until and template.valid_until <= now:
        return "VALIDITY_OVER"
    return None


def issue_gap(template: CouponTemplate, start: datetime, end: datetime) -> str | None:
    """Why ``template`` would not issue at some moment of [start, end) (``issuable_now``'s reason codes,
    status aside), or None when it issues throughout, stock aside."""
    if template.issue_start_time and template.issue_start_time > start:
        return "NOT_STARTED"
    if template.issue_end_time and template.issue_end_time < end:
        return "ENDED"
    if template.validity_type == ValidityType.FIXED_DATE and template.valid_until and template.valid_until < end:
        return "VALIDITY_OVER"
    return None


def has_stock(template: CouponTemplate, quantity: int = 1) -> bool:
    return template.total_quantity == UNLIMITED or template.issued_quantity + quantity <= template.total_quantity


def issuable_filter(now: datetime) -> Q:
    """``issuable_now(t, now) is None and has_stock(t)`` as a queryset filter."""
    return (
        Q(status=TemplateStatus.APPROVED)
        & (Q(issue_start_time__isnull=True) | Q(issue_start_time__lte=now))
        & (Q(issue_end_time__isnull=True) | Q(issue_end_time__gt=now))
        & (~Q(validity_type=ValidityType.FIXED_DATE) | Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        & (Q(total_quantity=UNLIMITED) | Q(issued_quantity__lt=F("total_quantity")))
    )
