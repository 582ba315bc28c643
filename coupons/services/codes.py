"""Redemption codes (兑换码): batches of single-use codes, and redeeming one."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core import attempts
from core.audit import audit_record
from core.clients import address_bucket
from core.clock import business_tz
from core.db import retry_on_conflict
from core.errors import InvalidTransition, NotFound, PermissionDeniedError, TooManyRequests, ValidationFailed
from core.statements import insert_rows_ignoring_duplicates
from coupons.errors import CouponErrorCode
from coupons.ledger.issuing import issue_coupons, with_fresh_codes
from coupons.models import (
    CouponSource,
    CouponTemplate,
    RedemptionCode,
    RedemptionCodeBatch,
    TemplateStatus,
    UserCoupon,
    ValidityType,
)

# Crockford base32: no I, L, O, U, so nothing is misread. 16 characters are 80 random bits.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
MAX_BATCH_QUANTITY = 100_000
_INSERT_CHUNK = 5_000
# What a customer may type: Crockford decoding reads O as 0 and I, L as 1; dashes and spaces are
# separators. Full-width characters (a Chinese input method's full-width mode: "ＡＢＣＤ－１２３４") are read
# as their ASCII forms (NFKC), and any dash or hyphen as a separator.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\uff0d]")
_VALID = re.compile(rf"^[{ALPHABET}]{{12,32}}$")


class InvalidCode(NotFound):
    """One answer for unknown, used and expired codes alike: nothing tells them apart."""

    default_code = CouponErrorCode.INVALID_CODE


def invalid_code() -> InvalidCode:
    return InvalidCode(_("This code is not valid."))


# Each random byte's low five bits pick a character: 256 is a multiple of 32, so every character is
# equally likely, and a code costs one call for its random bytes.
_BYTE_TO_CHAR = bytes(ord(ALPHABET[b % len(ALPHABET)]) for b in range(256))
assert len(ALPHABET) == 32


def new_code() -> str:
    return secrets.token_bytes(CODE_LENGTH).translate(_BYTE_TO_CHAR).decode("ascii")


def normalise_code(raw: str) -> str | None:
    code = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw)).upper().translate(_READ_AS)
    return code if _VALID.match(code) else None


def _fresh_codes(count: int) -> Iterator[str]:
    seen: set[str] = set()
    while len(seen) < count:
        code = new_code()
        if code not in seen:
            seen.add(code)
            yield code


def codes_outstanding(template: CouponTemplate, now: datetime | None = None) -> int:
    """Codes of the template's batches that can still be redeemed: not redeemed, batch not expired."""
    now = now or timezone.now()
    return (
        RedemptionCode.objects.filter(batch__template=template, redeemed_at__isnull=True)
        .filter(Q(batch__expires_at__isnull=True) | Q(batch__expires_at__gt=now))
        .count()
    )


def batch_beyond_stock(template: CouponTemplate, quantity: int) -> str | None:
    """Why a batch of ``quantity`` more codes is refused (the sense check), or None. Each code that
    can still be redeemed holds a coupon of the remaining stock: a batch beyond what is left after them
    would hand customers codes that answer "sold out"."""
    remaining = template.remaining
    if remaining is None:
        return None
    outstanding = codes_outstanding(template)
    if quantity <= remaining - outstanding:
        return None
    if not outstanding:
        return _("The batch (%(quantity)s codes) is larger than the remaining stock (%(remaining)s).") % {
            "quantity": quantity,
            "remaining": remaining,
        }
    return _(
        "The batch (%(quantity)s codes) is larger than the remaining stock (%(remaining)s) less the "
        "%(outstanding)s codes of earlier batches not yet redeemed."
    ) % {"quantity": quantity, "remaining": remaining, "outstanding": outstanding}


def issuing_ends(template: CouponTemplate) -> datetime | None:
    """When ``template`` stops issuing coupons (its claim window's end, or a fixed validity's end,
    whichever comes first), or None when it never does."""
    ends = [template.issue_end_time]
    if template.validity_type == ValidityType.FIXED_DATE:
        ends.append(template.valid_until)
    return min((end for end in ends if end is not None), default=None)


def batch_expiry(template: CouponTemplate, expires_at: datetime | None) -> tuple[datetime | None, str | None]:
    """The codes' expiry for a batch of ``template`` and why the one asked for is refused (or None).

    A code cannot outlive its template's issuing: redeemed after the claim window (or a fixed validity)
    is over, it would only answer "cannot be claimed now" to a customer whose code says it is valid. So the
    expiry is at most the moment the template stops issuing, and without one asked for, it is that moment.
    """
    ends = issuing_ends(template)
    if ends is None:
        return expires_at, None
    if expires_at is None:
        return ends, None
    if expires_at > ends:
        return expires_at, _(
            "The codes must expire by %(end)s, when the template stops issuing coupons; a code redeemed "
            "later would be refused."
        ) % {"end": timezone.localtime(ends, business_tz()).strftime("%Y-%m-%d %H:%M")}
    return expires_at, None


