"""Webhook endpoints registered by Operations, and the outbox of deliveries to them."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.events import Event
from core.models import TimeStampedModel


class EventType(models.TextChoices):
    """The events an endpoint may subscribe to: the domain events of ``core.events``."""

    TEMPLATE_APPROVED = Event.TEMPLATE_APPROVED.value, _("template approved")
    COUPON_ISSUED = Event.COUPON_ISSUED.value, _("coupon issued")
    COUPON_USED = Event.COUPON_USED.value, _("coupon used")
    ORDER_PAID = Event.ORDER_PAID.value, _("order paid")
    ORDER_REFUNDED = Event.ORDER_REFUNDED.value, _("order refunded")
    BUDGET_ALERT = Event.BUDGET_ALERT.value, _("budget alert")
    BULK_GRANT_DONE = Event.BULK_GRANT_DONE.value, _("bulk grant done")


# Sent only by "send test event"; no endpoint subscribes to it.
TEST_EVENT = "webhook.test"


class WebhookEndpoint(TimeStampedModel):
    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    # Kept in the clear: every delivery is signed with it. Shown once, when made or rotated.
    secret = models.CharField(_("signing secret"), max_length=100, editable=False)
    secret_rotated_at = models.DateTimeField(_("secret rotated at"), null=True, blank=True, editable=False)
    # A list of EventType values.
    event_types = models.JSONField(_("event types"), default=list)
    is_active = models.BooleanField(_("active"), default=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta(TimeStampedModel.Meta):
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.description or self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "PENDING", _("pending")
    SENDING = "SENDING", _("sending")
    DELIVERED = "DELIVERED", _("delivered")
    FAILED = "FAILED", _("failed")


class WebhookDelivery(TimeStampedModel):
    """The outbox: one row per (event, endpoint), written in the transaction of the change, sent after.

    PENDING (due at ``next_attempt_at``) -> SENDING (claimed by one sender at ``claimed_at``, as it
    starts the request; the claim counts the attempt) -> DELIVERED, or back to PENDING with a later
    ``next_attempt_at``, or FAILED after the last attempt. A claim older than WEBHOOK_CLAIM_TIMEOUT
    belongs to a sender that died and is sent again, or, on the last attempt, goes to FAILED. A due
    delivery whose endpoint is deactivated goes to FAILED unsent.
    """

    event_id = models.UUIDField(_("event id"), db_index=True)
    event_type = models.CharField(_("event type"), max_length=40)
    payload = models.JSONField(_("payload"), encoder=DjangoJSONEncoder)
    occurred_at = models.DateTimeField(_("occurred at"))
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries", verbose_name=_("endpoint")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last status code"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_latency_ms = models.PositiveIntegerField(_("last latency (ms)"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta(TimeStampedModel.Meta):
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        permissions = [("retry_webhookdelivery", _("Can retry webhook deliveries"))]
        constraints = [
            models.UniqueConstraint(fields=["event_id", "endpoint"], name="uniq_webhook_event_endpoint"),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_due_idx"),
            models.Index(fields=["status", "claimed_at"], name="webhook_claim_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class WebhookAttempt(models.Model):
    """One try at sending a delivery: the log behind its ``attempts`` counter."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log", verbose_name=_("delivery")
    )
    number = models.PositiveSmallIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("started at"))
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), null=True, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="uniq_webhook_attempt_number"),
        ]

    def __str__(self) -> str:
        return f"#{self.number}"
