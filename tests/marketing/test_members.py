import pytest
from django.test import Client

from core.models import AuditLog
from marketing.models import GiftPack, GiftPackGrant, GiftPackItem, GiftPackTrigger, MemberProfile, MemberTag
from marketing.services.members import member_profile_update
from tests.factories import CouponTemplateFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def _level_up_pack():
    template = CouponTemplateFactory(visible_in_claim_center=False, per_user_limit=0, total_quantity=-1)
    pack = GiftPack.objects.create(name="升级礼包", trigger=GiftPackTrigger.MEMBER_LEVEL_UP)
    GiftPackItem.objects.create(pack=pack, template=template, quantity=1)
    return pack


def test_raising_a_level_fires_the_level_up_pack_once_per_level(django_capture_on_commit_callbacks):
    pack = _level_up_pack()
    user = UserFactory()
    staff = StaffFactory(role="operations")
    profile = user.member

    with django_capture_on_commit_callbacks(execute=True):
        member_profile_update(profile=profile, actor=staff, data={"level": "GOLD"})
        member_profile_update(profile=profile, actor=staff, data={"level": "SILVER"})  # down: nothing
        member_profile_update(profile=profile, actor=staff, data={"level": "GOLD"})  # GOLD again: once

    assert list(GiftPackGrant.objects.filter(pack=pack, user=user).values_list("occasion", flat=True)) == ["level:GOLD"]
    trail = AuditLog.objects.filter(content_type__model="memberprofile", object_id=profile.pk).order_by("id")
    assert [(a.from_status, a.to_status) for a in trail] == [("NORMAL", "GOLD"), ("GOLD", "SILVER"), ("SILVER", "GOLD")]


def test_operations_edit_a_member_in_admin_and_tags_are_saved(django_capture_on_commit_callbacks):
    _level_up_pack()
    user = UserFactory()
    tag = MemberTag.objects.create(name="午市常客")
    staff = StaffFactory(role="operations")
    client = Client()
    client.force_login(staff)
    url = f"/admin/marketing/memberprofile/{user.member.pk}/change/"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {"level": "VIP", "tags": [tag.pk], "birthday": "1990-05-01", "user_type": "C", "channel": "APP"}
        )

    assert response.status_code == 302, response.content
    profile = MemberProfile.objects.get(pk=user.member.pk)
    assert (profile.level, str(profile.birthday), list(profile.tags.all())) == ("VIP", "1990-05-01", [tag])
    assert GiftPackGrant.objects.filter(user=user, occasion="level:VIP").count() == 1
    assert client.get("/admin/marketing/memberprofile/").status_code == 200


def test_finance_sees_members_but_cannot_change_them():
    user = UserFactory()
    client = Client()
    client.force_login(StaffFactory(role="finance"))
    url = f"/admin/marketing/memberprofile/{user.member.pk}/change/"

    assert client.get(url).status_code == 200
    client.post(url, {"level": "VIP", "user_type": "C", "channel": "APP"})
    assert MemberProfile.objects.get(pk=user.member.pk).level == "NORMAL"


def test_template_admin_offers_the_grant_action_and_code_batches_are_registered():
    CouponTemplateFactory()
    client = Client()
    client.force_login(StaffFactory(role="operations"))

    response = client.get("/admin/coupons/coupontemplate/")

    assert response.status_code == 200
    assert "grant_to_users_action" in response.content.decode()
    assert client.get("/admin/coupons/redemptioncodebatch/").status_code == 200


def test_a_tags_name_is_set_once_and_read_only_after():
    # Approved templates and bulk grants name tags: renaming one would change whom they reach.
    client = Client()
    client.force_login(StaffFactory(role="operations"))

    created = client.post("/admin/marketing/membertag/add/", {"name": "lunch"})
    tag = MemberTag.objects.get()
    page = client.get(f"/admin/marketing/membertag/{tag.pk}/change/").content.decode()
    renamed = client.post(f"/admin/marketing/membertag/{tag.pk}/change/", {"name": "dinner"})

    assert created.status_code == 302
    assert 'name="name"' not in page and "lunch" in page
    assert renamed.status_code == 302
    assert MemberTag.objects.get(pk=tag.pk).name == "lunch"
