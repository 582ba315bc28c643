"""Bad template input, one example per validation: the service, the staff API and the admin form must
each refuse every one of them with an error on ``field`` and change nothing.

The engine decides the exact problem codes for ``value`` and ``usage_rules``; the tests assert only the
field and that a message is present.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tests.factories.template_input import TemplateInputFactory

T0 = datetime(2030, 5, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
DAY = timedelta(days=1)

DATETIME_FIELDS = ("issue_start_time", "issue_end_time", "valid_from", "valid_until")
JSON_FIELDS = ("value", "usage_rules", "target")
CHECKBOX_FIELDS = ("visible_in_claim_center", "return_on_cancel")


@dataclass(frozen=True)
class BadCase:
    id: str
    field: str
    overrides: dict[str, Any] = field(default_factory=dict)

    def data(self) -> dict[str, Any]:
        return TemplateInputFactory(**self.overrides)


def _fixed(valid_from: datetime | None, valid_until: datetime | None) -> dict[str, Any]:
    return {"validity_type": "FIXED_DATE", "valid_from": valid_from, "valid_until": valid_until}


def _relative(days: Any) -> dict[str, Any]:
    return {"validity_type": "RELATIVE_DAYS", "valid_days_after_issue": days}


def _rules(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"usage_rules": list(rules)}


BAD_CASES = [
    # claim window
    BadCase("claim_window_ends_before_start", "issue_end_time", {"issue_start_time": T0 + DAY, "issue_end_time": T0}),
    BadCase("claim_window_ends_when_it_starts", "issue_end_time", {"issue_start_time": T0, "issue_end_time": T0}),
    # quantities
    BadCase("total_quantity_zero", "total_quantity", {"total_quantity": 0}),
    BadCase("total_quantity_minus_two", "total_quantity", {"total_quantity": -2}),
    BadCase("total_quantity_huge", "total_quantity", {"total_quantity": 1_000_000_000}),
    BadCase("total_quantity_fraction", "total_quantity", {"total_quantity": 1.5}),
    BadCase("total_quantity_text", "total_quantity", {"total_quantity": "many"}),
    BadCase("total_quantity_boolean", "total_quantity", {"total_quantity": True}),
    BadCase("per_user_limit_negative", "per_user_limit", {"per_user_limit": -2}),
    BadCase("per_user_limit_huge", "per_user_limit", {"per_user_limit": 50_000}),
    BadCase("per_user_limit_boolean", "per_user_limit", {"per_user_limit": False}),
    # validity
    BadCase("fixed_date_without_start", "valid_from", _fixed(None, T0 + 30 * DAY)),
    BadCase("fixed_date_without_end", "valid_until", _fixed(T0, None)),
    BadCase("fixed_date_ends_before_start", "valid_until", _fixed(T0 + DAY, T0)),
    BadCase("fixed_date_ends_when_it_starts", "valid_until", _fixed(T0, T0)),
    BadCase("relative_days_missing", "valid_days_after_issue", _relative(None)),
    BadCase("relative_days_zero", "valid_days_after_issue", _relative(0)),
    BadCase("relative_days_4000", "valid_days_after_issue", _relative(4000)),
    BadCase("validity_type_unknown", "validity_type", {"validity_type": "FOREVER"}),
    # target
    BadCase("target_unknown_type", "target", {"target": {"type": "EVERYONE"}}),
    BadCase("target_new_user_without_days", "target", {"target": {"type": "NEW_USER"}}),
    BadCase("target_unknown_member_level", "target", {"target": {"type": "MEMBER_LEVELS", "levels": ["GOLD", "JADE"]}}),
    BadCase("target_tags_empty", "target", {"target": {"type": "TAGS", "tags": []}}),
    BadCase("target_user_type_x", "target", {"target": {"type": "USER_TYPE", "user_type": "X"}}),
    BadCase("target_extra_keys", "target", {"target": {"type": "ALL", "levels": ["GOLD"]}}),
    BadCase("target_not_an_object", "target", {"target": ["ALL"]}),
    # value, per type
    BadCase("cash_voucher_negative_amount", "value", {"value": {"amount": "-5.00"}}),
    BadCase("cash_voucher_value_not_an_object", "value", {"value": "10.00"}),
    BadCase(
        "percentage_over_100",
        "value",
        {"type": "PERCENTAGE_DISCOUNT", "value": {"percentage": 120}, "usage_rules": []},
    ),
    BadCase(
        "random_cash_min_above_max",
        "value",
        {"type": "RANDOM_CASH", "value": {"min_amount": "9.00", "max_amount": "1.00"}, "usage_rules": []},
    ),
    BadCase(
        "free_item_unknown_sku",
        "value",
        {"type": "FREE_ITEM", "value": {"gift_item_id": "d-404", "quantity": 1}, "usage_rules": []},
    ),
    # usage rules
    BadCase(
        "usage_rules_not_a_list",
        "usage_rules",
        {"usage_rules": {"rule_type": "MINIMUM_SPEND", "params": {"amount": "100.00"}}},
    ),
    BadCase("usage_rule_unknown_type", "usage_rules", _rules({"rule_type": "LUCKY_DAY", "params": {}})),
    BadCase(
        "usage_rule_bad_params", "usage_rules", _rules({"rule_type": "MINIMUM_SPEND", "params": {"amount": "lots"}})
    ),
    BadCase(
        "free_item_rule_on_cash_voucher",
        "usage_rules",
        _rules({"rule_type": "SPEND_FOR_GIFT", "params": {"amount": "50.00"}}),
    ),
    BadCase(
        "usage_rule_category_not_on_menu",
        "usage_rules",
        _rules({"rule_type": "ITEM_ELIGIBILITY", "params": {"category_ids": ["cat-nowhere"], "logic": "ANY"}}),
    ),
    BadCase(
        "usage_rule_sku_not_on_menu",
        "usage_rules",
        _rules({"rule_type": "EXCLUDE_ITEMS", "params": {"item_ids": ["d-404"]}}),
    ),
    # the rest
    BadCase("product_line_one_digit", "product_line", {"product_line": "1"}),
    BadCase("product_line_letters", "product_line", {"product_line": "ab"}),
    BadCase("product_line_three_digits", "product_line", {"product_line": "123"}),
    # \d and str.isdigit() take any script's digits; the coupon codes hold ASCII ones only
    BadCase("product_line_fullwidth_digits", "product_line", {"product_line": "０１"}),
    BadCase("product_line_arabic_indic_digits", "product_line", {"product_line": "٠١"}),
    BadCase("product_line_superscript_digits", "product_line", {"product_line": "¹²"}),
    BadCase("name_blank", "name", {"name": ""}),
    BadCase("type_unknown", "type", {"type": "GOLD_BAR"}),
]

bad_cases = pytest.mark.parametrize("case", BAD_CASES, ids=[case.id for case in BAD_CASES])


def _editor_value(param: Any, raw: Any) -> list[str]:
    """One param's JSON as the editor's inputs post it (menu entries by primary key)."""
    from coupons.admin_forms.fields import from_json

    initial = from_json(param, raw)
    if initial is None:
        return []
    if isinstance(initial, list):
        return [str(item) for item in initial]
    return [str(initial)]


def editor_form_data(data: dict[str, Any]) -> dict[str, Any]:
    """``value``, ``usage_rules`` and ``target`` as the template editor posts them: a field per declared
    param (``value__<TYPE>__<param>``), a formset of rule rows (``rules-<n>-<RULE>__<param>``) and the
    audience fields. Raises ``ValueError`` for JSON the editor cannot express (an unknown rule type)."""
    from coupons.admin_forms.fields import SLOT_ROWS
    from coupons.engine import KINDS, RULES, ParamKind

    post: dict[str, Any] = {}
    coupon_type, value = data.get("type"), data.get("value")
    kind = KINDS.get(coupon_type)
    if kind is not None:
        if not isinstance(value, dict):
            raise ValueError("the editor writes value as fields")
        for param in kind.params:
            if param.name in value:
                post[f"value__{coupon_type}__{param.name}"] = _editor_value(param, value[param.name])
    rules = data.get("usage_rules", [])
    if not isinstance(rules, list):
        raise ValueError("the editor writes usage rules as rows")
    post["rules-TOTAL_FORMS"] = str(len(rules))
    post["rules-INITIAL_FORMS"] = "0"
    for index, rule in enumerate(rules):
        post[f"rules-{index}-rule_type"] = rule["rule_type"]
        post[f"rules-{index}-ORDER"] = str(index + 1)
        rule_class = RULES.get(rule["rule_type"])
        for param in rule_class.params if rule_class else ():
            raw = rule.get("params", {}).get(param.name)
            name = f"rules-{index}-{rule['rule_type']}__{param.name}"
            if param.kind == ParamKind.TIME_SLOTS:
                for slot_index in range(SLOT_ROWS):
                    slot = raw[slot_index] if raw and slot_index < len(raw) else {}
                    post[f"{name}_{2 * slot_index}"] = slot.get("start", "")
                    post[f"{name}_{2 * slot_index + 1}"] = slot.get("end", "")
            elif param.kind == ParamKind.BOOL:
                if raw:
                    post[name] = "on"
            elif raw is not None:
                post[name] = _editor_value(param, raw)
    target = data.get("target") or {"type": "ALL"}
    if not isinstance(target, dict) or set(target) - {"type", TARGET_KEYS.get(target.get("type"))}:
        raise ValueError("the editor shows only the fields of the chosen audience")
    post["target_type"] = str(target.get("type"))
    for key, name in (("days", "target_days"), ("levels", "target_levels"), ("tags", "target_tags")):
        if key in target:
            post[name] = target[key] if isinstance(target[key], list) else str(target[key])
    if "user_type" in target:
        post["target_user_type"] = str(target["user_type"])
    return post


def admin_form_data(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as the admin change form posts it (split date/time widgets, checkboxes, the editor's
    fields for value, rules and audience)."""
    post: dict[str, Any] = {}
    for name in DATETIME_FIELDS:
        moment = data.get(name)
        local = timezone.localtime(moment) if moment is not None else None
        post[f"{name}_0"] = local.strftime("%Y-%m-%d") if local else ""
        post[f"{name}_1"] = local.strftime("%H:%M:%S") if local else ""
    for name in CHECKBOX_FIELDS:
        if data.get(name, True):
            post[name] = "on"
    for name, value in data.items():
        if name in DATETIME_FIELDS or name in CHECKBOX_FIELDS or name in JSON_FIELDS:
            continue
        post[name] = "" if value is None else str(value)
    post.update(editor_form_data(data))
    return post


TARGET_KEYS = {"NEW_USER": "days", "MEMBER_LEVELS": "levels", "TAGS": "tags", "USER_TYPE": "user_type"}

# JSON shapes the editor cannot produce (the service and staff API tests cover them).
NOT_IN_EDITOR = {
    "cash_voucher_value_not_an_object",
    "usage_rules_not_a_list",
    "target_not_an_object",
    "target_extra_keys",
}
EDITOR_CASES = [case for case in BAD_CASES if case.id not in NOT_IN_EDITOR]


def editor_fields_for(field: str) -> set[str] | None:
    """The editor fields on which an error about ``field`` may land (None: any field with this prefix)."""
    if field in ("value", "usage_rules"):
        return None
    if field == "target":
        return {"target_type", "target_days", "target_levels", "target_tags", "target_user_type"}
    return {field}


def error_lands_on(field: str, errors: dict[str, Any]) -> bool:
    names = editor_fields_for(field)
    if names is None:
        prefix = "value__" if field == "value" else "\0"
        return "__all__" in errors or any(name.startswith(prefix) for name in errors)
    return bool(names & set(errors))
