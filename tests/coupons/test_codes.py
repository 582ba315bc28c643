"""Redemption codes: batches, CSV, redeeming, one answer for bad codes, throttling."""

import csv
import io
import re
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core.audit import audit_trail_for
from core.models import ThrottleCounter
from coupons.exports import business_time
from coupons.models import CouponTemplate, RedemptionCode, RedemptionCodeBatch, TemplateStatus, UserCoupon
from coupons.services import codes
from coupons.services.codes import ALPHABET, code_batch_create, code_redeem, normalise_code
from tests.conftest import client_for
from tests.factories import CouponTemplateFactory, UserFactory
from tests.marketing.distribution import clean_redis, restore_roles_after_module, run_concurrently  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_redis")]

BATCHES = "/api/v1/staff/code-batches/"
REDEEM = "/api/v1/redeem-code"


def make_batch(quantity=3, **template_fields) -> RedemptionCodeBatch:
    from tests.factories import StaffFactory

    template = CouponTemplateFactory(**template_fields)
    return code_batch_create(template=template, name="launch", quantity=quantity, actor=StaffFactory())


def codes_of(batch) -> list[str]:
    return list(batch.codes.order_by("pk").values_list("code", flat=True))


# batches ----------------------------------------------------------------------------------------


def test_staff_generate_a_batch_of_unique_unguessable_codes(operations_client, operations_user):
    template = CouponTemplateFactory(visible_in_claim_center=False, total_quantity=1000)

    response = operations_client.post(
        BATCHES, {"template_id": template.pk, "name": "Weibo", "quantity": 250}, format="json"
    )

    assert response.status_code == 201, response.content
    batch = RedemptionCodeBatch.objects.get()
    assert response.json()["id"] == batch.pk
    assert (batch.quantity, batch.template_id, batch.created_by) == (250, template.pk, operations_user)
    codes = codes_of(batch)
    assert len(codes) == len(set(codes)) == 250
    assert all(re.fullmatch(f"[{ALPHABET}]{{16}}", c) for c in codes)
    assert [a.action for a in audit_trail_for(batch)] == ["create"]


def test_codes_held_by_another_batch_are_made_again(monkeypatch):
    first = make_batch(quantity=3)
    taken = codes_of(first)
    fresh = iter(["A" * 16, "B" * 16, "C" * 16, "D" * 16, "E" * 16])
    made = iter([*taken, "A" * 16, taken[0], *fresh])  # collisions with the first batch, and within the second
    monkeypatch.setattr(codes, "new_code", lambda: next(made))

    second = code_batch_create(template=first.template, name="again", quantity=5, actor=first.created_by)

    assert sorted(codes_of(second)) == ["A" * 16, "B" * 16, "C" * 16, "D" * 16, "E" * 16]
    assert codes_of(first) == taken


def test_a_batch_larger_than_one_insert_gets_every_code_once():
    batch = make_batch(quantity=12_001, total_quantity=-1)

    found = codes_of(batch)
    assert len(found) == len(set(found)) == 12_001 == RedemptionCode.objects.filter(batch=batch).count()


def test_every_character_of_the_alphabet_is_drawn_about_equally():
    drawn = Counter("".join(codes.new_code() for _ in range(4_000)))  # 64,000 characters, 2,000 expected each

    assert set(drawn) == set(ALPHABET)
    assert all(1_700 < n < 2_300 for n in drawn.values()), drawn


def test_the_batch_list_shows_how_many_were_redeemed(operations_client):
    batch = make_batch(quantity=2, per_user_limit=0)
    code_redeem(user=UserFactory(), code=codes_of(batch)[0])

    body = operations_client.get(BATCHES).json()

    assert set(body) == {"count", "next", "previous", "results"}
    row = body["results"][0]
    assert (row["id"], row["quantity"], row["redeemed"]) == (batch.pk, 2, 1)
    assert row["csv_url"] == f"/api/v1/staff/code-batches/{batch.pk}/codes.csv"


