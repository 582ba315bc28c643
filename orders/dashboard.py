"""What the admin index shows of orders for the range of business days picked there: paid orders with
and without coupons, their average values, and the orders per day (added by ``OrdersConfig.ready``)."""

from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from core.dayrange import DayRange, business_day_bounds, rate
from coupons.charts import bar_chart
from coupons.engine import to_money
from orders.models import Order, OrderCoupon, OrderStatus

ZERO = Decimal("0.00")
# Orders that count: paid (or completed after payment). Unpaid, cancelled and refunded ones do not.
COUNTED_ORDERS = (OrderStatus.PAID, OrderStatus.COMPLETED)


def _orders(days: DayRange) -> QuerySet[Any]:
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


def dashboard_context(span: DayRange) -> dict[str, Any]:
    series = daily_orders(days=span)
    chart = bar_chart(
        span.labels,
        [
            (_("with coupons"), "#59a14f", series["with_coupons"]),
            (_("without"), "#bab0ac", series["without_coupons"]),
        ],
        title=_("Paid orders per day"),
    )
    return {"orders": order_kpis(days=span), "orders_chart": chart}
