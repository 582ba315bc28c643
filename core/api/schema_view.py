"""The view that serves the OpenAPI schema (apart from ``core.api.schema``, which DRF's settings load)."""

import threading

from drf_spectacular.views import SpectacularAPIView


class SchemaApi(SpectacularAPIView):
    """The OpenAPI schema, built by one thread at a time: drf-spectacular loads its extensions and
    warnings lazily and not thread-safely, and two first requests at once in a threaded worker could fail."""

    _building = threading.Lock()

    def _get_schema_response(self, request):
        with self._building:
            return super()._get_schema_response(request)
