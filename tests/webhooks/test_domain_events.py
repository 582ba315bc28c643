"""The real flows write the webhook deliveries: approvals, claims over HTTP, orders paid and refunded,
bulk grants. One delivery per (event, active endpoint subscribed to it), in the change's transaction;
nothing for a change that was refused, nothing for an endpoint that does not listen or was deactivated.

Transactional tests: a claim outside ``atomic`` is what takes the plain transaction or the one ``CALL``.
"""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from coupons.ledger import claim_procedure
from coupons.models import ClaimQuota, CouponStatus, CouponTemplate, UserCoupon
from coupons.services.codes import code_batch_create
from marketing.models import Activity, ActivityItem, ActivityStatus, BulkGrantStatus, BulkGrantTarget
from marketing.services.bulk_grants import bulk_grant_approve, bulk_grant_create, bulk_grant_run, bulk_grant_submit
from orders.models import Order, OrderStatus
from tests.conftest import client_for
from tests.error_shape import assert_api_error
from tests.factories import CouponTemplateFactory, UserFactory
from tests.factories.checkout import seed_menu, seed_template
from tests.factories.template_input import TemplateInputFactory
from tests.marketing.distribution import clean_redis, restore_roles_after_module, run_concurrently  # noqa: F401
from tests.webhooks.receiver import Receiver
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from webhooks.services.endpoints import endpoint_create, endpoint_deactivate
from webhooks.tasks import deliver_webhook

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_redis")]

BASE = "/api/v1/staff/templates/"
NOWHERE = "http://127.0.0.1:9/hooks"  # never sent to here: the tests read the outbox
LINES = [{"sku": "d-101", "quantity": 1}, {"sku": "d-201", "quantity": 1}]  # 146.00, 128.00 of roast duck


def _endpoint(actor: Any, *event_types: str, url: str = NOWHERE) -> WebhookEndpoint:
    return endpoint_create(actor=actor, url=url, event_types=list(event_types))


def _deliveries(endpoint: WebhookEndpoint | None = None) -> list[WebhookDelivery]:
    rows = WebhookDelivery.objects.order_by("pk")
    return list(rows if endpoint is None else rows.filter(endpoint=endpoint))


def _sent(endpoint: WebhookEndpoint) -> list[tuple[str, dict]]:
    return [(d.event_type, d.payload) for d in _deliveries(endpoint)]


def _claim(client: APIClient, template: CouponTemplate, status: int = 201) -> dict:
    response = client.post(f"/api/v1/templates/{template.pk}/claim")
    assert response.status_code == status, response.content
    return response.json()


def _post(client: APIClient, path: str, body: dict | None = None, status: int = 200) -> dict:
    response = client.post(path, body or {}, format="json")
    assert response.status_code == status, response.content
    return response.json()


# template.approved ------------------------------------------------------------------------------------


def test_a_finance_approval_writes_template_approved(operations_user, operations_client, finance_client):
    endpoint = _endpoint(operations_user, "template.approved")
    pk = _post(operations_client, BASE, TemplateInputFactory(), status=201)["id"]
    _post(operations_client, f"{BASE}{pk}/submit")
    assert _deliveries() == []  # submitting is not approving

    approved = _post(finance_client, f"{BASE}{pk}/approve", {"remark": "同意"})

    assert approved["status"] == "APPROVED"
    (delivery,) = _deliveries()
    assert (delivery.endpoint_id, delivery.event_type, delivery.payload) == (
        endpoint.pk,
        "template.approved",
        {"template_id": pk},
    )
    assert delivery.status == DeliveryStatus.PENDING


# coupon.issued by a claim -----------------------------------------------------------------------------


