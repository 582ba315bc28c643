"""The preview's rows are written directly (``core.api.output``); DRF's fields would write the same."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone, translation
from rest_framework import serializers

from core.api.output import moment, money
from orders.api.checkout import (
    AppliedCouponOutputSerializer,
    CouponOptionOutputSerializer,
    GiftOutputSerializer,
    PreviewLineOutputSerializer,
)
from orders.services import checkout_preview
from tests.factories.checkout import expire, seed_menu, wallet_coupon

MONEY = serializers.DecimalField(max_digits=12, decimal_places=2)
DATETIME = serializers.DateTimeField()


@pytest.mark.parametrize(
    "value",
    [Decimal("0"), Decimal("12.5"), Decimal("0.125"), Decimal("0.135"), Decimal("-3.333"), Decimal("999999999.99"),
     7, "8.10", 0.1, Decimal("1E+2")],
)  # fmt: skip
def test_money_is_what_the_decimal_field_writes(value):
    assert money(value) == MONEY.to_representation(value)
    assert money(None) == MONEY.to_representation(None) == ""


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC", "America/Los_Angeles"])
def test_moment_is_what_the_datetime_field_writes(zone):
    values = [
        datetime(2026, 11, 30, 3, 4, 5, 123456, tzinfo=UTC),
        datetime(2026, 3, 8, 23, 59, tzinfo=ZoneInfo("Asia/Shanghai")),
        datetime(2026, 11, 1, 9, 30, tzinfo=ZoneInfo("America/Los_Angeles")),
        datetime(2026, 6, 1, 12, 0),  # naive: made aware in the current zone, as DRF does
        None,
    ]
    with timezone.override(ZoneInfo(zone)):
        for value in values:
            assert moment(value) == DATETIME.to_representation(value)


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_every_row_of_a_preview_is_what_its_fields_write(customer, language):
    seed_menu()
    wallet_coupon(customer, "roast_duck_100_20")
    wallet_coupon(customer, "percent_88_max20")
    wallet_coupon(customer, "staple_gift_drink")
    wallet_coupon(customer, "cash_5_stackable")
    expire(wallet_coupon(customer, "new_user_68_10"), ago=timedelta(hours=1))
    lines = [{"sku": "d-101", "quantity": 1}, {"sku": "d-201", "quantity": 2}, {"sku": "d-301", "quantity": 1}]

    with translation.override(language):
        result = checkout_preview(user=customer, lines=lines, channel="APP")
        rows = [
            (CouponOptionOutputSerializer, result.coupons),
            (PreviewLineOutputSerializer, result.lines),
            (AppliedCouponOutputSerializer, result.best.coupons),
            (GiftOutputSerializer, [gift for option in result.coupons for gift in option.gifts]),
        ]
        for serializer_class, instances in rows:
            assert instances, serializer_class
            serializer = serializer_class()
            for instance in instances:
                # the fields one by one, as serializers.Serializer writes them
                by_fields = serializers.Serializer.to_representation(serializer, instance)
                assert serializer.to_representation(instance) == dict(by_fields), serializer_class
