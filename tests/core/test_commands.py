"""create_staff, seed_demo and the role groups the migrations create (SPEC 4.5)."""

import importlib
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from rest_framework.authtoken.models import Token

from core.models import AuditLog
from core.roles import FINANCE, OPERATIONS, ROLE_PERMISSIONS, sync_role_groups
from coupons.models import CouponTemplate, TemplateStatus
from marketing.models import MemberProfile
from orders.models import Category, Product
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
STRONG = "plum-juice-and-duck-42"


@pytest.fixture(autouse=True)
def role_groups(db):
    # The groups come from a data migration; a transactional test's flush (another module) removes them.
    sync_role_groups(Group, Permission)


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def perms_of(group_name: str) -> set[str]:
    return {
        f"{app}.{codename}"
        for app, codename in Group.objects.get(name=group_name).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


# role groups ----------------------------------------------------------------------------------------------


def test_the_staff_groups_migration_is_applied():
    assert ("core", "0002_staff_groups") in MigrationRecorder.Migration.objects.values_list("app", "name")


def test_the_migration_gives_each_group_exactly_its_permissions():
    # given groups that drifted: one gone, one with a permission too many
    Group.objects.filter(name=OPERATIONS).delete()
    Group.objects.get(name=FINANCE).permissions.add(Permission.objects.get(codename="add_coupontemplate"))
    migration = importlib.import_module("core.migrations.0002_staff_groups")
    state = MigrationLoader(connection).project_state(("core", "0002_staff_groups"), at_end=False)

    # when the data migration's function runs, on the models as they were at that migration, and then
    # that of the app added later (webhooks), which gives the roles its own permissions
    migration.create_groups(state.apps, None)
    assert not {perm for perm in perms_of(OPERATIONS) if perm.startswith("webhooks.")}
    later = importlib.import_module("webhooks.migrations.0002_role_permissions")
    later_state = MigrationLoader(connection).project_state(("webhooks", "0002_role_permissions"), at_end=False)
    later.give_roles_webhook_permissions(later_state.apps, None)

    # then
    assert perms_of(OPERATIONS) == set(ROLE_PERMISSIONS[OPERATIONS])
    assert perms_of(FINANCE) == set(ROLE_PERMISSIONS[FINANCE])


def test_the_roles_split_making_and_checking():
    operations, finance = set(ROLE_PERMISSIONS[OPERATIONS]), set(ROLE_PERMISSIONS[FINANCE])

    assert {"coupons.add_coupontemplate", "coupons.submit_coupontemplate", "coupons.stop_coupontemplate"} <= operations
    assert "coupons.review_coupontemplate" not in operations
    assert "coupons.review_coupontemplate" in finance
    assert not any(perm.split(".")[1].startswith(("add_", "change_", "delete_")) for perm in finance)
    assert not any(perm.split(".")[1].startswith("delete_coupontemplate") for perm in operations)


# create_staff ---------------------------------------------------------------------------------------------


def test_create_staff_makes_a_finance_account():
    out = run("create_staff", "alice", "--role", "finance", "--password", STRONG, "--email", "alice@example.com")

    alice = User.objects.get(username="alice")
    assert (alice.is_staff, alice.is_superuser, alice.email) == (True, False, "alice@example.com")
    assert alice.check_password(STRONG)
    assert list(alice.groups.values_list("name", flat=True)) == [FINANCE]
    assert alice.has_perm("coupons.review_coupontemplate")
    assert not alice.has_perm("coupons.add_coupontemplate")
    assert "alice" in out


def test_create_staff_again_changes_the_role_and_password():
    run("create_staff", "alice", "--role", "finance", "--password", STRONG)

    out = run("create_staff", "alice", "--role", "operations", "--password", "a-new-secret-for-alice")

    alice = User.objects.get(username="alice")
    assert User.objects.filter(username="alice").count() == 1
    assert list(alice.groups.values_list("name", flat=True)) == [OPERATIONS]
    assert alice.check_password("a-new-secret-for-alice")
    assert alice.has_perm("coupons.submit_coupontemplate")
    assert not alice.has_perm("coupons.review_coupontemplate")
    assert "Updated" in out


def test_create_staff_promotes_an_existing_customer_and_keeps_other_groups():
    customer = UserFactory(username="bob", email="bob@example.com")
    other = Group.objects.create(name="Auditors")
    customer.groups.add(other)

    run("create_staff", "bob", "--role", "operations", "--password", STRONG)

    bob = User.objects.get(username="bob")
    assert bob.is_staff
    assert set(bob.groups.values_list("name", flat=True)) == {OPERATIONS, "Auditors"}
    assert bob.email == "bob@example.com"


def test_create_staff_refuses_an_unknown_role():
    with pytest.raises(CommandError, match="role"):
        run("create_staff", "alice", "--role", "cashier", "--password", STRONG)

    assert not User.objects.filter(username="alice").exists()


@pytest.mark.parametrize("password", ["123", "password", "alice"])
def test_create_staff_refuses_a_weak_password(password):
    with pytest.raises(CommandError):
        run("create_staff", "alice", "--role", "finance", "--password", password)

    assert not User.objects.filter(username="alice").exists()


def test_a_weak_password_leaves_an_existing_account_alone():
    run("create_staff", "alice", "--role", "finance", "--password", STRONG)

    with pytest.raises(CommandError):
        run("create_staff", "alice", "--role", "operations", "--password", "123")

    alice = User.objects.get(username="alice")
    assert alice.check_password(STRONG)
    assert list(alice.groups.values_list("name", flat=True)) == [FINANCE]


def test_create_staff_needs_a_role_and_a_password():
    with pytest.raises(CommandError):
        run("create_staff", "alice", "--password", STRONG)
    with pytest.raises(CommandError):
        run("create_staff", "alice", "--role", "finance")

    assert not User.objects.filter(username="alice").exists()


# seed_demo ------------------------------------------------------------------------------------------------


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "profiles": MemberProfile.objects.count(),
        "tokens": Token.objects.count(),
        "categories": Category.objects.count(),
        "products": Product.objects.count(),
        "templates": CouponTemplate.objects.count(),
        "audit": AuditLog.objects.count(),
    }


