"""Form fields the admin shares: moments within the years any time zone can hold.

A moment is refused outside the years 2 to 9998 with a form error, as the API refuses it
(``core.api.serializers.BoundedDateTimeField``): year 1 made aware in Asia/Shanghai (LMT, +8:05:43 before 1901)
lies before year 1 in UTC, and checking it against a constraint raised ``OverflowError`` (a 500).
"""

from datetime import date
from typing import Any

from django import forms
from django.contrib.admin import widgets
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _

from core.clock import MAX_YEAR, MIN_YEAR


def within_years(value: date | None) -> None:
    if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValidationError(
            _("Enter a date between the years %(min)s and %(max)s.") % {"min": MIN_YEAR, "max": MAX_YEAR},
            code="out_of_range",
        )


class BoundedSplitDateTimeField(forms.SplitDateTimeField):
    default_validators = [within_years]


# ``formfield_overrides`` of a ModelAdmin whose staff type moments.
MOMENT_OVERRIDES: dict[Any, dict[str, Any]] = {
    models.DateTimeField: {"form_class": BoundedSplitDateTimeField, "widget": widgets.AdminSplitDateTime},
}
