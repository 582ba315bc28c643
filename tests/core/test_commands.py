"""create_staff and the role groups the migrations create."""

import importlib
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from core.roles import FINANCE, OPERATIONS, ROLE_PERMISSIONS, sync_role_groups
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


def test_create_staff_refuses_a_deactivated_account_unless_told_to_reactivate_it():
    UserFactory(username="old-li", is_staff=True, is_active=False)

    with pytest.raises(CommandError, match="--reactivate"):
        run("create_staff", "old-li", "--role", "finance", "--password", STRONG)
    assert not User.objects.get(username="old-li").check_password(STRONG)

    out = run("create_staff", "old-li", "--role", "finance", "--password", STRONG, "--reactivate")

    old_li = User.objects.get(username="old-li")
    assert old_li.is_active and old_li.check_password(STRONG) and "Reactivated" in out


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