def test_seed_demo_is_idempotent():
    run("seed_demo")
    first = counts()
    token = Token.objects.get(user__username="demo").key

    run("seed_demo")

    assert counts() == first
    assert Token.objects.get(user__username="demo").key == token
    assert first["templates"] >= 8


def test_seed_demo_builds_the_restaurant_of_seed_003():
    run("seed_demo")

    codes = set(Category.objects.values_list("code", flat=True))
    assert {"cat-roast-duck", "cat-cold", "cat-main-course", "cat-drinks"} <= codes
    plum = Product.objects.select_related("category").get(sku="d-901")
    assert (plum.name, plum.category.code, plum.is_active) == ("酸梅汤", "cat-drinks", True)
    assert Product.objects.filter(category__code="cat-roast-duck", sku="d-101").exists()
    assert all(product.price > 0 for product in Product.objects.all())


def test_seed_demo_templates_are_in_a_mix_of_statuses_with_their_trails():
    run("seed_demo")

    statuses = set(CouponTemplate.objects.values_list("status", flat=True))
    assert {TemplateStatus.APPROVED, TemplateStatus.PENDING_REVIEW, TemplateStatus.DRAFT, TemplateStatus.REJECTED} <= (
        statuses
    )
    ops, finance = User.objects.get(username="ops"), User.objects.get(username="finance")
    for template in CouponTemplate.objects.all():
        # the workflow trail (the demo wallet also adds staff "grant" records on some templates)
        trail = AuditLog.objects.filter(content_type__model="coupontemplate", object_id=template.pk).exclude(
            action="grant"
        )
        actions = list(trail.order_by("id").values_list("action", flat=True))
        expected = {
            TemplateStatus.DRAFT: ["create"],
            TemplateStatus.PENDING_REVIEW: ["create", "submit"],
            TemplateStatus.APPROVED: ["create", "submit", "approve"],
            TemplateStatus.REJECTED: ["create", "submit", "reject"],
        }[template.status]
        assert actions == expected, template.name
        assert template.created_by == ops
        if template.status in (TemplateStatus.APPROVED, TemplateStatus.REJECTED):
            assert template.reviewed_by == finance
    rejected = CouponTemplate.objects.get(status=TemplateStatus.REJECTED)
    assert rejected.review_remark.strip()
    gift = CouponTemplate.objects.get(type="FREE_ITEM")
    assert gift.value == {"gift_item_id": "d-901", "quantity": 1}


def test_seed_demo_creates_the_logins():
    out = run("seed_demo")

    admin, ops, finance, demo = (User.objects.get(username=name) for name in ("admin", "ops", "finance", "demo"))
    assert (admin.is_staff, admin.is_superuser) == (True, True)
    assert (ops.is_staff, list(ops.groups.values_list("name", flat=True))) == (True, [OPERATIONS])
    assert (finance.is_staff, list(finance.groups.values_list("name", flat=True))) == (True, [FINANCE])
    assert (demo.is_staff, demo.is_superuser) == (False, False)
    assert MemberProfile.objects.filter(user=demo).exists()
    token = Token.objects.get(user=demo).key
    assert token in out
    for user in (admin, ops, finance, demo):
        assert user.check_password("coupons-demo-2026")


def test_the_demo_token_works_on_the_customer_api(api_client):
    run("seed_demo")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user__username='demo').key}")

    response = api_client.get("/api/v1/menu/")

    assert response.status_code == 200
    assert "cat-roast-duck" in [category["code"] for category in response.json()]


def test_seed_demo_gives_the_new_user_pack_an_activity_and_a_wallet_the_jobs_can_act_on():
    from coupons.models import CouponStatus, UserCoupon
    from marketing.models import Activity, ActivityStatus, GiftPack, GiftPackTrigger
    from orders.models import Order, OrderStatus

    run("seed_demo")
    run("seed_demo")

    pack = GiftPack.objects.get(name="新人礼包")
    assert pack.trigger == GiftPackTrigger.REGISTER
    assert sum(pack.items.values_list("quantity", flat=True)) == 7  # seed 004: seven coupons
    assert Activity.objects.get(title="烤鸭节").status == ActivityStatus.PUBLISHED
    demo = User.objects.get(username="demo")
    wallet = UserCoupon.objects.filter(user=demo)
    assert wallet.count() == 7
    assert wallet.filter(status=CouponStatus.UNUSED, expires_at__lt=timezone.now()).count() == 1
    order = Order.objects.get(user=demo)
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.created_at < timezone.now() - timedelta(minutes=settings.ORDER_PAYMENT_TIMEOUT)
    assert wallet.filter(status=CouponStatus.LOCKED, order=order).count() == 1
