"""Rendering the engine's reason and problem codes as translated messages (zh-hans and en).

A failed rule's msgid lives on its rule class (``Rule.message_for``), so adding a rule does not touch
this module; status reasons and definition problems are rendered here. Parameters are shown as the
customer or staff member reads them: weekday, channel and coupon-type names translated, lists joined.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext, pgettext

from coupons.engine import RULES, Problem, ProblemCode, Reason, ReasonCode
from coupons.engine.messages import gettext_noop

_STATUS_MESSAGES: Mapping[str, str] = {
    ReasonCode.INVALID_DEFINITION: gettext_noop("This coupon is set up wrongly and cannot be used"),
    ReasonCode.EMPTY_CART: gettext_noop("Add dishes to the order to use this coupon"),
    ReasonCode.EXPIRED: gettext_noop("This coupon expired at %(expires_at)s"),
    ReasonCode.NOT_YET_VALID: gettext_noop("This coupon can be used from %(valid_from)s"),
    ReasonCode.GIFT_UNAVAILABLE: gettext_noop("The gift dish is not available at the moment"),
    ReasonCode.NO_BENEFIT: gettext_noop("This coupon takes nothing off this order"),
    ReasonCode.NOT_STACKABLE: gettext_noop("This coupon cannot be combined with the other coupons chosen"),
    ReasonCode.EXCLUDED_COUPON_TYPE: gettext_noop(
        "This coupon cannot be combined with coupons of type %(coupon_types)s"
    ),
    ReasonCode.DUPLICATE_COUPON: gettext_noop("This coupon was chosen more than once"),
}
_UNKNOWN_REASON = gettext_noop("This coupon cannot be used")

_PROBLEM_MESSAGES: Mapping[str, str] = {
    ProblemCode.UNKNOWN_TYPE: gettext_noop("Unknown coupon type %(type)s"),
    ProblemCode.NOT_AN_OBJECT: gettext_noop("%(key)s must be an object"),
    ProblemCode.NOT_A_LIST: gettext_noop("%(key)s must be a list"),
    ProblemCode.UNKNOWN_KEY: gettext_noop("Unknown key %(key)s"),
    ProblemCode.REQUIRED: gettext_noop("%(key)s is required"),
    ProblemCode.INVALID_NUMBER: gettext_noop("%(key)s must be a number"),
    ProblemCode.BOOLEAN_NOT_ALLOWED: gettext_noop("%(key)s must be a number, not true or false"),
    ProblemCode.TOO_MANY_DECIMALS: gettext_noop("%(key)s has more than %(max_places)s decimal places"),
    ProblemCode.NOT_POSITIVE: gettext_noop("%(key)s must be greater than 0"),
    ProblemCode.TOO_LARGE: gettext_noop("%(key)s must be at most %(max)s"),
    ProblemCode.OUT_OF_RANGE: gettext_noop("%(key)s must be from %(min)s to %(max)s"),
    ProblemCode.NOT_AN_INTEGER: gettext_noop("%(key)s must be a whole number"),
    ProblemCode.NOT_A_STRING: gettext_noop("%(key)s must be text"),
    ProblemCode.EMPTY_STRING: gettext_noop("%(key)s must not be blank"),
    ProblemCode.NOT_A_BOOLEAN: gettext_noop("%(key)s must be true or false"),
    ProblemCode.EMPTY_LIST: gettext_noop("%(key)s must not be empty"),
    ProblemCode.NO_ITEMS: gettext_noop("Give at least one entry in %(keys)s"),
    ProblemCode.INVALID_CHOICE: gettext_noop("%(key)s: %(value)s is not one of %(choices)s"),
    ProblemCode.DUPLICATE_VALUE: gettext_noop("%(key)s lists %(value)s more than once"),
    ProblemCode.INVALID_TIME: gettext_noop("%(key)s must be a time such as 11:00, not %(value)s"),
    ProblemCode.EMPTY_SLOT: gettext_noop("%(key)s starts and ends at the same time"),
    ProblemCode.OVERLAPPING_SLOTS: gettext_noop("%(key)s: the time slots %(first)s and %(second)s overlap"),
    ProblemCode.TOO_MANY_SLOTS: gettext_noop("%(key)s holds at most %(max)s time slots"),
    ProblemCode.MIN_ABOVE_MAX: gettext_noop("%(min_key)s must not be above %(max_key)s"),
    ProblemCode.UNKNOWN_RULE: gettext_noop("Unknown rule type %(rule_type)s"),
    ProblemCode.DUPLICATE_RULE: gettext_noop("This rule already appears as rule %(first_number)s"),
    ProblemCode.RULE_NOT_ALLOWED: gettext_noop("This rule cannot be used with the type %(coupon_type)s"),
}
# NOT_AN_OBJECT and NOT_A_LIST name no key when the whole value or rule list is the wrong shape.
_WHOLE_MESSAGES: Mapping[str, str] = {
    ProblemCode.NOT_AN_OBJECT: gettext_noop("Must be an object"),
    ProblemCode.NOT_A_LIST: gettext_noop("Must be a list"),
}
_UNKNOWN_PROBLEM = gettext_noop("Invalid definition (%(code)s)")

# Weekday names and channel and type labels use the msgids Django and the project's choices already
# translate.
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_CHANNEL_LABELS = {"APP": "App", "MINI_PROGRAM": "Mini program", "WEB": "Web", "POS": "POS"}
_TYPE_LABELS = {
    "CASH_VOUCHER": "Cash voucher",
    "PERCENTAGE_DISCOUNT": "Percentage discount",
    "RANDOM_CASH": "Random red packet",
    "FREE_ITEM": "Free item",
}


def _join(items: list[str]) -> str:
    return pgettext("list separator", ", ").join(items)


def _label(labels: Mapping[str, str], value: object) -> str:
    text = labels.get(str(value))
    return gettext(text) if text else str(value)


def _shown(key: str, value: Any) -> str:
    if key in ("days", "weekday"):
        days = value if isinstance(value, list) else [value]
        return _join(
            [gettext(_WEEKDAYS[day - 1]) if isinstance(day, int) and 1 <= day <= 7 else str(day) for day in days]
        )
    if key in ("channels", "channel"):
        return (
            _join([_label(_CHANNEL_LABELS, v) for v in value])
            if isinstance(value, list)
            else _label(_CHANNEL_LABELS, value)
        )
    if key in ("coupon_types", "coupon_type"):
        return (
            _join([_label(_TYPE_LABELS, v) for v in value]) if isinstance(value, list) else _label(_TYPE_LABELS, value)
        )
    if isinstance(value, list):
        return _join([str(v) for v in value])
    return str(value)


def _format(msgid: str, params: Mapping[str, Any]) -> str:
    shown = {key: _shown(key, value) for key, value in params.items()}
    try:
        return gettext(msgid) % shown
    except (KeyError, ValueError, TypeError):
        # A translation that names a parameter the reason lacks must not break the checkout page.
        return gettext(msgid)


def render_reason(reason: Reason) -> str:
    """The customer-facing message of a reason, in the active language."""
    rule = RULES.get(reason.code)
    if rule is not None and rule.message_for(reason.params):
        msgid = rule.message_for(reason.params)
    else:
        msgid = _STATUS_MESSAGES.get(reason.code, _UNKNOWN_REASON)
    return _format(msgid, reason.params)


def reason_dict(reason: Reason) -> dict[str, str]:
    """A reason as the API writes it: ``{"code": "MINIMUM_SPEND", "message": "还差 20.00 元可用"}``."""
    return {"code": str(reason.code), "message": render_reason(reason)}


def render_problem(problem: Problem) -> str:
    """The staff-facing message of a definition problem; problems in a rule name the rule."""
    params = dict(problem.params)
    if problem.code in _WHOLE_MESSAGES and "key" not in params:
        msgid = _WHOLE_MESSAGES[problem.code]
    else:
        msgid = _PROBLEM_MESSAGES.get(problem.code, _UNKNOWN_PROBLEM)
    if isinstance(params.get("first_index"), int):
        params["first_number"] = params["first_index"] + 1
    message = _format(msgid, {"code": problem.code, **params})
    index = params.get("index")
    if not isinstance(index, int):
        return message
    # An unknown rule type is already named by its message.
    if params.get("rule_type") and problem.code != ProblemCode.UNKNOWN_RULE:
        return gettext("Rule %(number)s (%(rule_type)s): %(message)s") % {
            "number": index + 1,
            "rule_type": params["rule_type"],
            "message": message,
        }
    return gettext("Rule %(number)s: %(message)s") % {"number": index + 1, "message": message}
