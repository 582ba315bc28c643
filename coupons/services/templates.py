"""The template approval workflow (maker-checker), SPEC 4.5.

One transition map; every move locks the row, checks the actor, writes the audit record in the same
transaction and leaves side effects for after commit. Admin and the staff API call these functions.
"""

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.actions import action_label
from core.audit import audit_record
from core.db import retry_on_conflict
from core.errors import InvalidTransition, PermissionDeniedError, ValidationFailed
from coupons.errors import CouponErrorCode
from coupons.models import CouponStatus, CouponTemplate, TemplateStatus, UserCoupon
from coupons.summary import summary_in_languages

S = TemplateStatus

# action -> (states it may start from, state it ends in, permission it needs)
TRANSITIONS: dict[str, tuple[frozenset[str], str, str | None]] = {
    "submit": (frozenset({S.DRAFT, S.REJECTED}), S.PENDING_REVIEW, "coupons.submit_coupontemplate"),
    "approve": (frozenset({S.PENDING_REVIEW}), S.APPROVED, "coupons.review_coupontemplate"),
    "reject": (frozenset({S.PENDING_REVIEW}), S.REJECTED, "coupons.review_coupontemplate"),
    "stop": (frozenset({S.APPROVED}), S.STOPPED, "coupons.stop_coupontemplate"),
    # Taken by the scheduled job when the claim window is over; no person acts.
    "end": (frozenset({S.APPROVED}), S.ENDED, None),
}

# Fields staff may set on a draft; everything else is owned by the workflow and the counters.
EDITABLE_FIELDS = (
    "name",
    "short_name",
    "description",
    "type",
    "value",
    "usage_rules",
    "total_quantity",
    "per_user_limit",
    "issue_start_time",
    "issue_end_time",
    "validity_type",
    "valid_from",
    "valid_until",
    "valid_days_after_issue",
    "visible_in_claim_center",
    "target",
    "product_line",
    "return_on_cancel",
)


def can_transition(template: CouponTemplate, action: str, actor: Any) -> bool:
    """Whether ``actor`` may press ``action`` now (used to show only the buttons that work)."""
    sources, _target, perm = TRANSITIONS[action]
    if template.status not in sources:
        return False
    if perm is not None and not actor.has_perm(perm):
        return False
    return not (action in ("approve", "reject") and template.created_by_id == actor.pk)


def can_edit(template: CouponTemplate, actor: Any) -> bool:
    return template.is_editable and actor.has_perm("coupons.change_coupontemplate")


def _require_perm(actor: Any, perm: str) -> None:
    if actor is None or not actor.has_perm(perm):
        raise PermissionDeniedError(_("You do not have permission to do this."))


def _begin(template: CouponTemplate, action: str, actor: Any) -> CouponTemplate:
    """Check the actor, lock the row and check the move is allowed from its current state."""
    sources, _target, perm = TRANSITIONS[action]
    if perm is not None:
        _require_perm(actor, perm)
    locked = CouponTemplate.objects.select_for_update().get(pk=template.pk)
    if locked.status not in sources:
        raise InvalidTransition(
            _("Cannot %(action)s a template that is %(status)s.")
            % {"action": action_label(action), "status": locked.get_status_display()},
            code=CouponErrorCode.INVALID_STATE,
            details={"status": locked.status, "action": action},
        )
    if action in ("approve", "reject") and locked.created_by_id == actor.pk:
        raise PermissionDeniedError(_("The creator of a template cannot review it."), code=CouponErrorCode.SELF_REVIEW)
    return locked


def _finish(
    locked: CouponTemplate, action: str, actor: Any, remark: str = "", data: dict[str, Any] | None = None
) -> CouponTemplate:
    from_status, target = locked.status, TRANSITIONS[action][1]
    locked.status = target
    fields = ["status", "updated_at"]
    if action in ("approve", "reject"):
        locked.reviewed_by = actor
        locked.reviewed_at = timezone.now()
        locked.review_remark = remark
        fields += ["reviewed_by", "reviewed_at", "review_remark"]
    locked.save(update_fields=fields)
    if action in ("submit", "approve"):
        # What was submitted and approved, as staff read it then (SPEC 12: the summary in the trail).
        data = {**(data or {}), "summary": summary_in_languages(locked)}
    audit_record(
        subject=locked, actor=actor, action=action, from_status=from_status, to_status=target, remark=remark, data=data
    )
    return locked


def _transition(template: CouponTemplate, action: str, actor: Any, remark: str = "") -> CouponTemplate:
    return _finish(_begin(template, action, actor), action, actor, remark)


