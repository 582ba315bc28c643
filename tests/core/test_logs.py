"""A 409 is an answer, not a fault: django.request does not log it; other 4xx still are."""

import logging

import pytest

from tests.factories import CouponTemplateFactory

pytestmark = pytest.mark.django_db


def test_a_refused_claim_is_not_logged_but_a_missing_one_is(customer_client, caplog):
    sold_out = CouponTemplateFactory(total_quantity=1, issued_quantity=1)

    with caplog.at_level(logging.WARNING, logger="django.request"):
        refused = customer_client.post(f"/api/v1/templates/{sold_out.pk}/claim")
        missing = customer_client.post("/api/v1/templates/999999/claim")

    assert (refused.status_code, missing.status_code) == (409, 404)
    logged = [r.status_code for r in caplog.records if r.name == "django.request"]
    assert logged == [404]
