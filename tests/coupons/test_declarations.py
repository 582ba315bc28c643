"""One declaration per rule feeds every face: a rule class registered here, with no admin or
serializer code touched, appears in the admin editor with working widgets, is validated and stored,
is summarised, and is described in the OpenAPI schema."""

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from django.test import Client
from django.utils import translation

from coupons.engine import RULES, Param, ParamKind, register_rule, unregister_rule
from coupons.engine.messages import gettext_noop
from coupons.engine.rules import Rule
from coupons.engine.types import Reason
from coupons.models import CouponTemplate
from coupons.summary import template_summary
from tests.coupons.bad_templates import admin_form_data
from tests.factories.orders import CategoryFactory, ProductFactory
from tests.factories.template_input import TemplateInputFactory

pytestmark = pytest.mark.django_db

ADD = "/admin/coupons/coupontemplate/add/"


@dataclass(frozen=True)
class LuckyDay(Rule):
    """A throwaway rule: spend at least ``amount`` on one of ``days``, with ``dishes`` in the order."""

    rule_type: ClassVar[str] = "LUCKY_DAY"
    label: ClassVar[str] = gettext_noop("Lucky day")
    params: ClassVar[tuple[Param, ...]] = (
        Param("amount", ParamKind.MONEY, gettext_noop("Lucky amount")),
        Param("days", ParamKind.WEEKDAYS, gettext_noop("Lucky days")),
        Param("dishes", ParamKind.DISHES, gettext_noop("Lucky dishes"), required=False),
        Param("double", ParamKind.BOOL, gettext_noop("Double luck"), required=False, default=False),
    )
    summary: ClassVar[str] = "lucky from ¥%(amount)s on %(days)s"
    amount: Decimal
    days: tuple[int, ...]
    dishes: tuple[str, ...]
    double: bool

    def to_params(self) -> dict[str, Any]:
        return {"amount": str(self.amount), "days": list(self.days), "dishes": list(self.dishes), "double": self.double}

    def check(self, situation: Any) -> Reason | None:
        return None


@pytest.fixture
def lucky_day():
    register_rule(LuckyDay)
    try:
        yield LuckyDay
    finally:
        unregister_rule(LuckyDay.rule_type)
    assert "LUCKY_DAY" not in RULES


def test_a_registered_rule_has_its_widgets_in_the_admin_editor(operations_user, lucky_day):
    client = Client()
    client.force_login(operations_user)

    page = client.get(ADD).content.decode()

    assert '<option value="LUCKY_DAY">Lucky day</option>' in page
    assert 'name="rules-__prefix__-LUCKY_DAY__amount"' in page
    for day in range(1, 8):
        assert f'name="rules-__prefix__-LUCKY_DAY__days" value="{day}"' in page
    assert 'name="rules-__prefix__-LUCKY_DAY__dishes"' in page and 'data-field-name="product"' in page
    assert 'type="checkbox" name="rules-__prefix__-LUCKY_DAY__double"' in page
    assert "Lucky amount" in page


def test_a_registered_rule_is_validated_and_stored_through_the_editor(operations_user, lucky_day):
    dish = ProductFactory(sku="d-888", category=CategoryFactory(code="cat-luck"))
    client = Client()
    client.force_login(operations_user)
    rules = [{"rule_type": "LUCKY_DAY", "params": {"amount": "8.88", "days": [5], "dishes": ["d-888"], "double": True}}]
    post = {**admin_form_data(TemplateInputFactory(usage_rules=rules)), "_save": "Save"}

    bad = client.post(ADD, {**post, "rules-0-LUCKY_DAY__amount": "-1", "rules-0-LUCKY_DAY__days": []})
    good = client.post(ADD, post)

    bad_row = bad.context["adminform"].form.rules.forms[0]
    assert {"LUCKY_DAY__amount"} <= set(bad_row.errors)
    assert good.status_code == 302, good.context["adminform"].form.errors
    template = CouponTemplate.objects.get()
    assert template.usage_rules == [
        {"rule_type": "LUCKY_DAY", "params": {"amount": "8.88", "days": [5], "dishes": [dish.sku], "double": True}}
    ]
    with translation.override("en"):
        assert "lucky from ¥8.88 on Fri" in template_summary(template)


def test_a_registered_rule_is_in_the_openapi_schema(api_client, lucky_day):
    schema = json.loads(api_client.get("/api/schema/", {"format": "json"}).content)

    request = schema["components"]["schemas"]["TemplateInputRequest"]["properties"]["usage_rules"]
    rules = {option["title"]: option for option in request["items"]["oneOf"]}
    assert {"MINIMUM_SPEND", "VALID_TIME_SLOTS", "LUCKY_DAY"} <= set(rules)
    lucky = rules["LUCKY_DAY"]["properties"]
    assert lucky["rule_type"]["enum"] == ["LUCKY_DAY"]
    assert lucky["params"]["required"] == ["amount", "days"]
    assert lucky["params"]["properties"]["days"]["items"] == {"type": "integer", "minimum": 1, "maximum": 7}
    assert lucky["params"]["properties"]["dishes"]["type"] == "array"
    assert lucky["params"]["properties"]["double"] == {"type": "boolean", "description": "Double luck"}


def test_the_schema_has_a_value_shape_per_coupon_type(api_client):
    schema = json.loads(api_client.get("/api/schema/", {"format": "json"}).content)

    value = schema["components"]["schemas"]["TemplateInputRequest"]["properties"]["value"]
    shapes = {option["title"]: option for option in value["oneOf"]}
    assert set(shapes) == {"CASH_VOUCHER", "PERCENTAGE_DISCOUNT", "RANDOM_CASH", "FREE_ITEM"}
    assert shapes["PERCENTAGE_DISCOUNT"]["required"] == ["percentage"]
    assert shapes["FREE_ITEM"]["properties"]["quantity"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 99,
        "description": "Quantity",
    }
    output = schema["components"]["schemas"]["TemplateOutput"]["properties"]
    assert "oneOf" in output["value"] and output["summary"]["type"] == "string"
    assert "LUCKY_DAY" not in json.dumps(schema)


def test_the_staff_api_refuses_a_discount_at_its_threshold_on_the_value_field(operations_client):
    body = TemplateInputFactory(value={"amount": "200.00"})

    response = operations_client.post("/api/v1/staff/templates/", body, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert "value" in error["details"]
    assert "threshold" in " ".join(error["details"]["value"])
    assert CouponTemplate.objects.count() == 0
