"""The template approval workflow (maker-checker).

One transition map; every move locks the row, checks the actor, writes the audit record in the same
transaction and leaves side effects for after commit. Admin and the staff API call these functions.
"""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.audit import audit_record
from core.db import retry_on_conflict
from core.errors import ApplicationError, InvalidTransition, ValidationFailed
from core.events import Event, emit
from core.review import Move, Workflow, rejection_remark, require_perm
from coupons.errors import CouponErrorCode
from coupons.ledger import coupons_revoke_unused, gate
from coupons.models import CouponTemplate, TemplateStatus
from coupons.sense import render_sense, warning_issues
from coupons.summary import summary_in_languages
from coupons.validation import clean_template_fields

S = TemplateStatus

# action -> (states it may start from, state it ends in, permission it needs)
TRANSITIONS: dict[str, Move] = {
    "submit": Move(frozenset({S.DRAFT, S.REJECTED}), S.PENDING_REVIEW, "coupons.submit_coupontemplate"),
    "approve": Move(frozenset({S.PENDING_REVIEW}), S.APPROVED, "coupons.review_coupontemplate"),
    "reject": Move(frozenset({S.PENDING_REVIEW}), S.REJECTED, "coupons.review_coupontemplate"),
    "stop": Move(frozenset({S.APPROVED}), S.STOPPED, "coupons.stop_coupontemplate"),
    # Taken by the scheduled job when the claim window is over; no person acts.
    "end": Move(frozenset({S.APPROVED}), S.ENDED, None),
}

WORKFLOW = Workflow(
    model=CouponTemplate,
    moves=TRANSITIONS,
    refusal=gettext_lazy("Cannot %(action)s a template that is %(status)s."),
    self_review=gettext_lazy("Whoever created, edited or submitted a template cannot review it."),
    stamps_review_time=True,
    audit_data=lambda template, action: (
        # What was submitted and approved, as staff read it then (the summary in the trail).
        {"summary": summary_in_languages(template)} if action in ("submit", "approve") else None
    ),
)

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

# The audit data key of a create or an edit whose author confirmed the definition's sense warnings: the
# warning codes confirmed. Only the latest create, edit or copy speaks for the current definition.
CONFIRMED_WARNINGS = "confirmed_warnings"
DEFINITION_ACTIONS = ("create", "edit", "copy")


def can_transition(template: CouponTemplate, action: str, actor: Any) -> bool:
    """Whether ``actor`` may press ``action`` now (used to show only the buttons that work)."""
    return WORKFLOW.can(template, action, actor)


def transition_refusal(template: CouponTemplate, action: str, actor: Any) -> ApplicationError | None:
    """Why ``actor`` may not press ``action`` now (``Workflow.refusal_of``): None when they may."""
    return WORKFLOW.refusal_of(template, action, actor)


def can_edit(template: CouponTemplate, actor: Any) -> bool:
    return template.is_editable and actor.has_perm("coupons.change_coupontemplate")


def _transition(
    template: CouponTemplate, action: str, actor: Any, remark: str = "", seen: datetime | None = None
) -> CouponTemplate:
    return WORKFLOW.move(template, action, actor, remark, seen)


def _validated(data: dict[str, Any], instance: CouponTemplate | None = None) -> dict[str, Any]:
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed(
            _("These fields cannot be set: %(fields)s") % {"fields": ", ".join(sorted(unknown))},
            details={name: [_("This field cannot be set.")] for name in sorted(unknown)},
        )
    merged = {name: getattr(instance, name) for name in EDITABLE_FIELDS} if instance else {}
    merged.update(data)
    return clean_template_fields(merged)


def _warnings_answer(cleaned: dict[str, Any], confirm_warnings: bool | None) -> dict[str, Any]:
    """The audit data recording the author's answer to the sense warnings of ``cleaned``, as the admin
    editor asks it on every save: False refuses a definition with warnings, True confirms them (the
    review page reads the confirmation from the latest create or edit), None is a caller that asked
    nothing and records nothing."""
    warnings = warning_issues(cleaned)
    if not warnings or confirm_warnings is None:
        return {}
    if not confirm_warnings:
        texts = [render_sense(issue) for issue in warnings]
        raise ValidationFailed(
            _("Confirm the warnings of this template, or change it: %(warnings)s") % {"warnings": " ".join(texts)},
            details={"confirm_warnings": texts},
        )
    return {CONFIRMED_WARNINGS: sorted(issue.code.value for issue in warnings)}


