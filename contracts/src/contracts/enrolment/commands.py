"""Commands and queries the enrolment service accepts. Unknown fields are refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from contracts.identifiers import CitizenId, CreditCode, CreditCodeUnverified, DivisionCode

INDUSTRY_CODE = r"^[A-T][0-9]{2,4}$"
MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"

Fen = Annotated[int, Field(gt=0, le=10**12, description="Amount in fen (1/100 yuan), positive.")]
IndustryCode = Annotated[str, Field(pattern=INDUSTRY_CODE, description="GB/T 4754-2017 code, e.g. `C3110` or `I65`.")]
Month = Annotated[str, Field(pattern=MONTH, description="A contribution month, `YYYY-MM`.")]


class Scheme(StrEnum):
    PENSION = "pension"
    WORK_INJURY = "work_injury"
    UNEMPLOYMENT = "unemployment"
    MEDICAL = "medical"
    MATERNITY = "maternity"


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


Line = TypeVar("Line")


def _listed_once(lines: list[Line], key: Callable[[Line], object], what: str) -> list[Line]:
    """A batch's lines, refused when two of them name the same `what` (their `key`)."""
    if len({key(line) for line in lines}) != len(lines):
        raise ValueError(f"{what} is listed more than once")
    return lines


class MarketRegistrationRecord(_Command):
    """One record of the market-registration feed (what the business registry shares)."""

    record_id: str = Field(min_length=1, max_length=64, description="The registry's own id of this record.")
    credit_code: CreditCodeUnverified = Field(
        description="Checked for structure; a bad check character goes to review."
    )
    name: str = Field(min_length=2, max_length=200)
    division_code: DivisionCode
    industry_code: IndustryCode
    established_on: date
    market_registered_at: AwareDatetime = Field(description="When the market regulator registered it.")


class ImportMarketRegistration(MarketRegistrationRecord):
    """Register an employer from the feed with no review (zero-touch, 零跑动)."""


class MarketRegistrationBatch(_Command):
    records: list[MarketRegistrationRecord] = Field(min_length=1, max_length=1000)


class RegisterEmployer(_Command):
    """Register an employer at a counter (manual registration, 单位参保登记)."""

    credit_code: CreditCode = Field(
        description="Unified social credit code (统一社会信用代码), check character verified."
    )
    name: str = Field(min_length=2, max_length=200, description="Registered name of the employer.")
    division_code: DivisionCode = Field(description="County-level GB/T 2260 code of the employer's address.")
    industry_code: IndustryCode
    established_on: date = Field(description="Date the employer was established (start of the 30-day limit).")


class ApproveHeldRegistration(_Command):
    """A clerk confirms a feed record held for its check character; the employer is then registered."""

    credit_code: str = Field(min_length=18, max_length=18)


class AssignInjuryClass(_Command):
    """An operator settles the work-injury risk class and rate tier (after review, or the annual float)."""

    credit_code: str = Field(min_length=18, max_length=18)
    risk_class: int = Field(ge=1, le=8)
    tier: Decimal = Field(description="Floating tier: 0.5, 0.8, 1.0, 1.2 or 1.5 (class 1: 1.0, 1.2, 1.5).")


class EnrolEmployee(_Command):
    """An employer enrols an employee (职工参保登记) in pension, work-injury, unemployment and listed schemes."""

    citizen_id: CitizenId
    employer_credit_code: CreditCode
    schemes: list[Scheme] = Field(default_factory=list, description="Empty: pension, work injury, unemployment.")
    hired_on: date
    declared_monthly_wage_fen: Fen


# Enrolments (or ends of employment) a file carries: an employer's hires of the month (批量增员), or a
# service platform's day of them for many employers, answered within the gateway's timeout.
ENROLLED_TOGETHER = 100


class EnrolEmployees(_Command):
    """Enrol many employees at once (a file, a line per person and employer): each line is decided
    as `EnrolEmployee` decides one, on its own. A line the rules refuse (the employer not
    registered, someone already enrolled, a pension held in another pooling area) is answered with
    its problem and does not stop the others."""

    enrolments: list[EnrolEmployee] = Field(min_length=1, max_length=ENROLLED_TOGETHER)

    @field_validator("enrolments")
    @classmethod
    def _each_once(cls, enrolments: list[EnrolEmployee]) -> list[EnrolEmployee]:
        return _listed_once(enrolments, lambda e: (e.citizen_id, e.employer_credit_code), "a person with an employer")


