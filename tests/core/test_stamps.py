"""Stamps (``core.stamps``): the token of a set of rows changes in the transaction of every change to
them, whichever way it is written, and only then."""

import pytest
from django.db import transaction

from core.apps import ensure_stamps
from core.models import Stamp
from coupons.models import TEMPLATES_STAMP, CouponTemplate
from orders.models import MENU_STAMP, Category, Product
from tests.factories import CategoryFactory, CouponTemplateFactory, ProductFactory

pytestmark = pytest.mark.django_db


def token(name: str) -> int | None:
    return Stamp.objects.filter(name=name).values_list("token", flat=True).first()


def changes(name: str, write) -> bool:
    before = token(name)
    write()
    return token(name) != before


def test_every_way_of_writing_a_dish_changes_the_menus_stamp():
    dish = ProductFactory(sku="t-1")
    category = dish.category

    def saved():
        dish.price += 1
        dish.save()

    assert changes(MENU_STAMP, saved)
    assert changes(MENU_STAMP, lambda: Product.objects.filter(pk=dish.pk).update(is_active=False))
    assert changes(MENU_STAMP, lambda: Category.objects.filter(pk=category.pk).update(is_active=False))
    assert changes(
        MENU_STAMP, lambda: Product.objects.bulk_create([Product(sku="t-2", name="t", category=category, price=1)])
    )
    assert changes(MENU_STAMP, lambda: Product.objects.bulk_update([dish], ["name"]))
    assert changes(MENU_STAMP, lambda: Product.objects.filter(sku="t-2").delete())
    assert changes(MENU_STAMP, lambda: CategoryFactory(code="cat-new"))
    # an update that finds no row changes nothing
    assert not changes(MENU_STAMP, lambda: Product.objects.filter(sku="nope").update(price=1))


def test_a_templates_counters_and_status_leave_its_stamp_alone():
    template = CouponTemplateFactory()
    templates = CouponTemplate.objects.filter(pk=template.pk)

    def renamed():
        template.name = "another name"
        template.save()

    assert changes(TEMPLATES_STAMP, renamed)
    assert changes(TEMPLATES_STAMP, lambda: templates.update(value={"amount": "1.00"}))
    assert not changes(TEMPLATES_STAMP, lambda: templates.update(issued_quantity=3, status="STOPPED"))

    def counted():
        template.revoked_count = 2
        template.save(update_fields=["revoked_count"])

    assert not changes(TEMPLATES_STAMP, counted)


def test_a_change_rolled_back_takes_its_token_with_it():
    before = token(MENU_STAMP)
    with pytest.raises(RuntimeError), transaction.atomic():
        ProductFactory(sku="t-gone")
        assert token(MENU_STAMP) != before
        raise RuntimeError
    assert token(MENU_STAMP) == before


def test_the_rows_are_made_again_after_a_flush_empties_the_table():
    Stamp.objects.all().delete()
    ensure_stamps(sender=None)
    assert set(Stamp.objects.values_list("name", flat=True)) >= {MENU_STAMP, TEMPLATES_STAMP}
    assert None not in (token(MENU_STAMP), token(TEMPLATES_STAMP))
