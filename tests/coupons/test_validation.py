"""clean_template_fields: the checks the admin form and the staff API share."""

from datetime import UTC, timedelta

import pytest
from django.core.exceptions import ValidationError

from coupons.validation import clean_template_fields
from tests.coupons.bad_templates import DAY, T0, bad_cases
from tests.factories import CategoryFactory, ProductFactory
from tests.factories.template_input import TemplateInputFactory

pytestmark = pytest.mark.django_db


def errors_of(data: dict) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as exc:
        clean_template_fields(data)
    return exc.value.message_dict


@bad_cases
def test_each_bad_example_is_refused_on_its_field_with_a_message(case):
    errors = errors_of(case.data())

    assert case.field in errors, errors
    assert all(isinstance(message, str) and message.strip() for message in errors[case.field])


def test_every_problem_is_reported_at_once():
    errors = errors_of(
        TemplateInputFactory(
            total_quantity=0,
            per_user_limit=-1,
            product_line="x",
            target={"type": "TAGS", "tags": []},
            value={"amount": "-1"},
            usage_rules=[{"rule_type": "NOPE", "params": {}}],
        )
    )

    assert {"total_quantity", "per_user_limit", "product_line", "target", "value", "usage_rules"} <= set(errors)


def test_engine_problems_are_rendered_as_sentences_not_codes():
    errors = errors_of(TemplateInputFactory(value={"amount": "-5.00"}))

    assert errors["value"]
    assert all("NOT_POSITIVE" not in message for message in errors["value"])


def test_a_valid_template_is_normalised():
    cleaned = clean_template_fields(
        TemplateInputFactory(
            value={"amount": "10"},
            usage_rules=[{"rule_type": "MINIMUM_SPEND", "params": {"amount": 100}}],
            target={"type": "MEMBER_LEVELS", "levels": ["VIP", "GOLD", "VIP"]},
            product_line=None,
            valid_from=T0,
            valid_until=T0 + DAY,
        )
    )

    assert cleaned["value"] == {"amount": "10.00"}
    assert cleaned["usage_rules"] == [{"rule_type": "MINIMUM_SPEND", "params": {"amount": "100.00"}}]
    assert cleaned["target"] == {"type": "MEMBER_LEVELS", "levels": ["GOLD", "VIP"]}
    assert cleaned["product_line"] == "01"
    # RELATIVE_DAYS keeps its days and drops fixed dates that do not apply to it
    assert (cleaned["valid_days_after_issue"], cleaned["valid_from"], cleaned["valid_until"]) == (7, None, None)


@pytest.mark.parametrize("target", [None, {}, ""])
def test_no_target_means_everybody(target):
    assert clean_template_fields(TemplateInputFactory(target=target))["target"] == {"type": "ALL"}


@pytest.mark.parametrize(
    "target",
    [
        {"type": "ALL"},
        {"type": "NEW_USER", "days": 7},
        {"type": "TAGS", "tags": ["老客"]},
        {"type": "USER_TYPE", "user_type": "B"},
    ],
)
def test_every_target_shape_is_accepted(target):
    assert clean_template_fields(TemplateInputFactory(target=target))["target"] == target


def test_fixed_date_drops_the_days():
    cleaned = clean_template_fields(
        TemplateInputFactory(validity_type="FIXED_DATE", valid_from=T0, valid_until=T0 + 30 * DAY)
    )

    assert (cleaned["valid_from"], cleaned["valid_until"], cleaned["valid_days_after_issue"]) == (
        T0,
        T0 + 30 * DAY,
        None,
    )


def test_fixed_date_must_outlast_the_claim_window():
    errors = errors_of(
        TemplateInputFactory(
            validity_type="FIXED_DATE",
            valid_from=T0,
            valid_until=T0 + 5 * DAY,
            issue_start_time=T0,
            issue_end_time=T0 + 10 * DAY,
        )
    )

    assert "valid_until" in errors


def test_claim_day_needs_no_dates():
    cleaned = clean_template_fields(
        TemplateInputFactory(validity_type="CLAIM_DAY", valid_days_after_issue=9, valid_from=T0)
    )

    assert (cleaned["valid_from"], cleaned["valid_until"], cleaned["valid_days_after_issue"]) == (None, None, None)


def test_an_open_claim_window_on_either_side_is_fine():
    cleaned = clean_template_fields(TemplateInputFactory(issue_start_time=T0, issue_end_time=None))

    assert (cleaned["issue_start_time"], cleaned["issue_end_time"]) == (T0, None)


@pytest.mark.parametrize(("total", "per_user"), [(-1, 0), (1, 1_000), (100_000_000, 1)])
def test_quantity_bounds_are_inclusive(total, per_user):
    cleaned = clean_template_fields(TemplateInputFactory(total_quantity=total, per_user_limit=per_user))

    assert (cleaned["total_quantity"], cleaned["per_user_limit"]) == (total, per_user)


@pytest.mark.parametrize("days", [1, 3650])
def test_relative_days_bounds_are_inclusive(days):
    assert clean_template_fields(TemplateInputFactory(valid_days_after_issue=days))["valid_days_after_issue"] == days


def test_skus_and_category_codes_on_the_menu_are_accepted():
    CategoryFactory(code="cat-roast-duck")
    ProductFactory(sku="d-101", category__code="cat-roast-duck")

    cleaned = clean_template_fields(
        TemplateInputFactory(
            usage_rules=[
                {
                    "rule_type": "ITEM_ELIGIBILITY",
                    "params": {"item_ids": ["d-101"], "category_ids": ["cat-roast-duck"]},
                },
                {"rule_type": "MINIMUM_SPEND", "params": {"amount": "100.00"}},
            ]
        )
    )

    assert [rule["rule_type"] for rule in cleaned["usage_rules"]] == ["ITEM_ELIGIBILITY", "MINIMUM_SPEND"]


