"""A template's counters (``issued_quantity`` is taken by issuing; these are the others).

Counters are added to, never set: ``F()`` expressions in template primary-key order (the lock order of
template rows), so concurrent transactions never deadlock on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from django.db.models import Case, F, Value, When

from coupons.models import CouponTemplate

Deltas = Mapping[str, int | Decimal]


def add_to_counters(changes: Mapping[int, Deltas]) -> None:
    """Add ``{field: delta}`` to each template's counters, one UPDATE per template, in pk order."""
    for template_id in sorted(changes):
        deltas = {field: F(field) + delta for field, delta in changes[template_id].items() if delta}
        if deltas:
            CouponTemplate.objects.filter(pk=template_id).update(**deltas)


def add_to_counter_of_many(field: str, per_template: Mapping[int, int]) -> None:
    """Add to one counter of many templates in a single statement (the expiry sweep's batches)."""
    if not per_template:
        return
    CouponTemplate.objects.filter(pk__in=sorted(per_template)).update(
        **{field: F(field) + Case(*(When(pk=pk, then=Value(n)) for pk, n in per_template.items()), default=Value(0))}
    )
