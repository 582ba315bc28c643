"""The scheduled jobs for real: a Celery worker and Celery Beat (database scheduler) as separate
processes against the test's MariaDB database and Redis, with a one-second schedule."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from coupons.models import CouponStatus, UserCoupon
from marketing.models import BulkGrant, BulkGrantRecipient, BulkGrantStatus, BulkGrantTarget, MemberProfile
from marketing.services.bulk_grants import bulk_grant_approve, bulk_grant_create, bulk_grant_submit
from orders.models import Order, OrderStatus
from orders.services import order_place
from tests.factories import CouponTemplateFactory, StaffFactory, UserCouponFactory, UserFactory
from tests.factories.checkout import seed_menu, wallet_coupon

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="the integration runs a worker on the Redis broker"),
]


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"mysql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}"


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Processes:
    """Starts celery worker / beat with the test database and stops them, whatever happens."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_BROKER_URL": settings.REDIS_URL,
            **env,
        }
        self.tmp_path = tmp_path
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.tmp_path / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running[name] = process
        return process

    def worker(self, name: str = "worker") -> subprocess.Popen:
        return self.start(
            name,
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        )

    def beat(self) -> subprocess.Popen:
        return self.start(
            "beat",
            "beat",
            "--loglevel=INFO",
            "--max-interval=1",
            "--scheduler=django_celery_beat.schedulers:DatabaseScheduler",
            "--pidfile=",
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.running.pop(name)
        os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def stop_all(self) -> None:
        for name in list(self.running):
            process = self.running[name]
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
            self.running.pop(name)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.tmp_path.glob("*.log")))


@pytest.fixture
def celery_processes(tmp_path) -> Iterator[Callable[..., Processes]]:
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    made: list[Processes] = []

    def make(**env: str) -> Processes:
        made.append(Processes(tmp_path, **env))
        return made[-1]

    yield make
    for processes in made:
        processes.stop_all()
    connection.close()


def _one_second_schedule() -> None:
    """The schedule of the data migration (a flush may have removed it), every job every second."""
    from django.apps import apps
    from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

    from core.schedule import install_schedule

    install_schedule(apps, settings.TIME_ZONE)
    IntervalSchedule.objects.update(every=1)
    PeriodicTask.objects.update(last_run_at=None)
    PeriodicTasks.update_changed()


def test_beat_and_worker_expire_coupons_and_cancel_unpaid_orders(celery_processes):
    # given: expired coupons and an unpaid order older than the timeout
    seed_menu()
    user = UserFactory()
    past = timezone.now() - timedelta(minutes=1)
    template = CouponTemplateFactory()
    expired = [
        UserCouponFactory(user=user, template=template, valid_from=past - timedelta(days=1), expires_at=past)
        for _ in range(5)
    ]
    coupon = wallet_coupon(user, "cash_5_stackable")
    order = order_place(user=user, lines=[{"sku": "d-101", "quantity": 1}], channel="APP", coupon_ids=[coupon.pk])
    Order.objects.filter(pk=order.pk).update(
        created_at=timezone.now() - timedelta(minutes=settings.ORDER_PAYMENT_TIMEOUT + 1)
    )
    _one_second_schedule()

    # when: beat and a worker run
    processes = celery_processes()
    processes.worker()
    processes.beat()

    # then: within seconds the coupons are EXPIRED and the order CANCELLED with its coupon returned
    try:
        _wait_for(
            lambda: UserCoupon.objects.filter(pk__in=[c.pk for c in expired], status=CouponStatus.EXPIRED).count() == 5,
            60,
            "the expiry sweep",
        )
        _wait_for(lambda: Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED, 60, "the order timeout")
    except AssertionError:
        raise AssertionError(processes.logs()) from None
    assert UserCoupon.objects.get(pk=coupon.pk).status == CouponStatus.UNUSED
    assert template.__class__.objects.get(pk=template.pk).expired_count == 5


def _many_customers(n: int) -> list[int]:
    user_model = get_user_model()
    users = user_model.objects.bulk_create([user_model(username=f"bulk{i:05d}") for i in range(n)])
    MemberProfile.objects.bulk_create(
        [MemberProfile(user=user, invite_code=f"BK{user.pk:010d}"[:12]) for user in users]
    )
    return [user.pk for user in users]


def test_a_worker_killed_in_the_middle_of_a_bulk_grant_resumes_and_grants_each_user_once(celery_processes):
    # given: an approved bulk grant of 3,000 customers, run 25 customers per transaction
    user_ids = _many_customers(3000)
    template = CouponTemplateFactory(total_quantity=-1, per_user_limit=1, visible_in_claim_center=False)
    operations, finance = StaffFactory(role="operations"), StaffFactory(role="finance")
    grant = bulk_grant_create(
        actor=operations,
        name="回馈老客",
        target_type=BulkGrantTarget.USER_LIST,
        users=[str(pk) for pk in user_ids],
        template=template,
    )
    bulk_grant_submit(grant=grant, actor=operations)
    processes = celery_processes(BULK_GRANT_CHUNK_SIZE="25", BULK_GRANT_STALL_SECONDS="2")
    processes.worker()

    def granted() -> int:
        return BulkGrantRecipient.objects.filter(grant=grant).exclude(status="PENDING").count()

    # when: finance approves (the run is enqueued), and the worker is killed with SIGKILL mid-way
    bulk_grant_approve(grant=grant, actor=finance)
    try:
        _wait_for(lambda: granted() >= 300, 60, "the first chunks")
    except AssertionError:
        raise AssertionError(processes.logs()) from None
    processes.kill("worker")
    done_at_kill = granted()
    assert 0 < done_at_kill < 3000
    assert BulkGrant.objects.get(pk=grant.pk).status == BulkGrantStatus.RUNNING

    # then: a new worker and beat pick the stalled grant up, and every customer gets exactly one coupon
    _one_second_schedule()
    processes.worker("worker2")
    processes.beat()
    try:
        _wait_for(lambda: BulkGrant.objects.get(pk=grant.pk).status == BulkGrantStatus.DONE, 120, "the resumed grant")
    except AssertionError:
        raise AssertionError(processes.logs()) from None
    grant.refresh_from_db()
    assert (grant.targeted, grant.granted, grant.failed, grant.skipped_limit, grant.skipped_stock) == (
        3000,
        3000,
        0,
        0,
        0,
    )
    issued = UserCoupon.objects.filter(template=template, source="BULK_GRANT", source_ref=str(grant.pk))
    assert issued.count() == 3000
    assert issued.values("user_id").distinct().count() == 3000
    assert template.__class__.objects.get(pk=template.pk).issued_quantity == 3000
