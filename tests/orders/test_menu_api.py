"""The menu: what customers see (GET /menu/) and how a POS keeps it in sync (staff categories/products)."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from core.models import AuditLog
from orders.models import Category, Product
from tests.conftest import client_for
from tests.error_shape import assert_api_error
from tests.factories import CategoryFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

MENU = "/api/v1/menu/"
CATEGORIES = "/api/v1/staff/categories/"
PRODUCTS = "/api/v1/staff/products/"


@pytest.fixture
def menu(db):
    duck = CategoryFactory(code="cat-roast-duck", name="烤鸭", sort_order=10)
    drinks = CategoryFactory(code="cat-drinks", name="饮品", sort_order=50)
    closed = CategoryFactory(code="cat-closed", name="停售", sort_order=5, is_active=False)
    ProductFactory(sku="d-101", name="北京烤鸭（整只）", category=duck, price=Decimal("128.00"))
    ProductFactory(sku="d-102", name="烤鸭（半只）", category=duck, price=Decimal("68.50"))
    ProductFactory(sku="d-199", name="下架烤鸭", category=duck, is_active=False)
    ProductFactory(sku="d-901", name="酸梅汤", category=drinks, price=Decimal("8.00"))
    ProductFactory(sku="d-555", name="隐藏菜", category=closed)
    return duck, drinks


def menu_skus(client) -> dict[str, list[str]]:
    return {c["code"]: [p["sku"] for p in c["products"]] for c in client.get(MENU).json()}


# the customer's menu -----------------------------------------------------------------------------------


def test_the_menu_lists_active_categories_with_active_products(api_client, menu):
    response = api_client.get(MENU)

    assert response.status_code == 200
    body = response.json()
    assert [c["code"] for c in body] == ["cat-roast-duck", "cat-drinks"]
    duck = body[0]
    assert (duck["name"], duck["sort_order"]) == ("烤鸭", 10)
    assert duck["products"] == [
        {
            "sku": "d-101",
            "name": "北京烤鸭（整只）",
            "price": "128.00",
            "category": "cat-roast-duck",
            "is_active": True,
        },
        {"sku": "d-102", "name": "烤鸭（半只）", "price": "68.50", "category": "cat-roast-duck", "is_active": True},
    ]
    assert body[1]["products"][0]["price"] == "8.00"


def test_the_menu_is_open_to_customers_too(customer_client, menu):
    assert menu_skus(customer_client) == {"cat-roast-duck": ["d-101", "d-102"], "cat-drinks": ["d-901"]}


# staff: categories ------------------------------------------------------------------------------------


def test_operations_creates_a_category(operations_client, operations_user):
    response = operations_client.post(CATEGORIES, {"code": "cat-cold", "name": "凉菜", "sort_order": 20}, format="json")

    assert response.status_code == 201
    assert response.json() == {"code": "cat-cold", "name": "凉菜", "sort_order": 20, "is_active": True}
    category = Category.objects.get(code="cat-cold")
    assert AuditLog.objects.get(object_id=category.pk, content_type__model="category").actor == operations_user


def test_posting_an_existing_code_updates_it(operations_client, menu):
    response = operations_client.post(
        CATEGORIES, {"code": "cat-drinks", "name": "饮料", "sort_order": 60}, format="json"
    )

    assert response.status_code == 200
    assert Category.objects.filter(code="cat-drinks").count() == 1
    assert Category.objects.values_list("name", "sort_order").get(code="cat-drinks") == ("饮料", 60)


def test_patch_a_category(operations_client, menu):
    response = operations_client.patch(f"{CATEGORIES}cat-drinks", {"name": "酒水"}, format="json")

    assert (response.status_code, response.json()["name"]) == (200, "酒水")
    assert Category.objects.get(code="cat-drinks").name == "酒水"


def test_deactivating_a_category_takes_it_off_the_menu(operations_client, api_client, menu):
    response = operations_client.delete(f"{CATEGORIES}cat-drinks")

    assert (response.status_code, response.json()["is_active"]) == (200, False)
    assert Category.objects.get(code="cat-drinks").is_active is False
    assert Product.objects.filter(sku="d-901").exists()
    assert "cat-drinks" not in menu_skus(api_client)


def test_staff_list_categories_including_inactive(finance_client, menu):
    response = finance_client.get(CATEGORIES)

    assert response.status_code == 200
    assert response.json()["count"] == 3
    assert {c["code"]: c["is_active"] for c in response.json()["results"]}["cat-closed"] is False


# staff: products --------------------------------------------------------------------------------------


def test_operations_creates_a_product_that_appears_on_the_menu(operations_client, api_client, menu):
    response = operations_client.post(
        PRODUCTS, {"sku": "d-902", "name": "北冰洋汽水", "category": "cat-drinks", "price": "6.00"}, format="json"
    )

    assert response.status_code == 201
    assert response.json() == {
        "sku": "d-902",
        "name": "北冰洋汽水",
        "price": "6.00",
        "category": "cat-drinks",
        "is_active": True,
    }
    assert Product.objects.get(sku="d-902").price == Decimal("6.00")
    assert menu_skus(api_client)["cat-drinks"] == ["d-901", "d-902"]


def test_posting_an_existing_sku_updates_it(operations_client, menu):
    response = operations_client.post(
        PRODUCTS, {"sku": "d-901", "name": "酸梅汤（大）", "category": "cat-drinks", "price": "12.50"}, format="json"
    )

    assert (response.status_code, response.json()["price"]) == (200, "12.50")
    product = Product.objects.get(sku="d-901")
    assert (product.name, product.price) == ("酸梅汤（大）", Decimal("12.50"))
    assert Product.objects.filter(sku="d-901").count() == 1


def test_a_sku_in_another_case_is_refused_not_taken_for_the_dish(operations_client, menu):
    """MySQL's unique key would find d-101 for D-101, and the sync would rewrite the roast duck."""
    response = operations_client.post(
        PRODUCTS, {"sku": "D-101", "name": "New dish", "category": "cat-drinks", "price": "1.00"}, format="json"
    )

    assert_api_error(response, 400, "VALIDATION_ERROR", field="sku")
    duck = Product.objects.select_related("category").get(sku="d-101")
    assert (duck.name, duck.price, duck.category.code) == ("北京烤鸭（整只）", Decimal("128.00"), "cat-roast-duck")
    assert Product.objects.count() == 5


