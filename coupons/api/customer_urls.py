from django.conf import settings
from django.urls import path

from coupons.api import customer, staff_codes

urlpatterns = [
    path("claim-center/", customer.ClaimCenterApi.as_view(), name="claim-center"),
    path("templates/<int:pk>/claim", customer.TemplateClaimApi.as_view(), name="template-claim"),
    path("me/coupons/", customer.WalletApi.as_view(), name="wallet"),
    path("redeem-code", customer.RedeemCodeApi.as_view(), name="redeem-code"),
    path("staff/code-batches/", staff_codes.CodeBatchListCreateApi.as_view(), name="staff-code-batches"),
    path("staff/code-batches/<int:pk>/codes.csv", staff_codes.CodeBatchCsvApi.as_view(), name="staff-code-batch-csv"),
]

if settings.BENCH_NOOP:
    urlpatterns.append(path("bench/noop/<int:pk>", customer.BenchNoopApi.as_view(), name="bench-noop"))
