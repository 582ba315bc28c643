"""One coupon claimed in one round trip on MySQL/MariaDB: the stored procedure ``coupons_claim_one``.

Sent one by one, a claim's statements take five round trips (START TRANSACTION, the stock UPDATE, the
quota INSERT IGNORE, the coupon INSERT, COMMIT; six when the quota row exists). The procedure runs the same
conditional statements, in the same lock order, inside its own transaction on the server, and answers with
one row:

1. ``UPDATE template SET issued = issued + 1 WHERE id = ? AND status = APPROVED AND <window open at the
   coupon's acquired_at> AND (total = -1 OR issued + 1 <= total)``, first, so the template row's X lock
   comes before the foreign key checks of the inserts (the lock order explained in ``issuing``);
2. when the template has a per-user limit: ``INSERT IGNORE`` the user's quota row (claimed = 1), else
   ``UPDATE ... SET claimed = claimed + 1 WHERE claimed + 1 <= limit``;
3. ``INSERT`` the coupon with the values the caller prepared (code, amount, validity, source...).

A refused statement rolls the transaction back and the answer names the guarantee that refused: the stock
UPDATE's refusal is explained from the row as read after it (not approved, window not open or over, sold
out), the way ``issuing.refusal_for`` explains it. Any error (a deadlock, a lock wait timeout, a code that
collides with the unique key) rolls back and reaches the caller unchanged: deadlocks are retried here, a
code collision by the caller with a fresh code.

A claim sent with an ``Idempotency-Key`` calls ``coupons_claim_one_keyed``: the same statements, then the
key's record with its answer (``core.idempotency.KeyRecord``; the body is prepared by the caller and the
coupon's id set into it by ``JSON_SET``), in the same transaction. A record already there for the key rolls
everything back and the answer says ``KEY_TAKEN``: the caller replays that record.

Migrations ``0005_claim_procedure`` and ``0006_claim_procedure_keyed`` create the procedures on
MySQL/MariaDB; other databases send the statements one by one. The procedures' parameter and variable
types are read from the models when they are created; a change to the coupon or record columns needs a
migration that creates them again.
"""

from __future__ import annotations

import functools
import importlib
import logging
import operator
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models import Model
from django.db.utils import DatabaseError

from core.db import MAX_ATTEMPTS, is_connection_lost, is_retryable
from core.statements import quote as qn
from coupons.models import UNLIMITED, CouponTemplate, TemplateStatus, UserCoupon, ValidityType

logger = logging.getLogger("django.db.backends")

PROCEDURE = "coupons_claim_one"
KEYED_PROCEDURE = "coupons_claim_one_keyed"

# The coupon columns the procedure inserts from the caller's values, after template_id and user_id.
COLUMNS = (
    "code", "status", "amount", "acquired_at", "valid_from", "expires_at", "source", "source_ref", "order_id",
    "used_at", "granted_by_id", "updated_at",
)  # fmt: skip
_ROW_KEYS = frozenset((*COLUMNS, "template_id", "user_id"))

SOLD_OUT = "SOLD_OUT"
LIMIT_REACHED = "LIMIT_REACHED"
NOT_CLAIMABLE = "NOT_CLAIMABLE"
KEY_TAKEN = "KEY_TAKEN"

# The record's columns after user_id, in the keyed procedure's parameters (``KeyRecord.row`` order).
RECORD_COLUMNS = ("key", "method", "path", "request_hash", "status_code", "response_body", "created_at")


@dataclass(frozen=True, slots=True)
class Claimed:
    coupon_id: int
    issued: int  # the template's issued count after this claim


@dataclass(frozen=True, slots=True)
class Refused:
    guarantee: str  # SOLD_OUT, LIMIT_REACHED, NOT_CLAIMABLE, or KEY_TAKEN (the key's record exists)
    # NOT_CLAIMABLE: the template's status when it is not APPROVED, else NOT_STARTED, ENDED, VALIDITY_OVER,
    # UNKNOWN_TEMPLATE, or BUSY (the row changed between the UPDATE and the read).
    reason: str | None = None
    template_status: str | None = None  # as read after a refused stock UPDATE
    issued: int | None = None  # the committed issued count read after a refused stock UPDATE


