"""Rules about which dishes the order holds and which lines the discount applies to.

Items are named by sku (``item_ids``) and categories by code (``category_ids``). Whether those exist
on the menu is checked by the Django side when a template is saved, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from coupons.engine.cart import PricedLine
from coupons.engine.declarations import Param, ParamKind
from coupons.engine.messages import gettext_noop
from coupons.engine.rules.base import Rule, Situation
from coupons.engine.types import COUPON_TYPES, FREE_ITEM, Reason

ANY = "ANY"
ALL = "ALL"


def _selection(item_key: str, category_key: str, items_label: str, categories_label: str) -> tuple[Param, ...]:
    return (
        Param(item_key, ParamKind.DISHES, items_label, required=False),
        Param(category_key, ParamKind.CATEGORIES, categories_label, required=False),
    )


def _summary(
    params: Mapping[str, Any], items: str, categories: str, both: str, item_key: str, category_key: str
) -> str:
    if params.get(item_key) and params.get(category_key):
        return both
    return items if params.get(item_key) else categories


def _any_summary(
    params: Mapping[str, Any], one: tuple[str, str, str], many: tuple[str, str, str], keys: tuple[str, str]
) -> str:
    """The summary of a rule met by any one of its entries: a list of two or more says "any of" (a bare list
    would read as all of them, as "须点北京烤鸭、茉莉花茶" does)."""
    item_key, category_key = keys
    if len(params.get(item_key) or ()) > 1 or len(params.get(category_key) or ()) > 1:
        return _summary(params, *many, item_key, category_key)
    return _summary(params, *one, item_key, category_key)


@dataclass(frozen=True)
class _Selection(Rule):
    params: ClassVar[tuple[Param, ...]] = _selection(
        "item_ids", "category_ids", gettext_noop("Dishes"), gettext_noop("Categories")
    )
    one_of: ClassVar[tuple[str, ...]] = ("item_ids", "category_ids")
    item_ids: tuple[str, ...]
    category_ids: tuple[str, ...]

    def to_params(self) -> dict[str, Any]:
        return {"item_ids": list(self.item_ids), "category_ids": list(self.category_ids)}

    def selects(self, line: PricedLine) -> bool:
        return line.sku in self.item_ids or line.category in self.category_ids


@dataclass(frozen=True)
class ItemEligibility(_Selection):
    """The order holds any (``logic`` ANY, the default) or all (ALL) of the listed items and categories."""

    rule_type: ClassVar[str] = "ITEM_ELIGIBILITY"
    label: ClassVar[str] = gettext_noop("Order must include")
    params: ClassVar[tuple[Param, ...]] = (
        *_Selection.params,
        Param(
            "logic",
            ParamKind.CHOICE,
            gettext_noop("Any or all of them"),
            required=False,
            choices=(ANY, ALL),
            choice_labels=(gettext_noop("any of them"), gettext_noop("all of them")),
            default=ANY,
        ),
    )
    logic: str = ANY

    @classmethod
    def summary_for(cls, params: Mapping[str, Any]) -> str:
        if params.get("logic") == ALL:
            return _summary(
                params,
                gettext_noop("the order must include all of %(item_ids)s"),
                gettext_noop("the order must include something from each of %(category_ids)s"),
                gettext_noop("the order must include all of %(item_ids)s and something from %(category_ids)s"),
                "item_ids",
                "category_ids",
            )
        return _any_summary(
            params,
            (
                gettext_noop("the order must include %(item_ids)s"),
                gettext_noop("the order must include %(category_ids)s"),
                gettext_noop("the order must include %(item_ids)s or %(category_ids)s"),
            ),
            (
                gettext_noop("the order must include any of %(item_ids)s"),
                gettext_noop("the order must include something from any of %(category_ids)s"),
                gettext_noop("the order must include any of %(item_ids)s or something from %(category_ids)s"),
            ),
            ("item_ids", "category_ids"),
        )

    def to_params(self) -> dict[str, Any]:
        return {**super().to_params(), "logic": self.logic}

    @classmethod
    def message_for(cls, params: Mapping[str, Any]) -> str:
        if params.get("logic") == ALL:
            return gettext_noop("Add all of the required dishes to use this coupon")
        return gettext_noop("Add one of the qualifying dishes to use this coupon")

    def check(self, situation: Situation) -> Reason | None:
        missing_items = [sku for sku in self.item_ids if sku not in situation.skus]
        missing_categories = [code for code in self.category_ids if code not in situation.categories]
        if self.logic == ALL:
            failed = bool(missing_items or missing_categories)
        else:
            failed = len(missing_items) == len(self.item_ids) and len(missing_categories) == len(self.category_ids)
        if not failed:
            return None
        return Reason(
            self.rule_type, {"logic": self.logic, "item_ids": missing_items, "category_ids": missing_categories}
        )


@dataclass(frozen=True)
class ItemDiscountScope(_Selection):
    """The discount base is only the listed items and categories (default: the whole order)."""

    rule_type: ClassVar[str] = "ITEM_DISCOUNT_SCOPE"
    label: ClassVar[str] = gettext_noop("Only on these dishes")
    coupon_types: ClassVar[frozenset[str]] = frozenset(COUPON_TYPES) - {FREE_ITEM}
    message: ClassVar[str] = gettext_noop("None of the dishes in this order are covered by this coupon")
    base_stage: ClassVar[int | None] = 0
    scopes_items: ClassVar[bool] = True

    @classmethod
    def summary_for(cls, params: Mapping[str, Any]) -> str:
        return _summary(
            params,
            gettext_noop("only on %(item_ids)s"),
            gettext_noop("only on %(category_ids)s"),
            gettext_noop("only on %(category_ids)s and %(item_ids)s"),
            "item_ids",
            "category_ids",
        )

    def keeps(self, line: PricedLine) -> bool:
        return self.selects(line)


@dataclass(frozen=True)
class ExcludeItems(_Selection):
    """The listed items and categories leave the discount base, and so the spend thresholds too."""

    rule_type: ClassVar[str] = "EXCLUDE_ITEMS"
    label: ClassVar[str] = gettext_noop("Not on these dishes")
    message: ClassVar[str] = gettext_noop("Every dish in this order is excluded from this coupon")
    base_stage: ClassVar[int | None] = 1

    @classmethod
    def summary_for(cls, params: Mapping[str, Any]) -> str:
        return _summary(
            params,
            gettext_noop("not on %(item_ids)s"),
            gettext_noop("not on %(category_ids)s"),
            gettext_noop("not on %(category_ids)s or %(item_ids)s"),
            "item_ids",
            "category_ids",
        )

    def keeps(self, line: PricedLine) -> bool:
        return not self.selects(line)


@dataclass(frozen=True)
class ConditionalGiftItem(Rule):
    """FREE_ITEM only: the order must hold one of the listed items or categories."""

    rule_type: ClassVar[str] = "CONDITIONAL_GIFT_ITEM"
    label: ClassVar[str] = gettext_noop("Gift with these dishes")
    params: ClassVar[tuple[Param, ...]] = _selection(
        "required_item_ids", "required_category_ids", gettext_noop("Dishes"), gettext_noop("Categories")
    )
    one_of: ClassVar[tuple[str, ...]] = ("required_item_ids", "required_category_ids")
    coupon_types: ClassVar[frozenset[str]] = frozenset({FREE_ITEM})
    message: ClassVar[str] = gettext_noop("Order one of the qualifying dishes to get this gift")
    required_item_ids: tuple[str, ...]
    required_category_ids: tuple[str, ...]

    @classmethod
    def summary_for(cls, params: Mapping[str, Any]) -> str:
        return _any_summary(
            params,
            (
                gettext_noop("when the order includes %(required_item_ids)s"),
                gettext_noop("when the order includes %(required_category_ids)s"),
                gettext_noop("when the order includes %(required_item_ids)s or %(required_category_ids)s"),
            ),
            (
                gettext_noop("when the order includes any of %(required_item_ids)s"),
                gettext_noop("when the order includes something from any of %(required_category_ids)s"),
                gettext_noop(
                    "when the order includes any of %(required_item_ids)s or something from %(required_category_ids)s"
                ),
            ),
            ("required_item_ids", "required_category_ids"),
        )

    def to_params(self) -> dict[str, Any]:
        return {
            "required_item_ids": list(self.required_item_ids),
            "required_category_ids": list(self.required_category_ids),
        }

    def check(self, situation: Situation) -> Reason | None:
        if any(sku in situation.skus for sku in self.required_item_ids) or any(
            code in situation.categories for code in self.required_category_ids
        ):
            return None
        return Reason(self.rule_type, self.to_params())