def test_a_claim_over_http_writes_coupon_issued_and_issues_once(operations_user):
    issued_hook = _endpoint(operations_user, "coupon.issued")
    paid_hook = _endpoint(operations_user, "order.paid")
    template = CouponTemplateFactory(total_quantity=10, per_user_limit=1)
    customer = UserFactory()

    coupon = _claim(client_for(customer), template)

    assert _sent(issued_hook) == [
        (
            "coupon.issued",
            {
                "template_id": template.pk,
                "user_ids": [customer.pk],
                "coupon_ids": [coupon["id"]],
                "source": "CLAIM",
                "source_ref": "",
            },
        )
    ]
    assert _sent(paid_hook) == []  # subscribed to order.paid only
    # issued exactly once: one coupon, one unit of stock, one unit of quota
    assert list(UserCoupon.objects.values_list("pk", "user_id")) == [(coupon["id"], customer.pk)]
    assert CouponTemplate.objects.get(pk=template.pk).issued_quantity == 1
    assert ClaimQuota.objects.get(template=template, user=customer).claimed == 1


def test_without_a_subscriber_to_coupon_issued_a_claim_is_one_call_and_writes_nothing(operations_user):
    if connection.vendor != "mysql":
        pytest.skip("the stored procedure is a MySQL/MariaDB path")
    paid_hook = _endpoint(operations_user, "order.paid")
    template = CouponTemplateFactory(total_quantity=10, per_user_limit=0)
    client = client_for(UserFactory())
    _claim(client, template)  # the template and the subscribed event types are cached now

    with CaptureQueriesContext(connection) as queries:
        coupon = _claim(client, template)

    sql = [query["sql"] for query in queries]
    assert any(s.startswith(f"CALL {claim_procedure.PROCEDURE}(") for s in sql), sql
    assert not any("START TRANSACTION" in s.upper() for s in sql), sql
    assert not any("webhooks_webhookdelivery" in s for s in sql), sql
    assert UserCoupon.objects.filter(pk=coupon["id"]).exists()
    assert CouponTemplate.objects.get(pk=template.pk).issued_quantity == 2
    assert _deliveries() == []
    assert _sent(paid_hook) == []


def test_an_endpoint_on_coupon_issued_moves_the_claim_off_the_one_call_path(operations_user):
    if connection.vendor != "mysql":
        pytest.skip("the stored procedure is a MySQL/MariaDB path")
    _endpoint(operations_user, "coupon.issued")
    template = CouponTemplateFactory(total_quantity=10, per_user_limit=0)
    client = client_for(UserFactory())
    _claim(client, template)

    with CaptureQueriesContext(connection) as queries:
        coupon = _claim(client, template)

    sql = [query["sql"] for query in queries]
    assert not any(s.startswith("CALL ") for s in sql), sql
    assert any(s.startswith("INSERT INTO `webhooks_webhookdelivery`") for s in sql), sql
    assert [d.payload["coupon_ids"] for d in _deliveries()][-1] == [coupon["id"]]
    assert len(_deliveries()) == 2


def test_concurrent_claims_over_http_write_one_delivery_per_coupon_issued(operations_user):
    endpoint = _endpoint(operations_user, "coupon.issued")
    template = CouponTemplateFactory(total_quantity=6, per_user_limit=1)
    clients = [client_for(UserFactory()) for _ in range(16)]

    answers = run_concurrently(
        lambda client: client.post(f"/api/v1/templates/{template.pk}/claim"), [(c,) for c in clients]
    )

    assert sorted(getattr(a, "status_code", a) for a in answers) == [201] * 6 + [409] * 10, answers
    coupons = dict(UserCoupon.objects.values_list("pk", "user_id"))
    assert len(coupons) == 6 == CouponTemplate.objects.get(pk=template.pk).issued_quantity
    deliveries = _deliveries(endpoint)
    assert sorted((d.payload["coupon_ids"][0], d.payload["user_ids"][0]) for d in deliveries) == sorted(coupons.items())
    assert len({d.event_id for d in deliveries}) == 6