class EndEmployment(_Command):
    citizen_id: CitizenId
    employer_credit_code: CreditCode
    ended_on: date


class EndEmployments(_Command):
    """End many employments at once (a file, a line per person and employer: 批量减员): each line
    is decided as `EndEmployment` decides one, on its own; a line the rules refuse (no such
    employment, an end before the start) is answered with its problem and does not stop the others."""

    ends: list[EndEmployment] = Field(min_length=1, max_length=ENROLLED_TOGETHER)

    @field_validator("ends")
    @classmethod
    def _each_once(cls, ends: list[EndEmployment]) -> list[EndEmployment]:
        return _listed_once(ends, lambda e: (e.citizen_id, e.employer_credit_code), "a person with an employer")


class DeclareBase(_Command):
    """Declare last year's average monthly wage; the base is clamped to 60%-300% of the average wage."""

    citizen_id: CitizenId
    employer_credit_code: CreditCode
    year: int = Field(ge=2000, le=2100)
    declared_monthly_wage_fen: Fen


class AssessContributions(_Command):
    """Assess one month's contributions for every employee of an employer."""

    employer_credit_code: CreditCode
    month: Month


# Employers a batch of the month's assessment takes: a request answered within the gateway's
# timeout for employers of ordinary size (an employer of thousands: assessed on its own).
ASSESSED_TOGETHER = 100


class AssessEmployers(_Command):
    """Assess one month's contributions for every employee of each of these employers at once: the
    agency's monthly run over its employers, a batch of them per request. Nothing is assessed if any
    of them is not registered here or waits for its work-injury class, or if together they have more
    people in the month than one request assesses (5,000)."""

    month: Month
    employer_credit_codes: list[CreditCode] = Field(min_length=1, max_length=ASSESSED_TOGETHER)

    @field_validator("employer_credit_codes")
    @classmethod
    def _each_once(cls, codes: list[str]) -> list[str]:
        if len(set(codes)) != len(codes):
            raise ValueError("an employer is listed more than once")
        return codes


class RecordPayment(_Command):
    """Record that an employer paid a month's contributions (late fee 0.05% a day past the due date)."""

    employer_credit_code: CreditCode
    month: Month
    paid_on: date


# Payments a batch records: a day's collection file (the tax bureau's, which collects the
# contributions) of ordinary employers, answered within the gateway's timeout.
PAID_TOGETHER = 100


class RecordPayments(_Command):
    """Record a batch of employers' payments (the day's collection file, a line per employer and
    month): every employee assessed for a line's month is paid, late fees worked out, as
    `RecordPayment` pays them. Nothing is recorded if an employer is not registered here or if the
    lines have more people than one request pays (5,000); someone on a line's payroll whom that
    month's assessment did not reach is counted in the line's `unassessed`, not paid, and does not
    stop the rest."""

    payments: list[RecordPayment] = Field(min_length=1, max_length=PAID_TOGETHER)

    @field_validator("payments")
    @classmethod
    def _each_once(cls, payments: list[RecordPayment]) -> list[RecordPayment]:
        return _listed_once(payments, lambda p: (p.employer_credit_code, p.month), "an employer's month")


class GetEmployer(_Command):
    credit_code: str = Field(min_length=18, max_length=18)


class GetPerson(_Command):
    """A person's enrolments and contribution history."""

    citizen_id: CitizenId


class ListReviewQueue(_Command):
    limit: int = Field(default=100, ge=1, le=1000)


class ActivePension(_Command):
    """Does this person (by pseudonym) hold an active pension enrolment here in this month?"""

    person_ref: str = Field(min_length=8, max_length=64)
    month: Month


# The most people one `ActivePensions` carries.
MOST_ASKED = 1000


class ActivePensions(_Command):
    """`ActivePension` for several people at once (the questions another region's enrolments asked
    while its previous one was on its way); answered `{"active": [...]}`, in the order asked."""

    asked: list[ActivePension] = Field(min_length=1, max_length=MOST_ASKED)


class PersonStanding(_Command):
    """Is this person (by pseudonym) enrolled here with a pension now, and how many months were
    assessed for them here, by the person's own record (not a view): what the region's transfer
    service asks before it refuses an application on its copy of the history, which may be behind."""

    person_ref: str = Field(min_length=8, max_length=64)


class EnrolmentFigures(_Command):
    first: date
    last: date
