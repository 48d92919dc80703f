"""Private, stored facts of the wage-arrears service: the lead (intake and routing) and the case.

Money is integer fen, rates are Decimal, instants are aware UTC datetimes, wage periods and due days
are Beijing dates. Field types stay plain (str, int, Decimal, date, datetime, StrEnum, tuples of the
small values) so stored JSON rebuilds them exactly. District, industry (GB/T 4754 code as given) and
channel ride on the lead's and case's first events so every figure is derivable from the stream.
SupervisionOpened and SupervisionEscalated belong to both aggregates; every other event to one (the
case's events are declared in `case_events` and gathered here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from arrears.domain.case_events import (
    AdditionalCompensationOrdered,
    CaseClosed,
    CaseFiled,
    CaseReopened,
    CaseTransferred,
    CaseWithdrawn,
    GeneralContractorPaidFirst,
    InvestigationExtended,
    PaymentOrderComplied,
    PaymentOrderDefaulted,
    PaymentOrdered,
    PenaltyImposed,
    ReviewFailed,
    ReviewPassed,
    ReviewScheduled,
    WagesPaid,
)
from arrears.domain.values import (
    Channel,
    Level,
    Project,
    RefusalReason,
    Stage,
    WorkerClaim,
)

__all__ = [
    "CASE_EVENT_TYPES",
    "EVENT_TYPES",
    "LEAD_EVENT_TYPES",
    "AdditionalCompensationOrdered",
    "CaseClosed",
    "CaseEvent",
    "CaseFiled",
    "CaseOnlyEvent",
    "CaseReopened",
    "CaseTransferred",
    "CaseWithdrawn",
    "ComplaintAccepted",
    "ComplaintRefused",
    "Event",
    "GeneralContractorPaidFirst",
    "InvestigationExtended",
    "LeadEvent",
    "LeadOnlyEvent",
    "LeadReceived",
    "LeadReportedAgain",
    "LeadRouted",
    "PaymentOrderComplied",
    "PaymentOrderDefaulted",
    "PaymentOrdered",
    "PenaltyImposed",
    "ReviewFailed",
    "ReviewPassed",
    "ReviewScheduled",
    "SupervisionEscalated",
    "SupervisionEvent",
    "SupervisionOpened",
    "WagesPaid",
]

# Lead: stream arrears-lead-<lead_id>, the lead id being the deduplication key


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadReceived:
    """A complaint at intake point `received_by` (a district code); `division_code` locates the employer or project."""

    lead_id: str
    channel: Channel
    received_by: str
    employer_code: str
    employer_name: str
    division_code: str
    industry_code: str
    project: Project | None
    workers: tuple[WorkerClaim, ...]
    period_from: date
    period_to: date
    summary: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadReportedAgain:
    """The same employer, workers and wage period reported once more: counted, not a new lead."""

    lead_id: str
    channel: Channel
    received_by: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadRouted:
    """One hop (流转): from the intake point or a district to the district that must answer."""

    lead_id: str
    from_district: str
    to_district: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplaintAccepted:
    lead_id: str
    case_id: str
    district: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplaintRefused:
    """`explanation` is the written refusal the complainant receives."""

    lead_id: str
    district: str
    reason_code: RefusalReason
    explanation: str
    at: datetime


# Both: `subject_id` is the lead id (acceptance stage) or the case id (investigation stage)


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisionOpened:
    """督办: a stage still open past its limit `due_at`; `supervisor` is the city above the district."""

    subject_id: str
    stage: Stage
    district: str
    level: Level
    supervisor: str
    due_at: datetime
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisionEscalated:
    """The stage still open after the further period: supervision passes to the province."""

    subject_id: str
    stage: Stage
    district: str
    level: Level
    supervisor: str
    at: datetime


LeadOnlyEvent = LeadReceived | LeadReportedAgain | LeadRouted | ComplaintAccepted | ComplaintRefused
CaseOnlyEvent = (
    CaseFiled
    | InvestigationExtended
    | PaymentOrdered
    | PaymentOrderComplied
    | PaymentOrderDefaulted
    | WagesPaid
    | GeneralContractorPaidFirst
    | PenaltyImposed
    | AdditionalCompensationOrdered
    | CaseTransferred
    | CaseWithdrawn
    | CaseClosed
    | ReviewScheduled
    | ReviewPassed
    | ReviewFailed
    | CaseReopened
)
SupervisionEvent = SupervisionOpened | SupervisionEscalated
LeadEvent = LeadOnlyEvent | SupervisionEvent
CaseEvent = CaseOnlyEvent | SupervisionEvent
Event = LeadOnlyEvent | CaseOnlyEvent | SupervisionEvent

_SUPERVISION_TYPES: tuple[type[SupervisionEvent], ...] = (SupervisionOpened, SupervisionEscalated)
_LEAD_ONLY_TYPES: tuple[type[LeadOnlyEvent], ...] = (
    LeadReceived,
    LeadReportedAgain,
    LeadRouted,
    ComplaintAccepted,
    ComplaintRefused,
)
_CASE_ONLY_TYPES: tuple[type[CaseOnlyEvent], ...] = (
    CaseFiled,
    InvestigationExtended,
    PaymentOrdered,
    PaymentOrderComplied,
    PaymentOrderDefaulted,
    WagesPaid,
    GeneralContractorPaidFirst,
    PenaltyImposed,
    AdditionalCompensationOrdered,
    CaseTransferred,
    CaseWithdrawn,
    CaseClosed,
    ReviewScheduled,
    ReviewPassed,
    ReviewFailed,
    CaseReopened,
)
LEAD_EVENT_TYPES: tuple[type[LeadEvent], ...] = (*_LEAD_ONLY_TYPES, *_SUPERVISION_TYPES)
CASE_EVENT_TYPES: tuple[type[CaseEvent], ...] = (*_CASE_ONLY_TYPES, *_SUPERVISION_TYPES)
EVENT_TYPES: tuple[type[Event], ...] = (*_LEAD_ONLY_TYPES, *_CASE_ONLY_TYPES, *_SUPERVISION_TYPES)
