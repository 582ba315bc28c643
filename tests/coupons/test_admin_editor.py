"""The template editor in admin: no JSON typed, the right JSON stored, sense checks before saving."""

import re

import pytest
from django.test import Client
from django.utils import translation

from coupons import services
from coupons.models import CouponTemplate, TemplateStatus
from tests.coupons.bad_templates import admin_form_data
from tests.factories import CouponTemplateFactory
from tests.factories.orders import CategoryFactory, ProductFactory
from tests.factories.template_input import TemplateInputFactory

pytestmark = pytest.mark.django_db

ADD = "/admin/coupons/coupontemplate/add/"


def change_url(pk: int) -> str:
    return f"/admin/coupons/coupontemplate/{pk}/change/"


@pytest.fixture
def menu(db):
    duck = CategoryFactory(code="cat-roast-duck", name="烤鸭")
    drinks = CategoryFactory(code="cat-drinks", name="饮品")
    return {
        "duck": duck,
        "drinks": drinks,
        "whole_duck": ProductFactory(sku="d-101", name="北京烤鸭", category=duck, price="128.00"),
        "tea": ProductFactory(sku="d-601", name="茉莉花茶", category=drinks, price="12.00"),
    }


def base_post(**overrides) -> dict:
    """The template's other fields as the form posts them, with no value, rules or audience yet."""
    data = admin_form_data(TemplateInputFactory(usage_rules=[], value={}, **overrides))
    return {key: value for key, value in data.items() if not key.startswith("value__")}


def rule_rows(*rows: dict) -> dict:
    post = {"rules-TOTAL_FORMS": str(len(rows)), "rules-INITIAL_FORMS": "0"}
    for index, row in enumerate(rows):
        for key, value in row.items():
            post[f"rules-{index}-{key}"] = value
    return post


def test_the_add_page_has_no_json_textarea_and_names_every_editor_input(ops):
    page = ops.get(ADD).content.decode()

    for name in ("value", "usage_rules", "target"):
        assert not re.search(rf'<textarea[^>]*name="{name}"', page), name
        assert f'name="{name}"' not in page
    for name in (
        "type",
        "value__CASH_VOUCHER__amount",
        "value__PERCENTAGE_DISCOUNT__percentage",
        "value__PERCENTAGE_DISCOUNT__max_off",
        "value__RANDOM_CASH__min_amount",
        "value__RANDOM_CASH__max_amount",
        "value__FREE_ITEM__gift_item_id",
        "value__FREE_ITEM__quantity",
        "rules-TOTAL_FORMS",
        "rules-__prefix__-rule_type",
        "rules-__prefix__-MINIMUM_SPEND__amount",
        "rules-__prefix__-ITEM_DISCOUNT_SCOPE__category_ids",
        "rules-__prefix__-VALID_TIME_SLOTS__slots_0",
        "rules-__prefix__-VALID_DAYS_OF_WEEK__days",
        "rules-__prefix__-CHANNELS__channels",
        "target_type",
        "target_days",
        "target_levels",
        "target_user_type",
        "confirm_warnings",
    ):
        assert f'name="{name}"' in page, name
    # dishes and categories are picked through admin's autocomplete on the menu models
    assert 'data-model-name="orderline"' in page and 'data-field-name="product"' in page
    assert 'data-model-name="product"' in page and 'data-field-name="category"' in page
    assert 'type="time"' in page
    assert "coupons/admin/editor.js" in page
    assert 'class="zhe-input' in page


