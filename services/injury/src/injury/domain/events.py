"""Private, stored facts of the injury service: determinations, agreements, catalogues, settlements.

Money is integer fen, quantities Decimal, instants aware UTC datetimes, business days plain dates.
Field types stay plain (str, int, bool, Decimal, date, datetime, StrEnum, tuples of the line
values) so stored JSON rebuilds them exactly. Settlement events carry hospital, region, service
date and amounts, so projections count settlements, fund vs self-pay, re-settlements and rejected
lines by reason from the events alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from injury.domain.values import (
    Applicant,
    Category,
    DeterminationStage,
    HoldReason,
    InstitutionKind,
    ItemKind,
    LineRejection,
    PricedLine,
)

# Determination: stream determination-<determination_id>


@dataclass(frozen=True, slots=True, kw_only=True)
class DeterminationApplied:
    determination_id: str
    citizen_id: str
    employer_id: str
    region: str
    injury_date: date
    applicant: Applicant
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class DeterminationAccepted:
    """`facts_clear`: facts and rights are clear, so the decision is due in 15 days, not 60."""

    determination_id: str
    facts_clear: bool
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class DeterminationRecognised:
    determination_id: str
    citizen_id: str
    region: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class DeterminationDenied:
    determination_id: str
    citizen_id: str
    region: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class DeterminationDeadlineBreached:
    """A stage was still open at its legal limit in calendar days (for supervision)."""

    determination_id: str
    stage: DeterminationStage
    due_at: datetime
    at: datetime


# Agreement institution: stream agreement-<hospital_id>


@dataclass(frozen=True, slots=True, kw_only=True)
class AgreementSigned:
    """A new agreement term, valid from `valid_from` to `valid_to`, both days included."""

    hospital_id: str
    name: str
    region: str
    kind: InstitutionKind
    signed_on: date
    valid_from: date
    valid_to: date
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AgreementSuspended:
    """No settlement from `effective_from` until reinstated."""

    hospital_id: str
    effective_from: date
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AgreementReinstated:
    hospital_id: str
    effective_from: date
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AgreementTerminated:
    """The current term ends: no settlement for service on or after `effective_from`."""

    hospital_id: str
    effective_from: date
    reason: str
    at: datetime


# Catalogue: stream catalogue-<region>


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogueVersionPublished:
    """A new version of one item; an earlier version still open on `valid_from` ends the day before.

    `valid_to` is the last valid day, None while open-ended. History is never edited.
    """

    region: str
    code: str
    name: str
    kind: ItemKind
    category: Category
    unit: str
    price_fen: int
    valid_from: date
    valid_to: date | None
    version: int
    at: datetime


# Settlement: stream settlement-<hospital_id>-<hospital_settlement_no>


@dataclass(frozen=True, slots=True, kw_only=True)
class SettlementPosted:
    """Settled through the network: the fund pays `fund_fen`, the worker `self_pay_fen`.

    `determination_ref` is the determination the hospital posted (empty when none was shown).
    """

    hospital_id: str
    region: str
    hospital_settlement_no: str
    citizen_id: str
    determination_ref: str
    service_date: date
    lines: tuple[PricedLine, ...]
    total_fen: int
    fund_fen: int
    self_pay_fen: int
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SettlementHeldAsSelfPay:
    """No recognised determination yet: the worker pays `total_fen`. The lines keep the network's
    split, which the fund pays (refunding the worker) once the determination is recognised."""

    hospital_id: str
    region: str
    hospital_settlement_no: str
    citizen_id: str
    determination_ref: str
    service_date: date
    lines: tuple[PricedLine, ...]
    total_fen: int
    reason: HoldReason
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SettlementResettled:
    """A held settlement re-settled through the network (补结算): `fund_fen` is refunded to the worker."""

    hospital_id: str
    region: str
    hospital_settlement_no: str
    citizen_id: str
    determination_id: str
    service_date: date
    total_fen: int
    fund_fen: int
    self_pay_fen: int
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SettlementReversed:
    """The settlement is undone; the amounts are those it stood at (fund and worker)."""

    hospital_id: str
    region: str
    hospital_settlement_no: str
    service_date: date
    total_fen: int
    fund_fen: int
    self_pay_fen: int
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class LinesRejected:
    """A posting refused for its lines (each with a countable reason); the number stays free."""

    hospital_id: str
    region: str
    hospital_settlement_no: str
    service_date: date
    rejections: tuple[LineRejection, ...]
    at: datetime


DeterminationEvent = (
    DeterminationApplied
    | DeterminationAccepted
    | DeterminationRecognised
    | DeterminationDenied
    | DeterminationDeadlineBreached
)
AgreementEvent = AgreementSigned | AgreementSuspended | AgreementReinstated | AgreementTerminated
CatalogueEvent = CatalogueVersionPublished
SettlementEvent = SettlementPosted | SettlementHeldAsSelfPay | SettlementResettled | SettlementReversed | LinesRejected
Event = DeterminationEvent | AgreementEvent | CatalogueEvent | SettlementEvent

DETERMINATION_EVENT_TYPES: tuple[type[DeterminationEvent], ...] = (
    DeterminationApplied,
    DeterminationAccepted,
    DeterminationRecognised,
    DeterminationDenied,
    DeterminationDeadlineBreached,
)
AGREEMENT_EVENT_TYPES: tuple[type[AgreementEvent], ...] = (
    AgreementSigned,
    AgreementSuspended,
    AgreementReinstated,
    AgreementTerminated,
)
CATALOGUE_EVENT_TYPES: tuple[type[CatalogueEvent], ...] = (CatalogueVersionPublished,)
SETTLEMENT_EVENT_TYPES: tuple[type[SettlementEvent], ...] = (
    SettlementPosted,
    SettlementHeldAsSelfPay,
    SettlementResettled,
    SettlementReversed,
    LinesRejected,
)
EVENT_TYPES: tuple[type[Event], ...] = (
    DETERMINATION_EVENT_TYPES + AGREEMENT_EVENT_TYPES + CATALOGUE_EVENT_TYPES + SETTLEMENT_EVENT_TYPES
)
