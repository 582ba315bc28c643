"""The template admin, driven through Django's test client as each role would use it."""

import pytest
from django.test import Client
from django.urls import reverse

from core.audit import audit_record
from core.models import AuditLog
from coupons import services
from coupons.models import CouponStatus, CouponTemplate, TemplateStatus, UserCoupon
from tests.coupons.bad_templates import BAD_CASES, EDITOR_CASES, admin_form_data, error_lands_on
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
CHANGELIST = "/admin/coupons/coupontemplate/"
ADD = "/admin/coupons/coupontemplate/add/"


def change_url(pk: int) -> str:
    return f"/admin/coupons/coupontemplate/{pk}/change/"


def workflow_url(pk: int, action: str) -> str:
    return f"/admin/coupons/coupontemplate/{pk}/workflow/{action}/"


def browser(user) -> Client:
    """A logged-in client that enforces CSRF, as a browser session does."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def press(client: Client, template: CouponTemplate, action: str, **fields: str):
    """Open the workflow page of ``action`` and send its form, as the button does."""
    page = client.get(workflow_url(template.pk, action))
    assert page.status_code == 200
    assert b'<form method="post">' in page.content
    token = client.cookies["csrftoken"].value
    form = page.context["form"]
    hidden = {field.name: field.value() for field in form.hidden_fields()}  # the version the page showed
    return client.post(workflow_url(template.pk, action), {"csrfmiddlewaretoken": token, **hidden, **fields})


def told_why(client: Client, template: CouponTemplate, action: str) -> list[str]:
    """Open the workflow page of ``action`` that the person may take, but not on the template as it is
    now: they are sent back to the template's page and told why. The messages shown there."""
    response = client.get(workflow_url(template.pk, action))
    assert response.status_code == 302 and response["Location"] == change_url(template.pk)
    return [str(m) for m in client.get(change_url(template.pk)).context["messages"]]


def forge(client: Client, template: CouponTemplate, action: str, *, page_refused: bool = True, **fields: str):
    """Send a workflow form without its page (the page itself is refused to who may never act)."""
    if page_refused:
        assert client.get(workflow_url(template.pk, action)).status_code == 403
    client.get(change_url(template.pk))
    token = client.cookies["csrftoken"].value
    return client.post(workflow_url(template.pk, action), {"csrfmiddlewaretoken": token, **fields})


def buttons(response) -> set[str]:
    return {
        action for action in ("submit", "approve", "reject", "stop", "copy") if f"workflow-{action}" in response.text
    }


def status_of(template: CouponTemplate) -> str:
    return CouponTemplate.objects.get(pk=template.pk).status


@pytest.fixture
def superuser(db):
    return UserFactory(is_staff=True, is_superuser=True, profile=False)


# which buttons each role sees ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.DRAFT, S.REJECTED])
def test_operations_sees_submit_on_a_draft_and_not_approve(operations_user, status):
    template = CouponTemplateFactory(status=status, created_by=operations_user)

    response = browser(operations_user).get(change_url(template.pk))

    assert response.status_code == 200
    assert buttons(response) == {"submit", "copy"}
    assert 'name="_save"' in response.text


def test_operations_sees_stop_on_an_approved_template(operations_user):
    template = CouponTemplateFactory(status=S.APPROVED)

    response = browser(operations_user).get(change_url(template.pk))

    assert buttons(response) == {"stop", "copy"}


def test_finance_sees_approve_and_reject_on_someone_elses_pending_template(finance_user, operations_user):
    template = CouponTemplateFactory(status=S.PENDING_REVIEW, created_by=operations_user)

    response = browser(finance_user).get(change_url(template.pk))

    assert response.status_code == 200
    assert buttons(response) == {"approve", "reject"}
    assert 'name="_save"' not in response.text


def test_finance_sees_no_review_buttons_on_their_own_template(finance_user):
    template = CouponTemplateFactory(status=S.PENDING_REVIEW, created_by=finance_user)

    response = browser(finance_user).get(change_url(template.pk))

    assert response.status_code == 200
    assert buttons(response) == set()


def test_operations_sees_no_review_buttons_on_a_pending_template(operations_user):
    template = CouponTemplateFactory(status=S.PENDING_REVIEW, created_by=StaffFactory())

    response = browser(operations_user).get(change_url(template.pk))

    assert buttons(response) == {"copy"}


# pressing the buttons --------------------------------------------------------------------------------------


