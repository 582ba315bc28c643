"""Claim center and claim: answers, codes, validity, refusals, bad input."""

import re
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coupons import selectors, services
from coupons.ledger.issuing import coupon_code, random_amount, validity_for
from coupons.models import ClaimQuota, CouponTemplate, TemplateStatus, UserCoupon, ValidityType
from marketing.models import MemberProfile, MemberTag
from tests.conftest import client_for
from tests.factories import CouponTemplateFactory, UserCouponFactory, UserFactory
from tests.factories.template_input import TemplateInputFactory
from tests.marketing.distribution import clean_redis, restore_roles_after_module  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_redis")]

SHANGHAI = ZoneInfo("Asia/Shanghai")
COUPON_KEYS = {
    "id", "code", "template_id", "name", "short_name", "type", "value", "summary", "amount", "status",
    "valid_from", "expires_at", "source",
}  # fmt: skip


def claim_url(template_id) -> str:
    return f"/api/v1/templates/{template_id}/claim"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


# claim: the coupon --------------------------------------------------------------------------------


def test_a_codes_day_turns_at_the_business_midnight_and_follows_the_time_zone(settings):
    """The code's YYMMDD is the business day of issue, whatever prefix was made before it."""
    template = CouponTemplate(product_line="07", type="CASH_VOUCHER")
    midnight = datetime(2026, 3, 5, tzinfo=SHANGHAI)

    assert coupon_code(template, midnight - timedelta(microseconds=1))[:10] == "0701260304"
    assert coupon_code(template, midnight)[:10] == "0701260305"
    assert coupon_code(template, midnight - timedelta(microseconds=1))[:10] == "0701260304"
    settings.TIME_ZONE = "UTC"  # 2026-03-04 16:00 UTC
    assert coupon_code(template, midnight)[:10] == "0701260304"
    assert coupon_code(template, midnight + timedelta(hours=8))[:10] == "0701260305"


def test_a_claim_issues_one_coupon_with_its_18_digit_code(customer, customer_client):
    template = CouponTemplateFactory(product_line="07", type="CASH_VOUCHER", value={"amount": "10.00"})

    response = customer_client.post(claim_url(template.pk))

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == COUPON_KEYS
    coupon = UserCoupon.objects.get()
    today = timezone.now().astimezone(SHANGHAI).strftime("%y%m%d")
    assert re.fullmatch(rf"0701{today}\d{{8}}", coupon.code)
    assert body["code"] == coupon.code
    assert (body["template_id"], body["name"], body["type"], body["status"], body["source"]) == (
        template.pk,
        template.name,
        "CASH_VOUCHER",
        "UNUSED",
        "CLAIM",
    )
    assert body["value"] == {"amount": "10.00"}
    assert body["amount"] is None
    assert coupon.user == customer
    template.refresh_from_db()
    assert template.issued_quantity == 1
    assert ClaimQuota.objects.get(template=template, user=customer).claimed == 1


def test_relative_days_validity_runs_from_issue(customer_client):
    template = CouponTemplateFactory(validity_type=ValidityType.RELATIVE_DAYS, valid_days_after_issue=3)
    before = timezone.now()

    customer_client.post(claim_url(template.pk))

    coupon = UserCoupon.objects.get()
    assert before <= coupon.valid_from <= timezone.now()
    assert coupon.expires_at - coupon.valid_from == timedelta(days=3)


def test_fixed_date_validity_is_the_templates(customer_client):
    start = timezone.now() - timedelta(days=1)
    end = timezone.now() + timedelta(days=10)
    template = CouponTemplateFactory(
        validity_type=ValidityType.FIXED_DATE, valid_from=start, valid_until=end, valid_days_after_issue=None
    )

    customer_client.post(claim_url(template.pk))

    coupon = UserCoupon.objects.get()
    assert (coupon.valid_from, coupon.expires_at) == (start, end)


