"""The admin dashboard: KPI cards for a chosen range of business days, per-template and per-activity
tables, and charts that have data right after ``seed_demo``."""

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from core.clock import business_today
from coupons.models import CouponSource, CouponStatus, TemplateDailyStats
from marketing.models import Activity
from orders.models import Order, OrderCoupon, OrderStatus
from tests.factories import CouponTemplateFactory, UserCouponFactory, UserFactory

pytestmark = pytest.mark.django_db

BUSINESS = ZoneInfo(settings.TIME_ZONE)


def logged_in(user, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def bar_heights(svg: str) -> list[float]:
    return [float(h) for h in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"', svg)]


def kpi(page: str, name: str) -> str:
    match = re.search(rf'id="kpi-{name}">[^<]*<span class="value">([^<]*)</span>', page)
    assert match, name
    return match.group(1)


def order(*, at: datetime, subtotal: str, discount: str = "0.00", status: str = OrderStatus.PAID, coupon=None) -> Order:
    placed = Order.objects.create(
        user=UserFactory(),
        status=status,
        channel="APP",
        subtotal=Decimal(subtotal),
        discount_total=Decimal(discount),
        total=Decimal(subtotal) - Decimal(discount),
    )
    Order.objects.filter(pk=placed.pk).update(created_at=at)
    if coupon is not None:
        OrderCoupon.objects.create(order=placed, coupon=coupon, discount=Decimal(discount))
    return placed


def test_right_after_seed_demo_the_charts_and_tables_have_data(finance_user):
    call_command("seed_demo", stdout=StringIO())

    response = logged_in(finance_user).get("/admin/")
    page = response.content.decode()

    context = response.context
    assert context["coupons"]["issued"] > 0 and context["coupons"]["used"] > 0
    assert context["orders"]["with_coupons"]["count"] > 0 and context["orders"]["without_coupons"]["count"] > 0
    assert context["coupons"]["discount"] > 0
    days_with_data = TemplateDailyStats.objects.filter(day__lt=business_today()).values("day").distinct().count()
    assert days_with_data >= 7  # a history over the past days, not one bar today
    coupons_chart = page.split('id="chart-coupons"')[1].split("</svg>")[0]
    orders_chart = page.split('id="chart-orders"')[1].split("</svg>")[0]
    assert len([h for h in bar_heights(coupons_chart) if h > 0]) >= 7
    assert len([h for h in bar_heights(orders_chart) if h > 0]) >= 5
    templates = page.split('id="dashboard-templates"')[1].split("</table>")[0]
    activities = page.split('id="dashboard-activities"')[1].split("</table>")[0]
    assert "烤鸭节满100减20" in templates and "新人满50减8" in templates
    assert "烤鸭节" in activities
    assert kpi(page, "issued") == str(context["coupons"]["issued"])


def test_the_kpis_count_the_chosen_business_days_only(operations_user):
    day = date(2026, 3, 10)
    template = CouponTemplateFactory(name="满100减10")
    TemplateDailyStats.objects.create(template=template, day=day, issued=40, used=10, discount=Decimal("100.00"))
    TemplateDailyStats.objects.create(
        template=template, day=day + timedelta(days=1), issued=5, used=5, discount=Decimal("50.00")
    )
    coupon = UserCouponFactory(template=template, status=CouponStatus.USED)
    late_evening = datetime(2026, 3, 10, 23, 30, tzinfo=BUSINESS)  # 15:30 UTC: still the 10th in business time
    order(at=late_evening, subtotal="120.00", discount="10.00", coupon=coupon)
    order(at=late_evening - timedelta(hours=2), subtotal="50.00")
    order(at=late_evening - timedelta(hours=3), subtotal="70.00")
    order(at=late_evening + timedelta(hours=1), subtotal="999.00")  # 00:30 on the 11th
    order(at=late_evening - timedelta(hours=4), subtotal="500.00", status=OrderStatus.CANCELLED)

    response = logged_in(operations_user).get("/admin/", {"start": "2026-03-10", "end": "2026-03-10"})

    page = response.content.decode()
    assert response.context["range"].start == response.context["range"].end == day
    assert (kpi(page, "issued"), kpi(page, "used"), kpi(page, "redemption-rate")) == ("40", "10", "25%")
    assert kpi(page, "discount") == "¥100.00"
    orders = response.context["orders"]
    assert orders["with_coupons"]["count"] == 1 and orders["with_coupons"]["average"] == Decimal("110.00")
    assert orders["without_coupons"]["count"] == 2 and orders["without_coupons"]["average"] == Decimal("60.00")
    assert kpi(page, "orders-with") == "1" and kpi(page, "orders-without") == "2"
    assert "¥60.00" in page.split('id="kpi-orders-without"')[1].split("</div>")[0]
    table = response.context["templates_table"]
    assert [(row["name"], row["issued"], row["used"], row["discount"]) for row in table] == [
        ("满100减10", 40, 10, Decimal("100.00"))
    ]
    two_days = logged_in(operations_user).get("/admin/", {"start": "2026-03-10", "end": "2026-03-11"})
    assert two_days.context["coupons"]["issued"] == 45
    assert two_days.context["orders"]["without_coupons"]["count"] == 3


def test_the_activity_table_counts_coupons_claimed_through_each_activity(operations_user):
    start = datetime(2026, 3, 10, 12, 0, tzinfo=BUSINESS)
    activity = Activity.objects.create(title="烤鸭节", start_time=start, end_time=start + timedelta(days=7))
    template = CouponTemplateFactory()
    for status in (CouponStatus.USED, CouponStatus.UNUSED, CouponStatus.UNUSED):
        coupon = UserCouponFactory(
            template=template, status=status, source=CouponSource.ACTIVITY, source_ref=str(activity.pk)
        )
        coupon.__class__.objects.filter(pk=coupon.pk).update(acquired_at=start)
        if status == CouponStatus.USED:
            order(at=start, subtotal="100.00", discount="20.00", coupon=coupon)
    UserCouponFactory(template=template, source=CouponSource.CLAIM)

    response = logged_in(operations_user).get("/admin/", {"start": "2026-03-10", "end": "2026-03-10"})

    assert response.context["activities_table"] == [
        {
            "id": activity.pk,
            "name": "烤鸭节",
            "status": "Draft",
            "issued": 3,
            "used": 1,
            "redemption_rate": 0.3333,
            "discount": Decimal("20.00"),
        }
    ]
    assert f'<a href="/admin/marketing/activity/{activity.pk}/change/">烤鸭节</a>' in response.content.decode()


def test_the_range_picker_defaults_to_the_last_30_days_and_offers_quick_ranges(operations_user):
    response = logged_in(operations_user, "zh-hans").get("/admin/")

    page = response.content.decode()
    today = business_today()
    assert response.context["range"].end == today
    assert response.context["range"].start == today - timedelta(days=29)
    assert f'id="dashboard-start" value="{(today - timedelta(days=29)).isoformat()}"' in page
    assert f'id="dashboard-end" value="{today.isoformat()}"' in page
    assert 'id="dashboard-range-7"' in page and "近 7 天" in page
    assert "开始日期" in page and "用券订单" in page and "核销率" in page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-03-10", "end": "2026-03-01"}, "The end of the range is before its start."),
        ({"start": "2024-01-01", "end": "2026-03-01"}, "Choose at most 366 days."),
    ],
)
def test_a_bad_range_is_explained_and_the_default_range_is_shown(operations_user, params, message):
    response = logged_in(operations_user).get("/admin/", params)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["range"].end == business_today()


def test_a_malformed_date_falls_back_to_the_default_range(operations_user):
    response = logged_in(operations_user).get("/admin/", {"start": "yesterday", "end": "2026-03-01"})

    assert response.status_code == 200
    assert response.context["range"].end == business_today()


def test_the_range_is_read_from_iso_dates_in_chinese_too(operations_user):
    response = logged_in(operations_user, "zh-hans").get("/admin/", {"start": "2026-03-01", "end": "2026-03-10"})

    assert (response.context["range"].start, response.context["range"].end) == (date(2026, 3, 1), date(2026, 3, 10))
    assert 'id="dashboard-start" value="2026-03-01"' in response.content.decode()
    assert "优惠券与订单（2026-03-01 至 2026-03-10）" in response.content.decode()