@override_settings(CLAIM_GATE=False)  # the database refuses, not the gate in front of it
def test_a_sold_out_or_over_the_limit_claim_writes_nothing(operations_user):
    endpoint = _endpoint(operations_user, "coupon.issued")
    template = CouponTemplateFactory(total_quantity=1, per_user_limit=1)
    first, second = UserFactory(), UserFactory()
    _claim(client_for(first), template)
    assert len(_deliveries(endpoint)) == 1

    assert_api_error(client_for(second).post(f"/api/v1/templates/{template.pk}/claim"), 409, "SOLD_OUT")
    limited = CouponTemplateFactory(total_quantity=5, per_user_limit=1)
    _claim(client_for(second), limited)
    assert_api_error(client_for(second).post(f"/api/v1/templates/{limited.pk}/claim"), 409, "LIMIT_REACHED")

    # the two refusals rolled back their stock and wrote no delivery
    assert [d.payload["user_ids"] for d in _deliveries(endpoint)] == [[first.pk], [second.pk]]
    assert CouponTemplate.objects.get(pk=template.pk).issued_quantity == 1
    assert CouponTemplate.objects.get(pk=limited.pk).issued_quantity == 1
    assert UserCoupon.objects.count() == 2


def test_a_redeemed_code_writes_coupon_issued_naming_its_batch(operations_user):
    endpoint = _endpoint(operations_user, "coupon.issued")
    template = CouponTemplateFactory(total_quantity=10, visible_in_claim_center=False)
    batch = code_batch_create(template=template, name="launch", quantity=2, actor=operations_user)
    code = batch.codes.order_by("pk").values_list("code", flat=True)[0]
    customer = UserFactory()

    coupon = _post(client_for(customer), "/api/v1/redeem-code", {"code": code}, status=201)

    assert _sent(endpoint) == [
        (
            "coupon.issued",
            {
                "template_id": template.pk,
                "user_ids": [customer.pk],
                "coupon_ids": [coupon["id"]],
                "source": "REDEEM_CODE",
                "source_ref": str(batch.pk),
            },
        )
    ]


@override_settings(CLAIM_GATE=False)
def test_an_activity_bundle_rolled_back_by_its_sold_out_item_leaves_no_delivery(operations_user):
    endpoint = _endpoint(operations_user, "coupon.issued")
    # items are issued in template order: the first is written (and its event recorded) before the
    # second finds no stock and the whole bundle rolls back
    available = CouponTemplateFactory(total_quantity=10, per_user_limit=0)
    gone = CouponTemplateFactory(total_quantity=1, issued_quantity=1, per_user_limit=0)
    now = timezone.now()
    activity = Activity.objects.create(
        title="Spring festival",
        start_time=now - timedelta(hours=1),
        end_time=now + timedelta(days=1),
        status=ActivityStatus.PUBLISHED,
        per_user_limit=1,
    )
    for template in (available, gone):
        ActivityItem.objects.create(activity=activity, template=template, quantity=1)
    customer = UserFactory()

    response = client_for(customer).post(f"/api/v1/activities/{activity.pk}/claim")

    assert_api_error(response, 409, "SOLD_OUT")
    assert _deliveries(endpoint) == []
    assert UserCoupon.objects.count() == 0
    assert CouponTemplate.objects.get(pk=available.pk).issued_quantity == 0
    # and once the stock is there, the same claim writes one delivery per item, naming the activity
    CouponTemplate.objects.filter(pk=gone.pk).update(total_quantity=2)
    _post(client_for(customer), f"/api/v1/activities/{activity.pk}/claim", status=201)
    sent = _sent(endpoint)
    assert [(data["template_id"], data["source"], data["source_ref"]) for _, data in sent] == [
        (available.pk, "ACTIVITY", str(activity.pk)),
        (gone.pk, "ACTIVITY", str(activity.pk)),
    ]
    issued = sorted(UserCoupon.objects.values_list("pk", flat=True))
    assert len(issued) == 2
    assert sorted(i for _, data in sent for i in data["coupon_ids"]) == issued


# coupon.used, order.paid, order.refunded --------------------------------------------------------------