def test_claim_day_validity_ends_at_the_next_business_midnight():
    template = CouponTemplate(validity_type=ValidityType.CLAIM_DAY)
    # 23:30 in Shanghai is 15:30 UTC: the coupon ends 30 minutes later, at local midnight.
    issued = datetime(2026, 3, 1, 15, 30, tzinfo=ZoneInfo("UTC"))

    valid_from, expires_at = validity_for(template, issued)

    assert valid_from == issued
    assert expires_at == datetime(2026, 3, 2, 0, 0, tzinfo=SHANGHAI)
    assert expires_at - issued == timedelta(minutes=30)


def test_claim_day_validity_is_the_business_day_not_the_utc_day():
    template = CouponTemplate(validity_type=ValidityType.CLAIM_DAY)
    # 01:00 in Shanghai on 1 March is 17:00 UTC on 28 February: the UTC date is the day before.
    issued = datetime(2026, 2, 28, 17, 0, tzinfo=ZoneInfo("UTC"))

    valid_from, expires_at = validity_for(template, issued)

    assert valid_from == issued
    assert expires_at == datetime(2026, 3, 2, 0, 0, tzinfo=SHANGHAI)
    assert expires_at - issued == timedelta(hours=23)


def test_a_random_red_packet_draws_its_amount_at_issue(customer_client):
    template = CouponTemplateFactory(
        type="RANDOM_CASH", value={"min_amount": "1.00", "max_amount": "8.88"}, usage_rules=[]
    )

    body = customer_client.post(claim_url(template.pk)).json()

    amount = UserCoupon.objects.get().amount
    assert isinstance(amount, Decimal) and amount.as_tuple().exponent == -2
    assert Decimal("1.00") <= amount <= Decimal("8.88")
    assert body["amount"] == str(amount)


def test_random_amounts_cover_the_range_to_the_cent():
    value = {"min_amount": "0.01", "max_amount": "0.03"}

    drawn = {random_amount(value) for _ in range(300)}

    assert drawn == {Decimal("0.01"), Decimal("0.02"), Decimal("0.03")}


# refusals ---------------------------------------------------------------------------------------


def test_a_sold_out_template_answers_sold_out(customer_client):
    template = CouponTemplateFactory(total_quantity=1, per_user_limit=0)
    assert customer_client.post(claim_url(template.pk)).status_code == 201

    error = assert_error(customer_client.post(claim_url(template.pk)), 409, "SOLD_OUT")

    assert error["details"]["template_id"] == template.pk
    assert UserCoupon.objects.count() == 1
    assert CouponTemplate.objects.get(pk=template.pk).issued_quantity == 1


def test_the_per_user_limit_answers_limit_reached(customer, customer_client):
    template = CouponTemplateFactory(per_user_limit=2)
    customer_client.post(claim_url(template.pk))
    customer_client.post(claim_url(template.pk))

    assert_error(customer_client.post(claim_url(template.pk)), 409, "LIMIT_REACHED")

    assert UserCoupon.objects.filter(user=customer).count() == 2
    # the refused claim took no stock
    assert CouponTemplate.objects.get(pk=template.pk).issued_quantity == 2


@pytest.mark.parametrize("status", [TemplateStatus.DRAFT, TemplateStatus.PENDING_REVIEW, TemplateStatus.REJECTED])
def test_a_template_never_approved_answers_as_an_unknown_one(customer_client, status):
    template = CouponTemplateFactory(status=status)

    unknown = customer_client.post(claim_url(template.pk + 1000))
    probed = customer_client.post(claim_url(template.pk))

    assert_error(probed, 404, "NOT_FOUND")
    assert probed.json()["error"]["details"] == {"template_id": template.pk}
    assert unknown.json()["error"]["code"] == probed.json()["error"]["code"]
    assert status not in probed.content.decode()
    assert UserCoupon.objects.count() == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"status": TemplateStatus.STOPPED},
        {"status": TemplateStatus.ENDED},
        {"visible_in_claim_center": False},
        {"issue_start_time": timezone.now() + timedelta(hours=1)},
        {
            "issue_end_time": timezone.now() - timedelta(seconds=1),
            "issue_start_time": timezone.now() - timedelta(days=1),
        },
    ],
)
def test_a_template_that_is_not_live_answers_not_claimable(customer_client, fields):
    template = CouponTemplateFactory(**fields)

    assert_error(customer_client.post(claim_url(template.pk)), 409, "NOT_CLAIMABLE")

    assert UserCoupon.objects.count() == 0
    assert CouponTemplate.objects.get(pk=template.pk).issued_quantity == 0


