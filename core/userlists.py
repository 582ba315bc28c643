"""Customers named in a pasted or uploaded list (user ids or usernames): bulk grants and staff grants."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

_RESOLVE_BATCH = 5_000


def parse_user_list(raw: str | bytes) -> list[str]:
    """User ids or usernames from an uploaded CSV (any column layout; a header row is ignored when
    it names ``user_id``/``username``) or pasted text.

    Any line ending (LF, CRLF, a bare CR); UTF-8, else GB 18030 (a spreadsheet saved in
    Chinese Windows). What is not text (an image, a UTF-16 file, NUL bytes) raises ``ValidationError``.
    """
    not_text = ValidationError(
        _("The list of customers must be a text or CSV file (UTF-8) of user ids or usernames."), code="not_text"
    )
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = raw.decode("gb18030")
            except UnicodeDecodeError:
                raise not_text from None
    else:
        text = raw.removeprefix("\ufeff")
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text):
        raise not_text
    tokens: list[str] = []
    try:
        # newline="": the csv module itself reads \n, \r\n and a bare \r as line ends.
        for row in csv.reader(io.StringIO(text, newline="")):
            for cell in row:
                for token in re.split(r"[\s;]+", cell.strip()):
                    if token and token.lower() not in ("user_id", "username", "id", "user"):
                        tokens.append(token)
    except csv.Error:
        raise ValidationError(
            _("The list of customers could not be read as CSV (a field is too long or a quote is not closed)."),
            code="bad_csv",
        ) from None
    return list(dict.fromkeys(tokens))


def resolve_users(identifiers: Iterable[str]) -> tuple[list[int], list[str]]:
    """(customer ids found, identifiers matching no customer). ASCII digits match an id or a username.

    Only active customers are found: a staff member's or a deactivated account is reported as unknown, so
    a grant never hands coupons to staff (who would spend what Finance never reviewed).
    """
    customers = get_user_model().objects.filter(is_active=True, is_staff=False, is_superuser=False)
    tokens = list(dict.fromkeys(str(t).strip() for t in identifiers if str(t).strip()))
    found: set[int] = set()
    matched: set[str] = set()
    for start in range(0, len(tokens), _RESOLVE_BATCH):
        batch = tokens[start : start + _RESOLVE_BATCH]
        digits = [int(t) for t in batch if _is_id(t) and len(t) < 19]
        for pk in customers.filter(pk__in=digits).values_list("pk", flat=True):
            found.add(pk)
            matched.add(str(pk))
        for pk, username in customers.filter(username__in=batch).values_list("pk", "username"):
            found.add(pk)
            matched.add(username)
    unknown = [t for t in tokens if t not in matched and not (_is_id(t) and str(int(t)) in matched)]
    return sorted(found), unknown


def _is_id(token: str) -> bool:
    # ASCII digits only: "①" and "²" pass isdigit() but int() refuses them, and int() reads "٣" as 3.
    # Such tokens are usernames.
    return token.isascii() and token.isdigit()