def test_the_codes_download_as_csv(operations_client):
    batch = make_batch(quantity=3, per_user_limit=0)
    user = UserFactory()
    code_redeem(user=user, code=codes_of(batch)[1])

    response = operations_client.get(f"/api/v1/staff/code-batches/{batch.pk}/codes.csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["redemption code", "redeemed at", "customer"]
    assert [r[0] for r in rows[1:]] == codes_of(batch)
    redeemed = RedemptionCode.objects.get(code=rows[2][0]).redeemed_at
    assert rows[2][1:] == [business_time(redeemed), user.username]  # as the business reads it
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rows[2][1])
    assert rows[1][1:] == ["", ""]


@pytest.mark.parametrize("username", ["+8613800000000", "-x", "@home", "=1+1"])
def test_a_customer_name_a_spreadsheet_would_run_is_written_as_text(operations_client, username):
    batch = make_batch(quantity=1, per_user_limit=0)
    customer = UserFactory(username=username)
    code_redeem(user=customer, code=codes_of(batch)[0])

    response = operations_client.get(f"/api/v1/staff/code-batches/{batch.pk}/codes.csv")

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[1][2] == "'" + username  # shown as text, never evaluated


def test_the_codes_csv_reads_in_the_readers_language(operations_client):
    batch = make_batch(quantity=1)

    response = operations_client.get(f"/api/v1/staff/code-batches/{batch.pk}/codes.csv", HTTP_ACCEPT_LANGUAGE="zh-hans")

    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")  # spreadsheet programs then read it as UTF-8
    assert next(csv.reader(io.StringIO(text.lstrip("\ufeff")))) == ["兑换码", "兑换时间", "顾客"]


def test_the_csv_of_an_unknown_batch_is_a_404(operations_client):
    assert operations_client.get("/api/v1/staff/code-batches/999999/codes.csv").status_code == 404


