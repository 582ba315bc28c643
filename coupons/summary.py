"""A template's human summary in the reader's language, e.g.
"满100元减10元 · 仅限烤鸭 · 周一至周五 · 11:00-14:00 · 领取后30天有效 · 每人限1张 · 共1000张".

The phrases come from the declarations: each coupon type and rule class names its msgid, and every
param is shown by its declared kind (money without ".00", a percentage as 折 or "% off", dishes and
categories by their menu names, weekdays as ranges). Summaries are kept per template, version and
language in this process for a few minutes, so the claim center and the wallet pay for menu names
at most once per page (one query each for dishes and categories, only on a miss).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import get_language, gettext, ngettext, pgettext, pgettext_lazy

from core.choices import Channel
from coupons.engine import KINDS, RULES, Param, ParamKind
from coupons.models import UNLIMITED, CouponTemplate, ValidityType
from coupons.providers import order_facts

SEPARATOR = " · "
# Literals, so that makemessages finds them (a pgettext of a variable is not extracted).
_WEEKDAYS = (
    pgettext_lazy("weekday", "Mon"),
    pgettext_lazy("weekday", "Tue"),
    pgettext_lazy("weekday", "Wed"),
    pgettext_lazy("weekday", "Thu"),
    pgettext_lazy("weekday", "Fri"),
    pgettext_lazy("weekday", "Sat"),
    pgettext_lazy("weekday", "Sun"),
)
_TTL_SECONDS = 300
_MAX_ENTRIES = 4096
_CACHE: dict[tuple[int, datetime | None, str], tuple[float, str]] = {}


@dataclass
class MenuNames:
    """Dish and category names by sku and code; a missing one is shown as its sku or code."""

    dishes: dict[str, str] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)


def _references(coupon_type: str, value: Any, usage_rules: Any) -> tuple[set[str], set[str]]:
    skus: set[str] = set()
    codes: set[str] = set()

    def collect(params: tuple[Param, ...], raw: Any) -> None:
        if not isinstance(raw, Mapping):
            return
        for param in params:
            entry = raw.get(param.name)
            if param.kind == ParamKind.DISH and isinstance(entry, str):
                skus.add(entry)
            elif param.kind == ParamKind.DISHES and isinstance(entry, list):
                skus.update(x for x in entry if isinstance(x, str))
            elif param.kind == ParamKind.CATEGORIES and isinstance(entry, list):
                codes.update(x for x in entry if isinstance(x, str))

    kind = KINDS.get(coupon_type)
    if kind is not None:
        collect(kind.params, value)
    for rule in usage_rules if isinstance(usage_rules, list) else []:
        rule_class = RULES.get(str(rule.get("rule_type"))) if isinstance(rule, Mapping) else None
        if rule_class is not None:
            collect(rule_class.params, rule.get("params"))
    return skus, codes


def menu_names(skus: Iterable[str], codes: Iterable[str]) -> MenuNames:
    names = MenuNames()
    names.dishes, names.categories = order_facts().menu_names(skus, codes)
    return names


# showing params by kind ---------------------------------------------------------------------------------


def money(raw: Any) -> str:
    """10.00 as "10", 8.80 as "8.8"."""
    try:
        amount = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return str(raw)
    if amount == amount.to_integral_value():
        return str(amount.quantize(Decimal(1)))
    return format(amount.normalize(), "f")


def zhe(percentage: Any) -> str:
    """The 折 of a percentage off: 12 -> "8.8"."""
    try:
        return money((Decimal(100) - Decimal(str(percentage))) / 10)
    except (InvalidOperation, ValueError):
        return str(percentage)


def percent_off(percentage: Any) -> str:
    """ "12% off" in English, "8.8折" in Chinese: the translation picks which number it shows."""
    # The Chinese text shows %(zhe)s instead: not a python-format check xgettext could make.
    # xgettext:no-python-format
    return gettext("%(percent)s%% off") % {"percent": money(percentage), "zhe": zhe(percentage)}


def _join(items: list[str]) -> str:
    return pgettext("list separator", ", ").join(items)


def weekdays(days: Iterable[Any]) -> str:
    """[1, 2, 3, 4, 5] as "Mon-Fri" (周一至周五); [6, 7] as "Sat, Sun"."""
    chosen = sorted({d for d in days if isinstance(d, int) and 1 <= d <= 7})
    if len(chosen) == 7:
        return gettext("every day")
    runs: list[list[int]] = []
    for day in chosen:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    shown = []
    for run in runs:
        names = [str(_WEEKDAYS[d - 1]) for d in run]
        if len(run) >= 3:
            shown.append(pgettext("weekday range", "%(first)s-%(last)s") % {"first": names[0], "last": names[-1]})
        else:
            shown.extend(names)
    return _join(shown)


def show_param(param: Param, raw: Any, names: MenuNames) -> str:
    kind = param.kind
    if raw is None:
        return ""
    if kind == ParamKind.MONEY:
        return money(raw)
    if kind == ParamKind.PERCENT_OFF:
        return percent_off(raw)
    if kind == ParamKind.DISH:
        return names.dishes.get(str(raw), str(raw))
    if kind == ParamKind.DISHES:
        return _join([names.dishes.get(str(sku), str(sku)) for sku in raw]) if isinstance(raw, list) else str(raw)
    if kind == ParamKind.CATEGORIES:
        return (
            _join([names.categories.get(str(code), str(code)) for code in raw]) if isinstance(raw, list) else str(raw)
        )
    if kind == ParamKind.TIME_SLOTS and isinstance(raw, list):
        return _join([f"{s.get('start')}-{s.get('end')}" for s in raw if isinstance(s, Mapping)])
    if kind == ParamKind.WEEKDAYS and isinstance(raw, list):
        return weekdays(raw)
    if kind == ParamKind.CHANNELS and isinstance(raw, list):
        labels = dict(Channel.choices)
        return _join([str(labels.get(c, c)) for c in raw])
    if kind == ParamKind.COUPON_TYPES and isinstance(raw, list):
        return _join([gettext(KINDS[t].label) if t in KINDS else str(t) for t in raw])
    if kind == ParamKind.BOOL:
        return gettext("yes") if raw else gettext("no")
    return str(raw)


def _shown(params: tuple[Param, ...], raw: Any, names: MenuNames) -> dict[str, str]:
    data = raw if isinstance(raw, Mapping) else {}
    return {param.name: show_param(param, data.get(param.name, param.default), names) for param in params}


def _phrase(msgid: str, shown: Mapping[str, str]) -> str:
    try:
        return gettext(msgid) % shown
    except (KeyError, ValueError, TypeError):
        return gettext(msgid)


# the summary ------------------------------------------------------------------------------------------


def definition_phrases(coupon_type: str, value: Any, usage_rules: Any, names: MenuNames) -> list[str]:
    """The value's phrase, then one per rule, in the rules' order."""
    kind = KINDS.get(coupon_type)
    rules = [
        (RULES.get(str(rule.get("rule_type"))), rule.get("params") or {})
        for rule in (usage_rules if isinstance(usage_rules, list) else [])
        if isinstance(rule, Mapping)
    ]
    absorbed: int | None = None
    if kind is not None and kind.threshold_summary:
        absorbed = next(
            (
                index
                for index, (rule_class, _params) in enumerate(rules)
                if rule_class is not None and rule_class.threshold and coupon_type in rule_class.coupon_types
            ),
            None,
        )
    phrases: list[str] = []
    if kind is not None:
        shown = _shown(kind.params, value, names)
        if absorbed is not None:
            shown["threshold"] = money(rules[absorbed][1].get("amount"))
        value_map = value if isinstance(value, Mapping) else {}
        phrases.append(_phrase(kind.summary_for(value_map, threshold=absorbed is not None), shown))
    last_group = ""
    for index, (rule_class, params) in enumerate(rules):
        if rule_class is None or index == absorbed:
            continue
        msgid = rule_class.summary_for(params) or rule_class.label
        phrase = _phrase(msgid, _shown(rule_class.params, params, names))
        if rule_class.summary_group and rule_class.summary_group == last_group and phrases:
            phrases[-1] = f"{phrases[-1]} {phrase}"
        else:
            phrases.append(phrase)
        last_group = rule_class.summary_group
    return phrases


def _validity(template: CouponTemplate) -> str:
    if template.validity_type == ValidityType.RELATIVE_DAYS and template.valid_days_after_issue:
        days = template.valid_days_after_issue
        return ngettext("valid for %(days)s day after claiming", "valid for %(days)s days after claiming", days) % {
            "days": days
        }
    if template.validity_type == ValidityType.FIXED_DATE and template.valid_from and template.valid_until:
        return gettext("valid %(start)s to %(end)s") % {
            "start": timezone.localtime(template.valid_from).strftime("%Y-%m-%d"),
            "end": timezone.localtime(template.valid_until).strftime("%Y-%m-%d"),
        }
    if template.validity_type == ValidityType.CLAIM_DAY:
        return gettext("valid on the day claimed")
    return ""


def _limits(template: CouponTemplate) -> list[str]:
    limit = template.per_user_limit
    per_user = (
        gettext("no limit per person")
        if not limit
        else ngettext("limit %(n)s per person", "limit %(n)s per person", limit) % {"n": limit}
    )
    total = template.total_quantity
    stock = (
        gettext("unlimited stock")
        if total == UNLIMITED
        else ngettext("%(n)s in total", "%(n)s in total", total) % {"n": total}
    )
    return [per_user, stock]


def build_summary(template: CouponTemplate, names: MenuNames) -> str:
    phrases = definition_phrases(template.type, template.value, template.usage_rules, names)
    phrases.append(_validity(template))
    phrases.extend(_limits(template))
    return SEPARATOR.join(p for p in phrases if p)


def _key(template: CouponTemplate) -> tuple[int, datetime | None, str]:
    return (template.pk or 0, template.updated_at, get_language() or "")


def _cached(template: CouponTemplate, now: float) -> str | None:
    """The saved template's summary in the active language, while it is fresh."""
    hit = _CACHE.get(_key(template)) if template.pk else None
    return hit[1] if hit is not None and hit[0] > now else None


