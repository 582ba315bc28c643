"""A database connection killed mid-request: the request's work runs once more on a fresh
connection when nothing of it can have been committed, else 503 with Retry-After; never a 500.

The connection is really killed: another connection sends MariaDB's ``KILL`` for it just before the
chosen statement is sent, against the real views."""

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from django.db import OperationalError, connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.models import ThrottleCounter
from coupons.ledger import claim_procedure, gate
from coupons.models import ClaimQuota, CouponTemplate, UserCoupon
from orders.models import Order
from tests.error_shape import assert_api_error
from tests.factories import CouponTemplateFactory, UserFactory
from tests.factories.checkout import seed_menu
from webhooks.models import WebhookEndpoint
from webhooks.services.outbox import forget_event_types

pytestmark = pytest.mark.django_db(transaction=True)


def _kill(thread_id: int) -> None:
    killer = connection.get_new_connection(connection.get_connection_params())
    try:
        cursor = killer.cursor()
        cursor.execute(f"KILL {int(thread_id)}")
        for _ in range(200):  # until the server has dropped it
            cursor.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s", [thread_id])
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.01)
    finally:
        killer.close()


@contextlib.contextmanager
def killed_before(matches: Callable[[str], bool], times: int = 1) -> Iterator[list[str]]:
    """Kill this thread's connection from another one right before the first ``times`` statements that
    ``matches``; yields the statements it killed under."""
    killed: list[str] = []

    def wrapper(execute, sql, params, many, context):
        if len(killed) < times and matches(sql):
            killed.append(sql)
            _kill(context["connection"].connection.thread_id())
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield killed


def customer_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture(autouse=True)
def _gate_memory():
    gate.forget()
    yield
    gate.forget()


@pytest.fixture
def statements_one_by_one():
    """A webhook endpoint subscribed to ``coupon.issued`` needs the claim's transaction, so the claim sends
    its statements one by one instead of its one ``CALL``."""
    WebhookEndpoint.objects.create(url="http://127.0.0.1:9/hook", event_types=["coupon.issued"], is_active=True)
    forget_event_types()
    yield
    forget_event_types()


def claimed(template: CouponTemplate, user) -> tuple[int, int, int]:
    template.refresh_from_db()
    quota = ClaimQuota.objects.filter(template=template, user=user).values_list("claimed", flat=True).first()
    return UserCoupon.objects.filter(template=template).count(), template.issued_quantity, quota or 0


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(lambda sql: "authtoken_token" in sql, id="token-lookup"),
        pytest.param(lambda sql: sql.startswith("START TRANSACTION"), id="start-transaction"),
        pytest.param(lambda sql: "LAST_INSERT_ID" in sql, id="take-stock"),
        pytest.param(lambda sql: "claimquota" in sql and sql.startswith("INSERT"), id="take-quota"),
        pytest.param(lambda sql: "usercoupon" in sql and sql.startswith("INSERT"), id="insert-coupon"),
    ],
)
def test_a_claim_killed_before_its_commit_is_run_again_and_issues_once(statement, statements_one_by_one):
    user = UserFactory()
    template = CouponTemplateFactory(total_quantity=10, per_user_limit=3)
    client = customer_client(user)

    with killed_before(statement) as killed:
        response = client.post(f"/api/v1/templates/{template.pk}/claim")

    assert len(killed) == 1
    assert response.status_code == 201, response.content
    assert claimed(template, user) == (1, 1, 1)
    assert UserCoupon.objects.get().pk == response.json()["id"]


def test_a_claim_killed_at_its_commit_answers_503_and_may_be_retried(statements_one_by_one):
    user = UserFactory()
    template = CouponTemplateFactory(total_quantity=10, per_user_limit=3)
    client = customer_client(user)

    with killed_before(lambda sql: sql.startswith("COMMIT")) as killed:
        response = client.post(f"/api/v1/templates/{template.pk}/claim")

    # a COMMIT that was sent may have committed: not run again, the client is told to retry
    assert len(killed) == 1
    assert_api_error(response, 503, "SERVICE_UNAVAILABLE")
    assert int(response["Retry-After"]) >= 1
    assert claimed(template, user) == (0, 0, 0)  # (killed before the COMMIT reached the server)
    retry = client.post(f"/api/v1/templates/{template.pk}/claim")
    assert retry.status_code == 201
    assert claimed(template, user) == (1, 1, 1)


