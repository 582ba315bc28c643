"""An activity's picture is served from the site's own host: only raster pictures are taken."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from marketing.models import Activity, ActivityItem
from tests.factories import CouponTemplateFactory
from tests.marketing.admin_forms import activity_change_form, activity_form

pytestmark = pytest.mark.django_db

ADD = "/admin/marketing/activity/add/"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
SCRIPT = b"<html><script>fetch('/admin/coupons/coupontemplate/')</script></html>"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("promo.html", SCRIPT, "text/html"),
        ("promo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "image/svg+xml"),
        ("promo.png", SCRIPT, "image/png"),  # a page dressed as a picture
        ("promo.webp", b"RIFF\x00\x00\x00\x00HTML" + SCRIPT, "image/webp"),
    ],
)
def test_a_file_that_is_not_a_picture_is_refused_with_a_field_error(ops, name, content, content_type):
    form = activity_form(CouponTemplateFactory(), 1) | {"image": SimpleUploadedFile(name, content, content_type)}

    response = ops.post(ADD, form, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert "image" in response.context["adminform"].form.errors
    assert not Activity.objects.exists()


def test_a_picture_is_taken(ops):
    form = activity_form(CouponTemplateFactory(), 1) | {"image": SimpleUploadedFile("banner.PNG", PNG, "image/png")}

    response = ops.post(ADD, form)

    assert response.status_code == 302
    assert Activity.objects.get().image.name.startswith("activities/banner")


def test_a_draft_whose_stored_picture_is_gone_can_still_be_edited(ops):
    # given: a draft whose picture was taken when uploaded, and whose file has since left the storage
    now = timezone.now()
    activity = Activity.objects.create(
        title="Lunch", start_time=now, end_time=now + timedelta(days=3), image="activities/gone.png"
    )
    ActivityItem.objects.create(activity=activity, template=CouponTemplateFactory(), quantity=1)

    # when: it is edited without a new picture
    response = ops.post(
        f"/admin/marketing/activity/{activity.pk}/change/", activity_change_form(activity, title="Lunch week")
    )

    # then: saved, the stored picture is not read again
    assert response.status_code == 302
    assert Activity.objects.get(pk=activity.pk).title == "Lunch week"
