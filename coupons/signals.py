"""Signals sent after commit of a workflow change, for caches such as the claim admission gate."""

from django.dispatch import Signal

template_approved = Signal()  # kwargs: template
template_stopped = Signal()  # kwargs: template