def _validated(data: dict[str, Any], instance: CouponTemplate | None = None) -> dict[str, Any]:
    from coupons.validation import clean_template_fields

    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed(
            _("These fields cannot be set: %(fields)s") % {"fields": ", ".join(sorted(unknown))},
            details={name: [_("This field cannot be set.")] for name in sorted(unknown)},
        )
    merged = {name: getattr(instance, name) for name in EDITABLE_FIELDS} if instance else {}
    merged.update(data)
    return clean_template_fields(merged)


@transaction.atomic
def template_create(*, actor: Any, data: dict[str, Any]) -> CouponTemplate:
    _require_perm(actor, "coupons.add_coupontemplate")
    cleaned = _validated(data)
    template = CouponTemplate.objects.create(**cleaned, status=S.DRAFT, created_by=actor)
    audit_record(subject=template, actor=actor, action="create", to_status=S.DRAFT)
    return template


@transaction.atomic
def template_update(*, template: CouponTemplate, actor: Any, data: dict[str, Any]) -> CouponTemplate:
    """Edit a draft or a rejected template. Approved templates are immutable: copy them instead."""
    _require_perm(actor, "coupons.change_coupontemplate")
    locked = CouponTemplate.objects.select_for_update().get(pk=template.pk)
    if not locked.is_editable:
        raise InvalidTransition(
            _("Only draft or rejected templates can be edited; copy it into a new draft to change it."),
            code=CouponErrorCode.NOT_EDITABLE,
            details={"status": locked.status},
        )
    cleaned = _validated(data, locked)
    changed = sorted(name for name, value in cleaned.items() if getattr(locked, name) != value)
    for name, value in cleaned.items():
        setattr(locked, name, value)
    locked.save()
    audit_record(
        subject=locked,
        actor=actor,
        action="edit",
        from_status=locked.status,
        to_status=locked.status,
        data={"fields": changed},
    )
    return locked


@transaction.atomic
def template_submit(*, template: CouponTemplate, actor: Any) -> CouponTemplate:
    return _transition(template, "submit", actor)


@transaction.atomic
def template_approve(*, template: CouponTemplate, actor: Any, remark: str = "") -> CouponTemplate:
    approved = _transition(template, "approve", actor, remark)
    from coupons.signals import template_approved

    transaction.on_commit(lambda: template_approved.send(sender=CouponTemplate, template=approved))
    return approved


@transaction.atomic
def template_reject(*, template: CouponTemplate, actor: Any, remark: str) -> CouponTemplate:
    if not (remark or "").strip():
        raise ValidationFailed(
            _("A rejection needs a remark."),
            code=CouponErrorCode.REMARK_REQUIRED,
            details={"remark": [_("A rejection needs a remark.")]},
        )
    return _transition(template, "reject", actor, remark.strip())


@retry_on_conflict
def template_stop(
    *, template: CouponTemplate, actor: Any, revoke_unused: bool = False, remark: str = ""
) -> CouponTemplate:
    """Stop issuing (止损). With ``revoke_unused`` every UNUSED coupon becomes REVOKED at once;
    LOCKED coupons finish their orders."""
    locked = _begin(template, "stop", actor)
    revoked = 0
    if revoke_unused:
        revoked = UserCoupon.objects.filter(template=locked, status=CouponStatus.UNUSED).update(
            status=CouponStatus.REVOKED, updated_at=timezone.now()
        )
        locked.revoked_count += revoked
        locked.unused_revoked = True
        locked.save(update_fields=["revoked_count", "unused_revoked"])
    stopped = _finish(locked, "stop", actor, remark, {"revoke_unused": bool(revoke_unused), "revoked": revoked})
    from coupons.signals import template_stopped

    transaction.on_commit(lambda: template_stopped.send(sender=CouponTemplate, template=stopped))
    return stopped


@transaction.atomic
def template_end(*, template: CouponTemplate) -> CouponTemplate:
    return _transition(template, "end", None)


@transaction.atomic
def template_copy(*, template: CouponTemplate, actor: Any) -> CouponTemplate:
    """Copy any template into a new draft (the way to change an approved one)."""
    _require_perm(actor, "coupons.add_coupontemplate")
    fields = {name: getattr(template, name) for name in EDITABLE_FIELDS}
    fields["name"] = (_("%(name)s (copy)") % {"name": template.name})[:100]
    copy = CouponTemplate.objects.create(**fields, status=S.DRAFT, created_by=actor, copied_from=template)
    audit_record(subject=copy, actor=actor, action="copy", to_status=S.DRAFT, data={"copied_from": template.pk})
    return copy
