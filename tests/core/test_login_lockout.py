"""Sign-in lockout: admin login and /auth/token are throttled per username and per address,
lock out after repeated failures for a while, record it in the audit trail and say so plainly."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from core.models import AuditLog, ThrottleCounter
from tests.factories import StaffFactory, UserFactory
from tests.marketing.distribution import run_concurrently

LOGIN = "/admin/login/?next=/admin/"
TOKEN = "/api/v1/auth/token"
RIGHT = "pass-1234"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_LOCKOUT_FAILURES = 3
    settings.LOGIN_LOCKOUT_ADDRESS_FAILURES = 5
    settings.LOGIN_LOCKOUT_WINDOW = 900
    settings.LOGIN_LOCKOUT_SECONDS = 600
    cache.clear()
    yield
    cache.clear()


def admin_login(username: str, password: str, client: Client | None = None, **headers):
    client = client or Client()
    response = client.post(LOGIN, {"username": username, "password": password}, **headers)
    return response, client


def signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def audit(action: str) -> list[AuditLog]:
    return list(AuditLog.objects.filter(action=action).order_by("id"))


def end_lockouts() -> None:
    ThrottleCounter.objects.filter(key__startswith="login:lock:").update(
        window_start=timezone.now() - timedelta(hours=1)
    )


# admin ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_after_repeated_failures_even_the_right_password_is_refused_for_a_while():
    staff = StaffFactory(username="ops-li")

    failures = [admin_login("ops-li", f"wrong-{i}")[0] for i in range(3)]
    response, client = admin_login("ops-li", RIGHT)

    assert [r.status_code for r in failures] == [200, 200, 200]
    assert not signed_in(response)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "Too many failed sign-ins for this username" in response.content.decode()
    assert "locked for 10 minutes" in response.content.decode()
    # the third failure already says so
    assert "Too many failed sign-ins" in failures[2].content.decode()
    # the trail: each failure and the lockout, on the account
    failed, locked = audit("login_failed"), audit("login_locked")
    assert len(failed) == 3 and len(locked) == 1
    assert {(row.object_id, row.data["username"], row.data["address"], row.data["via"]) for row in failed} == {
        (staff.pk, "ops-li", "127.0.0.1", "admin")
    }
    assert locked[0].object_id == staff.pk and locked[0].data["scope"] == "username"

    # when the lockout is over, the right password signs in
    end_lockouts()
    response, client = admin_login("ops-li", RIGHT)
    assert signed_in(response)


@pytest.mark.django_db
def test_the_lockout_message_is_in_the_staff_members_language():
    StaffFactory(username="ops-li")
    for i in range(3):
        admin_login("ops-li", f"wrong-{i}")

    response, _client = admin_login("ops-li", RIGHT, HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert "该用户名登录失败次数过多" in response.content.decode()
    assert "10 分钟" in response.content.decode()


@pytest.mark.django_db
def test_a_username_differing_only_in_case_shares_the_count():
    StaffFactory(username="ops-li")

    for name in ("ops-li", "OPS-LI", "Ops-Li"):
        admin_login(name, "wrong")
    response, _client = admin_login("ops-li", RIGHT)

    assert not signed_in(response)


@pytest.mark.django_db
def test_every_spelling_that_signs_in_as_one_account_shares_its_count(settings):
    # On MySQL/MariaDB the username's collation ignores accents: "öps-li" signs in as "ops-li".
    settings.LOGIN_LOCKOUT_ADDRESS_FAILURES = 1000  # the username's count alone
    StaffFactory(username="ops-li")
    spellings = ["ops-li", "öps-li", "ôps-li", "ops-lí", "öps-lí"]
    if get_user_model().objects.filter(username="öps-li").exists():
        for name in spellings:
            admin_login(name, "wrong")
        response, _client = admin_login("ops-li", RIGHT)
        assert not signed_in(response)
    else:  # a database that compares names exactly: each spelling is another (unknown) account
        for name in spellings[1:]:
            admin_login(name, "wrong")
        response, _client = admin_login("ops-li", RIGHT)
        assert signed_in(response)


@pytest.mark.django_db
def test_an_address_that_fails_across_usernames_is_locked_out():
    StaffFactory(username="finance-wang")
    for i in range(5):  # five different usernames, never three for one
        admin_login(f"guess-{i}", "wrong")

    response, _client = admin_login("finance-wang", RIGHT)

    assert not signed_in(response)
    assert "Too many failed sign-ins from your network address" in response.content.decode()
    locked = audit("login_locked")
    assert [(row.object_id, row.data["scope"]) for row in locked] == [(0, "address")]


@pytest.mark.django_db
def test_behind_a_trusted_proxy_another_customer_address_is_not_locked(settings):
    settings.TRUSTED_PROXIES = "1"
    StaffFactory(username="finance-wang")
    for i in range(5):
        admin_login(f"guess-{i}", "wrong", HTTP_X_FORWARDED_FOR="198.51.100.1")

    locked_out, _client = admin_login("finance-wang", RIGHT, HTTP_X_FORWARDED_FOR="198.51.100.1")
    elsewhere, _client = admin_login("finance-wang", RIGHT, HTTP_X_FORWARDED_FOR="198.51.100.2")

    assert not signed_in(locked_out)
    assert signed_in(elsewhere)


@pytest.mark.django_db
def test_a_forged_header_does_not_escape_the_address_lockout():
    StaffFactory(username="finance-wang")
    for i in range(5):
        admin_login(f"guess-{i}", "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")

    response, _client = admin_login("finance-wang", RIGHT, HTTP_X_FORWARDED_FOR="203.0.113.99")

    assert not signed_in(response)


@pytest.mark.django_db
def test_a_successful_sign_in_clears_the_usernames_failures():
    StaffFactory(username="ops-li")
    for i in range(2):
        admin_login("ops-li", f"wrong-{i}")
    response, _client = admin_login("ops-li", RIGHT)
    assert signed_in(response)

    admin_login("ops-li", "wrong-again")
    response, _client = admin_login("ops-li", RIGHT)

    assert signed_in(response)


@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_are_each_counted_and_lock_once(settings):
    settings.LOGIN_LOCKOUT_ADDRESS_FAILURES = 1000
    StaffFactory(username="ops-li")

    def attempt(i: int) -> int:
        response, _client = admin_login("ops-li", f"wrong-{i}")
        return response.status_code

    statuses = run_concurrently(attempt, [(i,) for i in range(24)])

    assert statuses == [200] * 24
    failed = audit("login_failed")
    account = f"user:acct:{get_user_model().objects.get(username='ops-li').pk}"  # counted by account
    counted = ThrottleCounter.objects.filter(key=f"login:fail:{account}").values_list("count", flat=True)
    assert sum(counted) == len(failed) >= 3
    assert len(audit("login_locked")) == 1
    assert ThrottleCounter.objects.filter(key=f"login:lock:{account}").count() == 1


# /auth/token ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_token_endpoint_shares_the_lockout(api_client):
    user = UserFactory(username="xiaoming")

    statuses = [
        api_client.post(TOKEN, {"username": "xiaoming", "password": f"wrong-{i}"}, format="json").status_code
        for i in range(3)
    ]
    response = api_client.post(TOKEN, {"username": "xiaoming", "password": RIGHT}, format="json")

    assert statuses == [400, 400, 400]
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "THROTTLED"
    assert 0 < int(response["Retry-After"]) <= 600
    assert [(row.object_id, row.data["via"]) for row in audit("login_failed")] == [(user.pk, "api")] * 3
    # and admin refuses the same username
    assert not signed_in(admin_login("xiaoming", RIGHT)[0])


@pytest.mark.django_db
def test_a_failure_without_a_request_is_not_counted():
    UserFactory(username="xiaoming")

    assert not Client().login(username="xiaoming", password="wrong")

    assert ThrottleCounter.objects.count() == 0
    assert get_user_model().objects.filter(username="xiaoming").exists()


# usernames that look like the counters' own keys ------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["id:{pk}", "acct:{pk}", "ACCT:{pk}"])
def test_a_name_spelled_like_an_accounts_key_locks_out_nobody_else(typed):
    boss = StaffFactory(username="boss-wang")
    name = typed.format(pk=boss.pk)

    for i in range(3):
        admin_login(name, f"wrong-{i}", REMOTE_ADDR=f"10.0.0.{i + 1}")
    response, _client = admin_login("boss-wang", RIGHT, REMOTE_ADDR="10.9.9.9")

    assert signed_in(response)
    assert [entry.object_id for entry in audit("login_failed")] == [0, 0, 0]  # about no account


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["id:abc", "acct:", "name:x"])
def test_a_name_spelled_like_a_key_is_an_ordinary_wrong_sign_in(api_client, name):
    api = api_client.post(TOKEN, {"username": name, "password": "x"}, format="json")
    page, _client = admin_login(name, "x")

    assert api.status_code == 400 and api.json()["error"]["code"] == "INVALID_CREDENTIALS"
    assert page.status_code == 200 and not signed_in(page)


@pytest.mark.django_db
def test_a_username_with_a_lone_surrogate_is_a_400_and_counts_only_against_the_address(api_client):
    response = api_client.generic(
        "POST", TOKEN, b'{"username": "a\\ud800", "password": "x"}', content_type="application/json"
    )

    assert response.status_code == 400 and response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert not ThrottleCounter.objects.filter(key__startswith="login:fail:user:").exists()
