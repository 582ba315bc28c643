"""The wallet (GET /me/coupons/): effective statuses, counts, filters, pagination, privacy."""

from datetime import timedelta

import pytest
from django.utils import timezone

from coupons.models import CouponStatus
from tests.conftest import client_for
from tests.factories import UserCouponFactory, UserFactory
from tests.marketing.distribution import clean_redis, restore_roles_after_module  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_redis")]

WALLET = "/api/v1/me/coupons/"


@pytest.fixture
def wallet(customer):
    now = timezone.now()
    return {
        "unused": UserCouponFactory(user=customer),
        "past_expiry": UserCouponFactory(
            user=customer, valid_from=now - timedelta(days=3), expires_at=now - timedelta(seconds=1)
        ),
        "locked": UserCouponFactory(user=customer, status=CouponStatus.LOCKED),
        "used": UserCouponFactory(user=customer, status=CouponStatus.USED),
        "expired": UserCouponFactory(
            user=customer,
            status=CouponStatus.EXPIRED,
            valid_from=now - timedelta(days=9),
            expires_at=now - timedelta(days=2),
        ),
        "revoked": UserCouponFactory(user=customer, status=CouponStatus.REVOKED),
        "someone_elses": UserCouponFactory(),
    }


def test_the_wallet_lists_my_coupons_with_counts(customer_client, wallet):
    body = customer_client.get(WALLET).json()

    assert set(body) == {"count", "next", "previous", "results", "counts"}
    assert body["counts"] == {"UNUSED": 1, "LOCKED": 1, "USED": 1, "EXPIRED": 2, "REVOKED": 1}
    assert body["count"] == 6
    ids = {row["id"] for row in body["results"]}
    assert wallet["someone_elses"].pk not in ids
    shown = {row["id"]: row["status"] for row in body["results"]}
    # past its expiry, an UNUSED coupon shows as EXPIRED before the sweep marks it
    assert shown[wallet["past_expiry"].pk] == "EXPIRED"
    assert shown[wallet["unused"].pk] == "UNUSED"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("UNUSED", {"unused"}),
        ("EXPIRED", {"past_expiry", "expired"}),
        ("LOCKED", {"locked"}),
        ("USED", {"used"}),
        ("REVOKED", {"revoked"}),
    ],
)
def test_the_status_filter_uses_the_effective_status(customer_client, wallet, status, expected):
    body = customer_client.get(WALLET, {"status": status}).json()

    assert {row["id"] for row in body["results"]} == {wallet[name].pk for name in expected}
    assert {row["status"] for row in body["results"]} == {status}
    assert body["counts"]["EXPIRED"] == 2  # counts are the whole wallet's


def test_a_coupon_object_has_the_contract_fields(customer_client, wallet):
    row = customer_client.get(WALLET, {"status": "UNUSED"}).json()["results"][0]
    coupon = wallet["unused"]

    assert row == {
        "id": coupon.pk,
        "code": coupon.code,
        "template_id": coupon.template_id,
        "name": coupon.template.name,
        "short_name": coupon.template.short_name,
        "type": coupon.template.type,
        "value": coupon.template.value,
        "summary": (
            "¥10 off orders of ¥100 or more · valid for 7 days after claiming · limit 1 per person · 100 in total"
        ),
        "amount": None,
        "status": "UNUSED",
        "valid_from": row["valid_from"],
        "expires_at": row["expires_at"],
        "source": "ADMIN",
    }


@pytest.mark.parametrize("status", ["unused", "BOGUS", "1", "UNUSED,USED", ""])
def test_an_unknown_status_is_a_400(customer_client, status):
    response = customer_client.get(WALLET, {"status": status})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "status" in response.json()["error"]["details"]


def test_no_status_means_every_status(customer_client, wallet):
    assert customer_client.get(WALLET).json()["count"] == 6


def test_the_wallet_is_paginated(customer_client, customer):
    for _ in range(5):
        UserCouponFactory(user=customer)

    first = customer_client.get(WALLET, {"page_size": 2}).json()
    last = customer_client.get(WALLET, {"page_size": 2, "page": 3}).json()

    assert (first["count"], len(first["results"]), len(last["results"])) == (5, 2, 1)
    assert first["next"] and first["previous"] is None
    assert customer_client.get(WALLET, {"page": 99}).status_code == 404


def test_an_empty_wallet_counts_zeros():
    client = client_for(UserFactory())

    body = client.get(WALLET).json()

    assert body["counts"] == {"UNUSED": 0, "LOCKED": 0, "USED": 0, "EXPIRED": 0, "REVOKED": 0}
    assert body["results"] == []


def test_the_wallet_needs_a_token(api_client):
    assert api_client.get(WALLET).status_code == 401
