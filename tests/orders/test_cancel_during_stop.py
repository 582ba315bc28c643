"""An order cancelled while its template is being stopped with "revoke unused" (real threads, MariaDB)."""

import threading
import time

import pytest
from django.db import connection, transaction

from coupons.models import CouponStatus, CouponTemplate, UserCoupon
from coupons.services import template_stop
from orders.services import order_cancel, order_place
from tests.factories import StaffFactory, UserFactory
from tests.factories.checkout import seed_menu, seed_template, wallet_coupon

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_cancel_that_read_the_template_before_a_stop_committed_still_revokes_the_coupon():
    # given: a coupon locked by an unpaid order, of a template that returns coupons on cancel
    seed_menu()
    user = UserFactory()
    template = seed_template("cash_5_stackable")
    locked = wallet_coupon(user, template)
    order = order_place(user=user, lines=[{"sku": "d-101", "quantity": 1}], channel="APP", coupon_ids=[locked.pk])
    operations = StaffFactory(role="operations")
    stopped, commit_stop, errors = threading.Event(), threading.Event(), []

    def stop() -> None:
        try:
            with transaction.atomic():  # the stop's transaction stays open until the cancel has started
                template_stop(template=template, actor=operations, revoke_unused=True)
                stopped.set()
                commit_stop.wait(timeout=10)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    def cancel() -> None:
        try:
            order_cancel(order=order, actor=user)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    # when: the cancel runs while the stop (revoke unused) is written but not committed, and the stop commits
    stopper = threading.Thread(target=stop)
    stopper.start()
    assert stopped.wait(timeout=10)
    canceller = threading.Thread(target=cancel)
    canceller.start()
    time.sleep(0.5)  # the cancel has locked its coupon and reached the template
    commit_stop.set()
    stopper.join(timeout=20)
    canceller.join(timeout=20)

    # then: the coupon is forfeited, as the stop decided, and the counters add up
    assert not errors
    assert UserCoupon.objects.get(pk=locked.pk).status == CouponStatus.REVOKED
    template = CouponTemplate.objects.get(pk=template.pk)
    assert (template.unused_revoked, template.locked_count, template.revoked_count) == (True, 0, 1)
