"""The OpenAPI schema's project rules: what drf-spectacular cannot see in a view, derived once here.

Every operation documents the error answers it can give, in the spec's error shape (``Error``):
400 where there is input (a body or query parameters), 401 where credentials are read, 403 where a
permission beyond "signed in" is checked or a cookie session needs its CSRF token, 404 for paths naming
an object and for pages past the end, 415 where a body is parsed, 422 where an ``Idempotency-Key`` is
honoured, 429 where a throttle applies, and whatever the view declares with ``@refuses(...)`` (409s and
the domain's own codes). Request bodies of ``StrictSerializer`` refuse unknown properties, and text
fields carry the rules DRF applies to them (no NUL character, not blank unless allowed).
"""

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from django.core.validators import RegexValidator
from drf_spectacular.drainage import get_override
from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import permissions, serializers
from rest_framework.authentication import SessionAuthentication

from core.api.serializers import StrictSerializer
from core.errors import ApplicationError, IdempotencyMismatch, TooManyRequests

F = TypeVar("F", bound=Callable[..., Any])

BODY_METHODS = {"POST", "PUT", "PATCH"}
UNSAFE_METHODS = BODY_METHODS | {"DELETE"}

# A text field: no NUL character (DRF refuses it) and, unless blank is allowed, something besides
# whitespace (DRF trims it).
TEXT_PATTERN = r"^[^\x00]*$"
NON_BLANK_TEXT_PATTERN = r"^[^\x00]*[^\x00\s][^\x00]*$"
# A text kept as typed (``trim_whitespace=False``, a password): any character but NUL, at least one.
NON_EMPTY_TEXT_PATTERN = r"^[^\x00]+$"


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class ErrorSerializer(serializers.Serializer):
    """``{"error": {"code", "message", "details"}}``: every error answer of the API."""

    error = ErrorBodySerializer()


def refuses(*errors: type[ApplicationError]) -> Callable[[F], F]:
    """Declares the refusals a view method answers beyond what its auth, path and input imply (the 409s,
    a 404 for an object named in the body, a domain 403 or 429); the schema documents their statuses and
    codes."""

    def mark(view_method: F) -> F:
        view_method.refusals = (*getattr(view_method, "refusals", ()), *errors)  # type: ignore[attr-defined]
        return view_method

    return mark


def _declared_code(error: type[ApplicationError]) -> str:
    return str(error.default_code)


