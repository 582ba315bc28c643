from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from orders.models import Category, Product
from orders.services import menu as menu_services


class ProductInline(admin.TabularInline):
    """The category's dishes, read-only. A dish is added and edited on its own page, through the menu
    service and its audit record, with the SKU fixed once created: the SKU is what coupon templates
    name, so renaming it here would change what approved templates include or exclude."""

    model = Product
    fields = ["sku", "name", "price", "is_active"]
    readonly_fields = ["sku", "name", "price", "is_active"]
    extra = 0
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


_DISH_PICKER_SOURCE = ("orders", "orderline", "product")


def _picks_dishes_for_templates(request) -> bool:
    """Whether this is admin's autocomplete searched through OrderLine.product, the relation the coupon
    template editor picks dishes by (``orders.selectors.menu_pickers``)."""
    query = request.GET
    source = (query.get("app_label"), query.get("model_name"), query.get("field_name"))
    return getattr(request.resolver_match, "url_name", None) == "autocomplete" and source == _DISH_PICKER_SOURCE


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "sort_order", "is_active", "product_count"]
    list_editable = ["sort_order"]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]
    # The product count's GROUP BY drops Meta.ordering: order explicitly, or the list and the
    # autocomplete of categories page through an unordered result.
    ordering = ["sort_order", "id"]
    inlines = [ProductInline]
    actions = ["deactivate"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_products=Count("products"))

    def get_readonly_fields(self, request, obj=None):
        # The code is the key the POS syncs by; it does not change once created.
        return ["code"] if obj else []

    def save_model(self, request, obj: Category, form, change) -> None:
        # Through the menu service, so admin edits are audited like the POS sync.
        data = {
            name: form.cleaned_data[name] for name in ("name", "sort_order", "is_active") if name in form.cleaned_data
        }
        saved, _created = menu_services.category_upsert(code=obj.code, data=data, actor=request.user)
        obj.pk = saved.pk

    @admin.display(description=_("number of dishes"), ordering="n_products")
    def product_count(self, obj: Category) -> int:
        return obj.n_products  # type: ignore[attr-defined]

    @admin.action(description=_("Deactivate the selected categories"), permissions=["change"])
    def deactivate(self, request, queryset):
        for category in queryset:
            menu_services.category_deactivate(category=category, actor=request.user)
        self.message_user(request, _("Deactivated."))

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "sku", "category", "price", "is_active"]
    list_filter = ["is_active", "category"]
    search_fields = ["name", "sku"]
    list_select_related = ["category"]
    actions = ["deactivate"]

    def get_readonly_fields(self, request, obj=None):
        return ["sku"] if obj else []

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if _picks_dishes_for_templates(request):
            # The template editor's dish pickers offer what checkout can sell: a gift off sale makes a
            # coupon that checkout always refuses (GIFT_UNAVAILABLE).
            queryset = queryset.filter(is_active=True, category__is_active=True)
        return queryset, may_have_duplicates

    def save_model(self, request, obj: Product, form, change) -> None:
        fields = ("name", "category", "price", "is_active")
        data = {name: form.cleaned_data[name] for name in fields if name in form.cleaned_data}
        saved, _created = menu_services.product_upsert(sku=obj.sku, data=data, actor=request.user)
        obj.pk = saved.pk

    @admin.action(description=_("Deactivate the selected dishes"), permissions=["change"])
    def deactivate(self, request, queryset):
        for product in queryset:
            menu_services.product_deactivate(product=product, actor=request.user)
        self.message_user(request, _("Deactivated."))

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


from orders import admin_orders  # noqa: E402,F401
