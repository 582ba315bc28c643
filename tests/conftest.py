import pytest
from django.conf import settings
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core import redis_link
from tests.factories import StaffFactory, UserFactory


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def customer(db):
    return UserFactory()


@pytest.fixture
def customer_client(customer) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=customer).key}")
    return client


@pytest.fixture
def operations_user(db):
    return StaffFactory(role="operations")


@pytest.fixture
def finance_user(db):
    return StaffFactory(role="finance")


def client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def operations_client(operations_user) -> APIClient:
    return client_for(operations_user)


@pytest.fixture
def finance_client(finance_user) -> APIClient:
    return client_for(finance_user)


@pytest.fixture(autouse=True)
def fresh_throttle_history():
    """The address throttles count in Redis (``core.attempts``), beyond any test's transaction: each test
    starts with none, so the requests of earlier tests (all from 127.0.0.1) never throttle a later one.
    Without Redis they count in the database, which each test's transaction rolls back."""
    client = redis_link.client()
    if client is not None:
        stale = list(client.scan_iter(f"{settings.CLAIM_GATE_PREFIX}:attempts:throttle:*"))
        if stale:
            client.delete(*stale)
    yield


@pytest.fixture
def ops(operations_user) -> Client:
    """Admin, signed in as a member of Operations."""
    client = Client()
    client.force_login(operations_user)
    return client
