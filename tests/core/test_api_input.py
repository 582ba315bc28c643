"""Input the schema refuses is refused, in the error shape (SPEC 8 and 20): page parameters, empty
filters, unknown fields, values of the wrong JSON type, bodies that are not JSON."""

import pytest

from tests.error_shape import assert_api_error
from tests.factories import UserCouponFactory
from tests.factories.orders import CategoryFactory

pytestmark = pytest.mark.django_db

WALLET = "/api/v1/me/coupons/"


def test_page_size_is_honoured(customer_client, customer):
    for _ in range(5):
        UserCouponFactory(user=customer)

    page = customer_client.get(WALLET, {"page_size": 2, "page": 2}).json()

    assert (page["count"], len(page["results"])) == (5, 2)
    assert "page_size=2" in page["next"] and "page_size=2" in page["previous"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page_size": 0}, "page_size"),
        ({"page_size": 101}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"page_size": ""}, "page_size"),
        ({"page": "last"}, "page"),
        ({"page": 0}, "page"),
        ({"page": ""}, "page"),
    ],
)
def test_page_parameters_out_of_bounds_are_a_400(customer_client, query, field):
    assert_api_error(customer_client.get(WALLET, query), 400, "VALIDATION_ERROR", field)


def test_a_page_past_the_end_is_a_404(customer_client):
    assert_api_error(customer_client.get(WALLET, {"page": 2}), 404, "NOT_FOUND")


@pytest.mark.parametrize("path", ["/api/v1/me/coupons/", "/api/v1/me/orders/", "/api/v1/activities/?channel="])
def test_an_empty_filter_is_a_400_not_no_filter(customer_client, path):
    query = {} if "?" in path else {"status": ""}

    assert_api_error(customer_client.get(path, query), 400, "VALIDATION_ERROR")


def test_an_empty_staff_filter_is_a_400(operations_client):
    assert_api_error(
        operations_client.get("/api/v1/staff/bulk-grants/", {"status": ""}), 400, "VALIDATION_ERROR", "status"
    )


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/redeem-code", {"code": "ABCDABCDABCDABCD", "coupon": 1}, "coupon"),
        ("/api/v1/auth/token", {"username": "demo", "password": "secret-secret", "remember": True}, "remember"),
        ("/api/v1/checkout/preview", {"lines": [{"sku": "x", "quantity": 1, "qty": 2}], "channel": "APP"}, "lines"),
    ],
)
def test_unknown_fields_are_refused(customer_client, path, body, field):
    assert_api_error(customer_client.post(path, body), 400, "VALIDATION_ERROR", field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "soup", "name": "Soups", "is_active": 0}, "is_active"),
        ({"code": "soup", "name": 5}, "name"),
        ({"code": "soup", "name": "Soups", "sort_order": "5"}, "sort_order"),
    ],
)
def test_values_of_another_json_type_are_refused(operations_client, body, field):
    assert_api_error(operations_client.post("/api/v1/staff/categories/", body), 400, "VALIDATION_ERROR", field)


def test_money_comes_as_a_string_never_a_float(operations_client):
    CategoryFactory(code="cat-drinks")
    body = {"sku": "d-901", "name": "Plum juice", "category": "cat-drinks", "price": 8.1}

    assert_api_error(operations_client.post("/api/v1/staff/products/", body), 400, "VALIDATION_ERROR", "price")
    assert operations_client.post("/api/v1/staff/products/", {**body, "price": "8.10"}).status_code == 201


def test_a_body_that_is_not_json_is_a_415(customer_client):
    response = customer_client.post(
        "/api/v1/redeem-code", "code=ABCDABCDABCDABCD", content_type="application/x-www-form-urlencoded"
    )

    assert_api_error(response, 415)