@transaction.atomic
def code_batch_create(
    *, template: CouponTemplate, name: str, quantity: int, actor: Any, expires_at: datetime | None = None
) -> RedemptionCodeBatch:
    """Generate ``quantity`` unique codes for an approved template. A code that collides with an
    existing one is dropped by the unique key and replaced. The codes expire by the time the template
    stops issuing coupons (``batch_expiry``): then, when no expiry is given."""
    if actor is None or not actor.has_perm("coupons.add_redemptioncodebatch"):
        raise PermissionDeniedError(_("You do not have permission to do this."))
    if not 1 <= quantity <= MAX_BATCH_QUANTITY:
        raise ValidationFailed(
            _("Quantity must be from 1 to %(max)s.") % {"max": MAX_BATCH_QUANTITY},
            details={"quantity": [_("Quantity must be from 1 to %(max)s.") % {"max": MAX_BATCH_QUANTITY}]},
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed(
            _("The codes must expire in the future."),
            details={"expires_at": [_("The codes must expire in the future.")]},
        )
    locked = CouponTemplate.objects.select_for_update().get(pk=template.pk)
    if locked.status != TemplateStatus.APPROVED:
        raise InvalidTransition(
            _("Codes can only be generated for an approved template."),
            code=CouponErrorCode.INVALID_STATE,
            details={"template_id": locked.pk, "status": locked.status},
        )
    message = batch_beyond_stock(locked, quantity)
    if message is not None:
        raise ValidationFailed(message, details={"quantity": [message]})
    expires_at, message = batch_expiry(locked, expires_at)
    if message is not None:
        raise ValidationFailed(message, details={"expires_at": [message]})
    batch = RedemptionCodeBatch.objects.create(
        name=name, template=locked, quantity=quantity, expires_at=expires_at, created_by=actor
    )
    shared = {"batch_id": batch.pk, "redeemed_by_id": None, "redeemed_at": None, "coupon_id": None}
    missing = quantity
    while missing:  # a code some batch holds already is skipped by the unique key, and made again
        rows = [(code,) for code in _fresh_codes(min(_INSERT_CHUNK, missing))]
        inserted = insert_rows_ignoring_duplicates(RedemptionCode, ["code"], rows, shared=shared)
        if not inserted:  # 80 random bits never collide a whole chunk: something else refused the rows
            raise RuntimeError(f"no redemption code of batch {batch.pk} could be inserted")
        missing -= inserted
    audit_record(subject=batch, actor=actor, action="create", data={"template_id": locked.pk, "quantity": quantity})
    return batch


def redeem_limits(*, user: Any, ip: str | None) -> list[attempts.Limit]:
    framework: dict[str, Any] = settings.REST_FRAMEWORK
    rates: dict[str, Any] = framework.get("DEFAULT_THROTTLE_RATES") or {}
    user_limit, user_window = attempts.parse_rate(rates.get("redeem_user") or "10/min")
    limits = [attempts.Limit(f"redeem:user:{user.pk}", user_limit, user_window)]
    if ip:
        ip_limit, ip_window = attempts.parse_rate(rates.get("redeem_ip") or "30/min")
        limits.append(attempts.Limit(f"redeem:ip:{address_bucket(ip)}", ip_limit, ip_window))
    return limits


def code_redeem(*, user: Any, code: str, ip: str | None = None) -> UserCoupon:
    """Redeem a code for a ``REDEEM_CODE`` coupon.

    Every attempt is counted per user and per IP before the code is looked at, atomically, and given
    back only when it succeeds; past the limit the answer is 429 whatever the code. Unknown, used and
    expired codes get one answer (``InvalidCode``, 404). The coupon respects the template's stock and
    per-user limit, not the claim center's visibility or target: the code is the entitlement.
    """
    limits = redeem_limits(user=user, ip=ip)
    if not attempts.reserve(limits):
        raise TooManyRequests(_("Too many attempts; try again later."), retry_after=attempts.retry_after(limits))
    normalised = normalise_code(code)
    if normalised is None:
        raise invalid_code()
    coupon = with_fresh_codes(lambda: _redeem(user, normalised))
    attempts.release(limits)
    return coupon


@retry_on_conflict
def _redeem(user: Any, code: str) -> UserCoupon:
    now = timezone.now()
    row = RedemptionCode.objects.select_related("batch").filter(code=code).first()
    if row is None or row.redeemed_at is not None or (row.batch.expires_at and row.batch.expires_at <= now):
        raise invalid_code()
    # Take the code first (its row stays X-locked), then the template's stock and quota.
    if not RedemptionCode.objects.filter(pk=row.pk, redeemed_at__isnull=True).update(redeemed_by=user, redeemed_at=now):
        raise invalid_code()
    template = CouponTemplate.objects.get(pk=row.batch.template_id)
    (coupon,) = issue_coupons(
        template=template, user_id=user.pk, source=CouponSource.REDEEM_CODE, source_ref=str(row.batch_id), now=now
    )
    RedemptionCode.objects.filter(pk=row.pk).update(coupon=coupon)
    return coupon
