from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.defaults import page_not_found

from core.api.exception_handler import error_body


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Unknown API paths answer in the API's error shape; everything else gets Django's page."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("NOT_FOUND", _("Not found.")), status=404)
    return page_not_found(request, exception)