@pytest.mark.parametrize("status", [TemplateStatus.DRAFT, TemplateStatus.PENDING_REVIEW, TemplateStatus.STOPPED])
def test_codes_only_for_an_approved_template(operations_client, status):
    template = CouponTemplateFactory(status=status)

    response = operations_client.post(BATCHES, {"template_id": template.pk, "name": "x", "quantity": 5}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "INVALID_STATE"
    assert RedemptionCode.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "quantity": 5},
        {"template_id": "abc", "name": "x", "quantity": 5},
        {"template_id": 1, "name": "x", "quantity": 0},
        {"template_id": 1, "name": "x", "quantity": -3},
        {"template_id": 1, "name": "x", "quantity": 10**12},
        {"template_id": 1, "name": "x", "quantity": "many"},
        {"template_id": 1, "name": "", "quantity": 5},
        {"template_id": 1, "name": "x", "quantity": 5, "expires_at": "yesterday"},
        {"template_id": 10**30, "name": "x", "quantity": 5},
    ],
)
def test_bad_batch_input_is_a_400(operations_client, body):
    CouponTemplateFactory()

    response = operations_client.post(BATCHES, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert RedemptionCodeBatch.objects.count() == 0


def test_codes_that_expire_in_the_past_are_refused(operations_client):
    template = CouponTemplateFactory()
    past = (timezone.now() - timedelta(hours=1)).isoformat()

    response = operations_client.post(
        BATCHES, {"template_id": template.pk, "name": "x", "quantity": 5, "expires_at": past}, format="json"
    )

    assert response.status_code == 400
    assert "expires_at" in response.json()["error"]["details"]


def test_codes_cannot_outlive_their_templates_issuing(operations_client):
    ends = timezone.now() + timedelta(hours=1)
    template = CouponTemplateFactory(issue_end_time=ends)
    later = (ends + timedelta(days=30)).isoformat()

    response = operations_client.post(
        BATCHES, {"template_id": template.pk, "name": "x", "quantity": 5, "expires_at": later}, format="json"
    )

    assert response.status_code == 400
    (message,) = response.json()["error"]["details"]["expires_at"]
    assert "when the template stops issuing coupons" in message
    assert RedemptionCodeBatch.objects.count() == 0


@pytest.mark.parametrize("window", ["claim window", "fixed validity"])
def test_codes_without_an_expiry_expire_when_the_template_stops_issuing(operations_client, window):
    ends = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    fields = {"issue_end_time": ends + timedelta(days=1), "validity_type": "FIXED_DATE", "valid_until": ends}
    if window == "claim window":
        fields = {"issue_end_time": ends}
    template = CouponTemplateFactory(**fields)

    response = operations_client.post(BATCHES, {"template_id": template.pk, "name": "x", "quantity": 5}, format="json")

    assert response.status_code == 201
    assert RedemptionCodeBatch.objects.get().expires_at == ends


def test_codes_of_a_template_without_an_end_may_never_expire(operations_client):
    template = CouponTemplateFactory(issue_end_time=None)

    response = operations_client.post(BATCHES, {"template_id": template.pk, "name": "x", "quantity": 5}, format="json")

    assert response.status_code == 201
    assert RedemptionCodeBatch.objects.get().expires_at is None


def test_the_admin_form_refuses_codes_that_outlive_the_template(operations_user):
    ends = timezone.now() + timedelta(hours=1)
    template = CouponTemplateFactory(issue_end_time=ends)
    later = timezone.localtime(ends + timedelta(days=30))
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(operations_user)

    page = client.post(
        "/admin/coupons/redemptioncodebatch/add/",
        {
            "name": "Weibo",
            "template": template.pk,
            "quantity": 5,
            "expires_at_0": later.strftime("%Y-%m-%d"),
            "expires_at_1": later.strftime("%H:%M:%S"),
        },
    )

    assert page.status_code == 200
    assert "when the template stops issuing coupons" in str(page.context["adminform"].form.errors["expires_at"])
    assert RedemptionCodeBatch.objects.count() == 0


def test_an_unknown_template_is_a_404(operations_client):
    response = operations_client.post(BATCHES, {"template_id": 987654, "name": "x", "quantity": 5}, format="json")

    assert response.status_code == 404


def test_finance_may_list_but_not_generate(finance_client):
    template = CouponTemplateFactory()

    assert finance_client.get(BATCHES).status_code == 200
    response = finance_client.post(BATCHES, {"template_id": template.pk, "name": "x", "quantity": 5}, format="json")

    assert response.status_code == 403
    assert RedemptionCodeBatch.objects.count() == 0


def test_customers_cannot_use_the_staff_endpoints(customer_client):
    batch = make_batch(quantity=1)

    assert customer_client.get(BATCHES).status_code == 403
    assert customer_client.get(f"/api/v1/staff/code-batches/{batch.pk}/codes.csv").status_code == 403
    assert (
        customer_client.post(BATCHES, {"template_id": batch.template_id, "name": "x", "quantity": 1}).status_code == 403
    )


# redeeming --------------------------------------------------------------------------------------


def test_a_customer_redeems_a_code_for_a_coupon(customer, customer_client):
    batch = make_batch(quantity=2, visible_in_claim_center=False, target={"type": "MEMBER_LEVELS", "levels": ["VIP"]})
    code = codes_of(batch)[0]

    response = customer_client.post(REDEEM, {"code": code}, format="json")

    assert response.status_code == 201, response.content
    coupon = UserCoupon.objects.get()
    assert response.json()["id"] == coupon.pk
    assert (coupon.user, coupon.source, coupon.source_ref) == (customer, "REDEEM_CODE", str(batch.pk))
    row = RedemptionCode.objects.get(code=code)
    assert (row.redeemed_by, row.coupon) == (customer, coupon)
    assert CouponTemplate.objects.get(pk=batch.template_id).issued_quantity == 1


def test_a_code_may_be_typed_loosely():
    assert normalise_code(" abcd-efgh-jkmn-pqrs ") == "ABCDEFGHJKMNPQRS"
    assert normalise_code("o0il-1111-2222-3333") == "0011111122223333"
    assert normalise_code("short") is None
    assert normalise_code("UUUUUUUUUUUUUUUU") is None


def test_a_code_typed_in_full_width_or_with_other_dashes_is_read():
    assert normalise_code("ＡＢＣＤ ＥＦＧＨ ＪＫＭＮ ＰＱＲＳ") == "ABCDEFGHJKMNPQRS"  # a full-width input method
    assert normalise_code("ａｂｃｄ－ｅｆｇｈ－ｊｋｍｎ－ｐｑｒｓ") == "ABCDEFGHJKMNPQRS"
    assert normalise_code("ABCD\u3000EFGH\u2014JKMN\u2212PQRS") == "ABCDEFGHJKMNPQRS"  # ideographic space, dashes
    assert normalise_code("ABCD\u30fcEFGH\u2010JKMN\u2013PQRS") == "ABCDEFGHJKMNPQRS"
    assert normalise_code("ＡＢＣＤ－ＵＵＵＵ－ＵＵＵＵ－ＵＵＵＵ") is None  # still Crockford's alphabet only


def test_unknown_used_and_expired_codes_get_one_answer(customer_client):
    batch = make_batch(quantity=2, per_user_limit=0)
    used, fresh = codes_of(batch)
    code_redeem(user=UserFactory(), code=used)
    expired_batch = make_batch(quantity=1)
    RedemptionCodeBatch.objects.filter(pk=expired_batch.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    answers = [
        customer_client.post(REDEEM, {"code": code}, format="json")
        for code in (used, "ZZZZZZZZZZZZZZZZ", codes_of(expired_batch)[0], "not a code!")
    ]

    assert {a.status_code for a in answers} == {404}
    assert all(a.json() == answers[0].json() for a in answers)
    assert answers[0].json()["error"]["code"] == "INVALID_CODE"
    assert RedemptionCode.objects.get(code=fresh).redeemed_at is None
    assert UserCoupon.objects.count() == 1


def test_redeeming_respects_the_per_user_limit(customer, customer_client):
    batch = make_batch(quantity=2, per_user_limit=1)
    first, second = codes_of(batch)
    customer_client.post(REDEEM, {"code": first}, format="json")

    response = customer_client.post(REDEEM, {"code": second}, format="json")

    assert response.status_code == 409 and response.json()["error"]["code"] == "LIMIT_REACHED"
    assert RedemptionCode.objects.get(code=second).redeemed_at is None  # still usable by someone else
    assert client_for(UserFactory()).post(REDEEM, {"code": second}, format="json").status_code == 201


def test_redeeming_respects_stock(customer_client):
    batch = make_batch(quantity=2, total_quantity=5, per_user_limit=0)
    CouponTemplate.objects.filter(pk=batch.template_id).update(issued_quantity=5)

    response = customer_client.post(REDEEM, {"code": codes_of(batch)[0]}, format="json")

    assert response.status_code == 409 and response.json()["error"]["code"] == "SOLD_OUT"
    assert RedemptionCode.objects.filter(redeemed_at__isnull=False).count() == 0


@pytest.mark.parametrize(
    "body", [{}, {"code": ""}, {"code": 123456789012}, {"code": ["A" * 16]}, {"code": "A" * 65}, {"code": None}]
)
def test_bad_redeem_input_is_a_400(customer_client, body):
    response = customer_client.post(REDEEM, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_a_malformed_redeem_body_is_a_400(customer_client):
    response = customer_client.post(REDEEM, data='{"code": ', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MALFORMED_REQUEST"


# throttling -------------------------------------------------------------------------------------


def set_rates(settings, user: str, ip: str) -> None:
    """Limits per minute; the attempts of a test then fall in one minute's window, not across two."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"redeem_user": user, "redeem_ip": ip},
    }
    into_window = time.time() % 60
    if into_window > 50:  # counters are kept in fixed windows: start in the next one
        time.sleep(60 - into_window + 0.1)


@pytest.mark.parametrize("with_redis", [True, False])
def test_wrong_guesses_are_refused_past_the_limit_even_with_a_good_code(settings, customer_client, with_redis):
    settings.REDIS_URL = settings.REDIS_URL if with_redis else ""
    set_rates(settings, "3/min", "100/min")
    batch = make_batch(quantity=1)

    wrong = [customer_client.post(REDEEM, {"code": f"WRONG{i:011d}"}, format="json").status_code for i in range(3)]
    good = customer_client.post(REDEEM, {"code": codes_of(batch)[0]}, format="json")

    assert wrong == [404, 404, 404]
    assert good.status_code == 429
    assert good.json()["error"]["code"] == "THROTTLED"
    assert 1 <= int(good["Retry-After"]) <= 60  # the rest of the minute's window
    assert UserCoupon.objects.count() == 0


def test_a_successful_redemption_does_not_count(settings, customer_client):
    set_rates(settings, "2/min", "100/min")
    batch = make_batch(quantity=3, per_user_limit=0)

    statuses = [customer_client.post(REDEEM, {"code": c}, format="json").status_code for c in codes_of(batch)]
    statuses.append(customer_client.post(REDEEM, {"code": "WRONGWRONGWRONG1"}, format="json").status_code)

    assert statuses == [201, 201, 201, 404]


def test_the_ip_limit_holds_across_customers(settings):
    set_rates(settings, "100/min", "4/min")
    clients = [client_for(UserFactory()) for _ in range(3)]

    statuses = [clients[i % 3].post(REDEEM, {"code": f"WRONG{i:011d}"}, format="json").status_code for i in range(6)]

    assert statuses == [404, 404, 404, 404, 429, 429]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("with_redis", [True, False])
def test_the_limit_holds_under_concurrent_wrong_guesses(settings, with_redis):
    settings.REDIS_URL = settings.REDIS_URL if with_redis else ""
    set_rates(settings, "10/min", "1000/min")
    user = UserFactory()

    def guess(i):
        try:
            code_redeem(user=user, code=f"WRONG{i:011d}", ip="10.0.0.9")
        except Exception as exc:  # noqa: BLE001
            return getattr(exc, "status_code", exc)

    results = run_concurrently(guess, [(i,) for i in range(40)])

    assert sorted(results) == [404] * 10 + [429] * 30
    if not with_redis:
        assert ThrottleCounter.objects.get(key=f"redeem:user:{user.pk}").count == 10


def test_a_batch_larger_than_the_remaining_stock_is_a_400_on_quantity(operations_client):
    template = CouponTemplateFactory(total_quantity=100, issued_quantity=40)

    refused = operations_client.post(
        BATCHES, {"template_id": template.pk, "name": "Weibo", "quantity": 61}, format="json"
    )
    accepted = operations_client.post(
        BATCHES, {"template_id": template.pk, "name": "Weibo", "quantity": 60}, format="json"
    )

    assert refused.status_code == 400
    assert "quantity" in refused.json()["error"]["details"]
    assert accepted.status_code == 201, accepted.content
    assert RedemptionCodeBatch.objects.get().quantity == 60


def test_codes_not_yet_redeemed_hold_their_share_of_the_stock(operations_client, operations_user):
    # given: 60 left, 50 codes out, of which 5 redeemed (5 more issued) and 10 in a batch that expired
    template = CouponTemplateFactory(total_quantity=100, issued_quantity=40)
    out = code_batch_create(template=template, name="Weibo", quantity=40, actor=operations_user)
    gone = code_batch_create(template=template, name="Expo", quantity=10, actor=operations_user)
    RedemptionCodeBatch.objects.filter(pk=gone.pk).update(expires_at=timezone.now() - timedelta(days=1))
    RedemptionCode.objects.filter(pk__in=list(out.codes.values_list("pk", flat=True)[:5])).update(
        redeemed_at=timezone.now()
    )
    CouponTemplate.objects.filter(pk=template.pk).update(issued_quantity=45)
    assert codes.codes_outstanding(template) == 35  # 55 left: 20 more codes fit

    refused = operations_client.post(
        BATCHES, {"template_id": template.pk, "name": "More", "quantity": 21}, format="json"
    )
    accepted = operations_client.post(
        BATCHES, {"template_id": template.pk, "name": "More", "quantity": 20}, format="json"
    )

    assert refused.status_code == 400
    assert refused.json()["error"]["details"]["quantity"] == [
        "The batch (21 codes) is larger than the remaining stock (55) less the 35 codes of earlier batches"
        " not yet redeemed."
    ]
    assert accepted.status_code == 201, accepted.content
    assert codes.codes_outstanding(template) == 55