_values = operator.itemgetter(*COLUMNS)  # the coupon's values in COLUMNS order
_CALL = f"CALL {PROCEDURE}({', '.join(['%s'] * (4 + len(COLUMNS)))})"
_KEYED_CALL = f"CALL {KEYED_PROCEDURE}({', '.join(['%s'] * (4 + len(COLUMNS) + len(RECORD_COLUMNS)))})"


def claim_one(
    *,
    template_id: int,
    user_id: int,
    per_user_limit: int,
    coupon: Mapping[str, Any],
    record: Sequence[Any] | None = None,
) -> Claimed | Refused:
    """Claim one coupon of a template for a user with one ``CALL``, committed when it returns ``Claimed``.

    ``per_user_limit`` 0 means no limit. ``coupon`` maps the coupon's columns (``issuing.COUPON_COLUMNS``)
    to values in database form; the claim window is checked at its ``acquired_at``, the moment of issue.
    ``record``, the values of an Idempotency-Key's record in ``RECORD_COLUMNS`` order (the body's ``id`` is
    set to the coupon's), is written in the same transaction. Deadlocks and lock wait timeouts are retried;
    a code collision raises ``IntegrityError`` with nothing written. A lost connection is replaced once: the
    lost one's server thread is ended first, then the coupon's code tells whether the CALL committed (its
    answer) or not (sent again); when the thread cannot be ended, the error is raised.
    """
    if connection.in_atomic_block:
        raise RuntimeError("claim_one commits its own transaction: it cannot run inside atomic()")
    if coupon.keys() != _ROW_KEYS or coupon["template_id"] != template_id or coupon["user_id"] != user_id:
        raise ValueError(f"not a coupon row of template {template_id} for user {user_id}: {sorted(coupon)}")
    params = [template_id, user_id, per_user_limit, coupon["acquired_at"], *_values(coupon)]
    call = _CALL
    if record is not None:
        if len(record) != len(RECORD_COLUMNS):
            raise ValueError(f"not a record of {RECORD_COLUMNS}: {record!r}")
        params.extend(record)
        call = _KEYED_CALL
    reconnected = False
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            row = call_row(call, params)
        except DatabaseError as exc:
            if is_connection_lost(exc) and not reconnected:
                reconnected = True
                lost = _server_thread()
                connection.close()
                if not _ended(lost):
                    raise  # the CALL may still commit: the request answers 503, to be retried with its key
                landed = _landed(coupon["code"])
                if landed is not None:
                    return landed
                continue
            if attempt == MAX_ATTEMPTS or not is_retryable(exc):
                raise
            time.sleep(random.uniform(0, 0.01 * 2**attempt))
            continue
        return _answer(row)
    raise AssertionError("unreachable")


def call_row(sql: str, params: Sequence[Any]) -> tuple[Any, ...]:
    """Send a ``CALL`` that answers with one row on the default connection, without a cursor: the row.

    The claim is the hottest write, and the two cursors (Django's and the driver's) around its one ``CALL``
    are Python it need not run. This does what they do, in the same order: the health check and (re)connection of
    ``connection.cursor()``, the connection's execute wrappers (``context["cursor"]`` is None), the driver's
    parameter escaping, Django's error translation (which also stamps the round trip), and, when queries are
    logged (``DEBUG``, ``CaptureQueriesContext``), the statement in ``connection.queries`` and the
    ``django.db.backends`` log.
    """
    db = connections[DEFAULT_DB_ALIAS]
    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_thread_sharing()
    executor: Callable[..., tuple[Any, ...]] = _send_call
    for wrapper in reversed(db.execute_wrappers):
        executor = functools.partial(wrapper, executor)
    return executor(sql, params, False, {"connection": db, "cursor": None})


