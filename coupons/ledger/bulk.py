"""Issuing one coupon each to many users in one transaction: the bulk grants' chunks.

The same rules as every other source: stock, the template's issue window and each user's
``per_user_limit``. A chunk is granted with a handful of statements whatever its size: the template row
is locked first (the lock order of a claim), then the users' quota rows; the users the stock or their
limit refuses are reported, the others get their coupon in one multi-row INSERT.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from core.events import Event, emit, has_subscribers
from core.statements import insert_rows, insert_rows_ignoring_duplicates, quote
from coupons.issuable import issuable_now
from coupons.ledger import gate
from coupons.ledger.issuing import (
    CODE_ATTEMPTS,
    COUPON_COLUMNS,
    code_maker,
    is_code_collision,
    random_amount,
    validity_for,
)
from coupons.models import UNLIMITED, ClaimQuota, CouponStatus, CouponTemplate, CouponType, UserCoupon

# A chunk whose user ids span less than this many times its size has its quota rows read as a range.
_QUOTA_RANGE_SPAN = 4


@dataclass
class ManyIssued:
    """What ``issue_many`` did for each user, in the order given."""

    granted: list[int] = field(default_factory=list)
    skipped_limit: list[int] = field(default_factory=list)
    skipped_stock: list[int] = field(default_factory=list)
    # Why the template issues nothing now (a reason code); then nobody was granted.
    refused: str | None = None


def issue_many(*, template_id: int, user_ids: list[int], source: str, source_ref: str, now: datetime) -> ManyIssued:
    """One coupon of the template to each of ``user_ids`` (distinct), inside the caller's transaction.

    Users are granted in the order given while the stock lasts; a user at the template's limit is
    skipped. A code that collides with an existing coupon is replaced (the INSERT runs again inside a
    savepoint), so the caller needs no retry of its own.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("issue_many must run inside a transaction")
    # Lock order as for a claim: the template row first, then the quota rows.
    template = CouponTemplate.objects.select_for_update().get(pk=template_id)
    reason = issuable_now(template, now)
    if reason is not None:
        return ManyIssued(refused=reason)
    limit = template.per_user_limit
    eligible = user_ids
    held: dict[int, int] = {}
    if limit:
        held = _lock_quotas(template.pk, user_ids)
        eligible = [uid for uid in user_ids if held.get(uid, 0) + 1 <= limit]
    if template.total_quantity == UNLIMITED:
        taken = eligible
    else:
        taken = eligible[: max(0, template.total_quantity - template.issued_quantity)]
    eligible_set = set(eligible)
    outcome = ManyIssued(
        granted=taken,
        skipped_limit=[uid for uid in user_ids if uid not in eligible_set],
        skipped_stock=eligible[len(taken) :],
    )
    if not taken:
        return outcome
    CouponTemplate.objects.filter(pk=template.pk).update(issued_quantity=F("issued_quantity") + len(taken))
    issued = template.issued_quantity + len(taken)
    if limit:
        insert_rows(
            ClaimQuota,
            ["user_id"],
            [(uid,) for uid in taken if uid not in held],
            shared={"template_id": template.pk, "claimed": 1},
        )
        again = [uid for uid in taken if uid in held]
        if again:
            ClaimQuota.objects.filter(template=template, user_id__in=again).update(claimed=F("claimed") + 1)
    codes = _insert_coupons(template, taken, source=source, source_ref=source_ref, now=now)
    if gate.enabled():
        transaction.on_commit(lambda: gate.record_issued(template.pk, issued))
    if has_subscribers(Event.COUPON_ISSUED):
        emit(
            Event.COUPON_ISSUED,
            template_id=template.pk,
            user_ids=list(taken),
            coupon_ids=None,
            coupon_codes=codes,
            source=source,
            source_ref=source_ref,
        )
    return outcome


def _lock_quotas(template_id: int, user_ids: list[int]) -> dict[int, int]:
    """The users' quota rows of the template (user id -> claimed), locked.

    Users with nearby ids (a segment's chunk) are read as one range of the unique key: one index dive
    instead of one per user, and no row at all for a template nobody holds yet. The range may lock
    other users' rows of the template too; that holds up nobody, since every writer of a template's
    quota rows first takes the template row, which the caller holds. Scattered users are read by id.
    """
    low, high = min(user_ids), max(user_ids)
    rows = ClaimQuota.objects.filter(template_id=template_id).select_for_update()
    if high - low < _QUOTA_RANGE_SPAN * len(user_ids):
        wanted = set(user_ids)
        found = rows.filter(user_id__gte=low, user_id__lte=high).values_list("user_id", "claimed")
        return {uid: claimed for uid, claimed in found if uid in wanted}
    return dict(rows.filter(user_id__in=user_ids).values_list("user_id", "claimed"))


