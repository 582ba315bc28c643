from decimal import Decimal

import factory

from orders.models import Category, Product


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"cat-{n}")
    name = factory.LazyAttribute(lambda o: o.code)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("sku",)

    sku = factory.Sequence(lambda n: f"d-{n}")
    name = factory.LazyAttribute(lambda o: o.sku)
    category = factory.SubFactory(CategoryFactory)
    price = Decimal("10.00")
