"""Validation of a template's fields at save time (admin form and staff API call the same function).

The value and usage-rule shapes are checked by the rules engine's registry, so a rule that would fail
at checkout is refused here; this module adds what needs the database (skus and category codes that
must exist) and the fields the engine does not know (windows, validity, quantities, target).
"""

from datetime import datetime
from typing import Any, TypeGuard

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from coupons.engine import DefinitionError, validate_definition
from coupons.models import UNLIMITED, CouponType, ValidityType
from coupons.reasons import render_problem
from coupons.sense import sense_errors
from marketing.models import MemberLevel, UserType

MAX_QUANTITY = 100_000_000
MAX_PER_USER = 1_000
MAX_VALID_DAYS = 3_650
TARGET_TYPES = ("ALL", "NEW_USER", "MEMBER_LEVELS", "TAGS", "USER_TYPE")


class Errors:
    def __init__(self) -> None:
        self.by_field: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.by_field.setdefault(field, []).append(message)

    def raise_if_any(self) -> None:
        if self.by_field:
            raise ValidationError({name: [ValidationError(m) for m in msgs] for name, msgs in self.by_field.items()})


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def clean_target(target: Any, errors: Errors) -> dict[str, Any]:
    if target in (None, {}, ""):
        return {"type": "ALL"}
    if not isinstance(target, dict) or target.get("type") not in TARGET_TYPES:
        errors.add(
            "target", _("Target must be an object whose type is one of %(types)s.") % {"types": ", ".join(TARGET_TYPES)}
        )
        return {}
    kind = target["type"]
    allowed_keys = {
        "ALL": set(),
        "NEW_USER": {"days"},
        "MEMBER_LEVELS": {"levels"},
        "TAGS": {"tags"},
        "USER_TYPE": {"user_type"},
    }[kind] | {"type"}
    extra = set(target) - allowed_keys
    if extra:
        errors.add(
            "target", _("Unknown keys for target %(type)s: %(keys)s") % {"type": kind, "keys": ", ".join(sorted(extra))}
        )
        return {}
    if kind == "NEW_USER":
        days = target.get("days")
        if not _is_int(days) or not 1 <= days <= 365:
            errors.add("target", _("NEW_USER needs days, a whole number from 1 to 365."))
        return {"type": kind, "days": days}
    if kind == "MEMBER_LEVELS":
        levels = target.get("levels")
        if not isinstance(levels, list) or not levels or any(lv not in MemberLevel.values for lv in levels):
            errors.add(
                "target",
                _("MEMBER_LEVELS needs levels, a non-empty list of %(levels)s.")
                % {"levels": ", ".join(MemberLevel.values)},
            )
            return {}
        return {"type": kind, "levels": sorted(set(levels))}
    if kind == "TAGS":
        tags = target.get("tags")
        if (
            not isinstance(tags, list)
            or not tags
            or any(not isinstance(t, str) or not t.strip() or len(t) > 40 for t in tags)
        ):
            errors.add("target", _("TAGS needs tags, a non-empty list of tag names."))
            return {}
        return {"type": kind, "tags": sorted({t.strip() for t in tags})}
    if kind == "USER_TYPE":
        if target.get("user_type") not in UserType.values:
            errors.add("target", _("USER_TYPE needs user_type C or B."))
        return {"type": kind, "user_type": target.get("user_type")}
    return {"type": "ALL"}


def _check_menu_references(value: dict[str, Any], rules: list[dict[str, Any]], errors: Errors) -> None:
    from orders.models import Category, Product

    skus: set[str] = set()
    categories: set[str] = set()
    if value.get("gift_item_id"):
        skus.add(value["gift_item_id"])
    for rule in rules:
        params = rule.get("params") or {}
        skus.update(params.get("item_ids") or [])
        skus.update(params.get("required_item_ids") or [])
        categories.update(params.get("category_ids") or [])
        categories.update(params.get("required_category_ids") or [])
    missing_skus = skus - set(Product.objects.filter(sku__in=skus).values_list("sku", flat=True))
    missing_cats = categories - set(Category.objects.filter(code__in=categories).values_list("code", flat=True))
    if value.get("gift_item_id") in missing_skus:
        errors.add("value", _("The gift dish %(sku)s is not on the menu.") % {"sku": value["gift_item_id"]})
        missing_skus.discard(value["gift_item_id"])
    if missing_skus:
        errors.add("usage_rules", _("Unknown dish SKUs: %(skus)s") % {"skus": ", ".join(sorted(missing_skus))})
    if missing_cats:
        errors.add("usage_rules", _("Unknown category codes: %(codes)s") % {"codes": ", ".join(sorted(missing_cats))})


