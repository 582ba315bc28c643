"""The figures of the admin dashboard for a range of business days (both ends included).

Coupon numbers come from the daily roll-up (``TemplateDailyStats``), as the template pages do; orders
and activities are counted on indexed ranges (orders by ``created_at``, coupons by ``acquired_at``).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, Exists, OuterRef, Q, Sum

from coupons.engine import to_money
from coupons.models import CouponSource, CouponStatus, TemplateDailyStats, UserCoupon
from coupons.services.stats import business_day_bounds
from marketing.models import Activity
from orders.models import Order, OrderCoupon, OrderStatus

ZERO = Decimal("0.00")
# Orders that count: paid (or completed after payment). Unpaid, cancelled and refunded ones do not.
COUNTED_ORDERS = (OrderStatus.PAID, OrderStatus.COMPLETED)
TABLE_ROWS = 20


@dataclass(frozen=True)
class DayRange:
    start: date
    end: date

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """The instants the range covers: from the first day's midnight to the day after the last."""
        return business_day_bounds(self.start)[0], business_day_bounds(self.end)[1]


def rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def coupon_kpis(*, days: DayRange) -> dict[str, Any]:
    totals = TemplateDailyStats.objects.filter(day__gte=days.start, day__lte=days.end).aggregate(
        issued=Sum("issued"), used=Sum("used"), discount=Sum("discount")
    )
    issued, used = totals["issued"] or 0, totals["used"] or 0
    return {
        "issued": issued,
        "used": used,
        "redemption_rate": rate(used, issued),
        "discount": to_money(totals["discount"] or ZERO),
    }


def _orders(days: DayRange) -> Any:
    start, end = days.bounds
    with_coupon = Exists(OrderCoupon.objects.filter(order_id=OuterRef("pk")))
    return Order.objects.filter(created_at__gte=start, created_at__lt=end, status__in=COUNTED_ORDERS).annotate(
        with_coupon=with_coupon
    )


def order_kpis(*, days: DayRange) -> dict[str, Any]:
    """Paid orders placed in the range, with a coupon and without, and their average value (what the
    customer paid) and discount."""
    figures: dict[str, Any] = {}
    for key, flag in (("with_coupons", True), ("without_coupons", False)):
        row = (
            _orders(days)
            .filter(with_coupon=flag)
            .aggregate(
                n=Count("id"), avg_total=Avg("total"), avg_subtotal=Avg("subtotal"), discount=Sum("discount_total")
            )
        )
        figures[key] = {
            "count": row["n"],
            "average": to_money(row["avg_total"] or ZERO),
            "average_before_discount": to_money(row["avg_subtotal"] or ZERO),
            "discount": to_money(row["discount"] or ZERO),
        }
    total = figures["with_coupons"]["count"] + figures["without_coupons"]["count"]
    figures["count"] = total
    figures["coupon_share"] = rate(figures["with_coupons"]["count"], total)
    return figures


def daily_orders(*, days: DayRange) -> dict[str, list[int]]:
    """Paid orders per business day, with and without coupons: one query of conditional counts (grouping
    by a local date would need the database's time-zone tables)."""
    aggregates = {}
    for n, day in enumerate(days.days):
        start, end = business_day_bounds(day)
        in_day = Q(created_at__gte=start, created_at__lt=end)
        aggregates[f"w{n}"] = Count("id", filter=in_day & Q(with_coupon=True))
        aggregates[f"o{n}"] = Count("id", filter=in_day & Q(with_coupon=False))
    row = _orders(days).aggregate(**aggregates)
    count = len(days.days)
    return {
        "with_coupons": [row[f"w{n}"] or 0 for n in range(count)],
        "without_coupons": [row[f"o{n}"] or 0 for n in range(count)],
    }


def template_table(*, days: DayRange, limit: int = TABLE_ROWS) -> list[dict[str, Any]]:
    rows = (
        TemplateDailyStats.objects.filter(day__gte=days.start, day__lte=days.end)
        .values("template_id", "template__name", "template__status")
        .annotate(issued=Sum("issued"), used=Sum("used"), expired=Sum("expired"), discount=Sum("discount"))
        .order_by("-issued", "template_id")[:limit]
    )
    return [
        {
            "id": row["template_id"],
            "name": row["template__name"],
            "issued": row["issued"] or 0,
            "used": row["used"] or 0,
            "expired": row["expired"] or 0,
            "redemption_rate": rate(row["used"] or 0, row["issued"] or 0),
            "discount": to_money(row["discount"] or ZERO),
        }
        for row in rows
    ]


def activity_table(*, days: DayRange, limit: int = TABLE_ROWS) -> list[dict[str, Any]]:
    """Coupons claimed through each activity in the range, how many of them were used, and their discount."""
    start, end = days.bounds
    claimed = (
        UserCoupon.objects.filter(source=CouponSource.ACTIVITY, acquired_at__gte=start, acquired_at__lt=end)
        .values("source_ref")
        .annotate(
            # distinct: a coupon returned by a cancelled order and used again has two applications
            issued=Count("id", distinct=True),
            used=Count("id", filter=Q(status=CouponStatus.USED), distinct=True),
            discount=Sum(
                "applications__discount",
                filter=Q(status=CouponStatus.USED, applications__order__status__in=COUNTED_ORDERS),
            ),
        )
        .order_by("-issued")[:limit]
    )
    figures = {row["source_ref"]: row for row in claimed}
    ids = [int(ref) for ref in figures if ref.isdigit()]
    activities = {str(a.pk): a for a in Activity.objects.filter(pk__in=ids)}
    table = []
    for ref, row in figures.items():
        activity = activities.get(ref)
        table.append(
            {
                "id": activity.pk if activity else None,
                "name": activity.title if activity else ref,
                "status": activity.get_status_display() if activity else "",
                "issued": row["issued"],
                "used": row["used"],
                "redemption_rate": rate(row["used"], row["issued"]),
                "discount": to_money(row["discount"] or ZERO),
            }
        )
    return table
