"""Django's error views for paths under ``/api/``: the API's error shape whatever failed and wherever
(an unknown path, a body Django refused before any view, an error no handler foresaw)."""

from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

from core.api.exception_handler import error_body

API_PREFIX = "/api/"


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def error_for_status(status: int) -> dict:
    """The error shape for a bare status (what Django or a proxy answered without a body of ours)."""
    known = {
        400: ("MALFORMED_REQUEST", _("The request could not be read.")),
        403: ("PERMISSION_DENIED", _("You do not have permission to perform this action.")),
        404: ("NOT_FOUND", _("Not found.")),
        405: ("METHOD_NOT_ALLOWED", _("This method is not allowed here.")),
        413: ("PAYLOAD_TOO_LARGE", too_large_message()),
        500: ("INTERNAL_ERROR", _("Something went wrong on our side; try again later.")),
        503: ("SERVICE_UNAVAILABLE", _("The service is busy; try again shortly.")),
    }
    if status in known:
        return error_body(*known[status])
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return error_body(phrase.upper().replace(" ", "_").replace("-", "_"), _("The request failed."))


def too_large_message() -> str:
    return _("The request body is too large (%(limit)d bytes at most).") % {
        "limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
    }


def json_error(status: int) -> JsonResponse:
    return JsonResponse(error_for_status(status), status=status)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Unknown API paths answer in the API's error shape; everything else gets Django's page."""
    if is_api(request):
        return json_error(404)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is 413; other requests Django refused are 400."""
    if is_api(request):
        return json_error(413 if isinstance(exception, RequestDataTooBig) else 400)
    return defaults.bad_request(request, exception or Exception())


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return json_error(403)
    return defaults.permission_denied(request, exception or Exception())


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return json_error(500)
    return defaults.server_error(request)
