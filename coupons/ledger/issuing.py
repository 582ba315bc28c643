"""Issuing coupons: the one place a ``UserCoupon`` is born, whatever the source.

Stock lives on the template and the per-user limit on ``ClaimQuota``; both are held by the database
with conditional statements, never by a read-then-write:

1. ``UPDATE template SET issued = issued + n WHERE id = ? AND status = APPROVED AND <window open>
   AND (total = -1 OR issued + n <= total)``: one row changed, or the claim is refused.
2. The user's quota row: ``INSERT IGNORE (claimed = n)``, else ``UPDATE ... SET claimed = claimed + n
   WHERE claimed + n <= limit``.
3. ``INSERT`` the coupons.

Lock order (InnoDB, READ COMMITTED): the template's stock UPDATE comes first and takes the row's X lock.
Inserting a quota row or a coupon checks its foreign key with a shared lock on the template row; taken
before the X lock, concurrent claims would deadlock on the S->X upgrade. With the X lock first, every
writer of a template's quota rows is serialised on the template row, so quota rows never deadlock
either. Transactions that touch several templates take them in primary-key order.

Every source respects stock and ``per_user_limit`` (a user never holds more than the limit of
a template); only the claim center adds visibility and ``target``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone
from django.utils.translation import gettext as _

from core.clock import business_day_bounds, business_tz
from core.db import AfterCommit, plain_transaction, retry_on_conflict
from core.errors import Conflict
from core.events import Event, emit, has_subscribers, wanted_in_transaction
from core.idempotency import KeyRecord, KeyTaken
from core.statements import insert_ignore, insert_rows, quote
from coupons.errors import CouponErrorCode
from coupons.issuable import has_stock, issuable_now
from coupons.ledger import claim_procedure, gate
from coupons.models import (
    TYPE_CODE_DIGITS,
    UNLIMITED,
    ClaimQuota,
    CouponSource,
    CouponStatus,
    CouponTemplate,
    CouponType,
    TemplateStatus,
    UserCoupon,
    ValidityType,
)

T = TypeVar("T")

# Collisions of the 8 random digits are retried with fresh codes, never surfaced.
CODE_ATTEMPTS = 8
MAX_ISSUE_QUANTITY = 1_000


class SoldOut(Conflict):
    default_code = CouponErrorCode.SOLD_OUT


class LimitReached(Conflict):
    default_code = CouponErrorCode.LIMIT_REACHED


class NotClaimable(Conflict):
    default_code = CouponErrorCode.NOT_CLAIMABLE


class NotEligible(Conflict):
    default_code = CouponErrorCode.NOT_ELIGIBLE


def sold_out_error(template_id: int) -> SoldOut:
    return SoldOut(_("This coupon is sold out."), details={"template_id": template_id})


def limit_reached_error(template_id: int, limit: int) -> LimitReached:
    return LimitReached(
        _("You already have as many of this coupon as allowed (%(limit)s).") % {"limit": limit},
        details={"template_id": template_id, "per_user_limit": limit},
    )


def not_claimable_error(template_id: int, reason: str) -> NotClaimable:
    return NotClaimable(_("This coupon cannot be claimed now."), details={"template_id": template_id, "reason": reason})


def not_eligible_error(template_id: int) -> NotEligible:
    return NotEligible(_("This coupon is not offered to you."), details={"template_id": template_id})


# Codes, validity and amounts ---------------------------------------------------------------------


def coupon_code(template: CouponTemplate, issued_at: datetime) -> str:
    """18 digits (seed 002): product line, type, YYMMDD in the business time zone, 8 random digits."""
    return f"{code_prefix(template, issued_at)}{secrets.randbelow(10**8):08d}"


def code_maker(template: CouponTemplate, issued_at: datetime) -> Callable[[], str]:
    """``coupon_code`` for many coupons of one template issued at one moment (the prefix is made once)."""
    prefix = code_prefix(template, issued_at)
    return lambda: f"{prefix}{secrets.randbelow(10**8):08d}"


# The last code prefix made per (product line, type, business time zone), with the instants its business
# day covers: a claim reuses it until the day turns instead of converting and formatting its moment.
_prefixes: dict[tuple[str, str, Any], tuple[datetime, datetime, str]] = {}


def code_prefix(template: CouponTemplate, issued_at: datetime) -> str:
    """A code's first 10 digits: product line, type, YYMMDD of ``issued_at`` in the business time zone."""
    zone = business_tz()
    key = (template.product_line, template.type, zone)
    made = _prefixes.get(key)
    if made is not None and made[0] <= issued_at < made[1]:
        return made[2]
    day = issued_at.astimezone(zone).date()
    start, end = business_day_bounds(day)
    prefix = f"{template.product_line}{TYPE_CODE_DIGITS[CouponType(template.type)]}{day:%y%m%d}"
    _prefixes[key] = (start, end, prefix)
    return prefix


