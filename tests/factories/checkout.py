"""Checkout fixtures: the restaurant menu of seed 003, its coupon templates, wallet coupons, and the
one assertion every order must pass (line discounts add up to the order's discount)."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from coupons.models import CouponStatus, CouponTemplate, UserCoupon
from orders.models import Order, OrderStatus, Product
from tests.factories.coupons import CouponTemplateFactory, UserCouponFactory
from tests.factories.orders import CategoryFactory, ProductFactory

# (category code, name, [(sku, name, price)]) as in seed 003 and ``seed_demo``.
SEED_MENU = [
    (
        "cat-roast-duck",
        "烤鸭",
        [("d-101", "北京烤鸭（整只）", "128.00"), ("d-102", "烤鸭（半只）", "68.00"), ("d-103", "鸭架汤", "18.00")],
    ),
    ("cat-cold", "凉菜", [("d-201", "凉皮", "18.00"), ("d-202", "拍黄瓜", "12.00"), ("d-203", "夫妻肺片", "32.00")]),
    (
        "cat-main-course",
        "主食",
        [("d-301", "老北京炸酱面", "22.00"), ("d-302", "扬州炒饭", "26.00"), ("d-303", "葱油饼", "10.00")],
    ),
    ("cat-set-menu", "套餐", [("d-501", "烤鸭双人套餐", "168.00")]),
    (
        "cat-drinks",
        "饮品",
        [("d-901", "酸梅汤", "8.00"), ("d-902", "北冰洋汽水", "6.00"), ("d-903", "茉莉花茶", "12.00")],
    ),
]

STACKABLE = {"rule_type": "STACKABILITY", "params": {"allow_stacking": True, "exclude_coupon_types": []}}

# The seed 003 templates, as staff would define them.
SEED_TEMPLATES: dict[str, dict[str, Any]] = {
    "new_user_68_10": {
        "name": "新人专享满68减10",
        "short_name": "满68减10",
        "type": "CASH_VOUCHER",
        "value": {"amount": "10.00"},
        "usage_rules": [{"rule_type": "MINIMUM_SPEND", "params": {"amount": "68.00"}}],
    },
    "roast_duck_100_20": {
        "name": "烤鸭节满100减20",
        "short_name": "烤鸭满100减20",
        "type": "CASH_VOUCHER",
        "value": {"amount": "20.00"},
        "usage_rules": [
            {"rule_type": "ITEM_ELIGIBILITY", "params": {"category_ids": ["cat-roast-duck"], "logic": "ANY"}},
            {"rule_type": "ITEM_DISCOUNT_SCOPE", "params": {"category_ids": ["cat-roast-duck"]}},
            {"rule_type": "MINIMUM_SPEND", "params": {"amount": "100.00"}},
        ],
    },
    "staple_gift_drink": {
        "name": "购买主食赠酸梅汤",
        "short_name": "主食赠饮",
        "type": "FREE_ITEM",
        "value": {"gift_item_id": "d-901", "quantity": 1},
        "usage_rules": [
            {"rule_type": "CONDITIONAL_GIFT_ITEM", "params": {"required_category_ids": ["cat-main-course"]}}
        ],
    },
    "percent_88_max20": {
        "name": "全场8.8折最高优惠20元",
        "short_name": "8.8折",
        "type": "PERCENTAGE_DISCOUNT",
        "value": {"percentage": 12, "max_off": "20.00"},
        "usage_rules": [],
    },
    "cash_5_stackable": {
        "name": "无门槛5元红包",
        "short_name": "无门槛5元",
        "type": "CASH_VOUCHER",
        "value": {"amount": "5.00"},
        "usage_rules": [STACKABLE],
    },
}


def seed_menu() -> dict[str, Product]:
    """The seed 003 menu; returns products by sku."""
    products = {}
    for sort_order, (code, name, dishes) in enumerate(SEED_MENU):
        category = CategoryFactory(code=code, name=name, sort_order=sort_order)
        for sku, dish, price in dishes:
            products[sku] = ProductFactory(sku=sku, name=dish, category=category, price=Decimal(price))
    return products


def seed_template(key: str, **overrides: Any) -> CouponTemplate:
    """An approved template of seed 003 (unlimited stock and per-user limit unless overridden)."""
    fields = {"total_quantity": -1, "per_user_limit": 0, **SEED_TEMPLATES[key], **overrides}
    return CouponTemplateFactory(**fields)


def wallet_coupon(user: Any, template: CouponTemplate | str, **overrides: Any) -> UserCoupon:
    """An UNUSED coupon in ``user``'s wallet, valid from yesterday for a week."""
    if isinstance(template, str):
        template = seed_template(template)
    return UserCouponFactory(user=user, template=template, **overrides)


def expire(coupon: UserCoupon, *, ago: timedelta = timedelta(seconds=1)) -> None:
    """Move a coupon's expiry into the past, as if time had passed."""
    expires_at = timezone.now() - ago
    UserCoupon.objects.filter(pk=coupon.pk).update(expires_at=expires_at, valid_from=expires_at - timedelta(days=7))


def assert_order_adds_up(order: Order) -> None:
    """The money of an order is consistent: line discounts add up to the order's discount (and to each
    coupon's allocation), total = subtotal - discount_total >= 0, gifts are lines at price 0."""
    order.refresh_from_db()
    lines = list(order.lines.all())
    applied = list(order.applied_coupons.all())
    paid_lines = [line for line in lines if not line.is_gift]
    gift_lines = [line for line in lines if line.is_gift]
    assert order.subtotal == sum((line.line_subtotal for line in paid_lines), Decimal("0.00"))
    for line in paid_lines:
        assert line.line_subtotal == line.unit_price * line.quantity
        assert Decimal("0.00") <= line.discount <= line.line_subtotal
    assert sum((line.discount for line in lines), Decimal("0.00")) == order.discount_total
    assert sum((a.discount for a in applied), Decimal("0.00")) == order.discount_total
    for a in applied:
        assert sum((Decimal(v) for v in a.allocation.values()), Decimal("0.00")) == a.discount
    for line in paid_lines:
        allocated = sum((Decimal(a.allocation.get(line.sku, "0.00")) for a in applied), Decimal("0.00"))
        assert allocated == line.discount, (line.sku, allocated, line.discount)
    assert order.total == order.subtotal - order.discount_total
    assert order.total >= 0
    for line in gift_lines:
        assert (line.unit_price, line.line_subtotal, line.discount) == (0, 0, 0)
        assert line.gift_coupon_id in {a.coupon_id for a in applied}
    if order.status == OrderStatus.PENDING_PAYMENT:
        coupon_ids = {a.coupon_id for a in applied}
        locked = set(UserCoupon.objects.filter(order=order, status=CouponStatus.LOCKED).values_list("pk", flat=True))
        assert locked == coupon_ids


@pytest.fixture
def every_order_adds_up():
    """After the test, every order in the database passes ``assert_order_adds_up`` (use it with
    ``pytest.mark.usefixtures``, after importing it into the test module)."""
    yield
    for order in Order.objects.all():
        assert_order_adds_up(order)
