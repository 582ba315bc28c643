"""Customer sign-up and token (POST /auth/register, POST /auth/token)."""

from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.authtoken.models import Token

from marketing.models import MemberProfile
from marketing.services.registration import INVITE_ALPHABET, INVITE_CODE_LENGTH
from tests.error_shape import assert_api_error
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
PASSWORD = "duck-and-plum-2030"
User = get_user_model()


@pytest.fixture(autouse=True)
def _fresh_throttle():
    # The auth throttle counts per IP in the cache (this run's own Redis db): start each test at zero.
    cache.clear()


def test_register_creates_the_customer_their_profile_and_a_token(api_client):
    response = api_client.post(
        REGISTER,
        {"username": "xiaoming", "password": PASSWORD, "birthday": "1990-05-01", "channel": "MINI_PROGRAM"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"token", "user_id"}
    user = User.objects.get(username="xiaoming")
    assert body["user_id"] == user.pk
    assert body["token"] == Token.objects.get(user=user).key
    assert user.check_password(PASSWORD)
    assert not user.is_staff
    profile = MemberProfile.objects.get(user=user)
    assert (profile.birthday, profile.channel, profile.level, profile.invited_by) == (
        date(1990, 5, 1),
        "MINI_PROGRAM",
        "NORMAL",
        None,
    )
    assert len(profile.invite_code) == INVITE_CODE_LENGTH
    assert set(profile.invite_code) <= set(INVITE_ALPHABET)


def test_the_token_works_on_the_api(api_client):
    token = api_client.post(REGISTER, {"username": "xiaohong", "password": PASSWORD}, format="json").json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    # a customer is authenticated (403, not 401) but not staff
    response = api_client.get("/api/v1/staff/templates/")

    assert_api_error(response, 403, "PERMISSION_DENIED")


def test_each_customer_gets_their_own_invite_code(api_client):
    for name in ("a1", "a2", "a3"):
        api_client.post(REGISTER, {"username": name, "password": PASSWORD}, format="json")

    codes = list(MemberProfile.objects.values_list("invite_code", flat=True))
    assert len(codes) == len(set(codes)) == 3


@pytest.mark.parametrize("typed", [str.upper, str.lower])
def test_an_invite_code_links_the_inviter(api_client, typed):
    inviter = UserFactory()
    code = inviter.member.invite_code

    response = api_client.post(
        REGISTER, {"username": "friend", "password": PASSWORD, "invite_code": typed(code)}, format="json"
    )

    assert response.status_code == 201
    assert MemberProfile.objects.get(user__username="friend").invited_by == inviter


def test_an_unknown_invite_code_creates_nobody(api_client):
    response = api_client.post(
        REGISTER, {"username": "friend", "password": PASSWORD, "invite_code": "ZZZZ9999"}, format="json"
    )

    assert_api_error(response, 400, "INVALID_INVITE_CODE", field="invite_code")
    assert not User.objects.filter(username="friend").exists()
    assert MemberProfile.objects.count() == 0


def test_a_taken_username_is_refused(api_client):
    UserFactory(username="xiaoming")

    response = api_client.post(REGISTER, {"username": "xiaoming", "password": PASSWORD}, format="json")

    assert_api_error(response, 400, field="username")
    assert User.objects.filter(username="xiaoming").count() == 1
    assert Token.objects.count() == 0


@pytest.mark.parametrize("password", ["123", "12345678901", "password", "short1"])
def test_a_weak_password_is_refused(api_client, password):
    response = api_client.post(REGISTER, {"username": "xiaoming", "password": password}, format="json")

    assert_api_error(response, 400, "VALIDATION_ERROR", field="password")
    assert not User.objects.filter(username="xiaoming").exists()


def test_a_password_like_the_username_is_refused(api_client):
    response = api_client.post(REGISTER, {"username": "xiaoming2030", "password": "xiaoming2030"}, format="json")

    assert_api_error(response, 400, "VALIDATION_ERROR", field="password")
    assert not User.objects.filter(username="xiaoming2030").exists()


@pytest.mark.parametrize("birthday", ["1990-13-45", "yesterday", 19900501, "2999-01-01"])
def test_a_bad_birthday_is_refused(api_client, birthday):
    response = api_client.post(
        REGISTER, {"username": "xiaoming", "password": PASSWORD, "birthday": birthday}, format="json"
    )

    assert_api_error(response, 400, "VALIDATION_ERROR", field="birthday")
    assert not User.objects.filter(username="xiaoming").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD}, "username"),
        ({"username": "has space", "password": PASSWORD}, "username"),
        ({"username": "x" * 151, "password": PASSWORD}, "username"),
        ({"username": "xiaoming"}, "password"),
        ({"username": "xiaoming", "password": PASSWORD, "channel": "FAX"}, "channel"),
    ],
)
def test_other_bad_sign_ups_are_refused(api_client, body, field):
    response = api_client.post(REGISTER, body, format="json")

    assert_api_error(response, 400, "VALIDATION_ERROR", field=field)
    assert User.objects.count() == 0


def test_token_for_the_right_password(api_client):
    user = UserFactory(username="xiaoming")

    response = api_client.post(TOKEN, {"username": "xiaoming", "password": "pass-1234"}, format="json")

    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=user).key}
    # asking again gives the same token
    again = api_client.post(TOKEN, {"username": "xiaoming", "password": "pass-1234"}, format="json")
    assert again.json() == response.json()


@pytest.mark.parametrize(("username", "password"), [("xiaoming", "wrong-pass"), ("nobody", "pass-1234")])
def test_token_for_wrong_credentials_is_refused_in_the_error_shape(api_client, username, password):
    UserFactory(username="xiaoming")

    response = api_client.post(TOKEN, {"username": username, "password": password}, format="json")

    assert response.status_code in (400, 401)
    error = assert_api_error(response, response.status_code, "INVALID_CREDENTIALS")
    assert "token" not in response.json()
    assert error["message"]
    assert Token.objects.count() == 0


def test_token_without_a_password_is_a_validation_error(api_client):
    response = api_client.post(TOKEN, {"username": "xiaoming"}, format="json")

    assert_api_error(response, 400, "VALIDATION_ERROR", field="password")


def test_an_inactive_customer_gets_no_token(api_client):
    UserFactory(username="gone", is_active=False)

    response = api_client.post(TOKEN, {"username": "gone", "password": "pass-1234"}, format="json")

    assert_api_error(response, 400, "INVALID_CREDENTIALS")


@pytest.mark.parametrize(
    ("username", "stored"),
    [("\ufb03" * 40, "ffi" * 40), ("Ｏｐｓ", "Ops")],  # a ligature, full-width letters
)
def test_a_username_is_checked_and_stored_as_normalised(api_client, username, stored):
    response = api_client.post(REGISTER, {"username": username, "password": "a-long-secret-99"}, format="json")

    assert response.status_code == 201
    assert get_user_model().objects.get(pk=response.json()["user_id"]).username == stored


@pytest.mark.parametrize("username", ["\ufb03" * 60, "\ufdfa"])  # 180 characters once normalised; one with spaces
def test_a_username_that_normalises_into_something_not_allowed_is_a_400(api_client, username):
    response = api_client.post(REGISTER, {"username": username, "password": "a-long-secret-99"}, format="json")

    assert_api_error(response, 400, "VALIDATION_ERROR", "username")
    assert not get_user_model().objects.exclude(is_staff=True).exists()
