"""Bulk grants in admin as Operations and Finance see them: the segment editor's live estimate, the
audience size on the change and approve pages, a gift pack's coupons on the approve page, the
self-refreshing progress page, workflow pages refused (403) to whoever may never act and sent back
with the reason to whoever may but not now, and refusals of the service shown on the form (not as a
403)."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core.audit import audit_trail_for
from marketing.models import (
    BulkGrant,
    BulkGrantStatus,
    BulkGrantTarget,
    GiftPack,
    GiftPackItem,
    MemberLevel,
    MemberTag,
)
from marketing.services.bulk_grants import bulk_grant_create, bulk_grant_run, bulk_grant_submit
from marketing.tasks import run_bulk_grant
from tests.factories import CouponTemplateFactory, UserFactory
from tests.marketing.distribution import clean_redis  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_redis")]

ESTIMATE = "/admin/marketing/bulkgrant/estimate/"


def logged_in(user, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


@pytest.fixture
def members():
    """Three gold members (one tagged lunch), two normal members."""
    lunch = MemberTag.objects.create(name="lunch")
    gold = [UserFactory(profile__level=MemberLevel.GOLD) for _ in range(3)]
    gold[0].member.tags.add(lunch)
    normal = [UserFactory() for _ in range(2)]
    return {"gold": gold, "normal": normal}


def draft_grant(actor, segment) -> BulkGrant:
    return bulk_grant_create(
        actor=actor,
        name="gold members",
        target_type="SEGMENT",
        segment=segment,
        template=CouponTemplateFactory(total_quantity=-1, per_user_limit=0),
    )


def test_the_estimate_counts_the_segment_the_form_fields_describe(operations_user, members):
    client = logged_in(operations_user)

    gold = client.get(ESTIMATE, {"levels": ["GOLD"]})
    gold_lunch = client.get(ESTIMATE, {"levels": ["GOLD"], "tags": ["lunch"]})
    everybody = client.get(ESTIMATE, {"everybody": "on"})

    assert (gold.status_code, gold.json()["count"]) == (200, 3)
    assert gold.json()["text"] == "3 customers"
    assert gold_lunch.json()["count"] == 1
    assert everybody.json()["count"] == 5  # staff are never in a segment


def test_the_estimate_speaks_the_readers_language(operations_user, members):
    response = logged_in(operations_user, "zh-hans").get(ESTIMATE, {"levels": ["GOLD"]})

    assert response.json()["text"] == "3 位顾客"


def test_an_empty_or_contradictory_segment_is_an_error_in_the_error_shape(operations_user, members):
    client = logged_in(operations_user)

    empty = client.get(ESTIMATE)
    contradictory = client.get(ESTIMATE, {"everybody": "on", "levels": ["GOLD"]})
    bad_level = client.get(ESTIMATE, {"levels": ["PLATINUM"]})

    for response in (empty, contradictory, bad_level):
        assert response.status_code == 400
        body = response.json()["error"]
        assert body["code"] == "VALIDATION_FAILED" and body["message"] and body["details"]


def test_the_estimate_is_for_staff_only(customer, members):
    client = Client()
    client.force_login(customer)

    assert client.get(ESTIMATE, {"levels": ["GOLD"]}).status_code == 302  # to the admin login


def test_the_add_page_has_the_segment_editor_without_json(operations_user):
    page = logged_in(operations_user).get("/admin/marketing/bulkgrant/add/").content.decode()

    for field in ("everybody", "levels", "tags", "registered_after", "registered_before", "no_order_days"):
        assert f'name="{field}"' in page
    assert 'name="segment"' not in page
    assert 'id="audience-estimate"' in page and f'data-estimate-url="{ESTIMATE}"' in page
    assert "marketing/bulk_grant_segment.js" in page
    assert 'type="date"' in page


def test_the_change_page_shows_the_audience_before_submit(operations_user, members):
    grant = draft_grant(operations_user, {"levels": ["GOLD"]})

    page = logged_in(operations_user).get(f"/admin/marketing/bulkgrant/{grant.pk}/change/").content.decode()

    assert '<strong id="audience-estimate"' in page and "3 customers</strong>" in page


def test_finance_sees_the_audience_on_the_approve_page_and_approving_opens_the_progress(
    operations_user, finance_user, members, monkeypatch
):
    monkeypatch.setattr(run_bulk_grant, "delay", lambda grant_id: None)
    grant = draft_grant(operations_user, {"levels": ["GOLD"], "tags": ["lunch"]})
    logged_in(operations_user).post(f"/admin/marketing/bulkgrant/{grant.pk}/workflow/submit/", {})
    finance = logged_in(finance_user, "zh-hans")

    page = finance.get(f"/admin/marketing/bulkgrant/{grant.pk}/workflow/approve/").content.decode()
    response = finance.post(f"/admin/marketing/bulkgrant/{grant.pk}/workflow/approve/", {"remark": "ok"})

    assert 'id="workflow-facts"' in page
    assert "<td>1 位顾客</td>" in page
    assert "<td>会员等级：黄金会员 · 标签：lunch</td>" in page
    assert response.status_code == 302
    assert response["Location"] == f"/admin/marketing/bulkgrant/{grant.pk}/progress/"
    assert BulkGrant.objects.get(pk=grant.pk).status == BulkGrantStatus.APPROVED


def test_finance_sees_the_gift_packs_coupons_on_the_approve_page(operations_user, finance_user, members):
    pack = GiftPack.objects.create(name="Welcome", trigger="MANUAL")
    duck = CouponTemplateFactory(name="Duck 10 off", total_quantity=500, per_user_limit=0)
    tea = CouponTemplateFactory(name="Free tea", total_quantity=-1, per_user_limit=0)
    GiftPackItem.objects.create(pack=pack, template=duck, quantity=2)
    GiftPackItem.objects.create(pack=pack, template=tea, quantity=1)
    grant = bulk_grant_create(
        actor=operations_user, name="gold", target_type="SEGMENT", segment={"levels": ["GOLD"]}, gift_pack=pack
    )
    bulk_grant_submit(grant=grant, actor=operations_user)

    page = logged_in(finance_user).get(f"/admin/marketing/bulkgrant/{grant.pk}/workflow/approve/").content.decode()

    table = page[page.index('<table id="workflow-pack-items">') :]
    rows = re.findall(
        r'<tr><td>([^<]*)</td><td>([^<]*)</td><td class="quantity">(\d+)</td><td>([^<]*)</td></tr>', table
    )
    assert [(name, quantity, remaining) for name, _summary, quantity, remaining in rows] == [
        ("Duck 10 off", "2", "500"),
        ("Free tea", "1", "unlimited"),
    ]
    assert all(summary.strip() for _name, summary, _quantity, _remaining in rows)


def test_the_progress_page_refreshes_itself_while_the_grant_runs_and_stops_when_done(operations_user, members):
    grant = draft_grant(operations_user, {"everybody": True})
    BulkGrant.objects.filter(pk=grant.pk).update(status=BulkGrantStatus.APPROVED)
    client = logged_in(operations_user)
    url = f"/admin/marketing/bulkgrant/{grant.pk}/progress/"

    bulk_grant_run(grant=grant, chunk_size=2, max_chunks=1)
    running = client.get(url).content.decode()
    bulk_grant_run(grant=BulkGrant.objects.get(pk=grant.pk))
    done = client.get(url).content.decode()

    assert '<meta http-equiv="refresh" content="3">' in running
    assert 'data-status="RUNNING"' in running
    assert '<td id="grant-granted">2</td>' in running and '<td id="grant-targeted">5</td>' in running
    assert '<progress id="grant-progress" value="40" max="100"' in running
    assert 'http-equiv="refresh"' not in done
    assert 'data-status="DONE"' in done and '<td id="grant-granted">5</td>' in done
    assert '<progress id="grant-progress" value="100" max="100"' in done


def test_operations_may_not_open_the_approve_or_reject_page(operations_user, finance_user, members):
    grant = draft_grant(operations_user, {"levels": ["GOLD"]})
    ops = logged_in(operations_user)
    ops.post(f"/admin/marketing/bulkgrant/{grant.pk}/workflow/submit/", {})

    for action in ("approve", "reject"):
        assert ops.get(f"/admin/marketing/bulkgrant/{grant.pk}/workflow/{action}/").status_code == 403
        assert ops.post(f"/admin/marketing/bulkgrant/{grant.pk}/workflow/{action}/", {"remark": "x"}).status_code == 403
    assert BulkGrant.objects.get(pk=grant.pk).status == BulkGrantStatus.PENDING_REVIEW


def test_finance_may_not_open_the_submit_page_and_nobody_opens_a_page_for_the_wrong_state(
    operations_user, finance_user, members
):
    grant = draft_grant(operations_user, {"levels": ["GOLD"]})

    assert logged_in(finance_user).get(f"/admin/marketing/bulkgrant/{grant.pk}/workflow/submit/").status_code == 403
    # a draft is not up for review: Finance is sent back to the grant's page, told why
    finance = logged_in(finance_user)
    approve = finance.get(f"/admin/marketing/bulkgrant/{grant.pk}/workflow/approve/")
    assert approve.status_code == 302 and approve["Location"] == f"/admin/marketing/bulkgrant/{grant.pk}/change/"
    told = [str(m) for m in finance.get(approve["Location"]).context["messages"]]
    assert told == ["Cannot approve a bulk grant that is Draft."]
    assert BulkGrant.objects.get(pk=grant.pk).status == BulkGrantStatus.DRAFT
    assert logged_in(operations_user).get(f"/admin/marketing/bulkgrant/{grant.pk}/workflow/submit/").status_code == 200


def test_the_workflow_is_in_the_audit_trail_and_in_admins_history(operations_user, finance_user, members, monkeypatch):
    monkeypatch.setattr(run_bulk_grant, "delay", lambda grant_id: None)
    grant = draft_grant(operations_user, {"levels": ["GOLD"]})
    logged_in(operations_user).post(f"/admin/marketing/bulkgrant/{grant.pk}/workflow/submit/", {})
    logged_in(finance_user).post(f"/admin/marketing/bulkgrant/{grant.pk}/workflow/reject/", {"remark": "too many"})

    history = logged_in(finance_user, "zh-hans").get(f"/admin/marketing/bulkgrant/{grant.pk}/history/")

    assert [row.action for row in audit_trail_for(grant)] == ["reject", "submit", "create"]
    text = history.content.decode()
    assert history.status_code == 200
    assert "提交审核：草稿 → 待审核" in text
    assert "驳回：待审核 → 草稿（备注：too many）" in text
    english = logged_in(finance_user).get(f"/admin/marketing/bulkgrant/{grant.pk}/history/").content.decode()
    assert "Submit: Draft → Pending review" in english
    assert "Reject: Pending review → Draft (remark: too many)" in english


def test_the_progress_link_is_on_the_change_page_once_submitted(operations_user, members):
    grant = draft_grant(operations_user, {"levels": ["GOLD"]})
    client = logged_in(operations_user)
    draft_page = client.get(f"/admin/marketing/bulkgrant/{grant.pk}/change/").content.decode()
    client.post(f"/admin/marketing/bulkgrant/{grant.pk}/workflow/submit/", {})

    submitted = client.get(f"/admin/marketing/bulkgrant/{grant.pk}/change/").content.decode()

    assert 'id="bulk-grant-progress-link"' not in draft_page
    assert f'href="/admin/marketing/bulkgrant/{grant.pk}/workflow/submit/" class="workflow-submit"' in draft_page
    assert f'href="/admin/marketing/bulkgrant/{grant.pk}/progress/" id="bulk-grant-progress-link"' in submitted


def test_dates_stay_iso_for_the_browsers_date_inputs_in_either_language(operations_user, members):
    grant = draft_grant(operations_user, {"levels": ["GOLD"], "registered_after": "2026-01-01"})

    for language in ("zh-hans", "en"):
        client = logged_in(operations_user, language)
        page = client.get(f"/admin/marketing/bulkgrant/{grant.pk}/change/").content.decode()
        estimate = client.get(ESTIMATE, {"levels": ["GOLD"], "registered_before": "2027-01-01"})

        assert 'type="date" name="registered_after" value="2026-01-01"' in page
        assert estimate.json()["count"] == 3


def change_form(grant: BulkGrant, **changes) -> dict:
    """The change page of a draft as it was read (its segment's fields included), with ``changes``."""
    data = {
        "name": grant.name,
        "target_type": grant.target_type,
        "template": grant.template_id or "",
        "gift_pack": grant.gift_pack_id or "",
        "scheduled_at_0": "",
        "scheduled_at_1": "",
        **{key: value for key, value in grant.segment.items() if key != "everybody"},
    }
    if grant.segment.get("everybody"):
        data["everybody"] = "on"
    return data | changes


def test_switching_a_segment_draft_to_a_list_without_one_asks_for_the_list(operations_user, members):
    grant = draft_grant(operations_user, {"levels": ["GOLD"]})

    response = logged_in(operations_user).post(
        f"/admin/marketing/bulkgrant/{grant.pk}/change/", change_form(grant, target_type="USER_LIST")
    )

    assert response.status_code == 200  # the form again, not a 403
    assert "Upload the list of customers." in response.content.decode()
    grant.refresh_from_db()
    assert (grant.target_type, grant.segment) == (BulkGrantTarget.SEGMENT, {"levels": ["GOLD"]})


def test_a_list_draft_keeps_its_list_when_saved_without_a_new_one(operations_user, members):
    grant = bulk_grant_create(
        actor=operations_user,
        name="list",
        target_type="USER_LIST",
        users=[members["gold"][0].username],
        template=CouponTemplateFactory(),
    )

    response = logged_in(operations_user).post(
        f"/admin/marketing/bulkgrant/{grant.pk}/change/", change_form(grant, name="renamed")
    )

    assert response.status_code == 302
    grant.refresh_from_db()
    assert (grant.name, grant.targeted) == ("renamed", 1)


def test_a_refusal_of_the_service_is_shown_on_the_form_not_as_a_403(operations_user, members):
    # given a template whose claim window closes before the time the draft is moved to
    template = CouponTemplateFactory(issue_end_time=timezone.now() + timedelta(days=2))
    grant = draft_grant(operations_user, {"levels": ["GOLD"]})
    later = timezone.localtime() + timedelta(days=5)
    data = change_form(
        grant, template=template.pk, scheduled_at_0=later.strftime("%Y-%m-%d"), scheduled_at_1="10:00:00"
    )

    response = logged_in(operations_user).post(f"/admin/marketing/bulkgrant/{grant.pk}/change/", data)

    page = response.content.decode()
    assert response.status_code == 200
    errors = re.findall(r'<ul class="errorlist[^"]*"[^>]*><li>([^<]*)</li>', page)
    assert any(template.name in error and "cannot issue coupons" in error for error in errors), errors
    assert 'value="' + later.strftime("%Y-%m-%d") + '"' in page  # what was typed is kept
    grant.refresh_from_db()
    assert (grant.template_id, grant.scheduled_at) != (template.pk, None)
    assert grant.scheduled_at is None


def test_a_registration_date_out_of_range_is_an_error_on_its_field(operations_user, members):
    grant = draft_grant(operations_user, {"levels": ["GOLD"]})
    client = logged_in(operations_user)

    response = client.post(
        f"/admin/marketing/bulkgrant/{grant.pk}/change/", change_form(grant, registered_after="0001-01-01")
    )
    estimate = client.get(ESTIMATE, {"levels": ["GOLD"], "registered_after": "0001-01-01"})

    assert response.status_code == 200
    assert "Use a date from 1900-01-01 to " in response.content.decode()
    assert estimate.status_code == 400
    assert "Use a date from 1900-01-01 to " in estimate.json()["error"]["details"]["registered_after"][0]
    grant.refresh_from_db()
    assert grant.segment == {"levels": ["GOLD"]}


def test_a_failed_grants_error_is_shown_in_the_readers_language(operations_user, members):
    grant = draft_grant(operations_user, {"levels": ["GOLD"]})
    BulkGrant.objects.filter(pk=grant.pk).update(status=BulkGrantStatus.FAILED, last_error="TEMPLATE_STOPPED:STOPPED")

    for language, text in (
        ("en", "The template stopped issuing (Stopped)."),
        ("zh-hans", "模板已停止发放（已停用）。"),
    ):
        client = logged_in(operations_user, language)
        change = client.get(f"/admin/marketing/bulkgrant/{grant.pk}/change/").content.decode()
        progress = client.get(f"/admin/marketing/bulkgrant/{grant.pk}/progress/").content.decode()

        assert text in change and text in progress
        assert "TEMPLATE_STOPPED" not in change and "TEMPLATE_STOPPED" not in progress
