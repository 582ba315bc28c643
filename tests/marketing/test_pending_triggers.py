"""Gift-pack occasions are written down with the fact that makes them true, so none is lost when the
process dies before its after-commit firing, or when that firing fails."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.utils import timezone

from core.events import Event, emit
from coupons.models import UserCoupon
from marketing import triggers
from marketing.models import GiftPackGrant, GiftPackTrigger, PendingTrigger
from marketing.services.schedules import pending_triggers_fire
from marketing.tasks import fire_trigger_task
from tests.factories import UserFactory
from tests.marketing.distribution import clean_redis, restore_roles_after_module, run_concurrently  # noqa: F401
from tests.marketing.test_gift_packs import hidden_template, make_pack, register

PAID_AT = "2026-11-30T12:00:00+08:00"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_redis")]


def later() -> timezone.datetime:
    return timezone.now() + triggers.RETRY_DELAY + timedelta(seconds=1)


def test_a_registration_whose_process_died_before_the_firing_still_gets_its_pack(
    api_client, django_capture_on_commit_callbacks
):
    # given: the register pack
    pack = make_pack(GiftPackTrigger.REGISTER, (hidden_template(), 2))

    # when: a customer registers and the process dies between the commit and its after-commit work
    with django_capture_on_commit_callbacks(execute=False):
        assert register(api_client, "newbie").status_code == 201
    user = get_user_model().objects.get(username="newbie")

    # then: the occasion was written down with the account, and the job gives the pack once it is due
    assert PendingTrigger.objects.filter(user=user, trigger=GiftPackTrigger.REGISTER, occasion="register").exists()
    assert pending_triggers_fire() == 0  # the after-commit firing has a head start
    assert pending_triggers_fire(now=later()) == 1
    assert GiftPackGrant.objects.filter(user=user, pack=pack, occasion="register").exists()
    assert UserCoupon.objects.filter(user=user).count() == 2
    assert not PendingTrigger.objects.exists()


def test_an_occasion_fired_after_its_commit_is_struck_off(api_client, django_capture_on_commit_callbacks):
    make_pack(GiftPackTrigger.REGISTER, (hidden_template(), 1))

    with django_capture_on_commit_callbacks(execute=True):
        assert register(api_client, "quick").status_code == 201

    assert GiftPackGrant.objects.count() == 1
    assert not PendingTrigger.objects.exists()
    assert pending_triggers_fire(now=later()) == 0


def test_a_first_paid_order_writes_its_occasion_in_the_payments_transaction(customer):
    make_pack(GiftPackTrigger.FIRST_ORDER_PAID, (hidden_template(), 1))

    # a payment that rolls back leaves nothing behind
    with pytest.raises(RuntimeError), transaction.atomic():
        emit(Event.ORDER_PAID, order_id=1, user_id=customer.pk, first_paid_order=True, paid_at=PAID_AT)
        assert PendingTrigger.objects.filter(user=customer, occasion="first-order").exists()
        raise RuntimeError("the payment failed")
    assert not PendingTrigger.objects.exists()

    # a later paid order that is not the first writes nothing
    with transaction.atomic():
        emit(Event.ORDER_PAID, order_id=2, user_id=customer.pk, first_paid_order=False, paid_at=PAID_AT)
    assert not PendingTrigger.objects.exists()


def test_an_occasion_that_keeps_failing_waits_longer_each_time(
    customer, monkeypatch, django_capture_on_commit_callbacks
):
    make_pack(GiftPackTrigger.MEMBER_LEVEL_UP, (hidden_template(), 1))

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("marketing.services.gift_packs.fire_trigger", broken)
    with django_capture_on_commit_callbacks(execute=True):
        triggers.on_member_level_up(customer.pk, "GOLD")  # fired after the commit, and fails
    first = PendingTrigger.objects.get()
    assert pending_triggers_fire(now=first.due_at) == 0
    second = PendingTrigger.objects.get()

    assert (first.attempts, second.attempts) == (1, 2)
    assert second.due_at - timezone.now() > first.due_at - first.created_at
    assert second.due_at - timezone.now() <= triggers.MAX_RETRY_DELAY


def test_an_occasion_that_failed_for_days_waits_an_hour_and_never_starves_the_others(customer, monkeypatch):
    # given: an occasion that has failed 40 times (the doubling would overflow), due long ago, and a newer one
    make_pack(GiftPackTrigger.MEMBER_LEVEL_UP, (hidden_template(), 1))
    other = UserFactory()
    triggers.record([(customer.pk, GiftPackTrigger.MEMBER_LEVEL_UP, "level:GOLD")], fire=False)
    PendingTrigger.objects.update(attempts=40, due_at=timezone.now() - timedelta(hours=2))
    triggers.record([(other.pk, GiftPackTrigger.MEMBER_LEVEL_UP, "level:GOLD")], fire=False)
    PendingTrigger.objects.filter(user=other).update(due_at=timezone.now() - timedelta(hours=1))
    give = triggers.gift_packs.fire_trigger

    def broken_for_customer(*, user, **kwargs):
        if user.pk == customer.pk:
            raise RuntimeError("pack keeps failing")
        return give(user=user, **kwargs)

    monkeypatch.setattr("marketing.services.gift_packs.fire_trigger", broken_for_customer)

    # when: the job runs three times, one occasion per run
    for _minute in range(3):
        pending_triggers_fire(limit=1)

    # then: the failing one waits the longest delay, and the newer one was given
    stuck = PendingTrigger.objects.get()
    assert (stuck.user_id, stuck.attempts) == (customer.pk, 41)
    assert stuck.due_at >= timezone.now() + triggers.MAX_RETRY_DELAY - timedelta(minutes=1)
    assert GiftPackGrant.objects.filter(user=other).exists()
    assert triggers.retry_delay(10**6) == triggers.MAX_RETRY_DELAY


def test_an_occasion_of_a_deleted_customer_goes_with_them(customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        triggers.on_birthday(customer.pk, 2030)
    customer.delete()

    assert not PendingTrigger.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_jobs_running_at_once_give_each_pending_pack_once():
    # given: ten customers whose register occasions were written down and never fired
    pack = make_pack(GiftPackTrigger.REGISTER, (hidden_template(), 1))
    users = [UserFactory() for _ in range(10)]
    triggers.record([(u.pk, GiftPackTrigger.REGISTER, "register") for u in users], fire=False)

    # when: four runs of the job at once (a second beat, a retried task)
    results = run_concurrently(lambda _i: pending_triggers_fire(now=later()), [(i,) for i in range(4)])

    # then: each customer has the pack once
    assert not any(isinstance(r, BaseException) for r in results), results
    assert sum(results) == 10
    assert GiftPackGrant.objects.filter(pack=pack).count() == 10
    assert UserCoupon.objects.count() == 10
    assert not PendingTrigger.objects.exists()


def test_operations_and_finance_see_the_occasions_waiting_in_admin(ops, finance_user, customer):
    triggers.record([(customer.pk, GiftPackTrigger.BIRTHDAY, "birthday:2030")], fire=False)
    finance = Client()
    finance.force_login(finance_user)

    for client in (ops, finance):
        page = client.get("/admin/marketing/pendingtrigger/")
        assert page.status_code == 200
        assert "birthday:2030" in page.content.decode()
    assert ops.get(f"/admin/marketing/pendingtrigger/{PendingTrigger.objects.get().pk}/delete/").status_code == 403


def test_a_retry_queued_by_the_earlier_release_is_written_down_and_fired(customer, django_capture_on_commit_callbacks):
    # a message of the task earlier releases queued failed firings to, still in the broker at the upgrade
    pack = make_pack(GiftPackTrigger.REGISTER, (hidden_template(), 1))

    with django_capture_on_commit_callbacks(execute=True):
        fire_trigger_task.apply(args=(customer.pk, GiftPackTrigger.REGISTER, "register")).get()

    assert GiftPackGrant.objects.filter(user=customer, pack=pack, occasion="register").exists()
    assert not PendingTrigger.objects.exists()
