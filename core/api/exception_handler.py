"""Renders every API error as {"error": {"code", "message", "details"}} (SPEC section 8)."""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

from core.errors import ApplicationError, TooManyRequests


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        refusal = Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
        if isinstance(exc, TooManyRequests) and exc.retry_after:
            refusal["Retry-After"] = str(exc.retry_after)
        return refusal
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, exceptions.ValidationError):
        details = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = error_body("VALIDATION_ERROR", _("The request is not valid."), details)
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response.data = error_body("NOT_AUTHENTICATED", str(exc.detail))
    elif isinstance(exc, exceptions.PermissionDenied):
        response.data = error_body("PERMISSION_DENIED", str(exc.detail))
    elif isinstance(exc, exceptions.NotFound):
        response.data = error_body("NOT_FOUND", _("Not found."))
    elif isinstance(exc, exceptions.Throttled):
        response.data = error_body("THROTTLED", str(exc.detail), {"retry_after": getattr(exc, "wait", None)})
    elif isinstance(exc, exceptions.ParseError):
        response.data = error_body("MALFORMED_REQUEST", str(exc.detail))
    elif isinstance(exc, exceptions.APIException):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        response.data = error_body(str(code).upper(), str(exc.detail))
    return response
