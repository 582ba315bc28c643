"""A range of business days (both ends included) picked on the admin dashboard, and its form.

Every app's part of the dashboard is computed for the same range (``core.admin_site``); a business day
runs from midnight to midnight in the business time zone (``settings.TIME_ZONE``).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.clock import business_day_bounds, business_today
from core.forms import within_years

DAYS = 30
MAX_RANGE_DAYS = 366
QUICK_RANGES = (1, 7, 30, 90)


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

    @property
    def labels(self) -> list[str]:
        fmt = "%m-%d" if self.start.year == self.end.year else "%Y-%m-%d"
        return [day.strftime(fmt) for day in self.days]


def rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


class DayRangeForm(forms.Form):
    """The date-range picker: business days, both ends included."""

    start = forms.DateField(
        label=gettext_lazy("start date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=[within_years],
    )
    end = forms.DateField(
        label=gettext_lazy("end date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=[within_years],
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


def chosen_range(params: Any) -> tuple[DayRange, DayRangeForm]:
    """The range in the query string, or the last 30 days when there is none or it is not valid."""
    fallback = default_range()
    if not params or not ({"start", "end"} & set(params)):
        return fallback, DayRangeForm(initial={"start": fallback.start, "end": fallback.end})
    form = DayRangeForm(params)
    if form.is_valid():
        return DayRange(start=form.cleaned_data["start"], end=form.cleaned_data["end"]), form
    return fallback, form


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


def range_context(params: Any) -> tuple[DayRange, dict[str, Any]]:
    span, form = chosen_range(params)
    return span, {
        "range": span,
        "range_form": form,
        "quick_ranges": quick_ranges(),
        "range_is_today": span.start == span.end == business_today(),
    }
