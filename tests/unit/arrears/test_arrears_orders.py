"""Payment orders (责令支付): the due date, additional compensation, and the general contractor paying first."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from arrears.domain import case
from arrears.domain.errors import (
    InvalidDateError,
    InvalidRateError,
    MissingValueError,
    NotConstructionError,
    OrderError,
    OverpaymentError,
    UnknownPartyError,
)
from arrears.domain.events import (
    AdditionalCompensationOrdered,
    CaseClosed,
    Event,
    GeneralContractorPaidFirst,
    PaymentOrderComplied,
    PaymentOrderDefaulted,
    PaymentOrdered,
)
from arrears.domain.orders import (
    decide_general_contractor_pays,
    decide_order_additional_compensation,
    decide_order_due,
    decide_order_payment,
    decide_record_payment,
)
from arrears.domain.values import CaseStatus, Order, OrderStatus
from tests.unit.arrears.examples import (
    CASE_ID,
    CLAIMED,
    EMPLOYER,
    GENERAL,
    LI,
    NOW,
    WANG,
    ZHANG,
    filed,
    in_full,
    paid,
)

DUE_ON = date(2026, 3, 27)
DUE_AT = datetime(2026, 3, 27, 16, 0, tzinfo=UTC)  # end of 27 March in Beijing
ORDER = "order-1"


def ordered(party: str = EMPLOYER, **filing: object) -> list[Event]:
    events = filed(**filing)
    return [
        *events,
        *decide_order_payment(case.fold(events), order_id=ORDER, liable_party=party, due_on=DUE_ON, now=NOW),
    ]


def pay(events: list[Event], at: datetime, *payments: tuple[str, int]) -> list[Event]:
    return [
        *events,
        *decide_record_payment(case.fold(events), payer=EMPLOYER, payments=[paid(c, f) for c, f in payments], now=at),
    ]


def due(events: list[Event], now: datetime = DUE_AT) -> list[Event]:
    return [*events, *decide_order_due(case.fold(events), order_id=ORDER, now=now)]


def order_of(events: list[Event]) -> Order:
    order = case.fold(events).order(ORDER)
    assert order is not None
    return order


def test_an_order_covers_all_wages_unpaid_at_the_order() -> None:
    events = pay(filed(), NOW, (ZHANG, 680_000))
    issued = decide_order_payment(case.fold(events), order_id=ORDER, liable_party=EMPLOYER, due_on=DUE_ON, now=NOW)
    assert issued == [
        PaymentOrdered(
            case_id=CASE_ID, order_id=ORDER, liable_party=EMPLOYER, amount_fen=CLAIMED - 680_000, due_on=DUE_ON, at=NOW
        )
    ]
    state = case.fold([*events, *issued])
    order = state.order(ORDER)
    assert state.status is CaseStatus.ORDERED
    assert order is not None and order.status is OrderStatus.OPEN and order.due_at == DUE_AT


def test_an_order_goes_to_a_party_of_the_case_with_a_due_day_from_today() -> None:
    state = case.fold(filed())
    with pytest.raises(UnknownPartyError, match="not a party"):
        decide_order_payment(state, order_id=ORDER, liable_party="91110000000000000X", due_on=DUE_ON, now=NOW)
    with pytest.raises(InvalidDateError, match="before today 2026-03-16"):
        decide_order_payment(state, order_id=ORDER, liable_party=EMPLOYER, due_on=date(2026, 3, 15), now=NOW)
    with pytest.raises(MissingValueError, match="order_id"):
        decide_order_payment(state, order_id=" ", liable_party=EMPLOYER, due_on=DUE_ON, now=NOW)
    with pytest.raises(OrderError, match="already issued"):
        decide_order_payment(case.fold(ordered()), order_id=ORDER, liable_party=EMPLOYER, due_on=DUE_ON, now=NOW)
    assert decide_order_payment(state, order_id=ORDER, liable_party=GENERAL, due_on=DUE_ON, now=NOW)  # 总包 is a party


def test_nothing_to_order_once_everything_is_paid() -> None:
    events = pay(filed(), NOW, *((p.citizen_id, p.amount_fen) for p in in_full()))
    with pytest.raises(OrderError, match="nothing to order"):
        decide_order_payment(case.fold(events), order_id=ORDER, liable_party=EMPLOYER, due_on=DUE_ON, now=NOW)


def test_an_order_paid_by_its_due_day_is_complied_with() -> None:
    events = pay(ordered(), DUE_AT - timedelta(hours=1), *((p.citizen_id, p.amount_fen) for p in in_full()))
    assert decide_order_due(case.fold(events), order_id=ORDER, now=DUE_AT - timedelta(seconds=1)) == []  # not yet
    settled = due(events)
    assert settled[-1] == PaymentOrderComplied(case_id=CASE_ID, order_id=ORDER, at=DUE_AT)
    assert order_of(settled).status is OrderStatus.COMPLIED
    assert decide_order_due(case.fold(settled), order_id=ORDER, now=DUE_AT + timedelta(days=1)) == []  # once


def test_an_order_unpaid_at_its_due_day_is_defaulted_with_what_was_unpaid_then() -> None:
    events = pay(ordered(), DUE_AT - timedelta(hours=2), (LI, 1_250_000))
    events = pay(events, DUE_AT + timedelta(hours=3), (ZHANG, 680_000))  # after the due day: does not count
    settled = due(events, now=DUE_AT + timedelta(hours=5))
    assert settled[-1] == PaymentOrderDefaulted(
        case_id=CASE_ID,
        order_id=ORDER,
        liable_party=EMPLOYER,
        unpaid_fen=680_000 + 520_050,
        at=DUE_AT + timedelta(hours=5),
    )
    order = order_of(settled)
    assert (order.status, order.unpaid_at_due_fen) == (OrderStatus.DEFAULTED, 1_200_050)


def test_an_unknown_order_is_refused_and_a_closed_case_enforces_nothing() -> None:
    with pytest.raises(OrderError, match="no payment order order-9"):
        decide_order_due(case.fold(ordered()), order_id="order-9", now=DUE_AT)
    events = ordered()
    events += case.decide_withdraw(case.fold(events), reason="撤诉", now=NOW)
    assert decide_order_due(case.fold(events), order_id=ORDER, now=DUE_AT) == []


def defaulted(party: str = EMPLOYER) -> list[Event]:
    return due(ordered(party))  # nothing paid: 2,450,050 fen unpaid at the due date


def test_additional_compensation_is_a_rate_of_the_unpaid_amount() -> None:
    events = defaulted()
    ordered_comp = decide_order_additional_compensation(
        case.fold(events), order_id=ORDER, rate=Decimal("0.5"), now=DUE_AT
    )
    assert ordered_comp == [
        AdditionalCompensationOrdered(
            case_id=CASE_ID,
            order_id=ORDER,
            liable_party=EMPLOYER,
            unpaid_fen=2_450_050,
            rate=Decimal("0.5"),
            amount_fen=1_225_025,
            at=DUE_AT,
        )
    ]
    full = decide_order_additional_compensation(case.fold(events), order_id=ORDER, rate=Decimal("1.0"), now=DUE_AT)
    assert isinstance(full[0], AdditionalCompensationOrdered) and full[0].amount_fen == 2_450_050
    odd = decide_order_additional_compensation(case.fold(events), order_id=ORDER, rate=Decimal("0.77"), now=DUE_AT)
    assert isinstance(odd[0], AdditionalCompensationOrdered) and odd[0].amount_fen == 1_886_539  # 1,886,538.5


@pytest.mark.parametrize("rate", [Decimal("0.49"), Decimal("1.01")])
def test_additional_compensation_stays_within_50_to_100_percent(rate: Decimal) -> None:
    with pytest.raises(InvalidRateError):
        decide_order_additional_compensation(case.fold(defaulted()), order_id=ORDER, rate=rate, now=DUE_AT)


def test_additional_compensation_follows_a_default_and_is_ordered_once() -> None:
    with pytest.raises(OrderError, match="is open: additional compensation follows an order not obeyed"):
        decide_order_additional_compensation(case.fold(ordered()), order_id=ORDER, rate=Decimal("0.5"), now=NOW)
    events = defaulted()
    events += decide_order_additional_compensation(case.fold(events), order_id=ORDER, rate=Decimal("0.6"), now=DUE_AT)
    assert order_of(events).compensation_fen == 1_470_030
    with pytest.raises(OrderError, match="already ordered"):
        decide_order_additional_compensation(case.fold(events), order_id=ORDER, rate=Decimal("0.6"), now=DUE_AT)


def test_the_general_contractor_pays_first_when_the_subcontractor_defaults() -> None:
    events = defaulted()
    first = decide_general_contractor_pays(case.fold(events), order_id=ORDER, payments=in_full(), now=DUE_AT)
    assert first == [
        GeneralContractorPaidFirst(
            case_id=CASE_ID,
            order_id=ORDER,
            general_contractor=GENERAL,
            liable_party=EMPLOYER,
            payments=(paid(ZHANG, 680_000), paid(LI, 1_250_000), paid(WANG, 520_050)),
            at=DUE_AT,
        )
    ]
    state = case.fold([*events, *first])
    assert state.unpaid_fen == 0
    (closed,) = case.decide_close(state, now=DUE_AT)
    assert isinstance(closed, CaseClosed) and closed.paid_fen == CLAIMED


def test_the_general_contractor_pays_first_only_for_a_defaulted_subcontractor_order() -> None:
    with pytest.raises(OrderError, match="only once the subcontractor failed to pay"):
        decide_general_contractor_pays(case.fold(ordered()), order_id=ORDER, payments=in_full(), now=NOW)
    with pytest.raises(OrderError, match=f"issued to {GENERAL}, not to the subcontractor"):
        decide_general_contractor_pays(case.fold(defaulted(GENERAL)), order_id=ORDER, payments=in_full(), now=DUE_AT)
    with pytest.raises(NotConstructionError, match="no construction project"):
        decide_general_contractor_pays(
            case.fold(due(ordered(project=None))), order_id=ORDER, payments=in_full(), now=DUE_AT
        )
    with pytest.raises(OverpaymentError):
        decide_general_contractor_pays(
            case.fold(defaulted()), order_id=ORDER, payments=[paid(ZHANG, 680_001)], now=DUE_AT
        )
