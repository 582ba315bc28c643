"""A claim on MariaDB in one round trip (``coupons_claim_one``): the same guarantees as the statements.

Transactional tests: the procedure commits its own transaction, so the claim path only takes it outside
``atomic`` (the non-transactional tests of ``test_claim.py`` exercise the statements sent one by one).
"""

import threading
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import events
from core.errors import ApplicationError
from core.events import Event
from coupons.ledger import claim_procedure, gate
from coupons.ledger.claim_procedure import Claimed, Refused
from coupons.ledger.issuing import (
    COUPON_COLUMNS,
    LimitReached,
    NotClaimable,
    SoldOut,
    build_coupon,
    coupon_row,
    is_code_collision,
    refusal_for,
)
from coupons.models import ClaimQuota, CouponSource, CouponTemplate, TemplateStatus, UserCoupon, ValidityType
from coupons.services.claim import approved_template, coupon_claim
from tests.conftest import client_for
from tests.factories import CouponTemplateFactory, UserCouponFactory, UserFactory
from tests.marketing.distribution import clean_redis, restore_roles_after_module, run_concurrently  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_redis")]


def call(template, user_id, *, now=None, code=None):
    """``claim_one`` with a coupon prepared the way the claim path prepares it."""
    now = now or timezone.now()
    coupon = build_coupon(template=template, user_id=user_id, issued_at=now, source=CouponSource.CLAIM)
    if code is not None:
        coupon.code = code
    return claim_procedure.claim_one(
        template_id=template.pk,
        user_id=user_id,
        per_user_limit=template.per_user_limit,
        coupon=dict(zip(COUPON_COLUMNS, coupon_row(coupon), strict=True)),
    )