def test_operations_submits_a_draft(operations_user):
    template = CouponTemplateFactory(status=S.DRAFT, created_by=operations_user)

    response = press(browser(operations_user), template, "submit")

    assert response.status_code == 302
    assert response["Location"] == change_url(template.pk)
    assert status_of(template) == S.PENDING_REVIEW
    row = AuditLog.objects.get(object_id=template.pk)
    assert (row.actor, row.action, row.from_status, row.to_status) == (
        operations_user,
        "submit",
        S.DRAFT,
        S.PENDING_REVIEW,
    )


def test_a_submit_posted_without_any_field_still_submits(operations_user):
    # A submit has no fields, so its POST may be empty (CSRF sent as a header, or not enforced).
    template = CouponTemplateFactory(status=S.DRAFT, created_by=operations_user)
    client = Client()
    client.force_login(operations_user)

    response = client.post(workflow_url(template.pk, "submit"), {})

    assert response.status_code == 302
    assert status_of(template) == S.PENDING_REVIEW


def test_finance_approves_with_a_remark(finance_user, operations_user):
    template = CouponTemplateFactory(status=S.PENDING_REVIEW, created_by=operations_user)

    response = press(browser(finance_user), template, "approve", remark="预算已确认")

    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.status, template.reviewed_by, template.review_remark) == (S.APPROVED, finance_user, "预算已确认")
    row = AuditLog.objects.get(object_id=template.pk)
    assert (row.actor, row.action, row.to_status, row.remark) == (finance_user, "approve", S.APPROVED, "预算已确认")


def test_finance_rejects_with_a_remark(finance_user, operations_user):
    template = CouponTemplateFactory(status=S.PENDING_REVIEW, created_by=operations_user)

    press(browser(finance_user), template, "reject", remark="数量过大")

    template.refresh_from_db()
    assert (template.status, template.review_remark) == (S.REJECTED, "数量过大")
    assert AuditLog.objects.get(object_id=template.pk).action == "reject"


def test_reject_without_a_remark_shows_an_error_and_changes_nothing(finance_user, operations_user):
    template = CouponTemplateFactory(status=S.PENDING_REVIEW, created_by=operations_user)

    response = press(browser(finance_user), template, "reject", remark="   ")

    assert response.status_code == 200
    assert "remark" in response.context["form"].errors
    assert status_of(template) == S.PENDING_REVIEW
    assert AuditLog.objects.count() == 0


def test_stop_with_revoke_through_admin(operations_user):
    template = CouponTemplateFactory(status=S.APPROVED)
    unused = UserCouponFactory(template=template)
    locked = UserCouponFactory(template=template, status=CouponStatus.LOCKED)
    client = browser(operations_user)

    page = client.get(workflow_url(template.pk, "stop"))
    response = press(client, template, "stop", revoke_unused="on", remark="止损")

    assert 'name="revoke_unused"' in page.text
    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.status, template.revoked_count) == (S.STOPPED, 1)
    assert UserCoupon.objects.get(pk=unused.pk).status == CouponStatus.REVOKED
    assert UserCoupon.objects.get(pk=locked.pk).status == CouponStatus.LOCKED
    assert AuditLog.objects.get(object_id=template.pk, action="stop").remark == "止损"


def test_copy_through_admin_opens_the_new_draft(operations_user):
    original = CouponTemplateFactory(status=S.APPROVED)

    response = press(browser(operations_user), original, "copy")

    copy = CouponTemplate.objects.exclude(pk=original.pk).get()
    assert response["Location"] == change_url(copy.pk)
    assert (copy.status, copy.copied_from, copy.created_by) == (S.DRAFT, original, operations_user)


def test_a_forged_approve_by_operations_is_refused(operations_user):
    template = CouponTemplateFactory(status=S.PENDING_REVIEW, created_by=StaffFactory())
    client = browser(operations_user)

    response = forge(client, template, "approve", remark="我来批")

    assert response.status_code == 302
    assert status_of(template) == S.PENDING_REVIEW
    assert AuditLog.objects.count() == 0
    messages = [str(m) for m in client.get(change_url(template.pk)).context["messages"]]
    assert messages and "permission" in messages[0].lower()


def test_a_forged_self_approve_is_refused(finance_user):
    template = CouponTemplateFactory(status=S.PENDING_REVIEW, created_by=finance_user)
    client = browser(finance_user)

    told = told_why(client, template, "approve")
    response = forge(client, template, "approve", page_refused=False)

    assert told == ["Whoever created, edited or submitted a template cannot review it."]
    assert response.status_code == 302
    assert status_of(template) == S.PENDING_REVIEW
    assert AuditLog.objects.count() == 0


