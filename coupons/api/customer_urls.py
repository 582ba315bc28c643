from django.conf import settings
from django.urls import path

from core.api.routes import slash_optional
from coupons.api import customer, staff_codes

# Detail and action URLs answer with and without a trailing slash.
urlpatterns = [
    path("claim-center/", customer.ClaimCenterApi.as_view(), name="claim-center"),
    slash_optional("templates/<int:pk>/claim", customer.TemplateClaimApi.as_view(), name="template-claim"),
    path("me/coupons/", customer.WalletApi.as_view(), name="wallet"),
    slash_optional("redeem-code", customer.RedeemCodeApi.as_view(), name="redeem-code"),
    path("staff/code-batches/", staff_codes.CodeBatchListCreateApi.as_view(), name="staff-code-batches"),
    slash_optional(
        "staff/code-batches/<int:pk>/codes.csv", staff_codes.CodeBatchCsvApi.as_view(), name="staff-code-batch-csv"
    ),
]

if settings.BENCH_NOOP:
    urlpatterns.append(path("bench/noop/<int:pk>", customer.BenchNoopApi.as_view(), name="bench-noop"))
