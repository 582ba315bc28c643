"""Template definitions: what is accepted (and how it is normalised) and every refusal."""

from __future__ import annotations

import math
from typing import Any

import pytest

from coupons.engine import DefinitionError, ProblemCode, validate_definition
from tests.coupons.engine.builders import alone, rule, stacks

# The seed 003 templates, as staff would type them.
SEED_TEMPLATES = [
    ("CASH_VOUCHER", {"amount": 10}, [rule("MINIMUM_SPEND", amount=68), alone()]),
    (
        "CASH_VOUCHER",
        {"amount": 20},
        [
            rule("MINIMUM_SPEND", amount=100),
            rule("ITEM_ELIGIBILITY", category_ids=["cat-roast-duck"], logic="ANY"),
            rule("ITEM_DISCOUNT_SCOPE", category_ids=["cat-roast-duck"]),
            alone(),
        ],
    ),
    (
        "FREE_ITEM",
        {"gift_item_id": "d-901"},
        [rule("CONDITIONAL_GIFT_ITEM", required_category_ids=["cat-main-course"])],
    ),
    ("PERCENTAGE_DISCOUNT", {"percentage": 12, "max_off": 20}, [stacks("CASH_VOUCHER")]),
    ("PERCENTAGE_DISCOUNT", {"max_off": 20, "percentage": 15}, []),
    ("CASH_VOUCHER", {"amount": "15"}, [rule("VALID_TIME_SLOTS", slots=[{"start": "11:00", "end": "14:00"}])]),
    ("CASH_VOUCHER", {"amount": "15.00"}, [rule("VALID_DAYS_OF_WEEK", days=[6, 7])]),
    ("RANDOM_CASH", {"min_amount": "1.00", "max_amount": "8.88"}, [rule("CHANNELS", channels=["APP", "WEB"])]),
    ("FREE_ITEM", {"gift_item_id": "d-901", "quantity": 2}, [rule("SPEND_FOR_GIFT", amount="200")]),
    ("CASH_VOUCHER", {"amount": 5}, [rule("EXCLUDE_ITEMS", item_ids=["d-205"])]),
]


@pytest.mark.parametrize(("coupon_type", "value", "rules"), SEED_TEMPLATES)
def test_seed_templates_are_accepted_and_normalising_is_stable(coupon_type: str, value: Any, rules: Any) -> None:
    # when
    clean = validate_definition(coupon_type, value, rules)

    # then: saving the normalised form again changes nothing
    assert validate_definition(coupon_type, clean.value, clean.usage_rules) == clean
    assert [item["rule_type"] for item in clean.usage_rules] == [item["rule_type"] for item in rules]


def test_money_is_normalised_to_two_place_strings_and_lists_are_filled_in() -> None:
    clean = validate_definition(
        "CASH_VOUCHER",
        {"amount": 10},
        [rule("MINIMUM_SPEND", amount=68), alone(), rule("ITEM_ELIGIBILITY", item_ids=["d-101"])],
    )

    assert clean.value == {"amount": "10.00"}
    assert clean.usage_rules == [
        {"rule_type": "MINIMUM_SPEND", "params": {"amount": "68.00"}},
        {"rule_type": "STACKABILITY", "params": {"allow_stacking": False, "exclude_coupon_types": []}},
        {"rule_type": "ITEM_ELIGIBILITY", "params": {"item_ids": ["d-101"], "category_ids": [], "logic": "ANY"}},
    ]


@pytest.mark.parametrize(
    ("raw", "stored"),
    [(10, "10.00"), ("10", "10.00"), ("10.5", "10.50"), (10.5, "10.50"), ("0.01", "0.01"), ("100000.00", "100000.00")],
)
def test_money_may_arrive_as_an_int_a_string_or_a_float_literal(raw: Any, stored: str) -> None:
    assert validate_definition("CASH_VOUCHER", {"amount": raw}, []).value == {"amount": stored}


