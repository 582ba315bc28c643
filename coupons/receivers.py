"""Signal receivers of the coupons app (connected in ``CouponsConfig.ready``)."""

from typing import Any

from coupons.ledger import gate
from coupons.models import CouponTemplate


def load_gate_on_approval(sender: Any, template: CouponTemplate, **kwargs: Any) -> None:
    """An approved template opens its admission gate entry (sent after commit)."""
    gate.load(template)


def close_gate_on_stop(sender: Any, template: CouponTemplate, **kwargs: Any) -> None:
    gate.close(template.pk)


def connect() -> None:
    from coupons.signals import template_approved, template_stopped

    template_approved.connect(load_gate_on_approval, dispatch_uid="coupons.gate.approved")
    template_stopped.connect(close_gate_on_stop, dispatch_uid="coupons.gate.stopped")
