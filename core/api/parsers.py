"""The API's JSON parser: DRF's, with refusals a client can read in its own language and a bound on
nesting (a body of a thousand ``[`` is a 400, not a ``RecursionError``)."""

import codecs
import json
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils.json import strict_constant

# Deeper than any request of this API; far below Python's recursion limit.
MAX_DEPTH = 32


def nesting_depth_exceeds(value: Any, limit: int) -> bool:
    """True when ``value`` nests lists/objects more than ``limit`` levels (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _invalid_json(exc: Exception | None = None) -> ParseError:
    if isinstance(exc, json.JSONDecodeError):
        return ParseError(
            _("The request body is not valid JSON (line %(line)d, column %(column)d).")
            % {"line": exc.lineno, "column": exc.colno}
        )
    return ParseError(_("The request body is not valid JSON."))


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        too_deep = ParseError(_("The request body nests too deeply (%(limit)d levels at most).") % {"limit": MAX_DEPTH})
        try:
            decoded = codecs.getreader(encoding)(stream)
            data = json.load(decoded, parse_constant=strict_constant if self.strict else None)
        except RecursionError:
            raise too_deep from None
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, NaN and Infinity
            raise _invalid_json(exc) from None
        if isinstance(data, dict | list) and nesting_depth_exceeds(data, MAX_DEPTH):
            raise too_deep
        return data
