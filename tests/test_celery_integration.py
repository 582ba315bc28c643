"""The scheduled jobs for real: a Celery worker and Celery Beat (database scheduler) as separate
processes against the test's MariaDB database and Redis, with a one-second schedule."""

import ctypes
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
from django.test import override_settings
from django.utils import timezone

from coupons.models import CouponStatus, UserCoupon
from marketing.models import BulkGrant, BulkGrantRecipient, BulkGrantStatus, BulkGrantTarget, MemberProfile
from marketing.services.bulk_grants import bulk_grant_approve, bulk_grant_create, bulk_grant_submit
from orders.models import Order, OrderStatus
from orders.services import order_place
from tests.factories import CouponTemplateFactory, StaffFactory, UserCouponFactory, UserFactory
from tests.factories.checkout import seed_menu, wallet_coupon

ROOT = Path(__file__).resolve().parent.parent

# A worker or beat started here is killed by the kernel when the test process dies (prctl's
# PR_SET_PDEATHSIG, Linux): a run stopped mid-test must not leave a worker consuming the next run's tasks
# from the same broker. The function is looked up before any fork; the child only calls it.
_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_the_tests() -> None:
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


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
            preexec_fn=_die_with_the_tests,
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


def _approved_list_grant(n: int):
    user_ids = _many_customers(n)
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
    return grant, template, finance


def _handled(grant) -> int:
    return BulkGrantRecipient.objects.filter(grant=grant).exclude(status="PENDING").count()


def _assert_everyone_granted_once(grant, template, n: int) -> None:
    grant.refresh_from_db()
    assert grant.status == BulkGrantStatus.DONE
    assert (grant.targeted, grant.granted, grant.failed, grant.skipped_limit, grant.skipped_stock) == (n, n, 0, 0, 0)
    assert BulkGrantRecipient.objects.filter(grant=grant, status="GRANTED").count() == n
    issued = UserCoupon.objects.filter(template=template, source="BULK_GRANT", source_ref=str(grant.pk))
    assert issued.count() == n
    assert issued.values("user_id").distinct().count() == n
    assert template.__class__.objects.get(pk=template.pk).issued_quantity == n


def test_a_worker_killed_in_the_middle_of_a_bulk_grant_is_resumed_by_the_due_grants_job(celery_processes):
    # given: an approved bulk grant of 3,000 customers, run 25 customers per transaction
    from marketing.services.schedules import bulk_grants_due
    from marketing.tasks import run_due_bulk_grants

    grant, template, finance = _approved_list_grant(3000)
    processes = celery_processes(BULK_GRANT_CHUNK_SIZE="25")
    processes.worker()

    # when: finance approves (the run is enqueued), and the whole worker is killed with SIGKILL mid-way
    bulk_grant_approve(grant=grant, actor=finance)
    try:
        _wait_for(lambda: _handled(grant) >= 300, 60, "the first chunks")
    except AssertionError:
        raise AssertionError(processes.logs()) from None
    processes.kill("worker")
    done_at_kill = _handled(grant)
    assert 0 < done_at_kill < 3000
    grant.refresh_from_db()
    assert grant.status == BulkGrantStatus.RUNNING
    # The broker holds the killed worker's task unacknowledged (for the visibility timeout): only the
    # heartbeat tells that the run stopped. Fresh, it is left alone; past the stall window, it is due.
    assert grant.heartbeat_at is not None
    assert grant.pk not in bulk_grants_due()
    stalled_at = grant.heartbeat_at + timedelta(seconds=settings.BULK_GRANT_STALL_SECONDS + 1)
    assert grant.pk in bulk_grants_due(now=stalled_at)

    # then: the due-grants job, run as Beat runs it once the window has passed, resumes the grant on a
    # new worker, and every customer gets exactly one coupon
    processes.worker("worker2")
    with override_settings(BULK_GRANT_STALL_SECONDS=0):
        assert run_due_bulk_grants.apply().get() == 1
    try:
        _wait_for(lambda: BulkGrant.objects.get(pk=grant.pk).status == BulkGrantStatus.DONE, 60, "the resumed grant")
    except AssertionError:
        raise AssertionError(processes.logs()) from None
    assert _handled(grant) == 3000
    _assert_everyone_granted_once(grant, template, 3000)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_a_pool_process_killed_mid_grant_gives_the_task_back_at_once(celery_processes):
    # given: a worker with one pool process, running a bulk grant of 2,000 customers in chunks of 25
    grant, template, finance = _approved_list_grant(2000)
    processes = celery_processes(BULK_GRANT_CHUNK_SIZE="25")
    worker = processes.start(
        "prefork", "worker", "--pool=prefork", "--concurrency=1", "--loglevel=INFO", "-n", "prefork@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    )  # fmt: skip
    bulk_grant_approve(grant=grant, actor=finance)
    try:
        _wait_for(lambda: _handled(grant) >= 200, 60, "the first chunks")
    except AssertionError:
        raise AssertionError(processes.logs()) from None

    # when: the pool process dies (as when the kernel's OOM killer picks it), the worker itself lives
    (child,) = _children(worker.pid)
    os.kill(child, signal.SIGKILL)
    assert _handled(grant) < 2000

    # then: the worker rejects the task back to the queue (task_reject_on_worker_lost) and its new pool
    # process resumes the grant with no stall window and no scheduled job
    try:
        _wait_for(lambda: BulkGrant.objects.get(pk=grant.pk).status == BulkGrantStatus.DONE, 60, "the requeued grant")
    except AssertionError:
        raise AssertionError(processes.logs()) from None
    assert "WorkerLostError" in (processes.tmp_path / "prefork.log").read_text()
    _assert_everyone_granted_once(grant, template, 2000)
