"""The approve / reject page shows Finance what a template gives, to whom, and what it may cost."""

import pytest
from django.test import Client
from django.utils import translation

from core.models import AuditLog
from coupons import services
from coupons.models import CouponTemplate, TemplateStatus
from tests.conftest import client_for
from tests.coupons.bad_templates import admin_form_data
from tests.factories import CouponTemplateFactory, UserFactory
from tests.factories.orders import CategoryFactory, ProductFactory
from tests.factories.template_input import TemplateInputFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _reader_language_does_not_leak():
    """A request with Accept-Language leaves its language active in this thread; put English back."""
    yield
    translation.activate("en")


def review_page(user, template, action: str = "approve", language: str = "en") -> str:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    response = client.get(f"/admin/coupons/coupontemplate/{template.pk}/workflow/{action}/")
    assert response.status_code == 200
    return response.content.decode()


def pending(operations_user, confirm_warnings: bool | None = None, **fields):
    template = services.template_create(
        actor=operations_user, data=TemplateInputFactory(**fields), confirm_warnings=confirm_warnings
    )
    return services.template_submit(template=template, actor=operations_user)


def test_finance_sees_summary_stock_limit_audience_and_worst_case(operations_user, finance_user):
    for level in ("GOLD", "GOLD", "VIP", "NORMAL"):
        UserFactory(profile__level=level)
    template = pending(
        operations_user,
        total_quantity=1000,
        per_user_limit=2,
        target={"type": "MEMBER_LEVELS", "levels": ["GOLD", "VIP"]},
    )

    page = review_page(finance_user, template)

    assert "¥10 off orders of ¥100 or more" in page
    assert '<tr id="review-stock"><th>Stock</th><td>1000</td></tr>' in page
    assert '<tr id="review-per-user-limit"><th>Per-user limit</th><td>2</td></tr>' in page
    assert "about 3 customers now" in page
    assert "¥10,000.00 (1000 coupons × ¥10.00)" in page


def test_the_review_reads_in_chinese_too(operations_user, finance_user):
    template = pending(operations_user, total_quantity=1000)

    page = review_page(finance_user, template, "reject", language="zh-hans")

    assert "满100元减10元" in page
    assert "最高成本" in page
    assert "¥10,000.00（1000 张 × ¥10.00）" in page


def test_a_random_packet_costs_at_most_its_largest_amount(operations_user, finance_user):
    template = pending(
        operations_user,
        type="RANDOM_CASH",
        value={"min_amount": "1.00", "max_amount": "8.88"},
        usage_rules=[],
        total_quantity=500,
    )

    page = review_page(finance_user, template)

    assert "¥8.88 (the largest random amount)" in page
    assert "¥4,440.00 (500 coupons × ¥8.88)" in page


def test_unlimited_stock_and_an_uncapped_percentage_say_there_is_no_upper_bound(operations_user, finance_user):
    unlimited = pending(operations_user, total_quantity=-1, per_user_limit=1)
    uncapped = pending(
        operations_user, type="PERCENTAGE_DISCOUNT", value={"percentage": 12}, usage_rules=[], total_quantity=100
    )

    assert "Unlimited stock: no upper bound (¥10.00 per coupon)." in review_page(finance_user, unlimited)
    assert "No upper bound" in review_page(finance_user, uncapped)


def test_the_sense_check_warnings_confirmed_by_the_author_are_shown(operations_user, finance_user):
    template = pending(operations_user, confirm_warnings=True, total_quantity=-1, per_user_limit=0)

    page = review_page(finance_user, template)

    assert 'id="review-warnings"' in page
    assert "Warnings confirmed by its author" in page
    assert "Unlimited stock and no per-user limit" in page
    assert 'id="review-warnings"' not in review_page(finance_user, pending(operations_user))


def test_warnings_nobody_confirmed_are_shown_as_unconfirmed(operations_user, finance_user):
    # given: a template whose author was never asked (a caller that does not pass the answer on)
    template = pending(operations_user, total_quantity=-1, per_user_limit=0)

    page = review_page(finance_user, template)

    assert '<tr id="review-warnings"><th>Warnings not confirmed by its author</th>' in page
    assert "Warnings confirmed by its author" not in page
    assert "Unlimited stock and no per-user limit" in page


def test_a_confirmation_holds_only_for_the_definition_it_was_given_for(operations_user, finance_user):
    # given: confirmed at creation, then edited by a caller that did not confirm, and resubmitted
    template = services.template_create(
        actor=operations_user,
        data=TemplateInputFactory(total_quantity=-1, per_user_limit=0),
        confirm_warnings=True,
    )
    services.template_update(template=template, actor=operations_user, data={"name": "不限量"})
    services.template_submit(template=template, actor=operations_user)

    page = review_page(finance_user, template)

    assert "Warnings not confirmed by its author" in page


