from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.choices import Channel
from core.members import MemberLevel, UserType
from core.models import TimeStampedModel
from core.uploads import IMAGE_VALIDATORS
from coupons.ledger import MAX_ISSUE_QUANTITY

# An item's quantity is issued to one customer at once: never more than one issue hands out.
ITEM_QUANTITY_VALIDATORS = [MinValueValidator(1), MaxValueValidator(MAX_ISSUE_QUANTITY)]


class MemberTag(models.Model):
    name = models.CharField(_("name"), max_length=40, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("member tag")
        verbose_name_plural = _("member tags")

    def __str__(self) -> str:
        return self.name


class MemberProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="member", verbose_name=_("user")
    )
    level = models.CharField(_("level"), max_length=8, choices=MemberLevel.choices, default=MemberLevel.NORMAL)
    tags = models.ManyToManyField(MemberTag, blank=True, related_name="members", verbose_name=_("tags"))
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    user_type = models.CharField(_("user type"), max_length=1, choices=UserType.choices, default=UserType.CONSUMER)
    invite_code = models.CharField(_("invite code"), max_length=12, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invitees",
        verbose_name=_("invited by"),
    )
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices, default=Channel.APP)
    registered_at = models.DateTimeField(_("registered at"), default=timezone.now, db_index=True)
    last_order_at = models.DateTimeField(_("last order at"), null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-registered_at"]
        verbose_name = _("member profile")
        verbose_name_plural = _("member profiles")
        indexes = [models.Index(fields=["level"], name="member_level_idx")]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_level_display()})"


def check_item_quantity(item: "ActivityItem | GiftPackItem") -> None:
    """An item gives one customer ``quantity`` coupons of its template at once: more than the template's
    per-user limit is always refused (an activity that could never be claimed, a pack item never given)."""
    if not item.template_id or not item.quantity:
        return
    limit = item.template.per_user_limit
    if limit and item.quantity > limit:
        raise ValidationError(
            {
                "quantity": gettext("At most %(limit)s: a customer may hold no more of “%(template)s”.")
                % {"limit": limit, "template": item.template.name}
            }
        )


class ActivityStatus(models.TextChoices):
    DRAFT = "DRAFT", _("Draft")
    PUBLISHED = "PUBLISHED", _("Published")
    ENDED = "ENDED", _("Ended")
    CANCELLED = "CANCELLED", _("Cancelled")


