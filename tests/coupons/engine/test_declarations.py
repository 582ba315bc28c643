"""Every coupon type and rule declares its params once, and the engine reads through that declaration."""

from decimal import Decimal

import pytest

from coupons.engine import KINDS, RULES, Param, ParamKind
from coupons.engine.definition import DefinitionError, read_definition
from coupons.engine.params import ParamError, Params

SAMPLES = {
    "MINIMUM_SPEND": {"amount": "100"},
    "ITEM_ELIGIBILITY": {"item_ids": ["d-1"], "category_ids": [], "logic": "ALL"},
    "ITEM_DISCOUNT_SCOPE": {"category_ids": ["cat-1"]},
    "EXCLUDE_ITEMS": {"item_ids": ["d-2"]},
    "CONDITIONAL_GIFT_ITEM": {"required_category_ids": ["cat-2"]},
    "SPEND_FOR_GIFT": {"amount": 50},
    "STACKABILITY": {"allow_stacking": True, "exclude_coupon_types": ["FREE_ITEM"]},
    "VALID_TIME_SLOTS": {"slots": [{"start": "22:00", "end": "02:00"}]},
    "VALID_DAYS_OF_WEEK": {"days": [6, 7]},
    "CHANNELS": {"channels": ["APP"]},
}


@pytest.mark.parametrize("rule_type", sorted(RULES))
def test_each_rule_declares_every_key_it_stores_with_a_label(rule_type):
    rule_class = RULES[rule_type]

    rule = rule_class.parse(SAMPLES[rule_type])

    declared = {param.name for param in rule_class.params}
    assert set(rule.to_params()) <= declared
    assert rule_class.keys() == tuple(param.name for param in rule_class.params)
    assert rule_class.label and all(param.label for param in rule_class.params)
    assert rule_class.summary_for(rule.to_params())


@pytest.mark.parametrize("coupon_type", sorted(KINDS))
def test_each_type_declares_its_value(coupon_type):
    kind = KINDS[coupon_type]

    assert kind.label and kind.params and all(param.label for param in kind.params)
    assert kind.keys() == tuple(param.name for param in kind.params)


def test_a_declared_bound_is_what_the_reader_enforces():
    quantity = Param("quantity", ParamKind.INTEGER, "Quantity", required=False, minimum=1, maximum=99, default=1)

    assert Params({}, ["quantity"]).read(quantity) == 1
    assert Params({"quantity": 99}, ["quantity"]).read(quantity) == 99
    too_many = Params({"quantity": 100}, ["quantity"])
    too_many.read(quantity)
    with pytest.raises(ParamError) as error:
        too_many.done()
    assert [(issue.code, issue.params) for issue in error.value.issues] == [
        ("OUT_OF_RANGE", {"key": "quantity", "min": 1, "max": 99})
    ]


def test_a_percentage_off_is_bounded_by_its_declaration():
    assert read_definition("PERCENTAGE_DISCOUNT", {"percentage": "12.5"}, []).kind.percentage == Decimal("12.5")
    with pytest.raises(DefinitionError) as error:
        read_definition("PERCENTAGE_DISCOUNT", {"percentage": 101}, [])
    assert [(p.code, p.params["key"]) for p in error.value.problems] == [("TOO_LARGE", "percentage")]


def test_one_of_is_declared_on_the_selection_rules():
    with pytest.raises(DefinitionError) as error:
        read_definition("CASH_VOUCHER", {"amount": "5"}, [{"rule_type": "EXCLUDE_ITEMS", "params": {}}])

    assert [p.code for p in error.value.problems] == ["NO_ITEMS"]
    assert error.value.problems[0].params["keys"] == ["item_ids", "category_ids"]
