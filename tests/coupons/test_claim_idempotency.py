"""A claim with an Idempotency-Key: the key's record is written by the claim's own transaction.

On MariaDB the record is the last statement of the keyed procedure (``coupons_claim_one_keyed``), so a keyed
claim costs the same two statements as a plain one; with an in-transaction subscriber, or inside an outer
transaction, the statements sent one by one write it the same way. Transactional tests: the procedure
commits its own transaction.
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import events
from core.events import Event
from core.idempotency import KeyRecord, KeyTaken
from core.models import IdempotencyRecord
from coupons.api.customer import coupon_payload
from coupons.ledger import claim_procedure
from coupons.ledger.issuing import COUPON_COLUMNS, build_coupon, coupon_row, issue_now
from coupons.models import ClaimQuota, CouponSource, CouponTemplate, UserCoupon
from tests.conftest import client_for
from tests.error_shape import assert_api_error
from tests.factories import CouponTemplateFactory, UserFactory
from tests.marketing.distribution import clean_redis, restore_roles_after_module, run_concurrently  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_redis")]


def claim_url(template) -> str:
    return f"/api/v1/templates/{template.pk}/claim"


def issued(template) -> int:
    return CouponTemplate.objects.values_list("issued_quantity", flat=True).get(pk=template.pk)


def procedure_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = %s",
            [name],
        )
        return cursor.fetchone()[0] == 1


def test_claims_under_keys_that_differ_only_in_case_are_two_claims():
    template = CouponTemplateFactory(per_user_limit=0)
    client = client_for(UserFactory())

    first = client.post(claim_url(template), HTTP_IDEMPOTENCY_KEY="claim-a")
    second = client.post(claim_url(template), HTTP_IDEMPOTENCY_KEY="CLAIM-A")

    assert (first.status_code, second.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in second
    assert first.json()["id"] != second.json()["id"]
    assert issued(template) == 2


def test_a_keyed_claim_sends_the_token_lookup_and_one_call_and_stores_its_answer():
    template = CouponTemplateFactory(per_user_limit=0)
    user = UserFactory()
    client = client_for(user)
    assert client.post(claim_url(template), HTTP_IDEMPOTENCY_KEY="warm-up").status_code == 201  # caches

    with CaptureQueriesContext(connection) as queries:
        response = client.post(claim_url(template), HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 201, response.content
    sql = [query["sql"] for query in queries]
    assert len(sql) == 2, sql
    assert "authtoken" in sql[0]
    assert sql[1].startswith(f"CALL {claim_procedure.KEYED_PROCEDURE}(")
    record = IdempotencyRecord.objects.get(key="k-1")
    stored = (record.user_id, record.method, record.path, record.status_code)
    assert stored == (user.pk, "POST", claim_url(template), 201)
    assert record.response_body == response.json()
    assert response.json()["id"] == UserCoupon.objects.get(code=response.json()["code"]).pk


def test_the_same_key_replays_the_first_answer_and_claims_once():
    template = CouponTemplateFactory(per_user_limit=5)
    user = UserFactory()
    client = client_for(user)

    first = client.post(claim_url(template), HTTP_IDEMPOTENCY_KEY="tap")
    again = client.post(claim_url(template), HTTP_IDEMPOTENCY_KEY="tap")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert UserCoupon.objects.filter(user=user).count() == 1
    assert issued(template) == 1
    assert ClaimQuota.objects.get(template=template, user=user).claimed == 1
    assert IdempotencyRecord.objects.count() == 1


def test_the_same_key_on_another_template_is_refused_and_changes_nothing():
    first_template, other = CouponTemplateFactory(), CouponTemplateFactory()
    client = client_for(UserFactory())
    assert client.post(claim_url(first_template), HTTP_IDEMPOTENCY_KEY="once").status_code == 201

    response = client.post(claim_url(other), HTTP_IDEMPOTENCY_KEY="once")

    assert_api_error(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert issued(other) == 0
    assert not UserCoupon.objects.filter(template=other).exists()
    assert not ClaimQuota.objects.filter(template=other).exists()


def test_a_refusal_is_stored_and_replayed_even_after_stock_comes_back():
    template = CouponTemplateFactory(total_quantity=1)
    user = UserFactory()
    client_for(UserFactory()).post(claim_url(template))  # the last coupon goes to someone else
    client = client_for(user)

    refused = client.post(claim_url(template), HTTP_IDEMPOTENCY_KEY="late")
    CouponTemplate.objects.filter(pk=template.pk).update(total_quantity=10)
    again = client.post(claim_url(template), HTTP_IDEMPOTENCY_KEY="late")

    assert_api_error(refused, 409, "SOLD_OUT")
    assert (again.status_code, again.json()) == (409, refused.json())
    assert again["Idempotent-Replayed"] == "true"
    assert IdempotencyRecord.objects.get(key="late").status_code == 409
    assert not UserCoupon.objects.filter(user=user).exists()
    assert issued(template) == 1


def test_a_record_past_its_ttl_is_forgotten_and_the_key_claims_again(settings):
    template = CouponTemplateFactory(per_user_limit=2)
    user = UserFactory()
    client = client_for(user)
    first = client.post(claim_url(template), HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS + 1))

    second = client.post(claim_url(template), HTTP_IDEMPOTENCY_KEY="old")

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["id"] != first.json()["id"]
    assert UserCoupon.objects.filter(user=user).count() == 2
    assert IdempotencyRecord.objects.get().response_body == second.json()


def test_a_held_key_rolls_the_procedures_claim_back():
    template = CouponTemplateFactory(per_user_limit=3)
    user = UserFactory()
    client_for(user).post(claim_url(template), HTTP_IDEMPOTENCY_KEY="held")
    now = timezone.now()
    coupon = build_coupon(template=template, user_id=user.pk, issued_at=now, source=CouponSource.CLAIM)
    coupon.template = template
    record = KeyRecord(user.pk, "held", "POST", claim_url(template), "digest", coupon_payload, 201)

    answer = claim_procedure.claim_one(
        template_id=template.pk,
        user_id=user.pk,
        per_user_limit=template.per_user_limit,
        coupon=dict(zip(COUPON_COLUMNS, coupon_row(coupon), strict=True)),
        record=record.row(coupon)[1:],
    )

    assert answer == claim_procedure.Refused(guarantee=claim_procedure.KEY_TAKEN)
    assert issued(template) == 1
    assert UserCoupon.objects.filter(user=user).count() == 1
    assert ClaimQuota.objects.get(template=template, user=user).claimed == 1


def test_with_a_subscriber_in_the_transaction_the_statements_write_the_record():
    template = CouponTemplateFactory(per_user_limit=2)
    user = UserFactory()
    seen: list[dict] = []
    events.subscribe(Event.COUPON_ISSUED, lambda **kw: seen.append(kw), uid="test.keyed", in_transaction=True)
    try:
        client = client_for(user)
        with CaptureQueriesContext(connection) as queries:
            first = client.post(claim_url(template), HTTP_IDEMPOTENCY_KEY="plain")
        again = client.post(claim_url(template), HTTP_IDEMPOTENCY_KEY="plain")
    finally:
        events.unsubscribe(Event.COUPON_ISSUED, "test.keyed")

    assert not any(query["sql"].startswith("CALL") for query in queries)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() == IdempotencyRecord.objects.get().response_body
    assert UserCoupon.objects.filter(user=user).count() == 1 == len(seen)


def test_inside_an_outer_transaction_the_record_commits_or_rolls_back_with_the_coupon():
    template = CouponTemplateFactory(per_user_limit=0)
    user = UserFactory()

    def record(key: str) -> KeyRecord:
        return KeyRecord(user.pk, key, "POST", claim_url(template), "digest", coupon_payload, 201)

    kept = record("kept")
    with transaction.atomic():
        (coupon,) = issue_now(template=template, user_id=user.pk, source=CouponSource.CLAIM, record=kept)
    with pytest.raises(RuntimeError), transaction.atomic():
        issue_now(template=template, user_id=user.pk, source=CouponSource.CLAIM, record=record("lost"))
        raise RuntimeError("the caller gives up")
    with pytest.raises(KeyTaken), transaction.atomic():
        issue_now(template=template, user_id=user.pk, source=CouponSource.CLAIM, record=record("kept"))

    assert kept.written
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["kept"]
    assert IdempotencyRecord.objects.get().response_body["id"] == coupon.pk
    assert list(UserCoupon.objects.values_list("pk", flat=True)) == [coupon.pk]
    assert issued(template) == 1


def test_concurrent_requests_with_one_key_on_two_templates_claim_once():
    first_template, other = CouponTemplateFactory(), CouponTemplateFactory()
    user = UserFactory()

    def post(template):
        response = client_for(user).post(claim_url(template), HTTP_IDEMPOTENCY_KEY="both")
        return response.status_code, response.json()

    results = run_concurrently(post, [(first_template,), (other,)] * 10)

    coupon = UserCoupon.objects.get(user=user)
    winner = first_template if coupon.template_id == first_template.pk else other
    assert issued(first_template) + issued(other) == 1
    record = IdempotencyRecord.objects.get()
    assert record.path == claim_url(winner) and record.response_body["id"] == coupon.pk
    for status, body in results:
        assert (status, body) in ((201, record.response_body), (422, body)), (status, body)
        if status == 422:
            assert body["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_the_keyed_procedure_is_dropped_when_its_migration_is_reversed():
    try:
        call_command("migrate", "coupons", "0005", verbosity=0)
        assert not procedure_exists(claim_procedure.KEYED_PROCEDURE)
        assert procedure_exists(claim_procedure.PROCEDURE)
    finally:  # every app: going back also unapplied the migrations of other apps that depend on these
        call_command("migrate", verbosity=0)
    assert procedure_exists(claim_procedure.KEYED_PROCEDURE)
    response = client_for(UserFactory()).post(claim_url(CouponTemplateFactory()), HTTP_IDEMPOTENCY_KEY="back")
    assert response.status_code == 201