def validity_for(template: CouponTemplate, issued_at: datetime) -> tuple[datetime, datetime]:
    """(valid_from, expires_at) of a coupon issued now; stored on the instance."""
    if template.validity_type == ValidityType.FIXED_DATE:
        assert template.valid_from is not None and template.valid_until is not None
        return template.valid_from, template.valid_until
    if template.validity_type == ValidityType.RELATIVE_DAYS:
        return issued_at, issued_at + timedelta(days=template.valid_days_after_issue or 0)
    # CLAIM_DAY: until the end of the business day of issue (midnight, exclusive).
    local = issued_at.astimezone(business_tz())
    next_day = (local + timedelta(days=1)).date()
    midnight = datetime(next_day.year, next_day.month, next_day.day, tzinfo=business_tz())
    return issued_at, midnight


def random_amount(value: dict[str, Any]) -> Decimal:
    """A RANDOM_CASH amount drawn uniformly to the cent between min_amount and max_amount."""
    low = int(Decimal(str(value["min_amount"])) * 100)
    high = int(Decimal(str(value["max_amount"])) * 100)
    cents = low + secrets.randbelow(high - low + 1)
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def build_coupon(
    *,
    template: CouponTemplate,
    user_id: int,
    issued_at: datetime,
    source: str,
    source_ref: str = "",
    granted_by_id: int | None = None,
) -> UserCoupon:
    valid_from, expires_at = validity_for(template, issued_at)
    return new_coupon(
        {
            "id": None,
            "code": coupon_code(template, issued_at),
            "user_id": user_id,
            "template_id": template.pk,
            "status": CouponStatus.UNUSED,
            "amount": random_amount(template.value) if template.type == CouponType.RANDOM_CASH else None,
            "acquired_at": issued_at,
            "valid_from": valid_from,
            "expires_at": expires_at,
            "source": source,
            "source_ref": str(source_ref)[:64],
            "order_id": None,
            "used_at": None,
            "granted_by_id": granted_by_id,
            "updated_at": issued_at,
        },
        template,
    )


_TEMPLATE_CACHE = UserCoupon._meta.get_field("template").cache_name


def new_coupon(values: dict[str, Any], template: CouponTemplate) -> UserCoupon:
    """An unsaved coupon with ``values`` (every field's attribute, as ``build_coupon`` makes them) and its
    ``template`` in place.

    Made the way unpickling makes an instance: without ``Model.__init__`` (per-field descriptor calls and
    signals) and without the ``template`` descriptor's router checks, which together cost several times
    what this does. When something listens to ``pre_init`` or ``post_init`` for coupons, the constructor
    runs as usual.
    """
    if pre_init.has_listeners(UserCoupon) or post_init.has_listeners(UserCoupon):
        coupon = UserCoupon(**values)
        coupon.template = template
        return coupon
    coupon = UserCoupon.__new__(UserCoupon)
    coupon.__dict__.update(values)
    coupon._state = ModelState()
    coupon._state.fields_cache[_TEMPLATE_CACHE] = template
    return coupon


# The columns a new coupon is written with (checked against the model by ``insert_rows``): the
# claim path and bulk grants write plain rows, without the query compiler.
COUPON_COLUMNS = (
    "code", "user_id", "template_id", "status", "amount", "acquired_at", "valid_from", "expires_at", "source",
    "source_ref", "order_id", "used_at", "granted_by_id", "updated_at",
)  # fmt: skip


def _saved(coupon: UserCoupon) -> None:
    """Mark a coupon inserted with its own statement as ``save()`` would."""
    coupon._state.adding = False
    coupon._state.db = DEFAULT_DB_ALIAS


def coupon_row(coupon: UserCoupon) -> tuple[Any, ...]:
    """A new coupon as a row of ``COUPON_COLUMNS`` in database form."""
    adapt = connection.ops.adapt_datetimefield_value
    issued = adapt(coupon.acquired_at)
    # A new coupon's moments are mostly the moment of issue: it is converted once.
    valid_from = issued if coupon.valid_from == coupon.acquired_at else adapt(coupon.valid_from)
    updated = issued if coupon.updated_at == coupon.acquired_at else adapt(coupon.updated_at)
    return (
        coupon.code, coupon.user_id, coupon.template_id, coupon.status,
        None if coupon.amount is None else str(coupon.amount),
        issued, valid_from, adapt(coupon.expires_at), coupon.source,
        coupon.source_ref, coupon.order_id, adapt(coupon.used_at), coupon.granted_by_id, updated,
    )  # fmt: skip


