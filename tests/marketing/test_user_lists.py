"""Uploaded customer lists: any line ending, and a clean refusal for what is not text."""

import base64

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from marketing.models import BulkGrant
from marketing.services.bulk_grants import parse_user_list
from tests.error_shape import assert_api_error
from tests.factories import CouponTemplateFactory, UserFactory

GRANTS = "/api/v1/staff/bulk-grants/"
# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("as_bytes", [False, True])
def test_every_line_ending_reads_the_same(ending, as_bytes):
    text = ending.join(["username", "alice", "bob;carol", '"dave erin"', "alice", ""])

    users = parse_user_list(text.encode() if as_bytes else text)

    assert users == ["alice", "bob", "carol", "dave", "erin"]


def test_a_utf8_file_with_a_byte_order_mark_and_chinese_names():
    assert parse_user_list("\ufeffuser_id\r小明\r42\r".encode()) == ["小明", "42"]


@pytest.mark.parametrize(
    "raw",
    [PNG, b"alice\x00bob", b"\xff\xfe\x00a\x00l\x00i\x00c\x00e", "alice\x00bob", b'"' + b"a" * 200_000 + b'"'],
    ids=["png", "nul", "utf-16", "nul-text", "huge-field"],
)
def test_what_is_not_a_text_list_is_a_validation_error(raw):
    with pytest.raises(ValidationError) as caught:
        parse_user_list(raw)

    assert caught.value.messages and all(m.strip() for m in caught.value.messages)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content",
    [PNG, b"username\ralice\rbob\r"],
    ids=["png", "bare-cr"],
)
def test_the_staff_api_answers_an_upload_in_the_error_shape_or_takes_it(operations_client, content):
    UserFactory(username="alice"), UserFactory(username="bob")
    upload = SimpleUploadedFile("users.csv", content, content_type="text/csv")

    response = operations_client.post(
        GRANTS,
        {"name": "list", "target_type": "USER_LIST", "template_id": CouponTemplateFactory().pk, "users_file": upload},
        format="multipart",
    )

    if content == PNG:
        assert_api_error(response, 400, "VALIDATION_ERROR")
        assert BulkGrant.objects.count() == 0
    else:
        assert response.status_code == 201, response.content
        assert BulkGrant.objects.get().targeted == 2


@pytest.mark.django_db
@pytest.mark.parametrize("token", ["①", "²", "٣"])
def test_a_digit_that_is_not_ascii_is_a_username_over_the_api(operations_client, token):
    # str.isdigit() holds for these, int() does not take them: they are usernames, unknown here.
    response = operations_client.post(
        GRANTS,
        {"name": "list", "target_type": "USER_LIST", "template_id": CouponTemplateFactory().pk, "users": [token]},
        format="json",
    )

    error = assert_api_error(response, 400, "VALIDATION_ERROR", "users")
    assert error["details"]["unknown"] == [token]
    assert BulkGrant.objects.count() == 0
