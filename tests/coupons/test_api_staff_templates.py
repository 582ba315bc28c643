"""Staff template endpoints: the same services and permissions as admin, the spec's error shape."""

import json

import pytest
from rest_framework.test import APIClient

from core.models import AuditLog
from coupons.models import CouponStatus, CouponTemplate, TemplateStatus, UserCoupon
from tests.conftest import client_for
from tests.coupons.bad_templates import bad_cases
from tests.error_shape import assert_api_error
from tests.factories import (
    CategoryFactory,
    CouponTemplateFactory,
    ProductFactory,
    StaffFactory,
    UserCouponFactory,
    UserFactory,
)
from tests.factories.template_input import TemplateInputFactory

pytestmark = pytest.mark.django_db

S = TemplateStatus
BASE = "/api/v1/staff/templates/"


def url(pk: int, action: str = "") -> str:
    return f"{BASE}{pk}/{action}" if action else f"{BASE}{pk}"


def row_of(template: CouponTemplate) -> dict:
    fresh = CouponTemplate.objects.get(pk=template.pk)
    return {f.attname: getattr(fresh, f.attname) for f in CouponTemplate._meta.concrete_fields}


@pytest.fixture
def superuser_client(db) -> APIClient:
    return client_for(UserFactory(is_staff=True, is_superuser=True, profile=False))


# list ------------------------------------------------------------------------------------------------


def test_list_is_paginated_newest_first(finance_client):
    CouponTemplateFactory.create_batch(23)

    first = finance_client.get(BASE)
    second = finance_client.get(first.json()["next"])

    assert first.status_code == 200
    page = first.json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert (page["count"], len(page["results"]), page["previous"]) == (23, 20, None)
    assert "page=2" in page["next"]
    assert second.status_code == 200
    assert (len(second.json()["results"]), second.json()["next"]) == (3, None)
    assert second.json()["previous"] is not None
    ids = [t["id"] for t in page["results"] + second.json()["results"]]
    assert sorted(ids, reverse=True) == ids
    assert set(ids) == set(CouponTemplate.objects.values_list("pk", flat=True))


def test_list_filters_by_status_and_searches_by_name(operations_client):
    CouponTemplateFactory(status=S.DRAFT, name="周末狂欢")
    pending = CouponTemplateFactory(status=S.PENDING_REVIEW, name="午市满50减8")
    CouponTemplateFactory(status=S.PENDING_REVIEW, name="烤鸭节")

    by_status = operations_client.get(BASE, {"status": "PENDING_REVIEW"}).json()
    by_both = operations_client.get(BASE, {"status": "PENDING_REVIEW", "search": "午市"}).json()

    assert {t["name"] for t in by_status["results"]} == {"午市满50减8", "烤鸭节"}
    assert by_status["count"] == 2
    assert [t["id"] for t in by_both["results"]] == [pending.pk]


def test_list_refuses_an_unknown_status(operations_client):
    response = operations_client.get(BASE, {"status": "LOST"})

    assert_api_error(response, 400, "VALIDATION_ERROR", field="status")


def test_list_item_carries_the_contract_fields(operations_client, operations_user):
    CouponTemplateFactory(created_by=operations_user, total_quantity=100, issued_quantity=40)

    item = operations_client.get(BASE).json()["results"][0]

    for name in (
        "name",
        "short_name",
        "description",
        "type",
        "value",
        "usage_rules",
        "total_quantity",
        "issued_quantity",
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
        "status",
        "created_by",
        "reviewed_by",
        "review_remark",
        "created_at",
        "updated_at",
    ):
        assert name in item, name
    assert (item["remaining"], item["created_by"]) == (60, operations_user.username)


# create ----------------------------------------------------------------------------------------------


