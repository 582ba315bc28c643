"""The API answers JSON whatever the client accepts: a browser's Accept: text/html gets JSON with the
error codes intact, not DRF's browsable pages."""

import pytest

from tests.conftest import client_for
from tests.factories import CouponTemplateFactory, UserFactory

pytestmark = pytest.mark.django_db

HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_a_browser_gets_json_and_the_refusals_keep_their_codes():
    sold = CouponTemplateFactory(total_quantity=1, issued_quantity=1)
    client = client_for(UserFactory())

    wallet = client.get("/api/v1/me/coupons/", **HTML)
    refused = client.post(f"/api/v1/templates/{sold.pk}/claim", **HTML)
    invalid = client.post("/api/v1/checkout/preview", {"lines": [], "channel": "NOPE"}, format="json", **HTML)

    assert wallet["Content-Type"].startswith("application/json")
    assert refused.json()["error"]["code"] == "SOLD_OUT"
    assert "channel" in invalid.json()["error"]["details"]


def test_the_browsable_format_is_not_offered():
    client = client_for(UserFactory())

    response = client.get("/api/v1/me/coupons/?format=api")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
