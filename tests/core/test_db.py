"""``plain_transaction``: a transaction of plain statements on MariaDB, committed or rolled back whole,
with its after-commit callables run only after the commit and deadlocks retried."""

import pytest
from django.db import OperationalError, connection, transaction

from core.db import plain_transaction
from coupons.models import CouponTemplate
from tests.factories import CouponTemplateFactory

pytestmark = pytest.mark.django_db(transaction=True)


def issued(template_id: int) -> int:
    return CouponTemplate.objects.values_list("issued_quantity", flat=True).get(pk=template_id)


def bump(template_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE coupons_coupontemplate SET issued_quantity = issued_quantity + 1 WHERE id = %s", [template_id]
        )


def test_it_commits_and_then_runs_the_callbacks():
    template = CouponTemplateFactory()
    seen: list[int] = []

    def work(after_commit):
        bump(template.pk)
        after_commit.append(lambda: seen.append(issued(template.pk)))
        return "done"

    assert plain_transaction(work) == "done"
    assert issued(template.pk) == 1 and seen == [1]
    assert connection.get_autocommit() and not connection.in_atomic_block


def test_an_error_rolls_everything_back_and_runs_no_callback():
    template = CouponTemplateFactory()
    seen: list[str] = []

    def work(after_commit):
        bump(template.pk)
        bump(template.pk)
        after_commit.append(lambda: seen.append("called"))
        raise ValueError("refused")

    with pytest.raises(ValueError):
        plain_transaction(work)
    assert issued(template.pk) == 0 and seen == []


def test_a_deadlock_is_retried_from_the_start():
    template = CouponTemplateFactory()
    attempts: list[int] = []

    def work(after_commit):
        attempts.append(1)
        bump(template.pk)
        if len(attempts) == 1:
            raise OperationalError(1213, "Deadlock found when trying to get lock")
        return len(attempts)

    assert plain_transaction(work) == 2
    assert issued(template.pk) == 1


def test_it_refuses_to_run_inside_atomic():
    with transaction.atomic(), pytest.raises(RuntimeError):
        plain_transaction(lambda after_commit: None)
