"""Admin form fields derived from a ``Param`` declaration, and the conversions between the field's
cleaned data and the JSON the engine stores.

One function per direction: ``form_field`` (the widget staff use), ``to_json`` (cleaned data -> JSON
value, or ``MISSING`` to leave the key out) and ``from_json`` (stored JSON -> the field's initial).
Dishes and categories use admin's autocomplete endpoints on the menu models.
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy

from core.choices import Channel
from coupons.engine import KINDS, Param, ParamKind
from coupons.engine.declarations import MAX_MONEY, MAX_SLOTS
from coupons.providers import order_facts
from coupons.summary import money, zhe
from coupons.validation import dishes_on_sale

MISSING = object()
SLOT_ROWS = MAX_SLOTS  # every slot a rule may hold has its row
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_CENT = Decimal("0.01")


def _menu() -> tuple[Any, Any, Any, Any]:
    return order_facts().menu_pickers()


class ZheInput(forms.NumberInput):
    """折 entry (8.8) with its meaning ("12 % off") shown beside it, kept live by editor.js."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        # Three places: 33.33 % off is 6.667 折 (the field's own precision).
        super().__init__({"step": "0.001", "min": "0", "max": "9.999", "class": "zhe-input", **(attrs or {})})

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        html = super().render(name, value, attrs, renderer)
        meaning = ""
        try:
            if value not in (None, ""):
                off = Decimal(100) - Decimal(str(value)) * 10
                meaning = gettext_lazy("= %(percent)s %% off") % {"percent": money(off)}
        except (InvalidOperation, ValueError):
            meaning = ""
        element_id = (attrs or {}).get("id") or f"id_{name}"
        return format_html(
            '{} <span class="zhe-meaning" id="{}_meaning" data-template="{}">{}</span>',
            html,
            element_id,
            gettext_lazy("= %(percent)s %% off"),
            meaning,
        )


