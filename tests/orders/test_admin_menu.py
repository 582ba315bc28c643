"""The menu in admin: a category lists its dishes read-only (a dish is edited on its own page, through
the menu service), and the template editor's dish pickers offer only the dishes on sale."""

from decimal import Decimal

import pytest

from core.models import AuditLog
from orders.models import Product
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def duck(db):
    category = CategoryFactory(code="cat-roast-duck", name="烤鸭", sort_order=10)
    ProductFactory(sku="d-101", name="北京烤鸭", category=category, price=Decimal("128.00"))
    return category


def category_url(pk: int) -> str:
    return f"/admin/orders/category/{pk}/change/"


def test_the_category_page_lists_its_dishes_read_only_with_a_link_to_each(ops, duck):
    dish = Product.objects.get(sku="d-101")

    response = ops.get(category_url(duck.pk))

    assert response.status_code == 200
    [inline] = response.context["inline_admin_formsets"]
    assert (inline.has_add_permission, inline.has_change_permission, inline.has_delete_permission) == (
        False,
        False,
        False,
    )
    page = response.content.decode()
    for field in ("sku", "name", "price", "is_active"):
        assert f'name="products-0-{field}"' not in page, field
    assert "d-101" in page and "北京烤鸭" in page
    assert f'href="/admin/orders/product/{dish.pk}/change/"' in page


def test_a_category_post_cannot_rename_add_or_delete_its_dishes(ops, duck):
    dish = Product.objects.get(sku="d-101")
    before = list(Product.objects.values())

    # when: the inline's fields are posted as an editable inline would post them
    response = ops.post(
        category_url(duck.pk),
        {
            "name": "烤鸭",
            "sort_order": "10",
            "is_active": "on",
            "products-TOTAL_FORMS": "2",
            "products-INITIAL_FORMS": "1",
            "products-MIN_NUM_FORMS": "0",
            "products-MAX_NUM_FORMS": "1000",
            "products-0-id": str(dish.pk),
            "products-0-category": str(duck.pk),
            "products-0-sku": "d-999",
            "products-0-name": "改名烤鸭",
            "products-0-price": "1.00",
            "products-0-DELETE": "on",
            "products-1-category": str(duck.pk),
            "products-1-sku": "d-102",
            "products-1-name": "烤鸭（半只）",
            "products-1-price": "68.00",
            "products-1-is_active": "on",
            "_save": "Save",
        },
    )

    # then: the category is saved, its dishes are as they were, and only the category's change is audited
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert list(Product.objects.values()) == before
    assert not AuditLog.objects.filter(content_type__model="product").exists()


def test_the_dish_pickers_of_the_template_editor_offer_only_dishes_on_sale(ops, duck):
    ProductFactory(sku="d-199", name="下架烤鸭", category=duck, is_active=False)
    ProductFactory(sku="d-555", name="停售菜", category=CategoryFactory(code="cat-closed", is_active=False))

    # the editor's pickers search dishes through OrderLine.product (orders.selectors.menu_pickers)
    answer = ops.get(
        "/admin/autocomplete/", {"app_label": "orders", "model_name": "orderline", "field_name": "product", "term": ""}
    )
    dish_list = ops.get("/admin/orders/product/", {"q": "d-"})

    assert answer.status_code == 200, answer.content
    assert [row["text"] for row in answer.json()["results"]] == ["北京烤鸭 (d-101)"]
    assert dish_list.context["cl"].result_count == 3  # the dish list itself still shows every dish


def test_a_dish_added_in_admin_takes_a_lower_case_sku(ops, duck):
    page = ops.post(
        "/admin/orders/product/add/",
        {"sku": "D-102", "name": "烤鸭（半只）", "category": duck.pk, "price": "68.50", "is_active": "on"},
    )

    assert page.status_code == 200
    assert "lower-case" in str(page.context["adminform"].form.errors["sku"])
    assert list(Product.objects.values_list("sku", flat=True)) == ["d-101"]
