"""Private, stored facts of a wage-arrears case (stream arrears-case-<case_id>).

Money is integer fen, rates are Decimal, instants aware UTC, due days Beijing dates; field types
stay plain so stored JSON rebuilds them exactly. `events` gathers these with the lead's events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from arrears.domain.values import (
    Channel,
    Outcome,
    Project,
    ReviewReason,
    TransferTarget,
    WorkerClaim,
    WorkerPayment,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseFiled:
    case_id: str
    lead_id: str
    district: str
    channel: Channel
    industry_code: str
    employer_code: str
    employer_name: str
    project: Project | None
    workers: tuple[WorkerClaim, ...]
    period_from: date
    period_to: date
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class InvestigationExtended:
    case_id: str
    approved_by: str
    reason: str
    working_days: int
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentOrdered:
    """责令支付: `liable_party` pays `amount_fen` (all wages unpaid at the order) by the end of `due_on`."""

    case_id: str
    order_id: str
    liable_party: str
    amount_fen: int
    due_on: date
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentOrderComplied:
    case_id: str
    order_id: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentOrderDefaulted:
    """Wages still unpaid at the end of the order's due day: the base of additional compensation."""

    case_id: str
    order_id: str
    liable_party: str
    unpaid_fen: int
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class WagesPaid:
    case_id: str
    payer: str
    payments: tuple[WorkerPayment, ...]
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneralContractorPaidFirst:
    """先行清偿: the general contractor pays for its defaulting subcontractor, who stays liable (追偿)."""

    case_id: str
    order_id: str
    general_contractor: str
    liable_party: str
    payments: tuple[WorkerPayment, ...]
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PenaltyImposed:
    case_id: str
    party: str
    amount_fen: int
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AdditionalCompensationOrdered:
    """加付赔偿金: `rate` (0.5-1.0) of `unpaid_fen`, the wages still owed at the order's due date."""

    case_id: str
    order_id: str
    liable_party: str
    unpaid_fen: int
    rate: Decimal
    amount_fen: int
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseTransferred:
    case_id: str
    target: TransferTarget
    to: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseWithdrawn:
    case_id: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseClosed:
    """结案, with the case's claimed and paid totals at closure."""

    case_id: str
    district: str
    outcome: Outcome
    reason: str
    claimed_fen: int
    paid_fen: int
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewScheduled:
    """复查 of a closed case; `disputed_by` is the worker's citizen id for a dispute, else empty."""

    case_id: str
    reason: ReviewReason
    disputed_by: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewPassed:
    case_id: str
    reviewer: str
    findings: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewFailed:
    """`not_received`: amounts recorded as paid that the workers did not actually receive."""

    case_id: str
    reviewer: str
    findings: str
    not_received: tuple[WorkerPayment, ...]
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseReopened:
    case_id: str
    district: str
    reason: str
    at: datetime
