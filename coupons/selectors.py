"""Read-side querysets shared by views and services."""

from django.db.models import QuerySet

from coupons.models import CouponTemplate


def templates_for_staff(*, status: str | None = None, search: str | None = None) -> QuerySet[CouponTemplate]:
    qs = CouponTemplate.objects.select_related("created_by", "reviewed_by").order_by("-created_at", "-id")
    if status:
        qs = qs.filter(status=status)
    if search:
        qs = qs.filter(name__icontains=search) | qs.filter(short_name__icontains=search)
    return qs
