"""Marking msgids inside the engine, which must not import Django."""


def gettext_noop(message: str) -> str:
    """Return ``message`` unchanged. ``makemessages`` extracts calls to this name (xgettext's default
    keywords include it); ``coupons.reasons`` translates the msgid when it renders a reason."""
    return message
