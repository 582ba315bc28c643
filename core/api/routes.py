"""Routes of the API whose URL answers with and without a trailing slash (detail and action URLs)."""

from __future__ import annotations

import functools
import re
from typing import Any

from django.urls import URLPattern, re_path

# A path() converter as a regular expression: ids of at most 18 digits (a BIGINT; longer is a 404, never
# an overflow), slugs as Django's ``slug`` converter reads them.
_CONVERTERS = {"int": "[0-9]{1,18}", "slug": "[-a-zA-Z0-9_]+"}
_PARAMETER = re.compile(r"<(\w+):(\w+)>")


def slash_optional(route: str, view: Any, *, name: str) -> URLPattern:
    """``path(route, view, name=name)``, answered with and without a trailing slash (``orders/<int:pk>``
    and ``orders/<int:pk>/``); ``int`` parameters reach the view as numbers, as with ``path``."""
    pattern, end, numbers = "", 0, []
    route = route.rstrip("/")
    for match in _PARAMETER.finditer(route):
        kind, parameter = match.groups()
        pattern += re.escape(route[end : match.start()]) + f"(?P<{parameter}>{_CONVERTERS[kind]})"
        if kind == "int":
            numbers.append(parameter)
        end = match.end()
    pattern += re.escape(route[end:])
    return re_path(rf"^{pattern}/?$", _with_numbers(view, numbers) if numbers else view, name=name)


def _with_numbers(view: Any, names: list[str]) -> Any:
    @functools.wraps(view)  # keeps what DRF and the schema read from the view (cls, initkwargs, csrf_exempt)
    def typed(request: Any, *args: Any, **kwargs: Any) -> Any:
        for name in names:
            kwargs[name] = int(kwargs[name])
        return view(request, *args, **kwargs)

    return typed
