"""Error codes and refusals of checkout and the order lifecycle."""

from enum import StrEnum

from core.errors import Conflict, InvalidTransition, ValidationFailed


class OrderErrorCode(StrEnum):
    UNKNOWN_SKU = "UNKNOWN_SKU"
    CART_TOO_LARGE = "CART_TOO_LARGE"
    COUPON_NOT_USABLE = "COUPON_NOT_USABLE"
    INVALID_STATE = "INVALID_STATE"


class UnknownSku(ValidationFailed):
    """A cart line names a dish that is not on the menu or not orderable now (400)."""

    default_code = OrderErrorCode.UNKNOWN_SKU


class CartTooLarge(ValidationFailed):
    default_code = OrderErrorCode.CART_TOO_LARGE


class CouponNotUsable(Conflict):
    """A chosen coupon fails its re-check at order time (409); details carry the reasons per coupon."""

    default_code = OrderErrorCode.COUPON_NOT_USABLE


class InvalidOrderTransition(InvalidTransition):
    """An order status change the transition map does not allow (409 INVALID_STATE)."""

    default_code = OrderErrorCode.INVALID_STATE


class PaymentWindowClosed(InvalidOrderTransition):
    """An unpaid order past its payment window (``ORDER_PAYMENT_TIMEOUT``) is not paid: it is cancelled,
    as the timeout job would cancel it (409 INVALID_STATE)."""
