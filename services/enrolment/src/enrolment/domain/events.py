"""Private, stored facts of the enrolment service: employer streams and person streams.

Money is integer fen, rates are Decimal, instants are aware datetimes, days are dates. Field types
stay plain (str, int, Decimal, date, datetime, tuples) so stored JSON rebuilds them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

# Employer stream: employer-<credit_code>


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketRegistrationHeld:
    """A market-regulation feed record held for review (e.g. its credit code check character fails)."""

    credit_code: str
    name: str
    division_code: str
    industry_code: str
    established_on: date
    reason: str
    held_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class EmployerRegistered:
    credit_code: str
    name: str
    division_code: str
    industry_code: str
    established_on: date
    route: str
    registered_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class InjuryClassMatched:
    """The work-injury risk class found from the industry code, at the base tier."""

    credit_code: str
    risk_class: int
    tier: Decimal
    rate: Decimal
    basis: str
    matched_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class InjuryClassNeedsReview:
    """The industry code does not settle the risk class: an operator must assign it."""

    credit_code: str
    industry_code: str
    candidates: tuple[int, ...]
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class InjuryClassAssigned:
    """An operator set the risk class and tier."""

    credit_code: str
    risk_class: int
    tier: Decimal
    rate: Decimal
    assigned_by: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class EmployerRegistrationOverdue:
    """Not registered within 30 days of establishment (社会保险法 art. 57)."""

    credit_code: str
    established_on: date
    due_on: date
    at: datetime


# Person stream: person-<person_ref>


@dataclass(frozen=True, slots=True, kw_only=True)
class EmployeeEnrolled:
    person_ref: str
    citizen_id: str
    employer_credit_code: str
    schemes: tuple[str, ...]
    hired_on: date
    declared_wage_fen: int
    base_fen: int
    clamped: str | None
    enrolled_at: datetime
    late: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class EmploymentEnded:
    person_ref: str
    employer_credit_code: str
    ended_on: date
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ContributionBaseDeclared:
    person_ref: str
    employer_credit_code: str
    year: int
    declared_wage_fen: int
    base_fen: int
    clamped: str | None
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ContributionAssessed:
    """One month's contributions: lines are (scheme, employer fen, worker fen)."""

    person_ref: str
    citizen_id: str
    employer_credit_code: str
    month: str
    base_fen: int
    lines: tuple[tuple[str, int, int], ...]
    employer_total_fen: int
    worker_total_fen: int
    account_fen: int
    due_on: date
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ContributionPaid:
    person_ref: str
    employer_credit_code: str
    month: str
    amount_fen: int
    late_fee_fen: int
    paid_on: date
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ContributionOverdue:
    person_ref: str
    employer_credit_code: str
    month: str
    due_on: date
    at: datetime


EmployerEvent = (
    MarketRegistrationHeld
    | EmployerRegistered
    | InjuryClassMatched
    | InjuryClassNeedsReview
    | InjuryClassAssigned
    | EmployerRegistrationOverdue
)
PersonEvent = (
    EmployeeEnrolled
    | EmploymentEnded
    | ContributionBaseDeclared
    | ContributionAssessed
    | ContributionPaid
    | ContributionOverdue
)
Event = EmployerEvent | PersonEvent

EMPLOYER_EVENT_TYPES: tuple[type[EmployerEvent], ...] = (
    MarketRegistrationHeld,
    EmployerRegistered,
    InjuryClassMatched,
    InjuryClassNeedsReview,
    InjuryClassAssigned,
    EmployerRegistrationOverdue,
)
PERSON_EVENT_TYPES: tuple[type[PersonEvent], ...] = (
    EmployeeEnrolled,
    EmploymentEnded,
    ContributionBaseDeclared,
    ContributionAssessed,
    ContributionPaid,
    ContributionOverdue,
)
EVENT_TYPES: tuple[type[Event], ...] = EMPLOYER_EVENT_TYPES + PERSON_EVENT_TYPES
