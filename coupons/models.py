from decimal import Decimal

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import TimeStampedModel
from core.stamps import StampedQuerySet

UNLIMITED = -1
# The stamp of the templates' definitions and names (core.stamps): checkout keeps the templates it read
# under it. A template's counters and status are not part of it.
TEMPLATES_STAMP = "coupon-templates"
TEMPLATE_STAMPED_FIELDS = ("name", "short_name", "type", "value", "usage_rules")


class CouponType(models.TextChoices):
    CASH_VOUCHER = "CASH_VOUCHER", _("Cash voucher")
    PERCENTAGE_DISCOUNT = "PERCENTAGE_DISCOUNT", _("Percentage discount")
    RANDOM_CASH = "RANDOM_CASH", _("Random red packet")
    FREE_ITEM = "FREE_ITEM", _("Free item")


# Two digits of the 18-digit instance code (seed 002).
TYPE_CODE_DIGITS = {
    CouponType.CASH_VOUCHER: "01",
    CouponType.PERCENTAGE_DISCOUNT: "02",
    CouponType.RANDOM_CASH: "03",
    CouponType.FREE_ITEM: "04",
}


class ValidityType(models.TextChoices):
    FIXED_DATE = "FIXED_DATE", _("Fixed dates")
    RELATIVE_DAYS = "RELATIVE_DAYS", _("Days after issue")
    CLAIM_DAY = "CLAIM_DAY", _("Day of issue only")


class TemplateStatus(models.TextChoices):
    DRAFT = "DRAFT", _("Draft")
    PENDING_REVIEW = "PENDING_REVIEW", _("Pending review")
    APPROVED = "APPROVED", _("Approved")
    REJECTED = "REJECTED", _("Rejected")
    STOPPED = "STOPPED", _("Stopped")
    ENDED = "ENDED", _("Ended")


