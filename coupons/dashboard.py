"""What the admin index shows of coupons: templates awaiting review, coupons ending today, and for the
range of business days picked there the coupon figures, the per-template table and the daily chart
(added to the index by ``CouponsConfig.ready``; orders and marketing add theirs)."""

from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from core.dayrange import DAYS, DayRange, business_day_bounds, business_today, default_range, rate
from coupons.charts import bar_chart
from coupons.engine import to_money
from coupons.models import CouponStatus, CouponTemplate, TemplateDailyStats, TemplateStatus, UserCoupon

ZERO = Decimal("0.00")
TABLE_ROWS = 20


def daily_series(
    *, template: CouponTemplate | None = None, days: int = DAYS, span: DayRange | None = None
) -> dict[str, Any]:
    """Coupons issued and used per business day, from the roll-up; for one template or all of them."""
    span = span or default_range(days)
    rows = TemplateDailyStats.objects.filter(day__gte=span.start, day__lte=span.end)
    if template is not None:
        rows = rows.filter(template=template)
    by_day = {
        row["day"]: row for row in rows.values("day").annotate(issued=Sum("issued"), used=Sum("used")).order_by("day")
    }
    issued = [by_day.get(day, {}).get("issued") or 0 for day in span.days]
    used = [by_day.get(day, {}).get("used") or 0 for day in span.days]
    chart = bar_chart(
        span.labels,
        [(_("issued"), "#4e79a7", issued), (_("used"), "#f28e2b", used)],
        title=_("Issued and used per day"),
    )
    return {"chart": chart, "issued_total": sum(issued), "used_total": sum(used)}


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


def dashboard_context(span: DayRange) -> dict[str, Any]:
    _start, end = business_day_bounds(business_today())
    pending = CouponTemplate.objects.filter(status=TemplateStatus.PENDING_REVIEW)
    return {
        "pending_templates": list(pending.select_related("created_by").order_by("updated_at")[:10]),
        "pending_templates_count": pending.count(),
        "expiring_today": UserCoupon.objects.filter(
            status=CouponStatus.UNUSED, expires_at__gte=timezone.now(), expires_at__lt=end
        ).count(),
        "coupons": coupon_kpis(days=span),
        "templates_table": template_table(days=span),
        "series": daily_series(span=span),
    }
