"""The marketing jobs: ending activities, due and stalled bulk grants, birthday packs, expiry reminders."""

from datetime import date, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from coupons.models import CouponStatus, UserCoupon
from marketing.models import (
    Activity,
    ActivityStatus,
    BulkGrant,
    BulkGrantRecipient,
    BulkGrantStatus,
    BulkGrantTarget,
    GiftPack,
    GiftPackGrant,
    GiftPackItem,
    GiftPackTrigger,
    MemberProfile,
    Notification,
    NotificationKind,
    PendingTrigger,
)
from marketing.services import gift_packs
from marketing.services.bulk_grants import bulk_grant_run
from marketing.services.schedules import (
    EXPIRY_REMINDER_MARGIN,
    activities_end_due,
    birthday_packs_grant,
    bulk_grants_due,
    expiry_reminders_create,
    pending_triggers_fire,
)
from tests.factories import CouponTemplateFactory, UserCouponFactory, UserFactory

pytestmark = pytest.mark.django_db


def _activity(status, end_delta):
    now = timezone.now()
    return Activity.objects.create(
        title="烤鸭节", start_time=now - timedelta(days=3), end_time=now + end_delta, status=status
    )


def test_published_activities_past_their_end_are_ended_once():
    over = _activity(ActivityStatus.PUBLISHED, -timedelta(minutes=1))
    running = _activity(ActivityStatus.PUBLISHED, timedelta(days=1))
    draft = _activity(ActivityStatus.DRAFT, -timedelta(days=1))

    assert activities_end_due() == 1
    assert activities_end_due() == 0

    assert Activity.objects.get(pk=over.pk).status == ActivityStatus.ENDED
    assert Activity.objects.get(pk=running.pk).status == ActivityStatus.PUBLISHED
    assert Activity.objects.get(pk=draft.pk).status == ActivityStatus.DRAFT


def test_due_bulk_grants_are_approved_ones_whose_time_came_and_running_ones_that_stalled(settings):
    settings.BULK_GRANT_STALL_SECONDS = 45
    template = CouponTemplateFactory()
    now = timezone.now()

    def grant(status, scheduled_at=None, idle=timedelta(0), heartbeat=True, touched=timedelta(0)):
        g = BulkGrant.objects.create(
            name=status,
            target_type=BulkGrantTarget.SEGMENT,
            segment={"everybody": True},
            template=template,
            status=status,
            scheduled_at=scheduled_at,
        )
        BulkGrant.objects.filter(pk=g.pk).update(
            heartbeat_at=now - idle if heartbeat else None, updated_at=now - (idle if not heartbeat else touched)
        )
        return g.pk

    now_due = grant(BulkGrantStatus.APPROVED)
    past_due = grant(BulkGrantStatus.APPROVED, scheduled_at=now - timedelta(minutes=1))
    grant(BulkGrantStatus.APPROVED, scheduled_at=now + timedelta(hours=1))
    stalled = grant(BulkGrantStatus.RUNNING, idle=timedelta(seconds=46))
    # The heartbeat decides, not the row's last save.
    grant(BulkGrantStatus.RUNNING, idle=timedelta(seconds=5), touched=timedelta(hours=1))
    started_before_heartbeats = grant(BulkGrantStatus.RUNNING, idle=timedelta(minutes=5), heartbeat=False)
    grant(BulkGrantStatus.RUNNING, idle=timedelta(seconds=5), heartbeat=False)
    grant(BulkGrantStatus.PENDING_REVIEW)
    grant(BulkGrantStatus.DONE, idle=timedelta(days=1))

    assert bulk_grants_due(now=now) == sorted([now_due, past_due, stalled, started_before_heartbeats])


def test_a_running_grant_beats_as_it_starts_and_as_each_chunk_commits():
    # given: an approved grant of 30 customers
    users = [UserFactory() for _ in range(30)]
    template = CouponTemplateFactory(total_quantity=-1, per_user_limit=1, visible_in_claim_center=False)
    grant = BulkGrant.objects.create(
        name="heartbeat",
        target_type=BulkGrantTarget.USER_LIST,
        template=template,
        status=BulkGrantStatus.APPROVED,
    )
    BulkGrantRecipient.objects.bulk_create([BulkGrantRecipient(grant=grant, user=user) for user in users])
    before = timezone.now()

    # when: one chunk of 10 runs, then nothing (the worker died)
    bulk_grant_run(grant=grant, chunk_size=10, max_chunks=1)

    # then: the heartbeat is fresh, so the grant is not resumed until the stall window has passed
    grant.refresh_from_db()
    assert grant.status == BulkGrantStatus.RUNNING and grant.granted == 10
    assert grant.heartbeat_at is not None and grant.heartbeat_at >= before.replace(microsecond=0)
    stall = timedelta(seconds=settings.BULK_GRANT_STALL_SECONDS)
    assert grant.pk not in bulk_grants_due(now=grant.heartbeat_at + stall - timedelta(seconds=1))
    assert grant.pk in bulk_grants_due(now=grant.heartbeat_at + stall + timedelta(seconds=1))

    # and a resumed run beats again and grants the rest, each customer once
    bulk_grant_run(grant=grant, chunk_size=10)
    grant.refresh_from_db()
    assert (grant.status, grant.granted) == (BulkGrantStatus.DONE, 30)
    assert UserCoupon.objects.filter(template=template).count() == 30


def _birthday_pack():
    template = CouponTemplateFactory(visible_in_claim_center=False, per_user_limit=0, total_quantity=-1)
    pack = GiftPack.objects.create(name="生日礼包", trigger=GiftPackTrigger.BIRTHDAY)
    GiftPackItem.objects.create(pack=pack, template=template, quantity=2)
    return pack


