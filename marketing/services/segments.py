"""Segments of customers for bulk grants (精准营销): levels, tags, registration dates, no order for N
days, or everybody. ``clean_segment`` checks the JSON an operator sends; ``segment_user_ids`` turns it
into a query of user ids run by the database."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.clock import business_today, business_tz
from core.members import canonical_tags
from coupons.providers import order_facts
from marketing.models import MemberLevel, MemberProfile

KEYS = ("everybody", "levels", "tags", "registered_after", "registered_before", "no_order_days")
MAX_NO_ORDER_DAYS = 3650
# Registration dates a segment may name: nobody registered earlier, and a date much later than today
# is a typo. (The start of year 1 in the business time zone is not even a datetime in UTC.)
FIRST_REGISTRATION_DAY = date(1900, 1, 1)
REGISTRATION_DAYS_AHEAD = 366


def registration_day_bounds() -> tuple[date, date]:
    """The first and the last registration date a segment may name (both included)."""
    return FIRST_REGISTRATION_DAY, business_today() + timedelta(days=REGISTRATION_DAYS_AHEAD)


def registration_day_problem(day: date) -> str | None:
    """Why ``day`` cannot bound a segment's registration dates (for a form field), or None."""
    first, last = registration_day_bounds()
    if first <= day <= last:
        return None
    return _("Use a date from %(first)s to %(last)s.") % {"first": first.isoformat(), "last": last.isoformat()}


def _date(value: Any, field: str, key: str, errors: dict[str, list[str]]) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            errors.setdefault(field, []).append(_("Use a date like 2026-01-31."))
            return None
    first, last = registration_day_bounds()
    if not first <= day <= last:
        errors.setdefault(field, []).append(
            _("%(key)s must be a date from %(first)s to %(last)s.")
            % {"key": key, "first": first.isoformat(), "last": last.isoformat()}
        )
        return None
    return day.isoformat()


def clean_segment(segment: Any) -> dict[str, Any]:
    """Check and normalise a segment; raise ``ValidationError`` keyed by ``segment``."""
    errors: dict[str, list[str]] = {}
    if not isinstance(segment, dict):
        raise ValidationError({"segment": [_("A segment is an object.")]})
    unknown = sorted(set(segment) - set(KEYS))
    if unknown:
        raise ValidationError({"segment": [_("Unknown keys: %(keys)s") % {"keys": ", ".join(unknown)}]})
    cleaned: dict[str, Any] = {}
    if segment.get("everybody") not in (None, False):
        if segment.get("everybody") is not True:
            errors.setdefault("segment", []).append(_("everybody must be true or absent."))
        elif any(segment.get(k) not in (None, "", []) for k in KEYS if k != "everybody"):
            errors.setdefault("segment", []).append(_("everybody cannot be combined with other conditions."))
        else:
            cleaned["everybody"] = True
    levels = segment.get("levels")
    if levels not in (None, []):
        if not isinstance(levels, list) or any(lv not in MemberLevel.values for lv in levels):
            errors.setdefault("segment", []).append(
                _("levels must be a list of %(levels)s.") % {"levels": ", ".join(MemberLevel.values)}
            )
        else:
            cleaned["levels"] = sorted(set(levels))
    tags = segment.get("tags")
    if tags not in (None, []):
        if not isinstance(tags, list) or any(not isinstance(t, str) or not t.strip() or len(t) > 40 for t in tags):
            errors.setdefault("segment", []).append(_("tags must be a list of tag names."))
        else:
            cleaned["tags"] = canonical_tags(t.strip() for t in tags)
    after = _date(segment.get("registered_after"), "segment", "registered_after", errors)
    before = _date(segment.get("registered_before"), "segment", "registered_before", errors)
    if after:
        cleaned["registered_after"] = after
    if before:
        cleaned["registered_before"] = before
    if after and before and before <= after:
        errors.setdefault("segment", []).append(_("registered_before must be after registered_after."))
    days = segment.get("no_order_days")
    if days not in (None, ""):
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_NO_ORDER_DAYS:
            errors.setdefault("segment", []).append(
                _("no_order_days must be a whole number from 1 to %(max)s.") % {"max": MAX_NO_ORDER_DAYS}
            )
        else:
            cleaned["no_order_days"] = days
    if not errors and not cleaned:
        errors.setdefault("segment", []).append(_("Choose at least one condition, or everybody."))
    if errors:
        raise ValidationError(errors)
    return cleaned


def _day_start(iso: str) -> datetime:
    day = date.fromisoformat(iso)
    return datetime(day.year, day.month, day.day, tzinfo=business_tz())


def segment_profiles(segment: dict[str, Any], now: datetime | None = None) -> QuerySet[MemberProfile]:
    """Active customers in the segment. ``registered_after`` includes that day; ``registered_before``
    excludes it; ``no_order_days`` means no order (other than cancelled ones) in the last N days."""
    now = now or timezone.now()
    qs = MemberProfile.objects.filter(user__is_active=True, user__is_staff=False)
    if segment.get("everybody"):
        return qs
    if segment.get("levels"):
        qs = qs.filter(level__in=segment["levels"])
    if segment.get("tags"):
        through = MemberProfile.tags.through
        qs = qs.filter(
            Exists(through.objects.filter(memberprofile_id=OuterRef("pk"), membertag__name__in=segment["tags"]))
        )
    if segment.get("registered_after"):
        qs = qs.filter(registered_at__gte=_day_start(segment["registered_after"]))
    if segment.get("registered_before"):
        qs = qs.filter(registered_at__lt=_day_start(segment["registered_before"]))
    if segment.get("no_order_days"):
        cutoff = now - timedelta(days=segment["no_order_days"])
        recent = order_facts().orders_placed_since(cutoff).filter(user_id=OuterRef("user_id"))
        qs = qs.filter(Q(last_order_at__isnull=True) | Q(last_order_at__lt=cutoff)).filter(~Exists(recent))
    return qs


def segment_summary(segment: dict[str, Any]) -> str:
    """A cleaned segment as a person reads it, in the reader's language."""
    if segment.get("everybody"):
        return _("everybody")
    parts = []
    if segment.get("levels"):
        labels = dict(MemberLevel.choices)
        parts.append(
            _("levels: %(levels)s") % {"levels": ", ".join(str(labels.get(lv, lv)) for lv in segment["levels"])}
        )
    if segment.get("tags"):
        parts.append(_("tags: %(tags)s") % {"tags": ", ".join(segment["tags"])})
    if segment.get("registered_after"):
        parts.append(_("registered on or after %(day)s") % {"day": segment["registered_after"]})
    if segment.get("registered_before"):
        parts.append(_("registered before %(day)s") % {"day": segment["registered_before"]})
    if segment.get("no_order_days"):
        parts.append(_("no order for %(days)s days") % {"days": segment["no_order_days"]})
    return " · ".join(parts)
