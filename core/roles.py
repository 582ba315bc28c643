"""The staff roles and their permissions; applied by a data migration and by ``create_staff``."""

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


def sync_role_groups(group_model, permission_model, *, only_missing: bool = False) -> None:
    """Create the role groups and give them exactly their permissions (idempotent). With
    ``only_missing`` groups that exist are left alone."""
    for group_name, perms in ROLE_PERMISSIONS.items():
        group, created = group_model.objects.get_or_create(name=group_name)
        if only_missing and not created:
            continue
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".", 1)
            wanted.append(permission_model.objects.get(content_type__app_label=app_label, codename=codename))
        group.permissions.set(wanted)
