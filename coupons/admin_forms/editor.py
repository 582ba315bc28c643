"""The template editor: a coupon template designed in admin without writing JSON.

The form's fields come from the declarations: one field per param of every coupon type (named
``value__<TYPE>__<param>``, shown for the chosen type) and a formset of usage-rule rows (prefix
``rules``), each row holding a ``rule_type`` choice and one field per param of every rule
(``<RULE_TYPE>__<param>``, shown for the chosen rule), with ``ORDER`` and ``DELETE``. The audience is
``target_type`` with its own fields. Cleaning turns them into the JSON the model and the staff API use,
and checks it with the same code as the staff API; engine problems land on the field they name.
Sense-check warnings need ``confirm_warnings`` ticked before the template is saved.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms import formset_factory
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.members import MemberLevel, UserType, member_tags
from coupons.admin_forms.fields import MISSING, form_field, from_json, keep_stored, to_json
from coupons.engine import KINDS, RULES, DefinitionError, Param, ParamKind, Problem, read_definition
from coupons.models import CouponTemplate, CouponType
from coupons.providers import order_facts
from coupons.reasons import render_problem
from coupons.sense import sense_warnings
from coupons.services.templates import EDITABLE_FIELDS
from coupons.validation import clean_template_fields

JSON_FIELDS = ("value", "usage_rules", "target")
MODEL_FIELDS = [name for name in EDITABLE_FIELDS if name not in JSON_FIELDS]
TARGET_TYPES = [
    ("ALL", _("Everybody")),
    ("NEW_USER", _("New customers")),
    ("MEMBER_LEVELS", _("Member levels")),
    ("TAGS", _("Member tags")),
    ("USER_TYPE", _("Customer type")),
]
TARGET_FIELD = {
    "NEW_USER": "target_days",
    "MEMBER_LEVELS": "target_levels",
    "TAGS": "target_tags",
    "USER_TYPE": "target_user_type",
}
_KEY_BASE = re.compile(r"^[A-Za-z_]+")


def value_field_name(coupon_type: str, param: str) -> str:
    return f"value__{coupon_type}__{param}"


def rule_field_name(rule_type: str, param: str) -> str:
    return f"{rule_type}__{param}"


def _problem_key(params: Any) -> str | None:
    match = _KEY_BASE.match(str(params.get("key") or params.get("min_key") or ""))
    return match.group(0) if match else None


def _field_label(form: forms.BaseForm, field_name: Callable[[str], str]) -> Callable[[str], str | None]:
    """The label of the form's field for a key (``field_name`` makes the field's name), if there is one."""

    def label_of(key: str) -> str | None:
        field = form.fields.get(field_name(key))
        return None if field is None or not field.label else str(field.label)

    return label_of


def _with_labels(problem: Problem, label_of: Callable[[str], str | None], rule_label: str | None = None) -> Problem:
    """``problem`` naming the editor's fields by their labels, not the stored JSON's keys nobody types
    ("最少（元）" for ``min_amount``), and its rule by its label; a key without a field is kept."""

    def labelled(key: Any) -> Any:
        if not isinstance(key, str):
            return key
        match = _KEY_BASE.match(key)
        label = label_of(match.group(0)) if match else None
        return key if label is None else label + key[match.end() :] if match else key

    params = dict(problem.params)
    for name in ("key", "min_key", "max_key"):
        if name in params:
            params[name] = labelled(params[name])
    if isinstance(params.get("keys"), list):
        params["keys"] = [labelled(key) for key in params["keys"]]
    if rule_label is not None and params.get("rule_type"):
        params["rule_type"] = rule_label
    return Problem(problem.field, problem.code, params)


# usage-rule rows --------------------------------------------------------------------------------------


class RuleRowForm(forms.Form):
    """One usage rule. Fields are added per registered rule class when the form class is built."""

    rule_type = forms.ChoiceField(label=_("rule"))

    def param_fields(self) -> list[tuple[str, forms.BoundField]]:
        """(rule_type, bound field) of every param field, for the row template."""
        return [(self.fields[name].rule_type, self[name]) for name in self.fields if "__" in name]  # type: ignore[attr-defined]

    def rule_json(self) -> dict[str, Any] | None:
        rule_type = str(self.cleaned_data.get("rule_type") or "")
        rule_class = RULES.get(rule_type)
        if rule_class is None:
            return None
        params = {}
        for param in rule_class.params:
            shown = to_json(param, self.cleaned_data.get(rule_field_name(rule_type, param.name)))
            if shown is not MISSING:
                params[param.name] = shown
        return {"rule_type": rule_type, "params": params}

    @staticmethod
    def initial_for(rule: Any) -> dict[str, Any]:
        if not isinstance(rule, dict) or rule.get("rule_type") not in RULES:
            return {}
        rule_type = rule["rule_type"]
        raw = rule.get("params")
        params: dict[str, Any] = raw if isinstance(raw, dict) else {}
        initial: dict[str, Any] = {"rule_type": rule_type}
        for param in RULES[rule_type].params:
            initial[rule_field_name(rule_type, param.name)] = from_json(param, params.get(param.name))
        return initial


def rule_row_form_class() -> type[RuleRowForm]:
    """The row form with the fields of every rule registered now."""
    attrs: dict[str, Any] = {}
    for rule_type, rule_class in RULES.items():
        for param in rule_class.params:
            field = form_field(param)
            field.rule_type = rule_type  # type: ignore[attr-defined]
            field.widget.attrs["data-rule-type"] = rule_type
            attrs[rule_field_name(rule_type, param.name)] = field
    form_class: type[RuleRowForm] = type("RuleRowForm", (RuleRowForm,), attrs)
    choices = [("", "---------")] + [
        (rule_type, _(rule_class.label) if rule_class.label else rule_type) for rule_type, rule_class in RULES.items()
    ]
    form_class.base_fields["rule_type"] = forms.ChoiceField(
        label=_("rule"),
        choices=choices,
        widget=forms.Select(attrs={"class": "rule-type"}),
    )
    return form_class


class BaseRuleFormSet(forms.BaseFormSet):
    def rules_json(self) -> tuple[list[dict[str, Any]], list[RuleRowForm]]:
        """The rules in the chosen order, and the row each came from."""
        rules, rows = [], []
        for form in self.ordered_forms:  # type: ignore[attr-defined]
            rule = form.rule_json()
            if rule is not None:
                rules.append(rule)
                rows.append(form)
        return rules, rows


def rule_formset_class() -> type[BaseRuleFormSet]:
    return formset_factory(  # type: ignore[return-value]
        rule_row_form_class(), formset=BaseRuleFormSet, extra=0, can_order=True, can_delete=True
    )


# the template form ------------------------------------------------------------------------------------


class TemplateEditorForm(forms.ModelForm):
    """Value fields are added per coupon type by ``editor_form_class``."""

    target_type = forms.ChoiceField(label=_("who may claim"), choices=TARGET_TYPES, initial="ALL")
    target_days = forms.IntegerField(label=_("registered within (days)"), required=False, min_value=1, max_value=365)
    target_levels = forms.MultipleChoiceField(
        label=_("member levels"), required=False, choices=MemberLevel.choices, widget=forms.CheckboxSelectMultiple
    )
    target_tags = forms.MultipleChoiceField(
        label=_("member tags"), required=False, choices=(), widget=forms.CheckboxSelectMultiple
    )
    target_user_type = forms.ChoiceField(
        label=_("customer type"), required=False, choices=[("", "---------"), *UserType.choices]
    )
    confirm_warnings = forms.BooleanField(
        label=_("I have read the warnings and want to save this template as it is"), required=False
    )

    class Meta:
        model = CouponTemplate
        fields = MODEL_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        instance = self.instance
        stored_tags = list((instance.target or {}).get("tags") or []) if instance.pk else []
        names = sorted(set(member_tags()) | set(stored_tags))
        self.fields["target_tags"].choices = [(name, name) for name in names]  # type: ignore[attr-defined]
        self.warnings: list[str] = []
        if not instance.pk:
            self.initial.setdefault("type", CouponType.CASH_VOUCHER)
        rules_initial: list[dict[str, Any]] = []
        if instance.pk:
            self._initial_from(instance)
            current = sense_warnings({name: getattr(instance, name) for name in EDITABLE_FIELDS})
            if current:
                self.fields["confirm_warnings"].help_text = " ".join(current)
            rules_initial = [RuleRowForm.initial_for(rule) for rule in instance.usage_rules or []]
            rules_initial = [row for row in rules_initial if row]
            for order, row in enumerate(rules_initial, start=1):
                row["ORDER"] = order
        self.rules = rule_formset_class()(
            self.data if self.is_bound else None, prefix="rules", initial=rules_initial or None
        )

    def _initial_from(self, instance: CouponTemplate) -> None:
        kind = KINDS.get(instance.type)
        value = instance.value if isinstance(instance.value, dict) else {}
        if kind is not None:
            for param in kind.params:
                name = value_field_name(kind.coupon_type, param.name)
                self.initial[name] = from_json(param, value.get(param.name))
                keep_stored(param, self.fields[name], self.initial[name])
        target = instance.target if isinstance(instance.target, dict) else {}
        self.initial["target_type"] = target.get("type", "ALL")
        self.initial["target_days"] = target.get("days")
        self.initial["target_levels"] = target.get("levels") or []
        self.initial["target_tags"] = target.get("tags") or []
        self.initial["target_user_type"] = target.get("user_type") or ""

    # building the JSON ------------------------------------------------------------------------------

    def _value_json(self, coupon_type: str) -> dict[str, Any]:
        value: dict[str, Any] = {}
        kind = KINDS.get(coupon_type)
        if kind is None:
            return value
        for param in kind.params:
            shown = to_json(param, self.cleaned_data.get(value_field_name(coupon_type, param.name)))
            if shown is not MISSING:
                value[param.name] = shown
        return value

    def _target_json(self) -> dict[str, Any]:
        kind = self.cleaned_data.get("target_type") or "ALL"
        data = self.cleaned_data
        if kind == "NEW_USER":
            return {"type": kind, "days": data.get("target_days")}
        if kind == "MEMBER_LEVELS":
            return {"type": kind, "levels": list(data.get("target_levels") or [])}
        if kind == "TAGS":
            return {"type": kind, "tags": list(data.get("target_tags") or [])}
        if kind == "USER_TYPE":
            return {"type": kind, "user_type": data.get("target_user_type") or None}
        return {"type": "ALL"}

    # checking ---------------------------------------------------------------------------------------

    def _definition_problems(self, coupon_type: str, value: dict[str, Any], rows: list[RuleRowForm]) -> bool:
        """Put the engine's problems on the fields they name; True when there were any."""
        try:
            read_definition(coupon_type, value, [row.rule_json() for row in rows])
        except DefinitionError as exc:
            for problem in exc.problems:
                key = _problem_key(problem.params)
                index = problem.params.get("index")
                if problem.field == "value":
                    value_label = _field_label(self, functools.partial(value_field_name, coupon_type))
                    message = render_problem(_with_labels(problem, value_label))
                    name = value_field_name(coupon_type, key) if key else None
                    self.add_error(name if name in self.fields else None, message)
                elif isinstance(index, int) and index < len(rows):
                    row = rows[index]
                    rule_type = row.cleaned_data.get("rule_type") or ""
                    choices = dict(row.fields["rule_type"].choices)  # type: ignore[attr-defined]
                    label = str(choices[rule_type]) if rule_type in choices else None
                    field_label = _field_label(row, functools.partial(rule_field_name, rule_type))
                    message = render_problem(_with_labels(problem, field_label, label))
                    name = rule_field_name(rule_type, key) if key else None
                    row.add_error(name if name in row.fields else None, message)
                    self.add_error(None, message)
                else:
                    self.add_error(None, render_problem(problem))
            return True
        return False

    def _add_field_errors(self, exc: ValidationError) -> None:
        target_kind = self.cleaned_data.get("target_type") or "ALL"
        for field, messages in exc.message_dict.items():
            if field == "target":
                name = TARGET_FIELD.get(target_kind, "target_type")
            elif field in ("value", "usage_rules"):
                name = None
            else:
                name = field if field in self.fields else None
            for message in messages:
                self.add_error(name, message)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        rules_valid = self.rules.is_valid()
        if not rules_valid:
            self.add_error(None, gettext("Please correct the usage rules below."))
        if self.errors:
            return cleaned
        coupon_type = cleaned.get("type") or ""
        value = self._value_json(coupon_type)
        usage_rules, rows = self.rules.rules_json()
        if coupon_type in CouponType.values and self._definition_problems(coupon_type, value, rows):
            return cleaned
        fields = {name: cleaned.get(name) for name in MODEL_FIELDS}
        fields.update(value=value, usage_rules=usage_rules, target=self._target_json())
        try:
            checked = clean_template_fields(fields)
        except ValidationError as exc:
            self._add_field_errors(exc)
            return cleaned
        cleaned.update(checked)
        self.warnings = sense_warnings(checked)
        gone = menu_entries_gone(self.instance.usage_rules if self.instance.pk else [])
        if gone:
            # The pickers cannot show what left the menu: saving leaves it out of the rules, which can
            # change what a rule means ("all of these" over fewer dishes). The author confirms that.
            self.warnings.append(
                gettext(
                    "These dishes or categories the rules named are no longer on the menu and are left out: "
                    "%(entries)s."
                )
                % {"entries": ", ".join(gone)}
            )
        if self.warnings and not cleaned.get("confirm_warnings"):
            for warning in self.warnings:
                self.add_error("confirm_warnings", warning)
            self.add_error(
                "confirm_warnings", gettext("Tick the box to confirm these warnings, or change the template.")
            )
        return cleaned


