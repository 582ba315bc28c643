import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from core.models import AuditLog
from coupons.ledger import coupons_expire_due, expiry
from coupons.ledger.expiry import (
    MAX_SWEEP_BATCH_SIZE,
    MIN_SWEEP_BATCH_SIZE,
    TARGET_BATCH_SECONDS,
    next_batch_size,
)
from coupons.models import CouponStatus, CouponTemplate, TemplateStatus, UserCoupon
from coupons.services.templates import templates_end_due
from tests.factories import CouponTemplateFactory, UserCouponFactory, UserFactory
from tests.marketing.distribution import run_concurrently


def _expired_coupons(template, user, n, *, status=CouponStatus.UNUSED):
    past = timezone.now() - timedelta(hours=1)
    return [
        UserCouponFactory(
            template=template, user=user, status=status, valid_from=past - timedelta(days=7), expires_at=past
        )
        for _ in range(n)
    ]


@pytest.mark.django_db
def test_sweep_expires_only_unused_coupons_past_expiry_in_batches():
    # given
    template = CouponTemplateFactory()
    user = UserFactory()
    due = _expired_coupons(template, user, 7)
    locked = _expired_coupons(template, user, 2, status=CouponStatus.LOCKED)
    used = _expired_coupons(template, user, 1, status=CouponStatus.USED)
    fresh = UserCouponFactory(template=template, user=user)

    # when
    result = coupons_expire_due(batch_size=3, adaptive=False)

    # then
    assert result.changed == 7
    assert result.batches == 3
    assert set(UserCoupon.objects.filter(status=CouponStatus.EXPIRED).values_list("id", flat=True)) == {
        c.id for c in due
    }
    assert all(UserCoupon.objects.get(pk=c.pk).status == CouponStatus.LOCKED for c in locked)
    assert UserCoupon.objects.get(pk=used[0].pk).status == CouponStatus.USED
    assert UserCoupon.objects.get(pk=fresh.pk).status == CouponStatus.UNUSED
    template.refresh_from_db()
    assert template.expired_count == 7


@pytest.mark.django_db
def test_the_sweep_expires_a_coupon_at_the_very_moment_of_its_expiry():
    # given: the engine refuses a coupon whose expires_at is now (the end is exclusive)
    now = timezone.now().replace(microsecond=0)
    template = CouponTemplateFactory()
    at_now = UserCouponFactory(template=template, expires_at=now, valid_from=now - timedelta(days=1))
    later = UserCouponFactory(template=template, expires_at=now + timedelta(seconds=1), valid_from=now)

    # when
    result = coupons_expire_due(now=now)

    # then: the sweep agrees
    assert result.changed == 1
    assert UserCoupon.objects.get(pk=at_now.pk).status == CouponStatus.EXPIRED
    assert UserCoupon.objects.get(pk=later.pk).status == CouponStatus.UNUSED
    template.refresh_from_db()
    assert template.expired_count == 1


@pytest.mark.django_db
def test_sweep_run_twice_changes_nothing_the_second_time():
    template = CouponTemplateFactory()
    _expired_coupons(template, UserFactory(), 4)

    first = coupons_expire_due(batch_size=10)
    second = coupons_expire_due(batch_size=10)

    assert (first.changed, second.changed) == (4, 0)
    template.refresh_from_db()
    assert template.expired_count == 4


@pytest.mark.django_db
def test_sweep_max_batches_bounds_one_run_and_the_next_run_resumes():
    template = CouponTemplateFactory()
    _expired_coupons(template, UserFactory(), 5)

    assert coupons_expire_due(batch_size=2, max_batches=1, adaptive=False).changed == 2
    assert coupons_expire_due(batch_size=2).changed == 3
    assert UserCoupon.objects.filter(status=CouponStatus.UNUSED).count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_change_each_row_once():
    # given
    template = CouponTemplateFactory()
    user = UserFactory()
    _expired_coupons(template, user, 60)
    results = []
    barrier = threading.Barrier(2)

    def sweep():
        try:
            barrier.wait()
            results.append(coupons_expire_due(batch_size=5).changed)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # then
    assert sum(results) == 60
    assert UserCoupon.objects.filter(status=CouponStatus.EXPIRED).count() == 60
    assert CouponTemplate.objects.get(pk=template.pk).expired_count == 60


@pytest.mark.django_db(transaction=True)
def test_sweep_never_expires_a_coupon_locked_by_an_order_in_flight():
    # given: an order transaction holds the coupon row (about to make it LOCKED)
    from django.db import transaction

    template = CouponTemplateFactory()
    coupon = _expired_coupons(template, UserFactory(), 1)[0]
    other = _expired_coupons(template, UserFactory(), 1)[0]
    holding = threading.Event()
    release = threading.Event()

    def order_in_flight():
        try:
            with transaction.atomic():
                row = UserCoupon.objects.select_for_update().get(pk=coupon.pk)
                holding.set()
                release.wait(10)
                row.status = CouponStatus.LOCKED
                row.save(update_fields=["status"])
        finally:
            connection.close()

    t = threading.Thread(target=order_in_flight)
    t.start()
    assert holding.wait(10)

    # when: the sweep runs while the row is held
    changed = coupons_expire_due(batch_size=10).changed
    release.set()
    t.join()

    # then: it skipped the held row instead of expiring it under the order
    assert changed == 1
    assert UserCoupon.objects.get(pk=coupon.pk).status == CouponStatus.LOCKED
    assert UserCoupon.objects.get(pk=other.pk).status == CouponStatus.EXPIRED


