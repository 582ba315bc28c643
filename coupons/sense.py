"""The sense checks of a template, rendered for staff: errors refuse it (admin form and staff
API alike), warnings must be confirmed before it is saved (the admin editor's box, the staff API's
``confirm_warnings``; ``coupons.services.templates`` records the confirmation)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext

from coupons.engine import DefinitionError, SenseCode, SenseIssue, read_definition, sense_check
from coupons.engine.messages import gettext_noop
from coupons.models import UNLIMITED

_MESSAGES: Mapping[str, str] = {
    SenseCode.DISCOUNT_AT_THRESHOLD: gettext_noop(
        "The discount (¥%(amount)s) is at or above its own spend threshold (¥%(threshold)s): "
        "it can never be given as designed."
    ),
    # xgettext:no-python-format
    SenseCode.FULL_DISCOUNT_WITHOUT_CAP: gettext_noop("100 % off without a cap: every order it is used on is free."),
    SenseCode.LARGE_PERCENTAGE: gettext_noop("More than 50 %% off (%(percentage)s %% off)."),
    SenseCode.UNLIMITED_WITHOUT_PER_USER_LIMIT: gettext_noop(
        "Unlimited stock and no per-user limit: one customer can claim without end."
    ),
}


def render_sense(issue: SenseIssue) -> str:
    return gettext(_MESSAGES[issue.code]) % issue.params if issue.params else gettext(_MESSAGES[issue.code])


def sense_issues(fields: Mapping[str, Any]) -> list[SenseIssue]:
    """The sense issues of a template's (already checked) fields; none when the definition is invalid."""
    try:
        definition = read_definition(fields.get("type"), fields.get("value"), fields.get("usage_rules") or [])
    except DefinitionError:
        return []
    total = fields.get("total_quantity", UNLIMITED)
    per_user = fields.get("per_user_limit", 1)
    return sense_check(
        definition,
        total_quantity=total if isinstance(total, int) else UNLIMITED,
        per_user_limit=per_user if isinstance(per_user, int) else 1,
    )


def sense_errors(fields: Mapping[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for issue in sense_issues(fields):
        if not issue.warning:
            errors.setdefault(issue.field, []).append(render_sense(issue))
    return errors


def warning_issues(fields: Mapping[str, Any]) -> list[SenseIssue]:
    return [issue for issue in sense_issues(fields) if issue.warning]


def sense_warnings(fields: Mapping[str, Any]) -> list[str]:
    return [render_sense(issue) for issue in warning_issues(fields)]
