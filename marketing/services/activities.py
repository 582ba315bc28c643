"""Activities (专题活动): publish, cancel, end, and claiming a whole bundle at once."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.db import retry_on_conflict
from core.errors import ApplicationError, Conflict, InvalidTransition, NotFound
from core.review import Move, Workflow
from core.statements import insert_ignore, quote
from coupons.errors import CouponErrorCode
from coupons.issuable import issue_gap
from coupons.ledger import (
    LimitReached,
    gate,
    issue_coupons,
    not_claimable_error,
    not_eligible_error,
    sold_out_error,
    with_fresh_codes,
)
from coupons.models import CouponSource, TemplateStatus, UserCoupon
from coupons.services.eligibility import NOBODY, in_target, member_for, needs_member
from marketing.models import Activity, ActivityItem, ActivityParticipation, ActivityStatus

S = ActivityStatus

# action -> (states it may start from, state it ends in, permission it needs)
TRANSITIONS: dict[str, Move] = {
    "publish": Move(frozenset({S.DRAFT}), S.PUBLISHED, "marketing.publish_activity"),
    "cancel": Move(frozenset({S.DRAFT, S.PUBLISHED}), S.CANCELLED, "marketing.publish_activity"),
    # Taken by the scheduled job once end_time has passed; no person acts.
    "end": Move(frozenset({S.PUBLISHED}), S.ENDED, None),
}

WORKFLOW = Workflow(
    model=Activity,
    moves=TRANSITIONS,
    refusal=gettext_lazy("Cannot %(action)s an activity that is %(status)s."),
)


def can_transition(activity: Activity, action: str, actor: Any) -> bool:
    return WORKFLOW.can(activity, action, actor)


def transition_refusal(activity: Activity, action: str, actor: Any) -> ApplicationError | None:
    """Why ``actor`` may not press ``action`` now (``Workflow.refusal_of``): None when they may."""
    return WORKFLOW.refusal_of(activity, action, actor)


def activity_lock_for_change(*, activity_id: int) -> Activity:
    """Lock the activity's row until the caller's transaction ends, refused unless it is still a draft: an
    edit holding the lock and a publish take turns, so the publish checks the items as edited, and an edit
    of an activity published since its page was read is refused instead of overwriting it."""
    locked = Activity.objects.select_for_update().get(pk=activity_id)
    if locked.status != S.DRAFT:
        raise InvalidTransition(
            _("This activity is no longer a draft (%(status)s): it cannot be edited.")
            % {"status": locked.get_status_display()},
            code=CouponErrorCode.INVALID_STATE,
            details={"status": locked.status},
        )
    return locked


def _transition(activity: Activity, action: str, actor: Any, remark: str = "") -> Activity:
    locked = WORKFLOW.begin(activity, action, actor)
    if action == "publish":
        _check_publishable(locked)
    return WORKFLOW.finish(locked, action, actor, remark)


def _check_publishable(activity: Activity) -> None:
    items = list(activity.items.select_related("template"))
    if not items:
        raise InvalidTransition(
            _("An activity needs at least one coupon to be published."),
            code=CouponErrorCode.INVALID_STATE,
            details={"items": [_("Add at least one coupon.")]},
        )
    not_approved = [item.template_id for item in items if item.template.status != TemplateStatus.APPROVED]
    if not_approved:
        raise InvalidTransition(
            _("Only approved templates may be in a published activity."),
            code=CouponErrorCode.INVALID_STATE,
            details={"template_ids": not_approved},
        )
    now = timezone.now()
    if activity.end_time <= now:
        raise InvalidTransition(
            _("This activity has already ended."),
            code=CouponErrorCode.INVALID_STATE,
            details={"end_time": [_("The end time has passed.")]},
        )
    gaps = {
        item: reason
        for item in items
        if (reason := issue_gap(item.template, max(activity.start_time, now), activity.end_time)) is not None
    }
    if gaps:
        raise InvalidTransition(
            _(
                "Every coupon must be claimable for as long as the activity runs. These are not (check their claim"
                " window and validity): %(templates)s."
            )
            % {"templates": ", ".join(f"{item.template.name} (#{item.template_id})" for item in gaps)},
            code=CouponErrorCode.INVALID_STATE,
            details={
                "template_ids": [item.template_id for item in gaps],
                "items": {str(item.pk): reason for item, reason in gaps.items()},
            },
        )
    _check_claims_fit_template_limits(activity, items)


def _check_claims_fit_template_limits(activity: Activity, items: list[ActivityItem]) -> None:
    """A claim gives each item's coupons at once, so a customer can claim the activity no more often than
    the tightest template's per-user limit allows (``limit // quantity``). An activity promising more (or
    unlimited claims) would list itself as claimable and then refuse with LIMIT_REACHED."""
    limited = [item for item in items if item.template.per_user_limit]
    if not limited:
        return
    most = min(item.template.per_user_limit // item.quantity for item in limited)
    if activity.per_user_limit and activity.per_user_limit <= most:
        return
    tightest = [item for item in limited if item.template.per_user_limit // item.quantity == most]
    templates = ", ".join(f"{item.template.name} (#{item.template_id})" for item in tightest)
    if most == 0:
        message = _(
            "No customer could claim this activity: it gives more coupons of %(templates)s than the template's "
            "per-user limit allows."
        ) % {"templates": templates}
    else:
        message = _(
            "A customer can claim this activity at most %(most)s times: the per-user limit of %(templates)s "
            "allows no more. Set the activity's per-user limit to %(most)s or less."
        ) % {"most": most, "templates": templates}
    raise InvalidTransition(
        message,
        code=CouponErrorCode.INVALID_STATE,
        details={"per_user_limit": [message], "template_ids": [item.template_id for item in tightest]},
    )


@transaction.atomic
def activity_publish(*, activity: Activity, actor: Any) -> Activity:
    """Publish a draft, recorded in the audit trail.

    Every item's template must be approved and able to issue for the whole rest of the activity, from
    its start (or now, if it has started) to its end: claim window open by then and not closing before
    the end, a fixed validity not ending before the end. A listed activity is claimed all or nothing, so
    a template that issues for only part of it would make every claim in the rest fail; Operations
    widens the template's window (a new approved version) or shortens the activity instead.
    """
    return _transition(activity, "publish", actor)


@transaction.atomic
def activity_cancel(*, activity: Activity, actor: Any, remark: str = "") -> Activity:
    return _transition(activity, "cancel", actor, remark)


@transaction.atomic
def activity_end(*, activity: Activity) -> Activity:
    return _transition(activity, "end", None)


def activity_claim(*, user: Any, activity_id: int) -> list[UserCoupon]:
    """Claim every item of a published, current activity in one transaction, or nothing.

    Items respect each template's stock, per-user limit and ``target`` (not its claim-center
    visibility); the activity's own ``per_user_limit`` is a conditional UPDATE on the user's
    ``ActivityParticipation`` row, taken first. One item sold out rolls the whole bundle back.
    """
    now = timezone.now()
    activity = Activity.objects.filter(pk=activity_id).exclude(status=S.DRAFT).first()
    if activity is None:
        raise NotFound(_("Not found."), details={"activity_id": activity_id})
    if activity.status != S.PUBLISHED or not activity.start_time <= now < activity.end_time:
        raise Conflict(
            _("This activity cannot be claimed now."),
            code=CouponErrorCode.NOT_CLAIMABLE,
            details={"activity_id": activity.pk, "status": activity.status},
        )
    items = sorted(ActivityItem.objects.filter(activity=activity).select_related("template"), key=_lock_order)
    if not items:
        raise not_claimable_error(0, "EMPTY_ACTIVITY")
    for item in items:
        verdict = gate.admit(item.template_id, item.quantity, now)
        if verdict == gate.SOLD_OUT:
            raise sold_out_error(item.template_id)
        if verdict in (gate.CLOSED, gate.NOT_STARTED):
            raise not_claimable_error(item.template_id, verdict.upper())
    member = member_for(user) if any(needs_member(i.template.target) for i in items) else NOBODY
    for item in items:
        if not in_target(item.template.target, member, now):
            raise not_eligible_error(item.template_id)

    @retry_on_conflict
    def claim() -> list[UserCoupon]:
        _take_participation(activity, user.pk, now)
        coupons: list[UserCoupon] = []
        for item in items:
            coupons += issue_coupons(
                template=item.template,
                user_id=user.pk,
                quantity=item.quantity,
                source=CouponSource.ACTIVITY,
                source_ref=str(activity.pk),
                now=now,
            )
        return coupons

    return with_fresh_codes(claim)


def _lock_order(item: ActivityItem) -> tuple[int, int]:
    return item.template_id, item.pk


def _take_participation(activity: Activity, user_id: int, now: Any) -> None:
    table = ActivityParticipation._meta.db_table
    limit = activity.per_user_limit
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(
            insert_ignore(table, ["activity_id", "user_id", "claimed", "last_claimed_at"]),
            [activity.pk, user_id, 1, stamp],
        )
        if cursor.rowcount == 1:
            return
        condition = f" AND {quote('claimed')} + 1 <= %s" if limit else ""
        cursor.execute(
            f"UPDATE {quote(table)} SET {quote('claimed')} = {quote('claimed')} + 1, {quote('last_claimed_at')} = %s"
            f" WHERE {quote('activity_id')} = %s AND {quote('user_id')} = %s{condition}",
            [stamp, activity.pk, user_id, *([limit] if limit else [])],
        )
        if cursor.rowcount != 1:
            raise LimitReached(
                _("You have already claimed this activity as often as allowed (%(limit)s).") % {"limit": limit},
                details={"activity_id": activity.pk, "per_user_limit": limit},
            )