def test_posting_the_editor_fields_stores_the_json(ops, operations_user, menu):
    # given: 满100减10, only on roast duck, weekdays at lunch, app and mini program, gold members
    post = {
        **base_post(name="烤鸭午市满100减10"),
        "type": "CASH_VOUCHER",
        "value__CASH_VOUCHER__amount": "10",
        **rule_rows(
            {"rule_type": "MINIMUM_SPEND", "MINIMUM_SPEND__amount": "100", "ORDER": "1"},
            {
                "rule_type": "ITEM_DISCOUNT_SCOPE",
                "ITEM_DISCOUNT_SCOPE__category_ids": [str(menu["duck"].pk)],
                "ORDER": "2",
            },
            {"rule_type": "VALID_DAYS_OF_WEEK", "VALID_DAYS_OF_WEEK__days": ["1", "2", "3", "4", "5"], "ORDER": "3"},
            {
                "rule_type": "VALID_TIME_SLOTS",
                "VALID_TIME_SLOTS__slots_0": "11:00",
                "VALID_TIME_SLOTS__slots_1": "14:00",
                "ORDER": "4",
            },
            {"rule_type": "CHANNELS", "CHANNELS__channels": ["APP", "MINI_PROGRAM"], "ORDER": "5"},
        ),
        "target_type": "MEMBER_LEVELS",
        "target_levels": ["GOLD", "VIP"],
        "_save": "Save",
    }

    # when
    response = ops.post(ADD, post)

    # then
    assert response.status_code == 302, response.context["adminform"].form.errors
    template = CouponTemplate.objects.get()
    assert template.status == TemplateStatus.DRAFT and template.created_by == operations_user
    assert template.value == {"amount": "10.00"}
    assert template.usage_rules == [
        {"rule_type": "MINIMUM_SPEND", "params": {"amount": "100.00"}},
        {"rule_type": "ITEM_DISCOUNT_SCOPE", "params": {"item_ids": [], "category_ids": ["cat-roast-duck"]}},
        {"rule_type": "VALID_DAYS_OF_WEEK", "params": {"days": [1, 2, 3, 4, 5]}},
        {"rule_type": "VALID_TIME_SLOTS", "params": {"slots": [{"start": "11:00", "end": "14:00"}]}},
        {"rule_type": "CHANNELS", "params": {"channels": ["APP", "MINI_PROGRAM"]}},
    ]
    assert template.target == {"type": "MEMBER_LEVELS", "levels": ["GOLD", "VIP"]}


def test_a_percentage_is_entered_as_zhe_and_stored_as_the_percentage_off(ops):
    post = {
        **base_post(),
        "type": "PERCENTAGE_DISCOUNT",
        "value__PERCENTAGE_DISCOUNT__percentage": "8.8",
        "value__PERCENTAGE_DISCOUNT__max_off": "20",
        **rule_rows(),
        "target_type": "ALL",
        "_save": "Save",
    }

    response = ops.post(ADD, post)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert CouponTemplate.objects.get().value == {"percentage": 12, "max_off": "20.00"}


def test_a_free_item_picks_its_gift_from_the_menu(ops, menu):
    post = {
        **base_post(),
        "type": "FREE_ITEM",
        "value__FREE_ITEM__gift_item_id": str(menu["tea"].pk),
        "value__FREE_ITEM__quantity": "2",
        **rule_rows(
            {
                "rule_type": "CONDITIONAL_GIFT_ITEM",
                "CONDITIONAL_GIFT_ITEM__required_item_ids": [str(menu["whole_duck"].pk)],
            }
        ),
        "target_type": "NEW_USER",
        "target_days": "7",
        "_save": "Save",
    }

    response = ops.post(ADD, post)

    assert response.status_code == 302, response.context["adminform"].form.errors
    template = CouponTemplate.objects.get()
    assert template.value == {"gift_item_id": "d-601", "quantity": 2}
    assert template.usage_rules == [
        {"rule_type": "CONDITIONAL_GIFT_ITEM", "params": {"required_item_ids": ["d-101"], "required_category_ids": []}}
    ]
    assert template.target == {"type": "NEW_USER", "days": 7}


def free_item_post(gift_pk: int) -> dict:
    return {
        **base_post(),
        "type": "FREE_ITEM",
        "value__FREE_ITEM__gift_item_id": str(gift_pk),
        "value__FREE_ITEM__quantity": "1",
        **rule_rows(),
        "target_type": "ALL",
        "_save": "Save",
    }


def test_the_gift_picker_takes_only_dishes_on_sale(ops, menu):
    # given: one dish off sale, one in a category off sale, beside the two on sale
    off = ProductFactory(sku="d-199", category=menu["duck"], is_active=False)
    ProductFactory(sku="d-555", category=CategoryFactory(code="cat-closed", is_active=False))

    page = ops.get(ADD)
    refused = ops.post(ADD, free_item_post(off.pk))

    picker = page.context["adminform"].form.fields["value__FREE_ITEM__gift_item_id"]
    assert sorted(picker.queryset.values_list("sku", flat=True)) == ["d-101", "d-601"]
    assert refused.status_code == 200
    assert "value__FREE_ITEM__gift_item_id" in refused.context["adminform"].form.errors
    assert CouponTemplate.objects.count() == 0


def test_a_draft_whose_gift_went_off_sale_shows_it_and_saving_says_why(ops, operations_user, menu):
    # given: a draft giving a tea, and then the tea is taken off the menu
    data = TemplateInputFactory(type="FREE_ITEM", value={"gift_item_id": "d-601", "quantity": 1}, usage_rules=[])
    template = services.template_create(actor=operations_user, data=data)
    menu["tea"].is_active = False
    menu["tea"].save()

    page = ops.get(change_url(template.pk))
    again = ops.post(change_url(template.pk), {**admin_form_data({**data, "name": template.name}), "_save": "Save"})

    assert f'<option value="{menu["tea"].pk}" selected>' in page.content.decode()
    assert again.status_code == 200
    assert again.context["adminform"].form.non_field_errors() == [
        "The gift dish d-601 is not on sale: it or its category is inactive."
    ]
    template.refresh_from_db()
    assert template.value == {"gift_item_id": "d-601", "quantity": 1}


