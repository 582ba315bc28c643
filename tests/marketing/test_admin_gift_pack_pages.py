"""Gift packs in admin: a pack that a bulk grant under review, approved or running hands out stays as
Finance saw it (the run reads the pack's items when it executes), with a message saying why; an active
pack holds only approved templates."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.errors import InvalidTransition
from coupons.models import TemplateStatus
from marketing.models import BulkGrant, BulkGrantStatus, GiftPack, GiftPackItem
from marketing.services.bulk_grants import bulk_grant_create, bulk_grant_reject, bulk_grant_submit
from marketing.services.gift_packs import gift_pack_lock_for_change, grant_pack
from tests.factories import CouponTemplateFactory, UserFactory
from tests.marketing.admin_forms import pack_form

pytestmark = pytest.mark.django_db

NOT_APPROVED = [TemplateStatus.DRAFT, TemplateStatus.PENDING_REVIEW, TemplateStatus.REJECTED]
HELD = [BulkGrantStatus.PENDING_REVIEW, BulkGrantStatus.APPROVED, BulkGrantStatus.RUNNING]
FREE = [BulkGrantStatus.DRAFT, BulkGrantStatus.DONE, BulkGrantStatus.FAILED, BulkGrantStatus.CANCELLED]


def logged_in(user, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


@pytest.fixture
def pack() -> GiftPack:
    pack = GiftPack.objects.create(name="Welcome", trigger="MANUAL")
    GiftPackItem.objects.create(pack=pack, template=CouponTemplateFactory(per_user_limit=0), quantity=2)
    return pack


def grant_of(pack: GiftPack, actor, status: str) -> BulkGrant:
    grant = bulk_grant_create(
        actor=actor, name="Spring push", target_type="SEGMENT", segment={"everybody": True}, gift_pack=pack
    )
    BulkGrant.objects.filter(pk=grant.pk).update(status=status)
    return grant


def change_data(pack: GiftPack, **changes) -> dict:
    item = pack.items.get()
    data = {
        "name": pack.name,
        "description": pack.description,
        "trigger": pack.trigger,
        "is_active": "on",
        "items-TOTAL_FORMS": 1,
        "items-INITIAL_FORMS": 1,
        "items-MIN_NUM_FORMS": 0,
        "items-MAX_NUM_FORMS": 1000,
        "items-0-id": item.pk,
        "items-0-pack": pack.pk,
        "items-0-template": item.template_id,
        "items-0-quantity": item.quantity,
    }
    return data | changes


def held_message(grant: BulkGrant) -> str:
    return (
        "This gift pack cannot be changed while a bulk grant that hands it out is pending review, approved "
        f"or running: {grant.name}."
    )


@pytest.mark.parametrize("status", HELD)
def test_a_pack_that_a_live_grant_hands_out_cannot_be_changed(operations_user, pack, status):
    grant = grant_of(pack, operations_user, status)
    client = logged_in(operations_user)
    url = f"/admin/marketing/giftpack/{pack.pk}/change/"

    page = client.get(url).content.decode()
    changed = client.post(url, change_data(pack, name="Other", **{"items-0-quantity": 5}))
    removed = client.post(url, change_data(pack, **{"items-0-DELETE": "on"}))

    assert held_message(grant) in page
    assert 'name="name"' not in page and 'name="_save"' not in page  # read-only, no save button
    for response in (changed, removed):
        assert response.status_code == 200  # the page again, with the message
        assert held_message(grant) in response.content.decode()
    pack.refresh_from_db()
    assert pack.name == "Welcome"
    assert list(pack.items.values_list("quantity", flat=True)) == [2]


@pytest.mark.parametrize("status", FREE)
def test_a_pack_is_changed_when_no_live_grant_hands_it_out(operations_user, pack, status):
    grant_of(pack, operations_user, status)
    client = logged_in(operations_user)
    url = f"/admin/marketing/giftpack/{pack.pk}/change/"

    page = client.get(url).content.decode()
    response = client.post(url, change_data(pack, name="Other", **{"items-0-quantity": 5}))

    assert 'name="name"' in page and 'name="_save"' in page
    assert response.status_code == 302
    pack.refresh_from_db()
    assert pack.name == "Other"
    assert list(pack.items.values_list("quantity", flat=True)) == [5]


def test_the_service_refuses_a_change_from_submission_until_the_grant_is_rejected(operations_user, finance_user, pack):
    grant = bulk_grant_create(
        actor=operations_user, name="Spring push", target_type="SEGMENT", segment={"everybody": True}, gift_pack=pack
    )
    gift_pack_lock_for_change(pack=pack)  # a draft holds nothing
    bulk_grant_submit(grant=grant, actor=operations_user)

    with pytest.raises(InvalidTransition) as refused:
        gift_pack_lock_for_change(pack=pack)

    assert (refused.value.code, refused.value.details) == ("NOT_EDITABLE", {"bulk_grant_ids": [grant.pk]})
    bulk_grant_reject(grant=grant, actor=finance_user, remark="not now")
    gift_pack_lock_for_change(pack=pack)  # a draft again: the pack may change


def not_approved_message(template, status_label: str) -> str:
    return f"An active gift pack holds only approved templates: {template.name} is {status_label}."


@pytest.mark.parametrize("status", NOT_APPROVED)
def test_an_active_pack_cannot_be_added_with_a_template_that_is_not_approved(operations_user, status):
    template = CouponTemplateFactory(status=status)
    client = logged_in(operations_user)

    response = client.post("/admin/marketing/giftpack/add/", pack_form(template, 1))

    assert response.status_code == 200  # the form again, with the error on the item's template
    assert not_approved_message(template, template.get_status_display()) in response.content.decode()
    assert not GiftPack.objects.exists()


def test_the_refusal_speaks_the_readers_language(operations_user):
    template = CouponTemplateFactory(status=TemplateStatus.DRAFT)

    response = logged_in(operations_user, "zh-hans").post("/admin/marketing/giftpack/add/", pack_form(template, 1))

    errors = re.findall(r'<ul class="errorlist[^"]*"[^>]*><li>([^<]*)</li>', response.content.decode())
    assert response.status_code == 200 and not GiftPack.objects.exists()
    assert any(template.name in error and "草稿" in error for error in errors), errors  # the status, translated


def test_an_inactive_pack_may_hold_a_draft_and_is_refused_when_activated(operations_user, pack):
    draft = CouponTemplateFactory(status=TemplateStatus.PENDING_REVIEW, per_user_limit=0)
    GiftPack.objects.filter(pk=pack.pk).update(is_active=False)
    pack.items.update(template=draft)
    client = logged_in(operations_user)
    url = f"/admin/marketing/giftpack/{pack.pk}/change/"

    renamed = client.post(url, change_data(pack, name="Later", is_active=""))
    activated = client.post(url, change_data(pack, name="Now"))

    assert renamed.status_code == 302
    assert activated.status_code == 200
    assert not_approved_message(draft, "Pending review") in activated.content.decode()
    pack.refresh_from_db()
    assert (pack.name, pack.is_active) == ("Later", False)


def test_an_active_pack_is_saved_with_approved_templates(operations_user):
    template = CouponTemplateFactory(status=TemplateStatus.APPROVED, per_user_limit=0)

    response = logged_in(operations_user).post("/admin/marketing/giftpack/add/", pack_form(template, 2))

    assert response.status_code == 302
    assert list(GiftPackItem.objects.values_list("template_id", "quantity")) == [(template.pk, 2)]


def test_a_pack_holds_a_template_on_one_row_only(operations_user):
    """Two rows of one limited template were each checked against its limit alone, and the second always
    skipped (LIMIT_REACHED): the pack listed two coupons and gave one."""
    template = CouponTemplateFactory(status=TemplateStatus.APPROVED, per_user_limit=1)
    data = pack_form(template, 1) | {"items-TOTAL_FORMS": 2, "items-1-template": template.pk, "items-1-quantity": 1}

    response = logged_in(operations_user).post("/admin/marketing/giftpack/add/", data)

    assert response.status_code == 200  # the form again
    assert "Please correct the duplicate data for template" in response.content.decode()
    assert not GiftPack.objects.exists() and not GiftPackItem.objects.exists()


@pytest.mark.parametrize(("language", "shown"), [("en", "烤鸭券: sold out"), ("zh-hans", "烤鸭券: 已抢光")])
def test_a_grants_skipped_items_read_as_the_template_and_why_in_the_readers_language(operations_user, language, shown):
    sold_out = CouponTemplateFactory(name="烤鸭券", total_quantity=1, issued_quantity=1, per_user_limit=0)
    pack = GiftPack.objects.create(name="Welcome", trigger="MANUAL")
    GiftPackItem.objects.create(pack=pack, template=sold_out, quantity=1)
    grant = grant_pack(user=UserFactory(), pack=pack, occasion="manual:1")
    assert grant is not None and grant.skipped[0]["reason"] == "SOLD_OUT"

    page = logged_in(operations_user, language).get("/admin/marketing/giftpackgrant/").content.decode()

    assert shown in page and "SOLD_OUT" not in page


def test_the_grants_list_reads_the_skipped_templates_names_once_for_the_page(operations_user):
    client = logged_in(operations_user)

    def queries_for_a_page() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/admin/marketing/giftpackgrant/").status_code == 200
        return len(captured)

    def grant_with_a_skip(n: int) -> None:
        sold_out = CouponTemplateFactory(name=f"券{n}", total_quantity=1, issued_quantity=1, per_user_limit=0)
        pack = GiftPack.objects.create(name=f"Pack {n}", trigger="MANUAL")
        GiftPackItem.objects.create(pack=pack, template=sold_out, quantity=1)
        grant_pack(user=UserFactory(), pack=pack, occasion=f"manual:{n}")

    grant_with_a_skip(1)
    one = queries_for_a_page()
    for n in range(2, 5):
        grant_with_a_skip(n)

    assert queries_for_a_page() == one