def summaries_for(templates: Iterable[CouponTemplate]) -> dict[int, str]:
    """Summaries by template id, in the active language; misses cost one query for dish names and one
    for category names, for all of them together."""
    now = time.monotonic()
    found: dict[int, str] = {}
    missing: list[CouponTemplate] = []
    for template in templates:
        if template.pk in found:
            continue
        text = _cached(template, now)
        if text is not None:
            found[template.pk] = text
        else:
            missing.append(template)
    if missing:
        skus: set[str] = set()
        codes: set[str] = set()
        for template in missing:
            more_skus, more_codes = _references(template.type, template.value, template.usage_rules)
            skus |= more_skus
            codes |= more_codes
        names = menu_names(skus, codes)
        if len(_CACHE) + len(missing) > _MAX_ENTRIES:
            _CACHE.clear()
        for template in missing:
            text = build_summary(template, names)
            found[template.pk] = text
            if template.pk:
                _CACHE[_key(template)] = (now + _TTL_SECONDS, text)
    return found


def template_summary(template: CouponTemplate) -> str:
    """The summary of one template (unsaved ones too), in the active language."""
    if template.pk:
        text = _cached(template, time.monotonic())
        return text if text is not None else summaries_for([template])[template.pk]
    skus, codes = _references(template.type, template.value, template.usage_rules)
    return build_summary(template, menu_names(skus, codes))


def summary_in_languages(template: CouponTemplate) -> dict[str, str]:
    """The summary in every language the site offers, for records read later in either."""
    skus, codes = _references(template.type, template.value, template.usage_rules)
    names = menu_names(skus, codes)
    texts = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            texts[code] = build_summary(template, names)
    return texts
