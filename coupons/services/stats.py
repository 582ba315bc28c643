"""Coupon statistics: exact running counters on the template plus a per-day roll-up table.

Reading stats never counts the instance table: totals come from the template's counters (kept in the
transaction of each change) and the daily series from ``TemplateDailyStats``, which the roll-up job
rebuilds one business day at a time from indexed ranges.
"""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count

from core.clock import business_day_bounds, business_today
from coupons.engine import to_money
from coupons.models import CouponStatus, CouponTemplate, TemplateDailyStats, UserCoupon
from coupons.providers import order_facts

ZERO = Decimal("0.00")


def stats_rollup_day(*, day: date) -> int:
    """Recompute every template's numbers for one business day; idempotent (an upsert of totals)."""
    start, end = business_day_bounds(day)
    rows: dict[int, dict[str, Any]] = {}

    def put(template_id: int, field: str, value: Any) -> None:
        rows.setdefault(template_id, {"issued": 0, "used": 0, "expired": 0, "revoked": 0, "discount": ZERO})[field] = (
            value
        )

    for row in (
        UserCoupon.objects.filter(acquired_at__gte=start, acquired_at__lt=end)
        .values("template_id")
        .annotate(n=Count("id"))
        .order_by()
    ):
        put(row["template_id"], "issued", row["n"])
    for row in (
        UserCoupon.objects.filter(used_at__gte=start, used_at__lt=end, status=CouponStatus.USED)
        .values("template_id")
        .annotate(n=Count("id"))
        .order_by()
    ):
        put(row["template_id"], "used", row["n"])
    for row in (
        UserCoupon.objects.filter(status=CouponStatus.EXPIRED, expires_at__gte=start, expires_at__lt=end)
        .values("template_id")
        .annotate(n=Count("id"))
        .order_by()
    ):
        put(row["template_id"], "expired", row["n"])
    for row in (
        UserCoupon.objects.filter(status=CouponStatus.REVOKED, updated_at__gte=start, updated_at__lt=end)
        .values("template_id")
        .annotate(n=Count("id"))
        .order_by()
    ):
        put(row["template_id"], "revoked", row["n"])
    for template_id, total in order_facts().discounts_by_template(start, end).items():
        put(template_id, "discount", to_money(total or ZERO))

    existing = set(TemplateDailyStats.objects.filter(day=day).values_list("template_id", flat=True))
    for template_id in existing - set(rows):
        put(template_id, "issued", 0)  # a day whose numbers went back to zero is rewritten too
    objs = [TemplateDailyStats(template_id=tid, day=day, **values) for tid, values in sorted(rows.items())]
    TemplateDailyStats.objects.bulk_create(
        objs,
        update_conflicts=True,
        # MySQL's ON DUPLICATE KEY takes no target; SQLite's ON CONFLICT needs one.
        unique_fields=["template", "day"] if connection.features.supports_update_conflicts_with_target else None,
        update_fields=["issued", "used", "expired", "revoked", "discount"],
        batch_size=1000,
    )
    return len(objs)


def stats_rollup_recent(*, days: int = 2) -> int:
    """Roll up today and the days before it (yesterday keeps changing until the sweep has passed it)."""
    today = business_today()
    return sum(stats_rollup_day(day=today - timedelta(days=offset)) for offset in range(days))


def template_stats(*, template: CouponTemplate, days: int = 30) -> dict[str, Any]:
    """Totals from the template's counters and the daily series of the last ``days`` business days."""
    template = CouponTemplate.objects.only(
        "id",
        "issued_quantity",
        "total_quantity",
        "used_count",
        "locked_count",
        "expired_count",
        "revoked_count",
        "discount_total",
    ).get(pk=template.pk)
    issued = template.issued_quantity
    unused = issued - template.used_count - template.locked_count - template.expired_count - template.revoked_count
    since = business_today() - timedelta(days=days - 1)
    daily = [
        {
            "day": row.day.isoformat(),
            "issued": row.issued,
            "used": row.used,
            "expired": row.expired,
            "revoked": row.revoked,
            "discount": str(row.discount),
        }
        for row in TemplateDailyStats.objects.filter(template=template, day__gte=since).order_by("day")
    ]
    return {
        "template_id": template.pk,
        "totals": {
            "total_quantity": template.total_quantity,
            "issued": issued,
            "remaining": template.remaining,
            "unused": max(unused, 0),
            "locked": template.locked_count,
            "used": template.used_count,
            "expired": template.expired_count,
            "revoked": template.revoked_count,
            "discount": str(template.discount_total),
            "redemption_rate": round(template.used_count / issued, 4) if issued else 0.0,
        },
        "daily": daily,
    }
