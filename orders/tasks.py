from celery import shared_task
from django.db import OperationalError

from orders.services.timeouts import orders_cancel_unpaid


@shared_task(
    name="orders.cancel_unpaid_orders",
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
)
def cancel_unpaid_orders() -> int:
    return orders_cancel_unpaid()
