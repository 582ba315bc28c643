"""A template opened in the editor and saved as the page shows it keeps its definition; what the editor
and the staff API accept is the same."""

from datetime import datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from coupons import services
from coupons.admin_forms.fields import SLOT_ROWS
from coupons.engine.declarations import MAX_SLOTS
from coupons.models import CouponTemplate
from coupons.validation import MAX_DESCRIPTION
from tests.coupons.bad_templates import admin_form_data
from tests.factories.orders import CategoryFactory, ProductFactory
from tests.factories.template_input import TemplateInputFactory

pytestmark = pytest.mark.django_db

ADD = "/admin/coupons/coupontemplate/add/"
API = "/api/v1/staff/templates/"
LUNCH = {"rule_type": "VALID_TIME_SLOTS", "params": {"slots": [{"start": "11:00", "end": "14:00"}]}}


class _PageForm(HTMLParser):
    """The fields a browser posts from the change form as rendered (no script run)."""

    def __init__(self) -> None:
        super().__init__()
        self.inside, self.hidden_depth = False, 0
        self.pairs: list[tuple[str, str]] = []
        self.select: dict | None = None
        self.textarea: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == "coupontemplate_form":
            self.inside = True
        if not self.inside:
            return
        if tag == "template":
            self.hidden_depth += 1
        if self.hidden_depth:
            return
        if tag == "input" and "name" in a and "disabled" not in a:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.pairs.append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button", "file"):
                self.pairs.append((a["name"], a.get("value") or ""))
        elif tag == "select" and "name" in a:
            self.select = {"name": a["name"], "multiple": "multiple" in a, "options": [], "chosen": []}
        elif tag == "option" and self.select is not None:
            self.select["options"].append(a.get("value", ""))
            if "selected" in a:
                self.select["chosen"].append(a.get("value", ""))
        elif tag == "textarea" and "name" in a:
            self.textarea = [a["name"], ""]

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data

    def handle_endtag(self, tag):
        if not self.inside:
            return
        if tag == "template":
            self.hidden_depth -= 1
        elif tag == "form":
            self.inside = False
        elif tag == "select" and self.select is not None:
            s, self.select = self.select, None
            chosen = s["chosen"] or ([] if s["multiple"] or not s["options"] else [s["options"][0]])
            self.pairs += [(s["name"], value) for value in chosen]
        elif tag == "textarea" and self.textarea is not None:
            self.pairs.append((self.textarea[0], self.textarea[1].lstrip("\n")))
            self.textarea = None


def as_shown(page: str, **extra: str) -> dict[str, list[str]]:
    parser = _PageForm()
    parser.feed(page)
    post: dict[str, list[str]] = {}
    for name, value in parser.pairs:
        post.setdefault(name, []).append(value)
    post.pop("csrfmiddlewaretoken", None)
    return post | {"_save": ["Save"]} | {name: [value] for name, value in extra.items()}


def change_url(template: CouponTemplate) -> str:
    return f"/admin/coupons/coupontemplate/{template.pk}/change/"


def saved_as_shown(ops, template: CouponTemplate, **extra: str):
    page = ops.get(change_url(template))
    assert page.status_code == 200
    return ops.post(change_url(template), as_shown(page.content.decode(), **extra))


@pytest.fixture
def menu(db):
    duck = CategoryFactory(code="cat-roast-duck")
    ProductFactory(sku="d-101", category=duck)
    ProductFactory(sku="d-102", category=duck)
    return duck


@pytest.mark.parametrize(
    "rules",
    [
        [LUNCH],
        [
            {
                "rule_type": "VALID_TIME_SLOTS",
                "params": {
                    "slots": [
                        {"start": "07:00", "end": "09:00"},
                        {"start": "11:00", "end": "14:00"},
                        {"start": "17:00", "end": "20:00"},
                        {"start": "22:00", "end": "02:00"},
                    ]
                },
            }
        ],  # fmt: skip
        [{"rule_type": "ITEM_ELIGIBILITY", "params": {"item_ids": ["d-101", "d-102"], "logic": "ALL"}}],
    ],
    ids=["lunch slot", "four slots", "dishes"],
)
def test_saving_a_template_as_its_page_shows_it_keeps_its_rules(ops, operations_user, menu, rules):
    template = services.template_create(actor=operations_user, data=TemplateInputFactory(usage_rules=rules))
    template.refresh_from_db()
    stored = template.usage_rules

    response = saved_as_shown(ops, template)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    template.refresh_from_db()
    assert template.usage_rules == stored


