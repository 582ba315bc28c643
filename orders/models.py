from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.choices import Channel
from core.models import TimeStampedModel
from core.stamps import StampedQuerySet

# The stamp of the dishes and categories (core.stamps): checkout keeps the dishes it read under it.
MENU_STAMP = "menu"

# SKUs and category codes are lower case: carts, rules and gifts name them exactly, while MySQL's unique
# keys would take "D-101" for "d-101" (a sync sending it would update that dish, not make a new one).
lower_case_slug = RegexValidator(
    r"^[-a-z0-9_]+\Z",
    _("Use lower-case letters, digits, dashes and underscores only (e.g. d-101)."),
    code="invalid",
)


class Category(models.Model):
    code = models.SlugField(
        _("code"), max_length=64, unique=True, validators=[lower_case_slug], help_text=_("e.g. cat-roast-duck")
    )
    name = models.CharField(_("name"), max_length=100)
    sort_order = models.IntegerField(_("sort order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    objects = StampedQuerySet.as_manager()

    class Meta:
        ordering = ["sort_order", "id"]
        verbose_name = _("menu category")
        verbose_name_plural = _("menu categories")

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    sku = models.SlugField(
        _("SKU"), max_length=64, unique=True, validators=[lower_case_slug], help_text=_("e.g. d-101")
    )
    name = models.CharField(_("name"), max_length=100)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="products", verbose_name=_("category")
    )
    price = models.DecimalField(
        _("price"), max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))]
    )
    is_active = models.BooleanField(_("active"), default=True)

    objects = StampedQuerySet.as_manager()

    class Meta:
        ordering = ["category__sort_order", "sku"]
        verbose_name = _("dish")
        verbose_name_plural = _("dishes")
        constraints = [models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative")]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "PENDING_PAYMENT", _("Pending payment")
    PAID = "PAID", _("Paid")
    COMPLETED = "COMPLETED", _("Completed")
    CANCELLED = "CANCELLED", _("Cancelled")
    REFUNDED = "REFUNDED", _("Refunded")


class Order(TimeStampedModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders", verbose_name=_("customer")
    )
    status = models.CharField(
        _("status"), max_length=16, choices=OrderStatus.choices, default=OrderStatus.PENDING_PAYMENT
    )
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices)
    subtotal = models.DecimalField(_("subtotal"), max_digits=12, decimal_places=2)
    discount_total = models.DecimalField(_("discount"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    cancel_reason = models.CharField(_("cancel reason"), max_length=200, blank=True)

    class Meta(TimeStampedModel.Meta):
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        permissions = [("cancel_order", _("Can cancel unpaid orders"))]
        indexes = [
            models.Index(fields=["status", "created_at"], name="order_timeout_idx"),
            models.Index(fields=["user", "created_at"], name="order_user_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
            models.CheckConstraint(
                condition=Q(discount_total__gte=0, discount_total__lte=F("subtotal")),
                name="order_discount_within_subtotal",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+", verbose_name=_("dish"))
    sku = models.CharField(_("SKU"), max_length=64)
    name = models.CharField(_("name"), max_length=100)
    category_code = models.CharField(_("category"), max_length=64)
    unit_price = models.DecimalField(_("unit price"), max_digits=10, decimal_places=2)
    quantity = models.PositiveIntegerField(_("quantity"))
    line_subtotal = models.DecimalField(_("line subtotal"), max_digits=12, decimal_places=2)
    discount = models.DecimalField(_("discount allocated"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    is_gift = models.BooleanField(_("gift"), default=False)
    gift_coupon = models.ForeignKey(
        "coupons.UserCoupon",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("gift from coupon"),
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        constraints = [
            models.CheckConstraint(
                condition=Q(discount__gte=0, discount__lte=F("line_subtotal")), name="line_discount_within_subtotal"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} x{self.quantity}"


class OrderCoupon(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="applied_coupons")
    coupon = models.ForeignKey(
        "coupons.UserCoupon", on_delete=models.PROTECT, related_name="applications", verbose_name=_("coupon")
    )
    discount = models.DecimalField(_("discount"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    gift_worth = models.DecimalField(_("gift worth"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    allocation = models.JSONField(_("allocation by SKU"), default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("applied coupon")
        verbose_name_plural = _("applied coupons")
        constraints = [models.UniqueConstraint(fields=["order", "coupon"], name="uniq_order_coupon")]

    def __str__(self) -> str:
        return f"{self.coupon} -{self.discount}"
