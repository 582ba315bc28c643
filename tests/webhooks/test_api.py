"""Staff API for webhook endpoints and the delivery log: same services and permissions as admin."""

import pytest
from rest_framework.test import APIClient

from core.audit import audit_trail_for
from core.events import Event, emit
from tests.conftest import client_for
from tests.error_shape import assert_api_error
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

ENDPOINTS = "/api/v1/staff/webhook-endpoints/"
DELIVERIES = "/api/v1/staff/webhook-deliveries/"


def _create(client, **overrides):
    body = {"url": "https://pos.example.com/hooks", "description": "POS", "event_types": ["order.paid"], **overrides}
    return client.post(ENDPOINTS, body, format="json")


def test_operations_register_an_endpoint_and_see_its_secret_once(operations_client, operations_user):
    # when
    response = _create(operations_client, event_types=["order.paid", "coupon.issued"])

    # then: 201 with the secret, in the declared order of event types
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert body["event_types"] == ["coupon.issued", "order.paid"]
    assert body["is_active"] is True and body["created_by"] == operations_user.username
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert endpoint.secret == body["secret"]
    assert [entry.action for entry in audit_trail_for(endpoint)] == ["create"]
    # and never again: not in the list, not in the detail
    listed = operations_client.get(ENDPOINTS).json()
    assert listed["count"] == 1 and "secret" not in listed["results"][0]
    detail = operations_client.get(f"{ENDPOINTS}{endpoint.pk}")
    assert detail.status_code == 200 and "secret" not in detail.json()
    assert operations_client.get(f"{ENDPOINTS}{endpoint.pk}/").status_code == 200


