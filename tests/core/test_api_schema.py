"""The OpenAPI schema describes the API truly: the error answers, the paginated
envelopes, the constraints of the input. Schemathesis holds the running API to it
(``tests/api/test_schema_fuzz.py``); these pin down what the schema must say."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema


@pytest.fixture(scope="module")
def schema() -> dict:
    document = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(document)  # OpenAPI 3
    return document


def component(schema: dict, ref: str) -> dict:
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def responses(schema: dict, path: str, method: str) -> dict:
    return schema["paths"][path][method]["responses"]


def test_every_error_answer_is_documented_in_the_error_shape(schema):
    error = schema["components"]["schemas"]["Error"]
    body = component(schema, error["properties"]["error"]["$ref"])
    assert set(body["properties"]) == {"code", "message", "details"}

    claim = responses(schema, "/api/v1/templates/{id}/claim", "post")
    assert set(claim) == {"201", "400", "401", "403", "404", "409", "414", "415", "422"}
    assert all(
        claim[s]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        for s in claim
        if s not in ("201", "414")  # 414 comes from the web server
    )
    assert "SOLD_OUT" in claim["409"]["description"] and "LIMIT_REACHED" in claim["409"]["description"]
    assert "IDEMPOTENCY_KEY_REUSED" in claim["422"]["description"]


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/api/v1/menu/", "get", {"200", "401"}),  # no input; a wrong token is still refused
        ("/api/v1/auth/register", "post", {"201", "400", "415", "429"}),  # no credentials read
        ("/api/v1/orders/{id}", "get", {"200", "401", "404", "414"}),
        ("/api/v1/orders/{id}/pay", "post", {"200", "400", "401", "403", "404", "409", "414", "415", "422"}),
        ("/api/v1/me/orders/", "get", {"200", "400", "401", "404", "414"}),  # filters, pages past the end
        ("/api/v1/staff/templates/", "get", {"200", "400", "401", "403", "404", "414"}),
        (
            "/api/v1/staff/templates/{id}/approve",
            "post",
            {"200", "400", "401", "403", "404", "409", "414", "415", "422"},
        ),
        ("/api/v1/staff/categories/", "post", {"200", "201", "400", "401", "403", "415"}),
        ("/api/v1/staff/categories/{code}", "delete", {"200", "401", "403", "404", "414"}),
        ("/api/v1/redeem-code", "post", {"201", "400", "401", "403", "404", "409", "415", "422", "429"}),
        (
            "/api/v1/staff/webhook-deliveries/{id}/retry",
            "post",
            {"200", "400", "401", "403", "404", "409", "414", "415", "422"},
        ),
    ],
)
def test_each_operation_documents_the_statuses_it_can_answer(schema, path, method, statuses):
    assert set(responses(schema, path, method)) == statuses


def test_throttled_answers_document_retry_after_and_idempotent_ones_the_key(schema):
    redeem = schema["paths"]["/api/v1/redeem-code"]["post"]

    assert "Retry-After" in redeem["responses"]["429"]["headers"]
    key = next(p for p in redeem["parameters"] if p["name"] == "Idempotency-Key")
    assert (key["in"], key["schema"]["maxLength"]) == ("header", 255)
    register = schema["paths"]["/api/v1/auth/register"]["post"]
    assert all(p["name"] != "Idempotency-Key" for p in register.get("parameters", []))


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/claim-center/",
        "/api/v1/activities/",
        "/api/v1/me/notifications/",
        "/api/v1/me/orders/",
        "/api/v1/me/coupons/",
        "/api/v1/staff/templates/",
        "/api/v1/staff/bulk-grants/",
        "/api/v1/staff/code-batches/",
        "/api/v1/staff/categories/",
        "/api/v1/staff/products/",
    ],
)
def test_lists_are_documented_as_pages(schema, path):
    operation = schema["paths"][path]["get"]
    page = component(schema, operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"])
    parameters = {p["name"]: p["schema"] for p in operation["parameters"]}

    assert {"count", "next", "previous", "results"} <= set(page["required"])
    assert page["properties"]["results"]["type"] == "array"
    assert parameters["page"]["minimum"] == 1
    assert (parameters["page_size"]["minimum"], parameters["page_size"]["maximum"]) == (1, 100)


def test_the_wallet_page_carries_counts_per_status(schema):
    operation = schema["paths"]["/api/v1/me/coupons/"]["get"]
    page = component(schema, operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"])

    assert set(page["properties"]["counts"]["required"]) == {"UNUSED", "LOCKED", "USED", "EXPIRED", "REVOKED"}


def test_output_fields_that_can_be_null_say_so(schema):
    template = schema["components"]["schemas"]["TemplateOutput"]["properties"]
    grant = schema["components"]["schemas"]["BulkGrantOutput"]["properties"]

    assert template["reviewed_by"]["nullable"] and template["created_by"]["nullable"]
    assert grant["reviewed_by"]["nullable"]


def test_input_constraints_are_stated(schema):
    cart = schema["components"]["schemas"]["CartInputRequest"]
    line = component(schema, cart["properties"]["lines"]["items"]["$ref"])
    password = schema["components"]["schemas"]["RegisterInputRequest"]["properties"]["password"]
    product = schema["components"]["schemas"]["ProductListInputRequest"]

    assert cart["additionalProperties"] is False and line["additionalProperties"] is False
    assert (cart["properties"]["lines"]["minItems"], cart["properties"]["lines"]["maxItems"]) == (1, 100)
    assert password["minLength"] == 8 and password["maxLength"] == 128
    assert product["properties"]["sku"]["pattern"] == "^[-a-z0-9_]+$"
    assert product["properties"]["price"]["pattern"] == r"^(?:\d{1,6}(?:\.\d{1,2})?|1000000(?:\.0{1,2})?)$"


def test_a_password_is_stated_as_kept_as_typed_and_a_name_as_not_blank(schema):
    """A password is not trimmed: one of spaces signs in, so the schema must not refuse it."""
    sign_in = schema["components"]["schemas"]["TokenInputRequest"]["properties"]
    register = schema["components"]["schemas"]["RegisterInputRequest"]["properties"]

    for password in (sign_in["password"], register["password"]):
        assert re.fullmatch(password["pattern"], " " * 12) and not re.fullmatch(password["pattern"], "a\x00b")
    assert not re.fullmatch(sign_in["username"]["pattern"], "   ")


def test_redeeming_a_code_states_every_refusal(schema):
    refusals = responses(schema, "/api/v1/redeem-code", "post")["409"]["description"]

    assert all(code in refusals for code in ("SOLD_OUT", "LIMIT_REACHED", "NOT_CLAIMABLE"))


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [
        ("/api/v1/staff/templates/{id}", "get", "200"),
        ("/api/v1/staff/templates/", "post", "201"),
        ("/api/v1/staff/templates/{id}/approve", "post", "200"),
        ("/api/v1/staff/bulk-grants/{id}", "get", "200"),
        ("/api/v1/staff/bulk-grants/", "post", "201"),
    ],
)
def test_answers_about_one_object_declare_its_audit_trail(schema, path, method, status):
    body = component(schema, responses(schema, path, method)[status]["content"]["application/json"]["schema"]["$ref"])
    trail = body["properties"]["audit_trail"]
    entry = component(schema, trail["items"]["$ref"])
    assert trail["type"] == "array"
    assert set(entry["properties"]) == {
        "actor",
        "action",
        "from_status",
        "to_status",
        "remark",
        "details",
        "created_at",
    }
