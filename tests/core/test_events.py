import pytest
from django.db import transaction

from core import events
from core.events import Event


@pytest.fixture
def recorder():
    seen: list[tuple[str, Event, dict]] = []

    def in_tx(event, **payload):
        seen.append(("in", event, payload))

    def after(event, **payload):
        seen.append(("after", event, payload))

    events.subscribe(Event.ORDER_PAID, in_tx, uid="test.in", in_transaction=True)
    events.subscribe(Event.ORDER_PAID, after, uid="test.after")
    yield seen
    events.unsubscribe(Event.ORDER_PAID, "test.in")
    events.unsubscribe(Event.ORDER_PAID, "test.after")


@pytest.mark.django_db(transaction=True)
def test_in_transaction_subscribers_run_at_once_and_the_others_after_commit(recorder):
    # when
    with transaction.atomic():
        events.emit(Event.ORDER_PAID, order_id=7)
        # then
        assert recorder == [("in", Event.ORDER_PAID, {"order_id": 7})]
    assert recorder[-1] == ("after", Event.ORDER_PAID, {"order_id": 7})


@pytest.mark.django_db(transaction=True)
def test_after_commit_subscribers_do_not_run_when_the_transaction_rolls_back(recorder):
    with pytest.raises(RuntimeError), transaction.atomic():
        events.emit(Event.ORDER_PAID, order_id=8)
        raise RuntimeError("rolled back")
    assert [kind for kind, _, _ in recorder] == ["in"]


# Every event also reaches the webhook outbox, which may read the endpoints: these tests need the database.
@pytest.mark.django_db
def test_a_plain_transaction_collects_after_commit_subscribers_in_its_list(recorder):
    after_commit: list = []
    events.emit(Event.ORDER_PAID, after_commit=after_commit, order_id=9)
    assert [kind for kind, _, _ in recorder] == ["in"]
    for callback in after_commit:
        callback()
    assert recorder[-1] == ("after", Event.ORDER_PAID, {"order_id": 9})


@pytest.mark.django_db
def test_subscribing_twice_with_one_uid_subscribes_once(recorder):
    events.subscribe(Event.ORDER_PAID, lambda **kw: None, uid="test.in", in_transaction=True)
    after_commit: list = []
    events.emit(Event.ORDER_PAID, after_commit=after_commit, order_id=1)
    assert len([kind for kind, _, _ in recorder if kind == "in"]) == 1


@pytest.mark.django_db
def test_a_subscriber_whose_wants_refuses_the_payload_is_not_called():
    seen: list[str] = []

    def handler(event, **payload):
        seen.append(payload["audience"])

    def wants_admin(event, facts):
        return facts.get("audience") == "staff"

    events.subscribe(Event.COUPON_ISSUED, handler, uid="test.admin.in", in_transaction=True, wants=wants_admin)
    events.subscribe(Event.COUPON_ISSUED, handler, uid="test.admin.after", wants=wants_admin)
    try:
        after_commit: list = []
        events.emit(Event.COUPON_ISSUED, after_commit=after_commit, source="CLAIM", audience="customer")
        for callback in after_commit:
            callback()
        assert seen == []
        after_commit.clear()
        events.emit(Event.COUPON_ISSUED, after_commit=after_commit, source="CLAIM", audience="staff")
        assert seen == ["staff"]  # the in-transaction one, at once
        for callback in after_commit:
            callback()
        assert seen == ["staff", "staff"]
    finally:
        events.unsubscribe(Event.COUPON_ISSUED, "test.admin.in")
        events.unsubscribe(Event.COUPON_ISSUED, "test.admin.after")
