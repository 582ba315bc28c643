"""What the layers below marketing may know about a customer: the member facts (level, tags, user type,
registration time) that audience rules (a template's or an activity's ``target``) are read against.

Marketing owns the member profile and registers the reader (``register_member_source``) when it starts;
coupons ask ``member_for`` and never import marketing. The choices live here for the same reason: the
rules that name a level or a user type are checked by coupons.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class MemberLevel(models.TextChoices):
    NORMAL = "NORMAL", _("Normal")
    SILVER = "SILVER", _("Silver")
    GOLD = "GOLD", _("Gold")
    VIP = "VIP", _("VIP")


class UserType(models.TextChoices):
    CONSUMER = "C", _("Consumer")
    BUSINESS = "B", _("Business")


@dataclass(frozen=True)
class Member:
    """What targeting needs to know about a customer."""

    level: str | None
    tags: frozenset[str]
    user_type: str | None
    registered_at: datetime | None


NOBODY = Member(level=None, tags=frozenset(), user_type=None, registered_at=None)

MemberSource = Callable[[Any], Member]


def _no_profile(user: Any) -> Member:
    return Member(level=None, tags=frozenset(), user_type=None, registered_at=getattr(user, "date_joined", None))


_source: list[MemberSource] = [_no_profile]


def register_member_source(source: MemberSource) -> None:
    """Read member facts with ``source`` (the app that owns member profiles calls this once)."""
    _source[0] = source


def member_for(user: Any) -> Member:
    """The targeting facts of ``user``."""
    return _source[0](user)


AudienceCounter = Callable[[dict[str, Any], datetime], int]


def _nobody_counted(target: dict[str, Any], now: datetime) -> int:
    return 0


_counter: list[AudienceCounter] = [_nobody_counted]


def register_audience_counter(counter: AudienceCounter) -> None:
    """Count a ``target``'s customers with ``counter`` (the app that owns member profiles calls this once)."""
    _counter[0] = counter


def audience_size(target: dict[str, Any], now: datetime) -> int:
    """How many active customers ``target`` (a template's audience) lets in at ``now``."""
    return _counter[0](target, now)


_tag_lister: list[Callable[[], list[str]]] = [list]


def register_tag_lister(lister: Callable[[], list[str]]) -> None:
    """List the member tags staff can target with ``lister`` (the app that owns member profiles)."""
    _tag_lister[0] = lister


def member_tags() -> list[str]:
    """Every member tag in use, for audience choices."""
    return _tag_lister[0]()


def canonical_tags(tags: Iterable[str]) -> list[str]:
    """``tags`` as the member tags are spelled (sorted, without repeats), for an audience to store.

    MySQL's tag names are unique whatever their case, so "lunch" names the tag "Lunch" there, in the
    audience count and in a bulk grant's query; eligibility compares the stored names exactly, so an
    audience keeps the tag's own spelling. A name no tag has is kept as written."""
    known = member_tags()
    exact = set(known)
    folded: dict[str, str] = {}
    for name in known:
        folded.setdefault(name.casefold(), name)
    return sorted({tag if tag in exact else folded.get(tag.casefold(), tag) for tag in tags})