def test_percentage_keeps_the_spec_shape() -> None:
    assert validate_definition("PERCENTAGE_DISCOUNT", {"percentage": "12"}, []).value == {"percentage": 12}
    assert validate_definition("PERCENTAGE_DISCOUNT", {"percentage": 12.5, "max_off": "20"}, []).value == {
        "percentage": "12.5",
        "max_off": "20.00",
    }


def test_free_item_quantity_defaults_to_one() -> None:
    assert validate_definition("FREE_ITEM", {"gift_item_id": "d-901"}, []).value == {
        "gift_item_id": "d-901",
        "quantity": 1,
    }


def test_slots_may_wrap_midnight() -> None:
    clean = validate_definition(
        "CASH_VOUCHER", {"amount": 5}, [rule("VALID_TIME_SLOTS", slots=[{"start": "22:00", "end": "02:00"}])]
    )
    assert clean.usage_rules[0]["params"] == {"slots": [{"start": "22:00", "end": "02:00"}]}


def test_slots_that_meet_but_do_not_overlap_are_accepted() -> None:
    slots = [{"start": "11:00", "end": "14:00"}, {"start": "14:00", "end": "17:00"}, {"start": "22:00", "end": "11:00"}]

    clean = validate_definition("CASH_VOUCHER", {"amount": 5}, [rule("VALID_TIME_SLOTS", slots=slots)])

    assert clean.usage_rules[0]["params"] == {"slots": slots}


CASH = "CASH_VOUCHER"
PCT = "PERCENTAGE_DISCOUNT"
RANDOM = "RANDOM_CASH"
GIFT = "FREE_ITEM"
GIFT_VALUE = {"gift_item_id": "d-901", "quantity": 1}
R = ProblemCode