def statement(sql: str, params: Sequence[Any]) -> bytes:
    """``sql`` with ``params`` escaped by the driver, as its cursor sends it.

    A claim's values are integers, strings (its moments in database form included) and None: those are
    written here, strings escaped by the driver's ``string_literal``; anything else goes to its
    ``literal``, as the cursor would send it."""
    raw = connections[DEFAULT_DB_ALIAS].connection
    encoding = raw.encoding
    escape, literal = raw.string_literal, raw.literal
    values = []
    for value in params:
        kind = type(value)
        if kind is str:
            values.append(escape(value.encode(encoding)))
        elif kind is int:
            values.append(b"%d" % value)
        elif value is None:
            values.append(b"NULL")
        else:
            values.append(literal(value))
    return sql.encode(encoding) % tuple(values)


def _send_call(sql: str, params: Sequence[Any], many: bool, context: dict[str, Any]) -> tuple[Any, ...]:
    db = context["connection"]
    raw = db.connection
    logged = db.queries_logged
    started = time.monotonic() if logged else 0.0
    text = statement(sql, params)
    try:
        with db.wrap_database_errors:
            try:
                raw.query(text)
                result = raw.store_result()
                (row,) = result.fetch_row()
                while raw.next_result() == 0:  # the CALL's own status after its answer
                    raw.discard_result()
            except db.Database.OperationalError as exc:
                _raise_as_integrity_error(exc)
                raise
    finally:
        if logged:
            duration = time.monotonic() - started
            sql_text = text.decode(raw.encoding, errors="replace")
            db.queries_log.append({"sql": sql_text, "time": f"{duration:.3f}"})
            logger.debug(
                "(%.3f) %s; args=%s; alias=%s",
                duration,
                sql_text,
                params,
                db.alias,
                extra={"duration": duration, "sql": sql_text, "params": params, "alias": db.alias},
            )
    return row


def _raise_as_integrity_error(exc: Exception) -> None:
    """Raise ``IntegrityError`` for the operational errors Django's MySQL cursor raises as one (a column that
    cannot be null, a CHECK constraint, a value out of range)."""
    cursor_class = importlib.import_module("django.db.backends.mysql.base").CursorWrapper  # loaded on MySQL
    if exc.args and exc.args[0] in cursor_class.codes_for_integrityerror:
        raise IntegrityError(*exc.args) from exc


# How long a lost connection's server thread is waited for once killed (it rolls back or commits and ends).
LOST_THREAD_WAIT_SECONDS = 5.0
_UNKNOWN_THREAD = 1094  # ER_NO_SUCH_THREAD: the server has ended it already


def _server_thread() -> int | None:
    """The server's id of the connection's thread, when it was connected (read before closing it)."""
    raw = connection.connection
    try:
        return None if raw is None else int(raw.thread_id())
    except Exception:  # noqa: BLE001 - a client object that cannot tell
        return None


def _ended(thread_id: int | None) -> bool:
    """Whether the server thread of a lost connection has ended, killed from a fresh connection if need be.

    A connection lost on the client's side (a timeout, a network fault) can leave its ``CALL`` running on
    the server, waiting for a lock, say, and committing later. Only once the thread is gone can the coupon's
    code tell whether the claim committed; False when that could not be made sure.
    """
    if thread_id is None:
        return True  # never connected: nothing was sent
    try:
        with connection.cursor() as cursor:
            try:
                cursor.execute("KILL CONNECTION %s", [thread_id])
            except DatabaseError as exc:
                if not (exc.args and exc.args[0] == _UNKNOWN_THREAD):
                    raise
            deadline = time.monotonic() + LOST_THREAD_WAIT_SECONDS
            while True:
                cursor.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s", [thread_id])
                if cursor.fetchone()[0] == 0:
                    return True
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.01)
    except DatabaseError:
        return False


