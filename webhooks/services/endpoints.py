"""Webhook endpoints: registered, edited, deactivated and re-keyed by Operations (admin or staff API).

The signing secret is made here and shown once, by the caller, right after ``endpoint_create`` or
``endpoint_rotate_secret``; nothing else reveals it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import PermissionDeniedError, ValidationFailed
from webhooks.addresses import refused_host
from webhooks.models import TEST_EVENT, EventType, WebhookDelivery, WebhookEndpoint
from webhooks.services.outbox import deliveries_write, forget_event_types
from webhooks.signing import new_secret

URL_MAX = 500
DESCRIPTION_MAX = 200
_url_validator = URLValidator(schemes=["http", "https"])


def _require(actor: Any, perm: str) -> None:
    if actor is None or not actor.has_perm(perm):
        raise PermissionDeniedError(_("You do not have permission to do this."))


def clean_endpoint_fields(*, url: Any, description: Any, event_types: Any) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    url = url.strip() if isinstance(url, str) else ""
    if not url:
        errors["url"] = [_("This field is required.")]
    elif len(url) > URL_MAX:
        errors["url"] = [_("At most %(max)s characters.") % {"max": URL_MAX}]
    else:
        try:
            _url_validator(url)
        except ValidationError:
            errors["url"] = [_("Enter an http:// or https:// URL.")]
        else:
            problem = _unsendable(url)
            host = refused_host(url) if problem is None else None
            if problem is not None:
                errors["url"] = [problem]
            elif host is not None:
                errors["url"] = [
                    _("Webhooks go to public addresses only: %(host)s is on a private or reserved network.")
                    % {"host": host}
                ]
            else:
                url = _sendable(url)
    description = description.strip() if isinstance(description, str) else ""
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = [_("At most %(max)s characters.") % {"max": DESCRIPTION_MAX}]
    chosen: list[str] = []
    if not isinstance(event_types, list | tuple) or not event_types:
        errors["event_types"] = [_("Choose at least one event type.")]
    else:
        unknown = [str(t) for t in event_types if t not in EventType.values]
        if unknown:
            errors["event_types"] = [_("Unknown event types: %(types)s") % {"types": ", ".join(unknown[:10])}]
        else:
            chosen = [t for t in EventType.values if t in event_types]  # the declared order, no repeats
    if errors:
        raise ValidationFailed(_("The webhook endpoint is not valid."), details=errors)
    return {"url": url, "description": description, "event_types": chosen}


# What may stand unescaped in a path or a query (RFC 3986's reserved and unreserved characters, and "%" of
# escapes already made).
_URL_SAFE = "/:@!$&'()*+,;=-._~%?"


def _unsendable(url: str) -> str | None:
    """Why a URL the validator accepts could never be sent, or None."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        return _("Leave the user name and password out of the URL: receivers check a delivery by its signature.")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return _("The port must be from 1 to 65535.")
    return None


def _sendable(url: str) -> str:
    """The URL with its path and query percent-encoded as HTTP sends them (a path in Chinese, say); the
    fragment, which is never sent, dropped."""
    parts = urlsplit(url)
    return urlunsplit(
        (parts.scheme, parts.netloc, quote(parts.path, safe=_URL_SAFE), quote(parts.query, safe=_URL_SAFE), "")
    )


def _changed() -> None:
    forget_event_types()
    transaction.on_commit(forget_event_types)  # a reader in between may have cached the old set


@transaction.atomic
def endpoint_create(
    *, actor: Any, url: str, event_types: list[str], description: str = "", is_active: bool = True
) -> WebhookEndpoint:
    """A new endpoint with a fresh secret (read it from the returned object once)."""
    _require(actor, "webhooks.add_webhookendpoint")
    fields = clean_endpoint_fields(url=url, description=description, event_types=event_types)
    endpoint = WebhookEndpoint.objects.create(
        **fields, is_active=bool(is_active), secret=new_secret(), created_by=actor
    )
    audit_record(subject=endpoint, actor=actor, action="create", data={**fields, "is_active": endpoint.is_active})
    _changed()
    return endpoint


@transaction.atomic
def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: Any,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    is_active: bool | None = None,
) -> WebhookEndpoint:
    """Change the given fields (None keeps a field as it is)."""
    _require(actor, "webhooks.change_webhookendpoint")
    locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    fields = clean_endpoint_fields(
        url=locked.url if url is None else url,
        description=locked.description if description is None else description,
        event_types=locked.event_types if event_types is None else event_types,
    )
    if is_active is not None:
        fields["is_active"] = bool(is_active)
    changed = {name: value for name, value in fields.items() if getattr(locked, name) != value}
    for name, value in changed.items():
        setattr(locked, name, value)
    locked.save()
    audit_record(subject=locked, actor=actor, action="edit", data=changed)
    _changed()
    return locked


def endpoint_deactivate(*, endpoint: WebhookEndpoint, actor: Any) -> WebhookEndpoint:
    """Nothing more is sent to it: no new deliveries, and the ones already in the outbox end FAILED,
    unsent, when they come due (``delivery_send``); a retry of them is refused until it is reactivated."""
    return endpoint_update(endpoint=endpoint, actor=actor, is_active=False)


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, actor: Any) -> WebhookEndpoint:
    """A new secret at once: every request from now on (retries too) is signed with it."""
    _require(actor, "webhooks.change_webhookendpoint")
    locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    locked.secret = new_secret()
    locked.secret_rotated_at = timezone.now()
    locked.save(update_fields=["secret", "secret_rotated_at", "updated_at"])
    audit_record(subject=locked, actor=actor, action="rotate_secret")
    return locked


@transaction.atomic
def endpoint_send_test(*, endpoint: WebhookEndpoint, actor: Any) -> WebhookDelivery:
    """A ``webhook.test`` event to this endpoint alone, through the outbox like any other."""
    _require(actor, "webhooks.change_webhookendpoint")
    (delivery,) = deliveries_write(
        event_type=TEST_EVENT,
        payload={"endpoint_id": endpoint.pk, "sent_by": getattr(actor, "username", "")},
        endpoint_ids=[endpoint.pk],
    )
    audit_record(subject=endpoint, actor=actor, action="send_test", data={"event_id": str(delivery.event_id)})
    return delivery