# (coupon type, value, usage rules, expected field, expected code, expected params subset)
REFUSALS: list[tuple[str, Any, Any, str, str, dict[str, Any]]] = [
    # the type and the value's shape
    ("COUPON", {"amount": 5}, [], "type", R.UNKNOWN_TYPE, {"type": "COUPON"}),
    (CASH, [5], [], "value", R.NOT_AN_OBJECT, {}),
    (CASH, {}, [], "value", R.REQUIRED, {"key": "amount"}),
    (CASH, {"amount": 5, "currency": "CNY"}, [], "value", R.UNKNOWN_KEY, {"key": "currency"}),
    (CASH, {"amount": 0}, [], "value", R.NOT_POSITIVE, {"key": "amount"}),
    (CASH, {"amount": "-5"}, [], "value", R.NOT_POSITIVE, {"key": "amount"}),
    (CASH, {"amount": "ten"}, [], "value", R.INVALID_NUMBER, {"key": "amount"}),
    (CASH, {"amount": " 5"}, [], "value", R.INVALID_NUMBER, {"key": "amount"}),
    (CASH, {"amount": math.nan}, [], "value", R.INVALID_NUMBER, {"key": "amount"}),
    (CASH, {"amount": True}, [], "value", R.BOOLEAN_NOT_ALLOWED, {"key": "amount"}),
    (CASH, {"amount": "10.001"}, [], "value", R.TOO_MANY_DECIMALS, {"key": "amount", "max_places": 2}),
    (CASH, {"amount": 0.1 + 0.2}, [], "value", R.TOO_MANY_DECIMALS, {"key": "amount"}),
    (CASH, {"amount": "100000.01"}, [], "value", R.TOO_LARGE, {"key": "amount", "max": "100000.00"}),
    (CASH, {"amount": 1e300}, [], "value", R.TOO_LARGE, {"key": "amount"}),
    (PCT, {"percentage": 0}, [], "value", R.NOT_POSITIVE, {"key": "percentage"}),
    (PCT, {"percentage": "100.01"}, [], "value", R.TOO_LARGE, {"key": "percentage", "max": "100"}),
    (PCT, {"percentage": "12.345"}, [], "value", R.TOO_MANY_DECIMALS, {"key": "percentage"}),
    (PCT, {"percentage": False}, [], "value", R.BOOLEAN_NOT_ALLOWED, {"key": "percentage"}),
    (PCT, {"percentage": 12, "max_off": 0}, [], "value", R.NOT_POSITIVE, {"key": "max_off"}),
    (PCT, {"max_off": 20}, [], "value", R.REQUIRED, {"key": "percentage"}),
    (RANDOM, {"min_amount": "9.00", "max_amount": "8.88"}, [], "value", R.MIN_ABOVE_MAX, {"min_key": "min_amount"}),
    (RANDOM, {"min_amount": 0, "max_amount": 5}, [], "value", R.NOT_POSITIVE, {"key": "min_amount"}),
    (RANDOM, {"min_amount": 1}, [], "value", R.REQUIRED, {"key": "max_amount"}),
    (GIFT, {"gift_item_id": ""}, [], "value", R.EMPTY_STRING, {"key": "gift_item_id"}),
    (GIFT, {"gift_item_id": 901}, [], "value", R.NOT_A_STRING, {"key": "gift_item_id"}),
    (GIFT, {"gift_item_id": "d-901", "quantity": 0}, [], "value", R.OUT_OF_RANGE, {"min": 1, "max": 99}),
    (GIFT, {"gift_item_id": "d-901", "quantity": 100}, [], "value", R.OUT_OF_RANGE, {"key": "quantity"}),
    (GIFT, {"gift_item_id": "d-901", "quantity": 1.5}, [], "value", R.NOT_AN_INTEGER, {"key": "quantity"}),
    (GIFT, {"gift_item_id": "d-901", "quantity": "2"}, [], "value", R.NOT_AN_INTEGER, {"key": "quantity"}),
    (GIFT, {"gift_item_id": "d-901", "quantity": True}, [], "value", R.BOOLEAN_NOT_ALLOWED, {"key": "quantity"}),
    (GIFT, {"gift_item_id": "d-901", "gift_item_name": "酸梅汤"}, [], "value", R.UNKNOWN_KEY, {}),
    # the rule list and its items
    (CASH, {"amount": 5}, {"rule_type": "CHANNELS"}, "usage_rules", R.NOT_A_LIST, {}),
    (CASH, {"amount": 5}, None, "usage_rules", R.NOT_A_LIST, {}),
    (CASH, {"amount": 5}, ["MINIMUM_SPEND"], "usage_rules", R.NOT_AN_OBJECT, {"index": 0}),
    (CASH, {"amount": 5}, [{"params": {}}], "usage_rules", R.REQUIRED, {"index": 0, "key": "rule_type"}),
    (CASH, {"amount": 5}, [rule("MIN_SPEND", amount=5)], "usage_rules", R.UNKNOWN_RULE, {"rule_type": "MIN_SPEND"}),
    (CASH, {"amount": 5}, [{"rule_type": 3, "params": {}}], "usage_rules", R.UNKNOWN_RULE, {"rule_type": "3"}),
    (
        CASH,
        {"amount": 5},
        [{"rule_type": "MINIMUM_SPEND", "params": {"amount": 5}, "note": "x"}],
        "usage_rules",
        R.UNKNOWN_KEY,
        {"index": 0, "key": "note"},
    ),
    (CASH, {"amount": 5}, [{"rule_type": "MINIMUM_SPEND"}], "usage_rules", R.REQUIRED, {"key": "params"}),
    (CASH, {"amount": 5}, [{"rule_type": "CHANNELS", "params": ["APP"]}], "usage_rules", R.NOT_AN_OBJECT, {}),
    # a rule twice, a rule on the wrong type
    (
        CASH,
        {"amount": 5},
        [alone(), rule("MINIMUM_SPEND", amount=5), stacks()],
        "usage_rules",
        R.DUPLICATE_RULE,
        {"index": 2, "rule_type": "STACKABILITY", "first_index": 0},
    ),
    (
        CASH,
        {"amount": 5},
        [rule("CONDITIONAL_GIFT_ITEM", required_item_ids=["d-1"])],
        "usage_rules",
        R.RULE_NOT_ALLOWED,
        {"rule_type": "CONDITIONAL_GIFT_ITEM", "coupon_type": CASH},
    ),
    (PCT, {"percentage": 5}, [rule("SPEND_FOR_GIFT", amount=50)], "usage_rules", R.RULE_NOT_ALLOWED, {}),
    (GIFT, GIFT_VALUE, [rule("ITEM_DISCOUNT_SCOPE", item_ids=["d-1"])], "usage_rules", R.RULE_NOT_ALLOWED, {}),
    # params: money
    (CASH, {"amount": 5}, [rule("MINIMUM_SPEND")], "usage_rules", R.REQUIRED, {"key": "amount"}),
    (CASH, {"amount": 5}, [rule("MINIMUM_SPEND", amount="68.001")], "usage_rules", R.TOO_MANY_DECIMALS, {}),
    (CASH, {"amount": 5}, [rule("MINIMUM_SPEND", amount=True)], "usage_rules", R.BOOLEAN_NOT_ALLOWED, {}),
    (CASH, {"amount": 5}, [rule("MINIMUM_SPEND", amount=500000)], "usage_rules", R.TOO_LARGE, {}),
    (CASH, {"amount": 5}, [rule("MINIMUM_SPEND", amount=5, currency="CNY")], "usage_rules", R.UNKNOWN_KEY, {}),
    (GIFT, GIFT_VALUE, [rule("SPEND_FOR_GIFT", amount=-1)], "usage_rules", R.NOT_POSITIVE, {"key": "amount"}),
    # params: item lists
    (CASH, {"amount": 5}, [rule("ITEM_DISCOUNT_SCOPE", item_ids="d-1")], "usage_rules", R.NOT_A_LIST, {}),
    (CASH, {"amount": 5}, [rule("ITEM_DISCOUNT_SCOPE", item_ids=[101])], "usage_rules", R.NOT_A_STRING, {}),
    (CASH, {"amount": 5}, [rule("ITEM_DISCOUNT_SCOPE", item_ids=[""])], "usage_rules", R.EMPTY_STRING, {}),
    (
        CASH,
        {"amount": 5},
        [rule("EXCLUDE_ITEMS", item_ids=["d-1", "d-1"])],
        "usage_rules",
        R.DUPLICATE_VALUE,
        {"key": "item_ids", "value": "d-1"},
    ),
    (CASH, {"amount": 5}, [rule("ITEM_DISCOUNT_SCOPE", item_ids=[], category_ids=[])], "usage_rules", R.NO_ITEMS, {}),
    (CASH, {"amount": 5}, [rule("EXCLUDE_ITEMS")], "usage_rules", R.NO_ITEMS, {}),
    (CASH, {"amount": 5}, [rule("ITEM_ELIGIBILITY", item_ids=[])], "usage_rules", R.NO_ITEMS, {}),
    (GIFT, GIFT_VALUE, [rule("CONDITIONAL_GIFT_ITEM", required_item_ids=[])], "usage_rules", R.NO_ITEMS, {}),
    (
        CASH,
        {"amount": 5},
        [rule("ITEM_ELIGIBILITY", item_ids=["d-1"], logic="SOME")],
        "usage_rules",
        R.INVALID_CHOICE,
        {"key": "logic", "value": "SOME"},
    ),
    # params: channels, days, slots, stacking
    (CASH, {"amount": 5}, [rule("CHANNELS", channels=[])], "usage_rules", R.EMPTY_LIST, {"key": "channels"}),
    (CASH, {"amount": 5}, [rule("CHANNELS")], "usage_rules", R.REQUIRED, {"key": "channels"}),
    (CASH, {"amount": 5}, [rule("CHANNELS", channels=["TV"])], "usage_rules", R.INVALID_CHOICE, {"value": "TV"}),
    (CASH, {"amount": 5}, [rule("CHANNELS", channels=["app"])], "usage_rules", R.INVALID_CHOICE, {}),
    (CASH, {"amount": 5}, [rule("VALID_DAYS_OF_WEEK", days=[])], "usage_rules", R.EMPTY_LIST, {}),
    (CASH, {"amount": 5}, [rule("VALID_DAYS_OF_WEEK", days=[0])], "usage_rules", R.OUT_OF_RANGE, {"min": 1}),
    (CASH, {"amount": 5}, [rule("VALID_DAYS_OF_WEEK", days=[8])], "usage_rules", R.OUT_OF_RANGE, {"key": "days[0]"}),
    (CASH, {"amount": 5}, [rule("VALID_DAYS_OF_WEEK", days=["6"])], "usage_rules", R.NOT_AN_INTEGER, {}),
    (CASH, {"amount": 5}, [rule("VALID_DAYS_OF_WEEK", days=[True])], "usage_rules", R.BOOLEAN_NOT_ALLOWED, {}),
    (CASH, {"amount": 5}, [rule("VALID_DAYS_OF_WEEK", days=[6, 6])], "usage_rules", R.DUPLICATE_VALUE, {}),
    (CASH, {"amount": 5}, [rule("VALID_TIME_SLOTS", slots=[])], "usage_rules", R.EMPTY_LIST, {"key": "slots"}),
    (
        CASH,
        {"amount": 5},
        [rule("VALID_TIME_SLOTS", slots=[{"start": "24:00", "end": "14:00"}])],
        "usage_rules",
        R.INVALID_TIME,
        {"key": "slots[0].start", "value": "24:00"},
    ),
    (
        CASH,
        {"amount": 5},
        [rule("VALID_TIME_SLOTS", slots=[{"start": "11:00", "end": "9:00"}])],
        "usage_rules",
        R.INVALID_TIME,
        {"key": "slots[0].end"},
    ),
    (
        CASH,
        {"amount": 5},
        [rule("VALID_TIME_SLOTS", slots=[{"start": "11:00", "end": "11:60"}])],
        "usage_rules",
        R.INVALID_TIME,
        {},
    ),
    (
        CASH,
        {"amount": 5},
        [rule("VALID_TIME_SLOTS", slots=[{"start": "11:00", "end": "14:00"}, {"start": "17:00", "end": "17:00"}])],
        "usage_rules",
        R.EMPTY_SLOT,
        {"key": "slots[1]"},
    ),
    (
        CASH,
        {"amount": 5},
        [rule("VALID_TIME_SLOTS", slots=[{"start": "11:00", "end": "14:00"}, {"start": "11:00", "end": "14:00"}])],
        "usage_rules",
        R.OVERLAPPING_SLOTS,
        {"key": "slots", "first": "11:00-14:00", "second": "11:00-14:00"},
    ),
    (
        CASH,
        {"amount": 5},
        [rule("VALID_TIME_SLOTS", slots=[{"start": "11:00", "end": "14:00"}, {"start": "12:00", "end": "13:00"}])],
        "usage_rules",
        R.OVERLAPPING_SLOTS,
        {"key": "slots", "first": "11:00-14:00", "second": "12:00-13:00"},
    ),
    (
        CASH,
        {"amount": 5},
        [rule("VALID_TIME_SLOTS", slots=[{"start": "22:00", "end": "02:00"}, {"start": "01:00", "end": "03:00"}])],
        "usage_rules",
        R.OVERLAPPING_SLOTS,
        {"key": "slots", "first": "22:00-02:00", "second": "01:00-03:00"},
    ),
    (
        CASH,
        {"amount": 5},
        [rule("VALID_TIME_SLOTS", slots=[{"start": "11:00"}])],
        "usage_rules",
        R.REQUIRED,
        {"key": "slots[0].end"},
    ),
    (CASH, {"amount": 5}, [rule("VALID_TIME_SLOTS", slots=["11:00-14:00"])], "usage_rules", R.NOT_AN_OBJECT, {}),
    (
        CASH,
        {"amount": 5},
        [rule("VALID_TIME_SLOTS", slots=[{"start": "11:00", "end": "14:00", "days": [1]}])],
        "usage_rules",
        R.UNKNOWN_KEY,
        {"key": "slots[0].days"},
    ),
    (CASH, {"amount": 5}, [rule("STACKABILITY", allow_stacking="yes")], "usage_rules", R.NOT_A_BOOLEAN, {}),
    (CASH, {"amount": 5}, [rule("STACKABILITY", allow_stacking=1)], "usage_rules", R.NOT_A_BOOLEAN, {}),
    (CASH, {"amount": 5}, [rule("STACKABILITY")], "usage_rules", R.REQUIRED, {"key": "allow_stacking"}),
    (
        CASH,
        {"amount": 5},
        [rule("STACKABILITY", allow_stacking=True, exclude_coupon_types=["GOLD"])],
        "usage_rules",
        R.INVALID_CHOICE,
        {"key": "exclude_coupon_types[0]"},
    ),
]