def test_placing_paying_and_refunding_an_order_writes_its_events(operations_user):
    seed_menu()
    order_hook = _endpoint(operations_user, "coupon.used", "order.paid", "order.refunded")
    claim_hook = _endpoint(operations_user, "coupon.issued")
    customer = UserFactory()
    client = client_for(customer)
    coupon = _claim(client, seed_template("roast_duck_100_20"))
    assert len(_deliveries(claim_hook)) == 1

    order = _post(client, "/api/v1/orders/", {"lines": LINES, "channel": "APP", "coupon_ids": [coupon["id"]]}, 201)
    assert _deliveries(order_hook) == []  # a coupon locked to an order is not used yet

    paid = _post(client, f"/api/v1/orders/{order['id']}/pay")

    assert paid["status"] == OrderStatus.PAID
    paid_at = Order.objects.get(pk=order["id"]).paid_at
    assert paid_at is not None
    assert _sent(order_hook) == [
        ("coupon.used", {"coupon_ids": [coupon["id"]], "order_id": order["id"]}),
        (
            "order.paid",
            {"order_id": order["id"], "user_id": customer.pk, "first_paid_order": True, "paid_at": paid_at.isoformat()},
        ),
    ]
    used, paid_event = _deliveries(order_hook)
    assert used.event_id != paid_event.event_id
    assert UserCoupon.objects.get(pk=coupon["id"]).status == CouponStatus.USED

    refunded = _post(client, f"/api/v1/orders/{order['id']}/refund", {"reason": "cold duck"})

    assert refunded["status"] == OrderStatus.REFUNDED
    assert _sent(order_hook)[2:] == [("order.refunded", {"order_id": order["id"], "user_id": customer.pk})]
    assert len(_deliveries(claim_hook)) == 1  # the order issued nothing


def test_a_second_paid_order_is_not_the_first_and_an_order_without_coupons_uses_none(operations_user):
    seed_menu()
    endpoint = _endpoint(operations_user, "coupon.used", "order.paid")
    customer = UserFactory()
    client = client_for(customer)
    orders = [_post(client, "/api/v1/orders/", {"lines": LINES, "channel": "APP"}, 201) for _ in range(2)]

    for order in orders:
        _post(client, f"/api/v1/orders/{order['id']}/pay")

    sent = _sent(endpoint)
    assert [(event, data["order_id"], data["first_paid_order"]) for event, data in sent] == [
        ("order.paid", orders[0]["id"], True),
        ("order.paid", orders[1]["id"], False),
    ]


def test_an_order_refused_as_coupon_not_usable_writes_nothing(operations_user):
    seed_menu()
    endpoint = _endpoint(operations_user, "coupon.used", "order.paid")
    client = client_for(UserFactory())
    coupon = _claim(client, seed_template("roast_duck_100_20"))
    cold_dish_only = [{"sku": "d-201", "quantity": 1}]  # 18.00, no roast duck

    response = client.post(
        "/api/v1/orders/", {"lines": cold_dish_only, "channel": "APP", "coupon_ids": [coupon["id"]]}, format="json"
    )

    assert_api_error(response, 409, "COUPON_NOT_USABLE")
    assert Order.objects.count() == 0
    assert UserCoupon.objects.get(pk=coupon["id"]).status == CouponStatus.UNUSED
    assert _deliveries() == []
    # the same coupon on an order it fits: placed and paid, the endpoint hears of it
    order = _post(client, "/api/v1/orders/", {"lines": LINES, "channel": "APP", "coupon_ids": [coupon["id"]]}, 201)
    _post(client, f"/api/v1/orders/{order['id']}/pay")
    assert [(event, data["order_id"]) for event, data in _sent(endpoint)] == [
        ("coupon.used", order["id"]),
        ("order.paid", order["id"]),
    ]


