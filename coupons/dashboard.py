"""What the admin index shows of coupons: templates awaiting review, coupons ending today and the last
30 days (added to the index by ``CouponsConfig.ready``; marketing adds the bulk grants in flight)."""

from datetime import timedelta
from typing import Any

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from coupons.charts import bar_chart
from coupons.models import CouponStatus, CouponTemplate, TemplateDailyStats, TemplateStatus, UserCoupon
from coupons.services.stats import business_day_bounds, business_today

DAYS = 30


def daily_series(*, template: CouponTemplate | None = None, days: int = DAYS) -> dict[str, Any]:
    today = business_today()
    first = today - timedelta(days=days - 1)
    rows = TemplateDailyStats.objects.filter(day__gte=first)
    if template is not None:
        rows = rows.filter(template=template)
    by_day = {
        row["day"]: row for row in rows.values("day").annotate(issued=Sum("issued"), used=Sum("used")).order_by("day")
    }
    labels, issued, used = [], [], []
    for offset in range(days):
        day = first + timedelta(days=offset)
        labels.append(day.strftime("%m-%d"))
        issued.append(by_day.get(day, {}).get("issued") or 0)
        used.append(by_day.get(day, {}).get("used") or 0)
    chart = bar_chart(
        labels, [(_("issued"), "#4e79a7", issued), (_("used"), "#f28e2b", used)], title=_("Issued and used per day")
    )
    return {"chart": chart, "issued_total": sum(issued), "used_total": sum(used)}


def dashboard_context() -> dict[str, Any]:
    _start, end = business_day_bounds(business_today())
    pending = list(
        CouponTemplate.objects.filter(status=TemplateStatus.PENDING_REVIEW)
        .select_related("created_by")
        .order_by("updated_at")[:10]
    )
    return {
        "pending_templates": pending,
        "pending_templates_count": CouponTemplate.objects.filter(status=TemplateStatus.PENDING_REVIEW).count(),
        "expiring_today": UserCoupon.objects.filter(
            status=CouponStatus.UNUSED, expires_at__gte=timezone.now(), expires_at__lt=end
        ).count(),
        "series": daily_series(),
    }
