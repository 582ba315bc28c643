"""The marketing side of the scheduled jobs: ending activities, starting due bulk grants and
resuming stalled ones, birthday packs, gift-pack occasions left behind, and expiry reminders. Each is
idempotent and works in batches."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.clock import business_today, business_tz
from core.errors import InvalidTransition
from core.jobs import enqueue
from coupons.models import CouponStatus, UserCoupon
from marketing.models import (
    Activity,
    ActivityStatus,
    BulkGrant,
    BulkGrantStatus,
    GiftPackTrigger,
    MemberProfile,
    Notification,
    NotificationKind,
    PendingTrigger,
)
from marketing.notifications import enqueue_send, message
from marketing.services.activities import activity_end
from marketing.triggers import fire_pending, record

logger = logging.getLogger(__name__)

BATCH = 1000
# How far past 24 hours the daily expiry reminders look (see ``expiry_reminders_create``).
EXPIRY_REMINDER_MARGIN = timedelta(hours=2)


def activities_end_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """PUBLISHED activities past their end time become ENDED (one audited transition each)."""
    now = now or timezone.now()
    ended = 0
    for activity in Activity.objects.filter(status=ActivityStatus.PUBLISHED, end_time__lte=now).order_by("id")[:limit]:
        try:
            activity_end(activity=activity)
        except InvalidTransition:
            continue  # another run got there first
        ended += 1
    return ended


def bulk_grants_due(*, now: datetime | None = None) -> list[int]:
    """Grants to run now: approved ones whose time has come, and running ones whose heartbeat (touched as
    the run starts and as each chunk commits) is older than ``BULK_GRANT_STALL_SECONDS``: their worker
    died, and the run resumes after the last committed chunk. Resuming a run that was merely slow is
    harmless: chunks of one grant take turns on the grant's row lock."""
    now = now or timezone.now()
    stalled_before = now - timedelta(seconds=settings.BULK_GRANT_STALL_SECONDS)
    due = BulkGrant.objects.filter(
        Q(status=BulkGrantStatus.APPROVED, scheduled_at__isnull=True)
        | Q(status=BulkGrantStatus.APPROVED, scheduled_at__lte=now)
        | Q(status=BulkGrantStatus.RUNNING, heartbeat_at__lt=stalled_before)
        # Started before the heartbeat existed.
        | Q(status=BulkGrantStatus.RUNNING, heartbeat_at__isnull=True, updated_at__lt=stalled_before)
    )
    return list(due.order_by("id").values_list("id", flat=True)[:100])


def bulk_grants_start_due(*, now: datetime | None = None) -> int:
    ids = bulk_grants_due(now=now)
    for grant_id in ids:
        enqueue("marketing.tasks.run_bulk_grant", grant_id)
    return len(ids)


def birthday_packs_grant(*, today: date | None = None) -> int:
    """Fire the BIRTHDAY trigger for members born on this business day (29 February birthdays are kept
    on 28 February in other years); the occasion ``birthday:<year>`` makes it once a year."""
    today = today or business_today()
    days = [(today.month, today.day)]
    if (today.month, today.day) == (2, 28) and not _is_leap(today.year):
        days.append((2, 29))
    match = Q()
    for month, day in days:
        match |= Q(birthday__month=month, birthday__day=day)
    occasion = f"birthday:{today.year}"
    fired = 0
    last_id = 0
    while True:
        batch = list(
            MemberProfile.objects.filter(match, pk__gt=last_id, user__is_active=True, user__is_staff=False)
            .order_by("pk")
            .values_list("pk", "user_id")[:BATCH]
        )
        if not batch:
            return fired
        # Written down first, a batch at a time: a member whose pack fails (or a run killed mid-batch) is
        # left to the pending-triggers job, since tomorrow's run selects other birthdays.
        occasions = [(user_id, GiftPackTrigger.BIRTHDAY, occasion) for _pk, user_id in batch]
        with transaction.atomic():
            record(occasions, fire=False)
        for user_id, trigger, name in occasions:
            fired += fire_pending(user_id=user_id, trigger=trigger, occasion=name)
        last_id = batch[-1][0]


def pending_triggers_fire(*, now: datetime | None = None, limit: int = BATCH) -> int:
    """Fire the gift-pack occasions whose firing after their commit never happened (the process died) or
    failed, oldest due first, at most ``limit`` per run; returns how many packs were newly given. Safe to
    run twice at once: each pack is given once per occasion (``marketing.triggers``)."""
    now = now or timezone.now()
    due = list(
        PendingTrigger.objects.filter(due_at__lte=now)
        .order_by("due_at", "pk")
        .values_list("user_id", "trigger", "occasion")[:limit]
    )
    return sum(fire_pending(user_id=user_id, trigger=trigger, occasion=occasion) for user_id, trigger, occasion in due)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _expiry_reminder(coupon_id: int, user_id: int, name: str, expires_at: datetime) -> Notification:
    """A coupon's reminder, in each of the site's languages; ``expires_at`` in the business time zone."""

    def render() -> tuple[str, str]:
        title = _("Your coupon %(name)s expires soon") % {"name": name}
        return title, _("Use it before %(time)s.") % {"time": expires_at.strftime("%Y-%m-%d %H:%M")}

    return message(
        user_id=user_id,
        kind=NotificationKind.COUPON_EXPIRING,
        render=render,
        data={"coupon_id": coupon_id, "expires_at": expires_at.isoformat()},
        dedupe_key=f"expiring:{coupon_id}",
    )


def expiry_reminders_create(*, now: datetime | None = None) -> int:
    """One COUPON_EXPIRING notification per unused coupon expiring within the next day (the dedupe key makes a
    second run, or a run the next day, add nothing for the same coupon).

    The job runs daily, so "the next day" reaches ``EXPIRY_REMINDER_MARGIN`` past 24 hours: a coupon expiring
    just after the next run's start is reminded today, and a next run that starts late (a busy worker, a
    restarted beat) still finds every coupon it must remind before it expires.
    """
    now = now or timezone.now()
    until = now + timedelta(hours=24) + EXPIRY_REMINDER_MARGIN
    created = 0
    last_id = 0
    while True:
        batch: list[Any] = list(
            UserCoupon.objects.filter(
                status=CouponStatus.UNUSED, expires_at__gt=now, expires_at__lte=until, pk__gt=last_id
            )
            .order_by("pk")
            .values_list("pk", "user_id", "template__name", "expires_at")[:BATCH]
        )
        if not batch:
            break
        rows = [
            _expiry_reminder(coupon_id, user_id, name, timezone.localtime(expires_at, business_tz()))
            for coupon_id, user_id, name, expires_at in batch
        ]
        before = Notification.objects.filter(dedupe_key__in=[r.dedupe_key for r in rows]).count()
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
        created += Notification.objects.filter(dedupe_key__in=[r.dedupe_key for r in rows]).count() - before
        last_id = batch[-1][0]
    if created:
        enqueue_send(None)
    return created