def test_pressing_a_button_from_the_wrong_state_changes_nothing(operations_user):
    template = CouponTemplateFactory(status=S.APPROVED, created_by=operations_user)
    client = browser(operations_user)

    told = told_why(client, template, "submit")
    response = forge(client, template, "submit", page_refused=False)

    assert told == ["Cannot submit a template that is Approved."]
    assert response.status_code == 302
    assert status_of(template) == S.APPROVED
    assert AuditLog.objects.count() == 0


def test_submitting_a_draft_whose_gift_dish_went_off_sale_says_why(operations_user):
    tea = ProductFactory(sku="d-601", name="茉莉花茶", category=CategoryFactory(code="cat-drinks"))
    data = TemplateInputFactory(type="FREE_ITEM", value={"gift_item_id": "d-601", "quantity": 1}, usage_rules=[])
    template = services.template_create(actor=operations_user, data=data)
    tea.is_active = False
    tea.save()
    client = browser(operations_user)

    response = press(client, template, "submit")

    assert response.status_code == 302 and response["Location"] == change_url(template.pk)
    (told,) = [str(m) for m in client.get(change_url(template.pk)).context["messages"]]
    assert told.startswith("The definition does not pass its checks now:") and "Edit it, then submit it." in told
    assert status_of(template) == S.DRAFT
    assert not AuditLog.objects.filter(action="submit").exists()


def test_a_page_drawn_before_a_colleague_approved_says_so(finance_user):
    template = CouponTemplateFactory(status=S.PENDING_REVIEW, created_by=StaffFactory(role="operations"))
    client = browser(finance_user)
    page = client.get(change_url(template.pk))
    assert "workflow-approve" in page.text  # the button as the page was drawn
    services.template_approve(template=template, actor=StaffFactory(role="finance"))

    told = told_why(client, template, "approve")  # the button pressed on the old page

    assert told == ["Cannot approve a template that is Approved."]
    assert status_of(template) == S.APPROVED
    assert AuditLog.objects.filter(action="approve").count() == 1


def test_an_unknown_workflow_action_is_forbidden(operations_user):
    template = CouponTemplateFactory(status=S.DRAFT)

    response = browser(operations_user).get(workflow_url(template.pk, "publish"))

    assert response.status_code == 403


def test_staff_without_a_role_cannot_open_a_workflow_page():
    template = CouponTemplateFactory(status=S.DRAFT, name="机密模板")
    client = Client()
    client.force_login(UserFactory(is_staff=True, profile=False))

    page = client.get(workflow_url(template.pk, "submit"))
    post = client.post(workflow_url(template.pk, "submit"), {})

    assert (page.status_code, post.status_code) == (403, 403)
    assert "机密模板" not in page.content.decode()
    assert status_of(template) == S.DRAFT


def test_a_customer_cannot_reach_the_workflow_pages(operations_user):
    template = CouponTemplateFactory(status=S.DRAFT)
    client = Client()
    client.force_login(UserFactory())

    response = client.post(workflow_url(template.pk, "submit"), {})

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    assert status_of(template) == S.DRAFT


# the change page -----------------------------------------------------------------------------------------


def test_the_change_page_shows_the_audit_trail(operations_user, finance_user):
    template = services.template_create(actor=operations_user, data=TemplateInputFactory())
    services.template_submit(template=template, actor=operations_user)
    services.template_reject(template=template, actor=finance_user, remark="请改为500张")

    response = browser(operations_user).get(change_url(template.pk))

    assert "Audit trail" in response.text
    trail = list(response.context["audit_trail"])
    assert [(row.actor, row.action, row.to_status) for row in trail] == [
        (finance_user, "reject", S.REJECTED),
        (operations_user, "submit", S.PENDING_REVIEW),
        (operations_user, "create", S.DRAFT),
    ]
    assert "请改为500张" in response.text
    assert finance_user.username in response.text


