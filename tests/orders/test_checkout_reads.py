"""Checkout's lean reads: held coupons, templates and dishes as rows in one query each, the templates and
dishes kept by the process under their stamps, with every guarantee the model querysets gave."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from coupons.models import CouponStatus, UserCoupon
from orders.errors import CouponNotUsable, UnknownSku
from orders.models import Order, Product
from orders.pricing import HeldCoupon, MenuProduct, engine_coupons
from orders.selectors import checkout_coupons_for, chosen_coupons_for, orderable_products
from orders.services import checkout_preview, order_place
from orders.services.menu import category_deactivate, product_deactivate, product_upsert
from tests.factories import CategoryFactory, ProductFactory, UserFactory
from tests.factories.checkout import (
    every_order_adds_up,  # noqa: F401 (fixture)
    expire,
    seed_menu,
    seed_template,
    wallet_coupon,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("every_order_adds_up")]

# 整只烤鸭 128 + 凉皮 18 + 米饭 (a staple, so the gift coupon applies) + 茉莉花茶
LINES = [{"sku": sku, "quantity": 2} for sku in ("d-101", "d-201", "d-301", "d-903")]


@pytest.fixture
def menu(db):
    return seed_menu()


def _wallet(customer, held: int) -> list[UserCoupon]:
    kinds = ["roast_duck_100_20", "percent_88_max20", "staple_gift_drink", "cash_5_stackable"]
    templates = [seed_template(kind) for kind in kinds]
    return [wallet_coupon(customer, templates[i % len(templates)]) for i in range(held)]


@pytest.mark.parametrize("held", [3, 40])
@pytest.mark.parametrize("choose", [False, True])
def test_preview_reads_templates_and_dishes_once(customer, menu, held, choose, django_assert_num_queries):
    # given: a wallet of mixed kinds, gift coupons among them
    coupons = _wallet(customer, held)
    chosen = [coupons[0].pk] if choose else None

    # then: the coupons with the stamps (1), the templates (1) and the dishes of the cart and of the
    # gifts (1); then, nothing having changed, the coupons alone
    with django_assert_num_queries(3):
        checkout_preview(user=customer, lines=LINES, channel="APP", coupon_ids=chosen)
    with django_assert_num_queries(1):
        result = checkout_preview(user=customer, lines=LINES, channel="APP", coupon_ids=chosen)

    assert len(result.coupons) == held
    assert result.best.ok and result.best.coupon_ids
    assert (result.applied is not None) == choose


def test_the_rows_carry_what_the_orm_reads(customer, menu):
    # given: a red packet with its own amount, an expiry with microseconds
    coupon = wallet_coupon(
        customer,
        seed_template("cash_5_stackable", type="RANDOM_CASH", value={"min_amount": "1.00", "max_amount": "8.88"}),
        amount=Decimal("3.57"),
        expires_at=timezone.now() + timedelta(days=3, microseconds=123457),
    )

    # when
    [held] = checkout_coupons_for(user=customer)

    # then: the values and their types are the model's
    row = UserCoupon.objects.select_related("template").get(pk=coupon.pk)
    template = row.template
    assert isinstance(held, HeldCoupon)
    assert held == (
        row.pk, row.code, customer.pk, CouponStatus.UNUSED, Decimal("3.57"), row.valid_from, row.expires_at,
        template.pk, template.name, template.short_name, "RANDOM_CASH", template.value, template.usage_rules,
    )  # fmt: skip
    assert held.expires_at.utcoffset() == timedelta(0) and held.expires_at.microsecond == row.expires_at.microsecond
    assert type(held.amount) is Decimal


def test_coupons_of_one_template_share_their_parsed_definition(customer, menu):
    # given: two coupons of one template
    template = seed_template("roast_duck_100_20")
    wallet_coupon(customer, template)
    wallet_coupon(customer, template)

    # when: read in two requests
    first = checkout_coupons_for(user=customer)
    second = checkout_coupons_for(user=customer)

    # then: the same parsed objects, so the engine's definition cache finds them by identity
    values = {id(coupon.value) for coupon in first + second}
    rules = {id(coupon.usage_rules) for coupon in first + second}
    assert len(values) == 1 and len(rules) == 1
    assert first[0].usage_rules == template.usage_rules


def test_an_unused_coupon_past_its_expiry_is_never_offered(customer, menu):
    # given: the only coupon, worth taking, expired a second ago and not yet swept
    coupon = wallet_coupon(customer, "new_user_68_10")
    expire(coupon)

    # when
    result = checkout_preview(user=customer, lines=LINES, channel="APP", coupon_ids=[coupon.pk])

    # then: listed as expired, in no best combination, the choice refused; placing it is refused too
    [option] = result.coupons
    assert not option.usable and [reason.code for reason in option.reasons] == ["EXPIRED"]
    assert result.best.coupon_ids == ()
    assert result.applied is not None and not result.applied.ok
    assert order_place(user=customer, lines=LINES, channel="APP", auto_coupons=True).discount_total == 0
    with pytest.raises(CouponNotUsable):
        order_place(user=customer, lines=LINES, channel="APP", coupon_ids=[coupon.pk])
    assert UserCoupon.objects.get(pk=coupon.pk).status == CouponStatus.UNUSED


def test_another_customers_coupon_is_never_read(customer, menu):
    # given: someone else's coupon, UNUSED and worth more than the customer's own
    theirs = wallet_coupon(UserFactory(), "roast_duck_100_20")
    own = wallet_coupon(customer, "new_user_68_10")

    # then: not in the wallet, not among the chosen, even when asked for by id
    assert [c.pk for c in checkout_coupons_for(user=customer)] == [own.pk]
    assert [c.pk for c in checkout_coupons_for(user=customer, coupon_ids=[theirs.pk])] == [own.pk]
    assert chosen_coupons_for(user=customer, coupon_ids=[theirs.pk, own.pk]) == checkout_coupons_for(user=customer)
    result = checkout_preview(user=customer, lines=LINES, channel="APP")
    assert [option.coupon.pk for option in result.coupons] == [own.pk]
    assert result.best.coupon_ids == (own.pk,)


def test_a_locked_coupon_is_never_offered(customer, menu):
    # given: a coupon held by an unpaid order, and a free one
    locked = wallet_coupon(customer, "roast_duck_100_20")
    order = order_place(user=customer, lines=LINES, channel="APP", coupon_ids=[locked.pk])
    assert UserCoupon.objects.get(pk=locked.pk).status == CouponStatus.LOCKED
    free = wallet_coupon(customer, "new_user_68_10")

    # when
    result = checkout_preview(user=customer, lines=LINES, channel="APP", coupon_ids=[locked.pk])

    # then: only the free one is offered; choosing the locked one is refused with its status
    assert [option.coupon.pk for option in result.coupons] == [free.pk]
    assert result.best.coupon_ids == (free.pk,)
    assert result.applied is not None and not result.applied.ok
    assert [reason.code for reason in result.applied.refused[locked.pk]] == ["LOCKED"]
    # and a second order cannot take it: it is re-checked under lock
    with pytest.raises(CouponNotUsable):
        order_place(user=customer, lines=LINES, channel="APP", coupon_ids=[locked.pk])
    assert UserCoupon.objects.get(pk=locked.pk).order_id == order.pk
    second = order_place(user=customer, lines=LINES, channel="APP", auto_coupons=True)
    assert list(second.applied_coupons.values_list("coupon_id", flat=True)) == [free.pk]
    assert Order.objects.count() == 2


def test_orderable_products_are_active_dishes_of_active_categories(menu):
    # given: an inactive dish, and an active dish in an inactive category
    ProductFactory(sku="t-off", category=menu["d-101"].category, price=Decimal("9.00"), is_active=False)
    closed = CategoryFactory(code="cat-closed", is_active=False)
    ProductFactory(sku="t-closed", category=closed, price=Decimal("9.00"))

    # when
    found = orderable_products(skus=["d-101", "t-off", "t-closed", "nope"])

    # then
    duck = menu["d-101"]
    assert found == {
        "d-101": MenuProduct(duck.pk, "d-101", duck.name, duck.price, duck.category.code),
    }
    assert type(found["d-101"].price) is Decimal


def test_a_coupon_read_again_unchanged_is_the_same_and_changed_is_new(customer, menu):
    # given: a coupon read once, and its engine coupon
    coupon = wallet_coupon(customer, "cash_5_stackable")
    [first] = checkout_coupons_for(user=customer)
    [first_engine] = engine_coupons([first], products={})

    # when: read again, unchanged; then its row changes (a later expiry, as the sweep or staff might set)
    [again] = checkout_coupons_for(user=customer)
    later = coupon.expires_at + timedelta(days=1, microseconds=7)
    UserCoupon.objects.filter(pk=coupon.pk).update(expires_at=later)
    [changed] = checkout_coupons_for(user=customer)

    # then: the same objects while unchanged, the row's values as soon as it changed
    assert again is first and engine_coupons([again], products={}) == [first_engine]
    assert engine_coupons([again], products={})[0] is first_engine
    assert changed.expires_at == later and changed._replace(expires_at=first.expires_at) == first
    assert engine_coupons([changed], products={})[0].expires_at == later


def test_a_template_saved_since_it_was_read_is_read_again(customer, menu):
    # given: a coupon of a template, read and priced: 10 off
    template = seed_template("new_user_68_10")
    wallet_coupon(customer, template)
    assert checkout_preview(user=customer, lines=LINES, channel="APP").best.discount_total == Decimal("10.00")

    # when: the template is saved with another definition and name (only a draft can be, through the
    # services; here directly, to stand for any save)
    template.value, template.name = {"amount": "15.00"}, "新人专享满68减15"
    template.save()

    # then: the next read has them, and the preview prices with them
    [held] = checkout_coupons_for(user=customer)
    assert (held.value, held.name) == ({"amount": "15.00"}, "新人专享满68减15")
    assert checkout_preview(user=customer, lines=LINES, channel="APP").best.discount_total == Decimal("15.00")


def test_a_gift_follows_the_menu_at_once(customer, menu):
    # given: a gift coupon (酸梅汤, 8.00) priced once
    wallet_coupon(customer, "staple_gift_drink")
    [option] = checkout_preview(user=customer, lines=LINES, channel="APP").coupons
    assert option.usable and option.gift_worth == Decimal("8.00")

    # when: the dish's price changes; then it is taken off the menu
    Product.objects.filter(sku="d-901").update(price=Decimal("9.50"))
    [repriced] = checkout_preview(user=customer, lines=LINES, channel="APP").coupons
    Product.objects.filter(sku="d-901").update(is_active=False)
    [gone] = checkout_preview(user=customer, lines=LINES, channel="APP").coupons

    # then: each preview has the menu as it is
    assert repriced.usable and repriced.gift_worth == Decimal("9.50")
    assert not gone.usable and [reason.code for reason in gone.reasons] == ["GIFT_UNAVAILABLE"]


def test_the_menu_kept_by_the_process_follows_every_change(customer, menu, operations_user):
    # given: the dishes read and kept (a preview with a coupon reads the menu's stamp)
    wallet_coupon(customer, "new_user_68_10")
    duck = [{"sku": "d-101", "quantity": 1}]
    assert checkout_preview(user=customer, lines=duck, channel="APP").subtotal == Decimal("128.00")
    with pytest.raises(UnknownSku):
        checkout_preview(user=customer, lines=[{"sku": "d-999", "quantity": 1}], channel="APP")

    # then: a price change, a new dish, a dish and a category taken off the menu are seen at once
    product_upsert(sku="d-101", data={"price": Decimal("138.00")}, actor=operations_user)
    assert checkout_preview(user=customer, lines=duck, channel="APP").subtotal == Decimal("138.00")
    ProductFactory(sku="d-999", category=menu["d-101"].category, price=Decimal("9.00"))
    assert checkout_preview(user=customer, lines=[{"sku": "d-999", "quantity": 1}], channel="APP").subtotal == 9
    product_deactivate(product=menu["d-101"], actor=operations_user)
    with pytest.raises(UnknownSku):
        checkout_preview(user=customer, lines=duck, channel="APP")
    category_deactivate(category=menu["d-201"].category, actor=operations_user)
    with pytest.raises(UnknownSku):
        checkout_preview(user=customer, lines=[{"sku": "d-201", "quantity": 1}], channel="APP")
