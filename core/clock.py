"""The business time zone (``settings.TIME_ZONE``): business days, claim-day validity, time windows."""

from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

# The years a moment typed by staff may name (the API's and the admin's inputs): Python's own range less one
# year at either end, so that the value moved into any time zone stays a datetime.
MIN_YEAR, MAX_YEAR = 2, 9998


def business_tz() -> ZoneInfo:
    return _zone(settings.TIME_ZONE)


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def business_today() -> date:
    return timezone.localdate(timezone=business_tz())


def business_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The instants a business day covers: from its midnight to the next, in the business time zone."""
    start = datetime.combine(day, time.min, tzinfo=business_tz())
    return start, start + timedelta(days=1)
