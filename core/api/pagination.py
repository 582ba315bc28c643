from typing import Any

from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from core.api.serializers import QuerySerializer

MAX_PAGE_SIZE = 100


class PageParamsSerializer(QuerySerializer):
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE)


class Pagination(PageNumberPagination):
    """``?page`` and ``?page_size`` (1..100, default ``PAGE_SIZE``). A malformed or out-of-bounds value is a
    400 in the error shape, never silently replaced by the default; a page past the end is 404.

    Views set ``pagination_class = Pagination``: drf-spectacular reads it to document the envelope
    (``count``, ``next``, ``previous``, ``results``) and the two parameters."""

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    last_page_strings = ()

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list | None:
        params = PageParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        # The values as validated ("5.0" is 5): DRF would read the raw text again, and drop or refuse it.
        self._validated: dict[str, int] = dict(params.validated_data)
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request: Request) -> int | None:
        return self._validated.get("page_size") or self.page_size

    def get_page_number(self, request: Request, paginator: Any) -> int | str:
        return self._validated.get("page", 1)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["maximum"] = self.max_page_size
        return parameters

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated = super().get_paginated_response_schema(schema)
        paginated["required"] = ["count", "next", "previous", "results"]
        return paginated
