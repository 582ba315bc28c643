from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def ensure_role_groups(sender, using="default", **kwargs) -> None:
    """Recreate missing role groups after migrate or flush (a flush empties auth tables; the data
    migration does not run again). Existing groups are left as staff may have edited them."""
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    from core.roles import ROLE_PERMISSIONS, sync_role_groups

    if Group.objects.using(using).filter(name__in=ROLE_PERMISSIONS).count() == len(ROLE_PERMISSIONS):
        return
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    sync_role_groups(Group, Permission, only_missing=True)


def ensure_schedule(sender, using="default", apps=None, **kwargs) -> None:
    """After migrate or flush: a database holding none of the schedule's jobs (a flush empties the table;
    the data migration does not run again) gets the whole schedule. A job staff deleted on purpose
    while others remain is not brought back."""
    from django.apps import apps as global_apps
    from django.conf import settings

    from core.schedule import SCHEDULE, install_schedule

    state = apps or global_apps
    try:
        periodic_task = state.get_model("django_celery_beat", "PeriodicTask")
    except LookupError:  # Beat's tables are not migrated yet
        return
    if periodic_task.objects.using(using).filter(name__in=SCHEDULE).exists():
        return
    install_schedule(state, settings.TIME_ZONE)


def ensure_stamps(sender, using="default", apps=None, **kwargs) -> None:
    """After migrate or flush (which empties the table): a row for each stamp (``core.stamps``)."""
    from django.apps import apps as global_apps

    from core.stamps import missing_stamps

    try:
        stamp = (apps or global_apps).get_model("core", "Stamp")
    except LookupError:  # not migrated that far
        return
    stamp.objects.using(using).bulk_create(missing_stamps(stamp, using), ignore_conflicts=True)


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from core import checks  # noqa: F401  (registers the system checks)
        from core.lockout import on_logged_in, on_login_failed

        user_login_failed.connect(on_login_failed, dispatch_uid="core.lockout.failed")
        user_logged_in.connect(on_logged_in, dispatch_uid="core.lockout.logged_in")

        post_migrate.connect(ensure_role_groups, sender=self, dispatch_uid="core.ensure_role_groups")
        post_migrate.connect(ensure_schedule, sender=self, dispatch_uid="core.ensure_schedule")
        post_migrate.connect(ensure_stamps, sender=self, dispatch_uid="core.ensure_stamps")
