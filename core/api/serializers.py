from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.contrib.auth import password_validation
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.clock import MAX_YEAR, MIN_YEAR

# The JSON type each kind of field takes: DRF would also coerce 1 into true, 5 into "5" and "5" into 5,
# which the schema does not allow. Money comes as a string, never as a (binary floating point) number.
_JSON_TYPES: list[tuple[type[serializers.Field], type | tuple[type, ...]]] = [
    (serializers.BooleanField, bool),
    (serializers.CharField, str),
    (serializers.DecimalField, str),
    (serializers.IntegerField, int),
    (serializers.SlugRelatedField, str),
]


def _wrong_json_type(field: serializers.Field, value: Any) -> bool:
    if value is None:
        return False  # the field's allow_null decides
    for kind, json_type in _JSON_TYPES:
        if isinstance(field, kind):
            return not isinstance(value, json_type) or (json_type is int and isinstance(value, bool))
    return False


class StrictSerializer(serializers.Serializer):
    # Refuses fields it does not know: a misspelt or workflow-owned field (``status``, ``revoke_unsued``,
    # ``coupon_id``) is an error, never silently dropped. In a JSON body each field takes its own JSON type
    # only. The schema says both (``additionalProperties: false`` and the types; ``core.api.schema``).
    # (Comments, not a docstring: a docstring would become every subclass's description in the schema.)

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {name: [_("This field cannot be set.")] for name in sorted(set(data) - set(self.fields))}
            if not isinstance(data, QueryDict):  # a form's values are all text
                errors |= {
                    name: [field.error_messages["invalid"]]
                    for name, field in self.fields.items()
                    if name in data and not field.read_only and _wrong_json_type(field, data[name])
                }
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class QuerySerializer(serializers.Serializer):
    # Query parameters: an empty value (``?status=``) is validated like any other and refused unless the
    # field allows blanks. DRF reads a form's empty optional field as absent, which would turn
    # ``?status=`` into "no filter".

    def to_internal_value(self, data):
        if isinstance(data, QueryDict):
            data = data.dict()
        return super().to_internal_value(data)


def _password_rules() -> dict[str, Any]:
    """The password rules the schema can state, read from ``AUTH_PASSWORD_VALIDATORS``: the minimum
    length and "not entirely numeric" (similarity and common passwords are checked by the server only)."""
    schema: dict[str, Any] = {"type": "string", "maxLength": 128, "pattern": r"^[^\x00]*$"}
    for validator in password_validation.get_default_password_validators():
        if isinstance(validator, password_validation.MinimumLengthValidator):
            schema["minLength"] = validator.min_length
        elif isinstance(validator, password_validation.NumericPasswordValidator):
            schema["pattern"] = r"^[^\x00]*[^\x00\d][^\x00]*$"
    return schema


# Django's MinimumLengthValidator says this, and Django's own Chinese catalog does not translate it: this
# project's catalog does. Named here so that makemessages keeps it in the catalog (it is never shown from here).
PASSWORD_TOO_SHORT = ngettext_lazy(
    "This password is too short. It must contain at least %d character.",
    "This password is too short. It must contain at least %d characters.",
    "min_length",
)


@extend_schema_field(_password_rules())
class PasswordField(serializers.CharField):
    """A new password: kept as typed (no trimming); Django's validators judge it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=128, trim_whitespace=False, write_only=True, **kwargs)


class BoundedDateTimeField(serializers.DateTimeField):
    """A datetime input: a date outside years 2 to 9998, or one no time zone can hold, is refused with
    DRF's "out of range" message (in the reader's language) instead of overflowing. The schema still says
    ``date-time``. Every staff datetime input uses it."""

    def enforce_timezone(self, value: datetime) -> datetime:
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            self.fail("overflow")
        try:
            return super().enforce_timezone(value)
        except OverflowError:
            self.fail("overflow")


def seen_version_field() -> serializers.DateTimeField:
    """A review's ``updated_at``: the version the reviewer read (``core.review.Workflow.begin``)."""
    return BoundedDateTimeField(
        required=False,
        help_text="The `updated_at` of the version the reviewer read: refused with 409 INVALID_STATE if it was"
        " saved since.",
    )