def test_a_copy_of_a_template_with_confirmed_warnings_is_unconfirmed(operations_user, finance_user):
    source = pending(operations_user, confirm_warnings=True, total_quantity=-1, per_user_limit=0)
    copy = services.template_copy(template=source, actor=operations_user)
    services.template_submit(template=copy, actor=operations_user)

    assert "Warnings confirmed by its author" in review_page(finance_user, source)
    assert "Warnings not confirmed by its author" in review_page(finance_user, copy)


def test_warnings_made_through_the_api_without_confirmation_never_reach_review_as_confirmed(
    operations_user, finance_user
):
    client = client_for(operations_user)
    body = TemplateInputFactory(total_quantity=-1, per_user_limit=0)

    refused = client.post("/api/v1/staff/templates/", body, format="json")
    created = client.post("/api/v1/staff/templates/", {**body, "confirm_warnings": True}, format="json").json()
    client.post(f"/api/v1/staff/templates/{created['id']}/submit", format="json")

    assert refused.status_code == 400
    page = review_page(finance_user, CouponTemplate.objects.get(pk=created["id"]))
    assert "Warnings confirmed by its author" in page
    assert "Unlimited stock and no per-user limit" in page


def test_a_free_item_costs_the_dish_price(operations_user, finance_user):
    ProductFactory(sku="d-601", name="茉莉花茶", category=CategoryFactory(code="cat-drinks"), price="12.00")
    template = pending(
        operations_user,
        type="FREE_ITEM",
        value={"gift_item_id": "d-601", "quantity": 2},
        usage_rules=[],
        total_quantity=10,
    )

    assert "¥240.00 (10 coupons × ¥24.00)" in review_page(finance_user, template)


def test_a_copy_shows_what_changed_against_its_source(operations_user, finance_user):
    source = CouponTemplateFactory(status=TemplateStatus.APPROVED, total_quantity=100, name="烤鸭节")
    copy = services.template_copy(template=source, actor=operations_user)
    copy = services.template_update(
        template=copy, actor=operations_user, data={"total_quantity": 300, "value": {"amount": "15.00"}}
    )
    services.template_submit(template=copy, actor=operations_user)

    page = review_page(finance_user, copy)

    assert copy.copied_from_id == source.pk
    assert "Changed against its source, 烤鸭节" in page
    assert (
        '<tr class="change-total_quantity"><td>total quantity</td><td><pre>100</pre></td><td><pre>300</pre></td>'
        in page
    )
    assert 'class="change-value"' in page and "15.00" in page
    assert 'class="change-summary"' in page
    assert 'class="change-per_user_limit"' not in page


def test_the_submit_and_approve_records_carry_the_summary(operations_user, finance_user):
    template = pending(operations_user, total_quantity=1000)
    services.template_approve(template=template, actor=finance_user)

    records = {
        row.action: row.data["summary"]
        for row in AuditLog.objects.filter(object_id=template.pk, data__has_key="summary")
    }
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(operations_user)
    page = client.get(f"/admin/coupons/coupontemplate/{template.pk}/change/").content.decode()

    assert set(records) == {"submit", "approve"}
    assert records["approve"]["zh-hans"].startswith("满100元减10元")
    assert records["approve"]["en"].startswith("¥10 off orders of ¥100 or more")
    assert 'id="audit-summaries"' in page and "满100元减10元" in page
    assert "共1000张" in page


def test_the_list_shows_each_templates_summary(operations_user):
    CouponTemplateFactory(name="烤鸭节满100减20", value={"amount": "20.00"})
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(operations_user)

    page = client.get("/admin/coupons/coupontemplate/").content.decode()

    assert "满100元减20元" in page
    assert "field-summary_display" in page


def test_warnings_confirmed_in_the_editor_reach_the_review_page_as_confirmed(ops, operations_user, finance_user):
    # given: a template with warnings saved in the editor with the box ticked, then submitted
    data = TemplateInputFactory(total_quantity=-1, per_user_limit=0)
    response = ops.post(
        "/admin/coupons/coupontemplate/add/", {**admin_form_data(data), "confirm_warnings": "on", "_save": "Save"}
    )
    assert response.status_code == 302
    template = services.template_submit(template=CouponTemplate.objects.get(), actor=operations_user)

    # then: Finance reads that its author confirmed them
    assert "Warnings confirmed by its author" in review_page(finance_user, template)
