"""The Redis admission gate: turns away only what it knows is refused; the database decides the rest."""

from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import redis_link
from core.errors import NotFound
from coupons.ledger import gate
from coupons.ledger.issuing import NotClaimable, SoldOut, issue_coupons
from coupons.models import CouponTemplate, TemplateStatus, UserCoupon
from coupons.services.claim import coupon_claim
from coupons.services.templates import template_approve, template_stop
from tests.factories import CouponTemplateFactory, StaffFactory
from tests.marketing.distribution import clean_redis, restore_roles_after_module  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_redis")]


def entry(template_id: int) -> dict[str, str]:
    raw = redis.Redis.from_url(settings.REDIS_URL).hgetall(gate.key(template_id))
    return {k.decode(): v.decode() for k, v in raw.items()}


def test_approval_loads_the_gate_after_commit(operations_user, finance_user, django_capture_on_commit_callbacks):
    template = CouponTemplateFactory(
        status=TemplateStatus.PENDING_REVIEW, created_by=operations_user, total_quantity=30
    )

    with django_capture_on_commit_callbacks(execute=True):
        template_approve(template=template, actor=finance_user)

    assert entry(template.pk) | {"start": "", "end": ""} == {
        "state": "open",
        "total": "30",
        "issued": "0",
        "start": "",
        "end": "",
    }


def test_stopping_closes_the_gate(operations_user, django_capture_on_commit_callbacks):
    template = CouponTemplateFactory()
    gate.load(template)

    with django_capture_on_commit_callbacks(execute=True):
        template_stop(template=template, actor=operations_user)

    assert entry(template.pk)["state"] == "closed"
    customer = StaffFactory()
    with CaptureQueriesContext(connection) as queries, pytest.raises(NotClaimable):
        coupon_claim(user=customer, template_id=template.pk)
    assert len(queries) == 0


def test_a_sold_out_claim_touches_no_database(customer, django_capture_on_commit_callbacks):
    template = CouponTemplateFactory(total_quantity=1, per_user_limit=0)
    with django_capture_on_commit_callbacks(execute=True):
        coupon_claim(user=customer, template_id=template.pk)
    assert entry(template.pk)["issued"] == "1"

    with CaptureQueriesContext(connection) as queries, pytest.raises(SoldOut):
        coupon_claim(user=customer, template_id=template.pk)

    assert len(queries) == 0


def test_a_quantity_refused_as_sold_out_does_not_refuse_a_smaller_one():
    # given: 2 of 10 left
    template = CouponTemplateFactory(total_quantity=10, issued_quantity=8)
    gate.load(template)

    # when: three are asked for, then one
    assert gate.admit(template.pk, 3) == gate.SOLD_OUT

    # then: one is still admitted (the refusal of three was not remembered as "sold out")
    assert gate.admit(template.pk, 1) == gate.ADMIT
    assert gate.admit(template.pk, 2) == gate.ADMIT


def test_a_sold_out_http_claim_runs_only_the_token_lookup(customer, customer_client):
    template = CouponTemplateFactory(total_quantity=2, issued_quantity=2)
    gate.load(template)

    with CaptureQueriesContext(connection) as queries:
        response = customer_client.post(f"/api/v1/templates/{template.pk}/claim")

    assert response.status_code == 409 and response.json()["error"]["code"] == "SOLD_OUT"
    assert len(queries) == 1
    assert "authtoken" in queries[0]["sql"]


def test_a_missing_entry_is_rebuilt_from_the_database(customer):
    template = CouponTemplateFactory(total_quantity=5, issued_quantity=5)
    assert entry(template.pk) == {}

    with pytest.raises(SoldOut):
        coupon_claim(user=customer, template_id=template.pk)

    assert entry(template.pk)["issued"] == "5"
    assert gate.admit(template.pk) == gate.SOLD_OUT


def test_the_issued_bound_only_goes_up():
    template = CouponTemplateFactory(total_quantity=5, issued_quantity=3)
    gate.load(template)

    gate.record_issued(template.pk, 2)
    assert entry(template.pk)["issued"] == "3"
    template.issued_quantity = 1  # a stale read reloading the entry
    gate.load(template)
    assert entry(template.pk)["issued"] == "3"

    gate.record_issued(template.pk, 5)
    assert gate.admit(template.pk) == gate.SOLD_OUT


def test_a_closed_entry_is_never_reopened():
    template = CouponTemplateFactory(status=TemplateStatus.STOPPED)
    gate.load(template)
    template.status = TemplateStatus.APPROVED  # a reload that read the row before the stop

    gate.load(template)

    assert gate.admit(template.pk) == gate.CLOSED


