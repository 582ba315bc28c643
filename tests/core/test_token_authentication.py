"""Token authentication in one SQL join: DRF's contract, one query, refusals at once, staff permissions."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver
from rest_framework.authtoken.models import Token
from rest_framework.settings import api_settings
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from core.api.authentication import SingleQueryTokenAuthentication, user_for_token
from coupons.ledger import gate
from coupons.models import CouponTemplate, TemplateStatus
from tests.conftest import client_for
from tests.error_shape import assert_api_error
from tests.factories import CouponTemplateFactory, UserFactory
from tests.factories.template_input import TemplateInputFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
WALLET = "/api/v1/me/coupons/"
STAFF_TEMPLATES = "/api/v1/staff/templates/"


def authenticate(header: str):
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=header)
    return SingleQueryTokenAuthentication().authenticate(request)


def test_the_user_is_the_one_the_orm_loads_without_the_password_hash():
    user = UserFactory(first_name="明", last_name="王", email="ming@example.com", is_staff=True)
    User.objects.filter(pk=user.pk).update(last_login=user.date_joined)
    token = Token.objects.create(user=user)

    found = user_for_token(token.key)

    expected = User.objects.get(pk=user.pk)
    assert type(found) is User
    assert found.get_deferred_fields() == {"password"}
    for field in User._meta.concrete_fields:
        if field.attname != "password":
            assert getattr(found, field.attname) == getattr(expected, field.attname), field.attname
            assert type(getattr(found, field.attname)) is type(getattr(expected, field.attname)), field.attname
    assert found.date_joined.tzinfo is not None and found.is_staff is True
    assert found._state.db == "default" and not found._state.adding
    assert user_for_token("no-such-key") is None


def test_authentication_is_one_query_every_time(customer):
    token = Token.objects.create(user=customer)

    for _ in range(3):
        with CaptureQueriesContext(connection) as queries:
            user, auth = authenticate(f"Token {token.key}")
        assert len(queries) == 1
        assert "authtoken_token" in queries[0]["sql"] and "auth_user" in queries[0]["sql"]

    assert user == customer
    # request.auth is the Token, its user already attached: reading them costs nothing more.
    with CaptureQueriesContext(connection) as queries:
        assert (auth.key, auth.user_id, auth.user) == (token.key, customer.pk, user)
    assert len(queries) == 0


def test_an_http_request_adds_no_query_after_the_first(customer, customer_client):
    template = CouponTemplateFactory(total_quantity=2, issued_quantity=2)
    gate.load(template)
    customer_client.post(f"/api/v1/templates/{template.pk}/claim")  # warm-up

    for _ in range(3):
        with CaptureQueriesContext(connection) as queries:
            response = customer_client.post(f"/api/v1/templates/{template.pk}/claim")
        assert response.status_code == 409 and response.json()["error"]["code"] == "SOLD_OUT"
        assert len(queries) == 1


def test_a_customer_request_reads_its_own_wallet(customer, customer_client):
    response = customer_client.get(WALLET)

    assert response.status_code == 200, response.json()
    assert response.json()["count"] == 0


@pytest.mark.parametrize(
    "header",
    ["Token no-such-key", "Token", "Token two parts", "token no-such-key"],
)
def test_a_bad_token_is_a_401_in_the_error_shape(header):
    response = APIClient().get(WALLET, HTTP_AUTHORIZATION=header)

    assert_api_error(response, 401, "NOT_AUTHENTICATED")
    assert response["WWW-Authenticate"] == "Token"


def test_no_header_is_a_401_too():
    response = APIClient().get(WALLET)

    assert_api_error(response, 401, "NOT_AUTHENTICATED")
    assert response["WWW-Authenticate"] == "Token"


def test_a_deactivated_user_is_refused_on_the_next_request(customer, customer_client):
    assert customer_client.get(WALLET).status_code == 200

    User.objects.filter(pk=customer.pk).update(is_active=False)
    response = customer_client.get(WALLET)

    error = assert_api_error(response, 401, "NOT_AUTHENTICATED")
    assert error["message"] == "User inactive or deleted."


def test_a_deleted_token_is_refused_on_the_next_request(customer, customer_client):
    assert customer_client.get(WALLET).status_code == 200

    Token.objects.filter(user=customer).delete()
    response = customer_client.get(WALLET)

    error = assert_api_error(response, 401, "NOT_AUTHENTICATED")
    assert error["message"] == "Invalid token."


def test_the_refusal_speaks_the_readers_language(customer, customer_client):
    User.objects.filter(pk=customer.pk).update(is_active=False)

    response = customer_client.get(WALLET, HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert_api_error(response, 401, "NOT_AUTHENTICATED")
    assert response.json()["error"]["message"] != "User inactive or deleted."


def test_staff_permissions_work_through_the_staff_api(operations_client, operations_user, finance_client, finance_user):
    # given: Operations may create and submit, Finance may review; both only through their groups
    assert not operations_user.user_permissions.exists() and not finance_user.user_permissions.exists()

    # when
    created = operations_client.post(STAFF_TEMPLATES, TemplateInputFactory(), format="json")
    pk = created.json()["id"]
    by_finance = finance_client.post(STAFF_TEMPLATES, TemplateInputFactory(), format="json")
    submitted = operations_client.post(f"{STAFF_TEMPLATES}{pk}/submit", {}, format="json")
    self_approval = operations_client.post(f"{STAFF_TEMPLATES}{pk}/approve", {}, format="json")
    approved = finance_client.post(f"{STAFF_TEMPLATES}{pk}/approve", {}, format="json")

    # then
    assert created.status_code == 201, created.json()
    assert created.json()["created_by"] == operations_user.username
    assert_api_error(by_finance, 403)
    assert submitted.status_code == 200, submitted.json()
    assert_api_error(self_approval, 403)
    assert approved.status_code == 200, approved.json()
    template = CouponTemplate.objects.get(pk=pk)
    assert (template.status, template.created_by, template.reviewed_by) == (
        TemplateStatus.APPROVED,
        operations_user,
        finance_user,
    )


def test_a_customer_token_does_not_open_the_staff_api(customer_client):
    assert_api_error(customer_client.get(STAFF_TEMPLATES), 403, "PERMISSION_DENIED")


def test_a_superuser_passes_every_permission_check():
    client = client_for(UserFactory(is_staff=True, is_superuser=True, profile=False))

    response = client.post(STAFF_TEMPLATES, TemplateInputFactory(), format="json")

    assert response.status_code == 201, response.json()


def test_every_api_view_uses_it_unless_it_takes_no_credentials():
    def views(resolver):
        for pattern in resolver.url_patterns:
            if hasattr(pattern, "url_patterns"):
                yield from views(pattern)
            else:
                yield getattr(pattern.callback, "cls", None)

    api_views = {view for view in views(get_resolver()) if isinstance(view, type) and issubclass(view, APIView)}
    assert api_settings.DEFAULT_AUTHENTICATION_CLASSES[0] is SingleQueryTokenAuthentication
    assert len(api_views) > 20
    for view in api_views:
        assert view.authentication_classes in ([], api_settings.DEFAULT_AUTHENTICATION_CLASSES), view
