"""Admin: endpoints through a form with event types as checkboxes, a test event, the delivery log."""

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from core.events import Event, emit
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_operations_add_an_endpoint_with_checkboxes_and_see_the_secret_once(operations_user):
    client = logged_in(operations_user)
    form = client.get("/admin/webhooks/webhookendpoint/add/")
    assert form.status_code == 200
    html = form.content.decode()
    assert 'type="checkbox" name="event_types" value="coupon.issued"' in html
    assert 'name="secret"' not in html

    response = client.post(
        "/admin/webhooks/webhookendpoint/add/",
        {
            "url": "https://pos.example.com/hooks",
            "description": "POS",
            "event_types": ["order.paid", "coupon.used"],
            "is_active": "on",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["coupon.used", "order.paid"]
    assert endpoint.created_by == operations_user
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(endpoint.secret in message for message in shown)
    client.get("/admin/")  # the page after the redirect shows the message
    change = client.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert endpoint.secret not in change and endpoint.secret[-4:] in change


def test_a_bad_url_or_no_event_type_is_a_form_error(operations_user):
    response = logged_in(operations_user).post(
        "/admin/webhooks/webhookendpoint/add/", {"url": "ftp://x.example.com", "description": "", "is_active": "on"}
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "url" in errors and "event_types" in errors
    assert WebhookEndpoint.objects.count() == 0


def test_a_private_address_is_a_form_error(operations_user, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    response = logged_in(operations_user).post(
        "/admin/webhooks/webhookendpoint/add/",
        {"url": "http://169.254.169.254/latest/", "description": "", "event_types": ["order.paid"], "is_active": "on"},
    )

    assert response.status_code == 200
    (error,) = response.context["adminform"].form.errors["url"]
    assert "public addresses only" in error
    assert WebhookEndpoint.objects.count() == 0


def test_send_a_test_event_and_retry_a_failed_delivery_from_the_log(operations_user):
    client = logged_in(operations_user)
    client.post(
        "/admin/webhooks/webhookendpoint/add/",
        {"url": "https://pos.example.com/hooks", "event_types": ["order.paid"], "is_active": "on"},
    )
    endpoint = WebhookEndpoint.objects.get()

    response = client.post(
        "/admin/webhooks/webhookendpoint/",
        {"action": "send_test_event", "_selected_action": [endpoint.pk]},
    )
    assert response.status_code == 302
    test = WebhookDelivery.objects.get(event_type="webhook.test")
    assert test.endpoint == endpoint and test.status == DeliveryStatus.PENDING

    emit(Event.ORDER_PAID, order_id=3, user_id=4)
    failed = WebhookDelivery.objects.get(event_type="order.paid")
    WebhookDelivery.objects.filter(pk=failed.pk).update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    log = client.get("/admin/webhooks/webhookdelivery/", {"status__exact": "FAILED"})
    assert log.status_code == 200 and "order.paid" in log.content.decode()
    assert client.get(f"/admin/webhooks/webhookdelivery/{failed.pk}/change/").status_code == 200

    client.post("/admin/webhooks/webhookdelivery/", {"action": "retry_now", "_selected_action": [failed.pk]})
    assert WebhookDelivery.objects.get(pk=failed.pk).status == DeliveryStatus.PENDING


def test_finance_sees_no_webhook_pages(finance_user):
    client = logged_in(finance_user)
    assert client.get("/admin/webhooks/webhookendpoint/").status_code == 403
    assert client.get("/admin/webhooks/webhookdelivery/").status_code == 403