def make_member(user, **fields):
    MemberProfile.objects.filter(user=user).update(**fields)


@pytest.mark.parametrize(
    ("target", "profile", "tags", "allowed"),
    [
        ({"type": "ALL"}, {}, [], True),
        ({"type": "MEMBER_LEVELS", "levels": ["GOLD", "VIP"]}, {"level": "GOLD"}, [], True),
        ({"type": "MEMBER_LEVELS", "levels": ["GOLD", "VIP"]}, {"level": "NORMAL"}, [], False),
        ({"type": "TAGS", "tags": ["lunch"]}, {}, ["lunch", "spicy"], True),
        ({"type": "TAGS", "tags": ["lunch"]}, {}, ["dinner"], False),
        ({"type": "USER_TYPE", "user_type": "B"}, {"user_type": "B"}, [], True),
        ({"type": "USER_TYPE", "user_type": "B"}, {"user_type": "C"}, [], False),
        ({"type": "NEW_USER", "days": 7}, {"registered_at": timezone.now() - timedelta(days=6)}, [], True),
        ({"type": "NEW_USER", "days": 7}, {"registered_at": timezone.now() - timedelta(days=8)}, [], False),
    ],
)
def test_target_decides_who_may_claim(customer, customer_client, target, profile, tags, allowed):
    make_member(customer, **profile)
    for name in tags:
        customer.member.tags.add(MemberTag.objects.create(name=name))
    template = CouponTemplateFactory(target=target)

    response = customer_client.post(claim_url(template.pk))
    listed = [row["id"] for row in customer_client.get("/api/v1/claim-center/").json()["results"]]

    if allowed:
        assert response.status_code == 201
        assert listed == [template.pk]
    else:
        assert_error(response, 409, "NOT_ELIGIBLE")
        assert listed == []
        assert UserCoupon.objects.count() == 0


def test_a_tag_named_in_another_case_is_stored_as_the_tag_is_spelled_and_targets_its_members(
    customer, customer_client, operations_client
):
    customer.member.tags.add(MemberTag.objects.create(name="Lunch"))
    body = TemplateInputFactory(target={"type": "TAGS", "tags": ["lunch", "Night owls"]})

    created = operations_client.post("/api/v1/staff/templates/", body, format="json")

    assert created.status_code == 201, created.content
    template = CouponTemplate.objects.get(pk=created.json()["id"])
    assert template.target == {"type": "TAGS", "tags": ["Lunch", "Night owls"]}  # an unknown name as written
    CouponTemplate.objects.filter(pk=template.pk).update(status=TemplateStatus.APPROVED)
    assert customer_client.post(claim_url(template.pk)).status_code == 201


def test_a_user_without_a_profile_only_gets_templates_for_all():
    user = UserFactory(profile=False)
    client = client_for(user)
    for_all = CouponTemplateFactory(target={"type": "ALL"})
    for_gold = CouponTemplateFactory(target={"type": "MEMBER_LEVELS", "levels": ["GOLD"]})

    assert client.post(claim_url(for_all.pk)).status_code == 201
    assert_error(client.post(claim_url(for_gold.pk)), 409, "NOT_ELIGIBLE")


# bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize("template_id", [0, 999_999_999, 2**63 + 5, 10**30])
def test_an_unknown_template_is_a_404(customer_client, template_id):
    assert_error(customer_client.post(claim_url(template_id)), 404, "NOT_FOUND")
    assert UserCoupon.objects.count() == 0


