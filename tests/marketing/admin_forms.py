"""The form data admin's add pages of activities and gift packs send, with one item."""

from datetime import timedelta

from django.utils import timezone


def one_item(template, quantity) -> dict:
    """The items inline with one row."""
    return {
        "items-TOTAL_FORMS": 1,
        "items-INITIAL_FORMS": 0,
        "items-MIN_NUM_FORMS": 0,
        "items-MAX_NUM_FORMS": 1000,
        "items-0-template": template.pk,
        "items-0-quantity": quantity,
    }


def activity_form(template, quantity) -> dict:
    now = timezone.localtime()
    return {
        "title": "Lunch week",
        "intro": "",
        "start_time_0": now.strftime("%Y-%m-%d"),
        "start_time_1": "00:00:00",
        "end_time_0": (now + timedelta(days=7)).strftime("%Y-%m-%d"),
        "end_time_1": "00:00:00",
        "channel": "",
        "per_user_limit": 1,
        **one_item(template, quantity),
    }


def pack_form(template, quantity) -> dict:
    return {
        "name": "Welcome",
        "description": "",
        "trigger": "REGISTER",
        "is_active": "on",
        **one_item(template, quantity),
    }


def activity_change_form(activity, **changes) -> dict:
    """The change page of a draft activity as it was read, with its items, and ``changes``."""
    start, end = timezone.localtime(activity.start_time), timezone.localtime(activity.end_time)
    items = list(activity.items.order_by("pk"))
    data = {
        "title": activity.title,
        "intro": activity.intro,
        "start_time_0": start.strftime("%Y-%m-%d"),
        "start_time_1": start.strftime("%H:%M:%S"),
        "end_time_0": end.strftime("%Y-%m-%d"),
        "end_time_1": end.strftime("%H:%M:%S"),
        "channel": activity.channel,
        "per_user_limit": activity.per_user_limit,
        "items-TOTAL_FORMS": len(items),
        "items-INITIAL_FORMS": len(items),
        "items-MIN_NUM_FORMS": 0,
        "items-MAX_NUM_FORMS": 1000,
    }
    for index, item in enumerate(items):
        data |= {
            f"items-{index}-id": item.pk,
            f"items-{index}-activity": activity.pk,
            f"items-{index}-template": item.template_id,
            f"items-{index}-quantity": item.quantity,
        }
    return data | changes
