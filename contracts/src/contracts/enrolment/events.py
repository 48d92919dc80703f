"""Public events of the enrolment service, version 1. A breaking change is a new class and subject."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class EmployerRegisteredV1(_Event):
    """An employer became insured with the agency of its county."""

    employer_id: str
    credit_code: str
    name: str
    division_code: str
    industry_code: str
    established_on: date
    route: str
    registered_at: AwareDatetime


class InjuryClassSetV1(_Event):
    """The employer's work-injury risk class, tier and rate (matched, or assigned by an operator)."""

    credit_code: str
    risk_class: int
    tier: Decimal
    rate: Decimal
    how: str


class EmployeeEnrolledV1(_Event):
    person_ref: str
    citizen_id: str
    employer_credit_code: str
    schemes: list[str]
    hired_on: date
    base_fen: int
    late: bool


class EmploymentEndedV1(_Event):
    person_ref: str
    employer_credit_code: str
    ended_on: date


class ContributionAssessedV1(_Event):
    """One month of contributions: the base, what employer and worker owe, what goes to the individual account."""

    person_ref: str
    citizen_id: str
    employer_credit_code: str
    region: str
    month: str
    base_fen: int
    employer_total_fen: int
    worker_total_fen: int
    pension_employer_fen: int
    account_fen: int
    due_on: date


class ContributionPaidV1(_Event):
    person_ref: str
    employer_credit_code: str
    month: str
    amount_fen: int
    late_fee_fen: int
    paid_on: date


class DeadlineBreachedV1(_Event):
    """A legal limit passed: registration overdue, contribution overdue (supervision and SLA figures)."""

    kind: str
    stream_id: str
    due_on: date
