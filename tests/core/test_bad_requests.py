"""No 5xx from input: nested and oversized bodies, unknown API paths with any DEBUG, an
unforeseen error, and refusals written wholly in the reader's language."""

import json
import re

import pytest
from django.core.cache import cache
from django.test import Client

from tests.conftest import client_for
from tests.error_shape import assert_api_error
from tests.factories import CouponTemplateFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

NESTED = "[" * 1000 + "1" + "]" * 1000  # 2,001 bytes


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()


def json_endpoints() -> list[tuple[str, str]]:
    """(path, who) for JSON POST endpoints of every kind: anonymous, customer, staff."""
    return [
        ("/api/v1/auth/register", "anonymous"),
        ("/api/v1/auth/token", "anonymous"),
        ("/api/v1/templates/{template}/claim", "customer"),
        ("/api/v1/redeem-code", "customer"),
        ("/api/v1/checkout/preview", "customer"),
        ("/api/v1/orders/", "customer"),
        ("/api/v1/staff/templates/", "staff"),
        ("/api/v1/staff/bulk-grants/", "staff"),
    ]


def client_as(who: str) -> Client:
    if who == "anonymous":
        return Client()
    user = StaffFactory(role="operations") if who == "staff" else UserFactory()
    client = Client()
    client.defaults["HTTP_AUTHORIZATION"] = client_for(user)._credentials["HTTP_AUTHORIZATION"]
    return client


def post_raw(who: str, path: str, body: str | bytes, **headers) -> object:
    path = path.format(template=CouponTemplateFactory().pk)
    return client_as(who).post(path, data=body, content_type="application/json", **headers)


@pytest.mark.parametrize(("path", "who"), json_endpoints())
def test_a_thousand_nested_brackets_are_a_malformed_request(path, who):
    assert len(NESTED) == 2001

    response = post_raw(who, path, NESTED)

    assert_api_error(response, 400, "MALFORMED_REQUEST")


@pytest.mark.parametrize("depth", [33, 200, 990])
def test_nesting_is_bounded_inside_an_object_too(depth):
    body = '{"username": ' + "[" * depth + "]" * depth + ', "password": "x"}'

    response = post_raw("anonymous", "/api/v1/auth/register", body)

    assert_api_error(response, 400, "MALFORMED_REQUEST")


def test_shallow_nesting_is_read_and_validated_as_usual():
    body = json.dumps({"username": [[["a"]]], "password": "duck-and-plum-2030"})

    response = post_raw("anonymous", "/api/v1/auth/register", body)

    assert_api_error(response, 400, "VALIDATION_ERROR", field="username")


@pytest.mark.parametrize(("path", "who"), json_endpoints())
def test_a_body_over_the_upload_limit_is_413_in_the_error_shape(settings, path, who):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000
    body = json.dumps({"username": "x" * 150_000, "lines": []})

    response = post_raw(who, path, body)

    error = assert_api_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert error["details"] == {"limit": 100_000}


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/api/v1/orders/abc", "/api/v1/templates/abc/claim", "/api/nothing/", "/api/"]
)
def test_every_unknown_api_path_is_a_json_404(settings, debug, path):
    settings.DEBUG = debug

    for method in ("get", "post", "delete"):
        response = getattr(client_as("customer"), method)(path)
        assert_api_error(response, 404, "NOT_FOUND")


def test_an_unknown_page_outside_the_api_stays_html(settings):
    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_an_unforeseen_error_in_a_view_answers_json_500(monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug nobody foresaw")

    monkeypatch.setattr("coupons.api.customer.coupon_claim", broken)
    client = client_as("customer")
    client.raise_request_exception = False

    response = client.post(f"/api/v1/templates/{CouponTemplateFactory().pk}/claim", content_type="application/json")

    error = assert_api_error(response, 500, "INTERNAL_ERROR")
    assert "nobody foresaw" not in error["message"]


def test_an_error_outside_any_view_answers_json_500_under_the_api(rf):
    from core.api.views import server_error

    api = server_error(rf.get("/api/v1/anything"))
    page = server_error(rf.get("/admin/"))

    assert api.status_code == 500
    assert json.loads(api.content)["error"]["code"] == "INTERNAL_ERROR"
    assert page["Content-Type"].startswith("text/html")


# the reader's language -------------------------------------------------------------------------

LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


@pytest.mark.parametrize(
    "password",
    ["123", "password", "1234567890", "short1", "xiaoming2030"],
)
def test_password_rules_are_wholly_in_chinese_for_a_chinese_reader(password):
    response = post_raw(
        "anonymous",
        "/api/v1/auth/register",
        json.dumps({"username": "xiaoming2030", "password": password}),
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )

    error = assert_api_error(response, 400, "VALIDATION_ERROR", field="password")
    for message in [error["message"], *error["details"]["password"]]:
        assert not LATIN_WORD.search(message), message


def test_the_length_rule_reads_in_english_too():
    response = post_raw(
        "anonymous", "/api/v1/auth/register", json.dumps({"username": "xiaoming", "password": "short1"})
    )

    error = assert_api_error(response, 400, "VALIDATION_ERROR", field="password")
    assert "This password is too short. It must contain at least 8 characters." in error["details"]["password"]


@pytest.mark.parametrize(
    ("body", "language", "expected"),
    [
        ("{bad", "zh-hans", "请求体不是有效的 JSON（第 1 行第 2 列）。"),
        ("{bad", "en", "The request body is not valid JSON (line 1, column 2)."),
        ('{"a": NaN}', "zh-hans", "请求体不是有效的 JSON。"),
        (b"\xff\xfe{", "zh-hans", "请求体不是有效的 JSON。"),
        (NESTED, "zh-hans", "请求体嵌套过深（最多 32 层）。"),
        (NESTED, "en", "The request body nests too deeply (32 levels at most)."),
    ],
)
def test_json_parse_errors_are_in_the_readers_language(body, language, expected):
    response = post_raw("anonymous", "/api/v1/auth/register", body, HTTP_ACCEPT_LANGUAGE=language)

    error = assert_api_error(response, 400, "MALFORMED_REQUEST")
    assert error["message"] == expected


def test_a_too_large_body_is_refused_in_chinese(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = post_raw("anonymous", "/api/v1/auth/register", "x" * 2000, HTTP_ACCEPT_LANGUAGE="zh-hans")

    error = assert_api_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert error["message"] == "请求体过大（最多 1000 字节）。"
