"""The small things staff noticed: "View site" leads somewhere, a language switcher, CSV exports in the
business time zone with translated headers, the dish model's plural, activity items picked by name."""

import csv
import io
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client

from core.review import forbids
from coupons.models import CouponSource, TemplateDailyStats, TemplateStatus, UserCoupon
from coupons.workflow_access import template_action_allowed, template_action_refusal
from tests.factories import CouponTemplateFactory, StaffFactory, UserCouponFactory, UserFactory

pytestmark = pytest.mark.django_db


def logged_in(user, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_the_front_page_links_to_the_admin_and_the_api_docs():
    response = Client(HTTP_ACCEPT_LANGUAGE="en").get("/")

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="home-admin" href="/admin/"' in page
    assert 'id="home-api-docs" href="/api/docs/"' in page


def test_view_site_in_admin_leads_to_the_front_page(operations_user):
    page = logged_in(operations_user).get("/admin/").content.decode()

    assert '<a href="/">View site</a>' in page
    assert Client().get("/").status_code == 200


@pytest.mark.parametrize("page", ["/admin/", "/admin/marketing/bulkgrant/", "/admin/login/"])
def test_every_admin_page_has_the_language_switcher(operations_user, page):
    client = Client() if page == "/admin/login/" else logged_in(operations_user)

    text = client.get(page).content.decode()

    assert '<form id="language-switcher" action="/i18n/setlang/" method="post"' in text
    assert '<option value="zh-hans"' in text and '<option value="en"' in text


def test_switching_the_language_changes_the_admin(operations_user):
    client = Client()
    client.force_login(operations_user)

    switched = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/admin/"})
    chinese = client.get("/admin/").content.decode()
    back = client.post("/i18n/setlang/", {"language": "en", "next": "/admin/"})
    english = client.get("/admin/").content.decode()

    assert (switched.status_code, switched["Location"]) == (302, "/admin/")
    assert "待审核的模板" in chinese and '<option value="zh-hans" selected>' in chinese
    assert back.status_code == 302
    assert "Templates pending review" in english and '<option value="en" selected>' in english


@pytest.mark.parametrize(("language", "plural"), [("zh-hans", "菜品"), ("en", "Dishes")])
def test_the_dish_models_plural_reads_as_a_noun(operations_user, language, plural):
    page = logged_in(operations_user, language).get("/admin/orders/").content.decode()

    assert f'<a href="/admin/orders/product/">{plural}</a>' in page
    assert "菜品数" not in page


@pytest.mark.parametrize(
    ("language", "header"),
    [
        (
            "zh-hans",
            [
                "ID",
                "券码",
                "顾客",
                "状态",
                "金额",
                "来源",
                "来源单号",
                "获得时间",
                "有效期开始",
                "过期时间",
                "使用时间",
                "订单",
            ],
        ),
        (
            "en",
            [
                "ID",
                "coupon code",
                "customer",
                "status",
                "amount",
                "source",
                "source reference",
                "acquired at",
                "valid from",
                "expires at",
                "used at",
                "order",
            ],
        ),
    ],
)
def test_the_coupon_export_has_translated_headers_and_business_times(operations_user, language, header):
    template = CouponTemplateFactory()
    coupon = UserCouponFactory(template=template, user=UserFactory(username="alice"), source=CouponSource.ADMIN)
    utc_evening = datetime(2026, 3, 10, 15, 30, tzinfo=ZoneInfo("UTC"))
    UserCoupon.objects.filter(pk=coupon.pk).update(acquired_at=utc_evening)

    response = logged_in(operations_user, language).get(
        f"/admin/coupons/coupontemplate/{template.pk}/export/coupons.csv"
    )
    rows = csv_rows(response)

    assert rows[0] == header
    (row,) = rows[1:]
    assert row[2] == "alice"
    assert row[7] == "2026-03-10 23:30:00"  # 15:30 UTC in the business time zone (Asia/Shanghai)
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert row[3] == ("未使用" if language == "zh-hans" else "Unused")
    assert row[5] == ("后台发放" if language == "zh-hans" else "Granted by staff")


def test_the_daily_stats_export_has_translated_headers(operations_user):
    template = CouponTemplateFactory()
    TemplateDailyStats.objects.create(
        template=template, day=datetime(2026, 3, 10).date(), issued=3, used=1, discount=Decimal("10.00")
    )

    rows = csv_rows(
        logged_in(operations_user, "zh-hans").get(f"/admin/coupons/coupontemplate/{template.pk}/export/stats.csv")
    )

    assert rows == [
        ["日期", "已发放", "已使用", "已过期", "已作废", "优惠金额"],
        ["2026-03-10", "3", "1", "0", "0", "10.00"],
    ]


def test_activity_items_are_picked_by_name_through_autocomplete(operations_user):
    CouponTemplateFactory(name="烤鸭节满100减20")
    CouponTemplateFactory(name="午市满50减8")
    client = logged_in(operations_user)

    page = client.get("/admin/marketing/activity/add/").content.decode()
    found = client.get(
        "/admin/autocomplete/",
        {"term": "烤鸭", "app_label": "marketing", "model_name": "activityitem", "field_name": "template"},
    )

    assert 'class="admin-autocomplete' in page and 'data-field-name="template"' in page
    assert 'class="vForeignKeyRawIdAdminField"' not in page
    assert found.status_code == 200
    assert [item["text"] for item in found.json()["results"]] == ["烤鸭节满100减20"]


def test_gift_pack_items_are_picked_by_name_too(operations_user):
    page = logged_in(operations_user).get("/admin/marketing/giftpack/add/").content.decode()

    assert 'data-field-name="template"' in page and 'class="vForeignKeyRawIdAdminField"' not in page


# the template workflow pages: what the template admin asks before rendering a workflow form -------------
# "open": the form is shown; "forbidden": the page is refused (403), the person may never take the action;
# "not now": the person may, but not on the template as it is, and is told why on its page.


@pytest.mark.parametrize(
    ("role", "status", "action", "outcome"),
    [
        ("operations", TemplateStatus.DRAFT, "submit", "open"),
        ("finance", TemplateStatus.DRAFT, "submit", "forbidden"),
        ("operations", TemplateStatus.PENDING_REVIEW, "approve", "forbidden"),
        ("operations", TemplateStatus.PENDING_REVIEW, "reject", "forbidden"),
        ("finance", TemplateStatus.PENDING_REVIEW, "approve", "open"),
        ("finance", TemplateStatus.PENDING_REVIEW, "reject", "open"),
        ("finance", TemplateStatus.DRAFT, "approve", "not now"),
        ("finance", TemplateStatus.APPROVED, "approve", "not now"),
        ("operations", TemplateStatus.PENDING_REVIEW, "submit", "not now"),
        ("operations", TemplateStatus.APPROVED, "stop", "open"),
        ("operations", TemplateStatus.STOPPED, "stop", "not now"),
        ("finance", TemplateStatus.APPROVED, "stop", "forbidden"),
        ("operations", TemplateStatus.APPROVED, "copy", "open"),
        ("finance", TemplateStatus.APPROVED, "copy", "forbidden"),
        ("operations", TemplateStatus.APPROVED, "end", "forbidden"),
        ("operations", TemplateStatus.APPROVED, "delete", "forbidden"),
    ],
)
def test_who_may_open_a_template_workflow_page(role, status, action, outcome):
    user = StaffFactory(role=role)
    template = CouponTemplateFactory(status=status, created_by=StaffFactory(role="operations"))

    refusal = template_action_refusal(template=template, action=action, user=user)

    assert template_action_allowed(template=template, action=action, user=user) is (outcome == "open")
    assert (refusal is None) is (outcome == "open")
    if outcome == "forbidden":
        assert forbids(refusal)
    if outcome == "not now":
        assert not forbids(refusal) and refusal.code == "INVALID_STATE"
        assert refusal.details == {"status": status, "action": action}


def test_nobody_reviews_their_own_template_and_customers_open_nothing(finance_user):
    own = CouponTemplateFactory(status=TemplateStatus.PENDING_REVIEW, created_by=finance_user)
    customer = UserFactory()

    assert not template_action_allowed(template=own, action="approve", user=finance_user)
    assert not template_action_allowed(template=own, action="submit", user=customer)
    own_refusal = template_action_refusal(template=own, action="approve", user=finance_user)
    assert own_refusal is not None and own_refusal.code == "SELF_REVIEW" and not forbids(own_refusal)
    customer_refusal = template_action_refusal(template=own, action="submit", user=customer)
    assert customer_refusal is not None and forbids(customer_refusal)
