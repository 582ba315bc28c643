from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from core import events


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self) -> None:
        from webhooks import checks  # noqa: F401  (registers the system checks)
        from webhooks.services.outbox import record_event, subscribed_to
        from webhooks.tasks import enqueue_pending_deliveries

        # Every event: its outbox rows inside the transaction, the hand-over to the broker after commit.
        for event in events.Event:
            events.subscribe(
                event, record_event, uid=f"webhooks.record:{event}", in_transaction=True, wants=subscribed_to
            )
            events.subscribe(event, enqueue_pending_deliveries, uid=f"webhooks.enqueue:{event}", wants=subscribed_to)
