"""CSV exports for staff: a template's coupons (streamed, any size), its daily stats, a batch's
redemption codes.

Headers and status names are in the reader's language; times are in the business time zone, as a person
reads them on the admin pages (the API keeps ISO 8601 with an offset)."""

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.clock import business_tz
from coupons.models import (
    CouponSource,
    CouponStatus,
    CouponTemplate,
    RedemptionCode,
    RedemptionCodeBatch,
    TemplateDailyStats,
    UserCoupon,
)

EXPORT_CHUNK = 2000
STREAM_PIECE = 64_000


class _Echo:
    def write(self, value: str) -> str:
        return value


def _stream(header: list[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV's text in pieces of about ``STREAM_PIECE`` characters (a piece per row would be a write
    per row for the web server)."""
    writer = csv.writer(_Echo())
    # The byte order mark, so spreadsheet programs read the Chinese names as UTF-8.
    piece, size = ["\ufeff", writer.writerow(header)], 0
    for row in rows:
        line = writer.writerow([_text(value) for value in row])
        piece.append(line)
        size += len(line)
        if size >= STREAM_PIECE:
            yield "".join(piece)
            piece, size = [], 0
    yield "".join(piece)


def business_time(value: datetime | None) -> str:
    """An instant as the business reads it: ``2026-01-31 12:00:00`` in the business time zone."""
    if value is None:
        return ""
    return timezone.localtime(value, business_tz()).strftime("%Y-%m-%d %H:%M:%S")


# A text cell starting with one of these is read as a formula by spreadsheet programs: a name typed as
# "=HYPERLINK(...)" would run when Finance opens the file (OWASP's CSV injection). Such text is written
# with a leading apostrophe, which the programs show as text and do not display.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return business_time(value)
    return value


def _text(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_STARTS) else value


def _coupon_rows(template: CouponTemplate, labels: dict[str, str]) -> Iterator[list]:
    # The labels are resolved before streaming starts: the rows are produced after the view returns,
    # when the request's language may no longer be active.
    last_id = 0
    while True:
        chunk = list(
            UserCoupon.objects.filter(template=template, id__gt=last_id)
            .order_by("id")
            .values_list(
                "id",
                "code",
                "user__username",
                "status",
                "amount",
                "source",
                "source_ref",
                "acquired_at",
                "valid_from",
                "expires_at",
                "used_at",
                "order_id",
            )[:EXPORT_CHUNK]
        )
        if not chunk:
            return
        for row in chunk:
            cells = [_cell(value) for value in row]
            cells[3] = labels.get(cells[3], cells[3])  # status
            cells[5] = labels.get(cells[5], cells[5])  # source
            yield cells
        last_id = chunk[-1][0]


def template_coupons_csv(template: CouponTemplate) -> StreamingHttpResponse:
    header = [
        _("ID"),
        _("coupon code"),
        _("customer"),
        _("status"),
        _("amount"),
        _("source"),
        _("source reference"),
        _("acquired at"),
        _("valid from"),
        _("expires at"),
        _("used at"),
        _("order"),
    ]
    labels = {str(value): str(label) for value, label in [*CouponStatus.choices, *CouponSource.choices]}
    response = StreamingHttpResponse(
        _stream(header, _coupon_rows(template, labels)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="template-{template.pk}-coupons.csv"'
    return response


def template_stats_csv(template: CouponTemplate) -> StreamingHttpResponse:
    rows = (
        [row.day.isoformat(), row.issued, row.used, row.expired, row.revoked, row.discount]
        for row in TemplateDailyStats.objects.filter(template=template).order_by("day").iterator()
    )
    header = [_("day"), _("issued"), _("used"), _("expired"), _("revoked"), _("discount given")]
    response = StreamingHttpResponse(_stream(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="template-{template.pk}-stats.csv"'
    return response


def _code_rows(batch: RedemptionCodeBatch) -> Iterator[list]:
    last_id = 0
    while True:
        chunk = list(
            RedemptionCode.objects.filter(batch=batch, id__gt=last_id)
            .order_by("id")
            .values_list("id", "code", "redeemed_at", "redeemed_by__username")[:EXPORT_CHUNK]
        )
        if not chunk:
            return
        for _id, code, redeemed_at, customer in chunk:
            yield [code, business_time(redeemed_at), customer or ""]
        last_id = chunk[-1][0]


def code_batch_csv(batch: RedemptionCodeBatch) -> StreamingHttpResponse:
    """A batch's codes in a stable order: the code, when it was redeemed and by whom (empty until then)."""
    header = [_("redemption code"), _("redeemed at"), _("customer")]
    response = StreamingHttpResponse(_stream(header, _code_rows(batch)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="codes-batch-{batch.pk}.csv"'
    return response
