"""The coupon rules and pricing engine: pure Python, no Django.

Inputs (``coupons.engine.types``): a ``Cart`` of ``CartLine`` (sku, category, unit price, quantity), the
customer's ``Coupon`` list (template definition plus the instance's amount, validity and resolved gift)
and a ``Context`` (an aware ``now``, the business time zone, the channel). Money is ``Decimal`` with 2
places (``to_money``).

- ``evaluate(cart, coupons, ctx) -> list[CouponEvaluation]``: each coupon on its own (usable, reasons,
  discount, allocation per line key, gifts), in input order.
- ``apply_coupons(cart, coupons, ctx) -> Application``: the customer's choice applied in the stacking
  order, or refused with ``Reason`` lists per offending coupon.
- ``best_combination(cart, coupons, ctx) -> Application``: the exact best combination.
- ``preview(cart, coupons, ctx) -> Preview``: ``evaluate`` and ``best_combination`` in one pass.
- ``validate_definition(coupon_type, value, usage_rules) -> CleanDefinition``: checks a template when
  it is saved; raises ``DefinitionError`` carrying ``Problem`` items.
- ``RULES``: usage-rule registry, ``rule_type`` -> ``Rule`` class (``register_rule`` /
  ``unregister_rule``); ``KINDS``: coupon types. Each declares its params as ``Param`` items
  (``coupons.engine.declarations``), from which validation, admin widgets, the API schema and the
  summary are derived.
- ``sense_check(definition, total_quantity=, per_user_limit=)``: errors and warnings about a valid
  definition that is probably not what was meant (满100减200, 100 % off without a cap).

Reason codes are the failing rule's ``rule_type`` or a ``ReasonCode``; definition problems use
``ProblemCode``. ``coupons.reasons`` renders both as translated messages.
"""

from coupons.engine.best import best_combination, preview
from coupons.engine.codes import ProblemCode, ReasonCode
from coupons.engine.declarations import Param, ParamKind
from coupons.engine.definition import (
    CleanDefinition,
    Definition,
    DefinitionError,
    Problem,
    read_definition,
    validate_definition,
)
from coupons.engine.kinds import KINDS
from coupons.engine.money import to_money
from coupons.engine.pricing import apply_coupons, evaluate
from coupons.engine.rules import RULES, Rule, register_rule, unregister_rule
from coupons.engine.sense import SenseCode, SenseIssue, sense_check
from coupons.engine.types import (
    CASH_VOUCHER,
    CHANNELS,
    COUPON_TYPES,
    FREE_ITEM,
    PERCENTAGE_DISCOUNT,
    RANDOM_CASH,
    Application,
    Cart,
    CartLine,
    Context,
    Coupon,
    CouponEvaluation,
    CouponResult,
    Gift,
    GiftProduct,
    Preview,
    Reason,
)

__all__ = [
    "CASH_VOUCHER",
    "CHANNELS",
    "COUPON_TYPES",
    "FREE_ITEM",
    "KINDS",
    "PERCENTAGE_DISCOUNT",
    "RANDOM_CASH",
    "RULES",
    "Application",
    "Cart",
    "CartLine",
    "CleanDefinition",
    "Context",
    "Definition",
    "Coupon",
    "CouponEvaluation",
    "CouponResult",
    "DefinitionError",
    "Gift",
    "Param",
    "ParamKind",
    "GiftProduct",
    "Preview",
    "Problem",
    "ProblemCode",
    "Reason",
    "SenseCode",
    "SenseIssue",
    "ReasonCode",
    "Rule",
    "apply_coupons",
    "best_combination",
    "evaluate",
    "preview",
    "read_definition",
    "register_rule",
    "sense_check",
    "to_money",
    "unregister_rule",
    "validate_definition",
]