_COLLISION = re.compile(r"for key '(?:[\w$]+\.)?code'|usercoupon\.code", re.IGNORECASE)


def is_code_collision(exc: BaseException) -> bool:
    return isinstance(exc, IntegrityError) and bool(_COLLISION.search(str(exc)))


def with_fresh_codes(func: Callable[[], T]) -> T:
    """Run a transaction that inserts coupons; a code collision rolls it back and runs it again.

    ``func`` must be the whole transaction (or a savepoint) so a retry starts clean.
    """
    for attempt in range(1, CODE_ATTEMPTS + 1):
        try:
            return func()
        except IntegrityError as exc:
            if attempt == CODE_ATTEMPTS or not is_code_collision(exc):
                raise
    raise AssertionError("unreachable")


# The conditional statements --------------------------------------------------------------------


@cache
def _stock_sql(vendor: str) -> tuple[str, str]:
    """(the conditional UPDATE, the read-back) for ``vendor``; built once."""
    table, issued, total = quote(CouponTemplate._meta.db_table), quote("issued_quantity"), quote("total_quantity")
    start, end = quote("issue_start_time"), quote("issue_end_time")
    condition = (
        f"{quote('id')} = %s AND {quote('status')} = %s AND ({total} = %s OR {issued} + %s <= {total})"
        f" AND ({start} IS NULL OR {start} <= %s) AND ({end} IS NULL OR {end} > %s)"
    )
    if vendor == "mysql":
        # LAST_INSERT_ID(expr) hands the new count back with the UPDATE: no second round trip.
        return f"UPDATE {table} SET {issued} = LAST_INSERT_ID({issued} + %s) WHERE {condition}", ""
    read = f"SELECT {issued} FROM {table} WHERE {quote('id')} = %s"
    return f"UPDATE {table} SET {issued} = {issued} + %s WHERE {condition}", read


@cache
def _quota_sql(vendor: str) -> tuple[str, str]:
    table, claimed = ClaimQuota._meta.db_table, quote("claimed")
    update = (
        f"UPDATE {quote(table)} SET {claimed} = {claimed} + %s"
        f" WHERE {quote('template_id')} = %s AND {quote('user_id')} = %s AND {claimed} + %s <= %s"
    )
    return insert_ignore(table, ["template_id", "user_id", "claimed"]), update


def take_stock(template_id: int, quantity: int, now: datetime) -> int | None:
    """Add ``quantity`` to the template's issued count if it is APPROVED, inside its issue window and
    has the stock. Returns the new issued count, or None when the row was not changed.

    Must run inside a transaction: the row stays X-locked until commit.
    """
    update, read = _stock_sql(connection.vendor)
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(update, [quantity, template_id, TemplateStatus.APPROVED, UNLIMITED, quantity, stamp, stamp])
        if cursor.rowcount != 1:
            return None
        if not read:
            return int(cursor.lastrowid)
        cursor.execute(read, [template_id])
        return int(cursor.fetchone()[0])


def take_quota(template_id: int, user_id: int, quantity: int, limit: int) -> bool:
    """Count ``quantity`` more coupons of the template against the user's limit, if it allows.

    Call only while holding the template row's X lock (after ``take_stock``).
    """
    if quantity > limit:
        return False
    insert, update = _quota_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(insert, [template_id, user_id, quantity])
        if cursor.rowcount == 1:
            return True
        cursor.execute(update, [quantity, template_id, user_id, quantity, limit])
        return cursor.rowcount == 1


def _teach_gate(update: Callable[[], None]) -> None:
    if connection.in_atomic_block:
        transaction.on_commit(update)
    else:
        update()


def refusal_for(template_id: int, quantity: int, now: datetime) -> Conflict:
    """Why ``take_stock`` changed nothing: read the row and name the reason.

    Inside an ``atomic`` block the row includes what the caller's transaction changed itself (stock taken
    for an earlier item), so the gate learns it only if that transaction commits: it never holds a count
    that was rolled back. Outside one (autocommit, or the first statement of a plain transaction) the row
    is the committed one and the gate learns it at once."""
    row = (
        CouponTemplate.objects.filter(pk=template_id)
        .only("status", "total_quantity", "issued_quantity", "issue_start_time", "issue_end_time")
        .first()
    )
    if row is None:
        return not_claimable_error(template_id, "UNKNOWN_TEMPLATE")
    reason = issuable_now(row, now)
    if reason is not None:
        _teach_gate(lambda: gate.forget_or_close(row))
        return not_claimable_error(template_id, reason)
    if not has_stock(row, quantity):
        issued = row.issued_quantity
        _teach_gate(lambda: gate.record_issued(template_id, issued))
        return sold_out_error(template_id)
    # The row changed between the UPDATE and this read (a very short race); let the caller retry.
    return not_claimable_error(template_id, "BUSY")


