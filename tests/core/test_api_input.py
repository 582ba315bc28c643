"""Input the schema refuses is refused, in the error shape: page parameters, empty
filters, unknown fields, values of the wrong JSON type, bodies that are not JSON, datetimes out of range."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from core.models import AuditLog
from coupons.models import CouponTemplate, RedemptionCodeBatch, TemplateStatus
from marketing.models import BulkGrant, BulkGrantStatus, BulkGrantTarget
from tests.conftest import client_for
from tests.error_shape import assert_api_error
from tests.factories import CouponTemplateFactory, StaffFactory, UserCouponFactory, UserFactory
from tests.factories.orders import CategoryFactory
from tests.factories.template_input import TemplateInputFactory

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


# datetimes out of range --------------------------------------------------------------------------

# A naive year-1 value made aware in Asia/Shanghai (LMT, +8:05:43) falls before year 1 in UTC: it was a 500.
OUT_OF_RANGE = [
    "0001-01-01T00:00:00",
    "0001-01-01T00:00:00Z",
    "0001-06-01T00:00:00+09:00",
    "9999-12-31T23:59:59",
    "9999-12-31T23:59:59-01:00",
]
TEMPLATE_TIMES = ["issue_start_time", "issue_end_time", "valid_from", "valid_until"]


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_a_code_batch_expiring_out_of_range_is_a_400(operations_client, value):
    template = CouponTemplateFactory()
    body = {"template_id": template.pk, "name": "Spring codes", "quantity": 1, "expires_at": value}

    response = operations_client.post("/api/v1/staff/code-batches/", body, format="json")

    assert_api_error(response, 400, "VALIDATION_ERROR", "expires_at")
    assert not RedemptionCodeBatch.objects.exists()


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_a_bulk_grant_scheduled_out_of_range_is_a_400(operations_client, value):
    template, user = CouponTemplateFactory(), UserFactory()
    body = {"name": "x", "target_type": "USER_LIST", "users": [str(user.pk)], "template_id": template.pk,
            "scheduled_at": value}  # fmt: skip

    response = operations_client.post("/api/v1/staff/bulk-grants/", body, format="json")

    assert_api_error(response, 400, "VALIDATION_ERROR", "scheduled_at")
    assert not BulkGrant.objects.exists()


@pytest.mark.parametrize("field", TEMPLATE_TIMES)
@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_a_template_time_out_of_range_is_a_400_on_create(operations_client, field, value):
    response = operations_client.post(
        "/api/v1/staff/templates/", {**TemplateInputFactory(), field: value}, format="json"
    )

    assert_api_error(response, 400, "VALIDATION_ERROR", field)
    assert not CouponTemplate.objects.exists()


@pytest.mark.parametrize("field", TEMPLATE_TIMES)
@pytest.mark.parametrize("value", OUT_OF_RANGE[::3])
def test_a_template_time_out_of_range_is_a_400_on_edit(operations_client, operations_user, field, value):
    template = CouponTemplateFactory(status=TemplateStatus.DRAFT, created_by=operations_user)
    before = CouponTemplate.objects.get(pk=template.pk).updated_at

    response = operations_client.patch(f"/api/v1/staff/templates/{template.pk}", {field: value}, format="json")

    assert_api_error(response, 400, "VALIDATION_ERROR", field)
    assert CouponTemplate.objects.get(pk=template.pk).updated_at == before


@pytest.mark.parametrize("value", OUT_OF_RANGE[::3])
def test_a_reviewed_version_out_of_range_is_a_400(finance_client, value):
    template = CouponTemplateFactory(status=TemplateStatus.PENDING_REVIEW, created_by=StaffFactory())
    grant = BulkGrant.objects.create(
        name="Everybody",
        target_type=BulkGrantTarget.SEGMENT,
        segment={"everybody": True},
        template=CouponTemplateFactory(),
        status=BulkGrantStatus.PENDING_REVIEW,
        created_by=StaffFactory(),
    )

    template_review = finance_client.post(
        f"/api/v1/staff/templates/{template.pk}/approve", {"updated_at": value}, format="json"
    )
    grant_review = finance_client.post(
        f"/api/v1/staff/bulk-grants/{grant.pk}/approve", {"updated_at": value}, format="json"
    )

    assert_api_error(template_review, 400, "VALIDATION_ERROR", "updated_at")
    assert_api_error(grant_review, 400, "VALIDATION_ERROR", "updated_at")
    assert CouponTemplate.objects.get(pk=template.pk).status == TemplateStatus.PENDING_REVIEW
    assert BulkGrant.objects.get(pk=grant.pk).status == BulkGrantStatus.PENDING_REVIEW
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize(
    ("language", "expected"), [("zh-hans", "时间数值超出有效范围。"), ("en", "Datetime value out of range.")]
)
def test_a_datetime_out_of_range_is_refused_in_the_readers_language(operations_client, language, expected):
    body = {"template_id": CouponTemplateFactory().pk, "name": "Codes", "quantity": 1, "expires_at": "0001-01-01T00:00"}

    response = operations_client.post("/api/v1/staff/code-batches/", body, format="json", HTTP_ACCEPT_LANGUAGE=language)

    assert assert_api_error(response, 400, "VALIDATION_ERROR")["details"]["expires_at"] == [expected]


def test_the_first_and_last_days_in_range_are_taken(operations_client):
    body = {
        **TemplateInputFactory(),
        "issue_start_time": "0002-01-01T00:00:00",
        "issue_end_time": "9998-12-31T23:59:59",
    }

    response = operations_client.post("/api/v1/staff/templates/", body, format="json")

    assert response.status_code == 201, response.json()
    assert CouponTemplate.objects.get().issue_end_time.year == 9998


def test_the_schema_still_says_date_time():
    schemas = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    fields = [
        ("CodeBatchListCreateInputRequest", "expires_at"),
        *[
            (component, field)
            for component in ("TemplateInputRequest", "PatchedTemplateInputRequest")
            for field in TEMPLATE_TIMES
        ],
        ("TemplateApproveInputRequest", "updated_at"),
        ("ReviewInputRequest", "updated_at"),
    ]

    for component, field in fields:
        assert schemas[component]["properties"][field]["type"] == "string", (component, field)
        assert schemas[component]["properties"][field]["format"] == "date-time", (component, field)


def test_page_parameters_are_read_as_validated(customer):
    for _ in range(25):
        UserCouponFactory(user=customer)
    client = client_for(customer)

    five = client.get("/api/v1/me/coupons/?page_size=5.0")
    first = client.get("/api/v1/me/coupons/?page=1.0&page_size=10")
    second = client.get("/api/v1/me/coupons/?page=2&page_size=10")

    assert (five.status_code, len(five.json()["results"])) == (200, 5)
    assert (first.status_code, len(first.json()["results"])) == (200, 10)
    assert second.json()["next"].endswith("page=3&page_size=10")
