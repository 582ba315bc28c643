"""What the admin index shows of marketing: the bulk grants in flight, and for the range of business
days picked there the coupons claimed through each activity (added by ``MarketingConfig.ready``)."""

from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum

from core.dayrange import DayRange, rate
from coupons.charts import progress_bar
from coupons.engine import to_money
from coupons.models import CouponSource, CouponStatus, UserCoupon
from marketing.models import Activity, BulkGrant, BulkGrantStatus

ZERO = Decimal("0.00")
TABLE_ROWS = 20
# Discounts of paid (or completed) orders count; unpaid, cancelled and refunded ones do not.
COUNTED_ORDER_STATUSES = ("PAID", "COMPLETED")


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
                filter=Q(status=CouponStatus.USED, applications__order__status__in=COUNTED_ORDER_STATUSES),
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


def dashboard_context(span: DayRange) -> dict[str, Any]:
    grants = [
        {
            "grant": grant,
            "progress": progress_bar(
                grant.granted + grant.skipped_limit + grant.skipped_stock + grant.failed, grant.targeted
            ),
        }
        for grant in BulkGrant.objects.filter(
            status__in=[BulkGrantStatus.RUNNING, BulkGrantStatus.APPROVED, BulkGrantStatus.PENDING_REVIEW]
        ).order_by("-updated_at")[:10]
    ]
    return {"active_grants": grants, "activities_table": activity_table(days=span)}
