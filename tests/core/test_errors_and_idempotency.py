"""One error shape for every API failure, and Idempotency-Key after Stripe's design."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError, connection
from django.http import Http404
from django.utils import timezone
from rest_framework import exceptions

from core.api.exception_handler import api_exception_handler
from core.errors import (
    ApplicationError,
    Conflict,
    IdempotencyMismatch,
    InvalidTransition,
    NotFound,
    PermissionDeniedError,
    TooManyRequests,
    ValidationFailed,
)
from core.models import AuditLog, IdempotencyRecord
from core.roles import sync_role_groups
from coupons import services
from coupons.models import CouponTemplate, TemplateStatus, UserCoupon
from tests.conftest import client_for
from tests.error_shape import assert_api_error
from tests.factories import CouponTemplateFactory, StaffFactory
from tests.factories.template_input import TemplateInputFactory

S = TemplateStatus
TEMPLATES = "/api/v1/staff/templates/"


def submit_url(pk: int) -> str:
    return f"{TEMPLATES}{pk}/submit"


# the exception handler -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (ApplicationError("no"), 400, "INVALID"),
        (ValidationFailed("bad", details={"name": ["required"]}), 400, "VALIDATION_ERROR"),
        (NotFound("gone"), 404, "NOT_FOUND"),
        (PermissionDeniedError("no"), 403, "PERMISSION_DENIED"),
        (Conflict("busy"), 409, "CONFLICT"),
        (InvalidTransition("wrong state"), 409, "INVALID_STATE"),
        (InvalidTransition("sold out", code="SOLD_OUT"), 409, "SOLD_OUT"),
        (IdempotencyMismatch("reused"), 422, "IDEMPOTENCY_KEY_REUSED"),
        (TooManyRequests("slow down"), 429, "THROTTLED"),
    ],
)
def test_application_errors_keep_their_code_status_and_details(exc, status, code):
    response = api_exception_handler(exc, {})

    assert response.status_code == status
    assert response.data == {"error": {"code": code, "message": exc.message, "details": exc.details}}


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (DjangoValidationError({"price": ["must not be negative"]}), 400, "VALIDATION_ERROR"),
        (DjangoValidationError("whole object is wrong"), 400, "VALIDATION_ERROR"),
        (exceptions.ValidationError({"sku": ["bad"]}), 400, "VALIDATION_ERROR"),
        (exceptions.ValidationError(["not a field"]), 400, "VALIDATION_ERROR"),
        (Http404(), 404, "NOT_FOUND"),
        (DjangoPermissionDenied(), 403, "PERMISSION_DENIED"),
        (exceptions.NotAuthenticated(), 401, "NOT_AUTHENTICATED"),
        (exceptions.AuthenticationFailed(), 401, "NOT_AUTHENTICATED"),
        (exceptions.ParseError(), 400, "MALFORMED_REQUEST"),
        (exceptions.MethodNotAllowed("PUT"), 405, "METHOD_NOT_ALLOWED"),
        (exceptions.UnsupportedMediaType("text/csv"), 415, "UNSUPPORTED_MEDIA_TYPE"),
    ],
)
def test_django_and_drf_errors_are_mapped_to_the_shape(exc, status, code):
    response = api_exception_handler(exc, {})

    assert response.status_code == status
    assert set(response.data) == {"error"}
    error = response.data["error"]
    assert (set(error), error["code"]) == ({"code", "message", "details"}, code)
    assert str(error["message"]).strip()
    assert isinstance(error["details"], dict)


def test_validation_details_are_keyed_by_field():
    response = api_exception_handler(DjangoValidationError({"price": ["must not be negative"]}), {})

    assert response.data["error"]["details"] == {"price": ["must not be negative"]}


def test_a_non_field_validation_error_is_under_non_field_errors():
    response = api_exception_handler(exceptions.ValidationError(["not a field"]), {})

    assert list(response.data["error"]["details"]) == ["non_field_errors"]


def test_throttled_says_when_to_retry():
    response = api_exception_handler(exceptions.Throttled(wait=12), {})

    assert response.status_code == 429
    assert response.data["error"]["code"] == "THROTTLED"
    assert response.data["error"]["details"] == {"retry_after": 12}


def test_an_unexpected_exception_answers_500_in_the_shape():
    response = api_exception_handler(RuntimeError("boom"), {})

    assert response is not None and response.status_code == 500
    assert response.data["error"]["code"] == "INTERNAL_ERROR"
    assert "boom" not in response.data["error"]["message"]


def test_a_lost_database_connection_is_left_to_the_retrying_middleware():
    assert api_exception_handler(OperationalError(2013, "Lost connection to server during query"), {}) is None


@pytest.mark.django_db
def test_malformed_json_is_a_400_in_the_shape(operations_client):
    response = operations_client.post(TEMPLATES, data=b'{"name": ', content_type="application/json")

    assert_api_error(response, 400, "MALFORMED_REQUEST")
    assert CouponTemplate.objects.count() == 0


@pytest.mark.django_db
def test_a_wrong_method_is_a_405_in_the_shape(operations_client):
    response = operations_client.put(TEMPLATES, {}, format="json")

    assert_api_error(response, 405, "METHOD_NOT_ALLOWED")


@pytest.mark.django_db
def test_a_bad_token_is_a_401_in_the_shape(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = api_client.get(TEMPLATES)

    assert_api_error(response, 401, "NOT_AUTHENTICATED")


@pytest.mark.django_db
def test_an_unknown_api_path_is_a_404(operations_client):
    assert operations_client.get("/api/v1/staff/nothing-here/").status_code == 404


# idempotency -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_same_key_and_body_replays_and_acts_once(operations_client):
    body = TemplateInputFactory()

    first = operations_client.post(TEMPLATES, body, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    second = operations_client.post(TEMPLATES, body, format="json", HTTP_IDEMPOTENCY_KEY="abc")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert "Idempotent-Replayed" not in first
    assert second["Idempotent-Replayed"] == "true"
    assert CouponTemplate.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert (record.key, record.status_code, record.method) == ("abc", 201, "POST")


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_refused(operations_client):
    operations_client.post(TEMPLATES, TemplateInputFactory(name="A"), format="json", HTTP_IDEMPOTENCY_KEY="abc")

    response = operations_client.post(
        TEMPLATES, TemplateInputFactory(name="B"), format="json", HTTP_IDEMPOTENCY_KEY="abc"
    )

    assert_api_error(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert list(CouponTemplate.objects.values_list("name", flat=True)) == ["A"]


@pytest.mark.django_db
def test_the_same_key_on_another_path_is_refused(operations_client):
    template = CouponTemplateFactory(status=S.DRAFT)
    operations_client.post(submit_url(template.pk), format="json", HTTP_IDEMPOTENCY_KEY="abc")

    response = operations_client.post(f"{TEMPLATES}{template.pk}/copy", format="json", HTTP_IDEMPOTENCY_KEY="abc")

    assert_api_error(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert CouponTemplate.objects.count() == 1


@pytest.mark.django_db
def test_keys_that_differ_only_in_case_are_two_keys(operations_client):
    first = operations_client.post(TEMPLATES, TemplateInputFactory(name="A"), format="json", HTTP_IDEMPOTENCY_KEY="abc")
    second = operations_client.post(
        TEMPLATES, TemplateInputFactory(name="B"), format="json", HTTP_IDEMPOTENCY_KEY="ABC"
    )
    again = operations_client.post(TEMPLATES, TemplateInputFactory(name="A"), format="json", HTTP_IDEMPOTENCY_KEY="Abc")

    assert (first.status_code, second.status_code, again.status_code) == (201, 201, 201)
    assert "Idempotent-Replayed" not in again
    assert sorted(CouponTemplate.objects.values_list("name", flat=True)) == ["A", "A", "B"]
    assert sorted(IdempotencyRecord.objects.values_list("key", flat=True)) == ["ABC", "Abc", "abc"]


@pytest.mark.django_db
def test_keys_belong_to_one_user(operations_client):
    body = TemplateInputFactory()
    other = client_for(StaffFactory(role="operations"))

    operations_client.post(TEMPLATES, body, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    response = other.post(TEMPLATES, body, format="json", HTTP_IDEMPOTENCY_KEY="shared")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert CouponTemplate.objects.count() == 2


@pytest.mark.django_db
def test_an_error_answer_is_stored_and_replayed(operations_client, operations_user):
    # given a submit that fails because the template is already pending
    template = CouponTemplateFactory(status=S.PENDING_REVIEW)
    first = operations_client.post(submit_url(template.pk), format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
    # and the template went back to draft since
    CouponTemplate.objects.filter(pk=template.pk).update(status=S.DRAFT)

    # when the client retries with the same key
    second = operations_client.post(submit_url(template.pk), format="json", HTTP_IDEMPOTENCY_KEY="retry-me")

    # then it gets the first answer and nothing happens again
    assert_api_error(first, 409, "INVALID_STATE")
    assert second.status_code == 409
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert CouponTemplate.objects.get(pk=template.pk).status == S.DRAFT
    assert AuditLog.objects.count() == 0


@pytest.mark.django_db
def test_a_validation_error_is_stored_too(operations_client):
    body = TemplateInputFactory(total_quantity=0)

    first = operations_client.post(TEMPLATES, body, format="json", HTTP_IDEMPOTENCY_KEY="bad")
    second = operations_client.post(TEMPLATES, body, format="json", HTTP_IDEMPOTENCY_KEY="bad")

    assert_api_error(first, 400, "VALIDATION_ERROR", field="total_quantity")
    assert (second.status_code, second.json(), second["Idempotent-Replayed"]) == (400, first.json(), "true")


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["{not json", "]]"])
def test_a_body_that_cannot_be_read_is_refused_with_a_key_too_and_nothing_is_stored(customer_client, body):
    # given: a claim sent with a broken JSON body and an Idempotency-Key
    template = CouponTemplateFactory(per_user_limit=5)
    url = f"/api/v1/templates/{template.pk}/claim"

    # when
    keyed = customer_client.generic("POST", url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")

    # then: refused as without a key; nothing issued, nothing stored (the key stays free for a good request)
    assert_api_error(keyed, 400, "MALFORMED_REQUEST")
    assert not UserCoupon.objects.exists()
    assert not IdempotencyRecord.objects.exists()
    assert customer_client.post(url, HTTP_IDEMPOTENCY_KEY="k1").status_code == 201


def test_a_key_older_than_the_ttl_is_forgotten(operations_client, settings):
    body = TemplateInputFactory()
    operations_client.post(TEMPLATES, body, format="json", HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS + 1))

    response = operations_client.post(TEMPLATES, body, format="json", HTTP_IDEMPOTENCY_KEY="old")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert CouponTemplate.objects.count() == 2
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db
def test_a_key_within_the_ttl_still_replays(operations_client, settings):
    body = TemplateInputFactory()
    operations_client.post(TEMPLATES, body, format="json", HTTP_IDEMPOTENCY_KEY="recent")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS - 1))

    response = operations_client.post(TEMPLATES, body, format="json", HTTP_IDEMPOTENCY_KEY="recent")

    assert response["Idempotent-Replayed"] == "true"
    assert CouponTemplate.objects.count() == 1


@pytest.mark.django_db
def test_a_too_long_key_is_refused(operations_client):
    response = operations_client.post(TEMPLATES, TemplateInputFactory(), format="json", HTTP_IDEMPOTENCY_KEY="k" * 256)

    assert_api_error(response, 400, "VALIDATION_ERROR")
    assert (CouponTemplate.objects.count(), IdempotencyRecord.objects.count()) == (0, 0)


@pytest.mark.django_db
def test_a_server_error_is_not_stored_so_the_client_may_retry(operations_client, monkeypatch):
    template = CouponTemplateFactory(status=S.DRAFT)

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "template_submit", broken)
    with pytest.raises(RuntimeError):
        operations_client.post(submit_url(template.pk), format="json", HTTP_IDEMPOTENCY_KEY="5xx")
    assert IdempotencyRecord.objects.count() == 0
    monkeypatch.undo()

    retry = operations_client.post(submit_url(template.pk), format="json", HTTP_IDEMPOTENCY_KEY="5xx")

    assert retry.status_code == 200
    assert CouponTemplate.objects.get(pk=template.pk).status == S.PENDING_REVIEW


@pytest.mark.django_db
def test_a_deadlock_under_a_key_runs_the_request_again(operations_client, monkeypatch):
    """The view's transaction holds the key's record: a deadlock rolls both back and the whole request runs
    again (the services' own retries are off inside it), never a 500."""
    template = CouponTemplateFactory(status=S.DRAFT)
    submit, calls = services.template_submit, []

    def deadlocked_once(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction")
        return submit(**kwargs)

    monkeypatch.setattr(services, "template_submit", deadlocked_once)
    response = operations_client.post(submit_url(template.pk), format="json", HTTP_IDEMPOTENCY_KEY="deadlock")

    assert response.status_code == 200
    assert len(calls) == 2
    assert CouponTemplate.objects.get(pk=template.pk).status == S.PENDING_REVIEW
    assert IdempotencyRecord.objects.get().status_code == 200


@pytest.fixture(scope="module")
def restore_role_groups(django_db_setup, django_db_blocker):
    """After this module, put back the role groups that a transactional test's flush removed: they come
    from a data migration, and later tests (or a later run with --reuse-db) expect them."""
    yield
    with django_db_blocker.unblock():
        sync_role_groups(Group, Permission)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("restore_role_groups")
def test_concurrent_requests_with_one_key_cause_one_effect():
    # given several clients firing the same create with one key at once
    user = StaffFactory(role="operations")
    body = TemplateInputFactory()
    start = threading.Barrier(6)
    answers: list[tuple[int, dict]] = []

    def fire() -> None:
        client = client_for(user)
        try:
            start.wait()
            response = client.post(TEMPLATES, body, format="json", HTTP_IDEMPOTENCY_KEY="together")
            answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=fire) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # then one template exists and every client got its answer
    assert CouponTemplate.objects.count() == 1
    assert len(answers) == 6
    assert {status for status, _body in answers} == {201}
    assert {data["id"] for _status, data in answers} == {CouponTemplate.objects.get().pk}
