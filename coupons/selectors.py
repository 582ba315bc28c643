"""Read-side querysets shared by views and services."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from coupons.models import (
    UNLIMITED,
    ClaimQuota,
    CouponStatus,
    CouponTemplate,
    RedemptionCodeBatch,
    TemplateStatus,
    UserCoupon,
)


def templates_for_staff(*, status: str | None = None, search: str | None = None) -> QuerySet[CouponTemplate]:
    qs = CouponTemplate.objects.select_related("created_by", "reviewed_by").order_by("-created_at", "-id")
    if status:
        qs = qs.filter(status=status)
    if search:
        qs = qs.filter(name__icontains=search) | qs.filter(short_name__icontains=search)
    return qs


# Claim center and wallet ------------------------------------------------------------------------


@dataclass
class ClaimCenterEntry:
    template: CouponTemplate
    claimed_by_me: int
    can_claim: bool


def live_templates(*, now: datetime) -> QuerySet[CouponTemplate]:
    """Approved, visible, inside the claim window and validity, with stock left."""
    return (
        CouponTemplate.objects.filter(status=TemplateStatus.APPROVED, visible_in_claim_center=True)
        .filter(Q(issue_start_time__isnull=True) | Q(issue_start_time__lte=now))
        .filter(Q(issue_end_time__isnull=True) | Q(issue_end_time__gt=now))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .filter(Q(total_quantity=UNLIMITED) | Q(issued_quantity__lt=F("total_quantity")))
        .order_by("-created_at", "-id")
    )


def claimable_templates_for(*, user: Any, now: datetime | None = None) -> list[ClaimCenterEntry]:
    """The claim center of ``user``: live templates whose ``target`` includes them.

    ``claimed_by_me`` counts the coupons of the template the user has received; ``can_claim`` is false
    once the per-user limit is used up (the template stays listed, as "claimed").
    """
    from coupons.services.eligibility import NOBODY, in_target, member_for, needs_member

    now = now or timezone.now()
    templates = list(live_templates(now=now))
    member = member_for(user) if any(needs_member(t.target) for t in templates) else NOBODY
    templates = [t for t in templates if in_target(t.target, member, now)]
    ids = [t.pk for t in templates]
    counts = dict(
        UserCoupon.objects.filter(user_id=user.pk, template_id__in=ids)
        .values("template_id")
        .annotate(n=Count("id"))
        .values_list("template_id", "n")
    )
    quotas = dict(ClaimQuota.objects.filter(user_id=user.pk, template_id__in=ids).values_list("template_id", "claimed"))
    return [
        ClaimCenterEntry(
            template=t,
            claimed_by_me=counts.get(t.pk, 0),
            can_claim=not t.per_user_limit or quotas.get(t.pk, 0) < t.per_user_limit,
        )
        for t in templates
    ]


def _effective_status_filter(status: str, now: datetime) -> Q:
    """A status as the customer sees it: an UNUSED coupon past its expiry is EXPIRED before the sweep."""
    if status == CouponStatus.UNUSED:
        return Q(status=CouponStatus.UNUSED, expires_at__gt=now)
    if status == CouponStatus.EXPIRED:
        return Q(status=CouponStatus.EXPIRED) | Q(status=CouponStatus.UNUSED, expires_at__lte=now)
    return Q(status=status)


def wallet_for(*, user: Any, status: str | None = None, now: datetime | None = None) -> QuerySet[UserCoupon]:
    now = now or timezone.now()
    qs = UserCoupon.objects.filter(user_id=user.pk).select_related("template").order_by("-acquired_at", "-id")
    if status:
        qs = qs.filter(_effective_status_filter(status, now))
    return qs


def wallet_counts(*, user: Any, now: datetime | None = None) -> dict[str, int]:
    """Coupons per effective status, in one query."""
    now = now or timezone.now()
    aggregates = {status: Count("id", filter=_effective_status_filter(status, now)) for status in CouponStatus.values}
    return UserCoupon.objects.filter(user_id=user.pk).aggregate(**aggregates)


def usable_coupons_for(*, user: Any, now: datetime | None = None) -> QuerySet[UserCoupon]:
    """UNUSED coupons inside their validity: what checkout may offer."""
    now = now or timezone.now()
    return wallet_for(user=user, status=CouponStatus.UNUSED, now=now).filter(valid_from__lte=now)


# Redemption codes -------------------------------------------------------------------------------


def code_batches_for_staff(*, template_id: int | None = None) -> QuerySet[RedemptionCodeBatch]:
    qs = (
        RedemptionCodeBatch.objects.select_related("template", "created_by")
        .annotate(redeemed=Count("codes", filter=Q(codes__redeemed_at__isnull=False)))
        .order_by("-created_at", "-id")
    )
    if template_id:
        qs = qs.filter(template_id=template_id)
    return qs


def target_audience_size(*, target: dict[str, Any] | None, now: datetime | None = None) -> int:
    """How many active customers a template's ``target`` lets in now: one COUNT query. Everybody counts
    every active customer account; the other audiences count member profiles (as targeting reads them)."""
    from django.contrib.auth import get_user_model

    from marketing.models import MemberProfile

    now = now or timezone.now()
    target = target or {"type": "ALL"}
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
