"""The admin index is composed of the apps' sections: coupons' (templates awaiting review, the last 30
days) and marketing's (bulk grants under way); core knows neither."""

import pytest
from django.test import Client

from coupons.models import TemplateStatus
from marketing.models import BulkGrant, BulkGrantStatus, BulkGrantTarget
from tests.factories import CouponTemplateFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_index_shows_the_coupons_and_the_marketing_sections():
    author = StaffFactory(role="operations")
    superuser = UserFactory(is_staff=True, is_superuser=True, profile=False)
    waiting = CouponTemplateFactory(name="午市满50减8 draft", status=TemplateStatus.PENDING_REVIEW, created_by=author)
    grant = BulkGrant.objects.create(
        name="win back lapsed",
        target_type=BulkGrantTarget.SEGMENT,
        segment={"everybody": True},
        template=CouponTemplateFactory(),
        status=BulkGrantStatus.RUNNING,
        targeted=10,
        granted=4,
        created_by=author,
    )
    client = Client()
    client.force_login(superuser)

    response = client.get("/admin/")

    assert response.status_code == 200
    assert response.context["pending_templates_count"] == 1
    assert [t.pk for t in response.context["pending_templates"]] == [waiting.pk]
    assert [row["grant"].pk for row in response.context["active_grants"]] == [grant.pk]
    assert "win back lapsed" in response.text and "午市满50减8 draft" in response.text
    assert "<svg" in response.text
