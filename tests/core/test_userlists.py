"""Resolving a customer list (core.userlists): ids and usernames, and digits that are not ASCII."""

import pytest

from core.userlists import resolve_users
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_ids_and_usernames_are_found_and_the_rest_named():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")

    found, unknown = resolve_users(["alice", str(bob.pk), "ghost", "99999999"])

    assert found == sorted({alice.pk, bob.pk})
    assert unknown == ["ghost", "99999999"]


def test_digits_that_are_not_ascii_are_usernames():
    # "①".isdigit() and "²".isdigit() are true, but int() refuses them.
    circled = UserFactory(username="①")

    found, unknown = resolve_users(["①", "²", "٣"])

    assert found == [circled.pk]
    assert unknown == ["²", "٣"]
