"""Who may claim a template (``target``), read against the customer's member facts
(``core.members``: marketing, which owns the member profile, provides them)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from core.members import NOBODY, Member, member_for

__all__ = ["NOBODY", "Member", "in_target", "member_for", "needs_member"]


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
