"""Who may claim a template (``target``, SPEC 4.4), read against the customer's member profile."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from marketing.models import MemberProfile


@dataclass(frozen=True)
class Member:
    """What targeting needs to know about a customer."""

    level: str | None
    tags: frozenset[str]
    user_type: str | None
    registered_at: datetime | None


NOBODY = Member(level=None, tags=frozenset(), user_type=None, registered_at=None)


def member_for(user: Any) -> Member:
    """The targeting facts of ``user`` (two small queries; none for a user without a profile)."""
    profile = MemberProfile.objects.filter(user_id=user.pk).only("id", "level", "user_type", "registered_at").first()
    if profile is None:
        return Member(level=None, tags=frozenset(), user_type=None, registered_at=getattr(user, "date_joined", None))
    tags = frozenset(profile.tags.values_list("name", flat=True))
    return Member(level=profile.level, tags=tags, user_type=profile.user_type, registered_at=profile.registered_at)


def needs_member(target: dict[str, Any] | None) -> bool:
    return bool(target) and (target or {}).get("type", "ALL") != "ALL"


def in_target(target: dict[str, Any] | None, member: Member, now: datetime) -> bool:
    """Whether ``member`` is in ``target``. An unknown target shape lets nobody in."""
    target = target or {"type": "ALL"}
    kind = target.get("type", "ALL")
    if kind == "ALL":
        return True
    if kind == "NEW_USER":
        days = target.get("days")
        if not isinstance(days, int) or member.registered_at is None:
            return False
        return member.registered_at >= now - timedelta(days=days)
    if kind == "MEMBER_LEVELS":
        return member.level is not None and member.level in (target.get("levels") or [])
    if kind == "TAGS":
        return bool(member.tags.intersection(target.get("tags") or []))
    if kind == "USER_TYPE":
        return member.user_type is not None and member.user_type == target.get("user_type")
    return False
