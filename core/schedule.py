"""The Beat schedule of the scheduled jobs, written by a data migration and editable in admin afterwards."""

from typing import Any

# name -> (task, kind, spec). kind "every" takes seconds; "crontab" takes (minute, hour) in the
# business time zone.
SCHEDULE: dict[str, tuple[str, str, Any]] = {
    "Expire coupons": ("coupons.expire_coupons", "every", 60),
    "End templates past their claim window": ("coupons.end_templates", "every", 60),
    "End activities past their window": ("marketing.end_activities", "every", 60),
    "Cancel unpaid orders": ("orders.cancel_unpaid_orders", "every", 60),
    # Also resumes a grant whose worker died: with the 30 s stall window, within 45 s of the last chunk.
    "Run due bulk grants": ("marketing.run_due_bulk_grants", "every", 15),
    "Birthday packs": ("marketing.birthday_packs", "crontab", ("5", "0")),
    # Gift-pack occasions whose firing after their commit never happened (the process died) or failed.
    "Fire pending gift-pack triggers": ("marketing.fire_pending_triggers", "every", 60),
    "Expiry reminders": ("marketing.expiry_reminders", "crontab", ("0", "9")),
    "Stats roll-up": ("coupons.rollup_stats", "every", 600),
    # Notifications are sent right after commit; this catches any the broker did not take at the time.
    "Send waiting notifications": ("marketing.tasks.send_notifications", "every", 60),
    "Purge expired idempotency records and throttle counters": ("core.purge_expired_records", "every", 3600),
    # Webhook retries that are due, deliveries the broker never took, and those whose sender died.
    "Send due webhook deliveries": ("webhooks.send_due_deliveries", "every", 60),
}


def install_schedule(apps: Any, time_zone: str) -> None:
    """Create the periodic tasks that do not exist yet; leave edited ones alone (idempotent)."""
    periodic_task = apps.get_model("django_celery_beat", "PeriodicTask")
    interval_schedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    crontab_schedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    for name, (task, kind, spec) in SCHEDULE.items():
        if periodic_task.objects.filter(name=name).exists():
            continue
        fields: dict[str, Any] = {"name": name, "task": task, "enabled": True}
        if kind == "every":
            fields["interval"], _ = interval_schedule.objects.get_or_create(every=spec, period="seconds")
        else:
            minute, hour = spec
            fields["crontab"], _ = crontab_schedule.objects.get_or_create(
                minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*", timezone=time_zone
            )
        periodic_task.objects.create(**fields)
