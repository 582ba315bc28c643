"""Bulk grants (精准营销): workflow, segments, exact counters, and exactly once per (grant, user)
when the run is interrupted, killed, retried or doubled."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Count, F
from django.utils import timezone, translation

from core.audit import audit_trail_for
from core.errors import InvalidTransition, PermissionDeniedError, ValidationFailed
from coupons.ledger import bulk as ledger_bulk
from coupons.ledger.issuing import issue_now
from coupons.models import ClaimQuota, CouponTemplate, TemplateStatus, UserCoupon, ValidityType
from marketing.api import staff_bulk_grants
from marketing.models import (
    BulkGrant,
    BulkGrantRecipient,
    BulkGrantStatus,
    BulkGrantTarget,
    GiftPack,
    GiftPackGrant,
    GiftPackItem,
    MemberProfile,
    MemberTag,
    Notification,
    RecipientStatus,
)
from marketing.services import bulk_grants
from marketing.services.bulk_grants import (
    bulk_grant_announce,
    bulk_grant_approve,
    bulk_grant_cancel,
    bulk_grant_create,
    bulk_grant_reject,
    bulk_grant_run,
    bulk_grant_submit,
    bulk_grants_announce_left_behind,
)
from marketing.services.schedules import bulk_grants_due
from marketing.tasks import run_bulk_grant
from orders.models import Order
from tests.error_shape import assert_api_error
from tests.factories import CouponTemplateFactory, StaffFactory, UserFactory
from tests.marketing.distribution import clean_redis, ensure_roles, restore_roles_after_module, run_concurrently  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_redis")]

GRANTS = "/api/v1/staff/bulk-grants/"


def make_members(count: int, prefix: str = "m", **profile) -> list:
    user_model = get_user_model()
    user_model.objects.bulk_create([user_model(username=f"{prefix}{i}") for i in range(count)])
    users = list(user_model.objects.filter(username__startswith=prefix).order_by("pk"))
    MemberProfile.objects.bulk_create(
        [MemberProfile(user=u, invite_code=f"{prefix.upper()}{i:07d}"[:12], **profile) for i, u in enumerate(users)]
    )
    return users


def approved_grant(operations_user, finance_user, **fields) -> BulkGrant:
    defaults = {"name": "win back", "target_type": BulkGrantTarget.SEGMENT, "segment": {"everybody": True}}
    grant = bulk_grant_create(actor=operations_user, **(defaults | fields))
    bulk_grant_submit(grant=grant, actor=operations_user)
    return bulk_grant_approve(grant=grant, actor=finance_user)


def assert_exact(grant: BulkGrant, template: CouponTemplate, issued_before: int = 0) -> None:
    grant.refresh_from_db()
    assert grant.status == BulkGrantStatus.DONE
    statuses = dict(
        BulkGrantRecipient.objects.filter(grant=grant)
        .values_list("status")
        .annotate(n=Count("user"))
        .values_list("status", "n")
    )
    assert RecipientStatus.PENDING not in statuses
    assert grant.targeted == BulkGrantRecipient.objects.filter(grant=grant).count()
    assert (grant.granted, grant.skipped_limit, grant.skipped_stock, grant.failed) == (
        statuses.get(RecipientStatus.GRANTED, 0),
        statuses.get(RecipientStatus.SKIPPED_LIMIT, 0),
        statuses.get(RecipientStatus.SKIPPED_STOCK, 0),
        statuses.get(RecipientStatus.FAILED, 0),
    )
    assert grant.granted + grant.skipped_limit + grant.skipped_stock + grant.failed == grant.targeted
    coupons = UserCoupon.objects.filter(source="BULK_GRANT", source_ref=str(grant.pk))
    assert coupons.count() == grant.granted
    # every granted recipient holds exactly one coupon of this grant, nobody else holds one
    granted_users = set(
        BulkGrantRecipient.objects.filter(grant=grant, status=RecipientStatus.GRANTED).values_list("user_id", flat=True)
    )
    per_user = dict(coupons.values_list("user_id").annotate(n=Count("id")).values_list("user_id", "n"))
    assert set(per_user) == granted_users and set(per_user.values()) <= {1}
    template.refresh_from_db()
    assert template.issued_quantity == issued_before + grant.granted


# workflow ---------------------------------------------------------------------------------------


def test_the_maker_checker_workflow_is_recorded(operations_user, finance_user, django_capture_on_commit_callbacks):
    template = CouponTemplateFactory()
    grant = bulk_grant_create(
        actor=operations_user, name="g", target_type="SEGMENT", segment={"everybody": True}, template=template
    )
    bulk_grant_submit(grant=grant, actor=operations_user)
    with pytest.raises(PermissionDeniedError):
        bulk_grant_approve(grant=grant, actor=operations_user)  # operations may not approve
    with pytest.raises(ValidationFailed):
        bulk_grant_reject(grant=grant, actor=finance_user, remark=" ")
    bulk_grant_reject(grant=grant, actor=finance_user, remark="too broad")
    assert BulkGrant.objects.get(pk=grant.pk).status == BulkGrantStatus.DRAFT
    bulk_grant_submit(grant=grant, actor=operations_user)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        bulk_grant_approve(grant=grant, actor=finance_user, remark="ok")

    assert len(callbacks) == 1  # the run is enqueued after commit
    assert [a.action for a in reversed(audit_trail_for(grant))] == ["create", "submit", "reject", "submit", "approve"]
    grant.refresh_from_db()
    assert (grant.status, grant.reviewed_by, grant.review_remark) == (BulkGrantStatus.APPROVED, finance_user, "ok")


def test_the_creator_cannot_review_their_own_grant(operations_user):
    reviewer_and_maker = StaffFactory(role="finance")
    reviewer_and_maker.groups.add(*operations_user.groups.all())
    grant = bulk_grant_create(
        actor=reviewer_and_maker,
        name="g",
        target_type="SEGMENT",
        segment={"everybody": True},
        template=CouponTemplateFactory(),
    )
    bulk_grant_submit(grant=grant, actor=reviewer_and_maker)

    with pytest.raises(PermissionDeniedError) as refused:
        bulk_grant_approve(grant=grant, actor=reviewer_and_maker)

    assert refused.value.code == "SELF_REVIEW"


def test_approval_enqueues_the_run_only_when_due(
    operations_user, finance_user, monkeypatch, django_capture_on_commit_callbacks
):
    enqueued = []
    monkeypatch.setattr(run_bulk_grant, "delay", lambda grant_id: enqueued.append(grant_id))
    template = CouponTemplateFactory()

    with django_capture_on_commit_callbacks(execute=True):
        now = approved_grant(operations_user, finance_user, template=template)
        later = approved_grant(
            operations_user, finance_user, template=template, scheduled_at=timezone.now() + timedelta(days=1)
        )

    assert enqueued == [now.pk]
    # and a run before its time does nothing
    assert bulk_grant_run(grant=later).status == BulkGrantStatus.APPROVED


def test_illegal_moves_are_refused(operations_user, finance_user):
    grant = bulk_grant_create(
        actor=operations_user,
        name="g",
        target_type="SEGMENT",
        segment={"everybody": True},
        template=CouponTemplateFactory(),
    )
    with pytest.raises(InvalidTransition):
        bulk_grant_approve(grant=grant, actor=finance_user)
    bulk_grant_cancel(grant=grant, actor=operations_user)
    with pytest.raises(InvalidTransition):
        bulk_grant_submit(grant=grant, actor=operations_user)
    assert bulk_grant_run(grant=grant).status == BulkGrantStatus.CANCELLED


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"segment": {}}, "segment"),
        ({"segment": {"levels": ["PLATINUM"]}}, "segment"),
        ({"segment": {"everybody": True, "levels": ["GOLD"]}}, "segment"),
        ({"segment": {"registered_after": "2026-13-01"}}, "segment"),
        ({"segment": {"registered_after": "2026-02-01", "registered_before": "2026-01-01"}}, "segment"),
        ({"segment": {"registered_after": "0001-01-01"}}, "segment"),
        ({"segment": {"registered_before": "1899-12-31"}}, "segment"),
        ({"segment": {"registered_before": "9999-12-31"}}, "segment"),
        ({"segment": {"no_order_days": 0}}, "segment"),
        ({"segment": {"no_order_days": "30"}}, "segment"),
        ({"segment": {"mystery": 1}}, "segment"),
        ({"segment": ["GOLD"]}, "segment"),
        ({"template": None}, "template"),
        ({"name": " "}, "name"),
    ],
)
def test_bad_definitions_are_refused(operations_user, fields, field):
    data = {"name": "g", "target_type": "SEGMENT", "segment": {"everybody": True}, "template": CouponTemplateFactory()}

    with pytest.raises(ValidationFailed) as refused:
        bulk_grant_create(actor=operations_user, **(data | fields))

    assert field in refused.value.details
    assert BulkGrant.objects.count() == 0


def test_a_draft_template_cannot_be_granted(operations_user):
    with pytest.raises(ValidationFailed):
        bulk_grant_create(
            actor=operations_user,
            name="g",
            target_type="SEGMENT",
            segment={"everybody": True},
            template=CouponTemplateFactory(status=TemplateStatus.DRAFT),
        )


def test_an_uploaded_list_becomes_the_recipients(operations_user):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    csv_text = f"user\nalice\n{bob.pk}\nalice\n"

    grant = bulk_grant_create(
        actor=operations_user,
        name="list",
        target_type="USER_LIST",
        users=bulk_grants.parse_user_list(csv_text),
        template=CouponTemplateFactory(),
    )

    assert grant.targeted == 2
    assert set(BulkGrantRecipient.objects.filter(grant=grant).values_list("user_id", flat=True)) == {alice.pk, bob.pk}


def test_unknown_customers_in_a_list_are_named(operations_user):
    UserFactory(username="alice")

    with pytest.raises(ValidationFailed) as refused:
        bulk_grant_create(
            actor=operations_user,
            name="list",
            target_type="USER_LIST",
            users=["alice", "ghost", "4242424"],
            template=CouponTemplateFactory(),
        )

    assert refused.value.details["unknown"] == ["ghost", "4242424"]
    assert BulkGrantRecipient.objects.count() == 0


# segments ---------------------------------------------------------------------------------------


def run_segment(operations_user, finance_user, segment) -> set[int]:
    template = CouponTemplateFactory(total_quantity=-1, per_user_limit=0)
    grant = approved_grant(operations_user, finance_user, template=template, segment=segment)
    bulk_grant_run(grant=grant)
    return set(BulkGrantRecipient.objects.filter(grant=grant).values_list("user_id", flat=True))


def test_segments_select_by_level_tag_registration_and_orders(operations_user, finance_user):
    now = timezone.now()
    gold = UserFactory()
    MemberProfile.objects.filter(user=gold).update(level="GOLD", registered_at=now - timedelta(days=400))
    tagged = UserFactory()
    tagged.member.tags.add(MemberTag.objects.create(name="lunch"))
    MemberProfile.objects.filter(user=tagged).update(registered_at=now - timedelta(days=10))
    ordered_lately = UserFactory()
    MemberProfile.objects.filter(user=ordered_lately).update(last_order_at=now - timedelta(days=2))
    Order.objects.create(user=ordered_lately, channel="APP", subtotal=Decimal("10.00"), total=Decimal("10.00"))
    inactive = UserFactory()
    get_user_model().objects.filter(pk=inactive.pk).update(is_active=False)
    everyone_active = {gold.pk, tagged.pk, ordered_lately.pk}

    assert run_segment(operations_user, finance_user, {"levels": ["GOLD", "VIP"]}) == {gold.pk}
    assert run_segment(operations_user, finance_user, {"tags": ["lunch"]}) == {tagged.pk}
    cutoff = (now - timedelta(days=30)).astimezone(timezone.get_default_timezone()).date().isoformat()
    assert run_segment(operations_user, finance_user, {"registered_before": cutoff}) == {gold.pk}
    assert run_segment(operations_user, finance_user, {"registered_after": cutoff}) == {tagged.pk, ordered_lately.pk}
    assert run_segment(operations_user, finance_user, {"no_order_days": 30}) == {gold.pk, tagged.pk}
    assert run_segment(operations_user, finance_user, {"everybody": True}) == everyone_active


# running ----------------------------------------------------------------------------------------


def test_a_run_grants_once_per_user_with_exact_counters(operations_user, finance_user):
    users = make_members(40)
    template = CouponTemplateFactory(total_quantity=30, per_user_limit=1)
    for user in users[:5]:
        issue_now(template=template, user_id=user.pk)  # already at their limit
    grant = approved_grant(operations_user, finance_user, template=template)

    bulk_grant_run(grant=grant, chunk_size=7)

    assert_exact(grant, template, issued_before=5)
    grant.refresh_from_db()
    assert (grant.targeted, grant.granted, grant.skipped_limit, grant.skipped_stock) == (40, 25, 5, 10)
    # the first eligible users in order got the stock
    granted = BulkGrantRecipient.objects.filter(grant=grant, status="GRANTED").values_list("user_id", flat=True)
    assert sorted(granted) == [u.pk for u in users[5:30]]
    assert ClaimQuota.objects.filter(template=template, claimed=1).count() == 30
    assert [a.action for a in audit_trail_for(grant)][:2] == ["finish", "run"]


def test_a_deleted_customer_takes_their_quota_and_recipient_rows_along(operations_user, finance_user):
    # The quota and recipient rows declare no foreign key to the database (they are written beside a
    # coupon whose keys it checks): Django's on_delete removes them with the customer.
    users = make_members(3)
    template = CouponTemplateFactory(per_user_limit=1)
    grant = approved_grant(operations_user, finance_user, template=template)
    bulk_grant_run(grant=grant)
    leaving = users[1]

    leaving.delete()

    assert not ClaimQuota.objects.filter(user_id=leaving.pk).exists()
    assert not BulkGrantRecipient.objects.filter(user_id=leaving.pk).exists()
    assert not UserCoupon.objects.filter(user_id=leaving.pk).exists()
    assert ClaimQuota.objects.filter(template=template).count() == 2
    assert BulkGrantRecipient.objects.filter(grant=grant, status="GRANTED").count() == 2
    if connection.vendor == "mysql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE"
                " WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL"
                " AND TABLE_NAME IN (%s, %s)",
                [ClaimQuota._meta.db_table, BulkGrantRecipient._meta.db_table],
            )
            assert cursor.fetchall() == ((BulkGrantRecipient._meta.db_table, "grant_id"),)


def test_quota_and_recipient_rows_are_keyed_by_their_pair(operations_user, finance_user):
    # given a grant that wrote a quota row and a recipient row for each customer
    users = make_members(2)
    template = CouponTemplateFactory(per_user_limit=1)
    grant = approved_grant(operations_user, finance_user, template=template)
    bulk_grant_run(grant=grant)

    # then each row is found by its pair, and the database refuses a second row for it
    assert ClaimQuota.objects.get(pk=(template.pk, users[0].pk)).claimed == 1
    assert BulkGrantRecipient.objects.get(pk=(grant.pk, users[0].pk)).status == RecipientStatus.GRANTED
    with pytest.raises(IntegrityError), transaction.atomic():
        ClaimQuota.objects.bulk_create([ClaimQuota(template=template, user=users[0], claimed=0)])
    with pytest.raises(IntegrityError), transaction.atomic():
        BulkGrantRecipient.objects.bulk_create([BulkGrantRecipient(grant=grant, user=users[0])])
    assert ClaimQuota.objects.filter(template=template).count() == 2
    if connection.vendor == "mysql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT TABLE_NAME, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) FROM information_schema.STATISTICS"
                " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (%s, %s) GROUP BY TABLE_NAME, INDEX_NAME"
                " ORDER BY TABLE_NAME, INDEX_NAME",
                [ClaimQuota._meta.db_table, BulkGrantRecipient._meta.db_table],
            )
            indexes = {(table, columns) for table, columns in cursor.fetchall()}
        # one index beside the key, on the user (a deleted customer's rows are found by it)
        assert indexes == {
            (ClaimQuota._meta.db_table, "template_id,user_id"),
            (ClaimQuota._meta.db_table, "user_id"),
            (BulkGrantRecipient._meta.db_table, "grant_id,user_id"),
            (BulkGrantRecipient._meta.db_table, "user_id"),
        }


def test_granted_customers_are_told_once_after_each_chunk(
    operations_user, finance_user, django_capture_on_commit_callbacks, monkeypatch
):
    users = make_members(12)
    template = CouponTemplateFactory(total_quantity=10, per_user_limit=1)
    grant = approved_grant(operations_user, finance_user, template=template)
    announced: list[int] = []
    monkeypatch.setattr(run_bulk_grant.app.tasks["marketing.tasks.announce_bulk_grant"], "delay", announced.append)

    with django_capture_on_commit_callbacks(execute=True):
        bulk_grant_run(grant=grant, chunk_size=5)

    # each chunk that granted something asks for its announcement after it commits; nothing is written yet
    assert announced == [grant.pk, grant.pk]
    assert not Notification.objects.exists()
    # the announcement writes one message per granted customer, naming their coupon, and only once
    assert bulk_grant_announce(grant_id=grant.pk) == 10
    assert bulk_grant_announce(grant_id=grant.pk) == 0
    assert bulk_grants_announce_left_behind() == 0
    messages = Notification.objects.filter(data__bulk_grant_id=grant.pk)
    assert sorted(messages.values_list("user_id", flat=True)) == [u.pk for u in users[:10]]
    for message in messages:
        coupon = UserCoupon.objects.get(pk=message.data["coupon_ids"][0])
        assert (coupon.user_id, coupon.source_ref, message.kind) == (message.user_id, str(grant.pk), "COUPON_GRANTED")
        # read in the customer's language, whatever language the worker writing it had
        assert message.texts["zh-hans"]["title"] == "您收到了 1 张优惠券"
        assert message.texts["en"]["title"] == "You received 1 coupon"


def test_the_outbox_job_announces_grants_left_behind(operations_user, finance_user, monkeypatch):
    make_members(7)
    template = CouponTemplateFactory(total_quantity=-1, per_user_limit=0)
    grant = approved_grant(operations_user, finance_user, template=template)
    bulk_grant_run(grant=grant, chunk_size=3)  # the chunks' announcements never ran (no commit callbacks here)
    sent: list = []
    monkeypatch.setattr("marketing.notifications.backend", lambda: sent.append)

    from marketing.tasks import send_notifications

    send_notifications.apply()

    assert Notification.objects.filter(data__bulk_grant_id=grant.pk).count() == 7
    assert len(sent) == 7
    assert BulkGrant.objects.get(pk=grant.pk).announced_user_id == grant.recipients.order_by("-user_id")[0].user_id


def test_a_grant_whose_last_users_were_skipped_is_not_announced_again(operations_user, finance_user):
    make_members(6)
    template = CouponTemplateFactory(total_quantity=4, per_user_limit=0)
    grant = approved_grant(operations_user, finance_user, template=template)
    bulk_grant_run(grant=grant, chunk_size=3)  # the last two are skipped: out of stock

    assert bulk_grants_announce_left_behind() == 4
    grant.refresh_from_db()
    assert grant.announced_user_id == grant.progress_user_id
    assert not BulkGrant.objects.filter(announced_user_id__lt=F("progress_user_id")).exists()


def test_a_run_is_idempotent(operations_user, finance_user):
    make_members(12)
    template = CouponTemplateFactory(total_quantity=-1, per_user_limit=0)
    grant = approved_grant(operations_user, finance_user, template=template)

    bulk_grant_run(grant=grant, chunk_size=5)
    bulk_grant_run(grant=grant, chunk_size=5)
    run_bulk_grant.apply(args=[grant.pk])

    assert_exact(grant, template)
    assert UserCoupon.objects.count() == 12


def test_a_run_interrupted_by_an_error_resumes_without_doubling(operations_user, finance_user, monkeypatch):
    make_members(50)
    template = CouponTemplateFactory(total_quantity=45, per_user_limit=1)
    grant = approved_grant(operations_user, finance_user, template=template)
    real_chunk = bulk_grants._grant_template_chunk
    calls = {"n": 0}

    def crash_on_the_fourth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise ConnectionError("worker lost")
        return real_chunk(*args, **kwargs)

    monkeypatch.setattr(bulk_grants, "_grant_template_chunk", crash_on_the_fourth)
    with pytest.raises(ConnectionError):
        bulk_grant_run(grant=grant, chunk_size=10)
    grant.refresh_from_db()
    assert (grant.status, grant.granted) == (BulkGrantStatus.RUNNING, 30)

    monkeypatch.undo()
    bulk_grant_run(grant=grant, chunk_size=10)

    assert_exact(grant, template)
    grant.refresh_from_db()
    assert (grant.granted, grant.skipped_stock) == (45, 5)


def test_max_chunks_stops_and_the_next_run_resumes(operations_user, finance_user):
    make_members(30)
    template = CouponTemplateFactory(total_quantity=-1, per_user_limit=0)
    grant = approved_grant(operations_user, finance_user, template=template)

    assert bulk_grant_run(grant=grant, chunk_size=10, max_chunks=2).granted == 20
    assert BulkGrant.objects.get(pk=grant.pk).status == BulkGrantStatus.RUNNING
    bulk_grant_run(grant=grant, chunk_size=10)

    assert_exact(grant, template)


def test_cancelling_stops_a_running_grant_between_chunks(operations_user, finance_user):
    make_members(30)
    template = CouponTemplateFactory(total_quantity=-1, per_user_limit=0)
    grant = approved_grant(operations_user, finance_user, template=template)
    bulk_grant_run(grant=grant, chunk_size=10, max_chunks=1)

    bulk_grant_cancel(grant=grant, actor=operations_user, remark="wrong audience")
    bulk_grant_run(grant=grant, chunk_size=10)

    grant.refresh_from_db()
    assert (grant.status, grant.granted) == (BulkGrantStatus.CANCELLED, 10)
    assert UserCoupon.objects.count() == 10


def test_a_template_stopped_mid_run_fails_the_rest(operations_user, finance_user):
    make_members(20)
    template = CouponTemplateFactory(total_quantity=-1, per_user_limit=0)
    grant = approved_grant(operations_user, finance_user, template=template)
    bulk_grant_run(grant=grant, chunk_size=8, max_chunks=1)
    CouponTemplate.objects.filter(pk=template.pk).update(status=TemplateStatus.STOPPED)

    bulk_grant_run(grant=grant, chunk_size=8)

    grant.refresh_from_db()
    assert (grant.status, grant.granted, grant.failed) == (BulkGrantStatus.FAILED, 8, 12)
    assert "STOPPED" in grant.last_error


def test_a_gift_pack_can_be_granted_in_bulk(operations_user, finance_user):
    users = make_members(6)
    plenty = CouponTemplateFactory(total_quantity=-1, per_user_limit=0)
    scarce = CouponTemplateFactory(total_quantity=3, per_user_limit=0)
    pack = GiftPack.objects.create(name="p", trigger="MANUAL")
    GiftPackItem.objects.create(pack=pack, template=plenty, quantity=1)
    GiftPackItem.objects.create(pack=pack, template=scarce, quantity=1)
    only_scarce = GiftPack.objects.create(name="q", trigger="MANUAL")
    GiftPackItem.objects.create(pack=only_scarce, template=scarce, quantity=1)

    grant = approved_grant(operations_user, finance_user, gift_pack=pack)
    bulk_grant_run(grant=grant, chunk_size=4)
    second = approved_grant(operations_user, finance_user, gift_pack=only_scarce)
    bulk_grant_run(grant=second, chunk_size=4)

    grant.refresh_from_db()
    second.refresh_from_db()
    assert (grant.granted, grant.status) == (6, BulkGrantStatus.DONE)
    assert (second.granted, second.skipped_stock) == (0, 6)
    assert GiftPackGrant.objects.filter(occasion=f"bulk:{grant.pk}").count() == 6
    assert UserCoupon.objects.filter(template=plenty).count() == 6
    assert UserCoupon.objects.filter(template=scarce).count() == 3
    assert {u.pk for u in users} == set(GiftPackGrant.objects.values_list("user_id", flat=True))


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_one_grant_share_it_exactly():
    ensure_roles()
    operations_user, finance_user = StaffFactory(role="operations"), StaffFactory(role="finance")
    make_members(300)
    template = CouponTemplateFactory(total_quantity=250, per_user_limit=1)
    grant = approved_grant(operations_user, finance_user, template=template)

    results = run_concurrently(lambda _i: bulk_grant_run(grant=grant, chunk_size=20), [(0,), (1,), (2,)])

    assert all(isinstance(r, BulkGrant) for r in results), results
    assert_exact(grant, template)
    grant.refresh_from_db()
    assert (grant.granted, grant.skipped_stock) == (250, 50)


KILLABLE_RUN = """
import os, sys, time
import django
django.setup()
from marketing.models import BulkGrant
from marketing.services import bulk_grants
real = bulk_grants._grant_template_chunk
def slow(*args, **kwargs):
    result = real(*args, **kwargs)
    time.sleep(0.05)  # the kill lands between two statements of an open chunk
    return result
