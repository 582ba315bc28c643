from .templates import (
    template_approve,
    template_copy,
    template_create,
    template_end,
    template_reject,
    template_stop,
    template_submit,
    template_update,
)

__all__ = [
    "template_approve",
    "template_copy",
    "template_create",
    "template_end",
    "template_reject",
    "template_stop",
    "template_submit",
    "template_update",
]
