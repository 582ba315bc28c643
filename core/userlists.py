"""Customers named in a pasted or uploaded list (user ids or usernames): bulk grants and staff grants."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

from django.contrib.auth import get_user_model

_RESOLVE_BATCH = 5_000


def parse_user_list(raw: str | bytes) -> list[str]:
    """User ids or usernames from an uploaded CSV (any column layout; a header row is ignored when
    it names ``user_id``/``username``) or pasted text."""
    text = raw.decode("utf-8-sig", errors="replace") if isinstance(raw, bytes) else raw
    tokens: list[str] = []
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            for token in re.split(r"[\s;]+", cell.strip()):
                if token and token.lower() not in ("user_id", "username", "id", "user"):
                    tokens.append(token)
    return list(dict.fromkeys(tokens))


def resolve_users(identifiers: Iterable[str]) -> tuple[list[int], list[str]]:
    """(user ids found, identifiers matching no user). Digits match an id or a username."""
    user_model = get_user_model()
    tokens = list(dict.fromkeys(str(t).strip() for t in identifiers if str(t).strip()))
    found: set[int] = set()
    matched: set[str] = set()
    for start in range(0, len(tokens), _RESOLVE_BATCH):
        batch = tokens[start : start + _RESOLVE_BATCH]
        digits = [int(t) for t in batch if t.isdigit() and len(t) < 19]
        for pk in user_model.objects.filter(pk__in=digits).values_list("pk", flat=True):
            found.add(pk)
            matched.add(str(pk))
        for pk, username in user_model.objects.filter(username__in=batch).values_list("pk", "username"):
            found.add(pk)
            matched.add(username)
    unknown = [t for t in tokens if t not in matched and not (t.isdigit() and str(int(t)) in matched)]
    return sorted(found), unknown