def test_an_approved_template_whose_gift_went_off_sale_still_opens(ops, menu):
    template = CouponTemplateFactory(
        type="FREE_ITEM", value={"gift_item_id": "d-601", "quantity": 1}, usage_rules=[], status=TemplateStatus.APPROVED
    )
    menu["drinks"].is_active = False
    menu["drinks"].save()

    response = ops.get(change_url(template.pk))

    assert response.status_code == 200
    assert "茉莉花茶" in response.content.decode()


def test_rows_are_stored_in_their_order_and_removed_rows_are_dropped(ops):
    post = {
        **base_post(),
        "type": "CASH_VOUCHER",
        "value__CASH_VOUCHER__amount": "5",
        **rule_rows(
            {"rule_type": "VALID_DAYS_OF_WEEK", "VALID_DAYS_OF_WEEK__days": ["6", "7"], "ORDER": "2"},
            {"rule_type": "CHANNELS", "CHANNELS__channels": ["POS"], "ORDER": "3", "DELETE": "on"},
            {"rule_type": "MINIMUM_SPEND", "MINIMUM_SPEND__amount": "30", "ORDER": "1"},
        ),
        "target_type": "ALL",
        "_save": "Save",
    }

    response = ops.post(ADD, post)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert [rule["rule_type"] for rule in CouponTemplate.objects.get().usage_rules] == [
        "MINIMUM_SPEND",
        "VALID_DAYS_OF_WEEK",
    ]


def test_a_bad_rule_param_shows_on_its_own_field(ops):
    post = {
        **base_post(),
        "type": "CASH_VOUCHER",
        "value__CASH_VOUCHER__amount": "5",
        **rule_rows(
            {
                "rule_type": "VALID_TIME_SLOTS",
                "VALID_TIME_SLOTS__slots_0": "11:00",
                "VALID_TIME_SLOTS__slots_1": "11:00",
            }
        ),
        "target_type": "ALL",
        "_save": "Save",
    }

    response = ops.post(ADD, post)

    assert response.status_code == 200
    row = response.context["adminform"].form.rules.forms[0]
    assert "VALID_TIME_SLOTS__slots" in row.errors
    assert CouponTemplate.objects.count() == 0


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_editors_errors_name_its_fields_and_rules_by_their_labels_not_the_json_keys(operations_user, language):
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(operations_user)
    post = {
        **base_post(),
        "type": "RANDOM_CASH",
        "value__RANDOM_CASH__min_amount": "9",
        "value__RANDOM_CASH__max_amount": "5",
        **rule_rows({"rule_type": "ITEM_ELIGIBILITY"}),
        "target_type": "ALL",
        "_save": "Save",
    }

    response = client.post(ADD, post)

    form = response.context["adminform"].form
    errors = " ".join(str(error) for errors in form.errors.values() for error in errors)
    assert response.status_code == 200 and CouponTemplate.objects.count() == 0
    for key in ("min_amount", "max_amount", "item_ids", "category_ids", "ITEM_ELIGIBILITY"):
        assert key not in errors, (key, errors)
    with translation.override(language):
        labels = [str(form.fields[f"value__RANDOM_CASH__{key}"].label) for key in ("min_amount", "max_amount")]
    assert all(label in errors for label in labels), (labels, errors)


def test_the_change_page_shows_the_stored_rules_in_the_editor_and_the_json_read_only(ops, operations_user, menu):
    template = services.template_create(
        actor=operations_user,
        data=TemplateInputFactory(
            usage_rules=[
                {"rule_type": "MINIMUM_SPEND", "params": {"amount": "100.00"}},
                {"rule_type": "ITEM_DISCOUNT_SCOPE", "params": {"category_ids": ["cat-roast-duck"]}},
            ]
        ),
    )

    response = ops.get(change_url(template.pk))

    form = response.context["adminform"].form
    assert [row.initial["rule_type"] for row in form.rules.forms] == ["MINIMUM_SPEND", "ITEM_DISCOUNT_SCOPE"]
    assert form.rules.forms[1].initial["ITEM_DISCOUNT_SCOPE__category_ids"] == [menu["duck"].pk]
    assert form.initial["value__CASH_VOUCHER__amount"] is not None
    page = response.content.decode()
    assert 'name="rules-1-ITEM_DISCOUNT_SCOPE__category_ids"' in page
    assert f'<option value="{menu["duck"].pk}" selected>' in page
    assert "collapse" in page and "&quot;rule_type&quot;: &quot;MINIMUM_SPEND&quot;" in page
    assert not re.search(r'<textarea[^>]*name="(value|usage_rules|target)"', page)

    # posting the page back unchanged keeps the same JSON
    token_free = admin_form_data(TemplateInputFactory(name=template.name, usage_rules=template.usage_rules))
    again = ops.post(change_url(template.pk), {**token_free, "_save": "Save"})
    assert again.status_code == 302, again.context["adminform"].form.errors
    template.refresh_from_db()
    assert template.usage_rules[1] == {
        "rule_type": "ITEM_DISCOUNT_SCOPE",
        "params": {"item_ids": [], "category_ids": ["cat-roast-duck"]},
    }


