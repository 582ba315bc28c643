"""Shared test support for distribution: a clean Redis db, real threads with their own connections."""

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection

from core import redis_link
from coupons.ledger import gate
from coupons.services import claim


def flush_redis() -> None:
    """Empty the test's own Redis database (FLUSHDB on the configured URL, never FLUSHALL)."""
    redis_link.reset()
    claim.forget_templates()  # ids are reused after a transactional test's flush
    gate.forget()
    if settings.REDIS_URL:
        redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture(autouse=False)
def clean_redis():
    flush_redis()
    yield
    redis_link.reset()


def ensure_roles() -> None:
    """Content types, permissions and the role groups, as ``migrate`` leaves them. A transactional
    test's flush removes the groups (a data migration made them), and a serialized one everything."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    from core.roles import sync_role_groups

    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    sync_role_groups(Group, Permission)


@pytest.fixture(scope="module", autouse=True)
def restore_roles_after_module(django_db_setup, django_db_blocker):
    """Leave the database as migrate made it for later modules and later runs (--reuse-db)."""
    yield
    with django_db_blocker.unblock():
        ensure_roles()


def ensure_connections(needed: int) -> None:
    """Raise MariaDB's max_connections if this many threads could not connect at once."""
    if connection.vendor != "mysql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@max_connections")
        (current,) = cursor.fetchone()
        if current < needed + 60:
            cursor.execute("SET GLOBAL max_connections = %s", [needed + 100])


def run_concurrently(target: Callable[..., Any], args: Sequence[tuple], timeout: float = 120) -> list[Any]:
    """Run ``target(*a)`` for every ``a`` in its own thread, all released at once. Each thread uses
    its own database connection and closes it. Returns results (or exceptions) in input order."""
    ensure_connections(len(args))
    barrier = threading.Barrier(len(args))
    results: list[Any] = [None] * len(args)

    def run(index: int, call_args: tuple) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = target(*call_args)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(args)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    return results
