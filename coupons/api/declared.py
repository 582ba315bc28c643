"""A template's ``value`` and ``usage_rules`` in the staff API: JSON, described in the OpenAPI schema
from the declarations of the coupon types and rules registered when the schema is generated (a
``oneOf`` per type and per ``rule_type``). The checks themselves are the engine's, through
``coupons.validation``."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from coupons.engine import KINDS, RULES, Param, ParamKind
from coupons.engine.declarations import MAX_MONEY

_MONEY = {"type": "string", "pattern": r"^\d{1,6}(\.\d{1,2})?$", "example": "10.00"}
_TIME = {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$", "example": "11:00"}


class CouponValueField(serializers.JSONField):
    """``value``: one object whose shape depends on ``type``."""


class UsageRulesField(serializers.JSONField):
    """``usage_rules``: a list of ``{"rule_type", "params"}``."""


def param_schema(param: Param) -> dict[str, Any]:
    kind = param.kind
    schema: dict[str, Any]
    if kind == ParamKind.MONEY:
        schema = {**_MONEY, "description": f"0.01 .. {MAX_MONEY}"}
    elif kind == ParamKind.PERCENT_OFF:
        schema = {
            "oneOf": [
                {"type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": float(param.maximum or 100)},
                {"type": "string", "pattern": r"^\d{1,3}(\.\d{1,2})?$"},
            ],
            "description": "percentage off: 12 is 8.8折",
        }
    elif kind == ParamKind.INTEGER:
        schema = {"type": "integer"}
        if param.minimum is not None:
            schema["minimum"] = int(param.minimum)
        if param.maximum is not None:
            schema["maximum"] = int(param.maximum)
    elif kind == ParamKind.DISH:
        schema = {"type": "string", "minLength": 1, "description": "a dish sku on the menu"}
    elif kind in (ParamKind.DISHES, ParamKind.CATEGORIES):
        what = "dish skus" if kind == ParamKind.DISHES else "category codes"
        schema = {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "uniqueItems": True,
            "description": f"{what} on the menu",
        }
    elif kind == ParamKind.TIME_SLOTS:
        slot = {
            "type": "object",
            "properties": {"start": _TIME, "end": _TIME},
            "required": ["start", "end"],
            "additionalProperties": False,
        }
        schema = {"type": "array", "items": slot, "minItems": 1}
    elif kind == ParamKind.WEEKDAYS:
        schema = {
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": 7},
            "minItems": 1,
            "uniqueItems": True,
            "description": "ISO weekdays, 1 = Monday",
        }
    elif kind in (ParamKind.CHANNELS, ParamKind.COUPON_TYPES):
        schema = {"type": "array", "items": {"type": "string", "enum": list(param.choices)}, "uniqueItems": True}
        if param.required:
            schema["minItems"] = 1
    elif kind == ParamKind.BOOL:
        schema = {"type": "boolean"}
    elif kind == ParamKind.CHOICE:
        schema = {"type": "string", "enum": list(param.choices)}
    else:
        schema = {}
    if param.label and "description" not in schema:
        schema["description"] = param.label
    return schema


def params_schema(params: tuple[Param, ...], title: str) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "title": title,
        "properties": {param.name: param_schema(param) for param in params},
        "additionalProperties": False,
    }
    required = [param.name for param in params if param.required]
    if required:
        schema["required"] = required
    return schema


def value_schema() -> dict[str, Any]:
    return {
        "oneOf": [params_schema(kind.params, coupon_type) for coupon_type, kind in KINDS.items()],
        "description": "The object of the template's type: "
        + "; ".join(f"{coupon_type} ({gettext(kind.label)})" for coupon_type, kind in KINDS.items()),
    }


def usage_rules_schema() -> dict[str, Any]:
    rules = [
        {
            "type": "object",
            "title": rule_type,
            "description": rule_class.label,
            "properties": {
                "rule_type": {"type": "string", "enum": [rule_type]},
                "params": params_schema(rule_class.params, f"{rule_type} params"),
            },
            "required": ["rule_type", "params"],
            "additionalProperties": False,
        }
        for rule_type, rule_class in RULES.items()
    ]
    return {"type": "array", "items": {"oneOf": rules}}


class CouponValueFieldExtension(OpenApiSerializerFieldExtension):
    target_class = CouponValueField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return value_schema()


class UsageRulesFieldExtension(OpenApiSerializerFieldExtension):
    target_class = UsageRulesField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return usage_rules_schema()
