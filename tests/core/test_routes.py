"""Detail and action URLs answer with and without a trailing slash, customer and staff alike; a collection
named without its slash is served, never redirected (a redirect loses a POST's body)."""

import pytest

from orders.api import orders
from orders.models import Order
from tests.factories import CouponTemplateFactory
from tests.factories.orders import ProductFactory

pytestmark = pytest.mark.django_db

CART = {"lines": [{"sku": "d-101", "quantity": 1}], "channel": "APP"}


@pytest.mark.parametrize("slash", ["", "/"])
def test_a_customers_order_and_its_actions_answer_with_or_without_the_slash(customer_client, slash):
    ProductFactory(sku="d-101")
    pk = customer_client.post("/api/v1/orders/", CART, format="json").json()["id"]

    assert customer_client.get(f"/api/v1/orders/{pk}{slash}").json()["id"] == pk
    assert customer_client.post(f"/api/v1/checkout/preview{slash}", CART, format="json").status_code == 200
    assert customer_client.post(f"/api/v1/orders/{pk}/pay{slash}").status_code == 200
    assert Order.objects.get(pk=pk).status == "PAID"


@pytest.mark.parametrize("slash", ["", "/"])
def test_a_claim_answers_with_or_without_the_slash(customer_client, slash):
    template = CouponTemplateFactory(per_user_limit=0)

    assert customer_client.post(f"/api/v1/templates/{template.pk}/claim{slash}").status_code == 201


@pytest.mark.parametrize("slash", ["", "/"])
def test_staff_details_answer_with_or_without_the_slash(operations_client, slash):
    template = CouponTemplateFactory()

    assert operations_client.get(f"/api/v1/staff/templates/{template.pk}{slash}").json()["id"] == template.pk
    assert operations_client.get(f"/api/v1/staff/templates/{template.pk}/stats{slash}").status_code == 200


def test_an_id_too_long_for_the_database_is_a_404(customer_client):
    assert customer_client.get(f"/api/v1/orders/{'9' * 19}/").status_code == 404


def test_an_order_posted_to_the_collection_without_its_slash_is_placed(customer_client):
    ProductFactory(sku="d-101")

    response = customer_client.post("/api/v1/orders", CART, format="json")

    assert response.status_code == 201, response.content
    assert Order.objects.get().pk == response.json()["id"]


def test_collections_named_without_their_slash_are_served(customer_client, operations_client):
    assert customer_client.get("/api/v1/me/orders").status_code == 200
    assert customer_client.get("/api/v1/claim-center").status_code == 200
    assert operations_client.get("/api/v1/staff/templates").status_code == 200


def test_an_unknown_path_without_a_slash_is_still_a_404_in_the_error_shape(customer_client):
    response = customer_client.post("/api/v1/nowhere", {}, format="json")

    assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"


def test_a_view_that_answers_404_runs_once(customer_client, monkeypatch):
    calls = []
    real = orders.OrderDetailApi.get
    monkeypatch.setattr(
        orders.OrderDetailApi, "get", lambda self, request, pk: calls.append(pk) or real(self, request, pk)
    )

    assert customer_client.get("/api/v1/orders/424242").status_code == 404
    assert calls == [424242]
