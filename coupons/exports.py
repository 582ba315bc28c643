"""CSV exports for staff: a template's coupons (streamed, any size) and its daily stats."""

import csv
from collections.abc import Iterator

from django.http import StreamingHttpResponse

from coupons.models import CouponTemplate, TemplateDailyStats, UserCoupon

EXPORT_CHUNK = 2000


class _Echo:
    def write(self, value: str) -> str:
        return value


def _stream(header: list[str], rows: Iterator[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # so spreadsheet programs read the Chinese names as UTF-8
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def _coupon_rows(template: CouponTemplate) -> Iterator[list]:
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
            yield [
                ("" if value is None else value.isoformat() if hasattr(value, "isoformat") else value) for value in row
            ]
        last_id = chunk[-1][0]


def template_coupons_csv(template: CouponTemplate) -> StreamingHttpResponse:
    header = [
        "id",
        "code",
        "customer",
        "status",
        "amount",
        "source",
        "source_ref",
        "acquired_at",
        "valid_from",
        "expires_at",
        "used_at",
        "order_id",
    ]
    response = StreamingHttpResponse(_stream(header, _coupon_rows(template)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="template-{template.pk}-coupons.csv"'
    return response


def template_stats_csv(template: CouponTemplate) -> StreamingHttpResponse:
    rows = (
        [row.day.isoformat(), row.issued, row.used, row.expired, row.revoked, row.discount]
        for row in TemplateDailyStats.objects.filter(template=template).order_by("day").iterator()
    )
    header = ["day", "issued", "used", "expired", "revoked", "discount"]
    response = StreamingHttpResponse(_stream(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="template-{template.pk}-stats.csv"'
    return response