class Activity(TimeStampedModel):
    """A themed campaign (专题活动): claiming it issues all of its items at once, or none."""

    title = models.CharField(_("title"), max_length=100)
    intro = models.TextField(_("introduction"), blank=True)
    image = models.FileField(
        _("image"),
        upload_to="activities/",
        blank=True,
        validators=IMAGE_VALIDATORS,
        help_text=_("PNG, JPEG, GIF or WebP"),
    )
    start_time = models.DateTimeField(_("start time"))
    end_time = models.DateTimeField(_("end time"))
    status = models.CharField(
        _("status"), max_length=10, choices=ActivityStatus.choices, default=ActivityStatus.DRAFT, db_index=True
    )
    channel = models.CharField(
        _("channel"), max_length=12, choices=Channel.choices, blank=True, help_text=_("empty = every channel")
    )
    per_user_limit = models.PositiveIntegerField(_("per-user limit"), default=1, help_text=_("0 = unlimited"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta(TimeStampedModel.Meta):
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        permissions = [("publish_activity", _("Can publish and cancel activities"))]
        constraints = [
            models.CheckConstraint(condition=Q(end_time__gt=F("start_time")), name="activity_window_ordered"),
        ]

    def __str__(self) -> str:
        return self.title


class ActivityItem(models.Model):
    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="items")
    template = models.ForeignKey(
        "coupons.CouponTemplate", on_delete=models.PROTECT, related_name="+", verbose_name=_("template")
    )
    quantity = models.PositiveIntegerField(_("quantity per claim"), default=1, validators=ITEM_QUANTITY_VALIDATORS)

    class Meta:
        ordering = ["id"]
        verbose_name = _("activity item")
        verbose_name_plural = _("activity items")
        constraints = [
            models.UniqueConstraint(fields=["activity", "template"], name="uniq_activity_template"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="activity_item_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity__lte=MAX_ISSUE_QUANTITY), name="activity_item_quantity_at_most_issue_max"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} x{self.quantity}"

    def clean(self) -> None:
        check_item_quantity(self)


class ActivityParticipation(models.Model):
    """Claims of one activity by one user; the per-user limit is a conditional UPDATE on this row."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="participations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    claimed = models.PositiveIntegerField(default=0)
    last_claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["activity", "user"], name="uniq_activity_participation")]

    def __str__(self) -> str:
        return f"{self.activity_id}/{self.user_id}: {self.claimed}"


class GiftPackTrigger(models.TextChoices):
    REGISTER = "REGISTER", _("Registration")
    FIRST_ORDER_PAID = "FIRST_ORDER_PAID", _("First order paid")
    BIRTHDAY = "BIRTHDAY", _("Birthday")
    INVITE_INVITER = "INVITE_INVITER", _("Invited a friend (inviter)")
    INVITE_INVITEE = "INVITE_INVITEE", _("Was invited (invitee)")
    MEMBER_LEVEL_UP = "MEMBER_LEVEL_UP", _("Member level up")
    MANUAL = "MANUAL", _("Manual")


class GiftPack(TimeStampedModel):
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    trigger = models.CharField(_("trigger"), max_length=20, choices=GiftPackTrigger.choices, db_index=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta(TimeStampedModel.Meta):
        verbose_name = _("gift pack")
        verbose_name_plural = _("gift packs")

    def __str__(self) -> str:
        return self.name


class GiftPackItem(models.Model):
    pack = models.ForeignKey(GiftPack, on_delete=models.CASCADE, related_name="items")
    template = models.ForeignKey(
        "coupons.CouponTemplate", on_delete=models.PROTECT, related_name="+", verbose_name=_("template")
    )
    quantity = models.PositiveIntegerField(_("quantity"), default=1, validators=ITEM_QUANTITY_VALIDATORS)

    class Meta:
        ordering = ["id"]
        verbose_name = _("gift pack item")
        verbose_name_plural = _("gift pack items")
        constraints = [
            # One row per template: two rows of one template would be checked against its per-user limit
            # each alone, and the second skipped (LIMIT_REACHED) whenever their sum is over it.
            models.UniqueConstraint(fields=["pack", "template"], name="uniq_pack_template"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="pack_item_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity__lte=MAX_ISSUE_QUANTITY), name="pack_item_quantity_at_most_issue_max"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} x{self.quantity}"

    def clean(self) -> None:
        check_item_quantity(self)


class GiftPackGrant(models.Model):
    """A pack given to a user for one occasion: the unique key makes every trigger fire exactly once."""

    pack = models.ForeignKey(GiftPack, on_delete=models.PROTECT, related_name="grants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    occasion = models.CharField(_("occasion"), max_length=64)
    granted = models.PositiveIntegerField(_("coupons granted"), default=0)
    skipped = models.JSONField(_("skipped items"), default=list, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(_("granted at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("gift pack grant")
        verbose_name_plural = _("gift pack grants")
        constraints = [
            models.UniqueConstraint(fields=["pack", "user", "occasion"], name="uniq_pack_user_occasion"),
        ]

    def __str__(self) -> str:
        return f"{self.pack} -> {self.user} ({self.occasion})"


class PendingTrigger(models.Model):
    """A gift-pack occasion that happened and whose packs are yet to be given (an outbox).

    Written in the transaction that made the occasion true (a registration, a payment, a level change), so
    it exists exactly when the fact does; fired after that commit, and by the every-minute job when the
    process died first or the firing failed (``due_at`` then moves back). Deleted once fired; the
    ``GiftPackGrant`` key keeps each pack to once however often an occasion is fired.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    trigger = models.CharField(_("trigger"), max_length=20, choices=GiftPackTrigger.choices)
    occasion = models.CharField(_("occasion"), max_length=64)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    due_at = models.DateTimeField(_("due at"))
    attempts = models.PositiveIntegerField(_("failed attempts"), default=0)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("pending gift-pack trigger")
        verbose_name_plural = _("pending gift-pack triggers")
        constraints = [
            models.UniqueConstraint(fields=["user", "trigger", "occasion"], name="uniq_pending_trigger"),
        ]
        indexes = [models.Index(fields=["due_at"], name="pending_trigger_due_idx")]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} -> {self.user_id} ({self.occasion})"


class BulkGrantStatus(models.TextChoices):
    DRAFT = "DRAFT", _("Draft")
    PENDING_REVIEW = "PENDING_REVIEW", _("Pending review")
    APPROVED = "APPROVED", _("Approved")
    RUNNING = "RUNNING", _("Running")
    DONE = "DONE", _("Done")
    FAILED = "FAILED", _("Failed")
    CANCELLED = "CANCELLED", _("Cancelled")


class BulkGrantTarget(models.TextChoices):
    USER_LIST = "USER_LIST", _("Uploaded list of users")
    SEGMENT = "SEGMENT", _("Segment")


class BulkGrant(TimeStampedModel):
    """A targeted grant (精准营销): approved by finance, run by a Celery task in chunks."""

    name = models.CharField(_("name"), max_length=100)
    target_type = models.CharField(
        _("target"), max_length=10, choices=BulkGrantTarget.choices, default=BulkGrantTarget.SEGMENT
    )
    segment = models.JSONField(
        _("segment"),
        default=dict,
        blank=True,
        encoder=DjangoJSONEncoder,
        help_text=_(
            'e.g. {"levels": ["GOLD"], "tags": ["lunch"], "registered_after": "2026-01-01", '
            '"no_order_days": 30} or {"everybody": true}'
        ),
    )
    template = models.ForeignKey(
        "coupons.CouponTemplate",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("template"),
    )
    gift_pack = models.ForeignKey(
        GiftPack, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("gift pack")
    )
    scheduled_at = models.DateTimeField(_("scheduled at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=BulkGrantStatus.choices, default=BulkGrantStatus.DRAFT, db_index=True
    )
    targeted = models.PositiveIntegerField(_("targeted"), default=0)
    granted = models.PositiveIntegerField(_("granted"), default=0)
    skipped_limit = models.PositiveIntegerField(_("skipped (limit)"), default=0)
    skipped_stock = models.PositiveIntegerField(_("skipped (stock)"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    review_remark = models.TextField(_("review remark"), blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    # Progress of the run, in user id order: every user up to ``progress_user_id`` is handled. A segment
    # is the users with ids up to ``last_user_id`` when the run started (later sign-ups are not in it).
    progress_user_id = models.BigIntegerField(default=0, editable=False)
    last_user_id = models.BigIntegerField(null=True, blank=True, editable=False)
    # The granted recipients up to this user id have their "you received a coupon" message written.
    announced_user_id = models.BigIntegerField(default=0, editable=False)
    # Touched as the run starts and as each chunk commits: a RUNNING grant whose heartbeat is older than
    # BULK_GRANT_STALL_SECONDS lost its worker and is resumed by the due-grants job.
    heartbeat_at = models.DateTimeField(_("heartbeat"), null=True, blank=True, editable=False)

    class Meta(TimeStampedModel.Meta):
        verbose_name = _("bulk grant")
        verbose_name_plural = _("bulk grants")
        permissions = [
            ("review_bulkgrant", _("Can approve or reject bulk grants")),
            ("submit_bulkgrant", _("Can submit bulk grants for review")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(template__isnull=False, gift_pack__isnull=True)
                | Q(template__isnull=True, gift_pack__isnull=False),
                name="bulk_grant_one_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RecipientStatus(models.TextChoices):
    PENDING = "PENDING", _("Pending")
    GRANTED = "GRANTED", _("Granted")
    SKIPPED_LIMIT = "SKIPPED_LIMIT", _("Skipped: limit reached")
    SKIPPED_STOCK = "SKIPPED_STOCK", _("Skipped: out of stock")
    FAILED = "FAILED", _("Failed")


class BulkGrantRecipient(models.Model):
    """One row per (grant, user): the unique key, with the grant's progress, makes a retried run resume,
    never repeat. An uploaded list is stored as PENDING rows; a segment's rows are written as it runs.

    The user key is not declared to the database: a segment's rows are written a thousand at a time by
    the chunk that read those users in the same transaction, and a granted user's coupon, inserted with
    the row, has its user key checked already. Deleting a user still removes the rows (``on_delete``).

    The unique pair is the primary key: one index fewer per row than a surrogate id beside it."""

    pk = models.CompositePrimaryKey("grant", "user")
    # The primary key leads with the grant (its foreign key uses it): no index of its own.
    grant = models.ForeignKey(BulkGrant, on_delete=models.CASCADE, related_name="recipients", db_index=False)
    # Indexed for deleting a user's rows.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    status = models.CharField(max_length=14, choices=RecipientStatus.choices, default=RecipientStatus.PENDING)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["grant", "user"]

    def __str__(self) -> str:
        return f"{self.grant_id}/{self.user_id}: {self.status}"


class NotificationKind(models.TextChoices):
    COUPON_GRANTED = "COUPON_GRANTED", _("Coupon granted")
    COUPON_EXPIRING = "COUPON_EXPIRING", _("Coupon expiring")


class Notification(models.Model):
    """The outbox of messages to customers; a pluggable backend sends them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(_("kind"), max_length=20, choices=NotificationKind.choices)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    # The title and body in each of the site's languages ({"en": {"title", "body"}, ...}), shown in the
    # reader's; ``title`` and ``body`` hold them in the default language (for the sending backend and admin).
    texts = models.JSONField(_("texts"), default=dict, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    # Makes a notification about one occasion (e.g. one coupon's expiry) exist at most once.
    dedupe_key = models.CharField(max_length=100, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Set by the one sender that claimed the row (a conditional UPDATE), before the backend is called;
    # ``sent_at`` only once the backend returned. A claim older than NOTIFICATION_CLAIM_TIMEOUT on a row
    # not sent lost its sender, and the outbox job sends the row again.
    claimed_at = models.DateTimeField(_("sending started at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(fields=["user", "created_at"], name="notification_user_idx"),
            models.Index(fields=["sent_at"], name="notification_outbox_idx"),
        ]

    def __str__(self) -> str:
        return self.title
