"""Categories in admin come in their menu order, in the list and in the autocomplete the template
editor uses (the product count's GROUP BY would otherwise leave them unordered)."""

import warnings

import pytest
from django.test import Client

from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db


def test_the_category_autocomplete_answers_in_menu_order(operations_user):
    CategoryFactory(code="cat-drinks", name="饮品", sort_order=3)
    CategoryFactory(code="cat-roast-duck", name="烤鸭", sort_order=1)
    CategoryFactory(code="cat-cold", name="凉菜", sort_order=2)
    client = Client()
    client.force_login(operations_user)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unordered page is a warning; here a failure
        answer = client.get(
            "/admin/autocomplete/",
            {"app_label": "orders", "model_name": "product", "field_name": "category", "term": ""},
        )

    assert answer.status_code == 200, answer.content
    assert [row["text"] for row in answer.json()["results"]] == ["烤鸭", "凉菜", "饮品"]
