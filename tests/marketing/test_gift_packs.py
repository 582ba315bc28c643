"""Gift packs and triggers: exactly once per user and occasion; registration never fails over a pack."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from coupons.models import CouponTemplate, TemplateStatus, UserCoupon
from marketing import triggers
from marketing.models import (
    GiftPack,
    GiftPackGrant,
    GiftPackItem,
    GiftPackTrigger,
    MemberProfile,
    Notification,
    PendingTrigger,
)
from marketing.services.gift_packs import fire_trigger, grant_pack
from tests.factories import CouponTemplateFactory, UserFactory
from tests.marketing.distribution import clean_redis, restore_roles_after_module, run_concurrently  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_redis")]

REGISTER = "/api/v1/auth/register"


def make_pack(trigger=GiftPackTrigger.REGISTER, *items, is_active=True, name="Welcome") -> GiftPack:
    pack = GiftPack.objects.create(name=name, trigger=trigger, is_active=is_active)
    for template, quantity in items:
        GiftPackItem.objects.create(pack=pack, template=template, quantity=quantity)
    return pack


def hidden_template(**fields) -> CouponTemplate:
    return CouponTemplateFactory(**({"visible_in_claim_center": False, "per_user_limit": 0} | fields))


def register(api_client, username, **extra):
    body = {"username": username, "password": "a-long-secret-99", **extra}
    return api_client.post(REGISTER, body, format="json")


def test_registration_gives_the_register_pack(api_client, django_capture_on_commit_callbacks):
    # seed 004: the new-user pack holds seven coupons
    templates = [hidden_template() for _ in range(6)]
    pack = make_pack(GiftPackTrigger.REGISTER, *[(t, 1) for t in templates[:5]], (templates[5], 2))

    with django_capture_on_commit_callbacks(execute=True):
        response = register(api_client, "newbie")

    assert response.status_code == 201, response.content
    user = get_user_model().objects.get(username="newbie")
    assert UserCoupon.objects.filter(user=user, source="GIFT_PACK", source_ref=str(pack.pk)).count() == 7
    grant = GiftPackGrant.objects.get(user=user)
    assert (grant.pack, grant.occasion, grant.granted, grant.skipped) == (pack, "register", 7, [])
    note = Notification.objects.get(user=user)
    assert note.title == "You received 7 coupons"
    assert len(note.data["coupon_ids"]) == 7


def test_the_trigger_fires_once_however_often_it_is_called(customer):
    pack = make_pack(GiftPackTrigger.REGISTER, (hidden_template(), 2))

    first = fire_trigger(user=customer, trigger=GiftPackTrigger.REGISTER, occasion="register")
    second = fire_trigger(user=customer, trigger=GiftPackTrigger.REGISTER, occasion="register")
    triggers.fire_now(user_id=customer.pk, trigger=GiftPackTrigger.REGISTER, occasion="register")

    assert [g.pack for g in first] == [pack]
    assert second == []
    assert GiftPackGrant.objects.count() == 1
    assert UserCoupon.objects.filter(user=customer).count() == 2


def test_an_invite_gives_both_sides_their_packs(api_client, django_capture_on_commit_callbacks):
    invitee_pack = make_pack(GiftPackTrigger.INVITE_INVITEE, (hidden_template(), 1), name="friend")
    inviter_pack = make_pack(GiftPackTrigger.INVITE_INVITER, (hidden_template(), 1), name="thanks")
    inviter = UserFactory()
    code = MemberProfile.objects.get(user=inviter).invite_code

    with django_capture_on_commit_callbacks(execute=True):
        assert register(api_client, "friend1", invite_code=code).status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        assert register(api_client, "friend2", invite_code=code.lower()).status_code == 201

    friend1 = get_user_model().objects.get(username="friend1")
    assert GiftPackGrant.objects.get(user=friend1).pack == invitee_pack
    inviter_grants = GiftPackGrant.objects.filter(user=inviter).order_by("pk")
    assert [(g.pack, g.occasion) for g in inviter_grants] == [
        (inviter_pack, f"invitee:{friend1.pk}"),
        (inviter_pack, f"invitee:{get_user_model().objects.get(username='friend2').pk}"),
    ]
    assert UserCoupon.objects.filter(user=inviter).count() == 2


def test_a_closed_accounts_invite_code_invites_nobody(api_client, django_capture_on_commit_callbacks):
    make_pack(GiftPackTrigger.INVITE_INVITER, (hidden_template(), 1), name="thanks")
    inviter = UserFactory(is_active=False)
    code = MemberProfile.objects.get(user=inviter).invite_code

    with django_capture_on_commit_callbacks(execute=True):
        response = register(api_client, "friend", invite_code=code)

    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_INVITE_CODE"
    assert not get_user_model().objects.filter(username="friend").exists()
    assert not GiftPackGrant.objects.filter(user=inviter).exists()


def test_an_account_closed_before_its_occasion_fires_is_given_nothing(customer):
    make_pack(GiftPackTrigger.FIRST_ORDER_PAID, (hidden_template(), 1), name="first order")
    get_user_model().objects.filter(pk=customer.pk).update(is_active=False)

    given = triggers.fire_pending(user_id=customer.pk, trigger=GiftPackTrigger.FIRST_ORDER_PAID, occasion="first-order")

    assert given == 0 and not GiftPackGrant.objects.filter(user=customer).exists()
    assert not PendingTrigger.objects.filter(user=customer).exists()  # struck off, not retried forever


def test_a_sold_out_item_is_skipped_and_recorded_while_registration_succeeds(
    api_client, django_capture_on_commit_callbacks
):
    plenty = hidden_template()
    gone = hidden_template(total_quantity=3, issued_quantity=3)
    stopped = hidden_template(status=TemplateStatus.STOPPED)
    pack = make_pack(GiftPackTrigger.REGISTER, (plenty, 1), (gone, 1), (stopped, 1))

    with django_capture_on_commit_callbacks(execute=True):
        response = register(api_client, "late")

    assert response.status_code == 201
    user = get_user_model().objects.get(username="late")
    grant = GiftPackGrant.objects.get(user=user)
    assert grant.granted == 1
    items = {i.template_id: i.pk for i in pack.items.all()}
    assert sorted(grant.skipped, key=lambda s: s["template_id"]) == sorted(
        [
            {"item_id": items[gone.pk], "template_id": gone.pk, "quantity": 1, "reason": "SOLD_OUT"},
            {"item_id": items[stopped.pk], "template_id": stopped.pk, "quantity": 1, "reason": "NOT_CLAIMABLE"},
        ],
        key=lambda s: s["template_id"],
    )
    assert list(UserCoupon.objects.filter(user=user).values_list("template_id", flat=True)) == [plenty.pk]
    assert CouponTemplate.objects.get(pk=gone.pk).issued_quantity == 3


def test_pack_items_respect_the_per_user_limit(customer):
    limited = hidden_template(per_user_limit=1)
    pack = make_pack(GiftPackTrigger.BIRTHDAY, (limited, 1), (hidden_template(), 1))

    grant_pack(user=customer, pack=pack, occasion="birthday:2025")
    second = grant_pack(user=customer, pack=pack, occasion="birthday:2026")

    assert second is not None and second.granted == 1
    assert [s["reason"] for s in second.skipped] == ["LIMIT_REACHED"]
    assert UserCoupon.objects.filter(user=customer, template=limited).count() == 1


def test_pack_coupons_bypass_visibility_and_target(customer):
    vip_only = hidden_template(target={"type": "MEMBER_LEVELS", "levels": ["VIP"]})
    pack = make_pack(GiftPackTrigger.MANUAL, (vip_only, 1))

    grant = grant_pack(user=customer, pack=pack, occasion="manual:1")

    assert grant is not None and grant.granted == 1


def test_an_inactive_pack_is_not_given(customer):
    make_pack(GiftPackTrigger.REGISTER, (hidden_template(), 1), is_active=False)

    assert fire_trigger(user=customer, trigger=GiftPackTrigger.REGISTER, occasion="register") == []
    assert UserCoupon.objects.count() == 0


def test_first_order_birthday_and_level_triggers(customer, django_capture_on_commit_callbacks):
    first_order = make_pack(GiftPackTrigger.FIRST_ORDER_PAID, (hidden_template(), 1), name="first")
    birthday = make_pack(GiftPackTrigger.BIRTHDAY, (hidden_template(), 1), name="bday")
    level_up = make_pack(GiftPackTrigger.MEMBER_LEVEL_UP, (hidden_template(), 1), name="gold")

    with django_capture_on_commit_callbacks(execute=True):
        triggers.on_first_order_paid(customer.pk, 11)
        triggers.on_first_order_paid(customer.pk, 12)  # a second report changes nothing
        triggers.on_birthday(customer.pk, 2025)
        triggers.on_birthday(customer.pk, 2025)
        triggers.on_birthday(customer.pk, 2026)
        triggers.on_member_level_up(customer.pk, "GOLD")

    grants = sorted((g.pack_id, g.occasion) for g in GiftPackGrant.objects.filter(user=customer))
    assert grants == sorted(
        [
            (first_order.pk, "first-order"),
            (birthday.pk, "birthday:2025"),
            (birthday.pk, "birthday:2026"),
            (level_up.pk, "level:GOLD"),
        ]
    )


def test_triggers_wait_for_the_callers_commit(customer, django_capture_on_commit_callbacks):
    make_pack(GiftPackTrigger.FIRST_ORDER_PAID, (hidden_template(), 1))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        triggers.on_first_order_paid(customer.pk, 5)

    assert len(callbacks) == 1
    assert GiftPackGrant.objects.count() == 0


def test_a_failing_pack_never_fails_the_event(customer, monkeypatch, django_capture_on_commit_callbacks):
    make_pack(GiftPackTrigger.BIRTHDAY, (hidden_template(), 1))

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("marketing.services.gift_packs.fire_trigger", broken)

    with django_capture_on_commit_callbacks(execute=True):
        triggers.on_birthday(customer.pk, 2030)

    assert GiftPackGrant.objects.count() == 0
    pending = PendingTrigger.objects.get()
    assert (pending.user_id, pending.occasion, pending.attempts) == (customer.pk, "birthday:2030", 1)
    assert pending.due_at > timezone.now() + triggers.RETRY_DELAY  # later each time it fails


def test_a_trigger_for_an_unknown_user_does_nothing():
    assert triggers.fire_now(user_id=987654321, trigger=GiftPackTrigger.REGISTER, occasion="register") == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_triggers_for_one_occasion_give_one_pack():
    pack = make_pack(GiftPackTrigger.REGISTER, (hidden_template(), 1), (hidden_template(), 1))
    user = UserFactory()

    results = run_concurrently(
        lambda _i: grant_pack(user=user, pack=pack, occasion="register"), [(i,) for i in range(12)]
    )

    assert sum(isinstance(r, GiftPackGrant) for r in results) == 1
    assert sum(r is None for r in results) == 11
    assert GiftPackGrant.objects.count() == 1
    assert UserCoupon.objects.filter(user=user).count() == 2