def test_create_makes_a_draft(operations_client, operations_user):
    body = TemplateInputFactory(name="满100减10", value={"amount": "10"})

    response = operations_client.post(BASE, body, format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    template = CouponTemplate.objects.get()
    assert data["id"] == template.pk
    assert (data["status"], data["created_by"], data["value"]) == (
        "DRAFT",
        operations_user.username,
        {"amount": "10.00"},
    )
    assert (template.name, template.status, template.created_by) == ("满100减10", S.DRAFT, operations_user)
    assert [(a["actor"], a["action"], a["to_status"]) for a in data["audit_trail"]] == [
        (operations_user.username, "create", "DRAFT")
    ]


@bad_cases
def test_create_refuses_bad_input_with_the_field_and_writes_nothing(operations_client, case):
    response = operations_client.post(BASE, case.data(), format="json")

    assert_api_error(response, 400, "VALIDATION_ERROR", field=case.field)
    assert CouponTemplate.objects.count() == 0
    assert AuditLog.objects.count() == 0


@pytest.mark.parametrize("extra", [{"status": "APPROVED"}, {"issued_quantity": 5}, {"colour": "red"}])
def test_create_refuses_fields_it_does_not_know(operations_client, extra):
    response = operations_client.post(BASE, {**TemplateInputFactory(), **extra}, format="json")

    assert_api_error(response, 400, "VALIDATION_ERROR", field=next(iter(extra)))
    assert CouponTemplate.objects.count() == 0


def test_create_refuses_a_body_that_is_not_an_object(operations_client):
    response = operations_client.post(BASE, [TemplateInputFactory()], format="json")

    assert_api_error(response, 400, "VALIDATION_ERROR")
    assert CouponTemplate.objects.count() == 0


def test_create_with_an_idempotency_key_replays_the_first_answer(operations_client):
    body = TemplateInputFactory()

    first = operations_client.post(BASE, body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    again = operations_client.post(BASE, body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert CouponTemplate.objects.count() == 1
    assert AuditLog.objects.filter(action="create").count() == 1


def test_create_with_a_reused_key_and_another_body_is_refused(operations_client):
    operations_client.post(BASE, TemplateInputFactory(name="第一个"), format="json", HTTP_IDEMPOTENCY_KEY="k")

    response = operations_client.post(
        BASE, TemplateInputFactory(name="第二个"), format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert_api_error(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert list(CouponTemplate.objects.values_list("name", flat=True)) == ["第一个"]


def test_without_a_key_each_create_is_new(operations_client):
    body = TemplateInputFactory()

    operations_client.post(BASE, body, format="json")
    operations_client.post(BASE, body, format="json")

    assert CouponTemplate.objects.count() == 2


# detail and patch ------------------------------------------------------------------------------------


def test_detail_includes_the_audit_trail(operations_client, operations_user, finance_client, finance_user):
    template = operations_client.post(BASE, TemplateInputFactory(), format="json").json()
    operations_client.post(url(template["id"], "submit"), format="json")
    finance_client.post(url(template["id"], "reject"), {"remark": "太多了"}, format="json")

    response = operations_client.get(url(template["id"]))

    assert response.status_code == 200
    data = response.json()
    assert (data["status"], data["reviewed_by"], data["review_remark"]) == ("REJECTED", finance_user.username, "太多了")
    assert [(a["actor"], a["action"], a["from_status"], a["to_status"], a["remark"]) for a in data["audit_trail"]] == [
        (finance_user.username, "reject", "PENDING_REVIEW", "REJECTED", "太多了"),
        (operations_user.username, "submit", "DRAFT", "PENDING_REVIEW", ""),
        (operations_user.username, "create", "", "DRAFT", ""),
    ]
    assert all(a["created_at"] for a in data["audit_trail"])


def test_patch_changes_a_draft(operations_client, operations_user):
    template = CouponTemplateFactory(status=S.DRAFT, created_by=operations_user, total_quantity=100)

    response = operations_client.patch(
        url(template.pk), {"total_quantity": 300, "short_name": "满百减十"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["total_quantity"], response.json()["short_name"]) == (300, "满百减十")
    template.refresh_from_db()
    assert (template.total_quantity, template.short_name) == (300, "满百减十")
    assert response.json()["audit_trail"][0]["action"] == "edit"


@pytest.mark.parametrize("status", [S.PENDING_REVIEW, S.APPROVED, S.STOPPED, S.ENDED])
def test_patch_after_submission_is_a_conflict(operations_client, status):
    template = CouponTemplateFactory(status=status)
    before = row_of(template)

    response = operations_client.patch(url(template.pk), {"total_quantity": 5}, format="json")

    assert_api_error(response, 409, "NOT_EDITABLE")
    assert row_of(template) == before


@bad_cases
def test_patch_refuses_bad_input_and_changes_nothing(operations_client, operations_user, case):
    template = operations_client.post(BASE, TemplateInputFactory(), format="json").json()
    before = row_of(CouponTemplate(pk=template["id"]))

    response = operations_client.patch(url(template["id"]), case.overrides, format="json")

    assert_api_error(response, 400, "VALIDATION_ERROR", field=case.field)
    assert row_of(CouponTemplate(pk=template["id"])) == before


def test_patch_refuses_fields_it_does_not_know(operations_client):
    template = CouponTemplateFactory(status=S.DRAFT)

    response = operations_client.patch(url(template.pk), {"status": "APPROVED"}, format="json")

    assert_api_error(response, 400, "VALIDATION_ERROR", field="status")
    assert CouponTemplate.objects.get(pk=template.pk).status == S.DRAFT


# workflow --------------------------------------------------------------------------------------------


def test_the_whole_workflow_through_the_api(operations_client, operations_user, finance_client, finance_user):
    created = operations_client.post(BASE, TemplateInputFactory(), format="json").json()
    pk = created["id"]

    submitted = operations_client.post(url(pk, "submit"), format="json")
    approved = finance_client.post(url(pk, "approve"), {"remark": "同意"}, format="json")
    stopped = operations_client.post(url(pk, "stop"), {"revoke_unused": False}, format="json")

    assert (submitted.status_code, submitted.json()["status"]) == (200, "PENDING_REVIEW")
    assert (approved.status_code, approved.json()["status"]) == (200, "APPROVED")
    assert (approved.json()["reviewed_by"], approved.json()["review_remark"]) == (finance_user.username, "同意")
    assert (stopped.status_code, stopped.json()["status"]) == (200, "STOPPED")
    assert list(
        AuditLog.objects.filter(object_id=pk).order_by("id").values_list("actor__username", "action", "to_status")
    ) == [
        (operations_user.username, "create", "DRAFT"),
        (operations_user.username, "submit", "PENDING_REVIEW"),
        (finance_user.username, "approve", "APPROVED"),
        (operations_user.username, "stop", "STOPPED"),
    ]


def test_reject_needs_a_remark(finance_client):
    template = CouponTemplateFactory(status=S.PENDING_REVIEW)

    missing = finance_client.post(url(template.pk, "reject"), {}, format="json")
    blank = finance_client.post(url(template.pk, "reject"), {"remark": "   "}, format="json")

    assert_api_error(missing, 400, field="remark")
    assert_api_error(blank, 400, field="remark")
    assert CouponTemplate.objects.get(pk=template.pk).status == S.PENDING_REVIEW
    assert AuditLog.objects.count() == 0


def test_reject_with_a_remark(finance_client):
    template = CouponTemplateFactory(status=S.PENDING_REVIEW)

    response = finance_client.post(url(template.pk, "reject"), {"remark": "预算不足"}, format="json")

    assert (response.status_code, response.json()["status"], response.json()["review_remark"]) == (
        200,
        "REJECTED",
        "预算不足",
    )


@pytest.mark.parametrize(
    ("action", "status", "who"),
    [
        ("submit", S.PENDING_REVIEW, "operations"),
        ("submit", S.APPROVED, "operations"),
        ("approve", S.DRAFT, "finance"),
        ("approve", S.APPROVED, "finance"),
        ("reject", S.REJECTED, "finance"),
        ("stop", S.PENDING_REVIEW, "operations"),
        ("stop", S.STOPPED, "operations"),
        ("stop", S.ENDED, "operations"),
    ],
)
def test_a_move_from_the_wrong_state_is_a_conflict(action, status, who):
    template = CouponTemplateFactory(status=status)
    client = client_for(StaffFactory(role=who))

    response = client.post(url(template.pk, action), {"remark": "x"}, format="json")

    error = assert_api_error(response, 409, "INVALID_STATE")
    assert error["details"] == {"status": status, "action": action}
    assert CouponTemplate.objects.get(pk=template.pk).status == status


@pytest.mark.parametrize("revoke", [True, False])
def test_stop_revokes_unused_coupons_only_when_asked(operations_client, revoke):
    template = CouponTemplateFactory(status=S.APPROVED)
    unused = UserCouponFactory.create_batch(2, template=template)
    locked = UserCouponFactory(template=template, status=CouponStatus.LOCKED)
    used = UserCouponFactory(template=template, status=CouponStatus.USED)

    response = operations_client.post(url(template.pk, "stop"), {"revoke_unused": revoke}, format="json")

    assert (response.status_code, response.json()["status"]) == (200, "STOPPED")
    statuses = dict(UserCoupon.objects.values_list("pk", "status"))
    expected = CouponStatus.REVOKED if revoke else CouponStatus.UNUSED
    assert [statuses[c.pk] for c in unused] == [expected, expected]
    assert (statuses[locked.pk], statuses[used.pk]) == (CouponStatus.LOCKED, CouponStatus.USED)
    assert CouponTemplate.objects.get(pk=template.pk).revoked_count == (2 if revoke else 0)


def test_stop_refuses_a_misspelt_option_instead_of_ignoring_it(operations_client):
    template = CouponTemplateFactory(status=S.APPROVED)
    coupon = UserCouponFactory(template=template)

    response = operations_client.post(url(template.pk, "stop"), {"revoke_unsued": True}, format="json")

    assert_api_error(response, 400, "VALIDATION_ERROR", field="revoke_unsued")
    assert CouponTemplate.objects.get(pk=template.pk).status == S.APPROVED
    assert UserCoupon.objects.get(pk=coupon.pk).status == CouponStatus.UNUSED


def test_copy_makes_a_new_draft(operations_client, operations_user):
    original = CouponTemplateFactory(status=S.APPROVED, name="8.8折")

    response = operations_client.post(url(original.pk, "copy"), format="json")

    assert response.status_code == 201
    data = response.json()
    assert data["id"] != original.pk
    assert (data["status"], data["copied_from"], data["created_by"]) == ("DRAFT", original.pk, operations_user.username)
    assert CouponTemplate.objects.get(pk=original.pk).status == S.APPROVED
    assert CouponTemplate.objects.get(pk=data["id"]).copied_from_id == original.pk


def test_a_repeated_submit_with_one_key_submits_once(operations_client):
    template = CouponTemplateFactory(status=S.DRAFT)

    first = operations_client.post(url(template.pk, "submit"), format="json", HTTP_IDEMPOTENCY_KEY="s-1")
    again = operations_client.post(url(template.pk, "submit"), format="json", HTTP_IDEMPOTENCY_KEY="s-1")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert AuditLog.objects.filter(object_id=template.pk, action="submit").count() == 1


# permissions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_operations_cannot_review(operations_client, action):
    template = CouponTemplateFactory(status=S.PENDING_REVIEW)

    response = operations_client.post(url(template.pk, action), {"remark": "ok"}, format="json")

    assert_api_error(response, 403, "PERMISSION_DENIED")
    assert CouponTemplate.objects.get(pk=template.pk).status == S.PENDING_REVIEW


def test_finance_cannot_create(finance_client):
    response = finance_client.post(BASE, TemplateInputFactory(), format="json")

    assert_api_error(response, 403, "PERMISSION_DENIED")
    assert CouponTemplate.objects.count() == 0


def test_finance_cannot_edit(finance_client):
    template = CouponTemplateFactory(status=S.DRAFT, total_quantity=100)

    response = finance_client.patch(url(template.pk), {"total_quantity": 1}, format="json")

    assert_api_error(response, 403, "PERMISSION_DENIED")
    assert CouponTemplate.objects.get(pk=template.pk).total_quantity == 100


@pytest.mark.parametrize(("action", "status"), [("submit", S.DRAFT), ("stop", S.APPROVED), ("copy", S.APPROVED)])
def test_finance_cannot_submit_stop_or_copy(finance_client, action, status):
    template = CouponTemplateFactory(status=status)

    response = finance_client.post(url(template.pk, action), format="json")

    assert_api_error(response, 403, "PERMISSION_DENIED")
    assert CouponTemplate.objects.get(pk=template.pk).status == status
    assert CouponTemplate.objects.count() == 1


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_the_creator_cannot_review_their_own_template(action):
    maker = StaffFactory(role="finance")
    template = CouponTemplateFactory(status=S.PENDING_REVIEW, created_by=maker)

    response = client_for(maker).post(url(template.pk, action), {"remark": "自己批"}, format="json")

    assert_api_error(response, 403, "SELF_REVIEW")
    assert CouponTemplate.objects.get(pk=template.pk).status == S.PENDING_REVIEW


def test_a_superuser_cannot_approve_what_they_created(superuser_client):
    pk = superuser_client.post(BASE, TemplateInputFactory(), format="json").json()["id"]
    superuser_client.post(url(pk, "submit"), format="json")

    response = superuser_client.post(url(pk, "approve"), format="json")

    assert_api_error(response, 403, "SELF_REVIEW")
    assert CouponTemplate.objects.get(pk=pk).status == S.PENDING_REVIEW


def _every_staff_request(pk: int) -> list[tuple[str, str, dict]]:
    return [
        ("get", BASE, {}),
        ("post", BASE, TemplateInputFactory()),
        ("get", url(pk), {}),
        ("patch", url(pk), {"total_quantity": 1}),
        *[("post", url(pk, action), {"remark": "x"}) for action in ("submit", "approve", "reject", "stop", "copy")],
    ]


def test_customers_are_forbidden_every_staff_endpoint(customer_client):
    template = CouponTemplateFactory(status=S.PENDING_REVIEW, total_quantity=100)

    for method, path, body in _every_staff_request(template.pk):
        response = getattr(customer_client, method)(path, body, format="json")
        assert_api_error(response, 403, "PERMISSION_DENIED")

    assert row_of(template)["total_quantity"] == 100
    assert (CouponTemplate.objects.count(), AuditLog.objects.count()) == (1, 0)


def test_anonymous_callers_must_authenticate(api_client):
    template = CouponTemplateFactory(status=S.PENDING_REVIEW)

    for method, path, body in _every_staff_request(template.pk):
        response = getattr(api_client, method)(path, body, format="json")
        assert_api_error(response, 401, "NOT_AUTHENTICATED")

    assert (CouponTemplate.objects.count(), AuditLog.objects.count()) == (1, 0)


def test_unknown_ids_are_404(operations_client, finance_client):
    missing = (CouponTemplateFactory().pk) + 1000

    responses = [
        operations_client.get(url(missing)),
        operations_client.patch(url(missing), {"name": "x"}, format="json"),
        *[operations_client.post(url(missing, action), format="json") for action in ("submit", "stop", "copy")],
        *[
            finance_client.post(url(missing, action), {"remark": "x"}, format="json")
            for action in ("approve", "reject")
        ],
    ]

    for response in responses:
        assert_api_error(response, 404, "NOT_FOUND")
    assert CouponTemplate.objects.count() == 1


# the menu and the codes -------------------------------------------------------------------------------


def test_create_refuses_a_gift_dish_off_sale(operations_client):
    ProductFactory(sku="d-901", category=CategoryFactory(code="cat-closed", is_active=False))
    body = TemplateInputFactory(type="FREE_ITEM", value={"gift_item_id": "d-901", "quantity": 1}, usage_rules=[])

    response = operations_client.post(BASE, body, format="json")

    assert_api_error(response, 400, "VALIDATION_ERROR", field="value")
    assert response.json()["error"]["details"]["value"] == [
        "The gift dish d-901 is not on sale: it or its category is inactive."
    ]
    assert CouponTemplate.objects.count() == 0


def test_the_schema_states_the_product_line_in_ascii_digits(api_client):
    schema = json.loads(api_client.get("/api/schema/", {"format": "json"}).content)

    product_lines = [
        component["properties"]["product_line"]
        for component in schema["components"]["schemas"].values()
        if "product_line" in component.get("properties", {}) and component["properties"]["product_line"].get("pattern")
    ]
    assert product_lines and all(field["pattern"] == "^[0-9]{2}$" for field in product_lines), product_lines


def test_a_copy_is_checked_again_when_it_is_submitted(operations_client):
    # given: an approved free-item template whose gift dish has since been taken off sale, copied to a draft
    gift = ProductFactory(sku="d-902", category=CategoryFactory(code="cat-roast"))
    approved = CouponTemplateFactory(type="FREE_ITEM", value={"gift_item_id": "d-902", "quantity": 1}, usage_rules=[])
    gift.is_active = False
    gift.save()
    copy = operations_client.post(f"{BASE}{approved.pk}/copy", format="json").json()

    # when
    response = operations_client.post(f"{BASE}{copy['id']}/submit", format="json")

    # then: refused as an edit would be, and the copy stays a draft
    assert_api_error(response, 400, "VALIDATION_ERROR", field="value")
    assert CouponTemplate.objects.get(pk=copy["id"]).status == TemplateStatus.DRAFT


def test_an_approval_of_a_version_saved_since_is_a_409(operations_client, finance_client, operations_user):
    # given: finance read the template; it was rejected, rewritten and resubmitted since
    template = CouponTemplateFactory(status=TemplateStatus.PENDING_REVIEW, created_by=operations_user)
    read = finance_client.get(f"{BASE}{template.pk}").json()["updated_at"]
    other = client_for(StaffFactory(role="finance"))
    assert other.post(f"{BASE}{template.pk}/reject", {"remark": "门槛太低"}, format="json").status_code == 200
    operations_client.patch(f"{BASE}{template.pk}", {"name": "满100减50"}, format="json")
    operations_client.post(f"{BASE}{template.pk}/submit", format="json")

    stale = finance_client.post(f"{BASE}{template.pk}/approve", {"updated_at": read}, format="json")
    current = finance_client.get(f"{BASE}{template.pk}").json()["updated_at"]
    fresh = finance_client.post(f"{BASE}{template.pk}/approve", {"updated_at": current}, format="json")

    assert_api_error(stale, 409, "INVALID_STATE")
    assert fresh.status_code == 200, fresh.content
    assert fresh.json()["status"] == TemplateStatus.APPROVED


# sense warnings --------------------------------------------------------------------------------------

FREE_FOR_ALL = {"type": "PERCENTAGE_DISCOUNT", "value": {"percentage": 100}, "usage_rules": []}


def test_create_refuses_a_template_with_unconfirmed_warnings_and_names_them(operations_client):
    response = operations_client.post(BASE, TemplateInputFactory(**FREE_FOR_ALL), format="json")

    error = assert_api_error(response, 400, "VALIDATION_ERROR", field="confirm_warnings")
    assert "100 % off without a cap: every order it is used on is free." in error["details"]["confirm_warnings"]
    assert "100 % off without a cap" in error["message"]
    assert CouponTemplate.objects.count() == 0
    assert AuditLog.objects.count() == 0


def test_the_warnings_are_named_in_the_readers_language(operations_client):
    body = TemplateInputFactory(**FREE_FOR_ALL, total_quantity=-1, per_user_limit=0)

    response = operations_client.post(BASE, body, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")

    error = assert_api_error(response, 400, "VALIDATION_ERROR", field="confirm_warnings")
    assert error["details"]["confirm_warnings"] == [
        "全额减免且未设封顶：用券的每一单都将免费。",
        "不限量且不限每人领取张数：同一顾客可无限领取。",
    ]


def test_create_with_confirmed_warnings_makes_a_draft_and_records_the_confirmation(operations_client):
    body = TemplateInputFactory(**FREE_FOR_ALL, confirm_warnings=True)

    response = operations_client.post(BASE, body, format="json")

    assert response.status_code == 201, response.json()
    template = CouponTemplate.objects.get()
    assert (template.type, template.value, template.status) == ("PERCENTAGE_DISCOUNT", {"percentage": 100}, S.DRAFT)
    created = response.json()["audit_trail"][0]
    assert (created["action"], created["details"]) == ("create", {"confirmed_warnings": ["FULL_DISCOUNT_WITHOUT_CAP"]})
    assert "confirm_warnings" not in response.json()


@pytest.mark.parametrize("confirm", [True, False, None])
def test_a_template_without_warnings_needs_no_confirmation_and_records_none(operations_client, confirm):
    extra = {} if confirm is None else {"confirm_warnings": confirm}

    response = operations_client.post(BASE, TemplateInputFactory(**extra), format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["audit_trail"][0]["details"] == {}


def test_patch_refuses_an_edit_into_unconfirmed_warnings_and_changes_nothing(operations_client, operations_user):
    template = operations_client.post(BASE, TemplateInputFactory(), format="json").json()
    before = row_of(CouponTemplate(pk=template["id"]))

    response = operations_client.patch(url(template["id"]), {"per_user_limit": 0, "total_quantity": -1}, format="json")

    error = assert_api_error(response, 400, "VALIDATION_ERROR", field="confirm_warnings")
    assert "Unlimited stock and no per-user limit" in error["details"]["confirm_warnings"][0]
    assert row_of(CouponTemplate(pk=template["id"])) == before


def test_every_save_of_a_template_with_warnings_needs_the_confirmation_as_in_the_editor(operations_client):
    # given: a template whose warnings were confirmed when it was created
    body = TemplateInputFactory(**FREE_FOR_ALL, confirm_warnings=True)
    pk = operations_client.post(BASE, body, format="json").json()["id"]

    # when: it is edited, first without the confirmation and then with it
    refused = operations_client.patch(url(pk), {"name": "全场免单"}, format="json")
    confirmed = operations_client.patch(url(pk), {"name": "全场免单", "confirm_warnings": True}, format="json")

    # then
    assert_api_error(refused, 400, "VALIDATION_ERROR", field="confirm_warnings")
    assert confirmed.status_code == 200, confirmed.json()
    edit = confirmed.json()["audit_trail"][0]
    assert (edit["action"], edit["details"]) == (
        "edit",
        {"fields": ["name"], "confirmed_warnings": ["FULL_DISCOUNT_WITHOUT_CAP"]},
    )


def test_a_patch_that_removes_the_warnings_needs_no_confirmation(operations_client):
    pk = operations_client.post(BASE, TemplateInputFactory(**FREE_FOR_ALL, confirm_warnings=True), format="json")
    pk = pk.json()["id"]

    response = operations_client.patch(url(pk), {"value": {"percentage": 20}}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["audit_trail"][0]["details"] == {"fields": ["value"]}


def test_confirm_warnings_must_be_a_boolean(operations_client):
    body = TemplateInputFactory(**FREE_FOR_ALL, confirm_warnings="maybe")

    response = operations_client.post(BASE, body, format="json")

    assert_api_error(response, 400, "VALIDATION_ERROR", field="confirm_warnings")
    assert CouponTemplate.objects.count() == 0


def test_the_schema_documents_confirm_warnings_as_a_write_only_boolean(api_client):
    schema = json.loads(api_client.get("/api/schema/", {"format": "json"}).content)

    components = schema["components"]["schemas"]
    inputs = [c for name, c in components.items() if "confirm_warnings" in c.get("properties", {})]
    assert inputs, sorted(components)
    assert all(c["properties"]["confirm_warnings"]["type"] == "boolean" for c in inputs)
    assert all(c["properties"]["confirm_warnings"].get("description") for c in inputs)
    assert "confirm_warnings" not in components["TemplateDetailOutput"]["properties"]