def issue_coupons(
    *,
    template: CouponTemplate,
    user_id: int,
    quantity: int = 1,
    source: str,
    source_ref: str = "",
    granted_by_id: int | None = None,
    now: datetime | None = None,
) -> list[UserCoupon]:
    """Issue ``quantity`` coupons of ``template`` to one user, inside the caller's transaction.

    Raises ``SoldOut``, ``LimitReached`` or ``NotClaimable`` before anything is written, or after the
    stock was taken (the caller's transaction, or a savepoint around this call, undoes it). The
    ``template`` instance must be APPROVED when it was read: an approved template's definition is
    immutable, so the in-memory copy is the definition; its status and window are re-checked by the
    stock UPDATE.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("issue_coupons must run inside a transaction")
    coupons, issued = _issue(
        template=template,
        user_id=user_id,
        quantity=quantity,
        source=source,
        source_ref=source_ref,
        granted_by_id=granted_by_id,
        now=now or timezone.now(),
    )
    if _closes_gate(template, issued):
        _after_commit_record(template.pk, issued)
    _announce(coupons, source=source)
    return coupons


def _issue(
    *,
    template: CouponTemplate,
    user_id: int,
    quantity: int,
    source: str,
    source_ref: str,
    granted_by_id: int | None,
    now: datetime,
) -> tuple[list[UserCoupon], int]:
    """The statements of ``issue_coupons``; returns the coupons and the template's new issued count."""
    if not 1 <= quantity <= MAX_ISSUE_QUANTITY:
        raise ValueError(f"quantity out of range: {quantity}")
    reason = issuable_now(template, now)
    if reason is not None:
        raise not_claimable_error(template.pk, reason)
    issued = take_stock(template.pk, quantity, now)
    if issued is None:
        raise refusal_for(template.pk, quantity, now)
    limit = template.per_user_limit
    if limit and not take_quota(template.pk, user_id, quantity, limit):
        raise limit_reached_error(template.pk, limit)
    coupons = [
        build_coupon(
            template=template,
            user_id=user_id,
            issued_at=now,
            source=source,
            source_ref=source_ref,
            granted_by_id=granted_by_id,
        )
        for _ in range(quantity)
    ]
    if quantity > 1:
        _distinct_codes(coupons, template, now)
    # One INSERT with the new ids handed back (RETURNING, or the last insert id where the database has no
    # RETURNING, as MySQL 8: Django's bulk_create would leave the ids unset there).
    ids = insert_rows(UserCoupon, COUPON_COLUMNS, [coupon_row(coupon) for coupon in coupons], returning_pk=True)
    for coupon, pk in zip(coupons, ids, strict=True):
        coupon.pk = pk
        _saved(coupon)
    return coupons, issued


def _closes_gate(template: CouponTemplate, issued: int) -> bool:
    """The last coupon of a template was taken: the gate is told at once (after the commit)."""
    return template.total_quantity != UNLIMITED and issued >= template.total_quantity


def _distinct_codes(coupons: Iterable[UserCoupon], template: CouponTemplate, now: datetime) -> None:
    seen: set[str] = set()
    for coupon in coupons:
        while coupon.code in seen:
            coupon.code = coupon_code(template, now)
        seen.add(coupon.code)


def _announce(coupons: list[UserCoupon], *, source: str, after_commit: AfterCommit | None = None) -> None:
    """``COUPON_ISSUED`` for one issuing call (one template, one user)."""
    if has_subscribers(Event.COUPON_ISSUED):
        emit(
            Event.COUPON_ISSUED,
            after_commit=after_commit,
            template_id=coupons[0].template_id,
            user_ids=[coupons[0].user_id],
            coupon_ids=[c.pk for c in coupons],
            source=source,
            source_ref=coupons[0].source_ref,
        )


def _record_issued(template_id: int, issued: int) -> None:
    if gate.enabled():
        gate.record_issued(template_id, issued)


def _after_commit_record(template_id: int, issued: int) -> None:
    transaction.on_commit(lambda: _record_issued(template_id, issued))


