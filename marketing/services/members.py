"""Member profile changes by staff; a raised level fires the MEMBER_LEVEL_UP pack (once per level)."""

from typing import Any

from django.db import transaction

from core.audit import audit_record
from marketing.models import MemberLevel, MemberProfile
from marketing.triggers import on_member_level_up

LEVEL_ORDER = [MemberLevel.NORMAL, MemberLevel.SILVER, MemberLevel.GOLD, MemberLevel.VIP]


@transaction.atomic
def member_profile_update(*, profile: MemberProfile, actor: Any, data: dict[str, Any]) -> MemberProfile:
    locked = MemberProfile.objects.select_for_update().get(pk=profile.pk)
    old_level = locked.level
    tags = data.pop("tags", None)
    for name, value in data.items():
        setattr(locked, name, value)
    locked.save()
    if tags is not None:
        locked.tags.set(tags)
    audit_record(
        subject=locked,
        actor=actor,
        action="edit",
        from_status=old_level,
        to_status=locked.level,
        data={"fields": sorted(data) + (["tags"] if tags is not None else [])},
    )
    if LEVEL_ORDER.index(MemberLevel(locked.level)) > LEVEL_ORDER.index(MemberLevel(old_level)):
        on_member_level_up(locked.user_id, locked.level)
    return locked