class SlotsWidget(forms.MultiWidget):
    """``SLOT_ROWS`` pairs of time inputs: slot n is subwidgets 2n (start) and 2n+1 (end)."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        time_input = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
        super().__init__([time_input] * (SLOT_ROWS * 2), attrs)

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        context = self.get_context(name, value, attrs)
        rows = []
        subwidgets = context["widget"]["subwidgets"]
        for index in range(0, len(subwidgets), 2):
            start, end = subwidgets[index], subwidgets[index + 1]
            rows.append(
                format_html(
                    '<div class="slot-row">{} – {}</div>',
                    self.widgets[index].render(start["name"], start["value"], start["attrs"], renderer),
                    self.widgets[index + 1].render(end["name"], end["value"], end["attrs"], renderer),
                )
            )
        return format_html('<div class="time-slots">{}</div>', SafeString("".join(rows)))

    def decompress(self, value: Any) -> list[Any]:
        slots = value if isinstance(value, list) else []
        flat: list[Any] = []
        for index in range(SLOT_ROWS):
            slot = slots[index] if index < len(slots) and isinstance(slots[index], dict) else {}
            flat += [slot.get("start"), slot.get("end")]
        return flat


class SlotsField(forms.MultiValueField):
    widget = SlotsWidget

    def __init__(self, **kwargs: Any) -> None:
        fields = [forms.TimeField(required=False, input_formats=["%H:%M", "%H:%M:%S"]) for _ in range(SLOT_ROWS * 2)]
        super().__init__(fields, require_all_fields=False, **kwargs)

    def compress(self, data_list: list[Any]) -> list[dict[str, str]]:
        def shown(moment: time | None) -> str:
            return moment.strftime("%H:%M") if moment else ""

        slots = []
        for index in range(0, len(data_list), 2):
            start, end = data_list[index], data_list[index + 1]
            if start or end:
                slots.append({"start": shown(start), "end": shown(end)})
        return slots


def form_field(param: Param, *, required: bool = False) -> forms.Field:
    """The admin form field of ``param``. Required-ness is left to the engine (it reports every missing
    key on its field), unless ``required`` asks for it here."""
    label = gettext_lazy(param.label) if param.label else param.name
    help_text = gettext_lazy(param.help_text) if param.help_text else ""
    common: dict[str, Any] = {"label": label, "help_text": help_text, "required": required}
    kind = param.kind
    if kind == ParamKind.MONEY:
        return forms.DecimalField(
            max_digits=8, decimal_places=2, min_value=_CENT, max_value=MAX_MONEY, localize=False, **common
        )
    if kind == ParamKind.PERCENT_OFF:
        return forms.DecimalField(
            max_digits=5, decimal_places=3, min_value=Decimal(0), max_value=Decimal("9.999"), widget=ZheInput, **common
        )
    if kind == ParamKind.INTEGER:
        return forms.IntegerField(
            min_value=int(param.minimum) if param.minimum is not None else None,
            max_value=int(param.maximum) if param.maximum is not None else None,
            **common,
        )
    if kind in (ParamKind.DISH, ParamKind.DISHES, ParamKind.CATEGORIES):
        product, category, dish_relation, category_relation = _menu()
        if kind == ParamKind.DISH:
            # A gift only from the dishes on sale: checkout refuses the others (GIFT_UNAVAILABLE).
            return forms.ModelChoiceField(
                queryset=dishes_on_sale(), widget=AutocompleteSelect(dish_relation, admin.site), **common
            )
        if kind == ParamKind.DISHES:
            return forms.ModelMultipleChoiceField(
                queryset=product.objects.all(), widget=AutocompleteSelectMultiple(dish_relation, admin.site), **common
            )
        return forms.ModelMultipleChoiceField(
            queryset=category.objects.all(),
            widget=AutocompleteSelectMultiple(category_relation, admin.site),
            **common,
        )
    if kind == ParamKind.TIME_SLOTS:
        return SlotsField(**common)
    if kind == ParamKind.WEEKDAYS:
        return forms.TypedMultipleChoiceField(
            choices=[(day, gettext_lazy(name)) for day, name in enumerate(_WEEKDAY_NAMES, start=1)],
            coerce=int,
            widget=forms.CheckboxSelectMultiple,
            **common,
        )
    if kind == ParamKind.CHANNELS:
        channel_labels = dict(Channel.choices)
        return forms.MultipleChoiceField(
            choices=[(c, channel_labels.get(c, c)) for c in param.choices],
            widget=forms.CheckboxSelectMultiple,
            **common,
        )
    if kind == ParamKind.COUPON_TYPES:
        return forms.MultipleChoiceField(
            choices=[(t, gettext_lazy(KINDS[t].label) if t in KINDS else t) for t in param.choices],
            widget=forms.CheckboxSelectMultiple,
            **common,
        )
    if kind == ParamKind.BOOL:
        return forms.BooleanField(**{**common, "required": False})
    if kind == ParamKind.CHOICE:
        shown: list[Any] = [gettext_lazy(text) for text in param.choice_labels] or list(param.choices)
        return forms.ChoiceField(choices=list(zip(param.choices, shown, strict=False)), initial=param.default, **common)
    raise ValueError(f"no form field for {kind}")


def keep_stored(param: Param, field: forms.Field, initial: Any) -> None:
    """Let a dish picker narrowed to the dishes on sale still show and take back the dish a draft
    stored before it went off sale, so that saving names it in the refusal instead of dropping it."""
    if param.kind == ParamKind.DISH and initial is not None and isinstance(field, forms.ModelChoiceField):
        product, _category, _dish, _category_relation = _menu()
        field.queryset = field.queryset | product.objects.filter(pk=initial)


def to_json(param: Param, cleaned: Any) -> Any:
    """The JSON of one cleaned field, or ``MISSING`` for an empty optional entry."""
    kind = param.kind
    if kind == ParamKind.BOOL:
        return bool(cleaned)
    if cleaned in (None, "", [], ()):
        return MISSING
    if kind == ParamKind.MONEY:
        return str(Decimal(cleaned).quantize(_CENT))
    if kind == ParamKind.PERCENT_OFF:
        off = Decimal(100) - Decimal(cleaned) * 10
        return int(off) if off == off.to_integral_value() else format(off.normalize(), "f")
    if kind == ParamKind.DISH:
        return cleaned.sku
    if kind == ParamKind.DISHES:
        return sorted(product.sku for product in cleaned)
    if kind == ParamKind.CATEGORIES:
        return sorted(category.code for category in cleaned)
    if kind == ParamKind.WEEKDAYS:
        return sorted(int(day) for day in cleaned)
    if kind in (ParamKind.CHANNELS, ParamKind.COUPON_TYPES):
        return sorted(cleaned, key=param.choices.index)  # the engine's order
    return cleaned


def from_json(param: Param, raw: Any) -> Any:
    """The initial of the field from the stored JSON (menu entries that are gone show as empty)."""
    kind = param.kind
    if raw is None:
        return None
    if kind == ParamKind.PERCENT_OFF:
        return zhe(raw)
    if kind == ParamKind.TIME_SLOTS:
        return SlotsWidget().decompress(raw)  # the widget's flat start/end list, as the field compares it
    if kind in (ParamKind.DISH, ParamKind.DISHES, ParamKind.CATEGORIES):
        product, category, _dish, _category = _menu()
        if kind == ParamKind.DISH:
            return product.objects.filter(sku=raw).values_list("pk", flat=True).first()
        model, key = (product, "sku") if kind == ParamKind.DISHES else (category, "code")
        return list(
            model.objects.filter(**{f"{key}__in": raw if isinstance(raw, list) else []}).values_list("pk", flat=True)
        )
    return raw