@pytest.mark.parametrize("status", [S.PENDING_REVIEW, S.APPROVED, S.STOPPED, S.ENDED])
def test_a_submitted_template_opens_read_only_and_a_post_changes_nothing(operations_user, status):
    template = CouponTemplateFactory(status=status, name="不可改", total_quantity=100)
    client = browser(operations_user)

    page = client.get(change_url(template.pk))
    token = client.cookies["csrftoken"].value
    data = admin_form_data(TemplateInputFactory(name="改了", total_quantity=1))
    response = client.post(change_url(template.pk), {"csrfmiddlewaretoken": token, **data, "_save": "Save"})

    assert page.status_code == 200
    assert 'name="_save"' not in page.text
    assert "不可改" in page.text
    assert response.status_code == 403
    template.refresh_from_db()
    assert (template.name, template.total_quantity, template.status) == ("不可改", 100, status)


def test_finance_sees_a_draft_read_only_and_without_buttons(finance_user):
    template = CouponTemplateFactory(status=S.DRAFT)

    response = browser(finance_user).get(change_url(template.pk))

    assert response.status_code == 200
    assert 'name="_save"' not in response.text
    assert buttons(response) == set()


def test_operations_edits_a_draft_through_the_form(operations_user):
    template = services.template_create(actor=operations_user, data=TemplateInputFactory(total_quantity=100))
    client = browser(operations_user)
    client.get(change_url(template.pk))
    data = admin_form_data(TemplateInputFactory(name="午市满50减8", total_quantity=300))

    response = client.post(
        change_url(template.pk), {"csrfmiddlewaretoken": client.cookies["csrftoken"].value, **data, "_save": "Save"}
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    template.refresh_from_db()
    assert (template.name, template.total_quantity, template.status) == ("午市满50减8", 300, S.DRAFT)
    edit = AuditLog.objects.get(object_id=template.pk, action="edit")
    assert edit.actor == operations_user
    assert {"name", "total_quantity"} <= set(edit.data["fields"])


def test_operations_adds_a_template_through_the_form(operations_user):
    client = Client()
    client.force_login(operations_user)
    form = client.get(ADD)

    response = client.post(
        ADD,
        {**admin_form_data(TemplateInputFactory(name="烤鸭节满100减20", value={"amount": "20"})), "_save": "Save"},
    )

    assert form.status_code == 200
    assert response.status_code == 302, response.context["adminform"].form.errors
    template = CouponTemplate.objects.get()
    assert (template.name, template.status, template.created_by) == ("烤鸭节满100减20", S.DRAFT, operations_user)
    assert template.value == {"amount": "20.00"}
    assert AuditLog.objects.get(object_id=template.pk).action == "create"


def test_finance_cannot_add_a_template(finance_user):
    client = Client()
    client.force_login(finance_user)

    response = client.post(ADD, {**admin_form_data(TemplateInputFactory()), "_save": "Save"})

    assert response.status_code == 403
    assert CouponTemplate.objects.count() == 0


@pytest.mark.parametrize("case", EDITOR_CASES, ids=[case.id for case in EDITOR_CASES])
def test_the_add_form_shows_each_bad_example_on_its_field(operations_user, case):
    client = Client()
    client.force_login(operations_user)

    response = client.post(ADD, {**admin_form_data(case.data()), "_save": "Save"})

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert error_lands_on(case.field, errors), errors
    assert all(message.strip() for messages in errors.values() for message in messages)
    assert CouponTemplate.objects.count() == 0
    assert AuditLog.objects.count() == 0


EDIT_CASES = [
    case
    for case in BAD_CASES
    if case.id
    in {"claim_window_ends_before_start", "percentage_over_100", "usage_rule_unknown_type", "total_quantity_zero"}
]


@pytest.mark.parametrize("case", EDIT_CASES, ids=[case.id for case in EDIT_CASES])
def test_the_change_form_refuses_bad_input_and_changes_nothing(operations_user, case):
    template = services.template_create(actor=operations_user, data=TemplateInputFactory())
    before = CouponTemplate.objects.filter(pk=template.pk).values().get()
    client = Client()
    client.force_login(operations_user)

    response = client.post(change_url(template.pk), {**admin_form_data(case.data()), "_save": "Save"})

    assert response.status_code == 200
    assert error_lands_on(case.field, response.context["adminform"].form.errors)
    assert CouponTemplate.objects.filter(pk=template.pk).values().get() == before
    assert not AuditLog.objects.filter(action="edit").exists()


# list, index, audit admin ----------------------------------------------------------------------------------


def test_the_list_filters_by_status_and_searches(operations_user):
    CouponTemplateFactory(status=S.DRAFT, name="周末狂欢满100减15")
    CouponTemplateFactory(status=S.APPROVED, name="烤鸭节满100减20")
    CouponTemplateFactory(status=S.APPROVED, name="无门槛5元红包")
    client = browser(operations_user)

    everything = client.get(CHANGELIST)
    approved = client.get(CHANGELIST, {"status__exact": "APPROVED"})
    searched = client.get(CHANGELIST, {"q": "烤鸭"})
    since = client.get(
        CHANGELIST, {"created_at__gte": "2000-01-01 00:00:00+08:00", "created_at__lt": "2000-01-02 00:00:00+08:00"}
    )

    assert everything.status_code == approved.status_code == searched.status_code == since.status_code == 200
    assert since.context["cl"].result_count == 0
    assert everything.context["cl"].result_count == 3
    assert {t.name for t in approved.context["cl"].result_list} == {"烤鸭节满100减20", "无门槛5元红包"}
    assert [t.name for t in searched.context["cl"].result_list] == ["烤鸭节满100减20"]


def test_the_list_of_coupons_people_hold_loads(finance_user):
    coupon = UserCouponFactory()

    response = browser(finance_user).get("/admin/coupons/usercoupon/")

    assert response.status_code == 200
    assert [c.code for c in response.context["cl"].result_list] == [coupon.code]


@pytest.mark.parametrize("who", ["operations", "finance", "superuser"])
def test_the_admin_index_loads_for_every_role(who, superuser):
    user = superuser if who == "superuser" else StaffFactory(role=who)

    response = browser(user).get("/admin/")

    assert response.status_code == 200
    assert CHANGELIST in response.text
    assert "/admin/core/auditlog/" in response.text


def test_the_audit_trail_cannot_be_changed_or_deleted_even_by_a_superuser(superuser, operations_user):
    template = CouponTemplateFactory()
    row = audit_record(subject=template, actor=operations_user, action="submit", from_status="DRAFT", to_status="X")
    client = Client()
    client.force_login(superuser)
    base = f"/admin/core/auditlog/{row.pk}"

    listing = client.get("/admin/core/auditlog/")
    page = client.get(f"{base}/change/")
    changed = client.post(f"{base}/change/", {"action": "approve", "remark": "edited"})
    delete_page = client.get(f"{base}/delete/")
    deleted = client.post(f"{base}/delete/", {"post": "yes"})
    bulk = client.post(
        "/admin/core/auditlog/", {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"}
    )
    added = client.get("/admin/core/auditlog/add/")

    assert listing.status_code == 200
    assert page.status_code == 200 and 'name="_save"' not in page.text
    assert (changed.status_code, delete_page.status_code, deleted.status_code, added.status_code) == (
        403,
        403,
        403,
        403,
    )
    assert "delete_selected" not in listing.text
    assert bulk.status_code in (200, 302)
    row.refresh_from_db()
    assert (row.action, row.remark) == ("submit", "")
    assert AuditLog.objects.filter(pk=row.pk).exists()


def test_the_approve_page_itself_is_refused_to_those_who_may_not_approve(operations_user, finance_user):
    template = CouponTemplateFactory(status=S.PENDING_REVIEW, created_by=operations_user)
    url = reverse("admin:coupons_coupontemplate_workflow", args=[template.pk, "approve"])

    assert browser(operations_user).get(url).status_code == 403
    assert browser(finance_user).get(url).status_code == 200


def test_an_approval_from_a_page_opened_before_the_template_changed_is_refused(finance_user, operations_user):
    # given: finance opens the approve page; meanwhile the template is rejected, rewritten and resubmitted
    template = services.template_create(actor=operations_user, data=TemplateInputFactory(name="满100减10"))
    services.template_submit(template=template, actor=operations_user)
    client = browser(finance_user)
    page = client.get(workflow_url(template.pk, "approve"))
    shown = page.context["form"]["seen"].value()
    other = StaffFactory(role="finance")
    services.template_reject(template=template, actor=other, remark="门槛太低")
    services.template_update(template=template, actor=operations_user, data={"name": "满100减50"})
    services.template_submit(template=template, actor=operations_user)

    # when: the old page's form is sent
    token = client.cookies["csrftoken"].value
    stale = client.post(
        workflow_url(template.pk, "approve"), {"csrfmiddlewaretoken": token, "seen": shown}, follow=True
    )

    # then: refused with the reason, still pending; the page opened again approves the version it shows
    assert "It changed after you opened it" in " ".join(str(m) for m in stale.context["messages"])
    assert status_of(template) == S.PENDING_REVIEW
    assert press(client, template, "approve").status_code == 302
    assert status_of(template) == S.APPROVED