class AutoSchema(BaseAutoSchema):
    def _get_serializer_name(self, serializer, direction, bypass_extensions=False):
        """Names nested serializers after their view (``TokenApi.InputSerializer`` -> ``TokenInput``), so
        the one-view-one-serializer style gives distinct OpenAPI components."""
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        cls = serializer if isinstance(serializer, type) else serializer.__class__
        owner = cls.__qualname__.split(".")[0] if "." in cls.__qualname__ else ""
        if owner and not name.startswith(owner):
            name = owner.removesuffix("Api") + name
        return name

    # Parameters -----------------------------------------------------------------------------------

    def _view_method(self) -> Any:
        return getattr(self.view, self.method.lower(), None)

    def _is_idempotent(self) -> bool:
        # Keys are kept per user: an endpoint that reads no credentials (registration) ignores them.
        return bool(getattr(self._view_method(), "idempotent", False)) and bool(
            getattr(self.view, "authentication_classes", ())
        )

    def get_override_parameters(self) -> list:
        parameters = list(super().get_override_parameters())
        if self._is_idempotent():
            parameters += [
                OpenApiParameter(
                    "Idempotency-Key",
                    {"type": "string", "maxLength": 255},
                    OpenApiParameter.HEADER,
                    description="Repeating the request with the same key within the retention period "
                    "replays the first answer and does nothing again; the same key with another request is 422.",
                ),
                OpenApiParameter(
                    "Idempotent-Replayed",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    response=True,
                    enum=["true"],
                    description="Present when the answer is the replay of an earlier request with this key.",
                ),
            ]
        if self._is_throttled():
            parameters.append(
                OpenApiParameter(
                    "Retry-After",
                    OpenApiTypes.INT,
                    OpenApiParameter.HEADER,
                    response=[429],
                    description="Seconds to wait before trying again.",
                )
            )
        return parameters

    # Request bodies -------------------------------------------------------------------------------

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        declared = get_override(field, "field")
        if isinstance(declared, dict):
            schema.update(declared)  # drf-spectacular adds minLength 1 to a declared schema; the declaration wins
        if direction != "request" or field.read_only:
            return schema
        if isinstance(field, serializers.CharField) and "pattern" not in schema and "format" not in schema:
            schema["pattern"] = _validator_pattern(field) or (
                TEXT_PATTERN
                if field.allow_blank
                else NON_BLANK_TEXT_PATTERN
                if field.trim_whitespace
                else NON_EMPTY_TEXT_PATTERN
            )
        elif isinstance(field, serializers.DecimalField) and schema.get("type") == "string":
            schema["pattern"] = _decimal_pattern(field)
        elif isinstance(field, serializers.ListSerializer):
            if not field.allow_empty:
                schema["minItems"] = max(schema.get("minItems", 0), 1)
            if getattr(field, "max_length", None) is not None:
                schema["maxItems"] = field.max_length
        return schema

    # Responses ------------------------------------------------------------------------------------

    def _refusals(self) -> tuple[type[ApplicationError], ...]:
        return tuple(getattr(self._view_method(), "refusals", ()))

    def _has_query_input(self) -> bool:
        return any(parameter["in"] == "query" for parameter in self._get_parameters())

    def _is_throttled(self) -> bool:
        return bool(getattr(self.view, "throttle_classes", None)) or any(
            issubclass(error, TooManyRequests) for error in self._refusals()
        )

    def _is_paginated(self) -> bool:
        return self.method == "GET" and getattr(self.view, "pagination_class", None) is not None

    def _error_statuses(self) -> dict[int, list[str]]:
        """Status -> the error codes that status carries on this operation."""
        statuses: dict[int, list[str]] = {}

        def add(status: int, *codes: str) -> None:
            known = statuses.setdefault(status, [])
            known += [code for code in codes if code not in known]

        view = self.view
        authenticators = list(getattr(view, "authentication_classes", ()))
        permission_classes = list(getattr(view, "permission_classes", ()))
        if self.method in BODY_METHODS or self._has_query_input():
            add(400, "VALIDATION_ERROR", "MALFORMED_REQUEST")
        if authenticators:
            add(401, "NOT_AUTHENTICATED")
        needs_more_than_login = any(
            not (isinstance(cls, type) and issubclass(cls, (permissions.AllowAny, permissions.IsAuthenticated)))
            for cls in permission_classes
        )
        csrf = self.method in UNSAFE_METHODS and any(issubclass(cls, SessionAuthentication) for cls in authenticators)
        if needs_more_than_login or csrf:
            add(403, "PERMISSION_DENIED")
        if re.search(r"{\w+}", self.path) or self._is_paginated():
            add(404, "NOT_FOUND")
        if self.method in BODY_METHODS:
            add(415, "UNSUPPORTED_MEDIA_TYPE")
        if self._is_idempotent():
            add(422, _declared_code(IdempotencyMismatch))
        if self._is_throttled():
            add(429, _declared_code(TooManyRequests))
        for error in self._refusals():
            add(error.status_code, _declared_code(error))
        return statuses

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status, codes in sorted(self._error_statuses().items()):
            if str(status) in responses:
                continue
            described = OpenApiResponse(ErrorSerializer, description="Error codes: " + ", ".join(codes) + ".")
            responses[str(status)] = self._get_response_for_code(
                described, str(status), ["application/json"], direction=direction
            )
        if any(parameter["in"] in ("query", "path") for parameter in self._get_parameters()):
            # gunicorn refuses a request line over 4 KiB before the application sees it.
            responses["414"] = {"description": "URI too long: answered by the web server, not in the error shape."}
        return responses


def _validator_pattern(field: serializers.CharField) -> str | None:
    """The pattern of a field's regex validator (a ``SlugField``'s), which drf-spectacular leaves out."""
    for validator in field.validators:
        if isinstance(validator, RegexValidator) and not validator.inverse_match:
            regex = validator.regex
            return str(getattr(regex, "pattern", regex)).replace(r"\Z", "$")
    return None


def _decimal_pattern(field: serializers.DecimalField) -> str:
    """A decimal as a string, bounded as DRF bounds it: digits before and after the point, no sign when
    the minimum is not negative, and a power-of-ten maximum (1000000) as a bound on the digits."""
    places = field.decimal_places or 0
    whole = (field.max_digits or 20) - places
    sign = "" if field.min_value is not None and Decimal(field.min_value) >= 0 else "-?"
    fraction = rf"(?:\.\d{{1,{places}}})?" if places else ""
    top = Decimal(field.max_value) if field.max_value is not None else None
    if top is not None and top > 1 and top == top.to_integral_value() and str(int(top)).strip("0") == "1":
        digits = len(str(int(top))) - 1
        exact = str(int(top)) + (rf"(?:\.0{{1,{places}}})?" if places else "")
        return rf"^{sign}(?:\d{{1,{digits}}}{fraction}|{exact})$"
    return rf"^{sign}\d{{1,{whole}}}{fraction}$"


def slash_optional_paths(endpoints: list[tuple[str, str, str, Any]], **kwargs: Any) -> list[tuple[str, str, str, Any]]:
    """Preprocessing hook: a route answered with and without a trailing slash (``core.api.routes``) is
    documented by its canonical form: without the slash, its escaped characters as they are (``codes.csv``)."""
    return [
        (re.sub(r"\\(.)", r"\1", path).rstrip("/") if regex.endswith("/?$") else path, regex, method, callback)
        for path, regex, method, callback in endpoints
    ]


_ID_PATTERN = "^[0-9]{1,18}$"


def numeric_path_ids(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: an id in a path routed by a pattern of digits (``core.api.routes``) is an integer,
    as ``path``'s ``int`` makes it (at most 18 digits: longer is a 404)."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "path" and parameter.get("schema", {}).get("pattern") == _ID_PATTERN:
                    parameter["schema"] = {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}
    return result
