"""What Finance needs to approve or reject a template: its summary, stock and limits, the
audience and its size, the worst-case cost, and for a copy what changed against its source."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext

from core.audit import audit_trail_for
from core.members import MemberLevel, UserType
from coupons.engine import KINDS, DefinitionError, read_definition
from coupons.engine.kinds import FreeItem
from coupons.models import CouponTemplate, CouponType
from coupons.providers import order_facts
from coupons.selectors import target_audience_size
from coupons.sense import render_sense, warning_issues
from coupons.services.templates import CONFIRMED_WARNINGS, DEFINITION_ACTIONS, EDITABLE_FIELDS
from coupons.summary import template_summary


@dataclass(frozen=True)
class Change:
    field: str
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class TemplateReview:
    summary: str
    stock: str
    per_user_limit: str
    audience: str
    audience_size: int
    largest_discount: str
    worst_case: str
    copied_from: CouponTemplate | None = None
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Whether the author confirmed these warnings for the definition under review (from the audit trail).
    warnings_confirmed: bool = False


def yuan(amount: Decimal) -> str:
    return f"¥{amount:,.2f}"


def audience_text(target: Any) -> str:
    target = target if isinstance(target, dict) else {"type": "ALL"}
    kind = target.get("type", "ALL")
    if kind == "NEW_USER":
        return gettext("customers registered in the last %(days)s days") % {"days": target.get("days")}
    if kind == "MEMBER_LEVELS":
        labels = dict(MemberLevel.choices)
        levels = ", ".join(str(labels.get(level, level)) for level in target.get("levels") or [])
        return gettext("member levels: %(levels)s") % {"levels": levels}
    if kind == "TAGS":
        return gettext("member tags: %(tags)s") % {"tags": ", ".join(target.get("tags") or [])}
    if kind == "USER_TYPE":
        labels = dict(UserType.choices)
        return gettext("customer type: %(type)s") % {"type": labels.get(target.get("user_type"), "")}
    return gettext("everybody")


def largest_discount(template: CouponTemplate) -> Decimal | None:
    """The most one coupon can be worth; None when nothing bounds it (a percentage without a cap)."""
    try:
        definition = read_definition(template.type, template.value, template.usage_rules or [])
    except DefinitionError:
        return None
    if isinstance(definition.kind, FreeItem):
        price = order_facts().dish_price(definition.kind.gift_item_id)
        return None if price is None else Decimal(price) * definition.kind.quantity
    return definition.kind.largest_cash()


def _worst_case(template: CouponTemplate, largest: Decimal | None) -> tuple[str, str]:
    if largest is None:
        per_coupon = gettext("no upper bound (a percentage without a cap)")
        if template.type == CouponType.FREE_ITEM:
            per_coupon = gettext("unknown (the gift dish is not on the menu)")
        return per_coupon, gettext("No upper bound: one coupon's discount is not bounded.")
    kind = KINDS.get(template.type)
    per_coupon = yuan(largest)
    if template.type == CouponType.RANDOM_CASH:
        per_coupon = gettext("%(amount)s (the largest random amount)") % {"amount": yuan(largest)}
    elif kind is not None and template.type == CouponType.PERCENTAGE_DISCOUNT:
        per_coupon = gettext("%(amount)s (the cap)") % {"amount": yuan(largest)}
    if template.is_unlimited:
        return per_coupon, gettext("Unlimited stock: no upper bound (%(amount)s per coupon).") % {
            "amount": yuan(largest)
        }
    total = largest * template.total_quantity
    return per_coupon, gettext("%(total)s (%(stock)s coupons × %(amount)s)") % {
        "total": yuan(total),
        "stock": template.total_quantity,
        "amount": yuan(largest),
    }


def _shown(template: CouponTemplate, name: str) -> str:
    value = getattr(template, name)
    if name in ("value", "usage_rules"):
        return json.dumps(value, ensure_ascii=False)
    if name == "target":
        return audience_text(value)
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if value is None or value == "":
        return "—"
    if name in ("type", "validity_type"):
        return str(getattr(template, f"get_{name}_display")())
    return str(value)


def template_changes(template: CouponTemplate, source: CouponTemplate) -> list[Change]:
    """The editable fields that differ from ``source``, led by the summaries when those differ."""
    changes = []
    before, after = template_summary(source), template_summary(template)
    if before != after:
        changes.append(Change("summary", gettext("summary"), before, after))
    for name in EDITABLE_FIELDS:
        if getattr(template, name) == getattr(source, name):
            continue
        label = str(getattr(CouponTemplate._meta.get_field(name), "verbose_name", name))
        changes.append(Change(name, label, _shown(source, name), _shown(template, name)))
    return changes


def warnings_confirmed(template: CouponTemplate, codes: list[str]) -> bool:
    """Whether the latest save of the definition (create, edit or copy) recorded its author's confirmation
    of every warning in ``codes``. A copy and a save by a caller that asked nothing confirm none."""
    latest = audit_trail_for(template).filter(action__in=DEFINITION_ACTIONS).first()
    confirmed = latest.data.get(CONFIRMED_WARNINGS) if latest is not None and isinstance(latest.data, dict) else None
    return isinstance(confirmed, list) and set(codes) <= set(confirmed)


def template_review(template: CouponTemplate) -> TemplateReview:
    largest = largest_discount(template)
    per_coupon, worst = _worst_case(template, largest)
    limit = template.per_user_limit
    source = template.copied_from if template.copied_from_id else None
    warnings = warning_issues({name: getattr(template, name) for name in EDITABLE_FIELDS})
    return TemplateReview(
        summary=template_summary(template),
        stock=gettext("unlimited") if template.is_unlimited else str(template.total_quantity),
        per_user_limit=gettext("unlimited") if not limit else str(limit),
        audience=audience_text(template.target),
        audience_size=target_audience_size(target=template.target),
        largest_discount=per_coupon,
        worst_case=worst,
        copied_from=source,
        changes=template_changes(template, source) if source is not None else [],
        warnings=[render_sense(issue) for issue in warnings],
        warnings_confirmed=bool(warnings) and warnings_confirmed(template, [issue.code.value for issue in warnings]),
    )