def editor_form_class() -> type[TemplateEditorForm]:
    """The editor form with a field per param of every coupon type."""
    attrs: dict[str, Any] = {}
    for coupon_type, kind in KINDS.items():
        for param in kind.params:
            field = form_field(param)
            field.widget.attrs["data-coupon-type"] = coupon_type
            attrs[value_field_name(coupon_type, param.name)] = field
    return type("TemplateEditorForm", (TemplateEditorForm,), attrs)


def value_fieldsets() -> list[tuple[Any, dict[str, Any]]]:
    """One fieldset per coupon type, shown by editor.js when that type is chosen."""
    return [
        (
            _(kind.label) if kind.label else coupon_type,
            {
                "fields": [value_field_name(coupon_type, param.name) for param in kind.params],
                "classes": ["coupon-value", f"coupon-value-{coupon_type}"],
            },
        )
        for coupon_type, kind in KINDS.items()
    ]


def menu_entries_gone(usage_rules: Any) -> list[str]:
    """The dish skus and category codes stored rules name that the menu no longer holds."""
    wanted: dict[ParamKind, set[str]] = {ParamKind.DISHES: set(), ParamKind.CATEGORIES: set()}
    for rule in usage_rules if isinstance(usage_rules, list) else []:
        if not isinstance(rule, dict) or not isinstance(rule.get("params"), dict):
            continue
        for param in params_of(str(rule.get("rule_type", ""))):
            raw = rule["params"].get(param.name)
            if param.kind in wanted and isinstance(raw, list):
                wanted[param.kind] |= {entry for entry in raw if isinstance(entry, str)}
    if not any(wanted.values()):
        return []
    product, category, _dish, _category = order_facts().menu_pickers()
    skus = set(product.objects.filter(sku__in=wanted[ParamKind.DISHES]).values_list("sku", flat=True))
    codes = set(category.objects.filter(code__in=wanted[ParamKind.CATEGORIES]).values_list("code", flat=True))
    return sorted(wanted[ParamKind.DISHES] - skus) + sorted(wanted[ParamKind.CATEGORIES] - codes)


def params_of(rule_type: str) -> tuple[Param, ...]:
    rule_class = RULES.get(rule_type)
    return rule_class.params if rule_class else ()