def _issue_one(
    *,
    template: CouponTemplate,
    user_id: int,
    source: str,
    source_ref: str,
    granted_by_id: int | None,
    record: KeyRecord | None,
) -> list[UserCoupon]:
    """One coupon in its own transaction on MySQL/MariaDB, with one ``CALL``: the coupon is prepared here as
    ``_issue`` prepares it, and the procedure runs ``_issue``'s statements in the same order (then writes
    ``record``, the request's Idempotency-Key record, when there is one)."""
    now = timezone.now()
    reason = issuable_now(template, now)
    if reason is not None:
        raise not_claimable_error(template.pk, reason)
    coupon = build_coupon(
        template=template,
        user_id=user_id,
        issued_at=now,
        source=source,
        source_ref=source_ref,
        granted_by_id=granted_by_id,
    )
    answer = claim_procedure.claim_one(
        template_id=template.pk,
        user_id=user_id,
        per_user_limit=template.per_user_limit,
        coupon=dict(zip(COUPON_COLUMNS, coupon_row(coupon), strict=True)),
        record=None if record is None else record.row(coupon)[1:],  # its user_id is the claim's
    )
    if isinstance(answer, claim_procedure.Refused):
        if answer.guarantee == claim_procedure.KEY_TAKEN:
            raise KeyTaken(record.key if record else "")
        raise _refusal_answered(template, answer)
    if record is not None:
        record.written = True
    coupon.pk = answer.coupon_id
    _saved(coupon)
    if _closes_gate(template, answer.issued):
        _record_issued(template.pk, answer.issued)  # committed already
    after_commit: AfterCommit = []
    _announce([coupon], source=source, after_commit=after_commit)
    for callback in after_commit:
        callback()
    return [coupon]


def _refusal_answered(template: CouponTemplate, answer: claim_procedure.Refused) -> Conflict:
    """``refusal_for``'s error and gate updates for a refusal the procedure named."""
    if answer.guarantee == claim_procedure.LIMIT_REACHED:
        return limit_reached_error(template.pk, template.per_user_limit)
    if answer.guarantee == claim_procedure.SOLD_OUT:
        assert answer.issued is not None
        gate.record_issued(template.pk, answer.issued)
        return sold_out_error(template.pk)
    if answer.template_status is not None:
        gate.forget_or_close(CouponTemplate(pk=template.pk, status=answer.template_status))
    return not_claimable_error(template.pk, answer.reason or "BUSY")


def issue_now(
    *,
    template: CouponTemplate,
    user_id: int,
    quantity: int = 1,
    source: str = CouponSource.CLAIM,
    source_ref: str = "",
    granted_by_id: int | None = None,
    record: KeyRecord | None = None,
) -> list[UserCoupon]:
    """``issue_coupons`` in its own transaction, retried on deadlocks and code collisions.

    One coupon on MySQL/MariaDB (a claim, the hottest write of the system) is one round trip: the
    statements run in the stored procedure of ``claim_procedure`` (``_issue_one``).

    ``record``, the request's Idempotency-Key record (one coupon only), is written with the coupon as the
    transaction's last statement; ``KeyTaken`` (nothing written) when the key's record exists already.
    """
    if record is not None and quantity != 1:
        raise ValueError("an Idempotency-Key record answers for one coupon")
    fields: dict[str, Any] = {
        "template": template,
        "user_id": user_id,
        "source": source,
        "source_ref": source_ref,
        "granted_by_id": granted_by_id,
    }
    if quantity == 1 and connection.vendor == "mysql" and not connection.in_atomic_block:
        if not wanted_in_transaction(Event.COUPON_ISSUED, source=source):
            # Nothing must happen inside the claim's transaction: one CALL of the stored procedure.
            return with_fresh_codes(lambda: _issue_one(**fields, record=record))

        def plain(after_commit: AfterCommit) -> list[UserCoupon]:
            coupons, issued = _issue(**fields, quantity=1, now=timezone.now())
            if record is not None:
                record.insert(coupons[0])
            if _closes_gate(template, issued):
                after_commit.append(lambda: _record_issued(template.pk, issued))
            _announce(coupons, source=source, after_commit=after_commit)
            return coupons

        return with_fresh_codes(lambda: plain_transaction(plain))

    @retry_on_conflict
    def attempt() -> list[UserCoupon]:
        coupons = issue_coupons(**fields, quantity=quantity)
        if record is not None:
            record.insert(coupons[0])
        return coupons

    return with_fresh_codes(attempt)