@transaction.atomic
def template_create(*, actor: Any, data: dict[str, Any], confirm_warnings: bool | None = None) -> CouponTemplate:
    """Create a draft. ``confirm_warnings``: the author's answer to its sense warnings (``_warnings_answer``)."""
    require_perm(actor, "coupons.add_coupontemplate")
    cleaned = _validated(data)
    answer = _warnings_answer(cleaned, confirm_warnings)
    template = CouponTemplate.objects.create(**cleaned, status=S.DRAFT, created_by=actor)
    audit_record(subject=template, actor=actor, action="create", to_status=S.DRAFT, data=answer)
    return template


@transaction.atomic
def template_update(
    *, template: CouponTemplate, actor: Any, data: dict[str, Any], confirm_warnings: bool | None = None
) -> CouponTemplate:
    """Edit a draft or a rejected template. Approved templates are immutable: copy them instead.
    ``confirm_warnings`` as in ``template_create``: asked again on every edit, as the admin editor does."""
    require_perm(actor, "coupons.change_coupontemplate")
    locked = CouponTemplate.objects.select_for_update().get(pk=template.pk)
    if not locked.is_editable:
        raise InvalidTransition(
            _("Only draft or rejected templates can be edited; copy it into a new draft to change it."),
            code=CouponErrorCode.NOT_EDITABLE,
            details={"status": locked.status},
        )
    cleaned = _validated(data, locked)
    answer = _warnings_answer(cleaned, confirm_warnings)
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
        data={"fields": changed, **answer},
    )
    return locked


@transaction.atomic
def template_submit(*, template: CouponTemplate, actor: Any) -> CouponTemplate:
    """Send a draft (or a rejected template) for review. Its definition is checked again first: the menu
    may have changed since it was saved (a gift dish taken off sale), and a copy is made unchecked."""
    locked = WORKFLOW.begin(template, "submit", actor)
    _validated({}, locked)
    return WORKFLOW.finish(locked, "submit", actor)


@transaction.atomic
def template_approve(
    *, template: CouponTemplate, actor: Any, remark: str = "", seen: datetime | None = None
) -> CouponTemplate:
    """Finance approves (not an author). ``seen``: the version the reviewer read (``Workflow.begin``)."""
    approved = _transition(template, "approve", actor, remark, seen)
    emit(Event.TEMPLATE_APPROVED, template_id=approved.pk)
    # The approved template opens its admission gate entry.
    transaction.on_commit(lambda: gate.load(approved))
    return approved


@transaction.atomic
def template_reject(
    *, template: CouponTemplate, actor: Any, remark: str, seen: datetime | None = None
) -> CouponTemplate:
    return _transition(template, "reject", actor, rejection_remark(remark), seen)


@retry_on_conflict
def template_stop(
    *, template: CouponTemplate, actor: Any, revoke_unused: bool = False, remark: str = ""
) -> CouponTemplate:
    """Stop issuing (止损). With ``revoke_unused`` every UNUSED coupon becomes REVOKED at once;
    LOCKED coupons finish their orders."""
    locked = WORKFLOW.begin(template, "stop", actor)
    revoked = 0
    if revoke_unused:
        revoked = coupons_revoke_unused(template=locked, now=timezone.now())
    stopped = WORKFLOW.finish(
        locked, "stop", actor, remark, data={"revoke_unused": bool(revoke_unused), "revoked": revoked}
    )
    transaction.on_commit(lambda: gate.close(stopped.pk))
    return stopped


@transaction.atomic
def template_end(*, template: CouponTemplate) -> CouponTemplate:
    return _transition(template, "end", None)


def _copy_name(name: str, limit: int = 100) -> str:
    """ "<name> (copy)" within the name's ``limit``: a long name is shortened, never the suffix."""
    suffix = _("%(name)s (copy)") % {"name": ""}
    return _("%(name)s (copy)") % {"name": name[: max(limit - len(suffix), 0)]}


@transaction.atomic
def template_copy(*, template: CouponTemplate, actor: Any) -> CouponTemplate:
    """Copy any template into a new draft (the way to change an approved one)."""
    require_perm(actor, "coupons.add_coupontemplate")
    fields = {name: getattr(template, name) for name in EDITABLE_FIELDS}
    fields["name"] = _copy_name(template.name)
    copy = CouponTemplate.objects.create(**fields, status=S.DRAFT, created_by=actor, copied_from=template)
    audit_record(subject=copy, actor=actor, action="copy", to_status=S.DRAFT, data={"copied_from": template.pk})
    return copy


def templates_end_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """APPROVED templates whose claim window is over become ENDED (one audited transition each)."""
    now = now or timezone.now()
    ended = 0
    due = CouponTemplate.objects.filter(status=S.APPROVED, issue_end_time__lte=now).order_by("id")
    for template in due[:limit]:
        try:
            template_end(template=template)
        except InvalidTransition:
            continue  # another run (or a person) moved it first
        ended += 1
    return ended
