"""Read-side querysets shared by views and services."""

from collections.abc import Iterator, Sequence
from copy import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any, overload

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from core.members import audience_size
from coupons.issuable import issuable_filter
from coupons.models import (
    ClaimQuota,
    CouponStatus,
    CouponTemplate,
    RedemptionCodeBatch,
    TemplateStatus,
    UserCoupon,
)
from coupons.services.eligibility import NOBODY, in_target, member_for, needs_member


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
    return CouponTemplate.objects.filter(issuable_filter(now), visible_in_claim_center=True).order_by(
        "-created_at", "-id"
    )


# The definitions of the templates the claim center has shown in this process, by id. An approved
# template's definition never changes (it is copied to change it): what does is read per request
# (``LIVE_FIELDS``, and which templates are live at all). ``updated_at`` moves on every save, so an entry
# read before one (or for an id given again after its row was deleted) is read anew.
DEFINITION_CACHE_SIZE = 2_000
_definitions: dict[int, CouponTemplate] = {}
# Read per request beside the id: the stock, and what a save would change (status and visibility are
# the live filter's; the per-request copy takes them from it).
LIVE_FIELDS = ("updated_at", "issued_quantity", "total_quantity", "issue_start_time", "issue_end_time")
_LiveRow = tuple[Any, ...]


def forget_definitions() -> None:
    _definitions.clear()


def _definitions_of(rows: list[_LiveRow]) -> dict[int, CouponTemplate]:
    """The cached definition of each live row, reading the missing or outdated ones in one query."""
    found: dict[int, CouponTemplate] = {}
    missing: list[int] = []
    for pk, updated_at, *_live in rows:
        cached = _definitions.get(pk)
        if cached is not None and cached.updated_at == updated_at:
            found[pk] = cached
        else:
            missing.append(pk)
    if missing:
        if len(_definitions) + len(missing) > DEFINITION_CACHE_SIZE:
            _definitions.clear()
        for template in CouponTemplate.objects.filter(pk__in=missing):
            found[template.pk] = template
            if len(_definitions) < DEFINITION_CACHE_SIZE:
                _definitions[template.pk] = template
    return found


class ClaimCenter(Sequence[ClaimCenterEntry]):
    """The claim center of one user, as a sequence the paginator slices.

    Which templates are listed is known up front (the live rows, filtered by target); what the user has
    claimed of each is read only for the entries taken, in two queries per slice. Each entry's template
    is a copy of the cached definition with this request's live fields.
    """

    def __init__(self, *, user: Any, rows: list[_LiveRow], definitions: dict[int, CouponTemplate]) -> None:
        self._user = user
        self._rows = rows
        self._definitions = definitions

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> ClaimCenterEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[ClaimCenterEntry]: ...

    def __getitem__(self, index: int | slice) -> ClaimCenterEntry | list[ClaimCenterEntry]:
        if isinstance(index, slice):
            return self._entries(self._rows[index])
        return self._entries([self._rows[index]])[0]

    def __iter__(self) -> Iterator[ClaimCenterEntry]:
        return iter(self._entries(self._rows))

    def _entries(self, rows: list[_LiveRow]) -> list[ClaimCenterEntry]:
        ids = [row[0] for row in rows]
        if not ids:
            return []
        user_id = self._user.pk
        counts = dict(
            UserCoupon.objects.filter(user_id=user_id, template_id__in=ids)
            .values("template_id")
            .annotate(n=Count("id"))
            .values_list("template_id", "n")
        )
        quotas = dict(
            ClaimQuota.objects.filter(user_id=user_id, template_id__in=ids).values_list("template_id", "claimed")
        )
        entries = []
        for pk, *live in rows:
            template = copy(self._definitions[pk])
            for name, value in zip(LIVE_FIELDS, live, strict=True):
                setattr(template, name, value)
            template.status = TemplateStatus.APPROVED
            template.visible_in_claim_center = True
            limit = template.per_user_limit
            entries.append(
                ClaimCenterEntry(
                    template=template,
                    claimed_by_me=counts.get(pk, 0),
                    can_claim=not limit or quotas.get(pk, 0) < limit,
                )
            )
        return entries


def claimable_templates_for(*, user: Any, now: datetime | None = None) -> ClaimCenter:
    """The claim center of ``user``: live templates whose ``target`` includes them.

    ``claimed_by_me`` counts the coupons of the template the user has received; ``can_claim`` is false
    once the per-user limit is used up (the template stays listed, as "claimed").

    One query reads which templates are live, with their stock and window (``LIVE_FIELDS``); the
    definitions come from this process's cache. Status and stock are therefore as of this request: a
    stopped template is gone at once, and ``remaining`` is exact as of the read.
    """
    now = now or timezone.now()
    rows: list[_LiveRow] = list(live_templates(now=now).values_list("id", *LIVE_FIELDS))
    definitions = _definitions_of(rows)
    rows = [row for row in rows if row[0] in definitions]  # deleted between the two reads
    targets = {pk: template.target for pk, template in definitions.items()}
    member = member_for(user) if any(needs_member(t) for t in targets.values()) else NOBODY
    rows = [row for row in rows if in_target(targets[row[0]], member, now)]
    return ClaimCenter(user=user, rows=rows, definitions=definitions)


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
    """How many active customers a template's ``target`` lets in now (the member source counts them)."""
    return audience_size(target or {"type": "ALL"}, now or timezone.now())
