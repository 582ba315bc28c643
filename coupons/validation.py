"""Validation of a template's fields at save time (admin form and staff API call the same function).

The value and usage-rule shapes are checked by the rules engine's registry, so a rule that would fail
at checkout is refused here; this module adds what needs the database (skus and category codes that
must exist, and be on sale where the coupon cannot work otherwise) and the fields the engine does not
know (windows, validity, quantities, target).
"""

from datetime import datetime
from typing import Any, TypeGuard

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from core.members import MemberLevel, UserType, canonical_tags
from coupons.engine import DefinitionError, validate_definition
from coupons.models import UNLIMITED, CouponType, ValidityType
from coupons.providers import order_facts
from coupons.reasons import render_problem
from coupons.sense import sense_errors

MAX_QUANTITY = 100_000_000
MAX_PER_USER = 1_000
MAX_DESCRIPTION = 5_000  # characters, in the editor as in the staff API
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
        return {"type": kind, "tags": canonical_tags(t.strip() for t in tags)}
    if kind == "USER_TYPE":
        if target.get("user_type") not in UserType.values:
            errors.add("target", _("USER_TYPE needs user_type C or B."))
        return {"type": kind, "user_type": target.get("user_type")}
    return {"type": "ALL"}


# Usage rules a coupon works under only when the order holds one of the dishes or categories they name
# (every one of them for ITEM_ELIGIBILITY with logic ALL): checkout prices only what is on sale, so such a
# rule naming nothing on sale is never met. EXCLUDE_ITEMS may name anything off sale: it is never ordered.
_HELD_BY_THE_ORDER = {
    "ITEM_ELIGIBILITY": ("item_ids", "category_ids"),
    "ITEM_DISCOUNT_SCOPE": ("item_ids", "category_ids"),
    "CONDITIONAL_GIFT_ITEM": ("required_item_ids", "required_category_ids"),
}


def dishes_on_sale() -> QuerySet[Any]:
    """The dishes checkout can sell: active, in an active category. Only these can be a gift."""
    dishes, _categories, _dish_relation, _category_relation = order_facts().menu_pickers()
    return dishes.objects.filter(is_active=True, category__is_active=True)


def _on_sale(skus: set[str], codes: set[str]) -> tuple[set[str], set[str]]:
    """Of those given, the dishes on sale and the active categories."""
    _dishes, categories, _dish_relation, _category_relation = order_facts().menu_pickers()
    on_sale = dishes_on_sale().filter(sku__in=skus).values_list("sku", flat=True)
    active = categories.objects.filter(code__in=codes, is_active=True).values_list("code", flat=True)
    return (set(on_sale) if skus else set(), set(active) if codes else set())


def _check_menu_references(value: dict[str, Any], rules: list[dict[str, Any]], errors: Errors) -> None:
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
    facts = order_facts()
    unknown_skus = skus - facts.known_skus(skus)
    unknown_cats = categories - facts.known_categories(categories)
    on_sale_skus, active_cats = _on_sale(skus - unknown_skus, categories - unknown_cats)
    gift = value.get("gift_item_id")
    if gift in unknown_skus:
        errors.add("value", _("The gift dish %(sku)s is not on the menu.") % {"sku": gift})
    elif gift and gift not in on_sale_skus:
        errors.add("value", _("The gift dish %(sku)s is not on sale: it or its category is inactive.") % {"sku": gift})
    if unknown_skus - {gift}:
        errors.add("usage_rules", _("Unknown dish SKUs: %(skus)s") % {"skus": ", ".join(sorted(unknown_skus - {gift}))})
    if unknown_cats:
        errors.add("usage_rules", _("Unknown category codes: %(codes)s") % {"codes": ", ".join(sorted(unknown_cats))})

    off_sale: set[str] = set()
    for rule in rules:
        keys = _HELD_BY_THE_ORDER.get(rule.get("rule_type", ""))
        if keys is None:
            continue
        params = rule.get("params") or {}
        named_skus = [sku for sku in params.get(keys[0]) or [] if sku not in unknown_skus]
        named_cats = [code for code in params.get(keys[1]) or [] if code not in unknown_cats]
        off = [sku for sku in named_skus if sku not in on_sale_skus]
        off += [code for code in named_cats if code not in active_cats]
        every_one = rule.get("rule_type") == "ITEM_ELIGIBILITY" and params.get("logic") == "ALL"
        if off and (every_one or len(off) == len(named_skus) + len(named_cats)):
            off_sale.update(off)
    if off_sale:
        errors.add(
            "usage_rules",
            _("These dishes or categories are not on sale (inactive), so the coupon could never be used: %(names)s")
            % {"names": ", ".join(sorted(off_sale))},
        )


def clean_template_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise a template's editable fields; raise ``ValidationError`` keyed by field."""
    errors = Errors()
    cleaned = dict(data)

    if not str(cleaned.get("name") or "").strip():
        errors.add("name", _("This field is required."))
    description = str(cleaned.get("description") or "")
    if len(description) > MAX_DESCRIPTION:
        errors.add(
            "description",
            _("Ensure this value has at most %(limit_value)d characters (it has %(show_value)d).")
            % {"limit_value": MAX_DESCRIPTION, "show_value": len(description)},
        )
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

    # Moments to the second, as the editor's time inputs show them: a save of the page changes nothing.
    for name in ("issue_start_time", "issue_end_time", "valid_from", "valid_until"):
        if isinstance(cleaned.get(name), datetime):
            cleaned[name] = cleaned[name].replace(microsecond=0)
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
    # ASCII only: isdigit() alone takes any script's digits ("０１", "٠١"), which the coupon codes cannot hold.
    if len(product_line) != 2 or not (product_line.isascii() and product_line.isdigit()):
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
