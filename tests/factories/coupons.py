from datetime import timedelta

import factory
from django.utils import timezone

from coupons.models import CouponSource, CouponStatus, CouponTemplate, TemplateStatus, UserCoupon, ValidityType


class CouponTemplateFactory(factory.django.DjangoModelFactory):
    """A template written straight to the database (workflow tests drive the services instead)."""

    class Meta:
        model = CouponTemplate

    name = factory.Sequence(lambda n: f"Template {n}")
    short_name = "满100减10"
    type = "CASH_VOUCHER"
    value = factory.LazyFunction(lambda: {"amount": "10.00"})
    usage_rules = factory.LazyFunction(lambda: [{"rule_type": "MINIMUM_SPEND", "params": {"amount": "100.00"}}])
    total_quantity = 100
    per_user_limit = 1
    validity_type = ValidityType.RELATIVE_DAYS
    valid_days_after_issue = 7
    target = factory.LazyFunction(lambda: {"type": "ALL"})
    status = TemplateStatus.APPROVED


class UserCouponFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserCoupon

    code = factory.Sequence(lambda n: f"0101261122{n:08d}")
    user = factory.SubFactory("tests.factories.users.UserFactory")
    template = factory.SubFactory(CouponTemplateFactory)
    status = CouponStatus.UNUSED
    valid_from = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))
    source = CouponSource.ADMIN