@pytest.mark.parametrize(
    "path", ["/api/v1/templates/abc/claim", "/api/v1/templates/-1/claim", "/api/v1/templates/1.5/claim"]
)
def test_a_malformed_template_id_is_a_404(customer_client, path):
    assert customer_client.post(path).status_code == 404


def test_a_malformed_json_body_is_a_400_and_claims_nothing(customer_client):
    template = CouponTemplateFactory()

    response = customer_client.post(claim_url(template.pk), data="{not json", content_type="application/json")

    assert_error(response, 400, "MALFORMED_REQUEST")
    assert UserCoupon.objects.count() == 0


def test_claiming_needs_a_token(api_client):
    template = CouponTemplateFactory()

    assert_error(api_client.post(claim_url(template.pk)), 401, "NOT_AUTHENTICATED")
    assert_error(api_client.get("/api/v1/claim-center/"), 401, "NOT_AUTHENTICATED")


def test_get_is_not_allowed_on_claim(customer_client):
    template = CouponTemplateFactory()

    assert customer_client.get(claim_url(template.pk)).status_code == 405


# claim center -----------------------------------------------------------------------------------


def test_the_claim_center_lists_live_templates_with_what_the_customer_may_do(customer, customer_client):
    now = timezone.now()
    limited = CouponTemplateFactory(total_quantity=10, issued_quantity=4, per_user_limit=1, short_name="满50减5")
    unlimited = CouponTemplateFactory(total_quantity=-1, per_user_limit=0)
    CouponTemplateFactory(total_quantity=5, issued_quantity=5)  # sold out
    CouponTemplateFactory(status=TemplateStatus.DRAFT)
    CouponTemplateFactory(visible_in_claim_center=False)
    CouponTemplateFactory(issue_start_time=now + timedelta(days=1))
    CouponTemplateFactory(issue_start_time=now - timedelta(days=2), issue_end_time=now - timedelta(days=1))
    customer_client.post(claim_url(limited.pk))

    body = customer_client.get("/api/v1/claim-center/").json()

    assert set(body) == {"count", "next", "previous", "results"}
    rows = {row["id"]: row for row in body["results"]}
    assert set(rows) == {limited.pk, unlimited.pk}
    assert rows[limited.pk] | {"usage_rules": None} == {
        "id": limited.pk,
        "name": limited.name,
        "short_name": "满50减5",
        "type": "CASH_VOUCHER",
        "value": {"amount": "10.00"},
        "usage_rules": None,
        "remaining": 5,
        "claimed_by_me": 1,
        "per_user_limit": 1,
        "can_claim": False,
        "issue_end_time": None,
        "summary": (
            "¥10 off orders of ¥100 or more · valid for 7 days after claiming · limit 1 per person · 10 in total"
        ),
    }
    assert rows[limited.pk]["usage_rules"] == limited.usage_rules
    assert (rows[unlimited.pk]["remaining"], rows[unlimited.pk]["claimed_by_me"]) == (None, 0)
    assert rows[unlimited.pk]["can_claim"] is True


def test_claimed_by_me_counts_only_my_coupons(customer_client):
    template = CouponTemplateFactory(per_user_limit=3)
    UserCouponFactory(template=template)  # somebody else's

    customer_client.post(claim_url(template.pk))
    row = customer_client.get("/api/v1/claim-center/").json()["results"][0]

    assert (row["claimed_by_me"], row["can_claim"]) == (1, True)


def test_the_claim_center_is_paginated(customer_client):
    for _ in range(3):
        CouponTemplateFactory()

    body = customer_client.get("/api/v1/claim-center/?page_size=2").json()

    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"]


def _center(client, query: str = "") -> dict[int, dict]:
    return {row["id"]: row for row in client.get(f"/api/v1/claim-center/{query}").json()["results"]}


def test_a_template_stopped_after_the_claim_center_read_it_is_gone_at_once(customer_client, operations_user):
    kept, stopped = CouponTemplateFactory(), CouponTemplateFactory()
    assert set(_center(customer_client)) == {kept.pk, stopped.pk}  # both definitions are cached now

    services.template_stop(template=stopped, actor=operations_user)
    assert set(_center(customer_client)) == {kept.pk}

    CouponTemplate.objects.filter(pk=kept.pk).update(status=TemplateStatus.STOPPED)  # no save, no new stamp
    assert _center(customer_client) == {}


