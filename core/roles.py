"""The staff roles and their permissions; applied by a data migration and by ``create_staff``."""

from collections.abc import Iterable

from django.contrib.auth.management import create_permissions

OPERATIONS = "Operations"
FINANCE = "Finance"

ROLE_PERMISSIONS: dict[str, list[str]] = {
    OPERATIONS: [
        "coupons.add_coupontemplate",
        "coupons.change_coupontemplate",
        "coupons.view_coupontemplate",
        "coupons.submit_coupontemplate",
        "coupons.stop_coupontemplate",
        "coupons.grant_coupontemplate",
        "coupons.view_usercoupon",
        "coupons.add_redemptioncodebatch",
        "coupons.view_redemptioncodebatch",
        "coupons.view_redemptioncode",
        "coupons.view_templatedailystats",
        "marketing.add_activity",
        "marketing.change_activity",
        "marketing.view_activity",
        "marketing.publish_activity",
        "marketing.add_activityitem",
        "marketing.change_activityitem",
        "marketing.delete_activityitem",
        "marketing.view_activityitem",
        "marketing.add_giftpack",
        "marketing.change_giftpack",
        "marketing.view_giftpack",
        "marketing.add_giftpackitem",
        "marketing.change_giftpackitem",
        "marketing.delete_giftpackitem",
        "marketing.view_giftpackitem",
        "marketing.view_giftpackgrant",
        "marketing.view_pendingtrigger",
        "marketing.add_bulkgrant",
        "marketing.change_bulkgrant",
        "marketing.view_bulkgrant",
        "marketing.submit_bulkgrant",
        "marketing.view_memberprofile",
        "marketing.change_memberprofile",
        "marketing.add_membertag",
        "marketing.change_membertag",
        "marketing.view_membertag",
        "marketing.view_notification",
        "orders.add_category",
        "orders.change_category",
        "orders.view_category",
        "orders.add_product",
        "orders.change_product",
        "orders.view_product",
        "orders.view_order",
        "orders.cancel_order",
        "orders.view_orderline",
        "orders.view_ordercoupon",
        "core.view_auditlog",
        "webhooks.add_webhookendpoint",
        "webhooks.change_webhookendpoint",
        "webhooks.view_webhookendpoint",
        "webhooks.view_webhookdelivery",
        "webhooks.retry_webhookdelivery",
        "webhooks.view_webhookattempt",
    ],
    FINANCE: [
        "coupons.view_coupontemplate",
        "coupons.review_coupontemplate",
        "coupons.view_usercoupon",
        "coupons.view_redemptioncodebatch",
        "coupons.view_templatedailystats",
        "marketing.view_activity",
        "marketing.view_activityitem",
        "marketing.view_giftpack",
        "marketing.view_giftpackitem",
        "marketing.view_giftpackgrant",
        "marketing.view_pendingtrigger",
        "marketing.view_bulkgrant",
        "marketing.review_bulkgrant",
        "marketing.view_memberprofile",
        "orders.view_category",
        "orders.view_product",
        "orders.view_order",
        "orders.view_orderline",
        "orders.view_ordercoupon",
        "core.view_auditlog",
    ],
}

ROLES = {"operations": OPERATIONS, "finance": FINANCE}


def sync_role_groups(
    group_model, permission_model, *, only_missing: bool = False, app_labels: Iterable[str] | None = None
) -> None:
    """Create the role groups and give them exactly their permissions (idempotent). With
    ``only_missing`` groups that exist are left alone. With ``app_labels`` only the permissions of those
    apps are set, the others left as they are: the data migration of an app added later gives the roles
    its permissions that way."""
    labels = set(app_labels) if app_labels is not None else None
    for group_name, perms in ROLE_PERMISSIONS.items():
        group, created = group_model.objects.get_or_create(name=group_name)
        if only_missing and not created:
            continue
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".", 1)
            if labels is None or app_label in labels:
                wanted.append(permission_model.objects.get(content_type__app_label=app_label, codename=codename))
        if labels is None:
            group.permissions.set(wanted)
        else:
            group.permissions.remove(
                *group.permissions.filter(content_type__app_label__in=labels).exclude(pk__in=[p.pk for p in wanted])
            )
            group.permissions.add(*wanted)


def give_roles_app_permissions(apps, app_label: str) -> None:
    """For an app's data migration: create the app's permissions now (Django creates them only after all
    migrations) and give the roles those of ``ROLE_PERMISSIONS``, leaving other apps' as they are."""
    app_config = apps.get_app_config(app_label)
    app_config.models_module = True
    create_permissions(app_config, verbosity=0)
    app_config.models_module = None
    sync_role_groups(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"), app_labels=[app_label])
