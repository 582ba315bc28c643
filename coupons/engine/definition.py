"""A template's definition (type, value, usage rules): checked when it is saved, read when it is used.

The same code does both, so a definition that was accepted at save time cannot fail differently at
checkout. Whether a sku or category code exists on the menu is for the Django side to check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from coupons.engine.codes import ProblemCode
from coupons.engine.kinds import KINDS, CouponKind
from coupons.engine.params import ParamError
from coupons.engine.rules import RULES, Rule, StackPolicy

VALUE = "value"
USAGE_RULES = "usage_rules"
TYPE = "type"


@dataclass(frozen=True)
class Problem:
    """One reason a definition is refused. ``field`` is "type", "value" or "usage_rules"; problems in a
    rule carry its ``index`` (0-based) and, when known, its ``rule_type`` in ``params``."""

    field: str
    code: str
    params: Mapping[str, Any]


class DefinitionError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.code} {dict(p.params)}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class CleanDefinition:
    """The normalised JSON to store: money as "10.00", every optional list present."""

    value: dict[str, Any]
    usage_rules: list[dict[str, Any]]


@dataclass(frozen=True)
class Definition:
    """A definition read and checked, with what checkout asks of it worked out once."""

    coupon_type: str
    kind: CouponKind
    rules: tuple[Rule, ...]
    stack_policy: StackPolicy | None
    item_scoped: bool
    base_rules: tuple[Rule, ...]  # the rules that narrow the discount base, in stage order

    @classmethod
    def of(cls, coupon_type: str, kind: CouponKind, rules: tuple[Rule, ...]) -> Definition:
        policies = [policy for policy in (rule.stack_policy() for rule in rules) if policy is not None]
        narrowing = sorted(
            (rule for rule in rules if rule.base_stage is not None), key=lambda rule: rule.base_stage or 0
        )
        return cls(
            coupon_type=coupon_type,
            kind=kind,
            rules=rules,
            stack_policy=policies[0] if policies else None,
            item_scoped=any(rule.scopes_items for rule in rules),
            base_rules=tuple(narrowing),
        )

    def clean(self) -> CleanDefinition:
        return CleanDefinition(
            value=self.kind.to_value(),
            usage_rules=[{"rule_type": rule.rule_type, "params": rule.to_params()} for rule in self.rules],
        )


def _read_rule(
    index: int, raw: object, coupon_type: str | None, seen: dict[str, int]
) -> tuple[Rule | None, list[Problem]]:
    def problem(code: str, **params: Any) -> Problem:
        return Problem(USAGE_RULES, code, {"index": index, **params})

    if not isinstance(raw, Mapping):
        return None, [problem(ProblemCode.NOT_AN_OBJECT)]
    problems = [problem(ProblemCode.UNKNOWN_KEY, key=str(key)) for key in raw if key not in ("rule_type", "params")]
    rule_type = raw.get("rule_type")
    if rule_type is None:
        return None, [*problems, problem(ProblemCode.REQUIRED, key="rule_type")]
    rule_class = RULES.get(rule_type) if isinstance(rule_type, str) else None
    if rule_class is None:
        return None, [*problems, problem(ProblemCode.UNKNOWN_RULE, rule_type=str(rule_type))]
    if rule_type in seen:
        problems.append(problem(ProblemCode.DUPLICATE_RULE, rule_type=rule_type, first_index=seen[rule_type]))
    else:
        seen[rule_type] = index
    if coupon_type is not None and coupon_type not in rule_class.coupon_types:
        problems.append(problem(ProblemCode.RULE_NOT_ALLOWED, rule_type=rule_type, coupon_type=coupon_type))
    if raw.get("params") is None:
        return None, [*problems, problem(ProblemCode.REQUIRED, rule_type=rule_type, key="params")]
    try:
        rule = rule_class.parse(raw["params"])
    except ParamError as error:
        return None, [*problems, *(problem(i.code, rule_type=rule_type, **i.params) for i in error.issues)]
    return rule, problems


def read_definition(coupon_type: object, value: object, usage_rules: object) -> Definition:
    """Read and check a definition; raise ``DefinitionError`` listing every problem."""
    problems: list[Problem] = []
    kind: CouponKind | None = None
    kind_class = KINDS.get(coupon_type) if isinstance(coupon_type, str) else None
    if kind_class is None:
        problems.append(Problem(TYPE, ProblemCode.UNKNOWN_TYPE, {"type": str(coupon_type)}))
    else:
        try:
            kind = kind_class.parse(value)
        except ParamError as error:
            problems.extend(Problem(VALUE, issue.code, issue.params) for issue in error.issues)

    rules: list[Rule] = []
    if not isinstance(usage_rules, list | tuple):
        problems.append(Problem(USAGE_RULES, ProblemCode.NOT_A_LIST, {}))
    else:
        seen: dict[str, int] = {}
        for index, raw in enumerate(usage_rules):
            rule, rule_problems = _read_rule(index, raw, kind_class.coupon_type if kind_class else None, seen)
            problems.extend(rule_problems)
            if rule is not None:
                rules.append(rule)

    if problems:
        raise DefinitionError(problems)
    assert kind is not None and kind_class is not None
    return Definition.of(kind_class.coupon_type, kind, tuple(rules))


def validate_definition(coupon_type: object, value: object, usage_rules: object) -> CleanDefinition:
    """Check a template's definition when it is saved; return it normalised, or raise
    ``DefinitionError`` carrying a ``Problem`` per refusal."""
    return read_definition(coupon_type, value, usage_rules).clean()


_KEY_ENCODER = json.JSONEncoder(sort_keys=True, check_circular=False, allow_nan=True)


@lru_cache(maxsize=2048)
def _read_json(key: str) -> Definition:
    coupon_type, value, usage_rules = json.loads(key)
    return read_definition(coupon_type, value, usage_rules)


# The same parsed objects come back for every coupon of a template (checkout shares them), so a
# first look is by identity. Each entry holds the objects themselves: while it is cached, no other object
# can take their ids. Definitions given to the engine are read-only (``Coupon`` is frozen).
_BY_IDENTITY: dict[tuple[object, int, int], tuple[object, object, Definition]] = {}
_BY_IDENTITY_MAX = 4096


def read_stored_definition(coupon_type: object, value: object, usage_rules: object) -> Definition:
    """``read_definition`` for checkout, where the same few templates come back for every coupon and
    every request: a definition is immutable once read, so it is kept by its JSON text."""
    ident = (coupon_type, id(value), id(usage_rules))
    hit = _BY_IDENTITY.get(ident)
    if hit is not None and hit[0] is value and hit[1] is usage_rules:
        return hit[2]
    try:
        key = _KEY_ENCODER.encode([coupon_type, value, usage_rules])
    except (TypeError, ValueError):
        return read_definition(coupon_type, value, usage_rules)
    definition = _read_json(key)
    if len(_BY_IDENTITY) >= _BY_IDENTITY_MAX:
        _BY_IDENTITY.clear()
    _BY_IDENTITY[ident] = (value, usage_rules, definition)
    return definition
