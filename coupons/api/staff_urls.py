from django.urls import path

from coupons.api import staff_templates as views
from coupons.api.staff_stats import TemplateStatsApi

urlpatterns = [
    path("staff/templates/", views.TemplateListCreateApi.as_view(), name="staff-templates"),
    path("staff/templates/<int:pk>", views.TemplateDetailApi.as_view(), name="staff-template"),
    path("staff/templates/<int:pk>/submit", views.TemplateSubmitApi.as_view(), name="staff-template-submit"),
    path("staff/templates/<int:pk>/approve", views.TemplateApproveApi.as_view(), name="staff-template-approve"),
    path("staff/templates/<int:pk>/reject", views.TemplateRejectApi.as_view(), name="staff-template-reject"),
    path("staff/templates/<int:pk>/stop", views.TemplateStopApi.as_view(), name="staff-template-stop"),
    path("staff/templates/<int:pk>/copy", views.TemplateCopyApi.as_view(), name="staff-template-copy"),
    path("staff/templates/<int:pk>/stats", TemplateStatsApi.as_view(), name="staff-template-stats"),
]
