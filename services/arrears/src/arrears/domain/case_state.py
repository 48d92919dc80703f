"""State of a case (stream arrears-case-<case_id>), folded from events.

Folding never refuses an event; a lead event leaves the case as it is. Each worker's claim and
what has been paid to them are kept side by side, so the case answers "my case" for a citizen id
and closes as paid in full only when nothing is unpaid. A failed review takes back the amounts the
workers did not actually receive and reopens the case on a new investigation clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, assert_never

from arrears.domain.deadlines import INVESTIGATION_WORKING_DAYS, Supervision, Timer, next_timer, supervised
from arrears.domain.errors import CaseNotFoundError, WrongStatusError
from arrears.domain.events import (
    AdditionalCompensationOrdered,
    CaseClosed,
    CaseFiled,
    CaseReopened,
    CaseTransferred,
    CaseWithdrawn,
    Event,
    GeneralContractorPaidFirst,
    InvestigationExtended,
    LeadOnlyEvent,
    PaymentOrderComplied,
    PaymentOrderDefaulted,
    PaymentOrdered,
    PenaltyImposed,
    ReviewFailed,
    ReviewPassed,
    ReviewScheduled,
    SupervisionEscalated,
    SupervisionOpened,
    WagesPaid,
)
from arrears.domain.values import (
    CaseStatus,
    Channel,
    Order,
    OrderStatus,
    Outcome,
    Project,
    ReviewReason,
    Stage,
    TransferTarget,
    WorkerAccount,
    WorkerPayment,
    normal_id,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """`clock_started_at` is when the current investigation clock began (filing or reopening) and
    `working_days` its limit (60, or 90 once extended); `paid_log` holds (instant, fen) of every
    payment, negative for amounts a review found not received."""

    case_id: str = ""
    lead_id: str = ""
    status: CaseStatus = CaseStatus.NONE
    district: str = ""
    channel: Channel | None = None
    industry_code: str = ""
    employer_code: str = ""
    employer_name: str = ""
    project: Project | None = None
    period_from: date | None = None
    period_to: date | None = None
    filed_at: datetime | None = None
    clock_started_at: datetime | None = None
    working_days: int = INVESTIGATION_WORKING_DAYS
    extended: bool = False
    workers: tuple[WorkerAccount, ...] = ()
    paid_log: tuple[tuple[datetime, int], ...] = ()
    orders: tuple[Order, ...] = ()
    penalties_fen: int = 0
    transfer_target: TransferTarget | None = None
    transferred_to: str = ""
    outcome: Outcome | None = None
    close_reason: str = ""
    closed_at: datetime | None = None
    review: ReviewReason | None = None
    reopened: int = 0
    supervision: Supervision | None = None

    @property
    def claimed_fen(self) -> int:
        return sum(w.claimed_fen for w in self.workers)

    @property
    def paid_fen(self) -> int:
        return sum(w.paid_fen for w in self.workers)

    @property
    def unpaid_fen(self) -> int:
        return self.claimed_fen - self.paid_fen

    @property
    def under_investigation(self) -> bool:
        """Open: investigating, or ordered and not yet closed."""
        return self.status in (CaseStatus.INVESTIGATING, CaseStatus.ORDERED)

    @property
    def parties(self) -> tuple[str, ...]:
        """Who can be ordered to pay: the employer and, in construction, the general contractor and subcontractor."""
        if self.project is None:
            return (self.employer_code,)
        codes = (self.employer_code, self.project.general_contractor_code, self.project.subcontractor_code)
        return tuple(dict.fromkeys(c for c in codes if c))

    def worker(self, citizen_id: str) -> WorkerAccount | None:
        """The worker's own position ("my case"), or None when the citizen is not among its workers."""
        wanted = normal_id(citizen_id)
        return next((w for w in self.workers if w.citizen_id == wanted), None)

    def order(self, order_id: str) -> Order | None:
        return next((o for o in self.orders if o.order_id == order_id), None)

    def unpaid_at(self, instant: datetime) -> int:
        """The wages claimed still unpaid at `instant`, counting payments recorded up to it."""
        return self.claimed_fen - sum(fen for at, fen in self.paid_log if at <= instant)


def check_open(state: Case, action: str) -> None:
    """Refuse `action` unless the case exists and is open (investigating or ordered)."""
    if not state.case_id:
        raise CaseNotFoundError()
    if not state.under_investigation:
        raise WrongStatusError(
            f"case {state.case_id}",
            state.status,
            action,
            "only an open case (investigating or ordered) can; a closed case reopens only when a review fails",
        )


