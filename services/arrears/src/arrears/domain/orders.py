"""Payment orders (责令支付) and payments in a case: decisions that return events.

An order tells a party of the case to pay every wage unpaid at the order by the end of its due day
(Beijing). At that instant the order is complied with, or defaulted with the amount still unpaid;
for an order not obeyed the inspector orders additional compensation of 50%-100% of that amount
(劳动保障监察条例 art. 26). When a construction subcontractor defaults, the general contractor pays
first (先行清偿, 保障农民工工资支付条例 art. 30). Payments are recorded per worker, never above a claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from arrears.domain.case_state import Case, check_open
from arrears.domain.errors import (
    CaseNotFoundError,
    InvalidAmountError,
    InvalidDateError,
    MissingValueError,
    NotConstructionError,
    OrderError,
    OverpaymentError,
    UnknownPartyError,
    UnknownWorkerError,
)
from arrears.domain.events import (
    AdditionalCompensationOrdered,
    Event,
    GeneralContractorPaidFirst,
    PaymentOrderComplied,
    PaymentOrderDefaulted,
    PaymentOrdered,
    WagesPaid,
)
from arrears.domain.rules import additional_compensation_fen
from arrears.domain.values import Order, OrderStatus, WorkerPayment, beijing_date, masked, normal_id


def decide_order_payment(state: Case, *, order_id: str, liable_party: str, due_on: date, now: datetime) -> list[Event]:
    """Order a party of the case to pay all wages unpaid now by the end of `due_on` (Beijing)."""
    check_open(state, "order payment")
    if not order_id.strip():
        raise MissingValueError("order_id")
    if state.order(order_id) is not None:
        raise OrderError(f"order {order_id} was already issued: each payment order has its own id")
    liable_party = liable_party.strip().upper()
    if liable_party not in state.parties:
        raise UnknownPartyError(liable_party, state.case_id)
    today = beijing_date(now)
    if due_on < today:
        raise InvalidDateError(f"the due day {due_on} is before today {today} (Beijing): an order gives time to pay")
    if state.unpaid_fen <= 0:
        raise OrderError("every worker is paid what they claimed: there is nothing to order")
    return [
        PaymentOrdered(
            case_id=state.case_id,
            order_id=order_id,
            liable_party=liable_party,
            amount_fen=state.unpaid_fen,
            due_on=due_on,
            at=now,
        )
    ]


def decide_order_due(state: Case, *, order_id: str, now: datetime) -> list[Event]:
    """At the end of the due day: complied when nothing the order covered is unpaid, defaulted with
    the unpaid amount otherwise. Nothing before the due instant, for an order already settled, or
    once the case is no longer open."""
    order = _order(state, order_id)
    if order.status is not OrderStatus.OPEN or now < order.due_at or not state.under_investigation:
        return []
    unpaid = min(order.amount_fen, state.unpaid_at(order.due_at))
    if unpaid <= 0:
        return [PaymentOrderComplied(case_id=state.case_id, order_id=order_id, at=now)]
    return [
        PaymentOrderDefaulted(
            case_id=state.case_id, order_id=order_id, liable_party=order.liable_party, unpaid_fen=unpaid, at=now
        )
    ]


def decide_record_payment(state: Case, *, payer: str, payments: Sequence[WorkerPayment], now: datetime) -> list[Event]:
    """Wages paid, in part or in full, to workers of the case; never more than a worker claimed."""
    check_open(state, "record a payment")
    if not payer.strip():
        raise MissingValueError("the payer")
    return [WagesPaid(case_id=state.case_id, payer=payer, payments=check_payments(state, payments), at=now)]


def decide_general_contractor_pays(
    state: Case, *, order_id: str, payments: Sequence[WorkerPayment], now: datetime
) -> list[Event]:
    """先行清偿: the subcontractor defaulted on payment order `order_id`; the general contractor pays
    the workers and the subcontractor stays the liable party the contractor recovers from."""
    check_open(state, "record the general contractor's payment")
    project = state.project
    if project is None or not project.subcontractor_code:
        raise NotConstructionError(f"case {state.case_id} has no construction project with a subcontractor")
    order = _order(state, order_id)
    if order.liable_party != project.subcontractor_code:
        raise OrderError(f"order {order_id} was issued to {order.liable_party}, not to the subcontractor")
    if order.status is not OrderStatus.DEFAULTED:
        raise OrderError(
            f"order {order_id} is {order.status}: the general contractor pays first only once the subcontractor "
            "failed to pay by the order's due date"
        )
    return [
        GeneralContractorPaidFirst(
            case_id=state.case_id,
            order_id=order_id,
            general_contractor=project.general_contractor_code,
            liable_party=project.subcontractor_code,
            payments=check_payments(state, payments),
            at=now,
        )
    ]


def decide_order_additional_compensation(state: Case, *, order_id: str, rate: Decimal, now: datetime) -> list[Event]:
    """加付赔偿金 for an order ignored: `rate` (0.5-1.0) of the wages unpaid at its due date, once per order."""
    check_open(state, "order additional compensation")
    order = _order(state, order_id)
    if order.status is not OrderStatus.DEFAULTED:
        raise OrderError(f"order {order_id} is {order.status}: additional compensation follows an order not obeyed")
    if order.compensation_fen is not None:
        raise OrderError(f"additional compensation was already ordered for order {order_id}")
    return [
        AdditionalCompensationOrdered(
            case_id=state.case_id,
            order_id=order_id,
            liable_party=order.liable_party,
            unpaid_fen=order.unpaid_at_due_fen,
            rate=rate,
            amount_fen=additional_compensation_fen(order.unpaid_at_due_fen, rate),
            at=now,
        )
    ]


def check_payments(state: Case, payments: Sequence[WorkerPayment]) -> tuple[WorkerPayment, ...]:
    """Payments to workers of the case, each above zero, none taking a worker above their claim."""
    if not payments:
        raise MissingValueError("the payments to workers")
    total: dict[str, int] = {}
    for p in payments:
        citizen_id = normal_id(p.citizen_id)
        if p.amount_fen <= 0:
            raise InvalidAmountError(f"the payment to worker {masked(citizen_id)}", p.amount_fen)
        total[citizen_id] = total.get(citizen_id, 0) + p.amount_fen
    for citizen_id, amount in total.items():
        account = state.worker(citizen_id)
        if account is None:
            raise UnknownWorkerError(masked(citizen_id), f"case {state.case_id}")
        if amount > account.unpaid_fen:
            raise OverpaymentError(masked(citizen_id), account.claimed_fen, account.paid_fen, amount)
    return tuple(WorkerPayment(citizen_id=normal_id(p.citizen_id), amount_fen=p.amount_fen) for p in payments)


def _order(state: Case, order_id: str) -> Order:
    if not state.case_id:
        raise CaseNotFoundError()
    order = state.order(order_id)
    if order is None:
        raise OrderError(f"no payment order {order_id} was issued in case {state.case_id}")
    return order