def _member(birthday):
    user = UserFactory()
    MemberProfile.objects.filter(user=user).update(birthday=birthday)
    return user


def test_birthday_packs_go_to_members_born_today_once_a_year():
    pack = _birthday_pack()
    today = date(2026, 11, 22)
    born_today = _member(date(1990, 11, 22))
    born_tomorrow = _member(date(1990, 11, 23))
    no_birthday = _member(None)

    assert birthday_packs_grant(today=today) == 1
    assert birthday_packs_grant(today=today) == 0
    assert birthday_packs_grant(today=date(2027, 11, 22)) == 1  # next year, again

    grants = GiftPackGrant.objects.filter(pack=pack)
    assert sorted(grants.values_list("user_id", "occasion")) == [
        (born_today.pk, "birthday:2026"),
        (born_today.pk, "birthday:2027"),
    ]
    assert not grants.filter(user__in=[born_tomorrow, no_birthday]).exists()
    assert born_today.coupons.count() == 4


def test_closed_accounts_and_staff_get_no_birthday_pack():
    pack = _birthday_pack()
    customer = _member(date(1990, 11, 22))
    closed = _member(date(1991, 11, 22))
    staff = _member(date(1992, 11, 22))
    type(closed).objects.filter(pk=closed.pk).update(is_active=False)
    type(staff).objects.filter(pk=staff.pk).update(is_staff=True)

    assert birthday_packs_grant(today=date(2026, 11, 22)) == 1

    assert list(GiftPackGrant.objects.filter(pack=pack).values_list("user_id", flat=True)) == [customer.pk]


def test_leap_day_birthdays_are_kept_on_28_february_in_other_years():
    _birthday_pack()
    leapling = _member(date(2000, 2, 29))

    assert birthday_packs_grant(today=date(2027, 2, 28)) == 1
    assert birthday_packs_grant(today=date(2028, 2, 28)) == 0  # a leap year: the 29th comes
    assert birthday_packs_grant(today=date(2028, 2, 29)) == 1
    assert GiftPackGrant.objects.filter(user=leapling).count() == 2


def test_a_birthday_pack_that_fails_is_left_pending_and_the_job_gives_it_once(monkeypatch):
    # given: two members born today, and the pack of one of them fails once
    pack = _birthday_pack()
    unlucky, lucky = _member(date(1990, 11, 22)), _member(date(1991, 11, 22))
    give = gift_packs.fire_trigger
    failures = [unlucky.pk]

    def fails_once(*, user, **kwargs):
        if user.pk in failures:
            failures.remove(user.pk)
            raise RuntimeError("database went away")
        return give(user=user, **kwargs)

    monkeypatch.setattr("marketing.services.gift_packs.fire_trigger", fails_once)

    # when: the birthday job runs
    assert birthday_packs_grant(today=date(2026, 11, 22)) == 1

    # then: the other member has the pack, and the failed occasion waits, due later
    assert list(GiftPackGrant.objects.values_list("user_id", flat=True)) == [lucky.pk]
    pending = PendingTrigger.objects.get()
    assert (pending.user_id, pending.trigger, pending.occasion, pending.attempts) == (
        unlucky.pk, "BIRTHDAY", "birthday:2026", 1,
    )  # fmt: skip
    assert pending_triggers_fire() == 0  # not due yet
    assert pending_triggers_fire(now=pending.due_at) == 1

    # and it is given exactly once, however often the jobs run
    assert pending_triggers_fire(now=pending.due_at) == 0
    assert birthday_packs_grant(today=date(2026, 11, 22)) == 0
    grants = GiftPackGrant.objects.filter(pack=pack, user=unlucky)
    assert list(grants.values_list("occasion", flat=True)) == ["birthday:2026"]
    assert unlucky.coupons.count() == 2
    assert not PendingTrigger.objects.exists()


def test_one_expiry_reminder_per_coupon_expiring_within_the_next_day():
    now = timezone.now()
    user = UserFactory()
    soon = UserCouponFactory(user=user, expires_at=now + timedelta(hours=3))
    edge = UserCouponFactory(user=user, expires_at=now + timedelta(hours=24) + EXPIRY_REMINDER_MARGIN)
    later = UserCouponFactory(user=user, expires_at=now + timedelta(hours=25) + EXPIRY_REMINDER_MARGIN)
    UserCouponFactory(user=user, expires_at=now + timedelta(hours=2), status=CouponStatus.USED)
    UserCouponFactory(user=user, expires_at=now - timedelta(hours=1), valid_from=now - timedelta(days=2))

    assert expiry_reminders_create(now=now) == 2
    assert expiry_reminders_create(now=now) == 0
    # an hour later the last coupon has entered the window; the others are not reminded twice
    assert expiry_reminders_create(now=now + timedelta(hours=1)) == 1

    reminders = Notification.objects.filter(kind=NotificationKind.COUPON_EXPIRING)
    assert sorted(r.data["coupon_id"] for r in reminders) == sorted([soon.pk, edge.pk, later.pk])
    assert all(n.user_id == user.pk and n.title for n in reminders)


def test_a_coupon_expiring_just_after_tomorrows_run_is_reminded_even_when_that_run_starts_late():
    # given: today's 09:00 run, and a coupon expiring two minutes after tomorrow's 09:00
    today = timezone.now().replace(microsecond=0)
    coupon = UserCouponFactory(expires_at=today + timedelta(hours=24, minutes=2))

    # when: today's run, then tomorrow's five minutes late (the coupon has expired by then)
    expiry_reminders_create(now=today)
    expiry_reminders_create(now=today + timedelta(hours=24, minutes=5))

    # then: it was reminded today
    assert Notification.objects.filter(dedupe_key=f"expiring:{coupon.pk}").exists()
