"""Moments typed in admin outside the years 2 to 9998 are a form error, not a 500: year 1 made aware in
Asia/Shanghai lies before year 1 in UTC, and checking it against a constraint overflowed."""

import pytest
from django.test import Client

from coupons.models import CouponTemplate, RedemptionCodeBatch
from marketing.models import Activity, BulkGrant
from tests.coupons.bad_templates import admin_form_data
from tests.factories import CouponTemplateFactory
from tests.factories.template_input import TemplateInputFactory

pytestmark = pytest.mark.django_db

OUT_OF_RANGE = "Enter a date between the years 2 and 9998."
EDGES = [("0001-01-01", "00:00:00"), ("9999-12-31", "23:59:59")]


def signed_in(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def field_errors(page, name: str) -> list[str]:
    return [str(error) for error in page.context["adminform"].form.errors.get(name, [])]


@pytest.mark.parametrize(("day", "time"), EDGES)
@pytest.mark.parametrize("field", ["start_time", "end_time"])
def test_an_activity_moment_out_of_range_is_a_form_error(operations_user, field, day, time):
    moments = {"start_time_0": "2027-01-01", "start_time_1": "00:00:00", "end_time_0": "2027-02-01"}
    data = {
        **moments,
        "end_time_1": "00:00:00",
        f"{field}_0": day,
        f"{field}_1": time,
        "title": "烤鸭节",
        "per_user_limit": 1,
        "items-TOTAL_FORMS": 0,
        "items-INITIAL_FORMS": 0,
    }

    page = signed_in(operations_user).post("/admin/marketing/activity/add/", data)

    assert page.status_code == 200
    assert field_errors(page, field) == [OUT_OF_RANGE]
    assert not Activity.objects.exists()


@pytest.mark.parametrize(("day", "time"), EDGES)
def test_a_bulk_grant_schedule_out_of_range_is_a_form_error(operations_user, day, time):
    data = {
        "name": "x",
        "target_type": "SEGMENT",
        "template": CouponTemplateFactory().pk,
        "scheduled_at_0": day,
        "scheduled_at_1": time,
        "everybody": "on",
    }

    page = signed_in(operations_user).post("/admin/marketing/bulkgrant/add/", data)

    assert page.status_code == 200
    assert field_errors(page, "scheduled_at") == [OUT_OF_RANGE]
    assert not BulkGrant.objects.exists()


@pytest.mark.parametrize(("day", "time"), EDGES)
def test_a_code_batch_expiry_out_of_range_is_a_form_error(operations_user, day, time):
    data = {
        "name": "x",
        "template": CouponTemplateFactory().pk,
        "quantity": 1,
        "expires_at_0": day,
        "expires_at_1": time,
    }

    page = signed_in(operations_user).post("/admin/coupons/redemptioncodebatch/add/", data)

    assert page.status_code == 200
    assert field_errors(page, "expires_at") == [OUT_OF_RANGE]
    assert not RedemptionCodeBatch.objects.exists()


@pytest.mark.parametrize(("start", "end"), [("0001-01-01", "0001-01-02"), ("9999-12-30", "9999-12-31")])
def test_a_dashboard_range_out_of_range_falls_back_to_the_last_30_days(operations_user, start, end):
    page = signed_in(operations_user).get("/admin/", {"start": start, "end": end})

    assert page.status_code == 200
    form = page.context["range_form"]
    assert OUT_OF_RANGE in form.errors["start"] + form.errors["end"]
    assert (page.context["range"].end - page.context["range"].start).days == 29


@pytest.mark.parametrize(("day", "time"), EDGES)
@pytest.mark.parametrize("field", ["issue_start_time", "issue_end_time"])
def test_a_template_window_out_of_range_is_a_form_error(operations_user, field, day, time):
    data = {
        **{key: value for key, value in admin_form_data(TemplateInputFactory()).items()},
        f"{field}_0": day,
        f"{field}_1": time,
    }

    page = signed_in(operations_user).post("/admin/coupons/coupontemplate/add/", data)

    assert page.status_code == 200
    assert field_errors(page, field) == [OUT_OF_RANGE]
    assert not CouponTemplate.objects.exists()
