"""What the admin index shows: what needs attention now, and for a chosen range of business days the
coupon and order figures, the per-template and per-activity tables and their charts."""

from datetime import timedelta
from typing import Any

from django import forms
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.charts import bar_chart, progress_bar
from core.kpis import DayRange, activity_table, coupon_kpis, daily_orders, order_kpis, template_table
from coupons.models import CouponStatus, CouponTemplate, TemplateDailyStats, TemplateStatus, UserCoupon
from coupons.services.stats import business_day_bounds, business_today
from marketing.models import BulkGrant, BulkGrantStatus

DAYS = 30
MAX_RANGE_DAYS = 366
QUICK_RANGES = (1, 7, 30, 90)


class DashboardRangeForm(forms.Form):
    """The date-range picker: business days, both ends included."""

    start = forms.DateField(
        label=gettext_lazy("start date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end = forms.DateField(
        label=gettext_lazy("end date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError(_("The end of the range is before its start."))
            if (end - start).days + 1 > MAX_RANGE_DAYS:
                raise forms.ValidationError(
                    _("Choose at most %(days)s days.") % {"days": MAX_RANGE_DAYS}, code="too_long"
                )
        return cleaned


def default_range(days: int = DAYS) -> DayRange:
    today = business_today()
    return DayRange(start=today - timedelta(days=days - 1), end=today)


def chosen_range(params: Any) -> tuple[DayRange, DashboardRangeForm]:
    """The range in the query string, or the last 30 days when there is none or it is not valid."""
    fallback = default_range()
    if not params or not ({"start", "end"} & set(params)):
        return fallback, DashboardRangeForm(initial={"start": fallback.start, "end": fallback.end})
    form = DashboardRangeForm(params)
    if form.is_valid():
        return DayRange(start=form.cleaned_data["start"], end=form.cleaned_data["end"]), form
    return fallback, form


def _labels(days: DayRange) -> list[str]:
    fmt = "%m-%d" if days.start.year == days.end.year else "%Y-%m-%d"
    return [day.strftime(fmt) for day in days.days]


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
        _labels(span),
        [(_("issued"), "#4e79a7", issued), (_("used"), "#f28e2b", used)],
        title=_("Issued and used per day"),
    )
    return {"chart": chart, "issued_total": sum(issued), "used_total": sum(used)}


def orders_chart(span: DayRange) -> Any:
    series = daily_orders(days=span)
    return bar_chart(
        _labels(span),
        [
            (_("with coupons"), "#59a14f", series["with_coupons"]),
            (_("without"), "#bab0ac", series["without_coupons"]),
        ],
        title=_("Paid orders per day"),
    )


def quick_ranges() -> list[dict[str, Any]]:
    today = business_today()
    return [
        {
            "days": n,
            "start": (today - timedelta(days=n - 1)).isoformat(),
            "end": today.isoformat(),
            "label": _("today") if n == 1 else _("last %(days)s days") % {"days": n},
        }
        for n in QUICK_RANGES
    ]


def dashboard_context(params: Any = None) -> dict[str, Any]:
    span, form = chosen_range(params)
    _start, end = business_day_bounds(business_today())
    pending = list(
        CouponTemplate.objects.filter(status=TemplateStatus.PENDING_REVIEW)
        .select_related("created_by")
        .order_by("updated_at")[:10]
    )
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
    return {
        "pending_templates": pending,
        "pending_templates_count": CouponTemplate.objects.filter(status=TemplateStatus.PENDING_REVIEW).count(),
        "active_grants": grants,
        "expiring_today": UserCoupon.objects.filter(
            status=CouponStatus.UNUSED, expires_at__gte=timezone.now(), expires_at__lt=end
        ).count(),
        "range": span,
        "range_form": form,
        "quick_ranges": quick_ranges(),
        "range_is_today": span.start == span.end == business_today(),
        "coupons": coupon_kpis(days=span),
        "orders": order_kpis(days=span),
        "templates_table": template_table(days=span),
        "activities_table": activity_table(days=span),
        "series": daily_series(span=span),
        "orders_chart": orders_chart(span),
    }