@pytest.mark.parametrize(
    ("coupon_type", "value", "rules", "field", "code", "params"),
    REFUSALS,
    ids=[f"{row[4]}-{n}" for n, row in enumerate(REFUSALS)],
)
def test_each_refusal_names_its_field_and_code(
    coupon_type: str, value: Any, rules: Any, field: str, code: str, params: dict[str, Any]
) -> None:
    with pytest.raises(DefinitionError) as caught:
        validate_definition(coupon_type, value, rules)

    matching = [p for p in caught.value.problems if p.field == field and p.code == code]
    assert matching, caught.value.problems
    assert any(params.items() <= dict(p.params).items() for p in matching), matching
    if field == "usage_rules" and code != R.NOT_A_LIST:
        assert all("index" in p.params for p in matching)


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(DefinitionError) as caught:
        validate_definition(
            "CASH_VOUCHER",
            {"amount": "-1"},
            [rule("CHANNELS", channels=["TV"]), rule("NOPE"), rule("VALID_DAYS_OF_WEEK", days=[9])],
        )

    assert [(p.field, p.code, p.params.get("index")) for p in caught.value.problems] == [
        ("value", R.NOT_POSITIVE, None),
        ("usage_rules", R.INVALID_CHOICE, 0),
        ("usage_rules", R.UNKNOWN_RULE, 1),
        ("usage_rules", R.OUT_OF_RANGE, 2),
    ]


