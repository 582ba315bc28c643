"""The template workflow: transitions, who may make them, immutability, stop, copy, audit."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from core.errors import InvalidTransition, PermissionDeniedError, ValidationFailed
from core.models import AuditLog
from coupons import services
from coupons.models import CouponStatus, CouponTemplate, RedemptionCode, RedemptionCodeBatch, TemplateStatus, UserCoupon
from coupons.services import codes
from coupons.services import templates as template_services
from coupons.services.templates import can_transition
from tests.coupons.bad_templates import bad_cases
from tests.factories import CouponTemplateFactory, ProductFactory, StaffFactory, UserCouponFactory, UserFactory
from tests.factories.template_input import TemplateInputFactory

pytestmark = pytest.mark.django_db

S = TemplateStatus
ALL_STATES = list(TemplateStatus)


def trail(template: CouponTemplate) -> list[tuple]:
    """The audit rows of ``template``, oldest first, as (actor, action, from, to, remark)."""
    rows = AuditLog.objects.filter(object_id=template.pk, content_type__model="coupontemplate").order_by("id")
    return [(row.actor, row.action, row.from_status, row.to_status, row.remark) for row in rows]


def snapshot(template: CouponTemplate) -> dict:
    fresh = CouponTemplate.objects.get(pk=template.pk)
    return {f.attname: getattr(fresh, f.attname) for f in CouponTemplate._meta.concrete_fields}


@pytest.fixture
def other_finance(db):
    return StaffFactory(role="finance")


# create and edit -------------------------------------------------------------------------------------


def test_create_makes_a_normalised_draft_and_records_it(operations_user):
    # when
    template = services.template_create(
        actor=operations_user, data=TemplateInputFactory(value={"amount": "10"}, target=None)
    )

    # then
    template.refresh_from_db()
    assert template.status == S.DRAFT
    assert template.created_by == operations_user
    assert template.value == {"amount": "10.00"}
    assert template.target == {"type": "ALL"}
    assert template.issued_quantity == 0
    assert trail(template) == [(operations_user, "create", "", S.DRAFT, "")]


@pytest.mark.parametrize("status", [S.DRAFT, S.REJECTED])
def test_edit_of_a_draft_or_rejected_template_saves_and_records_the_fields(operations_user, status):
    template = CouponTemplateFactory(status=status, created_by=operations_user, total_quantity=100)

    services.template_update(template=template, actor=operations_user, data={"total_quantity": 500, "name": "改名"})

    template.refresh_from_db()
    assert (template.total_quantity, template.name, template.status) == (500, "改名", status)
    row = AuditLog.objects.get(object_id=template.pk, action="edit")
    assert (row.actor, row.from_status, row.to_status) == (operations_user, status, status)
    assert row.data == {"fields": ["name", "total_quantity"]}


@pytest.mark.parametrize("status", [S.PENDING_REVIEW, S.APPROVED, S.STOPPED, S.ENDED])
def test_edit_is_refused_once_submitted(operations_user, status):
    template = CouponTemplateFactory(status=status, created_by=operations_user)
    before = snapshot(template)

    with pytest.raises(InvalidTransition) as exc:
        services.template_update(template=template, actor=operations_user, data={"total_quantity": 5})

    assert exc.value.code == "NOT_EDITABLE"
    assert exc.value.status_code == 409
    assert snapshot(template) == before
    assert trail(template) == []


def test_edit_cannot_set_workflow_fields(operations_user):
    template = CouponTemplateFactory(status=S.DRAFT, created_by=operations_user)

    with pytest.raises(ValidationFailed) as exc:
        services.template_update(
            template=template, actor=operations_user, data={"status": S.APPROVED, "issued_quantity": 3}
        )

    assert set(exc.value.details) == {"status", "issued_quantity"}
    template.refresh_from_db()
    assert (template.status, template.issued_quantity) == (S.DRAFT, 0)


# sense warnings ------------------------------------------------------------------------------------------

UNLIMITED_FOR_ALL = {"total_quantity": -1, "per_user_limit": 0}


def test_create_with_unconfirmed_warnings_is_refused_naming_confirm_warnings(operations_user):
    with pytest.raises(ValidationFailed) as exc:
        services.template_create(
            actor=operations_user, data=TemplateInputFactory(**UNLIMITED_FOR_ALL), confirm_warnings=False
        )

    assert list(exc.value.details) == ["confirm_warnings"]
    assert exc.value.details["confirm_warnings"][0].startswith("Unlimited stock and no per-user limit")
    assert "Unlimited stock and no per-user limit" in exc.value.message
    assert CouponTemplate.objects.count() == 0
    assert AuditLog.objects.count() == 0


def test_create_with_confirmed_warnings_records_which_were_confirmed(operations_user):
    template = services.template_create(
        actor=operations_user,
        data=TemplateInputFactory(**UNLIMITED_FOR_ALL, type="PERCENTAGE_DISCOUNT", value={"percentage": 60}),
        confirm_warnings=True,
    )

    assert AuditLog.objects.get(object_id=template.pk, action="create").data == {
        "confirmed_warnings": ["LARGE_PERCENTAGE", "UNLIMITED_WITHOUT_PER_USER_LIMIT"]
    }


def test_an_edit_with_unconfirmed_warnings_is_refused_and_changes_nothing(operations_user):
    template = services.template_create(actor=operations_user, data=TemplateInputFactory())
    before = snapshot(template)

    with pytest.raises(ValidationFailed) as exc:
        services.template_update(
            template=template, actor=operations_user, data=UNLIMITED_FOR_ALL, confirm_warnings=False
        )

    assert list(exc.value.details) == ["confirm_warnings"]
    assert snapshot(template) == before
    assert [row[1] for row in trail(template)] == ["create"]


def test_a_caller_that_does_not_answer_is_neither_refused_nor_recorded_as_confirmed(operations_user):
    # The admin editor asks in its own form; until it passes the answer on, nothing is recorded.
    template = services.template_create(actor=operations_user, data=TemplateInputFactory(**UNLIMITED_FOR_ALL))

    assert AuditLog.objects.get(object_id=template.pk, action="create").data == {}


# transitions ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.DRAFT, S.REJECTED])
def test_submit_from_draft_or_rejected(operations_user, status):
    template = CouponTemplateFactory(status=status, created_by=operations_user)

    result = services.template_submit(template=template, actor=operations_user)

    assert result.status == S.PENDING_REVIEW
    assert CouponTemplate.objects.get(pk=template.pk).status == S.PENDING_REVIEW
    assert trail(template) == [(operations_user, "submit", status, S.PENDING_REVIEW, "")]


def test_approve_from_pending_review_records_the_reviewer(operations_user, finance_user):
    template = CouponTemplateFactory(status=S.PENDING_REVIEW, created_by=operations_user)

    services.template_approve(template=template, actor=finance_user, remark="预算已确认")

    template.refresh_from_db()
    assert template.status == S.APPROVED
    assert template.reviewed_by == finance_user
    assert template.reviewed_at is not None
    assert template.review_remark == "预算已确认"
    assert trail(template) == [(finance_user, "approve", S.PENDING_REVIEW, S.APPROVED, "预算已确认")]


def test_reject_from_pending_review_keeps_the_remark(operations_user, finance_user):
    template = CouponTemplateFactory(status=S.PENDING_REVIEW, created_by=operations_user)

    services.template_reject(template=template, actor=finance_user, remark="  数量过大  ")

    template.refresh_from_db()
    assert (template.status, template.reviewed_by, template.review_remark) == (S.REJECTED, finance_user, "数量过大")
    assert trail(template) == [(finance_user, "reject", S.PENDING_REVIEW, S.REJECTED, "数量过大")]


@pytest.mark.parametrize("remark", ["", "   "])
def test_reject_needs_a_remark(operations_user, finance_user, remark):
    template = CouponTemplateFactory(status=S.PENDING_REVIEW, created_by=operations_user)

    with pytest.raises(ValidationFailed) as exc:
        services.template_reject(template=template, actor=finance_user, remark=remark)

    assert exc.value.code == "REMARK_REQUIRED"
    assert "remark" in exc.value.details
    template.refresh_from_db()
    assert (template.status, template.reviewed_by) == (S.PENDING_REVIEW, None)
    assert trail(template) == []


def test_stop_from_approved(operations_user):
    template = CouponTemplateFactory(status=S.APPROVED, created_by=operations_user)

    services.template_stop(template=template, actor=operations_user, remark="预算用完")

    template.refresh_from_db()
    assert template.status == S.STOPPED
    assert trail(template) == [(operations_user, "stop", S.APPROVED, S.STOPPED, "预算用完")]


def test_end_is_taken_by_the_system():
    template = CouponTemplateFactory(status=S.APPROVED)

    services.template_end(template=template)

    template.refresh_from_db()
    assert template.status == S.ENDED
    assert trail(template) == [(None, "end", S.APPROVED, S.ENDED, "")]


ALLOWED_FROM = {
    "submit": {S.DRAFT, S.REJECTED},
    "approve": {S.PENDING_REVIEW},
    "reject": {S.PENDING_REVIEW},
    "stop": {S.APPROVED},
    "end": {S.APPROVED},
}
REFUSED = [
    (action, status) for action, allowed in ALLOWED_FROM.items() for status in ALL_STATES if status not in allowed
]


def _press(action: str, template: CouponTemplate, operations_user, finance_user) -> CouponTemplate:
    if action == "submit":
        return services.template_submit(template=template, actor=operations_user)
    if action == "approve":
        return services.template_approve(template=template, actor=finance_user)
    if action == "reject":
        return services.template_reject(template=template, actor=finance_user, remark="no")
    if action == "stop":
        return services.template_stop(template=template, actor=operations_user, revoke_unused=True)
    return services.template_end(template=template)


@pytest.mark.parametrize(("action", "status"), REFUSED, ids=[f"{a}-from-{s}" for a, s in REFUSED])
def test_a_transition_from_a_wrong_state_is_refused(operations_user, finance_user, action, status):
    template = CouponTemplateFactory(status=status, created_by=operations_user)
    unused = UserCouponFactory(template=template)
    before = snapshot(template)

    with pytest.raises(InvalidTransition) as exc:
        _press(action, template, operations_user, finance_user)

    assert exc.value.code == "INVALID_STATE"
    assert exc.value.status_code == 409
    assert exc.value.details == {"status": status, "action": action}
    assert snapshot(template) == before
    assert trail(template) == []
    assert UserCoupon.objects.get(pk=unused.pk).status == CouponStatus.UNUSED


# who may act -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_operations_cannot_review(operations_user, action):
    template = CouponTemplateFactory(status=S.PENDING_REVIEW, created_by=StaffFactory(role="operations"))

    with pytest.raises(PermissionDeniedError) as exc:
        _press(action, template, operations_user, operations_user)

    assert exc.value.code == "PERMISSION_DENIED"
    assert CouponTemplate.objects.get(pk=template.pk).status == S.PENDING_REVIEW
    assert trail(template) == []


def test_finance_cannot_create(finance_user):
    with pytest.raises(PermissionDeniedError):
        services.template_create(actor=finance_user, data=TemplateInputFactory())

    assert CouponTemplate.objects.count() == 0
    assert AuditLog.objects.count() == 0


def test_finance_cannot_edit(finance_user):
    template = CouponTemplateFactory(status=S.DRAFT, name="原名")

    with pytest.raises(PermissionDeniedError):
        services.template_update(template=template, actor=finance_user, data={"name": "财务改的"})

    assert CouponTemplate.objects.get(pk=template.pk).name == "原名"


@pytest.mark.parametrize("action", ["submit", "stop"])
def test_finance_cannot_submit_or_stop(finance_user, action):
    status = S.DRAFT if action == "submit" else S.APPROVED
    template = CouponTemplateFactory(status=status)

    with pytest.raises(PermissionDeniedError):
        _press(action, template, finance_user, finance_user)

    assert CouponTemplate.objects.get(pk=template.pk).status == status
    assert trail(template) == []


def test_finance_cannot_copy(finance_user):
    template = CouponTemplateFactory(status=S.APPROVED)

    with pytest.raises(PermissionDeniedError):
        services.template_copy(template=template, actor=finance_user)

    assert CouponTemplate.objects.count() == 1


def test_a_customer_can_do_nothing():
    customer = UserFactory()
    draft = CouponTemplateFactory(status=S.DRAFT)

    with pytest.raises(PermissionDeniedError):
        services.template_create(actor=customer, data=TemplateInputFactory())
    with pytest.raises(PermissionDeniedError):
        services.template_submit(template=draft, actor=customer)

    assert CouponTemplate.objects.get().status == S.DRAFT


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_the_creator_cannot_review_their_own_template(action):
    # given a finance member who is also the creator (e.g. the template was reassigned to them)
    maker = StaffFactory(role="finance")
    template = CouponTemplateFactory(status=S.PENDING_REVIEW, created_by=maker)

    with pytest.raises(PermissionDeniedError) as exc:
        _press(action, template, maker, maker)

    assert exc.value.code == "SELF_REVIEW"
    template.refresh_from_db()
    assert (template.status, template.reviewed_by) == (S.PENDING_REVIEW, None)
    assert trail(template) == []


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_whoever_edited_or_submitted_a_template_cannot_review_it(action):
    # given: a template made by one member of operations, rewritten and submitted by a superuser
    maker = StaffFactory(role="operations")
    boss = UserFactory(is_staff=True, is_superuser=True, profile=False)
    template = services.template_create(actor=maker, data=TemplateInputFactory())
    services.template_update(template=template, actor=boss, data={"name": "rewritten"})
    template = services.template_submit(template=template, actor=boss)
    assert not can_transition(template, action, boss)

    with pytest.raises(PermissionDeniedError) as exc:
        _press(action, template, boss, boss)

    assert exc.value.code == "SELF_REVIEW"
    assert CouponTemplate.objects.get(pk=template.pk).status == S.PENDING_REVIEW
    assert can_transition(template, action, StaffFactory(role="finance"))


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_not_even_a_superuser_reviews_what_they_created(action):
    boss = UserFactory(is_staff=True, is_superuser=True, profile=False)
    template = services.template_create(actor=boss, data=TemplateInputFactory())
    services.template_submit(template=template, actor=boss)

    with pytest.raises(PermissionDeniedError) as exc:
        _press(action, template, boss, boss)

    assert exc.value.code == "SELF_REVIEW"
    assert CouponTemplate.objects.get(pk=template.pk).status == S.PENDING_REVIEW


def test_a_superuser_reviews_what_someone_else_created(operations_user):
    boss = UserFactory(is_staff=True, is_superuser=True, profile=False)
    template = CouponTemplateFactory(status=S.PENDING_REVIEW, created_by=operations_user)

    services.template_approve(template=template, actor=boss)

    assert CouponTemplate.objects.get(pk=template.pk).status == S.APPROVED


# stop and revoke -------------------------------------------------------------------------------------


def test_stop_with_revoke_unused_revokes_every_unused_coupon_and_nothing_else(operations_user):
    # given
    template = CouponTemplateFactory(status=S.APPROVED, revoked_count=1)
    unused = UserCouponFactory.create_batch(3, template=template)
    locked = UserCouponFactory(template=template, status=CouponStatus.LOCKED)
    used = UserCouponFactory(template=template, status=CouponStatus.USED)
    expired = UserCouponFactory(template=template, status=CouponStatus.EXPIRED)
    elsewhere = UserCouponFactory(template=CouponTemplateFactory(status=S.APPROVED))

    # when
    services.template_stop(template=template, actor=operations_user, revoke_unused=True)

    # then
    template.refresh_from_db()
    assert template.status == S.STOPPED
    assert template.revoked_count == 4
    statuses = dict(UserCoupon.objects.values_list("pk", "status"))
    assert [statuses[c.pk] for c in unused] == [CouponStatus.REVOKED] * 3
    assert statuses[locked.pk] == CouponStatus.LOCKED
    assert statuses[used.pk] == CouponStatus.USED
    assert statuses[expired.pk] == CouponStatus.EXPIRED
    assert statuses[elsewhere.pk] == CouponStatus.UNUSED
    row = AuditLog.objects.get(object_id=template.pk, action="stop")
    assert row.data == {"revoke_unused": True, "revoked": 3}


def test_stop_without_revoke_leaves_the_coupons_alone(operations_user):
    template = CouponTemplateFactory(status=S.APPROVED)
    coupons = UserCouponFactory.create_batch(2, template=template)

    services.template_stop(template=template, actor=operations_user, revoke_unused=False)

    template.refresh_from_db()
    assert (template.status, template.revoked_count) == (S.STOPPED, 0)
    assert set(UserCoupon.objects.filter(pk__in=[c.pk for c in coupons]).values_list("status", flat=True)) == {
        CouponStatus.UNUSED
    }
    assert AuditLog.objects.get(object_id=template.pk, action="stop").data == {"revoke_unused": False, "revoked": 0}


# copy --------------------------------------------------------------------------------------------------


def test_the_copy_of_a_template_with_a_100_character_name_still_says_it_is_a_copy(operations_user):
    original = CouponTemplateFactory(status=S.APPROVED, name="烤" * 100)

    copy = services.template_copy(template=original, actor=operations_user)

    assert copy.name != original.name
    assert copy.name.endswith(" (copy)")
    assert len(copy.name) == 100


def test_copy_of_an_approved_template_is_a_new_draft(operations_user):
    original = CouponTemplateFactory(
        status=S.APPROVED,
        name="烤鸭节满100减20",
        value={"amount": "20.00"},
        issued_quantity=30,
        revoked_count=2,
        reviewed_by=StaffFactory(role="finance"),
        review_remark="ok",
    )
    before = snapshot(original)

    copy = services.template_copy(template=original, actor=operations_user)

    copy.refresh_from_db()
    assert copy.pk != original.pk
    assert copy.status == S.DRAFT
    assert copy.copied_from == original
    assert copy.created_by == operations_user
    assert copy.name == "烤鸭节满100减20 (copy)"
    assert (copy.value, copy.usage_rules, copy.total_quantity) == (
        original.value,
        original.usage_rules,
        original.total_quantity,
    )
    assert (copy.issued_quantity, copy.revoked_count, copy.reviewed_by, copy.review_remark) == (0, 0, None, "")
    assert copy.discount_total == Decimal("0.00")
    assert snapshot(original) == before
    assert trail(copy) == [(operations_user, "copy", "", S.DRAFT, "")]
    assert AuditLog.objects.get(object_id=copy.pk).data == {"copied_from": original.pk}

    # and the copy can be changed, unlike its original
    services.template_update(template=copy, actor=operations_user, data={"value": {"amount": "25.00"}})
    assert CouponTemplate.objects.get(pk=copy.pk).value == {"amount": "25.00"}


# the whole life, audited -------------------------------------------------------------------------------


def test_every_step_of_a_template_life_is_in_its_audit_trail(operations_user, finance_user, other_finance):
    template = services.template_create(actor=operations_user, data=TemplateInputFactory())
    services.template_submit(template=template, actor=operations_user)
    services.template_reject(template=template, actor=finance_user, remark="改成500张")
    services.template_update(template=template, actor=operations_user, data={"total_quantity": 500})
    services.template_submit(template=template, actor=operations_user)
    services.template_approve(template=template, actor=other_finance, remark="同意")
    services.template_stop(template=template, actor=operations_user, revoke_unused=True, remark="止损")

    assert trail(template) == [
        (operations_user, "create", "", S.DRAFT, ""),
        (operations_user, "submit", S.DRAFT, S.PENDING_REVIEW, ""),
        (finance_user, "reject", S.PENDING_REVIEW, S.REJECTED, "改成500张"),
        (operations_user, "edit", S.REJECTED, S.REJECTED, ""),
        (operations_user, "submit", S.REJECTED, S.PENDING_REVIEW, ""),
        (other_finance, "approve", S.PENDING_REVIEW, S.APPROVED, "同意"),
        (operations_user, "stop", S.APPROVED, S.STOPPED, "止损"),
    ]
    assert all(row.created_at is not None for row in AuditLog.objects.filter(object_id=template.pk))


# validation through the service -------------------------------------------------------------------------


@bad_cases
def test_create_refuses_bad_input_and_writes_nothing(operations_user, case):
    with pytest.raises(ValidationError) as exc:
        services.template_create(actor=operations_user, data=case.data())

    errors = exc.value.message_dict
    assert case.field in errors, errors
    assert all(message.strip() for message in errors[case.field])
    assert CouponTemplate.objects.count() == 0
    assert AuditLog.objects.count() == 0


@bad_cases
def test_edit_refuses_bad_input_and_changes_nothing(operations_user, case):
    template = services.template_create(actor=operations_user, data=TemplateInputFactory())
    before = snapshot(template)

    with pytest.raises(ValidationError) as exc:
        services.template_update(template=template, actor=operations_user, data=case.overrides)

    assert case.field in exc.value.message_dict
    assert snapshot(template) == before
    assert [row[1] for row in trail(template)] == ["create"]


def test_a_free_item_of_a_dish_on_the_menu_is_accepted(operations_user):
    ProductFactory(sku="d-901", category__code="cat-drinks")
    data = TemplateInputFactory(
        type="FREE_ITEM",
        value={"gift_item_id": "d-901", "quantity": 1},
        usage_rules=[{"rule_type": "CONDITIONAL_GIFT_ITEM", "params": {"required_category_ids": ["cat-drinks"]}}],
    )

    template = services.template_create(actor=operations_user, data=data)

    assert CouponTemplate.objects.get(pk=template.pk).value == {"gift_item_id": "d-901", "quantity": 1}


def failing_audit(**_kwargs):
    raise RuntimeError("the audit log is unavailable")


@pytest.mark.django_db(transaction=True)
def test_a_copy_whose_audit_row_cannot_be_written_leaves_no_draft_behind(operations_user, monkeypatch):
    original = CouponTemplateFactory(status=TemplateStatus.APPROVED)
    monkeypatch.setattr(template_services, "audit_record", failing_audit)

    with pytest.raises(RuntimeError):
        services.template_copy(template=original, actor=operations_user)

    assert list(CouponTemplate.objects.values_list("pk", flat=True)) == [original.pk]


@pytest.mark.django_db(transaction=True)
def test_a_code_batch_whose_audit_row_cannot_be_written_leaves_no_codes_behind(operations_user, monkeypatch):
    template = CouponTemplateFactory(status=TemplateStatus.APPROVED)
    monkeypatch.setattr(codes, "audit_record", failing_audit)

    with pytest.raises(RuntimeError):
        codes.code_batch_create(template=template, name="x", quantity=3, actor=operations_user)

    assert not RedemptionCodeBatch.objects.exists() and not RedemptionCode.objects.exists()