bulk_grants._grant_template_chunk = slow
bulk_grants.bulk_grant_run(grant=BulkGrant.objects.get(pk=int(sys.argv[1])), chunk_size=25)
"""


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_run_is_resumed_and_everyone_is_granted_once():
    ensure_roles()
    operations_user, finance_user = StaffFactory(role="operations"), StaffFactory(role="finance")
    make_members(400)
    template = CouponTemplateFactory(total_quantity=380, per_user_limit=1)
    grant = approved_grant(operations_user, finance_user, template=template)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"mysql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }

    # when a worker is killed (SIGKILL) after some chunks committed
    worker = subprocess.Popen([sys.executable, "-c", KILLABLE_RUN, str(grant.pk)], env=env, cwd=settings.BASE_DIR)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and BulkGrant.objects.get(pk=grant.pk).granted < 100:
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    grant.refresh_from_db()
    assert grant.status == BulkGrantStatus.RUNNING and 100 <= grant.granted < 380

    # and the task runs again
    run_bulk_grant.apply(args=[grant.pk])

    # then every targeted user was handled exactly once
    assert_exact(grant, template)
    grant.refresh_from_db()
    assert (grant.targeted, grant.granted, grant.skipped_stock) == (400, 380, 20)


# staff API --------------------------------------------------------------------------------------


def test_staff_create_submit_and_approve_over_the_api(operations_client, finance_client, monkeypatch):
    monkeypatch.setattr(run_bulk_grant, "delay", lambda grant_id: None)
    template = CouponTemplateFactory()
    body = {"name": "gold", "target_type": "SEGMENT", "segment": {"levels": ["GOLD"]}, "template_id": template.pk}

    created = operations_client.post(GRANTS, body, format="json")
    assert created.status_code == 201, created.content
    grant_id = created.json()["id"]
    assert created.json()["status"] == "DRAFT"
    assert operations_client.post(f"{GRANTS}{grant_id}/submit").json()["status"] == "PENDING_REVIEW"
    assert operations_client.post(f"{GRANTS}{grant_id}/approve").status_code == 403
    approved = finance_client.post(f"{GRANTS}{grant_id}/approve", {"remark": "ok"}, format="json")

    assert approved.status_code == 200
    detail = operations_client.get(f"{GRANTS}{grant_id}").json()
    assert detail["status"] == "APPROVED"
    assert [a["action"] for a in detail["audit_trail"]] == ["approve", "submit", "create"]
    listed = operations_client.get(GRANTS, {"status": "APPROVED"}).json()
    assert [row["id"] for row in listed["results"]] == [grant_id]
    assert set(listed) == {"count", "next", "previous", "results"}


def test_a_list_can_be_uploaded_as_csv(operations_client):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    upload = SimpleUploadedFile("users.csv", f"username\nalice\n{bob.pk}\n".encode(), content_type="text/csv")

    response = operations_client.post(
        GRANTS,
        {
            "name": "vip list",
            "target_type": "USER_LIST",
            "template_id": CouponTemplateFactory().pk,
            "users_file": upload,
        },
        format="multipart",
    )

    assert response.status_code == 201, response.content
    assert response.json()["targeted"] == 2
    grant = BulkGrant.objects.get()
    assert set(grant.recipients.values_list("user_id", flat=True)) == {alice.pk, bob.pk}


def test_reject_needs_a_remark_over_the_api(operations_user, operations_client, finance_client):
    grant = bulk_grant_create(
        actor=operations_user,
        name="g",
        target_type="SEGMENT",
        segment={"everybody": True},
        template=CouponTemplateFactory(),
    )
    operations_client.post(f"{GRANTS}{grant.pk}/submit")

    assert finance_client.post(f"{GRANTS}{grant.pk}/reject", {}, format="json").status_code == 400
    assert (
        finance_client.post(f"{GRANTS}{grant.pk}/reject", {"remark": "no"}, format="json").json()["status"] == "DRAFT"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "target_type": "SEGMENT", "segment": {"everybody": True}},
        {"name": "x", "target_type": "SEGMENT", "segment": {"everybody": True}, "template_id": "one"},
        {"name": "x", "target_type": "SEGMENT", "segment": {"everybody": True}, "template_id": 99999999},
        {"name": "x", "target_type": "SEGMENT", "segment": {"everybody": True}, "template_id": 10**25},
        {"name": "x", "target_type": "SEGMENT", "segment": {"everybody": True}, "gift_pack_id": 4444},
        {"name": "x", "target_type": "EVERYONE", "segment": {"everybody": True}, "template_id": 1},
        {"name": "x", "target_type": "SEGMENT", "segment": "GOLD", "template_id": 1},
        {"name": "x", "target_type": "USER_LIST", "template_id": 1},
        {"name": "x", "target_type": "USER_LIST", "users": "alice", "template_id": 1},
        {
            "name": "x",
            "target_type": "SEGMENT",
            "segment": {"everybody": True},
            "template_id": 1,
            "scheduled_at": "tomorrow",
        },
    ],
)
def test_bad_api_input_is_a_400_and_changes_nothing(operations_client, body):
    template = CouponTemplateFactory()
    if body.get("template_id") == 1:
        body = body | {"template_id": template.pk}

    response = operations_client.post(GRANTS, body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert BulkGrant.objects.count() == 0


BASE = {"name": "x", "target_type": "SEGMENT", "segment": {"everybody": True}}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "template_id"),
        ({"template_id": "draft"}, "template_id"),
        ({"gift_pack_id": "inactive"}, "gift_pack_id"),
    ],
    ids=["neither", "draft-template", "inactive-pack"],
)
def test_a_refusal_names_the_field_the_client_sent(operations_client, fields, field):
    draft = CouponTemplateFactory(status=TemplateStatus.DRAFT)
    inactive = GiftPack.objects.create(name="old", trigger="MANUAL", is_active=False)
    ids = {"draft": draft.pk, "inactive": inactive.pk}

    response = operations_client.post(GRANTS, BASE | {k: ids[v] for k, v in fields.items()}, format="json")

    error = assert_api_error(response, 400, "VALIDATION_ERROR", field)
    assert set(error["details"]) == {field}
    assert BulkGrant.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"template_id": 99999999}, "template_id", "未知的模板。"),
        ({"gift_pack_id": 4444}, "gift_pack_id", "未知的礼包。"),
    ],
)
def test_unknown_objects_are_refused_in_the_readers_language(operations_client, fields, field, message):

    response = operations_client.post(GRANTS, BASE | fields, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")

    error = assert_api_error(response, 400, "VALIDATION_ERROR", field)
    assert (error["message"], error["details"][field]) == (message, [message])


def test_a_file_too_large_is_refused_in_the_readers_language(operations_client, monkeypatch):
    monkeypatch.setattr(staff_bulk_grants, "MAX_UPLOAD_BYTES", 8)
    upload = SimpleUploadedFile("users.csv", b"alice\nbob\ncarol\n", content_type="text/csv")

    response = operations_client.post(
        GRANTS,
        {"name": "x", "target_type": "USER_LIST", "template_id": CouponTemplateFactory().pk, "users_file": upload},
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )

    error = assert_api_error(response, 400, "VALIDATION_ERROR", "users_file")
    assert error["details"]["users_file"] == ["文件太大（最大 20 MB）。"]


def test_a_malformed_body_is_a_400(operations_client):
    response = operations_client.post(GRANTS, data="{", content_type="application/json")

    assert response.status_code == 400 and response.json()["error"]["code"] == "MALFORMED_REQUEST"


def test_customers_and_unknown_grants(customer_client, operations_client, finance_client):
    assert customer_client.get(GRANTS).status_code == 403
    assert customer_client.post(GRANTS, {}, format="json").status_code == 403
    assert operations_client.get(f"{GRANTS}987654").status_code == 404
    assert operations_client.post(f"{GRANTS}987654/submit").status_code == 404
    body = {
        "name": "x",
        "target_type": "SEGMENT",
        "segment": {"everybody": True},
        "template_id": CouponTemplateFactory().pk,
    }
    assert finance_client.post(GRANTS, body, format="json").status_code == 403


def test_progress_is_shown(operations_user, finance_user, operations_client):
    make_members(10)
    template = CouponTemplateFactory(total_quantity=-1, per_user_limit=0)
    grant = approved_grant(operations_user, finance_user, template=template)
    bulk_grant_run(grant=grant, chunk_size=4, max_chunks=1)

    assert operations_client.get(f"{GRANTS}{grant.pk}").json()["progress"] == 0.4


def test_codes_that_collide_with_existing_coupons_are_replaced(operations_user, finance_user, monkeypatch):
    users = make_members(5)
    template = CouponTemplateFactory(total_quantity=-1, per_user_limit=0)
    existing = issue_now(template=template, user_id=users[0].pk)[0].code
    fresh = iter(
        [
            "010126010100000001",
            existing,
            existing,
            "010126010100000002",
            "010126010100000003",
            "010126010100000004",
            "010126010100000005",
        ]
    )
    monkeypatch.setattr(ledger_bulk, "code_maker", lambda template, now: lambda: next(fresh))
    grant = approved_grant(operations_user, finance_user, template=template)

    bulk_grant_run(grant=grant)

    assert_exact(grant, template, issued_before=1)
    codes = list(UserCoupon.objects.filter(source="BULK_GRANT").values_list("code", flat=True))
    assert len(codes) == len(set(codes)) == 5 and existing not in codes


def _codes_in_turn(*codes: str):
    made = iter(codes)
    return lambda template, now: lambda: next(made)


def test_more_taken_codes_than_the_server_names_are_found_by_reading_them(monkeypatch):
    """``INSERT IGNORE`` names each taken code in a warning; when the server keeps fewer warnings than
    there were, the codes are looked up instead and the rows written with fresh ones."""
    users = make_members(4)
    template = CouponTemplateFactory(total_quantity=-1, per_user_limit=0)
    taken = [issue_now(template=template, user_id=user.pk)[0].code for user in users[:3]]
    fresh = [f"0101260101000000{i:02d}" for i in range(1, 5)]
    monkeypatch.setattr(ledger_bulk, "code_maker", _codes_in_turn(*taken, *fresh))
    looked_up = []
    checked_first = ledger_bulk._insert_checked_first
    monkeypatch.setattr(
        ledger_bulk,
        "_insert_checked_first",
        lambda rows, *args: looked_up.append(len(rows)) or checked_first(rows, *args),
    )
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION max_error_count = 1")
    try:
        with transaction.atomic():
            issued = ledger_bulk.issue_many(
                template_id=template.pk, user_ids=[u.pk for u in users], source="BULK_GRANT", source_ref="7",
                now=timezone.now(),
            )  # fmt: skip
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION max_error_count = DEFAULT")

    assert issued.granted == [u.pk for u in users]
    assert looked_up == [4]  # the INSERT was undone and the four rows written after the look-up
    granted = dict(UserCoupon.objects.filter(source_ref="7").values_list("user_id", "code"))
    assert sorted(granted.values()) == fresh and not set(taken) & set(granted.values())
    # The taken codes still belong to the coupons that had them.
    assert set(UserCoupon.objects.filter(code__in=taken).values_list("user_id", flat=True)) == {u.pk for u in users[:3]}


def test_a_value_the_database_would_adjust_is_refused_and_nothing_is_written(monkeypatch):
    """IGNORE would store an out-of-range amount clipped, with a warning: the INSERT is undone instead."""
    users = make_members(3)
    template = CouponTemplateFactory(
        type="RANDOM_CASH", value={"min_amount": "1.00", "max_amount": "8.88"}, total_quantity=-1, per_user_limit=0
    )
    monkeypatch.setattr(ledger_bulk, "random_amount", lambda value: Decimal("123456789.00"))

    with pytest.raises(IntegrityError, match="Out of range"), transaction.atomic():
        ledger_bulk.issue_many(
            template_id=template.pk, user_ids=[u.pk for u in users], source="BULK_GRANT", source_ref="8",
            now=timezone.now(),
        )  # fmt: skip

    assert not UserCoupon.objects.filter(template=template).exists()
    assert CouponTemplate.objects.get(pk=template.pk).issued_quantity == 0


def test_other_databases_look_the_codes_up_before_the_insert(monkeypatch):
    """The portable path (SQLite, PostgreSQL): taken codes are read first and replaced."""
    users = make_members(3)
    template = CouponTemplateFactory(total_quantity=-1, per_user_limit=0)
    existing = issue_now(template=template, user_id=users[0].pk)[0].code
    fresh = iter(["010126010100000011", "010126010100000012"])
    rows = [[existing, users[1].pk], ["010126010100000010", users[2].pk]]
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    later = connection.ops.adapt_datetimefield_value(timezone.now() + timedelta(days=1))
    shared = {
        "template_id": template.pk, "status": "UNUSED", "amount": None, "acquired_at": now, "valid_from": now,
        "expires_at": later, "source": "BULK_GRANT", "source_ref": "9", "order_id": None, "used_at": None,
        "granted_by_id": None, "updated_at": now,
    }  # fmt: skip

    with transaction.atomic():
        ledger_bulk._insert_checked_first(rows, ["code", "user_id"], shared, {r[0] for r in rows}, lambda: next(fresh))

    assert rows == [["010126010100000011", users[1].pk], ["010126010100000010", users[2].pk]]
    assert set(UserCoupon.objects.filter(source_ref="9").values_list("code", flat=True)) == {
        "010126010100000011",
        "010126010100000010",
    }


def test_a_review_of_a_grant_saved_since_it_was_read_is_a_409(operations_client, finance_client, monkeypatch):
    monkeypatch.setattr(run_bulk_grant, "delay", lambda grant_id: None)
    body = {"name": "gold", "target_type": "SEGMENT", "segment": {"levels": ["GOLD"]}}
    grant_id = operations_client.post(GRANTS, body | {"template_id": CouponTemplateFactory().pk}, format="json").json()[
        "id"
    ]
    read = operations_client.post(f"{GRANTS}{grant_id}/submit").json()["updated_at"]
    BulkGrant.objects.filter(pk=grant_id).update(updated_at=timezone.now() + timedelta(seconds=1))  # saved since

    stale = finance_client.post(f"{GRANTS}{grant_id}/approve", {"remark": "ok", "updated_at": read}, format="json")

    assert_api_error(stale, 409, "INVALID_STATE")
    assert BulkGrant.objects.get(pk=grant_id).status == BulkGrantStatus.PENDING_REVIEW


# a run that cannot go on --------------------------------------------------------------------------


def test_a_run_that_raises_an_unexpected_error_fails_the_grant_instead_of_looping(operations_user, finance_user):
    # given an approved grant whose stored segment cannot be evaluated (saved before dates were bounded)
    make_members(3)
    grant = approved_grant(
        operations_user, finance_user, template=CouponTemplateFactory(), segment={"levels": ["GOLD"]}
    )
    BulkGrant.objects.filter(pk=grant.pk).update(segment={"registered_after": "0001-01-01"})

    # when it runs
    ran = bulk_grant_run(grant=grant)

    # then it ends FAILED with the error kept, and the scheduled job no longer picks it up
    assert ran.status == BulkGrantStatus.FAILED and ran.finished_at is not None
    assert ran.last_error.startswith("RUN_ERROR:OverflowError")
    assert grant.pk not in bulk_grants_due()
    assert [(a.action, a.from_status, a.to_status) for a in audit_trail_for(grant)][0] == (
        "finish",
        BulkGrantStatus.APPROVED,
        BulkGrantStatus.FAILED,
    )


def test_a_database_error_during_a_run_is_left_to_the_retry(operations_user, finance_user, monkeypatch):
    make_members(3)
    grant = approved_grant(operations_user, finance_user, template=CouponTemplateFactory())

    def gone(*args, **kwargs):
        raise OperationalError(2006, "MySQL server has gone away")

    monkeypatch.setattr(bulk_grants, "_segment", gone)
    with pytest.raises(OperationalError):
        bulk_grant_run(grant=grant)

    grant.refresh_from_db()
    assert (grant.status, grant.last_error) == (BulkGrantStatus.APPROVED, "")


# issuable when the grant runs ---------------------------------------------------------------------


def _window(**fields) -> CouponTemplate:
    return CouponTemplateFactory(total_quantity=-1, per_user_limit=0, **fields)


@pytest.mark.parametrize(
    ("template_fields", "scheduled_in"),
    [
        ({"issue_start_time": 3}, 1),  # the claim window opens after the grant runs
        ({"issue_end_time": 1}, 3),  # and closes before it
        ({"issue_end_time": -1}, None),  # closed already, the grant runs now
        (
            {
                "validity_type": ValidityType.FIXED_DATE,
                "valid_from": -10,
                "valid_until": 1,
                "valid_days_after_issue": None,
            },
            3,
        ),  # its coupons would be expired when granted
    ],
    ids=["not-open-yet", "closed-by-then", "closed-now", "validity-over"],
)
def test_a_template_that_cannot_issue_when_the_grant_runs_is_refused(
    operations_user, operations_client, template_fields, scheduled_in
):
    now = timezone.now()
    fields = {k: now + timedelta(days=v) if isinstance(v, int) else v for k, v in template_fields.items()}
    template = _window(**fields)
    scheduled_at = now + timedelta(days=scheduled_in) if scheduled_in is not None else None

    with pytest.raises(ValidationFailed) as refused:
        bulk_grant_create(
            actor=operations_user,
            name="g",
            target_type="SEGMENT",
            segment={"everybody": True},
            template=template,
            scheduled_at=scheduled_at,
        )
    body = BASE | {"template_id": template.pk, "scheduled_at": scheduled_at.isoformat() if scheduled_at else None}
    response = operations_client.post(GRANTS, body, format="json")

    assert set(refused.value.details) == {"template"}
    error = assert_api_error(response, 400, "VALIDATION_ERROR", "template_id")
    assert template.name in error["details"]["template_id"][0]
    assert BulkGrant.objects.count() == 0


def test_a_template_issuing_when_the_grant_runs_is_accepted(operations_user):
    now = timezone.now()
    template = _window(issue_start_time=now + timedelta(days=1), issue_end_time=now + timedelta(days=5))

    grant = bulk_grant_create(
        actor=operations_user,
        name="g",
        target_type="SEGMENT",
        segment={"everybody": True},
        template=template,
        scheduled_at=now + timedelta(days=2),
    )

    assert grant.status == BulkGrantStatus.DRAFT


def test_a_gift_pack_with_a_template_that_cannot_issue_then_is_refused(operations_client):
    now = timezone.now()
    pack = GiftPack.objects.create(name="p", trigger="MANUAL")
    GiftPackItem.objects.create(pack=pack, template=_window(), quantity=1)
    late = _window(issue_start_time=now + timedelta(days=3))
    GiftPackItem.objects.create(pack=pack, template=late, quantity=1)

    response = operations_client.post(
        GRANTS,
        BASE | {"gift_pack_id": pack.pk, "scheduled_at": (now + timedelta(days=1)).isoformat()},
        format="json",
    )

    error = assert_api_error(response, 400, "VALIDATION_ERROR", "gift_pack_id")
    assert late.name in error["details"]["gift_pack_id"][0]
    assert BulkGrant.objects.count() == 0


def test_submit_and_approve_check_again_that_the_template_issues_when_the_grant_runs(
    operations_user, operations_client, finance_client
):
    now = timezone.now()
    template = _window(issue_end_time=now + timedelta(days=5))
    grant = bulk_grant_create(
        actor=operations_user,
        name="g",
        target_type="SEGMENT",
        segment={"everybody": True},
        template=template,
        scheduled_at=now + timedelta(days=2),
    )
    # the claim window was cut short meanwhile (as if the days had passed)
    CouponTemplate.objects.filter(pk=template.pk).update(issue_end_time=now + timedelta(days=1))

    refused_submit = operations_client.post(f"{GRANTS}{grant.pk}/submit")
    BulkGrant.objects.filter(pk=grant.pk).update(status=BulkGrantStatus.PENDING_REVIEW)
    refused_approve = finance_client.post(f"{GRANTS}{grant.pk}/approve", {"remark": "ok"}, format="json")

    assert assert_api_error(refused_submit, 400, "VALIDATION_ERROR", "template_id")["message"]
    assert assert_api_error(refused_approve, 400, "VALIDATION_ERROR", "template_id")["message"]
    assert BulkGrant.objects.get(pk=grant.pk).status == BulkGrantStatus.PENDING_REVIEW


# the last error, in the reader's language --------------------------------------------------------


def test_a_failed_grants_error_is_kept_in_a_stable_form_and_shown_in_the_readers_language(
    operations_user, finance_user, operations_client
):
    make_members(4)
    template = CouponTemplateFactory(total_quantity=-1, per_user_limit=0)
    grant = approved_grant(operations_user, finance_user, template=template)
    bulk_grant_run(grant=grant, chunk_size=2, max_chunks=1)
    CouponTemplate.objects.filter(pk=template.pk).update(status=TemplateStatus.STOPPED)
    with translation.override("zh-hans"):  # the worker's language is not the reader's
        bulk_grant_run(grant=grant, chunk_size=2)

    english = operations_client.get(f"{GRANTS}{grant.pk}", HTTP_ACCEPT_LANGUAGE="en").json()
    chinese = operations_client.get(f"{GRANTS}{grant.pk}", HTTP_ACCEPT_LANGUAGE="zh-hans").json()

    grant.refresh_from_db()
    assert (grant.status, grant.last_error) == (BulkGrantStatus.FAILED, "TEMPLATE_STOPPED:STOPPED")
    assert english["last_error"] == "The template stopped issuing (Stopped)."
    assert chinese["last_error"] == "模板已停止发放（已停用）。"


def test_an_old_free_text_error_is_shown_as_it_was_written(operations_user, operations_client):
    grant = bulk_grant_create(
        actor=operations_user, name="g", target_type="SEGMENT", segment={"everybody": True}, template=_window()
    )
    BulkGrant.objects.filter(pk=grant.pk).update(last_error="模板已停止发放（STOPPED）。")

    assert operations_client.get(f"{GRANTS}{grant.pk}").json()["last_error"] == "模板已停止发放（STOPPED）。"
    assert bulk_grants.last_error_text("") == ""