def _insert_coupons(
    template: CouponTemplate, user_ids: list[int], *, source: str, source_ref: str, now: datetime
) -> list[str]:
    """One coupon per user; returns their codes. A code that an existing coupon has (8 random digits per
    product line, type and day: at thousands of codes a day they collide now and then) is replaced and
    its row written again; nothing else is, and no collision reaches the caller."""
    adapt = connection.ops.adapt_datetimefield_value
    valid_from, expires_at = validity_for(template, now)
    random_cash = template.type == CouponType.RANDOM_CASH
    columns = ["code", "user_id", *(["amount"] if random_cash else [])]
    shared = {
        "template_id": template.pk,
        "status": CouponStatus.UNUSED,
        **({} if random_cash else {"amount": None}),
        "acquired_at": adapt(now),
        "valid_from": adapt(valid_from),
        "expires_at": adapt(expires_at),
        "source": source,
        "source_ref": str(source_ref)[:64],
        "order_id": None,
        "used_at": None,
        "granted_by_id": None,
        "updated_at": adapt(now),
    }
    assert set(columns) | set(shared) == set(COUPON_COLUMNS)
    new_code = code_maker(template, now)
    seen: set[str] = set()
    rows: list[list[Any]] = [[_fresh(seen, new_code), uid] for uid in user_ids]  # codes unique within the chunk
    if random_cash:
        for row in rows:
            row.append(str(random_amount(template.value)))
    if connection.vendor == "mysql":
        _insert_letting_the_key_check(rows, columns, shared, seen, new_code)
    else:
        _insert_checked_first(rows, columns, shared, seen, new_code)
    return [row[0] for row in rows]


ER_DUP_ENTRY = 1062
_DUPLICATE_CODE = re.compile(r"^Duplicate entry '(\d+)' for key '(?:[\w$]+\.)?code'$")


class _WarningsCut(Exception):
    """More warnings than the server keeps (``max_error_count``): the taken codes cannot all be named."""


def _insert_letting_the_key_check(
    rows: list[list[Any]], columns: list[str], shared: dict[str, Any], seen: set[str], new_code: Callable[[], str]
) -> None:
    """MySQL/MariaDB: ``INSERT IGNORE`` the rows and let the code's unique key find the taken codes (no
    read before, which would look up every code once more): a row it skipped is written again with a
    fresh code. IGNORE makes warnings of other refusals too (a value out of range adjusted, a row
    without its user skipped): any warning that is not a taken code undoes the INSERT (a savepoint) and
    raises."""
    pending = rows
    for _attempt in range(CODE_ATTEMPTS):
        try:
            with transaction.atomic():
                inserted = insert_rows_ignoring_duplicates(UserCoupon, columns, pending, shared=shared)
                taken = _taken_codes(skipped=len(pending) - inserted)
        except _WarningsCut:
            _insert_checked_first(pending, columns, shared, seen, new_code)
            return
        if not taken:
            return
        pending = [row for row in pending if row[0] in taken]
        for row in pending:
            row[0] = _fresh(seen, new_code)
    raise IntegrityError(f"coupon codes still taken after {CODE_ATTEMPTS} attempts (for key 'code')")


def _taken_codes(*, skipped: int) -> set[str]:
    """The codes the last ``INSERT IGNORE`` found taken, from its warnings; raises ``IntegrityError``
    for any other warning, or rows skipped without one."""
    warnings = connection.connection.warning_count()
    if not warnings and not skipped:
        return set()
    with connection.cursor() as cursor:
        cursor.execute("SHOW WARNINGS")
        shown = cursor.fetchall()
    if len(shown) < warnings:
        raise _WarningsCut
    taken: set[str] = set()
    for _level, number, message in shown:
        match = _DUPLICATE_CODE.match(message) if int(number) == ER_DUP_ENTRY else None
        if match is None:
            raise IntegrityError(f"coupon rows refused: ({number}) {message}")
        taken.add(match[1])
    if len(taken) != skipped:
        raise IntegrityError(f"{skipped} coupon rows skipped, {len(taken)} of them for a taken code")
    return taken


def _insert_checked_first(
    rows: list[list[Any]], columns: list[str], shared: dict[str, Any], seen: set[str], new_code: Callable[[], str]
) -> None:
    """Other databases (and MySQL/MariaDB when more codes were taken than its warnings name): look the
    codes up first (one indexed read), so the INSERT rarely has to run twice; a code taken meanwhile
    undoes only the INSERT (a savepoint) and it runs again."""
    for attempt in range(1, CODE_ATTEMPTS + 1):
        _replace_taken(rows, seen, new_code)
        try:
            with transaction.atomic():
                insert_rows(UserCoupon, columns, rows, shared=shared)
                return
        except IntegrityError as exc:
            if attempt == CODE_ATTEMPTS or not is_code_collision(exc):
                raise
    raise AssertionError("unreachable")


def _fresh(seen: set[str], new_code: Callable[[], str]) -> str:
    code = new_code()
    while code in seen:
        code = new_code()
    seen.add(code)
    return code


def _replace_taken(rows: list[list[Any]], seen: set[str], new_code: Callable[[], str]) -> None:
    """Give a fresh code to every row whose code (its first value) a coupon already has."""
    column, marks = quote("code"), ", ".join(["%s"] * len(rows))
    sql = f"SELECT {column} FROM {quote(UserCoupon._meta.db_table)} WHERE {column} IN ({marks})"
    while True:
        with connection.cursor() as cursor:  # the ORM would prepare each of the thousand values again
            cursor.execute(sql, [row[0] for row in rows])
            taken = {row[0] for row in cursor.fetchall()}
        if not taken:
            return
        seen |= taken
        for row in rows:
            if row[0] in taken:
                row[0] = _fresh(seen, new_code)