@pytest.mark.django_db(transaction=True)  # the claim commits on its own, as in production
def test_a_stale_entry_admits_and_the_database_decides(customer):
    # given the gate thinks stock is left (it only holds a lower bound) but the database is sold out
    template = CouponTemplateFactory(total_quantity=3, issued_quantity=1)
    gate.load(template)
    CouponTemplate.objects.filter(pk=template.pk).update(issued_quantity=3)

    with pytest.raises(SoldOut):
        coupon_claim(user=customer, template_id=template.pk)

    # then the refusal taught the gate
    assert entry(template.pk)["issued"] == "3"
    assert UserCoupon.objects.count() == 0


def test_drafts_are_not_cached_so_a_later_approval_is_seen(customer):
    template = CouponTemplateFactory(status=TemplateStatus.DRAFT)
    with pytest.raises(NotFound):  # a draft answers as an unknown template
        coupon_claim(user=customer, template_id=template.pk)
    assert entry(template.pk) == {}

    CouponTemplate.objects.filter(pk=template.pk).update(status=TemplateStatus.APPROVED)

    assert coupon_claim(user=customer, template_id=template.pk).template_id == template.pk


def test_an_ended_window_is_refused_by_the_gate():
    now = timezone.now()
    template = CouponTemplateFactory(issue_start_time=now - timedelta(days=2), issue_end_time=now + timedelta(hours=1))
    gate.load(template)

    assert gate.admit(template.pk, now=now - timedelta(days=3)) == gate.NOT_STARTED
    assert gate.admit(template.pk, now=now) == gate.ADMIT
    gate.forget()  # an admit is remembered for a moment (it only sends the claim on to the database)
    assert gate.admit(template.pk, now=now + timedelta(hours=2)) == gate.CLOSED
    # and, final, it is remembered without asking Redis again
    redis.Redis.from_url(settings.REDIS_URL).delete(gate.key(template.pk))
    assert gate.admit(template.pk, now=now) == gate.CLOSED


def test_a_quantity_larger_than_what_is_left_is_refused():
    template = CouponTemplateFactory(total_quantity=10, issued_quantity=8)
    gate.load(template)

    assert gate.admit(template.pk, 2) == gate.ADMIT
    assert gate.admit(template.pk, 3) == gate.SOLD_OUT


def test_an_admit_is_remembered_briefly_and_a_refusal_for_good(customer):
    template = CouponTemplateFactory(total_quantity=1, issued_quantity=0)
    gate.load(template)
    assert gate.admit(template.pk) == gate.ADMIT
    CouponTemplate.objects.filter(pk=template.pk).update(issued_quantity=1)
    gate.record_issued(template.pk, 1)  # what a commit that sold the last one does

    with CaptureQueriesContext(connection) as queries:
        verdicts = [gate.admit(template.pk) for _ in range(3)]

    assert verdicts == [gate.SOLD_OUT] * 3
    assert len(queries) == 0


def test_without_redis_the_gate_admits_everything_and_writes_nothing(settings, customer):
    redis_url = settings.REDIS_URL
    settings.REDIS_URL = ""
    template = CouponTemplateFactory(total_quantity=1, issued_quantity=1)

    assert gate.admit(template.pk) == gate.ADMIT
    with pytest.raises(SoldOut):
        coupon_claim(user=customer, template_id=template.pk)
    assert redis.Redis.from_url(redis_url).keys(f"{gate.key(template.pk)}*") == []


def test_with_redis_down_claims_still_work_and_stay_exact(settings, customer):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    template = CouponTemplateFactory(total_quantity=1, per_user_limit=0)

    coupon = coupon_claim(user=customer, template_id=template.pk)
    with pytest.raises(SoldOut):
        coupon_claim(user=customer, template_id=template.pk)

    assert coupon.template_id == template.pk
    assert CouponTemplate.objects.get(pk=template.pk).issued_quantity == 1
    redis_link.reset()


def test_the_gate_can_be_switched_off(settings, customer):
    settings.CLAIM_GATE = False
    template = CouponTemplateFactory(total_quantity=1, issued_quantity=1)

    assert gate.admit(template.pk) == gate.ADMIT
    assert entry(template.pk) == {}


def test_a_count_seen_inside_a_transaction_reaches_the_gate_only_when_committed(customer):
    """A transaction that took the last coupons itself and is refused a further one sees its own,
    uncommitted count: rolled back, the gate must not have learnt it."""
    template = CouponTemplateFactory(total_quantity=2, per_user_limit=0)
    gate.load(template)

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned), transaction.atomic():
        issue_coupons(template=template, user_id=customer.pk, quantity=2, source="ADMIN")
        with pytest.raises(SoldOut):
            issue_coupons(template=template, user_id=customer.pk, quantity=1, source="ADMIN")
        raise Abandoned

    assert entry(template.pk)["issued"] == "0"
    gate.forget()
    assert gate.admit(template.pk) == gate.ADMIT
    assert len(coupon_claim(user=customer, template_id=template.pk).code) == 18