@pytest.mark.django_db(transaction=True)
def test_a_row_held_by_another_transaction_is_left_uncounted_and_taken_by_the_next_run():
    # given: another transaction holds a due coupon's row without changing it
    from django.db import transaction

    template = CouponTemplateFactory()
    held, free = _expired_coupons(template, UserFactory(), 2)
    holding = threading.Event()
    release = threading.Event()

    def holder():
        try:
            with transaction.atomic():
                UserCoupon.objects.select_for_update().get(pk=held.pk)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    t = threading.Thread(target=holder)
    t.start()
    assert holding.wait(10)

    # when: the sweep runs while the row is held (alone in the first batch), then again once it is free
    during = coupons_expire_due(batch_size=1, adaptive=False)
    counted_during = CouponTemplate.objects.get(pk=template.pk).expired_count
    release.set()
    t.join()
    after = coupons_expire_due(batch_size=10)

    # then: the held row was skipped and not counted, the run went on past it, and the next run took it
    assert (during.changed, during.batches, counted_during) == (1, 2, 1)
    assert UserCoupon.objects.get(pk=free.pk).status == CouponStatus.EXPIRED
    assert after.changed == 1
    assert UserCoupon.objects.get(pk=held.pk).status == CouponStatus.EXPIRED
    assert CouponTemplate.objects.get(pk=template.pk).expired_count == 2


@pytest.mark.django_db
def test_a_row_no_longer_unused_when_locked_is_left_and_a_row_given_back_is_taken_by_the_next_run(monkeypatch):
    # given: a coupon placed in an order between the sweep's read of candidates and its lock
    template = CouponTemplateFactory()
    coupons = _expired_coupons(template, UserFactory(), 4)
    placed = coupons[1]
    read_candidates = expiry._candidates

    def then_placed(*args, **kwargs):
        candidates = read_candidates(*args, **kwargs)
        UserCoupon.objects.filter(pk=placed.pk).update(status=CouponStatus.LOCKED)
        return candidates

    monkeypatch.setattr(expiry, "_candidates", then_placed)

    # when
    result = coupons_expire_due(batch_size=10)

    # then: it was a candidate but is not changed, nor counted
    assert result.changed == 3
    assert UserCoupon.objects.get(pk=placed.pk).status == CouponStatus.LOCKED
    assert CouponTemplate.objects.get(pk=template.pk).expired_count == 3

    # and when the order gives it back UNUSED (behind the first run's cursor), the next run takes it
    monkeypatch.setattr(expiry, "_candidates", read_candidates)
    UserCoupon.objects.filter(pk=placed.pk).update(status=CouponStatus.UNUSED)
    assert coupons_expire_due(batch_size=10).changed == 1
    assert UserCoupon.objects.get(pk=placed.pk).status == CouponStatus.EXPIRED
    assert CouponTemplate.objects.get(pk=template.pk).expired_count == 4


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_reading_the_same_candidates_change_and_count_each_row_once(monkeypatch):
    # given: two sweeps whose every read of candidates happens at the same moment, so both read the
    # same rows and then race to lock them
    first, second = CouponTemplateFactory(), CouponTemplateFactory()
    user = UserFactory()
    due = _expired_coupons(first, user, 25) + _expired_coupons(second, user, 15)
    read_candidates = expiry._candidates
    together = threading.Barrier(2, timeout=2)

    def in_step(*args, **kwargs):
        try:
            together.wait()
        except threading.BrokenBarrierError:
            pass  # the other sweep has finished
        return read_candidates(*args, **kwargs)

    monkeypatch.setattr(expiry, "_candidates", in_step)

    # when
    results = run_concurrently(lambda: coupons_expire_due(batch_size=4, chunk_size=2, adaptive=False), [(), ()])

    # then: both ran through, every row was changed by exactly one of them and counted once
    assert len(results) == 2
    assert sum(r.changed for r in results) == 40
    assert set(UserCoupon.objects.filter(status=CouponStatus.EXPIRED).values_list("id", flat=True)) == {
        c.id for c in due
    }
    assert CouponTemplate.objects.get(pk=first.pk).expired_count == 25
    assert CouponTemplate.objects.get(pk=second.pk).expired_count == 15


@pytest.mark.django_db
def test_the_longest_batch_is_its_transaction_without_the_read_of_candidates(monkeypatch):
    template = CouponTemplateFactory()
    _expired_coupons(template, UserFactory(), 3)
    read_candidates = expiry._candidates

    def slow_read(*args, **kwargs):
        time.sleep(0.5)
        return read_candidates(*args, **kwargs)

    monkeypatch.setattr(expiry, "_candidates", slow_read)

    result = coupons_expire_due(batch_size=10)

    assert result.changed == 3
    assert result.longest_batch_seconds < 0.5


