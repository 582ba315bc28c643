"""Workflow actions reach Django's admin log (recent actions, each object's history) with the object's
name, written once by ``core.audit``; the audit list reads in the reader's language and names objects."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.utils import timezone, translation

from core.actions import ACTION_LABELS
from core.audit import audit_record
from core.models import AuditLog
from coupons import services
from coupons.models import CouponTemplate
from marketing.models import Activity, ActivityItem
from marketing.services.activities import activity_publish
from orders.models import Order
from orders.services.menu import product_deactivate
from tests.factories import CouponTemplateFactory, ProductFactory, UserFactory
from tests.factories.template_input import TemplateInputFactory

pytestmark = pytest.mark.django_db


def logged_in(user, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def entries_for(obj) -> list[LogEntry]:
    return list(LogEntry.objects.filter(object_id=str(obj.pk), content_type__model=obj._meta.model_name).order_by("id"))


@pytest.fixture
def reviewed_template(operations_user, finance_user) -> CouponTemplate:
    template = services.template_create(actor=operations_user, data=TemplateInputFactory(name="午市满50减8"))
    services.template_submit(template=template, actor=operations_user)
    services.template_approve(template=template, actor=finance_user, remark="预算已确认")
    return template


def test_template_workflow_actions_are_in_the_admin_log_with_the_templates_name(
    reviewed_template, operations_user, finance_user
):
    entries = entries_for(reviewed_template)

    # create is an edit (admin logs its own add and change); submit and approve are workflow actions
    assert [(e.user, e.action_flag, e.object_repr) for e in entries] == [
        (operations_user, CHANGE, "午市满50减8"),
        (finance_user, CHANGE, "午市满50减8"),
    ]


def test_stop_and_copy_are_logged_too_and_the_copy_as_an_addition(reviewed_template, operations_user):
    services.template_stop(template=reviewed_template, actor=operations_user, revoke_unused=False)
    copy = services.template_copy(template=reviewed_template, actor=operations_user)

    assert [e.action_flag for e in entries_for(reviewed_template)] == [CHANGE, CHANGE, CHANGE]
    (copied,) = entries_for(copy)
    assert (copied.action_flag, copied.user, copied.object_repr) == (ADDITION, operations_user, str(copy))


def test_an_activity_publish_is_logged(operations_user):
    activity = Activity.objects.create(
        title="烤鸭节", start_time=timezone.now(), end_time=timezone.now() + timedelta(days=1)
    )
    ActivityItem.objects.create(activity=activity, template=CouponTemplateFactory(), quantity=1)

    activity_publish(activity=activity, actor=operations_user)

    (entry,) = entries_for(activity)
    assert (entry.object_repr, entry.user) == ("烤鸭节", operations_user)


def test_actions_without_a_person_or_by_a_customer_stay_out_of_the_admin_log(operations_user):
    template = CouponTemplateFactory()
    customer = UserFactory()

    audit_record(subject=template, actor=None, action="end", from_status="APPROVED", to_status="ENDED")
    audit_record(subject=template, actor=customer, action="cancel")
    audit_record(subject=template, actor=operations_user, action="edit")

    assert AuditLog.objects.count() == 3
    assert LogEntry.objects.count() == 0


def test_a_dish_deactivated_by_staff_is_in_its_history_in_the_readers_language(operations_user):
    product = ProductFactory(sku="d-901", name="北京烤鸭")

    product_deactivate(product=product, actor=operations_user)

    (entry,) = entries_for(product)
    assert (entry.action_flag, entry.user, entry.object_repr) == (CHANGE, operations_user, str(product))
    page = logged_in(operations_user, "zh-hans").get(f"/admin/orders/product/{product.pk}/history/")
    assert "停用" in page.content.decode()


def test_every_recorded_action_reads_in_chinese():
    with translation.override("zh-hans"):
        untranslated = {code: str(label) for code, label in ACTION_LABELS.items() if str(label).isascii()}
    assert untranslated == {}


def test_the_history_page_shows_the_workflow_in_the_readers_language(reviewed_template, finance_user):
    url = f"/admin/coupons/coupontemplate/{reviewed_template.pk}/history/"

    chinese = logged_in(finance_user, "zh-hans").get(url).content.decode()
    english = logged_in(finance_user, "en").get(url).content.decode()

    assert "提交审核：草稿 → 待审核" in chinese
    assert "通过：待审核 → 已通过（备注：预算已确认）" in chinese
    assert "Submit: Draft → Pending review" in english
    assert "Approve: Pending review → Approved (remark: 预算已确认)" in english


def test_recent_actions_on_the_index_name_the_object(reviewed_template, finance_user):
    page = logged_in(finance_user).get("/admin/").content.decode()

    assert 'id="recent-actions-module"' in page
    assert "午市满50减8" in page


def test_the_audit_list_names_objects_and_translates_actions_and_statuses(reviewed_template, finance_user):
    chinese = logged_in(finance_user, "zh-hans").get("/admin/core/auditlog/")
    english = logged_in(finance_user, "en").get("/admin/core/auditlog/").content.decode()

    text = chinese.content.decode()
    assert chinese.status_code == 200
    assert f'<a href="/admin/coupons/coupontemplate/{reviewed_template.pk}/change/">午市满50减8</a>' in text
    assert "待审核" in text and "已通过" in text and "PENDING_REVIEW" not in text
    assert '<td class="field-action_display">提交审核</td>' in text
    assert '<td class="field-action_display">submit</td>' in english
    assert '<td class="field-to_display">Pending review</td>' in english


def test_the_audit_list_filters_only_by_this_projects_models(reviewed_template, finance_user, operations_user):
    order = Order.objects.create(user=UserFactory(), channel="APP", subtotal=Decimal("10.00"), total=Decimal("10.00"))
    audit_record(subject=order, actor=operations_user, action="cancel", from_status="PENDING_PAYMENT")
    audit_record(subject=operations_user, actor=operations_user, action="edit")  # not a model of this project
    response = logged_in(finance_user).get("/admin/core/auditlog/")
    choices = {
        str(choice["display"])
        for spec in response.context["cl"].filter_specs
        if getattr(spec, "parameter_name", "") == "content_type"
        for choice in spec.choices(response.context["cl"])
    }

    assert choices == {"All", "coupon template", "order"}  # the types in the trail, the user left out
    filtered = logged_in(finance_user).get(
        "/admin/core/auditlog/", {"content_type": str(ContentType.objects.get_for_model(CouponTemplate).pk)}
    )
    assert filtered.status_code == 200
    assert len(filtered.context["cl"].result_list) == 3
