""" "Issuable now" is defined once (``coupons.issuable``); its queryset, SQL and Lua forms agree with it."""

import itertools
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from coupons.issuable import has_stock, issuable_filter, issuable_now
from coupons.ledger import gate
from coupons.ledger.issuing import take_stock
from coupons.models import CouponTemplate, TemplateStatus, ValidityType
from tests.factories import CouponTemplateFactory
from tests.marketing.distribution import clean_redis  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_redis")]

HOUR = timedelta(hours=1)


def grid(now):
    """Templates over every combination that matters: status, window edges, fixed validity, stock."""
    statuses = [TemplateStatus.APPROVED, TemplateStatus.PENDING_REVIEW, TemplateStatus.STOPPED, TemplateStatus.ENDED]
    starts = [None, now - HOUR, now, now + HOUR]
    ends = [None, now + HOUR, now, now - HOUR]
    validity = [None, now + 2 * HOUR, now]  # None: relative days; else a fixed date ending then
    stock = [(-1, 0), (5, 4), (5, 5)]  # (total, issued)
    for status, start, end, until, (total, issued) in itertools.product(statuses, starts, ends, validity, stock):
        if start is not None and end is not None and end <= start:
            continue  # refused by the table's check constraint
        fixed = until is not None
        yield CouponTemplateFactory(
            status=status,
            issue_start_time=start,
            issue_end_time=end,
            validity_type=ValidityType.FIXED_DATE if fixed else ValidityType.RELATIVE_DAYS,
            valid_from=now - 24 * HOUR if fixed else None,
            valid_until=until,
            valid_days_after_issue=None if fixed else 7,
            total_quantity=total,
            issued_quantity=issued,
        )


def issues(template: CouponTemplate, now) -> bool:
    return issuable_now(template, now) is None and has_stock(template)


def test_the_queryset_form_selects_exactly_the_issuable_templates():
    now = timezone.now()
    templates = list(grid(now))

    selected = set(CouponTemplate.objects.filter(issuable_filter(now)).values_list("pk", flat=True))

    assert selected == {t.pk for t in templates if issues(t, now)}
    assert 0 < len(selected) < len(templates)


def test_the_stock_update_takes_stock_exactly_when_the_definition_allows_it():
    # The UPDATE re-checks what may change (status, window, stock); an approved template's validity is
    # immutable and is checked in Python before it.
    now = timezone.now()
    for template in grid(now):
        reason = issuable_now(template, now)
        expected = reason in (None, "VALIDITY_OVER") and has_stock(template)
        with transaction.atomic():
            taken = take_stock(template.pk, 1, now) is not None
            transaction.set_rollback(True)
        assert taken == expected, (template.status, template.issue_start_time, template.issue_end_time)


def test_the_gate_admits_exactly_what_the_definition_allows():
    assert gate.enabled()
    now = timezone.now()
    for template in grid(now):
        gate.forget()
        gate.load(template)
        verdict = gate.admit(template.pk, 1, now)
        reason = issuable_now(template, now)
        if template.status == TemplateStatus.PENDING_REVIEW:
            assert verdict == gate.ADMIT  # not cached (it may still be approved): the database decides
        elif reason in (None, "VALIDITY_OVER") and has_stock(template):
            assert verdict == gate.ADMIT
        else:
            assert verdict != gate.ADMIT, (template.status, template.issue_start_time, template.issue_end_time)