@pytest.mark.django_db
def test_templates_past_their_claim_window_end_with_an_audit_record():
    now = timezone.now()
    over = CouponTemplateFactory(issue_start_time=now - timedelta(days=3), issue_end_time=now - timedelta(minutes=1))
    running = CouponTemplateFactory(issue_start_time=now - timedelta(days=3), issue_end_time=now + timedelta(days=1))
    draft = CouponTemplateFactory(
        status=TemplateStatus.DRAFT, issue_end_time=now - timedelta(days=1), issue_start_time=now - timedelta(days=2)
    )
    open_ended = CouponTemplateFactory()

    assert templates_end_due() == 1
    assert templates_end_due() == 0

    assert CouponTemplate.objects.get(pk=over.pk).status == TemplateStatus.ENDED
    assert CouponTemplate.objects.get(pk=running.pk).status == TemplateStatus.APPROVED
    assert CouponTemplate.objects.get(pk=draft.pk).status == TemplateStatus.DRAFT
    assert CouponTemplate.objects.get(pk=open_ended.pk).status == TemplateStatus.APPROVED
    trail = AuditLog.objects.get(object_id=over.pk, action="end")
    assert (trail.from_status, trail.to_status, trail.actor) == ("APPROVED", "ENDED", None)


@pytest.mark.django_db
def test_a_batch_takes_no_further_chunk_once_its_time_budget_is_spent():
    # given: 12 due coupons over two templates
    first, second = CouponTemplateFactory(), CouponTemplateFactory()
    user = UserFactory()
    _expired_coupons(first, user, 7)
    _expired_coupons(second, user, 5)

    # when: a batch may hold 100 rows, but with no time budget it takes no chunk after its first of 4
    result = coupons_expire_due(batch_size=100, adaptive=False, chunk_size=4, budget_seconds=0)

    # then: each batch (one transaction) changed one chunk, and the counters are exact
    assert (result.changed, result.batches) == (12, 3)
    assert UserCoupon.objects.filter(status=CouponStatus.UNUSED).count() == 0
    assert CouponTemplate.objects.get(pk=first.pk).expired_count == 7
    assert CouponTemplate.objects.get(pk=second.pk).expired_count == 5


@pytest.mark.django_db
def test_a_batch_within_its_budget_takes_chunks_up_to_its_size():
    template = CouponTemplateFactory()
    _expired_coupons(template, UserFactory(), 10)

    result = coupons_expire_due(batch_size=6, adaptive=False, chunk_size=4, budget_seconds=60)

    assert (result.changed, result.batches) == (10, 2)
    assert CouponTemplate.objects.get(pk=template.pk).expired_count == 10


@pytest.mark.django_db
def test_a_candidate_read_as_text_gives_back_its_rows_expiry_and_id():
    # given: two due coupons, one expiring at a time with microseconds
    now = timezone.now()
    template = CouponTemplateFactory()
    first = UserCouponFactory(
        template=template,
        expires_at=now.replace(microsecond=123456) - timedelta(hours=2),
        valid_from=now - timedelta(days=1),
    )
    second = UserCouponFactory(
        template=template, expires_at=now - timedelta(hours=1), valid_from=now - timedelta(days=1)
    )

    # when
    candidates = expiry._candidates(now, after=None, limit=10)
    after_first = expiry._candidates(now, after=expiry._key(candidates[0]), limit=10)

    # then: the key is the row's own, and the next read starts right after it
    first.refresh_from_db()
    assert [row_id for _text, row_id in candidates] == [first.pk, second.pk]
    assert expiry._key(candidates[0]) == (first.expires_at, first.pk)
    assert [row_id for _text, row_id in after_first] == [second.pk]


@pytest.mark.django_db
def test_a_batch_is_taken_in_chunks_of_a_quarter_of_its_size():
    template = CouponTemplateFactory()
    _expired_coupons(template, UserFactory(), 12)

    # with no time budget, every batch stops after its first chunk: a quarter of its 8 rows
    result = coupons_expire_due(batch_size=8, adaptive=False, budget_seconds=0)

    assert (result.changed, result.batches) == (12, 6)
    assert CouponTemplate.objects.get(pk=template.pk).expired_count == 12


@pytest.mark.parametrize(
    ("handled", "took", "expected"),
    [
        # a slow batch shrinks the next one to what its rate does in the target time
        (4000, 0.8, round(4000 / 0.8 * TARGET_BATCH_SECONDS)),
        # a fast batch grows the next one, but at most twofold
        (1000, 0.01, 2000),
        # never above the maximum, never below the minimum
        (MAX_SWEEP_BATCH_SIZE, 0.001, MAX_SWEEP_BATCH_SIZE),
        (600, 10.0, MIN_SWEEP_BATCH_SIZE),
    ],
)
def test_the_next_batch_is_sized_from_the_rate_of_the_last(handled, took, expected):
    assert next_batch_size(handled=handled, took=took) == expected
