from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.pagination import Pagination
from core.api.permissions import HasModelPerm
from core.api.serializers import StrictSerializer
from orders.models import Category, Product, lower_case_slug
from orders.selectors import active_menu
from orders.services import menu as menu_services


class ProductOutputSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.code")

    class Meta:
        model = Product
        fields = ["sku", "name", "price", "category", "is_active"]


class CategoryOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["code", "name", "sort_order", "is_active"]


class MenuApi(APIView):
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.ModelSerializer):
        products = ProductOutputSerializer(many=True)

        class Meta:
            model = Category
            fields = ["code", "name", "sort_order", "products"]

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        return Response(self.OutputSerializer(active_menu(), many=True).data)


class _StaffMenuApi(APIView):
    permission_classes = [HasModelPerm]

    def get_permissions(self):
        # A POST that creates the row needs add_* too: the menu service checks it, knowing whether it is new.
        model = self.model_name
        self.required_perm = f"orders.view_{model}" if self.request.method == "GET" else f"orders.change_{model}"
        return super().get_permissions()


class CategoryListApi(_StaffMenuApi):
    model_name = "category"
    pagination_class = Pagination

    class InputSerializer(StrictSerializer):
        code = serializers.SlugField(max_length=64, validators=[lower_case_slug])
        name = serializers.CharField(max_length=100)
        sort_order = serializers.IntegerField(required=False, min_value=-10_000, max_value=10_000)
        is_active = serializers.BooleanField(required=False)

    @extend_schema(responses=CategoryOutputSerializer(many=True))
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(Category.objects.order_by("sort_order", "id"), request, view=self)
        return paginator.get_paginated_response(CategoryOutputSerializer(page, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={200: CategoryOutputSerializer, 201: CategoryOutputSerializer},
        description="Updates the category with this code (needs orders.change_category), or creates it (201; "
        "needs orders.add_category as well).",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        category, created = menu_services.category_upsert(code=fields.pop("code"), data=fields, actor=request.user)
        return Response(
            CategoryOutputSerializer(category).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class CategoryDetailApi(_StaffMenuApi):
    model_name = "category"

    class InputSerializer(StrictSerializer):
        name = serializers.CharField(max_length=100, required=False)
        sort_order = serializers.IntegerField(required=False, min_value=-10_000, max_value=10_000)
        is_active = serializers.BooleanField(required=False)

    @extend_schema(responses=CategoryOutputSerializer)
    def get(self, request, code: str):
        return Response(CategoryOutputSerializer(get_object_or_404(Category, code=code)).data)

    @extend_schema(request=InputSerializer, responses=CategoryOutputSerializer)
    def patch(self, request, code: str):
        get_object_or_404(Category, code=code)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        category, _created = menu_services.category_upsert(
            code=code, data=dict(data.validated_data), actor=request.user
        )
        return Response(CategoryOutputSerializer(category).data)

    @extend_schema(responses={200: CategoryOutputSerializer}, description="Deactivates the category (it stays listed).")
    def delete(self, request, code: str):
        category = menu_services.category_deactivate(
            category=get_object_or_404(Category, code=code), actor=request.user
        )
        return Response(CategoryOutputSerializer(category).data)


class ProductListApi(_StaffMenuApi):
    model_name = "product"
    pagination_class = Pagination

    class InputSerializer(StrictSerializer):
        sku = serializers.SlugField(max_length=64, validators=[lower_case_slug])
        name = serializers.CharField(max_length=100)
        category = serializers.SlugRelatedField(slug_field="code", queryset=Category.objects.all())
        price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, max_value=1_000_000)
        is_active = serializers.BooleanField(required=False)

    @extend_schema(responses=ProductOutputSerializer(many=True))
    def get(self, request):
        paginator = self.pagination_class()
        qs = Product.objects.select_related("category").order_by("sku")
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ProductOutputSerializer(page, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={200: ProductOutputSerializer, 201: ProductOutputSerializer},
        description="Updates the dish with this SKU (needs orders.change_product), or creates it (201; "
        "needs orders.add_product as well).",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        product, created = menu_services.product_upsert(sku=fields.pop("sku"), data=fields, actor=request.user)
        return Response(
            ProductOutputSerializer(product).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class ProductDetailApi(_StaffMenuApi):
    model_name = "product"

    class InputSerializer(StrictSerializer):
        name = serializers.CharField(max_length=100, required=False)
        category = serializers.SlugRelatedField(slug_field="code", queryset=Category.objects.all(), required=False)
        price = serializers.DecimalField(
            max_digits=10, decimal_places=2, min_value=0, max_value=1_000_000, required=False
        )
        is_active = serializers.BooleanField(required=False)

    @extend_schema(responses=ProductOutputSerializer)
    def get(self, request, sku: str):
        return Response(ProductOutputSerializer(get_object_or_404(Product, sku=sku)).data)

    @extend_schema(request=InputSerializer, responses=ProductOutputSerializer)
    def patch(self, request, sku: str):
        get_object_or_404(Product, sku=sku)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product, _created = menu_services.product_upsert(sku=sku, data=dict(data.validated_data), actor=request.user)
        return Response(ProductOutputSerializer(product).data)

    @extend_schema(responses={200: ProductOutputSerializer}, description="Deactivates the dish (it stays listed).")
    def delete(self, request, sku: str):
        product = menu_services.product_deactivate(product=get_object_or_404(Product, sku=sku), actor=request.user)
        return Response(ProductOutputSerializer(product).data)
