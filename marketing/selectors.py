"""Read-side querysets of marketing, shared by views, services and jobs."""

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from marketing.models import (
    Activity,
    ActivityItem,
    ActivityStatus,
    BulkGrant,
    BulkGrantStatus,
    BulkGrantTarget,
    Notification,
)
from marketing.services.segments import segment_profiles


def activities_live(*, channel: str | None = None, now: datetime | None = None) -> QuerySet[Activity]:
    """Published activities whose window contains now; with ``channel``, those for it or for every
    channel (an empty channel)."""
    now = now or timezone.now()
    qs = Activity.objects.filter(status=ActivityStatus.PUBLISHED, start_time__lte=now, end_time__gt=now)
    if channel:
        qs = qs.filter(Q(channel=channel) | Q(channel=""))
    items = ActivityItem.objects.select_related("template").order_by("pk")
    return qs.prefetch_related(Prefetch("items", queryset=items)).order_by("end_time", "pk")


def notifications_for(*, user: Any) -> QuerySet[Notification]:
    return Notification.objects.filter(user_id=user.pk).order_by("-created_at", "-id")


def bulk_grants_for_staff(*, status: str | None = None) -> QuerySet[BulkGrant]:
    qs = BulkGrant.objects.select_related("template", "gift_pack", "created_by", "reviewed_by").order_by(
        "-created_at", "-id"
    )
    if status:
        qs = qs.filter(status=status)
    return qs


def bulk_grants_due(*, now: datetime | None = None) -> QuerySet[BulkGrant]:
    """Approved grants whose time has come: what the scheduled job runs (``bulk_grant_run``)."""
    now = now or timezone.now()
    return BulkGrant.objects.filter(status=BulkGrantStatus.APPROVED).filter(
        Q(scheduled_at__isnull=True) | Q(scheduled_at__lte=now)
    )


def bulk_grants_stalled(
    *, idle_for: timedelta = timedelta(minutes=15), now: datetime | None = None
) -> QuerySet[BulkGrant]:
    """RUNNING grants nobody advanced for a while (their worker died): the scheduled job may resume them."""
    now = now or timezone.now()
    return BulkGrant.objects.filter(status=BulkGrantStatus.RUNNING, updated_at__lt=now - idle_for)


def segment_size(*, segment: dict[str, Any]) -> int:
    """How many customers a (cleaned) segment holds now: the estimate shown before a grant is submitted."""
    return segment_profiles(segment).count()


def bulk_grant_audience_size(*, grant: BulkGrant) -> int:
    """The customers a grant would reach if it ran now: its list, or its segment as it stands today. Once
    the run has started, the number it targeted."""
    if grant.status not in (BulkGrantStatus.DRAFT, BulkGrantStatus.PENDING_REVIEW, BulkGrantStatus.APPROVED):
        return grant.targeted
    if grant.target_type == BulkGrantTarget.USER_LIST:
        return grant.recipients.count()
    return segment_size(segment=grant.segment) if grant.segment else 0
