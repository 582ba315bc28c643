"""Activities: publishing rules, the customer list, and claiming a bundle all or nothing."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.audit import audit_trail_for
from core.errors import ApplicationError, InvalidTransition, PermissionDeniedError
from coupons.models import CouponTemplate, TemplateStatus, UserCoupon, ValidityType
from marketing.models import Activity, ActivityItem, ActivityParticipation, ActivityStatus
from marketing.services.activities import activity_cancel, activity_claim, activity_end, activity_publish
from tests.conftest import client_for
from tests.factories import CouponTemplateFactory, UserFactory
from tests.marketing.distribution import clean_redis, restore_roles_after_module, run_concurrently  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_redis")]


def make_activity(*templates_and_quantities, status=ActivityStatus.PUBLISHED, **fields) -> Activity:
    now = timezone.now()
    defaults = {
        "title": "Spring festival",
        "start_time": now - timedelta(hours=1),
        "end_time": now + timedelta(days=1),
        "status": status,
        "per_user_limit": 1,
    }
    activity = Activity.objects.create(**(defaults | fields))
    for template, quantity in templates_and_quantities:
        ActivityItem.objects.create(activity=activity, template=template, quantity=quantity)
    return activity


def claim_url(activity) -> str:
    return f"/api/v1/activities/{activity.pk}/claim"


# publishing -------------------------------------------------------------------------------------


def test_publishing_needs_every_template_approved(operations_user):
    draft_template = CouponTemplateFactory(status=TemplateStatus.DRAFT)
    activity = make_activity((CouponTemplateFactory(), 1), (draft_template, 1), status=ActivityStatus.DRAFT)

    with pytest.raises(InvalidTransition) as refused:
        activity_publish(activity=activity, actor=operations_user)

    assert refused.value.details["template_ids"] == [draft_template.pk]
    assert Activity.objects.get(pk=activity.pk).status == ActivityStatus.DRAFT


def test_publishing_is_recorded(operations_user):
    activity = make_activity((CouponTemplateFactory(per_user_limit=2), 2), status=ActivityStatus.DRAFT)

    activity_publish(activity=activity, actor=operations_user)

    assert Activity.objects.get(pk=activity.pk).status == ActivityStatus.PUBLISHED
    (record,) = audit_trail_for(activity)
    assert (record.action, record.actor, record.from_status, record.to_status) == (
        "publish",
        operations_user,
        "DRAFT",
        "PUBLISHED",
    )


@pytest.mark.parametrize(
    ("activity_limit", "template_limit", "quantity", "publishes"),
    [
        (1, 1, 1, True),
        (3, 3, 1, True),
        (2, 4, 2, True),
        (3, 0, 5, True),  # an unlimited template
        (0, 0, 1, True),  # unlimited claims of unlimited templates
        (3, 1, 1, False),  # the activity promises three claims, the template allows one coupon
        (2, 3, 2, False),  # two claims of two coupons need four
        (0, 5, 1, False),  # unlimited claims of a limited template
        (1, 1, 2, False),  # not even one claim fits
    ],
)
def test_an_activity_promises_no_more_claims_than_its_templates_allow(
    operations_user, activity_limit, template_limit, quantity, publishes
):
    template = CouponTemplateFactory(per_user_limit=template_limit)
    other = CouponTemplateFactory(per_user_limit=0)
    activity = make_activity(
        (template, quantity), (other, 1), status=ActivityStatus.DRAFT, per_user_limit=activity_limit
    )

    if publishes:
        activity_publish(activity=activity, actor=operations_user)
        assert Activity.objects.get(pk=activity.pk).status == ActivityStatus.PUBLISHED
        return
    with pytest.raises(InvalidTransition) as refused:
        activity_publish(activity=activity, actor=operations_user)
    assert refused.value.details["template_ids"] == [template.pk]
    assert "per_user_limit" in refused.value.details
    assert Activity.objects.get(pk=activity.pk).status == ActivityStatus.DRAFT


def test_every_claim_an_activity_promises_succeeds(operations_user):
    template = CouponTemplateFactory(per_user_limit=4)
    activity = make_activity((template, 2), status=ActivityStatus.DRAFT, per_user_limit=2)
    activity_publish(activity=activity, actor=operations_user)
    client = client_for(UserFactory())

    answers = [client.post(claim_url(activity)).status_code for _ in range(3)]

    assert answers[:2] == [201, 201] and answers[2] == 409


def test_an_empty_or_finished_activity_cannot_be_published(operations_user):
    empty = make_activity(status=ActivityStatus.DRAFT)
    past = make_activity(
        (CouponTemplateFactory(), 1),
        status=ActivityStatus.DRAFT,
        start_time=timezone.now() - timedelta(days=3),
        end_time=timezone.now() - timedelta(days=1),
    )

    for activity in (empty, past):
        with pytest.raises(InvalidTransition):
            activity_publish(activity=activity, actor=operations_user)


DAY = timedelta(days=1)
FIXED = {"validity_type": ValidityType.FIXED_DATE, "valid_days_after_issue": None}


# (activity window in days from now, template fields relative to now, the reason code)
UNCLAIMABLE_WINDOWS = [
    ("opens after the activity ends", (-1, 2), {"issue_start_time": 3 * DAY}, "NOT_STARTED"),
    ("opens half-way", (1, 4), {"issue_start_time": 2 * DAY}, "NOT_STARTED"),
    ("closes before the activity starts", (7, 8), {"issue_end_time": 1 * DAY}, "ENDED"),
    ("closes half-way", (-1, 4), {"issue_end_time": 2 * DAY}, "ENDED"),
    ("fixed validity ends before", (5, 9), {**FIXED, "valid_from": -DAY, "valid_until": 3 * DAY}, "VALIDITY_OVER"),
    ("fixed validity ends half-way", (-1, 9), {**FIXED, "valid_from": -DAY, "valid_until": 3 * DAY}, "VALIDITY_OVER"),
]


def at(now, fields: dict) -> dict:
    return {name: now + value if isinstance(value, timedelta) else value for name, value in fields.items()}


@pytest.mark.parametrize(
    ("window", "fields", "reason"), [case[1:] for case in UNCLAIMABLE_WINDOWS], ids=[c[0] for c in UNCLAIMABLE_WINDOWS]
)
def test_publishing_needs_every_template_claimable_for_the_whole_activity(
    operations_user, customer_client, window, fields, reason
):
    # given an activity with one template that issues throughout and one that does not
    now = timezone.now()
    good, bad = CouponTemplateFactory(), CouponTemplateFactory(name="午市满50减8", **at(now, fields))
    activity = make_activity(
        (good, 1),
        (bad, 1),
        status=ActivityStatus.DRAFT,
        start_time=now + window[0] * DAY,
        end_time=now + window[1] * DAY,
    )
    bad_item = activity.items.get(template=bad)

    # when
    with pytest.raises(InvalidTransition) as refused:
        activity_publish(activity=activity, actor=operations_user)

    # then
    assert f"午市满50减8 (#{bad.pk})" in refused.value.message
    assert refused.value.details == {"template_ids": [bad.pk], "items": {str(bad_item.pk): reason}}
    assert Activity.objects.get(pk=activity.pk).status == ActivityStatus.DRAFT
    assert customer_client.get("/api/v1/activities/").json()["count"] == 0


def test_a_template_whose_window_just_covers_the_activity_is_published(operations_user):
    now = timezone.now()
    start, end = now - DAY, now + 3 * DAY
    exact = CouponTemplateFactory(
        issue_start_time=start, issue_end_time=end, **FIXED, valid_from=start, valid_until=end
    )
    # the activity started yesterday: a window that opened since then issues for the rest of it
    opened_since = CouponTemplateFactory(issue_start_time=now - timedelta(hours=1))
    activity = make_activity((exact, 1), (opened_since, 1), status=ActivityStatus.DRAFT, start_time=start, end_time=end)

    activity_publish(activity=activity, actor=operations_user)

    assert Activity.objects.get(pk=activity.pk).status == ActivityStatus.PUBLISHED


def test_publishing_needs_the_permission(finance_user):
    activity = make_activity((CouponTemplateFactory(), 1), status=ActivityStatus.DRAFT)

    with pytest.raises(PermissionDeniedError):
        activity_publish(activity=activity, actor=finance_user)


def test_cancel_and_end_follow_the_transition_map(operations_user):
    published = make_activity((CouponTemplateFactory(), 1))
    activity_cancel(activity=published, actor=operations_user, remark="wrong banner")

    assert Activity.objects.get(pk=published.pk).status == ActivityStatus.CANCELLED
    with pytest.raises(InvalidTransition):
        activity_publish(activity=published, actor=operations_user)
    with pytest.raises(InvalidTransition):
        activity_end(activity=published)
    running = make_activity((CouponTemplateFactory(), 1))
    assert activity_end(activity=running).status == ActivityStatus.ENDED


# listing ----------------------------------------------------------------------------------------


def test_customers_see_published_current_activities_for_their_channel(customer_client):
    template = CouponTemplateFactory(short_name="满30减3")
    everywhere = make_activity((template, 2), channel="")
    app_only = make_activity((template, 1), channel="APP")
    make_activity((template, 1), channel="WEB")
    make_activity((template, 1), status=ActivityStatus.DRAFT)
    make_activity((template, 1), status=ActivityStatus.CANCELLED)
    make_activity((template, 1), start_time=timezone.now() + timedelta(hours=1))

    everything = customer_client.get("/api/v1/activities/").json()
    on_app = customer_client.get("/api/v1/activities/", {"channel": "APP"}).json()

    assert set(everything) == {"count", "next", "previous", "results"}
    assert everything["count"] == 3
    assert {row["id"] for row in on_app["results"]} == {everywhere.pk, app_only.pk}
    row = next(r for r in on_app["results"] if r["id"] == everywhere.pk)
    assert row["items"] == [
        {
            "template_id": template.pk,
            "name": template.name,
            "short_name": "满30减3",
            "type": "CASH_VOUCHER",
            "value": {"amount": "10.00"},
            "quantity": 2,
        }
    ]


def test_an_activitys_picture_is_listed_by_its_absolute_address(customer_client):
    make_activity((CouponTemplateFactory(), 1), image="activities/banner.png")

    (row,) = customer_client.get("/api/v1/activities/").json()["results"]

    assert row["image"] == "http://testserver/media/activities/banner.png"


def test_an_activity_a_template_can_no_longer_fill_is_no_longer_listed(customer_client):
    # given: stock for one more coupon of a template; one activity needs one, another two, a third none
    nearly_gone = CouponTemplateFactory(total_quantity=10, issued_quantity=9, per_user_limit=0)
    plenty = CouponTemplateFactory(total_quantity=10, issued_quantity=0, per_user_limit=0)
    fits = make_activity((nearly_gone, 1), per_user_limit=0)
    too_many = make_activity((nearly_gone, 2), (plenty, 1), per_user_limit=0)
    unlimited = make_activity((CouponTemplateFactory(total_quantity=-1, per_user_limit=0), 5), per_user_limit=0)

    page = customer_client.get("/api/v1/activities/").json()

    assert sorted(row["id"] for row in page["results"]) == sorted([fits.pk, unlimited.pk])
    assert customer_client.post(claim_url(too_many)).json()["error"]["code"] == "SOLD_OUT"
    assert customer_client.post(claim_url(fits)).status_code == 201
    assert [row["id"] for row in customer_client.get("/api/v1/activities/").json()["results"]] == [unlimited.pk]


@pytest.mark.parametrize("stopped_as", [TemplateStatus.STOPPED, TemplateStatus.ENDED])
def test_an_activity_holding_a_stopped_template_is_no_longer_listed(
    customer_client, django_assert_max_num_queries, stopped_as
):
    # given three published activities; one template of the second, and the only one of the third, stopped
    live, stopping = CouponTemplateFactory(), CouponTemplateFactory()
    listed = make_activity((live, 1))
    partly_stopped = make_activity((live, 1), (stopping, 1))
    wholly_stopped = make_activity((stopping, 1))
    CouponTemplate.objects.filter(pk=stopping.pk).update(status=stopped_as)

    # when
    with django_assert_max_num_queries(4):  # token, count, page, items: none per activity
        page = customer_client.get("/api/v1/activities/").json()

    # then
    assert [row["id"] for row in page["results"]] == [listed.pk]
    assert page["count"] == 1
    for activity in (partly_stopped, wholly_stopped):
        refused = customer_client.post(claim_url(activity))
        assert refused.json()["error"]["code"] == "NOT_CLAIMABLE"
    assert Activity.objects.get(pk=partly_stopped.pk).status == ActivityStatus.PUBLISHED
    assert UserCoupon.objects.count() == 0


def test_an_unknown_channel_is_a_400(customer_client):
    response = customer_client.get("/api/v1/activities/", {"channel": "FAX"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


# claiming ---------------------------------------------------------------------------------------


def test_claiming_an_activity_issues_every_item(customer, customer_client):
    first, second = CouponTemplateFactory(per_user_limit=3), CouponTemplateFactory(visible_in_claim_center=False)
    activity = make_activity((first, 2), (second, 1))

    response = customer_client.post(claim_url(activity))

    assert response.status_code == 201, response.content
    coupons = response.json()["coupons"]
    assert sorted(c["template_id"] for c in coupons) == sorted([first.pk, first.pk, second.pk])
    assert {(c.source, c.source_ref) for c in UserCoupon.objects.all()} == {("ACTIVITY", str(activity.pk))}
    assert UserCoupon.objects.filter(user=customer).count() == 3
    assert ActivityParticipation.objects.get(activity=activity, user=customer).claimed == 1


def test_one_sold_out_item_rolls_back_the_bundle(customer_client):
    plenty = CouponTemplateFactory(total_quantity=100)
    scarce = CouponTemplateFactory(total_quantity=1, issued_quantity=1)
    activity = make_activity((plenty, 1), (scarce, 1))

    response = customer_client.post(claim_url(activity))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "SOLD_OUT"
    assert UserCoupon.objects.count() == 0
    assert CouponTemplate.objects.get(pk=plenty.pk).issued_quantity == 0
    assert not ActivityParticipation.objects.exists()


def test_a_template_limit_refuses_the_bundle(customer, customer_client):
    limited = CouponTemplateFactory(per_user_limit=1)
    activity = make_activity((CouponTemplateFactory(), 1), (limited, 2))

    response = customer_client.post(claim_url(activity))

    assert response.json()["error"]["code"] == "LIMIT_REACHED"
    assert UserCoupon.objects.count() == 0


def test_the_activity_limit_holds(customer_client):
    activity = make_activity((CouponTemplateFactory(per_user_limit=0), 1), per_user_limit=2)

    statuses = [customer_client.post(claim_url(activity)).status_code for _ in range(3)]

    assert statuses == [201, 201, 409]
    assert UserCoupon.objects.count() == 2


def test_an_item_targeted_at_others_makes_the_customer_not_eligible(customer_client):
    activity = make_activity(
        (CouponTemplateFactory(), 1), (CouponTemplateFactory(target={"type": "MEMBER_LEVELS", "levels": ["VIP"]}), 1)
    )

    response = customer_client.post(claim_url(activity))

    assert response.json()["error"]["code"] == "NOT_ELIGIBLE"
    assert UserCoupon.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"status": ActivityStatus.DRAFT}, 404, "NOT_FOUND"),
        ({"status": ActivityStatus.CANCELLED}, 409, "NOT_CLAIMABLE"),
        ({"status": ActivityStatus.ENDED}, 409, "NOT_CLAIMABLE"),
        (
            {"start_time": timezone.now() + timedelta(hours=2), "end_time": timezone.now() + timedelta(days=1)},
            409,
            "NOT_CLAIMABLE",
        ),
    ],
)
def test_activities_that_are_not_live_cannot_be_claimed(customer_client, fields, status, code):
    activity = make_activity((CouponTemplateFactory(), 1), **fields)

    response = customer_client.post(claim_url(activity))

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert UserCoupon.objects.count() == 0


def test_a_stopped_item_makes_the_activity_not_claimable(customer_client):
    activity = make_activity((CouponTemplateFactory(status=TemplateStatus.STOPPED), 1))

    assert customer_client.post(claim_url(activity)).json()["error"]["code"] == "NOT_CLAIMABLE"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/activities/0/claim",
        "/api/v1/activities/99999999/claim",
        f"/api/v1/activities/{10**25}/claim",
        "/api/v1/activities/x/claim",
    ],
)
def test_unknown_activities_are_404(customer_client, path):
    assert customer_client.post(path).status_code == 404


def test_a_malformed_body_is_a_400(customer_client):
    activity = make_activity((CouponTemplateFactory(), 1))

    response = customer_client.post(claim_url(activity), data="[", content_type="application/json")

    assert response.status_code == 400
    assert UserCoupon.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_when_the_second_item_runs_out_nobody_gets_a_partial_bundle():
    # given 30 customers racing for an activity whose second item has 10 left
    plenty = CouponTemplateFactory(total_quantity=1000, per_user_limit=0)
    scarce = CouponTemplateFactory(total_quantity=10, per_user_limit=0)
    activity = make_activity((plenty, 2), (scarce, 1))
    user_model = get_user_model()
    users = user_model.objects.bulk_create([user_model(username=f"fan{i}") for i in range(30)])
    users = list(user_model.objects.filter(username__startswith="fan"))

    def claim(user):
        try:
            return len(activity_claim(user=user, activity_id=activity.pk))
        except ApplicationError as exc:
            return exc.code

    results = run_concurrently(claim, [(u,) for u in users])

    # then 10 got the whole bundle and 20 got nothing
    assert sorted(results, key=str) == [3] * 10 + ["SOLD_OUT"] * 20
    per_user = {u.pk: UserCoupon.objects.filter(user=u).count() for u in users}
    assert sorted(per_user.values()) == [0] * 20 + [3] * 10
    assert CouponTemplate.objects.get(pk=plenty.pk).issued_quantity == 20
    assert CouponTemplate.objects.get(pk=scarce.pk).issued_quantity == 10
    assert ActivityParticipation.objects.filter(activity=activity).count() == 10


@pytest.mark.django_db(transaction=True)
def test_one_customer_claiming_an_activity_concurrently_gets_it_once():
    activity = make_activity((CouponTemplateFactory(per_user_limit=0), 1), (CouponTemplateFactory(per_user_limit=0), 1))
    user = UserFactory()

    def claim(_i):
        response = client_for(user).post(claim_url(activity))
        return response.status_code

    results = run_concurrently(claim, [(i,) for i in range(15)])

    assert sorted(results) == [201] + [409] * 14
    assert UserCoupon.objects.filter(user=user).count() == 2
