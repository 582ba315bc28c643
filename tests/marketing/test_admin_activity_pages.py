"""Activity workflow pages in admin: refused (403) to whoever may not act, not only their POST."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from marketing.models import Activity, ActivityItem, ActivityStatus
from tests.factories import CouponTemplateFactory

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


@pytest.fixture
def activity() -> Activity:
    activity = Activity.objects.create(
        title="烤鸭节", start_time=timezone.now(), end_time=timezone.now() + timedelta(days=3)
    )
    ActivityItem.objects.create(activity=activity, template=CouponTemplateFactory(), quantity=1)
    return activity


@pytest.mark.parametrize("action", ["publish", "cancel"])
def test_finance_may_not_open_an_activitys_workflow_pages(finance_user, activity, action):
    client = logged_in(finance_user)

    assert client.get(f"/admin/marketing/activity/{activity.pk}/workflow/{action}/").status_code == 403
    assert client.post(f"/admin/marketing/activity/{activity.pk}/workflow/{action}/", {}).status_code == 403
    assert Activity.objects.get(pk=activity.pk).status == ActivityStatus.DRAFT


def test_operations_opens_publish_and_then_not_again(operations_user, activity):
    client = logged_in(operations_user)

    page = client.get(f"/admin/marketing/activity/{activity.pk}/workflow/publish/")
    published = client.post(f"/admin/marketing/activity/{activity.pk}/workflow/publish/", {})
    again = client.get(f"/admin/marketing/activity/{activity.pk}/workflow/publish/")

    assert page.status_code == 200 and 'id="workflow-confirm"' in page.content.decode()
    assert published.status_code == 302
    assert Activity.objects.get(pk=activity.pk).status == ActivityStatus.PUBLISHED
    assert again.status_code == 403  # a published activity is not published twice
    assert client.get(f"/admin/marketing/activity/{activity.pk}/workflow/cancel/").status_code == 200
