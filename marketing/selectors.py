"""Read-side querysets of marketing, shared by views, services and jobs."""

from datetime import datetime
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from core.members import Member
from marketing.models import (
    Activity,
    ActivityItem,
    ActivityStatus,
    BulkGrant,
    MemberProfile,
    Notification,
)


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


def member_facts(user: Any) -> Member:
    """The targeting facts of ``user`` (two small queries; none for a user without a profile); the
    member source of ``core.members``."""
    profile = MemberProfile.objects.filter(user_id=user.pk).only("id", "level", "user_type", "registered_at").first()
    if profile is None:
        return Member(level=None, tags=frozenset(), user_type=None, registered_at=getattr(user, "date_joined", None))
    tags = frozenset(profile.tags.values_list("name", flat=True))
    return Member(level=profile.level, tags=tags, user_type=profile.user_type, registered_at=profile.registered_at)
