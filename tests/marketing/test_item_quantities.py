"""Quantities of activity and gift pack items: never more than one issue may hand out
(``MAX_ISSUE_QUANTITY``), held by the database too, and in admin never more than the template lets one
customer hold (such an activity could never be claimed, such a pack item never given)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from coupons.ledger import MAX_ISSUE_QUANTITY
from marketing.models import Activity, ActivityItem, GiftPack, GiftPackItem
from tests.factories import CouponTemplateFactory
from tests.marketing.admin_forms import activity_form, pack_form

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def an_activity() -> Activity:
    return Activity.objects.create(title="x", start_time=timezone.now(), end_time=timezone.now() + timedelta(days=1))


def test_an_item_above_the_issue_maximum_is_not_valid():
    template = CouponTemplateFactory(per_user_limit=0)
    activity = an_activity()
    pack = GiftPack.objects.create(name="p", trigger="MANUAL")

    for item in (
        ActivityItem(activity=activity, template=template, quantity=MAX_ISSUE_QUANTITY + 1),
        GiftPackItem(pack=pack, template=template, quantity=MAX_ISSUE_QUANTITY + 1),
    ):
        with pytest.raises(ValidationError) as refused:
            item.full_clean()
        assert "quantity" in refused.value.message_dict


@pytest.mark.parametrize("model", [ActivityItem, GiftPackItem])
def test_the_database_refuses_an_item_above_the_issue_maximum(model):
    template = CouponTemplateFactory(per_user_limit=0)
    if model is ActivityItem:
        owner = {"activity": an_activity()}
    else:
        owner = {"pack": GiftPack.objects.create(name="p", trigger="MANUAL")}

    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(template=template, quantity=MAX_ISSUE_QUANTITY + 1, **owner)

    model.objects.create(template=template, quantity=MAX_ISSUE_QUANTITY, **owner)
    assert model.objects.get().quantity == MAX_ISSUE_QUANTITY


# The admin pages that add items, with the form data each sends.
ITEM_PAGES = pytest.mark.parametrize(
    ("path", "form", "model"),
    [
        ("/admin/marketing/activity/add/", activity_form, Activity),
        ("/admin/marketing/giftpack/add/", pack_form, GiftPack),
    ],
    ids=["activity", "gift-pack"],
)


@ITEM_PAGES
def test_admin_refuses_an_item_above_the_issue_maximum(operations_user, path, form, model):
    template = CouponTemplateFactory(per_user_limit=0)

    response = logged_in(operations_user).post(path, form(template, MAX_ISSUE_QUANTITY + 1))

    assert response.status_code == 200  # the form again, with its error
    assert response.context["inline_admin_formsets"][0].formset.errors[0]["quantity"]
    assert model.objects.count() == 0


@ITEM_PAGES
def test_admin_refuses_an_item_above_the_templates_per_user_limit(operations_user, path, form, model):
    template = CouponTemplateFactory(name="Duck 10 off", per_user_limit=2)
    client = logged_in(operations_user)

    refused = client.post(path, form(template, 3))
    taken = client.post(path, form(template, 2))

    assert refused.status_code == 200
    errors = refused.context["inline_admin_formsets"][0].formset.errors[0]["quantity"]
    assert errors == ["At most 2: a customer may hold no more of “Duck 10 off”."]
    assert taken.status_code == 302
    assert model.objects.count() == 1


def test_an_unlimited_template_takes_up_to_the_issue_maximum_in_admin(operations_user):
    template = CouponTemplateFactory(per_user_limit=0)

    response = logged_in(operations_user).post(
        "/admin/marketing/giftpack/add/", pack_form(template, MAX_ISSUE_QUANTITY)
    )

    assert response.status_code == 302
    assert GiftPackItem.objects.get().quantity == MAX_ISSUE_QUANTITY
