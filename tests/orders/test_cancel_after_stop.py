import pytest

from coupons.models import CouponStatus, CouponTemplate, UserCoupon
from coupons.services import template_stop
from orders.models import OrderStatus
from orders.services import order_cancel, order_place
from tests.factories import StaffFactory, UserFactory
from tests.factories.checkout import seed_menu, seed_template, wallet_coupon


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("revoke_unused", "after_cancel"), [(True, CouponStatus.REVOKED), (False, CouponStatus.UNUSED)]
)
def test_a_coupon_locked_by_an_order_follows_the_stop_decision_when_the_order_is_cancelled(revoke_unused, after_cancel):
    # given: a coupon locked by an unpaid order, and an unused one, of the same template
    seed_menu()
    user = UserFactory()
    template = seed_template("cash_5_stackable")
    locked = wallet_coupon(user, template)
    unused = wallet_coupon(user, template)
    order = order_place(user=user, lines=[{"sku": "d-101", "quantity": 1}], channel="APP", coupon_ids=[locked.pk])

    # when: operations stops the template, then the order is cancelled
    template_stop(template=template, actor=StaffFactory(role="operations"), revoke_unused=revoke_unused)
    assert UserCoupon.objects.get(pk=locked.pk).status == CouponStatus.LOCKED
    order_cancel(order=order, actor=user)

    # then
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert UserCoupon.objects.get(pk=locked.pk).status == after_cancel
    assert UserCoupon.objects.get(pk=unused.pk).status == (
        CouponStatus.REVOKED if revoke_unused else CouponStatus.UNUSED
    )
    template = CouponTemplate.objects.get(pk=template.pk)
    assert template.locked_count == 0
    assert template.revoked_count == (2 if revoke_unused else 0)
