"""Claims under real concurrency against MariaDB (and Redis): stock and per-user limits hold exactly."""

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count

from core.errors import ApplicationError
from core.models import IdempotencyRecord
from coupons.ledger import gate
from coupons.ledger.issuing import LimitReached, SoldOut
from coupons.models import ClaimQuota, CouponTemplate, UserCoupon
from coupons.services.claim import coupon_claim
from tests.conftest import client_for
from tests.factories import CouponTemplateFactory
from tests.marketing.distribution import clean_redis, restore_roles_after_module, run_concurrently  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_redis")]


def make_customers(count: int) -> list:
    user_model = get_user_model()
    users = user_model.objects.bulk_create([user_model(username=f"crowd{i}") for i in range(count)])
    return list(user_model.objects.filter(username__in=[u.username for u in users]).order_by("pk"))


def claim(user, template_id):
    try:
        return coupon_claim(user=user, template_id=template_id)
    except ApplicationError as exc:
        return exc


def assert_exactly_issued(template: CouponTemplate, expected: int, results: list) -> None:
    successes = [r for r in results if isinstance(r, UserCoupon)]
    refusals = [r for r in results if isinstance(r, SoldOut)]
    others = [r for r in results if not isinstance(r, UserCoupon | SoldOut)]
    assert others == []
    assert len(successes) == expected
    assert len(refusals) == len(results) - expected
    template.refresh_from_db()
    assert template.issued_quantity == expected == UserCoupon.objects.filter(template=template).count()
    # one coupon per customer, codes unique
    per_user = UserCoupon.objects.values("user_id").annotate(n=Count("id")).filter(n__gt=1)
    assert not per_user.exists()
    assert len({c.code for c in successes}) == expected


def test_200_customers_race_for_50_coupons():
    template = CouponTemplateFactory(total_quantity=50, per_user_limit=1)
    users = make_customers(200)

    results = run_concurrently(claim, [(u, template.pk) for u in users])

    assert_exactly_issued(template, 50, results)
    assert ClaimQuota.objects.filter(template=template).count() == 50
    # the gate knows it is sold out now: refused without the database
    assert gate.admit(template.pk) == gate.SOLD_OUT


def test_200_customers_with_redis_flushed_in_the_middle():
    template = CouponTemplateFactory(total_quantity=50, per_user_limit=1)
    users = make_customers(200)

    def claim_or_flush(index, user):
        if index in (60, 140):
            redis.Redis.from_url(settings.REDIS_URL).flushdb()
        return claim(user, template.pk)

    results = run_concurrently(claim_or_flush, list(enumerate(users)))

    assert_exactly_issued(template, 50, results)


def test_200_customers_without_redis(settings):
    redis_url = settings.REDIS_URL
    settings.REDIS_URL = ""
    template = CouponTemplateFactory(total_quantity=50, per_user_limit=1)
    users = make_customers(200)

    results = run_concurrently(claim, [(u, template.pk) for u in users])

    assert_exactly_issued(template, 50, results)
    if redis_url:
        assert not redis.Redis.from_url(redis_url).keys(f"{settings.CLAIM_GATE_PREFIX}:*")


def test_one_customer_firing_20_claims_at_a_limit_of_2_gets_2():
    template = CouponTemplateFactory(total_quantity=100, per_user_limit=2)
    (user,) = make_customers(1)

    results = run_concurrently(claim, [(user, template.pk)] * 20)

    assert sum(isinstance(r, UserCoupon) for r in results) == 2
    assert all(isinstance(r, UserCoupon | LimitReached) for r in results), results
    template.refresh_from_db()
    assert template.issued_quantity == 2 == UserCoupon.objects.filter(user=user).count()
    assert ClaimQuota.objects.get(template=template, user=user).claimed == 2


def test_50_concurrent_requests_with_one_idempotency_key_give_one_coupon_and_one_answer():
    template = CouponTemplateFactory(total_quantity=100, per_user_limit=5)
    (user,) = make_customers(1)

    def post(_index):
        response = client_for(user).post(f"/api/v1/templates/{template.pk}/claim", HTTP_IDEMPOTENCY_KEY="tap-tap")
        return response.status_code, response.json()

    results = run_concurrently(post, [(i,) for i in range(50)])

    assert UserCoupon.objects.filter(user=user).count() == 1
    assert {status for status, _body in results} == {201}
    bodies = [body for _status, body in results]
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0]["code"] == UserCoupon.objects.get().code
    assert IdempotencyRecord.objects.count() == 1
    template.refresh_from_db()
    assert template.issued_quantity == 1
