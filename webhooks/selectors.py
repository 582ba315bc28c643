from django.db.models import QuerySet

from webhooks.models import WebhookDelivery, WebhookEndpoint


def endpoints_for_staff() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.select_related("created_by").order_by("-created_at", "-pk")


def deliveries_for_staff(
    *, status: str | None = None, event_type: str | None = None, endpoint_id: int | None = None
) -> QuerySet[WebhookDelivery]:
    deliveries = WebhookDelivery.objects.select_related("endpoint").order_by("-created_at", "-pk")
    if status:
        deliveries = deliveries.filter(status=status)
    if event_type:
        deliveries = deliveries.filter(event_type=event_type)
    if endpoint_id:
        deliveries = deliveries.filter(endpoint_id=endpoint_id)
    return deliveries
