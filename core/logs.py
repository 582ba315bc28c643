"""Logging filters."""

import logging
from http import HTTPStatus


class DropRefusals(logging.Filter):
    """Drop ``django.request``'s line for a 409: a refusal the API answers on purpose (sold out, limit
    reached, a move the state does not allow), not a fault. During a sell-out it would be one line per
    turned-away claim."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "status_code", None) != HTTPStatus.CONFLICT
