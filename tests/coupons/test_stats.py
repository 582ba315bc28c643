"""Stats read from counters and roll-ups equal a direct count after a mixed history."""

from datetime import datetime, time, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, F, Sum
from django.utils import timezone

from core.clock import business_today, business_tz
from coupons.ledger.expiry import coupons_expire_due
from coupons.models import CouponStatus, CouponTemplate, TemplateDailyStats, UserCoupon
from coupons.services.claim import coupon_claim
from coupons.services.stats import stats_rollup_day, template_stats
from coupons.services.templates import template_stop
from orders.models import OrderCoupon
from orders.services import order_cancel, order_pay, order_place, order_refund
from tests.factories import StaffFactory, UserFactory
from tests.factories.checkout import seed_menu, seed_template


def _direct_counts(template: CouponTemplate) -> dict:
    by_status = dict(
        UserCoupon.objects.filter(template=template).values_list("status").annotate(n=Count("id")).order_by()
    )
    discount = OrderCoupon.objects.filter(
        coupon__template=template, coupon__status=CouponStatus.USED, order_id=F("coupon__order_id")
    ).aggregate(total=Sum("discount"))["total"] or Decimal("0.00")
    return {
        "issued": UserCoupon.objects.filter(template=template).count(),
        "unused": by_status.get(CouponStatus.UNUSED, 0),
        "locked": by_status.get(CouponStatus.LOCKED, 0),
        "used": by_status.get(CouponStatus.USED, 0),
        "expired": by_status.get(CouponStatus.EXPIRED, 0),
        "revoked": by_status.get(CouponStatus.REVOKED, 0),
        "discount": str(discount),
    }


@pytest.mark.django_db
def test_stats_equal_a_direct_count_after_claims_orders_cancels_expiries_and_a_stop():
    # given: two templates, twelve customers claiming
    seed_menu()
    cash = seed_template("cash_5_stackable", per_user_limit=1, total_quantity=100)
    duck = seed_template("roast_duck_100_20", per_user_limit=1, total_quantity=100)
    users = [UserFactory() for _ in range(12)]
    coupons = {u.pk: [coupon_claim(user=u, template_id=t.pk) for t in (cash, duck)] for u in users}

    # when: a mixed history
    # users 0-3 use each coupon in its own order and pay; user 3's orders are refunded (coupons stay used)
    for u in users[:4]:
        for coupon in coupons[u.pk]:
            order = order_place(user=u, lines=[{"sku": "d-101", "quantity": 1}], channel="APP", coupon_ids=[coupon.pk])
            order_pay(order=order, actor=u)
            if u is users[3]:
                order_refund(order=order, actor=u)
    # users 4-5 order and cancel (coupons return); user 6 orders and leaves it unpaid (locked)
    for u in users[4:7]:
        order = order_place(
            user=u, lines=[{"sku": "d-101", "quantity": 1}], channel="APP", coupon_ids=[coupons[u.pk][0].pk]
        )
        if u is not users[6]:
            order_cancel(order=order, actor=u)
    # users 7-8's cash coupons expire and are swept
    past = timezone.now() - timedelta(minutes=5)
    UserCoupon.objects.filter(pk__in=[coupons[u.pk][0].pk for u in users[7:9]]).update(
        expires_at=past, valid_from=past - timedelta(days=1)
    )
    coupons_expire_due()
    # the roast-duck template is stopped with revoke: every unused duck coupon is revoked
    template_stop(template=duck, actor=StaffFactory(role="operations"), revoke_unused=True)
    stats_rollup_day(day=business_today())

    # then: totals from counters equal the direct count, per template
    for template in (cash, duck):
        totals = template_stats(template=template)["totals"]
        direct = _direct_counts(template)
        assert {key: totals[key] for key in direct} == direct, template.name
        assert totals["redemption_rate"] == round(direct["used"] / direct["issued"], 4)
    # and today's roll-up row agrees with what happened today
    cash_today = TemplateDailyStats.objects.get(template=cash, day=business_today())
    assert cash_today.issued == 12
    assert cash_today.used == 4
    assert cash_today.discount == Decimal(_direct_counts(cash)["discount"])
    duck_today = TemplateDailyStats.objects.get(template=duck, day=business_today())
    assert (duck_today.issued, duck_today.used, duck_today.revoked) == (12, 4, 8)
    assert template_stats(template=duck)["daily"][-1]["revoked"] == 8


