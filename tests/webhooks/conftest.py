import pytest

from webhooks.services.outbox import forget_event_types, take_pending


@pytest.fixture(autouse=True)
def fresh_webhook_state():
    """Each test starts with no cached event types and no deliveries waiting for the broker."""
    forget_event_types()
    take_pending()
    yield
    forget_event_types()
    take_pending()
