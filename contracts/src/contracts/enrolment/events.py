"""Public events of the enrolment service. A breaking change is a new class and subject (`.v2`).

Contributions and breaches are published in version 2, a payroll's month in one message with a line
per person (one message where version 1 sent one per person and month); version 1 stays here for
the streams' history, which consumers still read.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts.lines import LinesMessage


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
    """One person enrolled with an employer. No longer published (see `EmployeeEnrolledV2`)."""

    person_ref: str
    citizen_id: str
    employer_credit_code: str
    schemes: list[str]
    hired_on: date
    base_fen: int
    late: bool


class EmploymentEndedV1(_Event):
    """One person's employment ended. No longer published (see `EmploymentEndedV2`)."""

    person_ref: str
    employer_credit_code: str
    ended_on: date


class ContributionAssessedV1(_Event):
    """One month of contributions: the base, what employer and worker owe, what goes to the individual
    account. No longer published (see `ContributionAssessedV2`)."""

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
    """No longer published (see `ContributionPaidV2`)."""

    person_ref: str
    employer_credit_code: str
    month: str
    amount_fen: int
    late_fee_fen: int
    paid_on: date


class DeadlineBreachedV1(_Event):
    """A legal limit passed: registration overdue, contribution overdue (supervision and SLA figures).
    No longer published (see `DeadlineBreachedV2`)."""

    kind: str
    stream_id: str
    due_on: date


class _Lines(LinesMessage):
    """A message with a line per person: one decision's messages of one employer's month are one."""


class AssessedLineV2(_Event):
    """One person's month: the base, what employer and worker owe, what goes to the individual account."""

    person_ref: str
    citizen_id: str
    base_fen: int
    employer_total_fen: int
    worker_total_fen: int
    pension_employer_fen: int
    account_fen: int


class ContributionAssessedV2(_Lines):
    """A month of contributions assessed for an employer's people, due on `due_on`: a line each.
    No longer published (see `ContributionAssessedV3`)."""

    employer_credit_code: str
    region: str
    month: str
    due_on: date
    lines: list[AssessedLineV2]


class PaidLineV2(_Event):
    person_ref: str
    amount_fen: int
    late_fee_fen: int


class ContributionPaidV2(_Lines):
    """An employer's payment of a month for its people, a line each (with any late fee). No longer
    published (see `ContributionPaidV3`)."""

    employer_credit_code: str
    month: str
    paid_on: date
    lines: list[PaidLineV2]


class DeadlineBreachedV2(_Lines):
    """A legal limit passed for each stream of `stream_ids`: registration overdue, contribution
    overdue (supervision and SLA figures). No longer published (see `DeadlineBreachedV3`)."""

    LINES: ClassVar[str] = "stream_ids"

    kind: str
    due_on: date
    stream_ids: list[str]


class EnrolledLineV2(EmployeeEnrolledV1):
    """One person enrolled with an employer: the schemes, the hiring date, the contribution base, and
    whether the enrolment came after its 30 days."""


class EmployeeEnrolledV2(LinesMessage):
    """The people one decision enrolled, a line each: an enrolment, or a file of them (批量增员),
    whatever their employers."""

    lines: list[EnrolledLineV2]


class EndedLineV2(EmploymentEndedV1):
    """One person's employment with one employer ended on `ended_on`."""


class EmploymentEndedV2(LinesMessage):
    """The employments one decision ended, a line each: an end, or a file of them (批量减员),
    whatever their employers."""

    lines: list[EndedLineV2]


class AssessedLineV3(AssessedLineV2):
    """One person's month with one employer."""

    employer_credit_code: str


class ContributionAssessedV3(LinesMessage):
    """A month of contributions assessed, due on `due_on`: a line per person and employer, the lines
    of one decision (a chunk of up to 100 people of a month's assessment), whatever their employers."""

    region: str
    month: str
    due_on: date
    lines: list[AssessedLineV3]


class PaidLineV3(PaidLineV2):
    """One person's month paid by one employer, with any late fee."""

    employer_credit_code: str


class ContributionPaidV3(LinesMessage):
    """A month's contributions paid on `paid_on`: a line per person and employer, the lines of one
    decision (a payment, or a chunk of a collection file), whatever their employers."""

    month: str
    paid_on: date
    lines: list[PaidLineV3]


class BreachLineV3(_Event):
    """A legal limit passed for a stream (an employer, or a person), due on `due_on`; the employer
    whose obligation it was, when it is a person's."""

    stream_id: str
    due_on: date
    employer_credit_code: str | None = None


class DeadlineBreachedV3(LinesMessage):
    """A legal limit of one kind passed, a line per stream: registration overdue (the employer's,
    or an employee's), contribution overdue (a person's month); supervision and SLA figures. The
    lines of one decision, whatever their due dates and employers."""

    kind: str
    lines: list[BreachLineV3]