def clean_template_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise a template's editable fields; raise ``ValidationError`` keyed by field."""
    errors = Errors()
    cleaned = dict(data)

    if not str(cleaned.get("name") or "").strip():
        errors.add("name", _("This field is required."))
    coupon_type = cleaned.get("type")
    if coupon_type not in CouponType.values:
        errors.add("type", _("Type must be one of %(types)s.") % {"types": ", ".join(CouponType.values)})

    total = cleaned.get("total_quantity", UNLIMITED)
    if not _is_int(total) or not (total == UNLIMITED or 1 <= total <= MAX_QUANTITY):
        errors.add(
            "total_quantity", _("Total quantity must be -1 (unlimited) or from 1 to %(max)s.") % {"max": MAX_QUANTITY}
        )
    per_user = cleaned.get("per_user_limit", 1)
    if not _is_int(per_user) or not 0 <= per_user <= MAX_PER_USER:
        errors.add("per_user_limit", _("Per-user limit must be from 0 (unlimited) to %(max)s.") % {"max": MAX_PER_USER})

    start, end = cleaned.get("issue_start_time"), cleaned.get("issue_end_time")
    if isinstance(start, datetime) and isinstance(end, datetime) and end <= start:
        errors.add("issue_end_time", _("The claim window must end after it starts."))

    validity = cleaned.get("validity_type")
    valid_from, valid_until = cleaned.get("valid_from"), cleaned.get("valid_until")
    days = cleaned.get("valid_days_after_issue")
    if validity == ValidityType.FIXED_DATE:
        if not valid_from:
            errors.add("valid_from", _("Fixed-date validity needs a start."))
        if not valid_until:
            errors.add("valid_until", _("Fixed-date validity needs an end."))
        if valid_from and valid_until and valid_until <= valid_from:
            errors.add("valid_until", _("Validity must end after it starts."))
        if valid_until and isinstance(end, datetime) and valid_until < end:
            errors.add("valid_until", _("Coupons claimed at the end of the claim window would already be expired."))
        cleaned["valid_days_after_issue"] = None
    elif validity == ValidityType.RELATIVE_DAYS:
        if not _is_int(days) or not 1 <= days <= MAX_VALID_DAYS:
            errors.add(
                "valid_days_after_issue", _("Days after issue must be from 1 to %(max)s.") % {"max": MAX_VALID_DAYS}
            )
        cleaned["valid_from"] = cleaned["valid_until"] = None
    elif validity == ValidityType.CLAIM_DAY:
        cleaned["valid_from"] = cleaned["valid_until"] = cleaned["valid_days_after_issue"] = None
    else:
        errors.add(
            "validity_type", _("Validity type must be one of %(types)s.") % {"types": ", ".join(ValidityType.values)}
        )

    product_line = str(cleaned.get("product_line") or "01")
    if len(product_line) != 2 or not product_line.isdigit():
        errors.add("product_line", _("Product line must be two digits."))
    cleaned["product_line"] = product_line
    cleaned["target"] = clean_target(cleaned.get("target"), errors)

    if coupon_type in CouponType.values:
        try:
            definition = validate_definition(coupon_type, cleaned.get("value"), cleaned.get("usage_rules", []))
        except DefinitionError as exc:
            for problem in exc.problems:
                errors.add(problem.field, render_problem(problem))
        else:
            cleaned["value"], cleaned["usage_rules"] = definition.value, definition.usage_rules
            _check_menu_references(definition.value, definition.usage_rules, errors)
            for field, messages in sense_errors(cleaned).items():
                for message in messages:
                    errors.add(field, message)

    errors.raise_if_any()
    return cleaned
