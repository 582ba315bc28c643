from core.jobs import scheduled_job
from orders.services.timeouts import orders_cancel_unpaid


@scheduled_job("orders.cancel_unpaid_orders")
def cancel_unpaid_orders() -> int:
    return orders_cancel_unpaid()
