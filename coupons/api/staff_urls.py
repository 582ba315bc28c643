from django.urls import path

from core.api.routes import slash_optional
from coupons.api import staff_templates as views
from coupons.api.staff_stats import TemplateStatsApi

# Detail and action URLs answer with and without a trailing slash.
urlpatterns = [
    path("staff/templates/", views.TemplateListCreateApi.as_view(), name="staff-templates"),
    slash_optional("staff/templates/<int:pk>", views.TemplateDetailApi.as_view(), name="staff-template"),
    slash_optional("staff/templates/<int:pk>/submit", views.TemplateSubmitApi.as_view(), name="staff-template-submit"),
    slash_optional(
        "staff/templates/<int:pk>/approve", views.TemplateApproveApi.as_view(), name="staff-template-approve"
    ),
    slash_optional("staff/templates/<int:pk>/reject", views.TemplateRejectApi.as_view(), name="staff-template-reject"),
    slash_optional("staff/templates/<int:pk>/stop", views.TemplateStopApi.as_view(), name="staff-template-stop"),
    slash_optional("staff/templates/<int:pk>/copy", views.TemplateCopyApi.as_view(), name="staff-template-copy"),
    slash_optional("staff/templates/<int:pk>/stats", TemplateStatsApi.as_view(), name="staff-template-stats"),
]
