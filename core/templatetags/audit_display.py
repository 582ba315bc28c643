from django import template
from django.contrib.admin.models import LogEntry

from core.audit_display import admin_log_message

register = template.Library()


@register.filter
def history_message(entry: LogEntry) -> str:
    return admin_log_message(entry)