def test_every_registered_rule_validates_and_round_trips() -> None:
    from coupons.engine import RULES

    examples = {
        "MINIMUM_SPEND": {"amount": "68.00"},
        "ITEM_ELIGIBILITY": {"item_ids": ["d-1"], "category_ids": ["c-1"], "logic": "ALL"},
        "ITEM_DISCOUNT_SCOPE": {"item_ids": [], "category_ids": ["c-1"]},
        "EXCLUDE_ITEMS": {"item_ids": ["d-2"], "category_ids": []},
        "CONDITIONAL_GIFT_ITEM": {"required_item_ids": ["d-1"], "required_category_ids": []},
        "SPEND_FOR_GIFT": {"amount": "200.00"},
        "STACKABILITY": {"allow_stacking": True, "exclude_coupon_types": ["PERCENTAGE_DISCOUNT"]},
        "VALID_TIME_SLOTS": {"slots": [{"start": "11:00", "end": "14:00"}]},
        "VALID_DAYS_OF_WEEK": {"days": [6, 7]},
        "CHANNELS": {"channels": ["APP", "MINI_PROGRAM", "WEB", "POS"]},
    }
    assert set(RULES) == set(examples)
    for rule_type, params in examples.items():
        rule_class = RULES[rule_type]
        assert rule_class.parse(params).to_params() == params
        coupon_type = "FREE_ITEM" if "FREE_ITEM" in rule_class.coupon_types else "CASH_VOUCHER"
        value = GIFT_VALUE if coupon_type == "FREE_ITEM" else {"amount": "5.00"}
        clean = validate_definition(coupon_type, value, [{"rule_type": rule_type, "params": params}])
        assert clean.usage_rules == [{"rule_type": rule_type, "params": params}]
