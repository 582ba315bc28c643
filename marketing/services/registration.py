"""Customer registration: the account, its member profile and the welcome triggers."""

import secrets
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.choices import Channel
from core.errors import ValidationFailed
from marketing.models import MemberProfile
from marketing.triggers import on_customer_registered

# Crockford base32 without I, L, O, U: nothing a customer can misread.
INVITE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
INVITE_CODE_LENGTH = 8


def new_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_CODE_LENGTH))


def member_profile_create(
    *, user: Any, birthday: date | None = None, invited_by: Any = None, channel: str = Channel.APP
) -> MemberProfile:
    # A collision of 32^8 codes is rare; retry it instead of surfacing it.
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return MemberProfile.objects.create(
                    user=user,
                    birthday=birthday,
                    invited_by=invited_by,
                    channel=channel,
                    invite_code=new_invite_code(),
                )
        except IntegrityError:
            if MemberProfile.objects.filter(user=user).exists():
                raise
    raise RuntimeError("could not draw a unique invite code")


def customer_register(
    *,
    username: str,
    password: str,
    birthday: date | None = None,
    invite_code: str = "",
    channel: str = Channel.APP,
) -> AbstractBaseUser:
    """Create a customer and their member profile; after commit the register (and invite) packs fire."""
    user_model = get_user_model()
    inviter = None
    if invite_code:
        # A closed (deactivated) account's code invites nobody: it would earn its owner the inviter's pack.
        profile = (
            MemberProfile.objects.select_related("user")
            .filter(invite_code=invite_code.upper(), user__is_active=True)
            .first()
        )
        if profile is None:
            raise ValidationFailed(
                _("Unknown invite code."),
                code="INVALID_INVITE_CODE",
                details={"invite_code": [_("Unknown invite code.")]},
            )
        inviter = profile.user
    try:
        with transaction.atomic():
            user = user_model.objects.create_user(username=username, password=password)
            member_profile_create(user=user, birthday=birthday, invited_by=inviter, channel=channel)
            on_customer_registered(user_id=user.pk, inviter_id=inviter.pk if inviter else None)
    except IntegrityError:
        raise ValidationFailed(
            _("This username is taken."), code="USERNAME_TAKEN", details={"username": [_("This username is taken.")]}
        ) from None
    return user
