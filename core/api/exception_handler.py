"""Renders every API error as {"error": {"code", "message", "details"}}."""

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.signals import got_request_exception
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

from core.db import is_connection_lost
from core.errors import ApplicationError, TooManyRequests

logger = logging.getLogger("django.request")


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

    elif isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
        message = _("The request body is too large (%(limit)d bytes at most).") % {"limit": limit}
        return Response(error_body("PAYLOAD_TOO_LARGE", message, {"limit": limit}), status=413)
    elif isinstance(exc, SuspiciousOperation):
        return Response(error_body("MALFORMED_REQUEST", _("The request could not be read.")), status=400)
    elif isinstance(exc, RecursionError):  # a structure nested past what the code walking it can follow
        return Response(error_body("MALFORMED_REQUEST", _("The request nests too deeply.")), status=400)

    response = exception_handler(exc, context)
    if response is None:
        return _unforeseen(exc, context)

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


def _unforeseen(exc: Exception, context: dict[str, Any]) -> Response | None:
    """An error no handler foresaw: logged with its traceback as Django would, answered as a 500 in
    the error shape. A lost database connection goes on up to ``DatabaseLossMiddleware``, which
    retries the request or answers 503."""
    if is_connection_lost(exc):
        return None
    drf_request = context.get("request")
    request = getattr(drf_request, "_request", drf_request)
    got_request_exception.send(sender=None, request=request)
    logger.error(
        "Internal Server Error: %s",
        getattr(request, "path", "?"),
        exc_info=exc,
        extra={"status_code": 500, "request": request},
    )
    body = error_body("INTERNAL_ERROR", _("Something went wrong on our side; try again later."))
    return Response(body, status=500)