def _landed(code: str) -> Claimed | None:
    """The claim whose coupon has ``code``, if its transaction committed."""
    coupon, template = UserCoupon._meta, CouponTemplate._meta
    sql = (
        f"SELECT c.{qn(coupon.pk.column)}, t.{qn(template.get_field('issued_quantity').column)} "
        f"FROM {qn(coupon.db_table)} c JOIN {qn(template.db_table)} t "
        f"ON t.{qn(template.pk.column)} = c.{qn(coupon.get_field('template').column)} "
        f"WHERE c.{qn(coupon.get_field('code').column)} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [code])
        row = cursor.fetchone()
    return None if row is None else Claimed(coupon_id=int(row[0]), issued=int(row[1]))


def _answer(row: Sequence[Any]) -> Claimed | Refused:
    guarantee, reason, template_status, issued, coupon_id = row
    if guarantee is None:
        return Claimed(coupon_id=int(coupon_id), issued=int(issued))
    return Refused(
        guarantee=guarantee,
        reason=reason,
        template_status=template_status,
        issued=None if issued is None else int(issued),
    )


# Creating the procedures (migrations 0005, 0006) ------------------------------------------------------

_BODY = """
CREATE PROCEDURE {procedure}(
    IN p_template_id {template_id}, IN p_user_id {user_id}, IN p_limit {limit}, IN p_now {moment},
    {coupon_params}{record_params}
)
MODIFIES SQL DATA
claim: BEGIN
    DECLARE v_found BOOL DEFAULT TRUE;
    DECLARE v_status {status};
    DECLARE v_total {total};
    DECLARE v_issued {issued};
    DECLARE v_start, v_end, v_valid_until {moment};
    DECLARE v_validity {validity};
    DECLARE v_coupon_id BIGINT UNSIGNED;  -- the type of LAST_INSERT_ID()
    DECLARE v_key_taken BOOL DEFAULT FALSE;
    DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_found = FALSE;
    -- A deadlock, a lock wait timeout or a duplicate code: undo everything and tell the caller.
    DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;

    START TRANSACTION;
    UPDATE {template} SET issued_quantity = LAST_INSERT_ID(issued_quantity + 1)
     WHERE id = p_template_id AND status = {approved}
       AND (total_quantity = {unlimited} OR issued_quantity + 1 <= total_quantity)
       AND (issue_start_time IS NULL OR issue_start_time <= p_now)
       AND (issue_end_time IS NULL OR issue_end_time > p_now);
    IF ROW_COUNT() <> 1 THEN
        ROLLBACK;
        SELECT status, total_quantity, issued_quantity, issue_start_time, issue_end_time, validity_type, valid_until
          INTO v_status, v_total, v_issued, v_start, v_end, v_validity, v_valid_until
          FROM {template} WHERE id = p_template_id;
        IF NOT v_found THEN
            SELECT {not_claimable}, 'UNKNOWN_TEMPLATE', NULL, NULL, NULL;
        ELSEIF v_status <> {approved} THEN
            SELECT {not_claimable}, v_status, v_status, v_issued, NULL;
        ELSEIF v_start IS NOT NULL AND p_now < v_start THEN
            SELECT {not_claimable}, 'NOT_STARTED', v_status, v_issued, NULL;
        ELSEIF v_end IS NOT NULL AND p_now >= v_end THEN
            SELECT {not_claimable}, 'ENDED', v_status, v_issued, NULL;
        ELSEIF v_validity = {fixed_date} AND v_valid_until IS NOT NULL AND v_valid_until <= p_now THEN
            SELECT {not_claimable}, 'VALIDITY_OVER', v_status, v_issued, NULL;
        ELSEIF v_total <> {unlimited} AND v_issued + 1 > v_total THEN
            SELECT {sold_out}, NULL, v_status, v_issued, NULL;
        ELSE
            SELECT {not_claimable}, 'BUSY', v_status, v_issued, NULL;
        END IF;
        LEAVE claim;
    END IF;
    SET v_issued = LAST_INSERT_ID();  -- the new count, handed back by the UPDATE

    IF p_limit > 0 THEN
        INSERT IGNORE INTO {quota} (template_id, user_id, claimed) VALUES (p_template_id, p_user_id, 1);
        IF ROW_COUNT() <> 1 THEN
            UPDATE {quota} SET claimed = claimed + 1
             WHERE template_id = p_template_id AND user_id = p_user_id AND claimed + 1 <= p_limit;
            IF ROW_COUNT() <> 1 THEN
                ROLLBACK;
                SELECT {limit_reached}, NULL, NULL, NULL, NULL;
                LEAVE claim;
            END IF;
        END IF;
    END IF;

    INSERT INTO {coupon} (template_id, user_id, {coupon_columns})
        VALUES (p_template_id, p_user_id, {coupon_values});
    SET v_coupon_id = LAST_INSERT_ID();
{record_insert}
    COMMIT;
    SELECT NULL, NULL, NULL, v_issued, v_coupon_id;
END claim
"""


# The keyed procedure's last statement: the key's record with its answer, unless the key is held already.
_RECORD_INSERT = """
    BEGIN
        DECLARE CONTINUE HANDLER FOR 1062 SET v_key_taken = TRUE;  -- ER_DUP_ENTRY on (user, key)
        INSERT INTO {record} (user_id, {record_columns})
            VALUES (p_user_id, {record_values});
    END;
    IF v_key_taken THEN
        ROLLBACK;
        SELECT {key_taken}, NULL, NULL, NULL, NULL;
        LEAVE claim;
    END IF;"""


def drop_sql(procedure: str = PROCEDURE) -> str:
    return f"DROP PROCEDURE IF EXISTS {procedure}"


def create_sql(
    schema_editor: BaseDatabaseSchemaEditor,
    *,
    template_model: type[Model],
    quota_model: type[Model],
    coupon_model: type[Model],
    record_model: type[Model] | None = None,
) -> str:
    """The ``CREATE PROCEDURE`` statement for these (historical) models on MySQL/MariaDB: with
    ``record_model`` (``core.IdempotencyRecord``), the keyed procedure."""
    db = schema_editor.connection

    def column_type(model: type[Model], column: str) -> str:
        (field,) = [f for f in model._meta.concrete_fields if f.column == column]
        kind = field.db_type(db)
        assert kind is not None
        return kind

    def literal(value: Any) -> str:
        return str(schema_editor.quote_value(value))

    template, quota, coupon = (db.ops.quote_name(m._meta.db_table) for m in (template_model, quota_model, coupon_model))
    record_params = record_insert = ""
    if record_model is not None:
        record_params = "".join(f",\n    IN p_{c} {column_type(record_model, c)}" for c in RECORD_COLUMNS)
        values = [f"JSON_SET(p_{c}, '$.id', v_coupon_id)" if c == "response_body" else f"p_{c}" for c in RECORD_COLUMNS]
        record_insert = _RECORD_INSERT.format(
            record=db.ops.quote_name(record_model._meta.db_table),
            record_columns=", ".join(db.ops.quote_name(c) for c in RECORD_COLUMNS),
            record_values=", ".join(values),
            key_taken=literal(KEY_TAKEN),
        )
    return _BODY.format(
        procedure=PROCEDURE if record_model is None else KEYED_PROCEDURE,
        record_params=record_params,
        record_insert=record_insert,
        template=template,
        quota=quota,
        coupon=coupon,
        template_id=column_type(quota_model, "template_id"),
        user_id=column_type(quota_model, "user_id"),
        limit=column_type(template_model, "per_user_limit"),
        moment=column_type(template_model, "issue_start_time"),
        status=column_type(template_model, "status"),
        total=column_type(template_model, "total_quantity"),
        issued=column_type(template_model, "issued_quantity"),
        validity=column_type(template_model, "validity_type"),
        coupon_params=",\n    ".join(f"IN p_{c} {column_type(coupon_model, c)}" for c in COLUMNS),
        coupon_columns=", ".join(db.ops.quote_name(c) for c in COLUMNS),
        coupon_values=", ".join(f"p_{c}" for c in COLUMNS),
        approved=literal(TemplateStatus.APPROVED.value),
        fixed_date=literal(ValidityType.FIXED_DATE.value),
        unlimited=int(UNLIMITED),
        sold_out=literal(SOLD_OUT),
        limit_reached=literal(LIMIT_REACHED),
        not_claimable=literal(NOT_CLAIMABLE),
    )
