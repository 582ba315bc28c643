"""The ledger: one transition map for a held coupon, one refusal, and the events it states."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core import events
from core.events import Event
from coupons import ledger
from coupons.ledger import COUPON_TRANSITIONS, IllegalCouponMove, issue_now
from coupons.ledger.transitions import check_move, move
from coupons.models import CouponSource, CouponStatus, UserCoupon
from orders.services import order_cancel, order_pay, order_place, order_refund
from tests.factories import CouponTemplateFactory, UserCouponFactory, UserFactory
from tests.factories.checkout import seed_menu, wallet_coupon

C = CouponStatus
LINES = [{"sku": "d-101", "quantity": 1}, {"sku": "d-201", "quantity": 1}]


@pytest.fixture
def heard():
    seen: list[tuple[Event, dict]] = []

    def listen(event, **payload):
        seen.append((event, payload))

    for event in Event:
        events.subscribe(event, listen, uid=f"test.ledger.{event}", in_transaction=True)
    yield seen
    for event in Event:
        events.unsubscribe(event, f"test.ledger.{event}")


def test_the_map_names_every_status_and_the_final_ones_go_nowhere():
    assert set(COUPON_TRANSITIONS) == set(C.values)
    for final in (C.USED, C.EXPIRED, C.REVOKED):
        assert COUPON_TRANSITIONS[final] == frozenset()
    assert COUPON_TRANSITIONS[C.UNUSED] == {C.LOCKED, C.EXPIRED, C.REVOKED}
    assert COUPON_TRANSITIONS[C.LOCKED] == {C.USED, C.UNUSED, C.EXPIRED, C.REVOKED}


@pytest.mark.django_db
def test_an_illegal_move_is_refused_before_any_row_changes():
    coupon = issue_now(template=CouponTemplateFactory(), user_id=UserFactory().pk)[0]

    with pytest.raises(IllegalCouponMove) as refused:
        move([coupon.pk], from_status=C.UNUSED, to_status=C.USED, now=coupon.acquired_at)

    assert refused.value.code == "INVALID_STATE"
    assert refused.value.details == {"status": C.UNUSED, "to": C.USED}
    coupon.refresh_from_db()
    assert coupon.status == C.UNUSED
    with pytest.raises(IllegalCouponMove):
        check_move(C.USED, C.UNUSED)


@pytest.mark.django_db
def test_each_issuing_call_states_one_coupon_issued_event(heard):
    template = CouponTemplateFactory(per_user_limit=3)
    user = UserFactory()

    with transaction.atomic():
        coupons = issue_now(template=template, user_id=user.pk, quantity=2, source=CouponSource.ADMIN)

    assert heard == [
        (
            Event.COUPON_ISSUED,
            {
                "template_id": template.pk,
                "user_ids": [user.pk],
                "coupon_ids": [c.pk for c in coupons],
                "source": CouponSource.ADMIN,
                "source_ref": "",
            },
        )
    ]
    assert UserCoupon.objects.filter(user=user).count() == 2


@pytest.mark.django_db
def test_paying_states_coupons_used_and_order_paid_with_the_first_order_flag(heard):
    seed_menu()
    customer = UserFactory()
    coupon = wallet_coupon(customer, "new_user_68_10")
    first = order_place(user=customer, lines=LINES, channel="APP", coupon_ids=[coupon.pk])
    second = order_place(user=customer, lines=LINES, channel="APP", coupon_ids=[])
    heard.clear()

    order_pay(order=first, actor=customer)
    order_pay(order=second, actor=customer)
    order_refund(order=second, actor=customer)

    kinds = [(event, payload.get("order_id"), payload.get("first_paid_order")) for event, payload in heard]
    assert kinds == [
        (Event.COUPON_USED, first.pk, None),
        (Event.ORDER_PAID, first.pk, True),
        (Event.ORDER_PAID, second.pk, False),
        (Event.ORDER_REFUNDED, second.pk, None),
    ]
    assert heard[0][1]["coupon_ids"] == [coupon.pk]


@pytest.mark.django_db
def test_cancelling_states_no_payment(heard):
    seed_menu()
    customer = UserFactory()
    order = order_place(user=customer, lines=LINES, channel="APP", coupon_ids=[])
    heard.clear()

    order_cancel(order=order, actor=customer)

    assert [event for event, _payload in heard] == []


@pytest.mark.django_db
def test_redating_moves_only_dates_and_refuses_anything_else():
    coupon = UserCouponFactory()
    then = timezone.now() - timedelta(days=3)

    assert ledger.coupons_redate(coupon_ids=[coupon.pk], acquired_at=then, valid_from=then) == 1
    with pytest.raises(ValueError):
        ledger.coupons_redate(coupon_ids=[coupon.pk], status="USED")  # type: ignore[arg-type]

    coupon.refresh_from_db()
    assert (coupon.acquired_at, coupon.valid_from, coupon.status) == (then, then, "UNUSED")


@pytest.mark.django_db
@pytest.mark.parametrize("returning", [True, False], ids=["RETURNING (MariaDB)", "last insert id (MySQL 8)"])
def test_coupons_issued_several_at_once_come_back_with_their_ids(monkeypatch, returning):
    features = type(connection.features)
    monkeypatch.setattr(features, "can_return_rows_from_bulk_insert", property(lambda self: returning))
    template = CouponTemplateFactory(per_user_limit=0)
    user = UserFactory()

    coupons = ledger.issue_coupons(template=template, user_id=user.pk, quantity=3, source=CouponSource.ACTIVITY)

    stored = dict(UserCoupon.objects.filter(user=user).values_list("code", "pk"))
    assert [coupon.pk for coupon in coupons] == [stored[coupon.code] for coupon in coupons]
    assert len(set(stored.values())) == 3
    assert all(not coupon._state.adding for coupon in coupons)
