"""Resolving a customer list (core.userlists): ids and usernames, and digits that are not ASCII."""

import pytest

from core.userlists import resolve_users
from coupons.models import UserCoupon
from tests.factories import CouponTemplateFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_ids_and_usernames_are_found_and_the_rest_named():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")

    found, unknown = resolve_users(["alice", str(bob.pk), "ghost", "99999999"])

    assert found == sorted({alice.pk, bob.pk})
    assert unknown == ["ghost", "99999999"]


def test_digits_that_are_not_ascii_are_usernames():
    # "①".isdigit() and "²".isdigit() are true, but int() refuses them.
    circled = UserFactory(username="①")

    found, unknown = resolve_users(["①", "²", "٣"])

    assert found == [circled.pk]
    assert unknown == ["²", "٣"]


def test_staff_and_deactivated_accounts_are_not_customers(operations_user, django_user_model):
    # given: a staff member, a superuser, a deactivated customer and a customer
    boss = django_user_model.objects.create_superuser(username="boss", password="x-long-secret-1")
    gone = UserFactory(username="gone", is_active=False)
    carol = UserFactory(username="carol")

    found, unknown = resolve_users([operations_user.username, str(boss.pk), "gone", str(gone.pk), "carol"])

    # then: only the customer is found; the others are named as unknown, as a grant reports them
    assert found == [carol.pk]
    assert unknown == [operations_user.username, str(boss.pk), "gone", str(gone.pk)]


def test_a_staff_grant_to_a_staff_account_is_refused(ops, operations_user):
    template = CouponTemplateFactory(per_user_limit=0, total_quantity=-1)

    ops.post(
        "/admin/coupons/coupontemplate/",
        {"action": "grant_to_users_action", "_selected_action": [template.pk], "apply": "1",
         "users": operations_user.username, "quantity": "20"},
    )  # fmt: skip

    assert not UserCoupon.objects.filter(user=operations_user).exists()
