"""Admin pages of distribution for each role: code batches, activities, gift packs, bulk grants."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

import coupons.admin_codes  # noqa: F401  (registers the code-batch admin)
from core.audit import audit_trail_for
from coupons.models import RedemptionCodeBatch
from marketing.models import Activity, ActivityStatus, BulkGrant, BulkGrantStatus, GiftPack, Notification
from marketing.services.bulk_grants import bulk_grant_create, bulk_grant_run
from marketing.tasks import run_bulk_grant
from tests.factories import CouponTemplateFactory, UserFactory
from tests.marketing.admin_forms import activity_form, pack_form
from tests.marketing.distribution import clean_redis, restore_roles_after_module  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_redis")]


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


PAGES = [
    "/admin/marketing/activity/",
    "/admin/marketing/activity/add/",
    "/admin/marketing/giftpack/",
    "/admin/marketing/giftpack/add/",
    "/admin/marketing/giftpackgrant/",
    "/admin/marketing/bulkgrant/",
    "/admin/marketing/bulkgrant/add/",
    "/admin/marketing/notification/",
    "/admin/coupons/redemptioncodebatch/",
    "/admin/coupons/redemptioncodebatch/add/",
]


@pytest.mark.parametrize("page", PAGES)
def test_operations_open_every_page(operations_user, page):
    Notification.objects.create(user=UserFactory(), kind="COUPON_GRANTED", title="t")

    assert logged_in(operations_user).get(page).status_code == 200


@pytest.mark.parametrize(
    ("page", "status"),
    [
        ("/admin/marketing/activity/", 200),
        ("/admin/marketing/activity/add/", 403),
        ("/admin/marketing/bulkgrant/", 200),
        ("/admin/marketing/bulkgrant/add/", 403),
        ("/admin/coupons/redemptioncodebatch/", 200),
        ("/admin/coupons/redemptioncodebatch/add/", 403),
    ],
)
def test_finance_reads_but_does_not_create(finance_user, page, status):
    assert logged_in(finance_user).get(page).status_code == status


def test_a_code_batch_is_generated_from_admin_and_downloads(operations_user):
    template = CouponTemplateFactory()
    client = logged_in(operations_user)

    response = client.post(
        "/admin/coupons/redemptioncodebatch/add/", {"name": "flyers", "template": template.pk, "quantity": 20}
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    batch = RedemptionCodeBatch.objects.get()
    assert (batch.quantity, batch.codes.count(), batch.created_by) == (20, 20, operations_user)
    listing = client.get("/admin/coupons/redemptioncodebatch/").content.decode()
    assert f"/admin/coupons/redemptioncodebatch/{batch.pk}/codes.csv" in listing
    download = client.get(f"/admin/coupons/redemptioncodebatch/{batch.pk}/codes.csv")
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert len(rows) == 21


def test_a_code_batch_for_a_draft_template_is_refused_by_the_form(operations_user):
    template = CouponTemplateFactory(status="DRAFT")

    response = logged_in(operations_user).post(
        "/admin/coupons/redemptioncodebatch/add/", {"name": "x", "template": template.pk, "quantity": 5}
    )

    assert response.status_code == 200  # the form again, with its error
    assert RedemptionCodeBatch.objects.count() == 0


def test_an_activity_is_built_and_published_in_admin(operations_user):
    template = CouponTemplateFactory(per_user_limit=2)
    client = logged_in(operations_user)
    data = activity_form(template, 2)

    assert client.post("/admin/marketing/activity/add/", data).status_code == 302
    activity = Activity.objects.get()
    change = client.get(f"/admin/marketing/activity/{activity.pk}/change/").content.decode()
    assert f"/admin/marketing/activity/{activity.pk}/workflow/publish/" in change
    response = client.post(f"/admin/marketing/activity/{activity.pk}/workflow/publish/", {})

    assert response.status_code == 302
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.PUBLISHED
    assert activity.created_by == operations_user
    assert [a.action for a in audit_trail_for(activity)] == ["publish"]
    # published: read-only now
    assert client.post(f"/admin/marketing/activity/{activity.pk}/change/", data).status_code == 403


def test_finance_cannot_publish(finance_user):
    activity = Activity.objects.create(
        title="x", start_time=timezone.now(), end_time=timezone.now() + timedelta(days=1)
    )

    logged_in(finance_user).post(f"/admin/marketing/activity/{activity.pk}/workflow/publish/", {})

    assert Activity.objects.get(pk=activity.pk).status == ActivityStatus.DRAFT


def test_a_gift_pack_is_built_in_admin(operations_user):
    template = CouponTemplateFactory(per_user_limit=0)
    data = pack_form(template, 3)

    assert logged_in(operations_user).post("/admin/marketing/giftpack/add/", data).status_code == 302
    pack = GiftPack.objects.get()
    assert [(i.template_id, i.quantity) for i in pack.items.all()] == [(template.pk, 3)]


def test_a_bulk_grant_goes_from_csv_upload_to_approval_in_admin(operations_user, finance_user, monkeypatch):
    monkeypatch.setattr(run_bulk_grant, "delay", lambda grant_id: None)
    template = CouponTemplateFactory()
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    ops = logged_in(operations_user)
    upload = SimpleUploadedFile("list.csv", f"alice\n{bob.pk}\n".encode(), content_type="text/csv")

    response = ops.post(
        "/admin/marketing/bulkgrant/add/",
        {"name": "vip", "target_type": "USER_LIST", "template": template.pk, "users_file": upload},
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    grant = BulkGrant.objects.get()
    assert (grant.targeted, grant.created_by) == (2, operations_user)
    assert set(grant.recipients.values_list("user_id", flat=True)) == {alice.pk, bob.pk}
    ops.post(f"/admin/marketing/bulkgrant/{grant.pk}/workflow/submit/", {})
    fin = logged_in(finance_user)
    assert fin.post(f"/admin/marketing/bulkgrant/{grant.pk}/workflow/reject/", {}).status_code == 200  # remark
    fin.post(f"/admin/marketing/bulkgrant/{grant.pk}/workflow/approve/", {"remark": "fine"})
    assert BulkGrant.objects.get(pk=grant.pk).status == BulkGrantStatus.APPROVED


def test_a_segment_is_built_from_form_fields(operations_user):
    template = CouponTemplateFactory()

    response = logged_in(operations_user).post(
        "/admin/marketing/bulkgrant/add/",
        {
            "name": "gold",
            "target_type": "SEGMENT",
            "template": template.pk,
            "levels": ["GOLD", "VIP"],
            "no_order_days": 30,
        },
    )

    assert response.status_code == 302
    assert BulkGrant.objects.get().segment == {"levels": ["GOLD", "VIP"], "no_order_days": 30}


def test_an_empty_segment_is_a_form_error(operations_user):
    response = logged_in(operations_user).post(
        "/admin/marketing/bulkgrant/add/",
        {"name": "none", "target_type": "SEGMENT", "template": CouponTemplateFactory().pk},
    )

    assert response.status_code == 200
    assert BulkGrant.objects.count() == 0


def test_the_progress_bar_shows_on_the_list_and_the_page(operations_user, finance_user):
    for _ in range(4):
        UserFactory()
    grant = bulk_grant_create(
        actor=operations_user,
        name="all",
        target_type="SEGMENT",
        segment={"everybody": True},
        template=CouponTemplateFactory(total_quantity=-1, per_user_limit=0),
    )
    BulkGrant.objects.filter(pk=grant.pk).update(status=BulkGrantStatus.APPROVED)
    bulk_grant_run(grant=grant, chunk_size=2, max_chunks=1)
    client = logged_in(operations_user)

    listing = client.get("/admin/marketing/bulkgrant/").content.decode()
    page = client.get(f"/admin/marketing/bulkgrant/{grant.pk}/change/").content.decode()

    assert '<progress value="0.5" max="1"' in listing and "2 / 4" in listing
    assert "<progress" in page
