"""Redemption codes are bearer money: only those allowed to read the codes (Operations) download them;
Finance sees the batches and their counts."""

import pytest
from django.test import Client

from tests.coupons.test_codes import codes_of, make_batch

pytestmark = pytest.mark.django_db


def body(response) -> str:
    return b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()


def test_finance_sees_the_batches_but_not_the_codes(finance_user, finance_client):
    batch = make_batch(quantity=3)
    admin = Client()
    admin.force_login(finance_user)

    api = finance_client.get(f"/api/v1/staff/code-batches/{batch.pk}/codes.csv")
    page = admin.get(f"/admin/coupons/redemptioncodebatch/{batch.pk}/codes.csv")
    listing = admin.get("/admin/coupons/redemptioncodebatch/")

    assert (api.status_code, page.status_code, listing.status_code) == (403, 403, 200)
    text = body(api) + body(page)
    assert not any(code in text for code in codes_of(batch))
    assert "codes.csv" not in listing.content.decode()  # no download link offered


def test_operations_download_the_codes_in_admin(operations_user):
    batch = make_batch(quantity=2)
    admin = Client()
    admin.force_login(operations_user)

    listing = admin.get("/admin/coupons/redemptioncodebatch/")
    page = admin.get(f"/admin/coupons/redemptioncodebatch/{batch.pk}/codes.csv")

    assert f"/admin/coupons/redemptioncodebatch/{batch.pk}/codes.csv" in listing.content.decode()
    assert page.status_code == 200
    text = body(page)
    assert all(code in text for code in codes_of(batch))
