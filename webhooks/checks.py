"""System checks of settings this app reads (``manage.py check`` and every server start)."""

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register


@register()
def claim_timeout_check(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """A claim younger than WEBHOOK_CLAIM_TIMEOUT is taken for a send in progress, and an older one for a
    sender that died; a request may last WEBHOOK_TIMEOUT_SECONDS, plus the claim and the attempt log around
    it. Too close, and a slow receiver is sent a delivery twice at once."""
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    floor = 2 * timeout + 10
    if settings.WEBHOOK_CLAIM_TIMEOUT < floor:
        return [
            Warning(
                f"WEBHOOK_CLAIM_TIMEOUT ({settings.WEBHOOK_CLAIM_TIMEOUT} s) is not far above "
                f"WEBHOOK_TIMEOUT_SECONDS ({timeout:g} s): a delivery still being sent can look abandoned, and "
                "a second worker sends it at the same time.",
                hint=f"Set WEBHOOK_CLAIM_TIMEOUT to at least {floor:g} (twice WEBHOOK_TIMEOUT_SECONDS plus 10 s).",
                id="webhooks.W001",
            )
        ]
    return []
