"""Detail and action URLs answer with and without a trailing slash, customer and staff alike."""

import pytest

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
