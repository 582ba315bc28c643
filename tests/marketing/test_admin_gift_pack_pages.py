"""Gift packs in admin: a pack that a bulk grant under review, approved or running hands out stays as
Finance saw it (the run reads the pack's items when it executes), with a message saying why."""

import pytest
from django.test import Client

from core.errors import InvalidTransition
from marketing.models import BulkGrant, BulkGrantStatus, GiftPack, GiftPackItem
from marketing.services.bulk_grants import bulk_grant_create, bulk_grant_reject, bulk_grant_submit
from marketing.services.gift_packs import gift_pack_lock_for_change
from tests.factories import CouponTemplateFactory

pytestmark = pytest.mark.django_db

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