def case_stream(case_id: str) -> str:
    return f"arrears-case-{case_id}"


def evolve(state: Case, event: Event) -> Case:
    match event:
        case CaseFiled():
            return replace(
                state,
                case_id=event.case_id,
                lead_id=event.lead_id,
                status=CaseStatus.INVESTIGATING,
                district=event.district,
                channel=event.channel,
                industry_code=event.industry_code,
                employer_code=event.employer_code,
                employer_name=event.employer_name,
                project=event.project,
                period_from=event.period_from,
                period_to=event.period_to,
                filed_at=event.at,
                clock_started_at=event.at,
                workers=tuple(WorkerAccount(citizen_id=w.citizen_id, claimed_fen=w.claimed_fen) for w in event.workers),
            )
        case InvestigationExtended():
            return replace(state, extended=True, working_days=state.working_days + event.working_days)
        case PaymentOrdered():
            order = Order(
                order_id=event.order_id,
                liable_party=event.liable_party,
                amount_fen=event.amount_fen,
                due_on=event.due_on,
            )
            return replace(state, status=CaseStatus.ORDERED, orders=(*state.orders, order))
        case PaymentOrderComplied():
            return _with_order(state, event.order_id, status=OrderStatus.COMPLIED)
        case PaymentOrderDefaulted():
            return _with_order(state, event.order_id, status=OrderStatus.DEFAULTED, unpaid_at_due_fen=event.unpaid_fen)
        case WagesPaid() | GeneralContractorPaidFirst():
            return _paid(state, event.payments, event.at, sign=1)
        case PenaltyImposed():
            return replace(state, penalties_fen=state.penalties_fen + event.amount_fen)
        case AdditionalCompensationOrdered():
            return _with_order(state, event.order_id, compensation_fen=event.amount_fen)
        case CaseTransferred():
            return replace(state, transfer_target=event.target, transferred_to=event.to)
        case CaseWithdrawn():
            return state  # the CaseClosed recorded with it ends the case
        case CaseClosed():
            return replace(
                state, status=CaseStatus.CLOSED, outcome=event.outcome, close_reason=event.reason, closed_at=event.at
            )
        case ReviewScheduled():
            return replace(state, status=CaseStatus.REVIEWING, review=event.reason)
        case ReviewPassed():
            return replace(state, status=CaseStatus.REVIEWED)
        case ReviewFailed():
            return _paid(state, event.not_received, event.at, sign=-1)
        case CaseReopened():
            return replace(
                state,
                status=CaseStatus.INVESTIGATING,
                clock_started_at=event.at,
                working_days=INVESTIGATION_WORKING_DAYS,
                extended=False,
                outcome=None,
                close_reason="",
                closed_at=None,
                review=None,
                reopened=state.reopened + 1,
                supervision=None,
            )
        case SupervisionOpened() | SupervisionEscalated():
            return replace(state, supervision=supervised(state.supervision, event))
        case _ if isinstance(event, LeadOnlyEvent):
            return state  # a lead's event: not this aggregate's
        case _:
            assert_never(event)


def fold(events: Iterable[Event]) -> Case:
    state = Case()
    for event in events:
        state = evolve(state, event)
    return state


def pending_timer(state: Case) -> Timer | None:
    """The investigation timer while the case is open; None once closed (and while reviewed)."""
    if not state.under_investigation or state.clock_started_at is None:
        return None
    return next_timer(
        Stage.INVESTIGATION,
        started_at=state.clock_started_at,
        working_days=state.working_days,
        supervision=state.supervision,
    )


def _paid(state: Case, payments: tuple[WorkerPayment, ...], at: datetime, *, sign: int) -> Case:
    by_worker: dict[str, int] = {}
    for p in payments:
        by_worker[p.citizen_id] = by_worker.get(p.citizen_id, 0) + sign * p.amount_fen
    workers = tuple(replace(w, paid_fen=w.paid_fen + by_worker.get(w.citizen_id, 0)) for w in state.workers)
    return replace(state, workers=workers, paid_log=(*state.paid_log, (at, sum(by_worker.values()))))


def _with_order(state: Case, order_id: str, **changes: Any) -> Case:
    orders = tuple(replace(o, **changes) if o.order_id == order_id else o for o in state.orders)
    return replace(state, orders=orders)
