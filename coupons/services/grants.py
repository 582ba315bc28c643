"""Coupons granted by hand by a staff member (manual grant)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.db import retry_on_conflict
from core.errors import Conflict, InvalidTransition, PermissionDeniedError, ValidationFailed
from coupons.errors import CouponErrorCode
from coupons.ledger import MAX_ISSUE_QUANTITY, issue_coupons, with_fresh_codes
from coupons.models import CouponSource, CouponTemplate, TemplateStatus, UserCoupon

MAX_USERS_PER_GRANT = 1_000


@dataclass
class GrantResult:
    coupons: list[UserCoupon] = field(default_factory=list)
    # user id -> the refusal code (SOLD_OUT, LIMIT_REACHED, NOT_CLAIMABLE)
    skipped: dict[int, str] = field(default_factory=dict)

    @property
    def granted_users(self) -> list[int]:
        return sorted({c.user_id for c in self.coupons})


def coupons_grant_by_staff(
    *, template: CouponTemplate, users: Iterable[Any], actor: Any, quantity: int = 1
) -> GrantResult:
    """Grant ``quantity`` coupons of an approved template to each user (source ``ADMIN``, recorded with
    ``granted_by`` and one audit record on the template).

    Stock and per-user limits hold as for every source: a user the limit or the stock refuses is
    skipped and reported, the others are granted. Each granted user is told (``Event.COUPON_ISSUED``).
    """
    if actor is None or not actor.has_perm("coupons.grant_coupontemplate"):
        raise PermissionDeniedError(_("You do not have permission to do this."))
    if not 1 <= quantity <= MAX_ISSUE_QUANTITY:
        raise ValidationFailed(
            _("Quantity must be from 1 to %(max)s.") % {"max": MAX_ISSUE_QUANTITY},
            details={"quantity": [_("Quantity must be from 1 to %(max)s.") % {"max": MAX_ISSUE_QUANTITY}]},
        )
    user_ids = sorted({u.pk for u in users})
    if not user_ids:
        raise ValidationFailed(_("Name at least one customer."), details={"users": [_("Name at least one customer.")]})
    if len(user_ids) > MAX_USERS_PER_GRANT:
        raise ValidationFailed(
            _("At most %(max)s customers at a time.") % {"max": MAX_USERS_PER_GRANT},
            details={"users": [_("At most %(max)s customers at a time.") % {"max": MAX_USERS_PER_GRANT}]},
        )
    if template.status != TemplateStatus.APPROVED:
        raise InvalidTransition(
            _("Only an approved template can be granted."),
            code=CouponErrorCode.INVALID_STATE,
            details={"status": template.status},
        )
    return with_fresh_codes(lambda: _grant(template, user_ids, actor, quantity))


@retry_on_conflict
def _grant(template: CouponTemplate, user_ids: list[int], actor: Any, quantity: int) -> GrantResult:
    result = GrantResult()
    for user_id in user_ids:
        try:
            with transaction.atomic():
                issued = issue_coupons(
                    template=template,
                    user_id=user_id,
                    quantity=quantity,
                    source=CouponSource.ADMIN,
                    granted_by_id=actor.pk,
                )
        except Conflict as exc:
            result.skipped[user_id] = exc.code
            continue
        result.coupons.extend(issued)  # COUPON_ISSUED tells the customer (a notification, in this transaction)
    audit_record(
        subject=template,
        actor=actor,
        action="grant",
        from_status=template.status,
        to_status=template.status,
        data={
            "quantity": quantity,
            "granted_users": result.granted_users,
            "skipped": {str(k): v for k, v in result.skipped.items()},
        },
    )
    return result