@pytest.mark.django_db
def test_a_coupon_given_back_by_a_cancel_and_used_again_counts_its_discount_once():
    # given: a coupon applied to an order that was cancelled, then to another order that was paid
    seed_menu()
    cash = seed_template("cash_5_stackable", per_user_limit=1, total_quantity=100)
    user = UserFactory()
    coupon = coupon_claim(user=user, template_id=cash.pk)
    first = order_place(user=user, lines=[{"sku": "d-101", "quantity": 1}], channel="APP", coupon_ids=[coupon.pk])
    order_cancel(order=first, actor=user)
    second = order_place(user=user, lines=[{"sku": "d-101", "quantity": 1}], channel="APP", coupon_ids=[coupon.pk])
    order_pay(order=second, actor=user)

    stats_rollup_day(day=business_today())

    # then: the day's discount is the paid order's, as the template's counter says
    given = OrderCoupon.objects.get(order=second).discount
    assert OrderCoupon.objects.filter(coupon=coupon).count() == 2
    assert TemplateDailyStats.objects.get(template=cash, day=business_today()).discount == given
    assert CouponTemplate.objects.get(pk=cash.pk).discount_total == given


@pytest.mark.django_db
def test_rollup_is_idempotent_and_reading_stats_never_counts_the_instance_table(django_assert_max_num_queries):
    seed_menu()
    template = seed_template("cash_5_stackable", per_user_limit=1, total_quantity=10)
    for u in [UserFactory() for _ in range(3)]:
        coupon_claim(user=u, template_id=template.pk)

    assert stats_rollup_day(day=business_today()) == 1
    assert stats_rollup_day(day=business_today()) == 1
    assert TemplateDailyStats.objects.get(template=template).issued == 3

    with django_assert_max_num_queries(2) as ctx:
        template_stats(template=template)
    assert not any("coupons_usercoupon" in q["sql"] for q in ctx.captured_queries)


@pytest.mark.django_db
def test_staff_stats_endpoint(operations_client, customer_client):
    seed_menu()
    template = seed_template("cash_5_stackable", per_user_limit=1, total_quantity=10)

    response = operations_client.get(f"/api/v1/staff/templates/{template.pk}/stats")

    assert response.status_code == 200
    assert response.json()["totals"]["remaining"] == 10
    assert len(response.json()["daily"]) == 0
    assert operations_client.get("/api/v1/staff/templates/999999/stats").status_code == 404
    assert operations_client.get(f"/api/v1/staff/templates/{template.pk}/stats?days=0").status_code == 400
    assert customer_client.get(f"/api/v1/staff/templates/{template.pk}/stats").status_code == 403


@pytest.mark.django_db
def test_the_command_rolls_up_days_the_job_no_longer_reaches():
    # given: coupons claimed four days ago, a day the every-hour job (today and yesterday) never looks at
    seed_menu()
    template = seed_template("cash_5_stackable", per_user_limit=1, total_quantity=10)
    coupons = [coupon_claim(user=UserFactory(), template_id=template.pk) for _ in range(3)]
    day = business_today() - timedelta(days=4)
    moment = timezone.make_aware(datetime.combine(day, time(12)), business_tz())
    UserCoupon.objects.filter(pk__in=[c.pk for c in coupons]).update(acquired_at=moment)
    out = StringIO()

    call_command("rollup_stats", "--since", day.isoformat(), stdout=out)

    assert TemplateDailyStats.objects.get(template=template, day=day).issued == 3
    assert "Rolled up 5 days" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("rollup_stats", "--since", "yesterday")
    with pytest.raises(CommandError):
        call_command("rollup_stats", "--since", (business_today() + timedelta(days=1)).isoformat())