def test_patch_a_product_price_and_category(operations_client, menu):
    response = operations_client.patch(
        f"{PRODUCTS}d-901", {"price": "9.90", "category": "cat-roast-duck"}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["price"], response.json()["category"]) == ("9.90", "cat-roast-duck")
    product = Product.objects.select_related("category").get(sku="d-901")
    assert (product.price, product.category.code) == (Decimal("9.90"), "cat-roast-duck")


def test_deactivating_a_product_takes_it_off_the_menu(operations_client, api_client, menu):
    response = operations_client.delete(f"{PRODUCTS}d-101")

    assert (response.status_code, response.json()["is_active"]) == (200, False)
    assert Product.objects.get(sku="d-101").is_active is False
    assert menu_skus(api_client)["cat-roast-duck"] == ["d-102"]
    assert AuditLog.objects.filter(action="deactivate", content_type__model="product").count() == 1


def test_a_deactivated_product_comes_back_when_posted_again(operations_client, api_client, menu):
    operations_client.delete(f"{PRODUCTS}d-101")

    operations_client.post(
        PRODUCTS,
        {
            "sku": "d-101",
            "name": "北京烤鸭（整只）",
            "category": "cat-roast-duck",
            "price": "128.00",
            "is_active": True,
        },
        format="json",
    )

    assert menu_skus(api_client)["cat-roast-duck"] == ["d-101", "d-102"]


def test_staff_read_one_product_and_list_them(finance_client, menu):
    one = finance_client.get(f"{PRODUCTS}d-102")
    listing = finance_client.get(PRODUCTS)

    assert (one.status_code, one.json()["price"]) == (200, "68.50")
    assert listing.json()["count"] == 5


# permissions ---------------------------------------------------------------------------------------------


def test_finance_may_read_but_not_write(finance_client, menu):
    writes = [
        finance_client.post(CATEGORIES, {"code": "cat-new", "name": "新"}, format="json"),
        finance_client.patch(f"{CATEGORIES}cat-drinks", {"name": "x"}, format="json"),
        finance_client.delete(f"{CATEGORIES}cat-drinks"),
        finance_client.post(
            PRODUCTS, {"sku": "d-1", "name": "x", "category": "cat-drinks", "price": "1"}, format="json"
        ),
        finance_client.patch(f"{PRODUCTS}d-901", {"price": "0.01"}, format="json"),
        finance_client.delete(f"{PRODUCTS}d-901"),
    ]

    assert finance_client.get(f"{CATEGORIES}cat-drinks").status_code == 200
    for response in writes:
        assert_api_error(response, 403, "PERMISSION_DENIED")
    assert not Category.objects.filter(code="cat-new").exists()
    assert Category.objects.get(code="cat-drinks").name == "饮品"
    assert Product.objects.get(sku="d-901").price == Decimal("8.00")
    assert Product.objects.get(sku="d-901").is_active


@pytest.fixture
def editor_client(db):
    """Staff who may change the menu but not add to it (change_* without add_*)."""
    user = UserFactory(is_staff=True, profile=False)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="orders",
            codename__in=["view_category", "change_category", "view_product", "change_product"],
        )
    )
    return client_for(user)