class CouponTemplate(TimeStampedModel):
    """A kind of coupon, defined once; every coupon a person holds is an instance of it."""

    name = models.CharField(_("name"), max_length=100)
    short_name = models.CharField(_("short name"), max_length=40, blank=True, help_text=_("e.g. 满100减10"))
    description = models.TextField(_("description"), blank=True)
    type = models.CharField(_("type"), max_length=24, choices=CouponType.choices)
    value = models.JSONField(_("value"), default=dict, encoder=DjangoJSONEncoder)
    usage_rules = models.JSONField(_("usage rules"), default=list, blank=True, encoder=DjangoJSONEncoder)
    total_quantity = models.IntegerField(_("total quantity"), default=UNLIMITED, help_text=_("-1 = unlimited"))
    issued_quantity = models.IntegerField(_("issued quantity"), default=0, editable=False)
    per_user_limit = models.PositiveIntegerField(_("per-user limit"), default=1, help_text=_("0 = unlimited"))
    issue_start_time = models.DateTimeField(_("claim window start"), null=True, blank=True)
    issue_end_time = models.DateTimeField(_("claim window end"), null=True, blank=True)
    validity_type = models.CharField(
        _("validity type"), max_length=16, choices=ValidityType.choices, default=ValidityType.RELATIVE_DAYS
    )
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    valid_days_after_issue = models.PositiveIntegerField(_("valid days after issue"), null=True, blank=True)
    visible_in_claim_center = models.BooleanField(_("visible in claim center"), default=True)
    target = models.JSONField(_("who may claim"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    product_line = models.CharField(_("product line"), max_length=2, default="01")
    return_on_cancel = models.BooleanField(_("return on cancel"), default=True)
    # Set when the template is stopped with "revoke unused": a coupon still locked by an unpaid order
    # is revoked, not returned, if that order is cancelled later.
    unused_revoked = models.BooleanField(_("unused coupons revoked"), default=False, editable=False)
    status = models.CharField(
        _("status"), max_length=16, choices=TemplateStatus.choices, default=TemplateStatus.DRAFT, db_index=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
        null=True,
        blank=True,
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_remark = models.TextField(_("review remark"), blank=True)
    copied_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("copied from")
    )
    # Counters kept exact by the services, in the transaction of each change.
    locked_count = models.IntegerField(_("locked"), default=0, editable=False)
    used_count = models.IntegerField(_("used"), default=0, editable=False)
    expired_count = models.IntegerField(_("expired"), default=0, editable=False)
    revoked_count = models.IntegerField(_("revoked"), default=0, editable=False)
    discount_total = models.DecimalField(
        _("discount given"), max_digits=14, decimal_places=2, default=Decimal("0.00"), editable=False
    )

    objects = StampedQuerySet.as_manager()

    class Meta(TimeStampedModel.Meta):
        verbose_name = _("coupon template")
        verbose_name_plural = _("coupon templates")
        permissions = [
            ("review_coupontemplate", _("Can approve or reject coupon templates")),
            ("submit_coupontemplate", _("Can submit coupon templates for review")),
            ("stop_coupontemplate", _("Can stop coupon templates")),
            ("grant_coupontemplate", _("Can grant coupons to customers by hand")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(total_quantity=UNLIMITED)
                | Q(total_quantity__gte=0, issued_quantity__lte=F("total_quantity")),
                name="template_issued_within_total",
            ),
            models.CheckConstraint(condition=Q(issued_quantity__gte=0), name="template_issued_not_negative"),
            models.CheckConstraint(
                condition=Q(issue_start_time__isnull=True)
                | Q(issue_end_time__isnull=True)
                | Q(issue_end_time__gt=F("issue_start_time")),
                name="template_claim_window_ordered",
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True) | Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="template_validity_ordered",
            ),
        ]
        indexes = [models.Index(fields=["status", "visible_in_claim_center"], name="template_live_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_unlimited(self) -> bool:
        return self.total_quantity == UNLIMITED

    @property
    def remaining(self) -> int | None:
        if self.is_unlimited:
            return None
        return max(self.total_quantity - self.issued_quantity, 0)

    @property
    def is_editable(self) -> bool:
        return self.status in (TemplateStatus.DRAFT, TemplateStatus.REJECTED)


class CouponStatus(models.TextChoices):
    UNUSED = "UNUSED", _("Unused")
    LOCKED = "LOCKED", _("Locked by an order")
    USED = "USED", _("Used")
    EXPIRED = "EXPIRED", _("Expired")
    REVOKED = "REVOKED", _("Revoked")


class CouponSource(models.TextChoices):
    CLAIM = "CLAIM", _("Claimed")
    ACTIVITY = "ACTIVITY", _("Activity")
    GIFT_PACK = "GIFT_PACK", _("Gift pack")
    BULK_GRANT = "BULK_GRANT", _("Bulk grant")
    ADMIN = "ADMIN", _("Granted by staff")
    REDEEM_CODE = "REDEEM_CODE", _("Redemption code")


class UserCoupon(models.Model):
    """A coupon a person holds: an instance of a template with its own validity and lifecycle."""

    code = models.CharField(_("code"), max_length=18, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coupons", verbose_name=_("customer")
    )
    template = models.ForeignKey(
        CouponTemplate, on_delete=models.PROTECT, related_name="instances", verbose_name=_("template")
    )
    status = models.CharField(_("status"), max_length=8, choices=CouponStatus.choices, default=CouponStatus.UNUSED)
    amount = models.DecimalField(_("amount"), max_digits=10, decimal_places=2, null=True, blank=True)
    acquired_at = models.DateTimeField(_("acquired at"), default=timezone.now)
    valid_from = models.DateTimeField(_("valid from"))
    expires_at = models.DateTimeField(_("expires at"))
    source = models.CharField(_("source"), max_length=12, choices=CouponSource.choices)
    source_ref = models.CharField(_("source reference"), max_length=64, blank=True)
    order = models.ForeignKey(
        "orders.Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("order")
    )
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("granted by"),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-acquired_at", "-id"]
        verbose_name = _("customer coupon")
        verbose_name_plural = _("customer coupons")
        indexes = [
            models.Index(fields=["user", "status", "expires_at"], name="coupon_wallet_idx"),
            models.Index(fields=["status", "expires_at"], name="coupon_sweep_idx"),
            models.Index(fields=["user", "template"], name="coupon_user_template_idx"),
            models.Index(fields=["template", "status"], name="coupon_template_status_idx"),
            models.Index(fields=["source", "source_ref"], name="coupon_source_idx"),
            # Daily roll-ups read one business day at a time, grouped by template.
            models.Index(fields=["acquired_at", "template"], name="coupon_issued_day_idx"),
            models.Index(fields=["used_at", "template"], name="coupon_used_day_idx"),
            models.Index(fields=["status", "updated_at", "template"], name="coupon_status_day_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=F("valid_from")), name="coupon_validity_ordered"),
        ]

    def __str__(self) -> str:
        return self.code

    def effective_status(self, at=None) -> str:
        """The status a customer sees: an UNUSED coupon past its expiry is EXPIRED before any sweep."""
        if self.status == CouponStatus.UNUSED and self.expires_at <= (at or timezone.now()):
            return CouponStatus.EXPIRED
        return self.status


class ClaimQuota(models.Model):
    """How many coupons of a template a user has received: the per-user limit is a conditional UPDATE
    on this row (``claimed < limit``), so concurrent claims by one user cannot race past it.

    A quota row is created only in the transaction that inserts a coupon of the same template for the
    same user, whose foreign keys the database checks: the row's own keys would be checked twice, on the
    hottest writes (every claim, every bulk-grant chunk), so they are not declared to the database.
    Deleting a user or a template still removes its rows (``on_delete``, run by Django).

    The row's key is (template, user): one index is written per row instead of three (a surrogate id, the
    unique pair and the user), and the per-user UPDATE finds the row in the table itself."""

    pk = models.CompositePrimaryKey("template", "user")
    # The primary key leads with the template: no index of its own.
    template = models.ForeignKey(
        CouponTemplate, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    # Indexed for deleting a user's rows.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    claimed = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.template_id}/{self.user_id}: {self.claimed}"


class RedemptionCodeBatch(TimeStampedModel):
    name = models.CharField(_("name"), max_length=100)
    template = models.ForeignKey(
        CouponTemplate, on_delete=models.PROTECT, related_name="code_batches", verbose_name=_("template")
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    expires_at = models.DateTimeField(_("codes expire at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )

    class Meta(TimeStampedModel.Meta):
        verbose_name = _("redemption code batch")
        verbose_name_plural = _("redemption code batches")

    def __str__(self) -> str:
        return self.name


class RedemptionCode(models.Model):
    batch = models.ForeignKey(RedemptionCodeBatch, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(_("code"), max_length=32, unique=True)
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    redeemed_at = models.DateTimeField(_("redeemed at"), null=True, blank=True)
    coupon = models.OneToOneField(UserCoupon, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["id"]
        verbose_name = _("redemption code")
        verbose_name_plural = _("redemption codes")

    def __str__(self) -> str:
        return self.code


class TemplateDailyStats(models.Model):
    """Per template and business day roll-up, so stats never COUNT(*) the instance table."""

    template = models.ForeignKey(CouponTemplate, on_delete=models.CASCADE, related_name="daily_stats")
    day = models.DateField(_("day"))
    issued = models.PositiveIntegerField(_("issued"), default=0)
    used = models.PositiveIntegerField(_("used"), default=0)
    expired = models.PositiveIntegerField(_("expired"), default=0)
    revoked = models.PositiveIntegerField(_("revoked"), default=0)
    discount = models.DecimalField(_("discount given"), max_digits=14, decimal_places=2, default=Decimal("0.00"))

    class Meta:
        ordering = ["template", "day"]
        verbose_name = _("template daily stats")
        verbose_name_plural = _("template daily stats")
        constraints = [models.UniqueConstraint(fields=["template", "day"], name="uniq_template_day_stats")]

    def __str__(self) -> str:
        return f"{self.template_id} {self.day}"
