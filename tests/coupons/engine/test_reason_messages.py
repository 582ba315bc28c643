"""Reason and problem codes rendered in English and in Chinese (needs Django's translation machinery)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils.translation import override

from coupons.engine import (
    RULES,
    Coupon,
    DefinitionError,
    ProblemCode,
    Reason,
    ReasonCode,
    apply_coupons,
    evaluate,
    validate_definition,
)
from coupons.reasons import reason_dict, render_problem, render_reason
from tests.coupons.engine.builders import NOON_SATURDAY, alone, cart, cash, ctx, gift, line, percent, rule, stacks

UTC = ZoneInfo("UTC")
DUCK = line("d-101", "cat-roast-duck", "48.00")


def alone_reason(coupon: Coupon, items: list[object] | None = None, **context: object) -> Reason:
    (evaluation,) = evaluate(cart(*(items or [DUCK])), [coupon], ctx(**context))  # type: ignore[arg-type]
    (reason,) = evaluation.reasons
    return reason


def choice_reason(coupons: list[Coupon], coupon_id: int) -> Reason:
    application = apply_coupons(cart(DUCK), coupons, ctx())
    (reason,) = application.refused[coupon_id]
    return reason


SCENARIOS: list[tuple[str, Callable[[], Reason], str, str]] = [
    (
        "MINIMUM_SPEND",
        lambda: alone_reason(cash(1, 10, rule("MINIMUM_SPEND", amount=68))),
        "Spend 20.00 more to use this coupon",
        "还差 20.00 元可用",
    ),
    (
        "SPEND_FOR_GIFT",
        lambda: alone_reason(gift(1, rule("SPEND_FOR_GIFT", amount=100))),
        "Spend 52.00 more to get this gift",
        "还差 52.00 元可得赠品",
    ),
    (
        "ITEM_ELIGIBILITY",
        lambda: alone_reason(cash(1, 5, rule("ITEM_ELIGIBILITY", category_ids=["cat-cold"]))),
        "Add one of the qualifying dishes to use this coupon",
        "需购买指定菜品才可使用",
    ),
    (
        "ITEM_ELIGIBILITY",
        lambda: alone_reason(cash(1, 5, rule("ITEM_ELIGIBILITY", item_ids=["d-101", "d-102"], logic="ALL"))),
        "Add all of the required dishes to use this coupon",
        "需购买全部指定菜品才可使用",
    ),
    (
        "ITEM_DISCOUNT_SCOPE",
        lambda: alone_reason(cash(1, 5, rule("ITEM_DISCOUNT_SCOPE", category_ids=["cat-cold"]))),
        "None of the dishes in this order are covered by this coupon",
        "订单中没有适用此券的菜品",
    ),
    (
        "EXCLUDE_ITEMS",
        lambda: alone_reason(cash(1, 5, rule("EXCLUDE_ITEMS", category_ids=["cat-roast-duck"]))),
        "Every dish in this order is excluded from this coupon",
        "订单中的菜品均不参与此券优惠",
    ),
    (
        "CONDITIONAL_GIFT_ITEM",
        lambda: alone_reason(gift(1, rule("CONDITIONAL_GIFT_ITEM", required_category_ids=["cat-main-course"]))),
        "Order one of the qualifying dishes to get this gift",
        "购买指定菜品才可获得赠品",
    ),
    (
        "VALID_TIME_SLOTS",
        lambda: alone_reason(
            cash(
                1,
                5,
                rule(
                    "VALID_TIME_SLOTS", slots=[{"start": "11:00", "end": "14:00"}, {"start": "17:00", "end": "21:00"}]
                ),
            ),
            now=NOON_SATURDAY.replace(hour=15),
        ),
        "Usable only during 11:00-14:00, 17:00-21:00",
        "仅限 11:00-14:00、17:00-21:00 使用",
    ),
    (
        "VALID_DAYS_OF_WEEK",
        lambda: alone_reason(cash(1, 5, rule("VALID_DAYS_OF_WEEK", days=[6, 7])), now=NOON_SATURDAY.replace(day=3)),
        "Usable only on Saturday, Sunday",
        "仅限星期六、星期日使用",
    ),
    (
        "CHANNELS",
        lambda: alone_reason(cash(1, 5, rule("CHANNELS", channels=["APP", "MINI_PROGRAM"])), channel="POS"),
        "Usable only on App, Mini program",
        "仅限App、小程序使用",
    ),
    (
        "EXPIRED",
        lambda: alone_reason(cash(1, 5, expires_at=datetime(2024, 5, 1, 2, 0, tzinfo=UTC))),
        "This coupon expired at 2024-05-01 10:00",
        "此券已于 2024-05-01 10:00 过期",
    ),
    (
        "NOT_YET_VALID",
        lambda: alone_reason(cash(1, 5, valid_from=datetime(2024, 6, 1, 16, 0, tzinfo=UTC))),
        "This coupon can be used from 2024-06-02 00:00",
        "此券 2024-06-02 00:00 起可用",
    ),
    (
        "GIFT_UNAVAILABLE",
        lambda: alone_reason(gift(1, price=None)),
        "The gift dish is not available at the moment",
        "赠品暂时无法提供",
    ),
    (
        "NO_BENEFIT",
        lambda: alone_reason(percent(1, "0.01")),
        "This coupon takes nothing off this order",
        "此券对本单没有优惠",
    ),
    (
        "EMPTY_CART",
        lambda: evaluate(cart(), [cash(1, 5)], ctx())[0].reasons[0],
        "Add dishes to the order to use this coupon",
        "请先选购菜品",
    ),
    (
        "INVALID_DEFINITION",
        lambda: alone_reason(Coupon(1, "CASH_VOUCHER", {"amount": "-5"}, [])),
        "This coupon is set up wrongly and cannot be used",
        "此券配置有误，暂不可用",
    ),
    (
        "NOT_STACKABLE",
        lambda: choice_reason([cash(1, 5, alone()), cash(2, 5, stacks())], 1),
        "This coupon cannot be combined with the other coupons chosen",
        "此券不能与所选的其他券同时使用",
    ),
    (
        "EXCLUDED_COUPON_TYPE",
        lambda: choice_reason([cash(1, 5, stacks("PERCENTAGE_DISCOUNT", "FREE_ITEM")), percent(2, 10, stacks())], 1),
        "This coupon cannot be combined with coupons of type Percentage discount",
        "此券不能与折扣券同时使用",
    ),
    (
        "DUPLICATE_COUPON",
        lambda: choice_reason([cash(1, 5, stacks()), cash(1, 5, stacks())], 1),
        "This coupon was chosen more than once",
        "此券被重复选择",
    ),
]


@pytest.mark.parametrize(("code", "make", "english", "chinese"), SCENARIOS, ids=[row[0] for row in SCENARIOS])
def test_each_reason_in_both_languages(code: str, make: Callable[[], Reason], english: str, chinese: str) -> None:
    reason = make()

    assert reason.code == code
    with override("en"):
        assert render_reason(reason) == english
        assert reason_dict(reason) == {"code": code, "message": english}
    with override("zh-hans"):
        assert render_reason(reason) == chinese
        assert reason_dict(reason) == {"code": code, "message": chinese}


def test_the_spec_example() -> None:
    reason = Reason("MINIMUM_SPEND", {"amount": "100.00", "subtotal": "80.00", "shortfall": "20.00"})

    with override("zh-hans"):
        assert reason_dict(reason) == {"code": "MINIMUM_SPEND", "message": "还差 20.00 元可用"}


def test_every_code_has_its_own_message() -> None:
    covered = {row[0] for row in SCENARIOS}
    failing_rules = {name for name, rule_class in RULES.items() if rule_class.message_for({}) or name in covered}

    assert set(ReasonCode) | failing_rules <= covered
    assert set(RULES) - covered == {"STACKABILITY"}  # it never fails on its own: NOT_STACKABLE does
    with override("en"):
        assert render_reason(Reason("SOMETHING_NEW")) == "This coupon cannot be used"


def problems_of(coupon_type: str, value: object, rules: object) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        validate_definition(coupon_type, value, rules)
    return [render_problem(problem) for problem in caught.value.problems]


PROBLEMS: list[tuple[str, object, object, list[str], list[str]]] = [
    ("COUPON", {"amount": 5}, [], ["Unknown coupon type COUPON"], ["未知的优惠券类型 COUPON"]),
    (
        "CASH_VOUCHER",
        {"amount": "5.001"},
        [],
        ["amount has more than 2 decimal places"],
        ["amount 的小数不能超过 2 位"],
    ),
    ("CASH_VOUCHER", {"amount": 5}, {}, ["Must be a list"], ["必须是列表"]),
    (
        "CASH_VOUCHER",
        {"amount": 5},
        [rule("MIN_SPEND", amount=5), rule("CHANNELS", channels=[]), alone(), alone()],
        [
            "Rule 1: Unknown rule type MIN_SPEND",
            "Rule 2 (CHANNELS): channels must not be empty",
            "Rule 4 (STACKABILITY): This rule already appears as rule 3",
        ],
        [
            "第 1 条规则：未知的规则类型 MIN_SPEND",
            "第 2 条规则（CHANNELS）：channels 不能是空列表",
            "第 4 条规则（STACKABILITY）：该规则已在第 3 条出现过",
        ],
    ),
    (
        "FREE_ITEM",
        {"gift_item_id": "d-901"},
        [rule("ITEM_DISCOUNT_SCOPE", item_ids=["d-1"])],
        ["Rule 1 (ITEM_DISCOUNT_SCOPE): This rule cannot be used with the type Free item"],
        ["第 1 条规则（ITEM_DISCOUNT_SCOPE）：该规则不能用于赠品券"],
    ),
    (
        "CASH_VOUCHER",
        {"amount": 5},
        [rule("CHANNELS", channels=["TV"])],
        ["Rule 1 (CHANNELS): channels[0]: TV is not one of APP, MINI_PROGRAM, WEB, POS"],
        ["第 1 条规则（CHANNELS）：channels[0]：TV 不是 APP、MINI_PROGRAM、WEB、POS 之一"],
    ),
    (
        "CASH_VOUCHER",
        {"amount": 5},
        [rule("VALID_TIME_SLOTS", slots=[{"start": "11:00", "end": "11:00"}])],
        ["Rule 1 (VALID_TIME_SLOTS): slots[0] starts and ends at the same time"],
        ["第 1 条规则（VALID_TIME_SLOTS）：slots[0] 的开始时间与结束时间相同"],
    ),
]


@pytest.mark.parametrize(("coupon_type", "value", "rules", "english", "chinese"), PROBLEMS)
def test_problems_in_both_languages(
    coupon_type: str, value: object, rules: object, english: list[str], chinese: list[str]
) -> None:
    with override("en"):
        assert problems_of(coupon_type, value, rules) == english
    with override("zh-hans"):
        assert problems_of(coupon_type, value, rules) == chinese


def test_every_problem_code_has_a_message() -> None:
    from coupons.engine import Problem

    with override("en"):
        for code in ProblemCode:
            params = {"key": "k", "keys": ["a", "b"], "max": 1, "min": 0, "max_places": 2, "value": "v"}
            params |= {"choices": ["x"], "min_key": "a", "max_key": "b", "rule_type": "R", "first_index": 0}
            params |= {"coupon_type": "FREE_ITEM", "type": "T", "first": "11:00-14:00", "second": "12:00-13:00"}
            message = render_problem(Problem("value", code, params))
            assert "Invalid definition" not in message and "%(" not in message, (code, message)