def test_a_deactivated_endpoint_receives_nothing(operations_user):
    seed_menu()
    kept = _endpoint(operations_user, "coupon.issued", "order.paid")
    dropped = _endpoint(operations_user, "coupon.issued", "order.paid")
    endpoint_deactivate(endpoint=dropped, actor=operations_user)
    client = client_for(UserFactory())

    coupon = _claim(client, seed_template("new_user_68_10"))
    order = _post(client, "/api/v1/orders/", {"lines": LINES, "channel": "APP", "coupon_ids": [coupon["id"]]}, 201)
    _post(client, f"/api/v1/orders/{order['id']}/pay")

    assert [event for event, _ in _sent(kept)] == ["coupon.issued", "order.paid"]
    assert _deliveries(dropped) == []

    endpoint_deactivate(endpoint=kept, actor=operations_user)
    _claim(client, seed_template("cash_5_stackable"))
    assert len(_deliveries()) == 2  # nobody listens any more


# bulk grants ------------------------------------------------------------------------------------------


def test_a_bulk_grant_run_to_the_end_writes_one_coupon_issued_per_chunk_and_bulk_grant_done(
    operations_user, finance_user
):
    issued_hook = _endpoint(operations_user, "coupon.issued")
    done_hook = _endpoint(operations_user, "bulk_grant.done")
    members = [UserFactory() for _ in range(5)]
    template = CouponTemplateFactory(total_quantity=4, per_user_limit=1)
    grant = bulk_grant_create(
        actor=operations_user,
        name="win back",
        template=template,
        target_type=BulkGrantTarget.SEGMENT,
        segment={"everybody": True},
    )
    bulk_grant_submit(grant=grant, actor=operations_user)
    grant = bulk_grant_approve(grant=grant, actor=finance_user)

    bulk_grant_run(grant=grant, chunk_size=2)

    grant.refresh_from_db()
    assert (grant.status, grant.granted, grant.skipped_stock) == (BulkGrantStatus.DONE, 4, 1)
    codes = dict(UserCoupon.objects.filter(source_ref=str(grant.pk)).values_list("user_id", "code"))
    # chunks of 2, 2 and 1 members: the last one found no stock and issued nothing
    expected_chunks = [[m.pk for m in members[0:2]], [m.pk for m in members[2:4]]]
    assert [d.payload for d in _deliveries(issued_hook)] == [
        {
            "template_id": template.pk,
            "user_ids": chunk,
            "coupon_ids": None,
            "coupon_codes": [codes[user_id] for user_id in chunk],
            "source": "BULK_GRANT",
            "source_ref": str(grant.pk),
        }
        for chunk in expected_chunks
    ]
    assert _sent(done_hook) == [("bulk_grant.done", {"bulk_grant_id": grant.pk, "status": "DONE", "granted": 4})]


# one delivery end to end ------------------------------------------------------------------------------


def test_an_order_paid_reaches_a_real_receiver_signed(operations_user):
    seed_menu()
    with Receiver() as receiver:
        endpoint = _endpoint(operations_user, "order.paid", url=receiver.url)
        receiver.secret = endpoint.secret
        customer = UserFactory()
        client = client_for(customer)
        order = _post(client, "/api/v1/orders/", {"lines": LINES, "channel": "APP"}, 201)
        _post(client, f"/api/v1/orders/{order['id']}/pay")
        (delivery,) = _deliveries(endpoint)

        # as the worker runs the task the commit handed to the broker
        assert deliver_webhook.apply(args=(delivery.pk,)).get() == DeliveryStatus.DELIVERED

    (received,) = receiver.requests
    assert received.valid_signature
    assert received.headers["X-Webhook-Id"] == str(delivery.event_id)
    assert received.headers["X-Webhook-Event"] == "order.paid"
    body = received.json
    assert (body["id"], body["type"]) == (str(delivery.event_id), "order.paid")
    assert body["data"]["order_id"] == order["id"]
    assert body["data"]["user_id"] == customer.pk
    assert body["data"]["first_paid_order"] is True
    assert Decimal(Order.objects.get(pk=order["id"]).total) == Decimal("146.00")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 1, 200)