@pytest.mark.parametrize(
    ("fields", "stored"),
    [
        (
            {
                "usage_rules": [{"rule_type": "ITEM_ELIGIBILITY", "params": {"item_ids": ["d-102", "d-101"]}}]
            },  # fmt: skip
            {
                "usage_rules": [
                    {
                        "rule_type": "ITEM_ELIGIBILITY",
                        "params": {"item_ids": ["d-101", "d-102"], "category_ids": [], "logic": "ANY"},
                    }
                ]
            },
        ),
        (
            {"usage_rules": [{"rule_type": "VALID_DAYS_OF_WEEK", "params": {"days": [7, 6]}}]},
            {"usage_rules": [{"rule_type": "VALID_DAYS_OF_WEEK", "params": {"days": [6, 7]}}]},
        ),
        (
            {"usage_rules": [{"rule_type": "CHANNELS", "params": {"channels": ["WEB", "APP"]}}]},
            {"usage_rules": [{"rule_type": "CHANNELS", "params": {"channels": ["APP", "WEB"]}}]},
        ),
        (
            {"type": "PERCENTAGE_DISCOUNT", "value": {"percentage": "12.50"}},
            {"value": {"percentage": "12.5"}},
        ),
    ],
    ids=["dishes", "weekdays", "channels", "percentage"],
)
def test_the_api_stores_a_definition_as_the_editor_would_write_it(ops, operations_client, menu, fields, stored):
    response = operations_client.post(API, TemplateInputFactory(**fields), format="json")
    assert response.status_code == 201, response.json()
    template = CouponTemplate.objects.get(pk=response.json()["id"])
    assert {key: getattr(template, key) for key in stored} == stored

    # and the page saved as shown keeps it
    assert saved_as_shown(ops, template).status_code == 302
    template.refresh_from_db()
    assert {key: getattr(template, key) for key in stored} == stored


def test_moments_are_kept_to_the_second_as_the_editor_shows_them(operations_client):
    body = TemplateInputFactory(issue_start_time="2030-05-01T10:00:00.500000+08:00")

    response = operations_client.post(API, body, format="json")

    assert CouponTemplate.objects.get(pk=response.json()["id"]).issue_start_time.microsecond == 0


def test_the_slot_of_a_saved_template_is_shown_in_its_time_inputs(ops, operations_user):
    template = services.template_create(actor=operations_user, data=TemplateInputFactory(usage_rules=[LUNCH]))

    post = as_shown(ops.get(change_url(template)).content.decode())

    slot_fields = sorted(name for name in post if "VALID_TIME_SLOTS__slots_" in name)
    assert [post[name][0] for name in slot_fields[:2]] == ["11:00", "14:00"]


def test_a_rule_holds_as_many_slots_in_the_editor_as_in_the_api(operations_client):
    five = [{"start": f"{hour:02d}:00", "end": f"{hour:02d}:30"} for hour in range(8, 8 + MAX_SLOTS + 1)]
    body = TemplateInputFactory(usage_rules=[{"rule_type": "VALID_TIME_SLOTS", "params": {"slots": five}}])

    response = operations_client.post(API, body, format="json")

    assert SLOT_ROWS == MAX_SLOTS
    assert response.status_code == 400
    assert "usage_rules" in response.json()["error"]["details"]


def test_a_percentage_with_cents_is_shown_to_the_thousandth_of_a_zhe(ops, operations_user):
    data = TemplateInputFactory(type="PERCENTAGE_DISCOUNT", value={"percentage": "33.33", "max_off": "20.00"})
    template = services.template_create(actor=operations_user, data=data)

    page = ops.get(change_url(template)).content.decode()

    assert 'step="0.001"' in page  # 6.667 折 is a valid entry for the browser
    assert saved_as_shown(ops, template).status_code == 302
    template.refresh_from_db()
    assert template.value["percentage"] in ("33.33", 33.33)


def test_a_dish_gone_from_the_menu_is_named_before_a_rule_loses_it(ops, operations_user, menu):
    gone = ProductFactory(sku="d-999", category=menu)
    rule = {"rule_type": "ITEM_ELIGIBILITY", "params": {"item_ids": ["d-101", "d-999"], "logic": "ALL"}}
    template = services.template_create(actor=operations_user, data=TemplateInputFactory(usage_rules=[rule]))
    gone.delete()

    refused = saved_as_shown(ops, template)

    assert refused.status_code == 200
    assert any("d-999" in message for message in refused.context["adminform"].form.errors["confirm_warnings"])
    template.refresh_from_db()
    assert template.usage_rules[0]["params"]["item_ids"] == ["d-101", "d-999"]
    # confirmed, the rule keeps the dishes still on the menu
    assert saved_as_shown(ops, template, confirm_warnings="on").status_code == 302
    template.refresh_from_db()
    assert template.usage_rules[0]["params"]["item_ids"] == ["d-101"]


def test_the_list_shows_the_claim_window_in_the_business_days(ops, operations_user):
    shanghai = ZoneInfo("Asia/Shanghai")
    data = TemplateInputFactory(
        issue_start_time=datetime(2030, 5, 1, 7, 0, tzinfo=shanghai),
        issue_end_time=datetime(2030, 5, 31, 7, 0, tzinfo=shanghai),
    )
    services.template_create(actor=operations_user, data=data)

    page = ops.get("/admin/coupons/coupontemplate/").content.decode()

    assert "2030-05-01 – 2030-05-31" in page


def test_a_description_too_long_for_the_api_is_too_long_for_the_editor(ops, operations_client):
    data = TemplateInputFactory(description="优惠说明" * (MAX_DESCRIPTION // 4 + 1))

    api = operations_client.post(API, data, format="json")
    editor = ops.post(ADD, {**admin_form_data(data), "_save": "Save"})

    assert api.status_code == 400
    assert editor.status_code == 200
    assert "description" in editor.context["adminform"].form.errors
    assert not CouponTemplate.objects.exists()
