"""Admin's login form with the sign-in lockout (``core.lockout``)."""

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import ngettext

from core.clients import client_address
from core.lockout import USERNAME, LockedOut, Lockout, attempt_abandon, attempt_begin, lockout_for


def lockout_message(lock: Lockout) -> str:
    minutes = -(-lock.seconds_left() // 60)
    if lock.scope == USERNAME:
        return ngettext(
            "Too many failed sign-ins for this username. Signing in with it is locked for %(minutes)d minute; "
            "try again later.",
            "Too many failed sign-ins for this username. Signing in with it is locked for %(minutes)d minutes; "
            "try again later.",
            minutes,
        ) % {"minutes": minutes}
    return ngettext(
        "Too many failed sign-ins from your network address. Signing in from it is locked for %(minutes)d "
        "minute; try again later.",
        "Too many failed sign-ins from your network address. Signing in from it is locked for %(minutes)d "
        "minutes; try again later.",
        minutes,
    ) % {"minutes": minutes}


class LockoutAuthenticationForm(AdminAuthenticationForm):
    """Admin's login form: an attempt takes its slot before the password is checked, and a locked
    username or address is refused (``core.lockout``); the failure that locks them is told so at once."""

    def _lockout(self) -> Lockout | None:
        address = client_address(self.request) if self.request is not None else None
        return lockout_for(username=self.cleaned_data.get("username"), address=address)

    def clean(self) -> dict[str, Any]:
        try:
            attempt = attempt_begin(request=self.request, username=self.cleaned_data.get("username"))
        except LockedOut as exc:
            raise ValidationError(lockout_message(exc.lockout), code="locked_out") from None
        try:
            cleaned = super().clean()
        except ValidationError:
            attempt_abandon(attempt)  # a right password admin refuses (not staff) is no failure
            lock = self._lockout()  # the failure just counted may have reached a limit
            if lock is not None:
                raise ValidationError(lockout_message(lock), code="locked_out") from None
            raise
        if self.user_cache is None:  # a field is missing: no password was checked
            attempt_abandon(attempt)
        return cleaned