def questions() -> int:
    """Statements this connection has sent to the server (statements inside a procedure not counted)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Questions'")
        return int(cursor.fetchone()[1])


def statements_sent(func) -> int:
    first = questions()
    reading = questions() - first  # the reading itself counts
    before = questions()
    func()
    return questions() - before - reading


def issued(template) -> int:
    return CouponTemplate.objects.values_list("issued_quantity", flat=True).get(pk=template.pk)


def test_the_procedure_exists_on_the_database():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = %s",
            [claim_procedure.PROCEDURE],
        )
        assert cursor.fetchone()[0] == 1


# one round trip --------------------------------------------------------------------------------------


def test_an_http_claim_sends_the_token_lookup_and_one_call():
    template = CouponTemplateFactory(per_user_limit=0)
    user = UserFactory()
    client = client_for(user)
    assert client.post(f"/api/v1/templates/{template.pk}/claim").status_code == 201  # caches the template

    with CaptureQueriesContext(connection) as queries:
        response = client.post(f"/api/v1/templates/{template.pk}/claim")

    assert response.status_code == 201, response.content
    sql = [query["sql"] for query in queries]
    assert len(sql) == 2, sql
    assert "authtoken" in sql[0]
    assert sql[1].startswith(f"CALL {claim_procedure.PROCEDURE}(")
    assert response.json()["code"] == UserCoupon.objects.get(pk=response.json()["id"]).code


def test_a_claim_is_one_statement_on_the_wire():
    template = CouponTemplateFactory(per_user_limit=5)
    user = UserFactory()
    # the gate entry and the template cache, as after the first claim of a process
    gate.load(template)
    approved_template(template.pk)
    events.wanted_in_transaction(Event.COUPON_ISSUED, source=CouponSource.CLAIM)  # webhook subscriptions read
    coupons: list[UserCoupon] = []

    # the first claim inserts the quota row, the second updates it: one statement either way
    sent = [statements_sent(lambda: coupons.append(coupon_claim(user=user, template_id=template.pk))) for _ in range(2)]

    assert sent == [1, 1]
    assert issued(template) == 2
    assert ClaimQuota.objects.get(template=template, user=user).claimed == 2
    assert sorted(c.pk for c in coupons) == sorted(UserCoupon.objects.values_list("pk", flat=True))


@pytest.mark.parametrize(
    "value",
    [0, -7, 10**20, None, True, "", "plain", "a'b\\c\"d\x00\n\x1a é 中", Decimal("12.50"), 3.5, b"\x00bytes'"],
)
def test_the_call_is_escaped_as_the_drivers_cursor_escapes_it(value):
    sql = "CALL p(%s, %s)"
    with connection.cursor() as cursor:
        expected = cursor.cursor.mogrify(sql, [value, 1])

    assert claim_procedure.statement(sql, [value, 1]) == expected.encode()


def test_a_string_comes_back_from_the_server_as_it_was_sent():
    tricky = "a'b\\c\"d\x00\n\x1a; DROP TABLE x; -- é 中"
    sql = "SELECT %s, %s"
    with connection.cursor() as cursor:
        cursor.execute(claim_procedure.statement(sql, [tricky, None]).decode())
        assert cursor.fetchone() == (tricky, None)


def test_a_row_the_coupon_table_refuses_raises_integrity_error_as_through_a_cursor():
    template = CouponTemplateFactory()
    user = UserFactory()
    coupon = build_coupon(template=template, user_id=user.pk, issued_at=timezone.now(), source=CouponSource.CLAIM)
    coupon.expires_at = coupon.valid_from - timedelta(days=1)  # the CHECK constraint coupon_validity_ordered

    with pytest.raises(IntegrityError):
        claim_procedure.claim_one(
            template_id=template.pk,
            user_id=user.pk,
            per_user_limit=template.per_user_limit,
            coupon=dict(zip(COUPON_COLUMNS, coupon_row(coupon), strict=True)),
        )

    assert issued(template) == 0
    assert UserCoupon.objects.count() == 0
    assert call(template, user.pk).__class__ is Claimed  # the connection is usable after the error


def test_a_coupon_is_built_as_the_constructor_builds_it_with_its_template_in_place():
    template = CouponTemplateFactory()
    now = timezone.now()

    coupon = build_coupon(template=template, user_id=7, issued_at=now, source=CouponSource.CLAIM)

    made = UserCoupon(**{f.attname: getattr(coupon, f.attname) for f in UserCoupon._meta.concrete_fields})
    assert {f.attname: getattr(coupon, f.attname) for f in UserCoupon._meta.concrete_fields} == {
        f.attname: getattr(made, f.attname) for f in UserCoupon._meta.concrete_fields
    }
    assert (coupon._state.adding, coupon._state.db) == (True, None)
    with CaptureQueriesContext(connection) as queries:
        assert coupon.template is template
    assert len(queries) == 0


def test_a_coupon_is_built_by_the_constructor_when_something_listens_to_post_init():
    template = CouponTemplateFactory()
    seen = []

    def listener(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(listener, sender=UserCoupon)
    try:
        coupon = build_coupon(template=template, user_id=7, issued_at=timezone.now(), source=CouponSource.CLAIM)
    finally:
        post_init.disconnect(listener, sender=UserCoupon)

    assert seen == [coupon]
    assert coupon.template is template


def test_a_claimed_coupon_is_saved_state_and_saves_again():
    template = CouponTemplateFactory()
    user = UserFactory()

    coupon = coupon_claim(user=user, template_id=template.pk)

    assert (coupon._state.adding, coupon._state.db) == (False, "default")
    coupon.source_ref = "changed"
    coupon.save(update_fields=["source_ref"])
    assert UserCoupon.objects.get(pk=coupon.pk).source_ref == "changed"
    assert UserCoupon.objects.count() == 1


def test_the_coupon_is_written_with_the_values_prepared_in_python():
    template = CouponTemplateFactory(
        type="RANDOM_CASH", value={"min_amount": "1.00", "max_amount": "8.88"}, usage_rules=[], per_user_limit=0
    )
    user = UserFactory()

    coupon = coupon_claim(user=user, template_id=template.pk)

    stored = UserCoupon.objects.get()
    assert stored.pk == coupon.pk and not coupon._state.adding
    fields = ["code", "user_id", "template_id", "status", "amount", "acquired_at", "valid_from", "expires_at"]
    assert [getattr(stored, f) for f in fields] == [getattr(coupon, f) for f in fields]
    assert (stored.source, stored.source_ref, stored.order_id, stored.used_at) == (CouponSource.CLAIM, "", None, None)
    assert stored.expires_at - stored.valid_from == timedelta(days=7)
    assert not ClaimQuota.objects.exists()  # no limit, no quota row
    assert issued(template) == 1


# refusals: the procedure names the guarantee that refused, as refusal_for names it ----------------------


def long_ago():
    return timezone.now() - timedelta(days=2)


STOCK_REFUSALS = {
    "sold out": ({"total_quantity": 1, "issued_quantity": 1}, ("SOLD_OUT", None)),
    "draft": ({"status": TemplateStatus.DRAFT}, ("NOT_CLAIMABLE", "DRAFT")),
    "pending review": ({"status": TemplateStatus.PENDING_REVIEW}, ("NOT_CLAIMABLE", "PENDING_REVIEW")),
    "rejected": ({"status": TemplateStatus.REJECTED}, ("NOT_CLAIMABLE", "REJECTED")),
    "stopped": ({"status": TemplateStatus.STOPPED}, ("NOT_CLAIMABLE", "STOPPED")),
    "ended": ({"status": TemplateStatus.ENDED}, ("NOT_CLAIMABLE", "ENDED")),
    "window not open yet": ({"issue_start_time": "+1h"}, ("NOT_CLAIMABLE", "NOT_STARTED")),
    "window over": ({"issue_start_time": "-2d", "issue_end_time": "-1s"}, ("NOT_CLAIMABLE", "ENDED")),
    "sold out, validity over": (
        {
            "total_quantity": 1,
            "issued_quantity": 1,
            "validity_type": ValidityType.FIXED_DATE,
            "valid_from": "-2d",
            "valid_until": "-1s",
            "valid_days_after_issue": None,
        },
        ("NOT_CLAIMABLE", "VALIDITY_OVER"),
    ),
}
OFFSETS = {"+1h": timedelta(hours=1), "-2d": timedelta(days=-2), "-1s": timedelta(seconds=-1)}


@pytest.mark.parametrize(("fields", "expected"), list(STOCK_REFUSALS.values()), ids=list(STOCK_REFUSALS))
def test_a_refused_stock_update_is_named_and_writes_nothing(fields, expected):
    now = timezone.now()
    fields = {k: now + OFFSETS[v] if isinstance(v, str) and v in OFFSETS else v for k, v in fields.items()}
    template = CouponTemplateFactory(**fields)
    user = UserFactory()
    before = issued(template)

    answer = call(template, user.pk, now=now)

    assert isinstance(answer, Refused)
    assert (answer.guarantee, answer.reason) == expected
    assert answer.template_status == template.status
    assert answer.issued == before
    # the same name as the statements' path gives
    error = refusal_for(template.pk, 1, now)
    assert (error.code, error.details.get("reason")) == expected
    assert issued(template) == before
    assert not UserCoupon.objects.exists()
    assert not ClaimQuota.objects.exists()


def test_an_unknown_template_is_named():
    template = CouponTemplateFactory()
    CouponTemplate.objects.filter(pk=template.pk).delete()

    answer = call(template, UserFactory().pk)

    assert answer == Refused(guarantee="NOT_CLAIMABLE", reason="UNKNOWN_TEMPLATE")


def test_the_per_user_limit_refuses_and_gives_the_stock_back():
    template = CouponTemplateFactory(per_user_limit=2)
    user = UserFactory()
    assert isinstance(call(template, user.pk), Claimed)
    assert isinstance(call(template, user.pk), Claimed)

    answer = call(template, user.pk)

    assert answer == Refused(guarantee="LIMIT_REACHED")
    assert issued(template) == 2 == UserCoupon.objects.count()
    assert ClaimQuota.objects.get(template=template, user=user).claimed == 2


def test_refusals_reach_the_customer_as_before_and_teach_the_gate():
    user = UserFactory()
    # approved when this process read it, stopped since: the procedure refuses and the gate closes
    stopped = CouponTemplateFactory()
    gate.load(stopped)
    approved_template(stopped.pk)
    CouponTemplate.objects.filter(pk=stopped.pk).update(status=TemplateStatus.STOPPED)
    # the gate believes stock is left; the database is sold out
    sold_out = CouponTemplateFactory(total_quantity=3, issued_quantity=1)
    gate.load(sold_out)
    CouponTemplate.objects.filter(pk=sold_out.pk).update(issued_quantity=3)
    limited = CouponTemplateFactory(per_user_limit=1)
    coupon_claim(user=user, template_id=limited.pk)

    with pytest.raises(NotClaimable) as not_claimable:
        coupon_claim(user=user, template_id=stopped.pk)
    with pytest.raises(SoldOut) as sold:
        coupon_claim(user=user, template_id=sold_out.pk)
    with pytest.raises(LimitReached) as limit:
        coupon_claim(user=user, template_id=limited.pk)

    assert not_claimable.value.details == {"template_id": stopped.pk, "reason": "STOPPED"}
    assert gate.admit(stopped.pk) == gate.CLOSED
    assert sold.value.details == {"template_id": sold_out.pk}
    assert gate.admit(sold_out.pk) == gate.SOLD_OUT
    assert limit.value.details == {"template_id": limited.pk, "per_user_limit": 1}
    assert UserCoupon.objects.count() == 1
    assert [issued(t) for t in (stopped, sold_out, limited)] == [0, 3, 1]


def test_the_last_coupon_closes_the_gate_after_the_commit():
    template = CouponTemplateFactory(total_quantity=2, per_user_limit=0)
    gate.load(template)
    user = UserFactory()

    coupon_claim(user=user, template_id=template.pk)
    assert gate.admit(template.pk) != gate.SOLD_OUT
    coupon_claim(user=user, template_id=template.pk)

    assert gate.admit(template.pk) == gate.SOLD_OUT
    assert issued(template) == 2


# errors: rolled back whole, retried ---------------------------------------------------------------------


def test_a_code_collision_rolls_everything_back_and_raises():
    template = CouponTemplateFactory(per_user_limit=3)
    taken = UserCouponFactory(template=template).code
    user = UserFactory()

    with pytest.raises(IntegrityError) as raised:
        call(template, user.pk, code=taken)

    assert is_code_collision(raised.value)
    assert issued(template) == 0  # the stock UPDATE was rolled back with the INSERT
    assert not ClaimQuota.objects.exists()
    # the connection is left out of any transaction: the next claim commits on its own
    assert isinstance(call(template, user.pk), Claimed)
    assert issued(template) == 1
    assert ClaimQuota.objects.get().claimed == 1


def test_a_code_collision_is_retried_with_a_fresh_code_and_never_surfaced(monkeypatch):
    template = CouponTemplateFactory(per_user_limit=1)
    taken = UserCouponFactory(template=template).code
    codes = iter([taken, taken, "070126010100000042"])
    monkeypatch.setattr("coupons.ledger.issuing.coupon_code", lambda template, issued_at: next(codes))
    user = UserFactory()

    coupon = coupon_claim(user=user, template_id=template.pk)

    assert coupon.code == "070126010100000042" == UserCoupon.objects.get(user=user).code
    assert issued(template) == 1
    assert ClaimQuota.objects.get(user=user).claimed == 1


def errors_seen(monkeypatch) -> list[int]:
    """The database errors ``claim_one`` decided about (the real ``is_retryable`` still decides)."""
    seen: list[int] = []
    real = claim_procedure.is_retryable

    def recording(exc):
        seen.append(exc.args[0])
        return real(exc)

    monkeypatch.setattr(claim_procedure, "is_retryable", recording)
    return seen


LOCK_QUOTA = "SELECT claimed FROM coupons_claimquota WHERE template_id = %s AND user_id = %s FOR UPDATE"


def holder(statements, *, ready, then):
    """A thread that runs ``statements`` in its own transaction, sets ``ready``, runs ``then(cursor)`` and
    commits."""

    def run():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                for sql, params in statements:
                    cursor.execute(sql, params)
                ready.set()
                then(cursor)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_lock_wait_timeout_after_the_stock_update_is_rolled_back_and_retried(monkeypatch):
    template = CouponTemplateFactory(per_user_limit=5)
    user = UserFactory()
    ClaimQuota.objects.create(template=template, user=user, claimed=0)
    seen = errors_seen(monkeypatch)
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@SESSION.innodb_lock_wait_timeout")
        (timeout,) = cursor.fetchone()
        cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
    ready = threading.Event()
    # the quota row is locked for 1.6 s: the first attempt has taken the stock when it times out
    locker = holder([(LOCK_QUOTA, [template.pk, user.pk])], ready=ready, then=lambda cursor: time.sleep(1.6))
    try:
        assert ready.wait(10)
        answer = call(template, user.pk)
    finally:
        locker.join(10)
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION innodb_lock_wait_timeout = %s", [timeout])

    assert 1205 in seen
    assert isinstance(answer, Claimed)
    # without the rollback the timed-out attempt's stock would have been committed by the retry
    assert issued(template) == 1 == answer.issued == UserCoupon.objects.count()
    assert ClaimQuota.objects.get().claimed == 1


def test_a_deadlock_is_rolled_back_and_retried(monkeypatch):
    template = CouponTemplateFactory(per_user_limit=5)
    user = UserFactory()
    ClaimQuota.objects.create(template=template, user=user, claimed=0)
    ballast = [CouponTemplateFactory() for _ in range(20)]
    seen = errors_seen(monkeypatch)
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        (claimer,) = cursor.fetchone()
    ready = threading.Event()

    def wait_for_the_claim_to_block():
        deadline = time.monotonic() + 10
        with connection.cursor() as cursor:
            while time.monotonic() < deadline:
                cursor.execute(
                    "SELECT COUNT(*) FROM information_schema.INNODB_TRX"
                    " WHERE trx_mysql_thread_id = %s AND trx_state = 'LOCK WAIT'",
                    [claimer],
                )
                if cursor.fetchone()[0]:
                    return
                time.sleep(0.15)  # the server refreshes INNODB_TRX only when it was not read for 0.1 s
        raise AssertionError("the claim never waited for the quota row")

    def lock_the_template(cursor):
        wait_for_the_claim_to_block()
        # the claim holds the template row and waits for the quota row: a cycle, and InnoDB rolls back the
        # claim, the transaction that wrote fewer rows
        cursor.execute("UPDATE coupons_coupontemplate SET name = 'renamed' WHERE id = %s", [template.pk])

    ballast_update = "UPDATE coupons_coupontemplate SET short_name = 'ballast' WHERE id IN %s"
    locker = holder(
        [(ballast_update, [tuple(t.pk for t in ballast)]), (LOCK_QUOTA, [template.pk, user.pk])],
        ready=ready,
        then=lock_the_template,
    )
    try:
        assert ready.wait(10)
        answer = call(template, user.pk)
    finally:
        locker.join(20)

    assert 1213 in seen
    assert isinstance(answer, Claimed)
    template.refresh_from_db()
    assert template.name == "renamed"  # the holder committed
    assert template.issued_quantity == 1 == answer.issued == UserCoupon.objects.count()
    assert ClaimQuota.objects.get().claimed == 1


def test_the_procedure_refuses_to_run_inside_a_transaction():
    template = CouponTemplateFactory()
    user = UserFactory()

    with pytest.raises(RuntimeError), transaction.atomic():
        call(template, user.pk)

    assert issued(template) == 0


def test_a_row_that_is_not_the_claims_is_refused_before_the_database():
    template = CouponTemplateFactory()
    user, other = UserFactory(), UserFactory()
    coupon = build_coupon(template=template, user_id=other.pk, issued_at=timezone.now(), source=CouponSource.CLAIM)
    row = dict(zip(COUPON_COLUMNS, coupon_row(coupon), strict=True))

    with pytest.raises(ValueError), CaptureQueriesContext(connection) as queries:
        claim_procedure.claim_one(template_id=template.pk, user_id=user.pk, per_user_limit=1, coupon=row)
    with pytest.raises(ValueError):
        claim_procedure.claim_one(
            template_id=template.pk,
            user_id=other.pk,
            per_user_limit=1,
            coupon={k: v for k, v in row.items() if k != "source_ref"},
        )

    assert len(queries) == 0


# concurrency through the procedure ---------------------------------------------------------------------


def make_customers(count: int) -> list:
    user_model = get_user_model()
    user_model.objects.bulk_create([user_model(username=f"proc{i}") for i in range(count)])
    return list(user_model.objects.filter(username__startswith="proc").order_by("pk"))


def test_concurrent_claims_never_exceed_stock_or_the_per_user_limit():
    template = CouponTemplateFactory(total_quantity=60, per_user_limit=2)
    users = make_customers(45)  # 3 tries each: 135 claims for 60 coupons, at most 2 per customer

    results = run_concurrently(claim, [(u, template) for u in users * 3])

    kinds = Counter(type(r).__name__ for r in results)
    assert set(kinds) <= {"UserCoupon", "SoldOut", "LimitReached"}, results
    assert kinds["UserCoupon"] == 60
    assert issued(template) == 60 == UserCoupon.objects.filter(template=template).count()
    per_user = Counter(UserCoupon.objects.values_list("user_id", flat=True))
    assert max(per_user.values()) <= 2
    quotas = dict(ClaimQuota.objects.values_list("user_id", "claimed"))
    assert quotas == dict(per_user)
    assert len({r.code for r in results if isinstance(r, UserCoupon)}) == 60


def claim(user, template):
    try:
        return coupon_claim(user=user, template_id=template.pk)
    except ApplicationError as exc:
        return exc


def test_one_customer_racing_the_procedure_directly_gets_exactly_the_limit():
    template = CouponTemplateFactory(total_quantity=100, per_user_limit=3)
    (user,) = make_customers(1)

    results = run_concurrently(lambda _i: call(template, user.pk), [(i,) for i in range(40)])

    assert sum(isinstance(r, Claimed) for r in results) == 3
    assert [r for r in results if not isinstance(r, Claimed)] == [Refused(guarantee="LIMIT_REACHED")] * 37
    assert issued(template) == 3 == UserCoupon.objects.count()
    assert ClaimQuota.objects.get().claimed == 3
    assert sorted(r.issued for r in results if isinstance(r, Claimed)) == [1, 2, 3]


def test_many_customers_racing_the_procedure_directly_take_exactly_the_stock():
    template = CouponTemplateFactory(total_quantity=25, per_user_limit=1)
    users = make_customers(80)

    results = run_concurrently(lambda user: call(template, user.pk), [(u,) for u in users])

    claimed = [r for r in results if isinstance(r, Claimed)]
    assert len(claimed) == 25
    assert all(r.guarantee == "SOLD_OUT" and r.issued == 25 for r in results if isinstance(r, Refused))
    assert sorted(r.issued for r in claimed) == list(range(1, 26))
    assert issued(template) == 25 == UserCoupon.objects.count()
    assert ClaimQuota.objects.aggregate(n=Sum("claimed"))["n"] == 25


# the migration -----------------------------------------------------------------------------------------


def test_the_migration_drops_the_procedure_when_reversed_and_creates_it_again():
    def exists() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM information_schema.ROUTINES"
                " WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = %s",
                [claim_procedure.PROCEDURE],
            )
            return cursor.fetchone()[0] == 1

    try:
        call_command("migrate", "coupons", "0004", verbosity=0)
        assert not exists()
    finally:  # every app: going back also unapplied the migrations of other apps that depend on these
        call_command("migrate", verbosity=0)
    assert exists()
    template = CouponTemplateFactory()
    assert isinstance(call(template, UserFactory().pk), Claimed)