def test_edit_deactivate_rotate_and_test(operations_client):
    endpoint_id = _create(operations_client).json()["id"]
    old_secret = WebhookEndpoint.objects.get(pk=endpoint_id).secret

    edited = operations_client.patch(f"{ENDPOINTS}{endpoint_id}", {"event_types": ["budget.alert"]}, format="json")
    assert edited.status_code == 200 and edited.json()["event_types"] == ["budget.alert"]
    assert edited.json()["url"] == "https://pos.example.com/hooks"

    rotated = operations_client.post(f"{ENDPOINTS}{endpoint_id}/rotate-secret")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != old_secret
    assert WebhookEndpoint.objects.get(pk=endpoint_id).secret == rotated.json()["secret"]

    tested = operations_client.post(f"{ENDPOINTS}{endpoint_id}/test")
    assert tested.status_code == 202
    assert tested.json()["event_type"] == "webhook.test" and tested.json()["status"] == "PENDING"
    assert WebhookDelivery.objects.filter(endpoint_id=endpoint_id, event_type="webhook.test").count() == 1

    deactivated = operations_client.delete(f"{ENDPOINTS}{endpoint_id}")
    assert deactivated.status_code == 200 and deactivated.json()["is_active"] is False
    emit(Event.BUDGET_ALERT, budget_id=1, used="95.00")
    assert not WebhookDelivery.objects.filter(event_type="budget.alert").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://pos.example.com/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://x.example.com/" + "a" * 500}, "url"),
        ({"url": "https://hook:s3cret@pos.example.com/hooks"}, "url"),  # never sent: the signature authenticates
        ({"url": "https://pos.example.com:99999/hooks"}, "url"),
        ({"url": "https://pos.example.com:0/hooks"}, "url"),
        ({"event_types": []}, "event_types"),
        ({"event_types": ["order.eaten"]}, "event_types"),
        ({"event_types": "order.paid"}, "event_types"),
        ({"description": "x" * 201}, "description"),
        ({"secret": "mine"}, "secret"),
        ({"is_active": "perhaps"}, "is_active"),
    ],
)
def test_bad_input_is_refused_in_the_error_shape_and_changes_nothing(operations_client, body, field):
    assert_api_error(_create(operations_client, **body), 400, field=field)
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",
        "http://10.1.2.3/hooks",
        "https://192.168.0.8/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/hooks",
        "http://0.0.0.0/",
        "http://[::1]/hooks",
        "http://[fd00::1]/hooks",
        "http://[::ffff:10.0.0.1]/hooks",
        "http://localhost:8000/hooks",
        "http://api.localhost/hooks",
    ],
)
def test_a_private_or_reserved_address_is_refused(operations_client, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    response = _create(operations_client, url=url)

    assert_api_error(response, 400, field="url")
    assert "public addresses only" in response.json()["error"]["details"]["url"][0]
    assert WebhookEndpoint.objects.count() == 0


def test_a_private_address_is_refused_in_chinese_too(operations_user, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    client = client_for(operations_user)

    response = client.post(
        ENDPOINTS,
        {"url": "http://10.0.0.5/hooks", "event_types": ["order.paid"]},
        format="json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )

    assert_api_error(response, 400, field="url")
    assert "公网" in response.json()["error"]["details"]["url"][0]


def test_a_public_address_or_name_is_accepted(operations_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    for url in ("https://8.8.8.8/hooks", "https://pos.example.com/hooks"):  # names are checked when sent
        assert _create(operations_client, url=url).status_code == 201


def test_a_bad_edit_changes_nothing(operations_client):
    endpoint_id = _create(operations_client).json()["id"]

    response = operations_client.patch(f"{ENDPOINTS}{endpoint_id}", {"url": "javascript:alert(1)"}, format="json")

    assert_api_error(response, 400, field="url")
    assert WebhookEndpoint.objects.get(pk=endpoint_id).url == "https://pos.example.com/hooks"


def test_who_may_do_what(finance_user, customer_client, operations_client):
    endpoint_id = _create(operations_client).json()["id"]
    finance = client_for(finance_user)

    assert_api_error(finance.get(ENDPOINTS), 403)
    assert_api_error(_create(finance), 403)
    assert_api_error(finance.delete(f"{ENDPOINTS}{endpoint_id}"), 403)
    assert_api_error(finance.get(DELIVERIES), 403)
    assert_api_error(customer_client.get(ENDPOINTS), 403)
    assert_api_error(APIClient().get(ENDPOINTS), 401)
    assert_api_error(operations_client.get(f"{ENDPOINTS}999999"), 404)
    assert_api_error(operations_client.post(f"{ENDPOINTS}999999/test"), 404)
    assert WebhookEndpoint.objects.get(pk=endpoint_id).is_active


def test_the_delivery_log_filters_and_retries(operations_client):
    endpoint_id = _create(operations_client, event_types=["order.paid", "order.refunded"]).json()["id"]
    emit(Event.ORDER_PAID, order_id=1, user_id=2)
    emit(Event.ORDER_REFUNDED, order_id=1, user_id=2, amount="10.00")
    failed = WebhookDelivery.objects.get(event_type="order.refunded")
    WebhookDelivery.objects.filter(pk=failed.pk).update(status=DeliveryStatus.FAILED, attempts=10, next_attempt_at=None)

    everything = operations_client.get(DELIVERIES).json()
    assert everything["count"] == 2
    only_failed = operations_client.get(DELIVERIES, {"status": "FAILED"}).json()
    assert [d["id"] for d in only_failed["results"]] == [failed.pk]
    assert only_failed["results"][0]["payload"] == {"order_id": 1, "user_id": 2, "amount": "10.00"}
    by_type = operations_client.get(DELIVERIES, {"event_type": "order.paid", "endpoint_id": endpoint_id}).json()
    assert by_type["count"] == 1
    assert_api_error(operations_client.get(DELIVERIES, {"status": "LOST"}), 400, field="status")
    assert_api_error(operations_client.get(DELIVERIES, {"endpoint_id": "x"}), 400, field="endpoint_id")

    retried = operations_client.post(f"{DELIVERIES}{failed.pk}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "PENDING"
    assert WebhookDelivery.objects.get(pk=failed.pk).status == DeliveryStatus.PENDING
    delivered = WebhookDelivery.objects.get(event_type="order.paid")
    WebhookDelivery.objects.filter(pk=delivered.pk).update(status=DeliveryStatus.DELIVERED)
    assert_api_error(operations_client.post(f"{DELIVERIES}{delivered.pk}/retry"), 409)
    assert_api_error(operations_client.post(f"{DELIVERIES}999999/retry"), 404)


def test_a_delivery_to_a_deactivated_endpoint_is_not_retried(operations_client):
    endpoint_id = _create(operations_client).json()["id"]
    emit(Event.ORDER_PAID, order_id=1, user_id=2)
    failed = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=failed.pk).update(status=DeliveryStatus.FAILED, attempts=10, next_attempt_at=None)
    assert operations_client.delete(f"{ENDPOINTS}{endpoint_id}").status_code == 200

    error = assert_api_error(operations_client.post(f"{DELIVERIES}{failed.pk}/retry"), 409, code="INVALID_STATE")

    assert "deactivated" in error["message"]
    assert error["details"] == {"endpoint_id": endpoint_id, "endpoint_is_active": False}
    assert WebhookDelivery.objects.filter(pk=failed.pk, status=DeliveryStatus.FAILED, attempts=10).exists()


def test_the_schema_describes_the_webhook_endpoints(operations_client):
    schema = operations_client.get("/api/schema/", {"format": "json"}).json()

    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/staff/webhook-endpoints/"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/staff/webhook-endpoints/{id}"])
    assert "post" in paths["/api/v1/staff/webhook-endpoints/{id}/rotate-secret"]
    assert "post" in paths["/api/v1/staff/webhook-deliveries/{id}/retry"]
    assert "get" in paths["/api/v1/staff/webhook-deliveries/"]
    create = paths["/api/v1/staff/webhook-endpoints/"]["post"]
    assert "201" in create["responses"]