# sense checks ---------------------------------------------------------------------------------------


def test_a_discount_above_its_own_threshold_is_an_error(ops):
    post = {
        **base_post(),
        "type": "CASH_VOUCHER",
        "value__CASH_VOUCHER__amount": "200",
        **rule_rows({"rule_type": "MINIMUM_SPEND", "MINIMUM_SPEND__amount": "100"}),
        "target_type": "ALL",
        "confirm_warnings": "on",
        "_save": "Save",
    }

    response = ops.post(ADD, post)

    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert any("threshold" in message for message in errors), errors
    assert CouponTemplate.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "warning"),
    [
        ({"type": "PERCENTAGE_DISCOUNT", "value__PERCENTAGE_DISCOUNT__percentage": "0"}, "100 % off without a cap"),
        (
            {"type": "PERCENTAGE_DISCOUNT", "value__PERCENTAGE_DISCOUNT__percentage": "4"},
            "More than 50 % off (60 % off)",
        ),
        (
            {"type": "CASH_VOUCHER", "value__CASH_VOUCHER__amount": "5", "total_quantity": "-1", "per_user_limit": "0"},
            "Unlimited stock and no per-user limit",
        ),
    ],
    ids=["free_without_cap", "above_half", "unlimited_without_limit"],
)
def test_a_warning_needs_the_confirmation_box_before_saving(ops, fields, warning):
    post = {**base_post(), **rule_rows(), "target_type": "ALL", "_save": "Save", **fields}

    refused = ops.post(ADD, post)
    confirmed = ops.post(ADD, {**post, "confirm_warnings": "on"})

    assert refused.status_code == 200
    messages = refused.context["adminform"].form.errors["confirm_warnings"]
    assert any(warning in message for message in messages), messages
    assert confirmed.status_code == 302, confirmed.context["adminform"].form.errors
    assert CouponTemplate.objects.count() == 1


def test_a_template_without_warnings_needs_no_confirmation(ops):
    post = {
        **base_post(),
        "type": "CASH_VOUCHER",
        "value__CASH_VOUCHER__amount": "5",
        **rule_rows(),
        "target_type": "ALL",
    }

    response = ops.post(ADD, {**post, "_save": "Save"})

    assert response.status_code == 302, response.context["adminform"].form.errors


def test_a_code_batch_larger_than_the_remaining_stock_is_refused_in_admin(operations_user):
    template = CouponTemplateFactory(total_quantity=100, issued_quantity=40)
    client = Client()
    client.force_login(operations_user)

    response = client.post(
        "/admin/coupons/redemptioncodebatch/add/",
        {"name": "Weibo", "template": template.pk, "quantity": "61", "_save": "Save"},
    )

    assert response.status_code == 200
    assert "remaining stock (60)" in " ".join(response.context["adminform"].form.errors["quantity"])
    assert template.code_batches.count() == 0


def test_a_code_batch_refused_after_the_form_is_shown_again_with_the_reason(operations_user, monkeypatch):
    # given: the stock was taken between the form's check and the batch (the form's check saw room)
    template = CouponTemplateFactory(total_quantity=100, issued_quantity=40)
    monkeypatch.setattr("coupons.admin_codes.batch_beyond_stock", lambda template, quantity: None)
    client = Client()
    client.force_login(operations_user)

    response = client.post(
        "/admin/coupons/redemptioncodebatch/add/",
        {"name": "Weibo", "template": template.pk, "quantity": "61", "_save": "Save"},
        follow=True,
    )

    assert response.status_code == 200
    assert response.redirect_chain == [("/admin/coupons/redemptioncodebatch/add/", 302)]
    assert "remaining stock (60)" in " ".join(str(m) for m in response.context["messages"])
    assert template.code_batches.count() == 0