@pytest.mark.parametrize("lost_after", [False, True], ids=["before-the-call", "after-the-call-committed"])
def test_a_claim_whose_call_lost_its_connection_is_answered_once(lost_after):
    # given: the claim is one CALL of the stored procedure (nobody needs its transaction)
    user = UserFactory()
    template = CouponTemplateFactory(total_quantity=10, per_user_limit=3)
    client = customer_client(user)
    calls: list[str] = []

    def kill_around_call(execute, sql, params, many, context):
        if not sql.startswith("CALL") or calls:
            return execute(sql, params, many, context)
        calls.append(sql)
        thread_id = context["connection"].connection.thread_id()
        if not lost_after:
            _kill(thread_id)
            return execute(sql, params, many, context)
        execute(sql, params, many, context)  # committed on the server; the answer never arrives
        _kill(thread_id)
        raise OperationalError(2013, "Lost connection to server during query")

    # when
    with connection.execute_wrapper(kill_around_call):
        response = client.post(f"/api/v1/templates/{template.pk}/claim")

    # then: the fresh connection finds out by the coupon's code whether the CALL committed
    assert len(calls) == 1
    assert response.status_code == 201, response.content
    assert claimed(template, user) == (1, 1, 1)
    assert UserCoupon.objects.get().pk == response.json()["id"]


def test_a_claim_whose_call_runs_on_after_its_connection_was_lost_is_issued_once():
    # given: another transaction holds the template's row, so the claim's CALL waits on the server
    user = UserFactory()
    template = CouponTemplateFactory(total_quantity=10, per_user_limit=0)
    client = customer_client(user)
    blocker = connection.get_new_connection(connection.get_connection_params())
    blocker.autocommit(False)
    blocker.cursor().execute(f"SELECT id FROM {CouponTemplate._meta.db_table} WHERE id = {template.pk} FOR UPDATE")
    release = threading.Timer(1.0, blocker.commit)
    sent: list[str] = []

    def lose_the_answer(execute, sql, params, many, context):
        if not sql.startswith("CALL") or sent:
            return execute(sql, params, many, context)
        sent.append(sql)
        raw = context["connection"].connection
        raw.send_query(claim_procedure.statement(sql, params))  # runs on; never read
        raise OperationalError(2013, "Lost connection to server during query")

    # when: the client gives the CALL up while it waits; the row is let go a second later
    release.start()
    try:
        with connection.execute_wrapper(lose_the_answer):
            response = client.post(f"/api/v1/templates/{template.pk}/claim")
    finally:
        release.join()
        blocker.close()

    # then: the lost CALL was ended before the claim was sent again, so one coupon was issued
    assert len(sent) == 1
    assert response.status_code == 201, response.content
    assert claimed(template, user) == (1, 1, 0)
    assert UserCoupon.objects.get().pk == response.json()["id"]


def test_a_connection_lost_again_on_the_second_run_answers_503():
    user = UserFactory()
    template = CouponTemplateFactory(total_quantity=10)
    client = customer_client(user)

    with killed_before(lambda sql: "authtoken_token" in sql, times=2) as killed:
        response = client.post(f"/api/v1/templates/{template.pk}/claim")

    assert len(killed) == 2
    assert_api_error(response, 503, "SERVICE_UNAVAILABLE")
    assert claimed(template, user) == (0, 0, 0)


def test_an_order_killed_inside_its_transaction_is_placed_once():
    seed_menu()
    user = UserFactory()
    client = customer_client(user)
    body = {"lines": [{"sku": "d-101", "quantity": 1}], "channel": "APP"}

    with killed_before(lambda sql: sql.startswith("INSERT") and "orders_orderline" in sql) as killed:
        response = client.post("/api/v1/orders/", body, format="json")

    assert len(killed) == 1
    assert response.status_code == 201, response.content
    assert list(Order.objects.values_list("pk", flat=True)) == [response.json()["id"]]


def test_a_request_that_committed_a_write_is_not_run_again(settings):
    # given: without Redis the attempt counter is a committed database row before the code is looked up
    settings.REDIS_URL = ""
    user = UserFactory()
    client = customer_client(user)

    with killed_before(lambda sql: "redemptioncode" in sql) as killed:
        response = client.post("/api/v1/redeem-code", {"code": "WRONGWRONGWRONG1"}, format="json")

    assert len(killed) == 1
    assert_api_error(response, 503, "SERVICE_UNAVAILABLE")
    # counted once, not twice
    assert list(ThrottleCounter.objects.filter(key=f"redeem:user:{user.pk}").values_list("count", flat=True)) == [1]


def test_a_get_killed_mid_way_is_answered():
    user = UserFactory()
    CouponTemplateFactory()
    client = customer_client(user)

    with killed_before(lambda sql: "coupons_coupontemplate" in sql) as killed:
        response = client.get("/api/v1/claim-center/")

    assert len(killed) == 1
    assert response.status_code == 200, response.content