def test_remaining_and_claimed_by_me_count_claims_made_after_the_claim_center_read(customer, customer_client):
    template = CouponTemplateFactory(total_quantity=10, per_user_limit=2)
    assert _center(customer_client)[template.pk]["remaining"] == 10

    assert client_for(UserFactory()).post(claim_url(template.pk)).status_code == 201
    row = _center(customer_client)[template.pk]
    assert (row["remaining"], row["claimed_by_me"], row["can_claim"]) == (9, 0, True)

    assert customer_client.post(claim_url(template.pk)).status_code == 201
    assert customer_client.post(claim_url(template.pk)).status_code == 201
    row = _center(customer_client)[template.pk]
    assert (row["remaining"], row["claimed_by_me"], row["can_claim"]) == (7, 2, False)


def test_a_template_approved_after_the_claim_center_read_appears_first(customer_client, finance_user):
    older = CouponTemplateFactory()
    assert list(_center(customer_client)) == [older.pk]

    newer = CouponTemplateFactory(status=TemplateStatus.PENDING_REVIEW, name="Lunch")
    services.template_approve(template=newer, actor=finance_user)

    assert list(_center(customer_client)) == [newer.pk, older.pk]
    assert _center(customer_client)[newer.pk]["name"] == "Lunch"


def test_a_definition_is_read_once_and_then_only_the_live_columns(customer_client):
    CouponTemplateFactory()
    _center(customer_client)

    with CaptureQueriesContext(connection) as queries:
        _center(customer_client)

    template_reads = [q["sql"] for q in queries.captured_queries if "coupons_coupontemplate" in q["sql"]]
    assert len(template_reads) == 1
    assert "`usage_rules`" not in template_reads[0] and "`target`" not in template_reads[0]


def test_the_definitions_kept_are_bounded_and_the_answers_unchanged(customer, customer_client, monkeypatch):
    monkeypatch.setattr(selectors, "DEFINITION_CACHE_SIZE", 3)
    selectors.forget_definitions()
    templates = [CouponTemplateFactory(total_quantity=10 + n) for n in range(5)]
    customer_client.post(claim_url(templates[1].pk))

    for _ in range(2):
        rows = _center(customer_client)

        assert len(selectors._definitions) <= 3
        assert list(rows) == [t.pk for t in reversed(templates)]
        assert [rows[t.pk]["remaining"] for t in templates] == [10, 10, 12, 13, 14]
        assert [rows[t.pk]["claimed_by_me"] for t in templates] == [0, 1, 0, 0, 0]


def test_every_page_of_the_claim_center_counts_the_customers_claims(customer, customer_client):
    templates = [CouponTemplateFactory(per_user_limit=1) for _ in range(5)]
    customer_client.post(claim_url(templates[0].pk))  # the oldest: on the last page

    pages = [_center(customer_client, f"?page_size=2&page={n}") for n in (1, 2, 3)]

    assert [list(page) for page in pages] == [[t.pk for t in reversed(templates)][i : i + 2] for i in (0, 2, 4)]
    assert [(row["claimed_by_me"], row["can_claim"]) for row in pages[2].values()] == [(1, False)]
    assert all(row["can_claim"] for page in pages[:2] for row in page.values())


def test_a_code_collision_is_retried_and_never_surfaced(customer_client, monkeypatch):
    template = CouponTemplateFactory(per_user_limit=0)
    taken = UserCouponFactory(template=template).code
    codes = iter([taken, taken, "070126010100000042"])
    monkeypatch.setattr("coupons.ledger.issuing.coupon_code", lambda template, issued_at: next(codes))

    response = customer_client.post(claim_url(template.pk))

    assert response.status_code == 201
    assert response.json()["code"] == "070126010100000042"
    assert CouponTemplate.objects.get(pk=template.pk).issued_quantity == 1
