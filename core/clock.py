"""The business time zone (``settings.TIME_ZONE``): business days, claim-day validity, time windows."""

from functools import cache
from zoneinfo import ZoneInfo

from django.conf import settings


def business_tz() -> ZoneInfo:
    return _zone(settings.TIME_ZONE)


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
