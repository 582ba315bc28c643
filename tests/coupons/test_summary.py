"""Human summaries of templates, generated from the declarations, in zh-hans and en; over the API."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from coupons import services, summary
from coupons.selectors import forget_definitions
from coupons.summary import template_summary
from tests.factories import CouponTemplateFactory, UserCouponFactory
from tests.factories.orders import CategoryFactory, ProductFactory
from tests.factories.template_input import TemplateInputFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _reader_language_does_not_leak():
    """A request with Accept-Language leaves its language active in this thread; put English back."""
    yield
    translation.activate("en")


SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def menu(db):
    duck = CategoryFactory(code="cat-roast-duck", name="烤鸭")
    ProductFactory(sku="d-601", name="茉莉花茶", category=CategoryFactory(code="cat-drinks", name="饮品"))
    ProductFactory(sku="d-101", name="北京烤鸭", category=duck)
    return duck


def lunch_deal(**overrides):
    fields = {
        "type": "CASH_VOUCHER",
        "value": {"amount": "10.00"},
        "usage_rules": [
            {"rule_type": "MINIMUM_SPEND", "params": {"amount": "100.00"}},
            {"rule_type": "ITEM_DISCOUNT_SCOPE", "params": {"item_ids": [], "category_ids": ["cat-roast-duck"]}},
            {"rule_type": "VALID_DAYS_OF_WEEK", "params": {"days": [1, 2, 3, 4, 5]}},
            {"rule_type": "VALID_TIME_SLOTS", "params": {"slots": [{"start": "11:00", "end": "14:00"}]}},
        ],
        "validity_type": "RELATIVE_DAYS",
        "valid_days_after_issue": 30,
        "per_user_limit": 1,
        "total_quantity": 1000,
        **overrides,
    }
    return CouponTemplateFactory(**fields)


def summary_in(language: str, template) -> str:
    with translation.override(language):
        return template_summary(template)


def test_the_spec_example_reads_the_same_in_chinese(menu):
    template = lunch_deal()

    assert summary_in("zh-hans", template) == (
        "满100元减10元 · 仅限烤鸭类 · 周一至周五 11:00-14:00 · 领取后30天有效 · 每人限1张 · 共1000张"
    )
    assert summary_in("en", template) == (
        "¥10 off orders of ¥100 or more · only on 烤鸭 · Mon-Fri 11:00-14:00 · "
        "valid for 30 days after claiming · limit 1 per person · 1000 in total"
    )


@pytest.mark.parametrize(
    ("fields", "zh", "en"),
    [
        (
            {"type": "CASH_VOUCHER", "value": {"amount": "5.00"}, "usage_rules": []},
            "无门槛减5元",
            "¥5 off, no minimum spend",
        ),
        (
            {"type": "PERCENTAGE_DISCOUNT", "value": {"percentage": 12, "max_off": "20.00"}, "usage_rules": []},
            "8.8折，最高减20元",
            "12% off, at most ¥20",
        ),
        (
            {"type": "PERCENTAGE_DISCOUNT", "value": {"percentage": "12.5"}, "usage_rules": []},
            "8.75折",
            "12.5% off",
        ),
        (
            {
                "type": "RANDOM_CASH",
                "value": {"min_amount": "1.00", "max_amount": "8.88"},
                "usage_rules": [{"rule_type": "MINIMUM_SPEND", "params": {"amount": "30.00"}}],
            },
            "满30元随机减1-8.88元",
            "a random ¥1-8.88 off orders of ¥30 or more",
        ),
        (
            {
                "type": "FREE_ITEM",
                "value": {"gift_item_id": "d-601", "quantity": 1},
                "usage_rules": [
                    {"rule_type": "CONDITIONAL_GIFT_ITEM", "params": {"required_item_ids": ["d-101"]}},
                    {"rule_type": "CHANNELS", "params": {"channels": ["APP", "MINI_PROGRAM"]}},
                    {"rule_type": "VALID_DAYS_OF_WEEK", "params": {"days": [6, 7]}},
                ],
            },
            "赠茉莉花茶×1 · 点北京烤鸭可得 · 仅限App、小程序 · 周六、周日",
            "a free 茉莉花茶 × 1 · when the order includes 北京烤鸭 · only on App, Mini program · Sat, Sun",
        ),
        (
            {
                "usage_rules": [{"rule_type": "STACKABILITY", "params": {"allow_stacking": False}}],
                "value": {"amount": "3"},
            },
            "无门槛减3元 · 不可与其他券叠加",
            "¥3 off, no minimum spend · cannot be combined with other coupons",
        ),
    ],
    ids=["cash_without_threshold", "zhe_with_cap", "zhe_half_percent", "random_with_threshold", "gift", "stacking"],
)
def test_each_type_and_rule_has_its_phrase_in_both_languages(menu, fields, zh, en):
    template = CouponTemplateFactory(total_quantity=-1, per_user_limit=0, validity_type="CLAIM_DAY", **fields)

    assert summary_in("zh-hans", template) == f"{zh} · 限领取当天使用 · 每人不限张数 · 不限量"
    assert summary_in("en", template) == f"{en} · valid on the day claimed · no limit per person · unlimited stock"


def test_fixed_dates_show_in_the_business_time_zone(menu):
    template = CouponTemplateFactory(
        usage_rules=[],
        validity_type="FIXED_DATE",
        valid_from=datetime(2030, 5, 1, 0, 0, tzinfo=SHANGHAI),
        valid_until=datetime(2030, 5, 31, 23, 59, tzinfo=SHANGHAI),
        per_user_limit=2,
        total_quantity=50,
    )

    assert summary_in("zh-hans", template) == "无门槛减10元 · 2030-05-01至2030-05-31有效 · 每人限2张 · 共50张"


def test_an_edit_changes_the_summary_at_once(menu, operations_user):
    template = services.template_create(actor=operations_user, data=TemplateInputFactory(total_quantity=100))
    before = summary_in("zh-hans", template)

    template = services.template_update(template=template, actor=operations_user, data={"total_quantity": 300})

    assert "共100张" in before
    assert "共300张" in summary_in("zh-hans", template)


# over the API ---------------------------------------------------------------------------------------


def test_staff_templates_carry_the_summary_in_the_readers_language(operations_client, menu):
    template = lunch_deal(status="DRAFT")

    zh = operations_client.get(f"/api/v1/staff/templates/{template.pk}", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    en = operations_client.get("/api/v1/staff/templates/", HTTP_ACCEPT_LANGUAGE="en").json()

    assert zh["summary"].startswith("满100元减10元 · 仅限烤鸭类")
    assert en["results"][0]["summary"].startswith("¥10 off orders of ¥100 or more · only on 烤鸭")


def _queries(client, url, django_assert_max_num_queries) -> int:
    summary._CACHE.clear()  # every summary (and every claim-center definition) is a miss: the worst case
    forget_definitions()
    with django_assert_max_num_queries(50) as counted:
        assert client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").status_code == 200
    return len(counted.captured_queries)


@pytest.mark.parametrize("url", ["/api/v1/claim-center/", "/api/v1/me/coupons/"])
def test_the_claim_center_and_the_wallet_cost_the_same_queries_for_one_template_or_five(
    customer, customer_client, menu, django_assert_max_num_queries, url
):
    first = lunch_deal(total_quantity=100)
    UserCouponFactory(user=customer, template=first)
    customer_client.get(url)  # the first request of a client warms what is not per page
    one = _queries(customer_client, url, django_assert_max_num_queries)
    for n in range(1, 5):
        UserCouponFactory(user=customer, template=lunch_deal(total_quantity=100 + n))

    five = _queries(customer_client, url, django_assert_max_num_queries)
    rows = customer_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").json()["results"]

    assert five == one
    assert len(rows) == 5
    assert {row["summary"] for row in rows} == {
        f"满100元减10元 · 仅限烤鸭类 · 周一至周五 11:00-14:00 · 领取后30天有效 · 每人限1张 · 共{100 + n}张"
        for n in range(5)
    }


def test_the_held_coupon_summary_of_a_claim_is_in_the_readers_language(customer_client, menu):
    template = lunch_deal()

    response = customer_client.post(f"/api/v1/templates/{template.pk}/claim", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.status_code == 201, response.content
    assert response.json()["summary"].startswith("满100元减10元")


def eligibility(logic: str, item_ids: list[str], category_ids: list[str]) -> dict:
    params = {"item_ids": item_ids, "category_ids": category_ids, "logic": logic}
    return {"rule_type": "ITEM_ELIGIBILITY", "params": params}


@pytest.mark.parametrize(
    ("rule", "zh", "en"),
    [
        (eligibility("ANY", ["d-101"], []), "须点北京烤鸭", "the order must include 北京烤鸭"),
        (
            eligibility("ANY", ["d-101", "d-601"], []),
            "须点北京烤鸭、茉莉花茶中任一",
            "the order must include any of 北京烤鸭, 茉莉花茶",
        ),
        (
            eligibility("ANY", [], ["cat-roast-duck", "cat-drinks"]),
            "须含烤鸭、饮品中任一类",
            "the order must include something from any of 烤鸭, 饮品",
        ),
        (
            eligibility("ANY", ["d-601"], ["cat-roast-duck"]),
            "须点茉莉花茶或烤鸭类",
            "the order must include 茉莉花茶 or 烤鸭",
        ),
        (
            eligibility("ANY", ["d-101", "d-601"], ["cat-drinks"]),
            "须点北京烤鸭、茉莉花茶中任一，或含饮品类",
            "the order must include any of 北京烤鸭, 茉莉花茶 or something from 饮品",
        ),
        (
            eligibility("ALL", ["d-101", "d-601"], []),
            "须点齐北京烤鸭、茉莉花茶",
            "the order must include all of 北京烤鸭, 茉莉花茶",
        ),
    ],
)
def test_a_rule_met_by_any_one_dish_says_so_and_one_met_by_all_says_that(menu, rule, zh, en):
    template = CouponTemplateFactory(type="CASH_VOUCHER", value={"amount": "5.00"}, usage_rules=[rule])

    assert zh in summary_in("zh-hans", template).split(" · ")
    assert en in summary_in("en", template).split(" · ")