def test_unknown_skus_and_codes_are_named_in_the_message():
    errors = errors_of(
        TemplateInputFactory(
            usage_rules=[
                {"rule_type": "ITEM_DISCOUNT_SCOPE", "params": {"item_ids": ["d-777"], "category_ids": ["cat-x"]}}
            ]
        )
    )

    text = " ".join(errors["usage_rules"])
    assert "d-777" in text and "cat-x" in text


def test_a_free_item_rule_is_accepted_on_a_free_item():
    ProductFactory(sku="d-901")

    cleaned = clean_template_fields(
        TemplateInputFactory(
            type="FREE_ITEM",
            value={"gift_item_id": "d-901"},
            usage_rules=[{"rule_type": "SPEND_FOR_GIFT", "params": {"amount": "50"}}],
        )
    )

    assert cleaned["value"] == {"gift_item_id": "d-901", "quantity": 1}
    assert cleaned["usage_rules"] == [{"rule_type": "SPEND_FOR_GIFT", "params": {"amount": "50.00"}}]


def test_the_claim_window_is_compared_as_instants():
    # 10:00 in Shanghai is 02:00 UTC: an end at 03:00 UTC is after the start, whatever the zones say
    start = T0
    end = (T0 + timedelta(hours=1)).astimezone(UTC)

    assert (
        clean_template_fields(TemplateInputFactory(issue_start_time=start, issue_end_time=end))["issue_end_time"] == end
    )


# dishes and categories that must be on sale -------------------------------------------------------------


@pytest.mark.parametrize(
    ("dish", "category"), [({"is_active": False}, {}), ({}, {"is_active": False})], ids=["dish", "category"]
)
def test_a_gift_off_sale_is_refused_by_name(dish, category):
    # given: the gift dish, or its category, is inactive (checkout would refuse it as GIFT_UNAVAILABLE)
    ProductFactory(sku="d-901", category=CategoryFactory(code="cat-drinks", **category), **dish)

    errors = errors_of(TemplateInputFactory(type="FREE_ITEM", value={"gift_item_id": "d-901"}, usage_rules=[]))

    assert errors["value"] == ["The gift dish d-901 is not on sale: it or its category is inactive."]


def test_a_gift_from_another_dish_on_sale_is_accepted_beside_inactive_ones():
    drinks = CategoryFactory(code="cat-drinks")
    ProductFactory(sku="d-901", category=drinks, is_active=False)
    ProductFactory(sku="d-902", category=drinks)

    cleaned = clean_template_fields(
        TemplateInputFactory(type="FREE_ITEM", value={"gift_item_id": "d-902"}, usage_rules=[])
    )

    assert cleaned["value"] == {"gift_item_id": "d-902", "quantity": 1}


def held(rule_type: str, **params) -> dict:
    return {"rule_type": rule_type, "params": params}


@pytest.fixture
def half_closed_menu(db):
    duck = CategoryFactory(code="cat-roast-duck")
    closed = CategoryFactory(code="cat-closed", is_active=False)
    ProductFactory(sku="d-101", category=duck)
    ProductFactory(sku="d-199", category=duck, is_active=False)
    ProductFactory(sku="d-555", category=closed)
    ProductFactory(sku="d-901", category=duck)


@pytest.mark.parametrize(
    ("coupon", "rule", "named"),
    [
        (
            {},
            held("ITEM_ELIGIBILITY", item_ids=["d-199", "d-555"], category_ids=["cat-closed"]),
            "cat-closed, d-199, d-555",
        ),
        ({}, held("ITEM_ELIGIBILITY", item_ids=["d-101", "d-199"], logic="ALL"), "d-199"),
        ({}, held("ITEM_DISCOUNT_SCOPE", item_ids=["d-199"]), "d-199"),
        (
            {"type": "FREE_ITEM", "value": {"gift_item_id": "d-901"}},
            held("CONDITIONAL_GIFT_ITEM", required_category_ids=["cat-closed"]),
            "cat-closed",
        ),
    ],
    ids=["eligibility_any", "eligibility_all", "discount_scope", "conditional_gift"],
)
def test_a_rule_the_order_could_never_meet_names_what_is_off_sale(half_closed_menu, coupon, rule, named):
    errors = errors_of(TemplateInputFactory(**coupon, usage_rules=[rule]))

    assert errors["usage_rules"] == [
        f"These dishes or categories are not on sale (inactive), so the coupon could never be used: {named}"
    ]


@pytest.mark.parametrize(
    "rule",
    [
        held("ITEM_ELIGIBILITY", item_ids=["d-101", "d-199"], category_ids=["cat-closed"]),
        held("ITEM_DISCOUNT_SCOPE", item_ids=["d-199"], category_ids=["cat-roast-duck"]),
        held("EXCLUDE_ITEMS", item_ids=["d-199", "d-555"], category_ids=["cat-closed"]),
    ],
    ids=["eligibility_any_with_one_on_sale", "scope_with_one_on_sale", "exclusions"],
)
def test_a_rule_still_met_by_what_is_on_sale_is_accepted(half_closed_menu, rule):
    cleaned = clean_template_fields(TemplateInputFactory(usage_rules=[rule]))

    assert [r["rule_type"] for r in cleaned["usage_rules"]] == [rule["rule_type"]]
