"""Read-side querysets of marketing, shared by views, services and jobs."""

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from core.members import Member
from coupons.models import UNLIMITED, TemplateStatus
from marketing.models import (
    Activity,
    ActivityItem,
    ActivityStatus,
    BulkGrant,
    BulkGrantStatus,
    BulkGrantTarget,
    MemberProfile,
    MemberTag,
    Notification,
)
from marketing.services.segments import segment_profiles


def activities_live(*, channel: str | None = None, now: datetime | None = None) -> QuerySet[Activity]:
    """Published activities whose window contains now and whose templates are all still approved; with
    ``channel``, those for it or for every channel (an empty channel).

    An activity is claimed all or nothing, so one template stopped or ended since it was published (止损),
    or sold out beyond its item's quantity, makes every claim fail: such an activity is left out (only
    approved templates may be in a published activity), in the same query (``NOT EXISTS``), not row by
    row."""
    now = now or timezone.now()
    not_approved = ActivityItem.objects.filter(activity=OuterRef("pk")).exclude(
        template__status=TemplateStatus.APPROVED
    )
    # Stock never comes back to an approved template: an item it can no longer fill is as final.
    sold_out = ActivityItem.objects.filter(
        activity=OuterRef("pk"),
        template__total_quantity__gt=UNLIMITED,
        template__total_quantity__lt=F("template__issued_quantity") + F("quantity"),
    )
    qs = Activity.objects.filter(status=ActivityStatus.PUBLISHED, start_time__lte=now, end_time__gt=now).filter(
        ~Exists(not_approved), ~Exists(sold_out)
    )
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


def member_facts(user: Any) -> Member:
    """The targeting facts of ``user`` (two small queries; none for a user without a profile); the
    member source of ``core.members``."""
    profile = MemberProfile.objects.filter(user_id=user.pk).only("id", "level", "user_type", "registered_at").first()
    if profile is None:
        return Member(level=None, tags=frozenset(), user_type=None, registered_at=getattr(user, "date_joined", None))
    tags = frozenset(profile.tags.values_list("name", flat=True))
    return Member(level=profile.level, tags=tags, user_type=profile.user_type, registered_at=profile.registered_at)


def target_audience_size(target: dict[str, Any], now: datetime) -> int:
    """How many active customers a template's ``target`` lets in now: one COUNT query. Everybody counts
    every active customer account; the other audiences count member profiles (as targeting reads them)."""
    kind = target.get("type", "ALL")
    if kind == "ALL":
        return get_user_model().objects.filter(is_active=True, is_staff=False).count()
    profiles = MemberProfile.objects.filter(user__is_active=True, user__is_staff=False)
    if kind == "NEW_USER" and isinstance(target.get("days"), int):
        return profiles.filter(registered_at__gte=now - timedelta(days=target["days"])).count()
    if kind == "MEMBER_LEVELS":
        return profiles.filter(level__in=target.get("levels") or []).count()
    if kind == "TAGS":
        return profiles.filter(tags__name__in=target.get("tags") or []).distinct().count()
    if kind == "USER_TYPE":
        return profiles.filter(user_type=target.get("user_type")).count()
    return 0


def member_tag_names() -> list[str]:
    return list(MemberTag.objects.order_by("name").values_list("name", flat=True))
