from django.db import migrations

NAME = "Run due bulk grants"


def every_15s(apps, schema_editor):
    """The due-grants job also resumes grants whose worker died; run it every 15 s unless staff changed it."""
    periodic_task = apps.get_model("django_celery_beat", "PeriodicTask")
    interval_schedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    task = periodic_task.objects.filter(name=NAME, interval__every=60, interval__period="seconds").first()
    if task is not None:
        task.interval, _ = interval_schedule.objects.get_or_create(every=15, period="seconds")
        task.save(update_fields=["interval"])


class Migration(migrations.Migration):
    dependencies = [("core", "0004_purge_schedule"), ("django_celery_beat", "0019_alter_periodictasks_options")]

    operations = [migrations.RunPython(every_15s, migrations.RunPython.noop)]
