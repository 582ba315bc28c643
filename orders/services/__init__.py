from .checkout import checkout_preview, order_place
from .lifecycle import ORDER_TRANSITIONS, order_cancel, order_complete, order_pay, order_refund

__all__ = [
    "ORDER_TRANSITIONS",
    "checkout_preview",
    "order_cancel",
    "order_complete",
    "order_pay",
    "order_place",
    "order_refund",
]
