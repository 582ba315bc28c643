"""Manual grants by staff: the service and the admin action's intermediate page."""

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from core.audit import audit_trail_for
from core.errors import InvalidTransition, PermissionDeniedError, ValidationFailed
from coupons.admin_grant import grant_to_users_action
from coupons.models import CouponTemplate, TemplateStatus, UserCoupon
from coupons.services.grants import coupons_grant_by_staff
from marketing.models import Notification
from tests.factories import CouponTemplateFactory, StaffFactory, UserFactory
from tests.marketing.distribution import clean_redis, restore_roles_after_module  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_redis")]


def test_staff_grant_coupons_recorded_with_the_granter(operations_user):
    template = CouponTemplateFactory(per_user_limit=2, total_quantity=10)
    users = [UserFactory() for _ in range(3)]

    result = coupons_grant_by_staff(template=template, users=users, actor=operations_user, quantity=2)

    assert len(result.coupons) == 6 and result.skipped == {}
    coupons = UserCoupon.objects.filter(template=template)
    assert {(c.source, c.granted_by_id) for c in coupons} == {("ADMIN", operations_user.pk)}
    assert sorted(c.user_id for c in coupons) == sorted([u.pk for u in users] * 2)
    assert CouponTemplate.objects.get(pk=template.pk).issued_quantity == 6
    (record,) = audit_trail_for(template)
    assert (record.action, record.actor, record.data["quantity"]) == ("grant", operations_user, 2)
    assert sorted(record.data["granted_users"]) == sorted(u.pk for u in users)
    # one "you received N coupons" per customer
    assert sorted(Notification.objects.values_list("user_id", flat=True)) == sorted(u.pk for u in users)
    assert set(Notification.objects.values_list("title", flat=True)) == {"You received 2 coupons"}


def test_limits_and_stock_skip_customers_and_the_rest_are_granted(operations_user):
    template = CouponTemplateFactory(per_user_limit=1, total_quantity=2)
    has_one = UserFactory()
    coupons_grant_by_staff(template=template, users=[has_one], actor=operations_user)
    first, second, third = UserFactory(), UserFactory(), UserFactory()

    result = coupons_grant_by_staff(template=template, users=[first, has_one, second, third], actor=operations_user)

    assert result.granted_users == [first.pk]
    assert result.skipped == {has_one.pk: "LIMIT_REACHED", second.pk: "SOLD_OUT", third.pk: "SOLD_OUT"}
    template.refresh_from_db()
    assert template.issued_quantity == 2 == UserCoupon.objects.filter(template=template).count()


def test_granting_needs_the_grant_permission(finance_user):
    template = CouponTemplateFactory()

    with pytest.raises(PermissionDeniedError):
        coupons_grant_by_staff(template=template, users=[UserFactory()], actor=finance_user)
    assert UserCoupon.objects.count() == 0


@pytest.mark.parametrize("status", [TemplateStatus.DRAFT, TemplateStatus.STOPPED, TemplateStatus.PENDING_REVIEW])
def test_only_approved_templates_are_granted(operations_user, status):
    template = CouponTemplateFactory(status=status)

    with pytest.raises(InvalidTransition):
        coupons_grant_by_staff(template=template, users=[UserFactory()], actor=operations_user)
    assert UserCoupon.objects.count() == 0


@pytest.mark.parametrize("quantity", [0, -1, 1001])
def test_a_bad_quantity_is_refused(operations_user, quantity):
    with pytest.raises(ValidationFailed):
        coupons_grant_by_staff(
            template=CouponTemplateFactory(), users=[UserFactory()], actor=operations_user, quantity=quantity
        )


def test_an_empty_list_is_refused(operations_user):
    with pytest.raises(ValidationFailed):
        coupons_grant_by_staff(template=CouponTemplateFactory(), users=[], actor=operations_user)


# admin action -----------------------------------------------------------------------------------


def admin_request(user, data=None):
    request = RequestFactory().post("/admin/coupons/coupontemplate/", data or {})
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    request._dont_enforce_csrf_checks = True
    return request


def messages_of(request) -> list[str]:
    return [str(m) for m in get_messages(request)]


def test_the_action_shows_a_page_to_paste_customers(operations_user):
    template = CouponTemplateFactory()
    request = admin_request(operations_user, {"action": "grant_to_users_action"})

    response = grant_to_users_action(admin.site._registry[CouponTemplate], request, CouponTemplate.objects.all())

    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="users"' in page and 'name="quantity"' in page
    assert f'value="{template.pk}"' in page
    assert UserCoupon.objects.count() == 0


def test_the_action_grants_to_the_pasted_usernames_and_ids(operations_user):
    template = CouponTemplateFactory(per_user_limit=0)
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    request = admin_request(operations_user, {"apply": "1", "users": f"alice,\n{bob.pk}", "quantity": "2"})

    response = grant_to_users_action(admin.site._registry[CouponTemplate], request, CouponTemplate.objects.all())

    assert response is None
    assert sorted(UserCoupon.objects.values_list("user_id", flat=True)) == sorted([alice.pk, alice.pk, bob.pk, bob.pk])
    assert messages_of(request) == ["Granted 4 coupons to 2 customers."]
    assert template.pk


def test_unknown_customers_are_shown_on_the_form_and_nothing_is_granted(operations_user):
    CouponTemplateFactory()
    UserFactory(username="alice")
    request = admin_request(operations_user, {"apply": "1", "users": "alice nobody-here", "quantity": "1"})

    response = grant_to_users_action(admin.site._registry[CouponTemplate], request, CouponTemplate.objects.all())

    assert response.status_code == 200
    assert "nobody-here" in response.content.decode()
    assert UserCoupon.objects.count() == 0


def test_the_action_needs_one_approved_template_and_the_permission(operations_user, finance_user):
    CouponTemplateFactory()
    CouponTemplateFactory()
    model_admin = admin.site._registry[CouponTemplate]

    two = admin_request(operations_user, {"apply": "1", "users": "x", "quantity": "1"})
    assert grant_to_users_action(model_admin, two, CouponTemplate.objects.all()) is None
    assert messages_of(two) == ["Select exactly one template to grant."]

    finance = admin_request(finance_user)
    assert grant_to_users_action(model_admin, finance, CouponTemplate.objects.all()[:1]) is None
    assert messages_of(finance) == ["You do not have permission to grant coupons."]

    draft = CouponTemplateFactory(status=TemplateStatus.DRAFT)
    request = admin_request(StaffFactory(role="operations"))
    assert grant_to_users_action(model_admin, request, CouponTemplate.objects.filter(pk=draft.pk)) is None
    assert messages_of(request) == ["Only an approved template can be granted."]
    assert UserCoupon.objects.count() == 0