def test_creating_a_row_needs_the_add_permission_as_in_admin(editor_client, menu):
    new_category = editor_client.post(CATEGORIES, {"code": "cat-new", "name": "新"}, format="json")
    new_product = editor_client.post(
        PRODUCTS, {"sku": "d-902", "name": "北冰洋汽水", "category": "cat-drinks", "price": "6.00"}, format="json"
    )

    assert_api_error(new_category, 403, "PERMISSION_DENIED")
    assert_api_error(new_product, 403, "PERMISSION_DENIED")
    assert not Category.objects.filter(code="cat-new").exists()
    assert not Product.objects.filter(sku="d-902").exists()
    assert not AuditLog.objects.exists()


def test_updating_a_row_by_post_needs_only_the_change_permission(editor_client, menu):
    category = editor_client.post(CATEGORIES, {"code": "cat-drinks", "name": "饮料"}, format="json")
    product = editor_client.post(
        PRODUCTS, {"sku": "d-901", "name": "酸梅汤", "category": "cat-drinks", "price": "9.00"}, format="json"
    )

    assert (category.status_code, product.status_code) == (200, 200)
    assert Category.objects.get(code="cat-drinks").name == "饮料"
    assert Product.objects.get(sku="d-901").price == Decimal("9.00")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", CATEGORIES),
        ("post", CATEGORIES),
        ("get", f"{CATEGORIES}cat-drinks"),
        ("patch", f"{CATEGORIES}cat-drinks"),
        ("delete", f"{CATEGORIES}cat-drinks"),
        ("get", PRODUCTS),
        ("post", PRODUCTS),
        ("get", f"{PRODUCTS}d-901"),
        ("patch", f"{PRODUCTS}d-901"),
        ("delete", f"{PRODUCTS}d-901"),
    ],
)
def test_customers_and_anonymous_callers_are_kept_out(customer_client, api_client, menu, method, path):
    as_customer = getattr(customer_client, method)(path, {"name": "x"}, format="json")
    as_nobody = getattr(api_client, method)(path, {"name": "x"}, format="json")

    assert_api_error(as_customer, 403, "PERMISSION_DENIED")
    assert_api_error(as_nobody, 401, "NOT_AUTHENTICATED")
    assert Category.objects.get(code="cat-drinks").is_active
    assert Product.objects.get(sku="d-901").is_active


# bad input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price": "-1.00"}, "price"),
        ({"price": "abc"}, "price"),
        ({"price": "1.005"}, "price"),
        ({"price": "10000000.00"}, "price"),
        ({"category": "cat-nowhere"}, "category"),
        ({"sku": "d 901!"}, "sku"),
        ({"sku": "酸梅汤"}, "sku"),
        ({"sku": ""}, "sku"),
        ({"sku": "D-903"}, "sku"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"is_active": "perhaps"}, "is_active"),
    ],
)
def test_a_bad_product_is_refused_and_nothing_is_written(operations_client, menu, body, field):
    before = list(Product.objects.order_by("sku").values())

    response = operations_client.post(
        PRODUCTS,
        {"sku": "d-903", "name": "茉莉花茶", "category": "cat-drinks", "price": "12.00", **body},
        format="json",
    )

    assert_api_error(response, 400, "VALIDATION_ERROR", field=field)
    assert list(Product.objects.order_by("sku").values()) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [({"price": "-0.01"}, "price"), ({"category": "cat-nowhere"}, "category"), ({"price": None}, "price")],
)
def test_a_bad_product_patch_is_refused(operations_client, menu, body, field):
    response = operations_client.patch(f"{PRODUCTS}d-901", body, format="json")

    assert_api_error(response, 400, "VALIDATION_ERROR", field=field)
    product = Product.objects.select_related("category").get(sku="d-901")
    assert (product.price, product.category.code) == (Decimal("8.00"), "cat-drinks")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "cat cold"}, "code"),
        ({"code": ""}, "code"),
        ({"code": "Cat-Cold"}, "code"),
        ({"name": ""}, "name"),
        ({"sort_order": "first"}, "sort_order"),
        ({"sort_order": 10_000_000}, "sort_order"),
    ],
)
def test_a_bad_category_is_refused(operations_client, body, field):
    response = operations_client.post(CATEGORIES, {"code": "cat-cold", "name": "凉菜", **body}, format="json")

    assert_api_error(response, 400, "VALIDATION_ERROR", field=field)
    assert Category.objects.count() == 0


def test_unknown_codes_and_skus_are_404(operations_client, menu):
    responses = [
        operations_client.get(f"{CATEGORIES}cat-nowhere"),
        operations_client.patch(f"{CATEGORIES}cat-nowhere", {"name": "x"}, format="json"),
        operations_client.delete(f"{CATEGORIES}cat-nowhere"),
        operations_client.get(f"{PRODUCTS}d-404"),
        operations_client.patch(f"{PRODUCTS}d-404", {"price": "1.00"}, format="json"),
        operations_client.delete(f"{PRODUCTS}d-404"),
    ]

    for response in responses:
        assert_api_error(response, 404, "NOT_FOUND")
    assert not Category.objects.filter(code="cat-nowhere").exists()
    assert not Product.objects.filter(sku="d-404").exists()
