"""The person aggregate (stream person-<person_ref>): enrolments with employers and monthly contributions.

`person_ref` is an opaque pseudonym given by the caller. An employee is enrolled within 30 days of
starting work (社会保险法 art. 58; later is accepted and flagged late). The monthly base is the
declared wage clamped to 60%-300% of the province's average wage. A month is assessed once per
employer; paying after the due date adds a late fee of 0.05% a day (art. 86).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta
from decimal import Decimal

from enrolment.domain.errors import (
    AlreadyEnrolledError,
    DoublePensionEnrolmentError,
    EmployerNotFoundError,
    HiredInFutureError,
    InjuryRatePendingError,
    InvalidAmountError,
    InvalidDateError,
    NotEnrolledError,
    NothingAssessedError,
    SchemeNotOfferedError,
)
from enrolment.domain.events import (
    ContributionAssessed,
    ContributionBaseDeclared,
    ContributionOverdue,
    ContributionPaid,
    EmployeeEnrolled,
    EmploymentEnded,
    Event,
)
from enrolment.domain.person_state import (
    Assessment,
    Enrolment,
    Person,
    evolve,
    fold,
    is_active_pension,
    person_stream,
)
from enrolment.domain.rates import RateTable
from enrolment.domain.values import DEFAULT_SCHEMES, Scheme, month_bounds, round_fen

__all__ = [
    "Assessment",
    "Enrolment",
    "Person",
    "decide_assess_month",
    "decide_declare_base",
    "decide_end_employment",
    "decide_enrol_employee",
    "decide_mark_overdue",
    "decide_record_payment",
    "evolve",
    "fold",
    "is_active_pension",
    "person_stream",
]

ENROLMENT_DAYS = 30
LATE_FEE_PER_DAY = Decimal("0.0005")


def decide_enrol_employee(
    state: Person,
    *,
    person_ref: str,
    citizen_id: str,
    employer_credit_code: str,
    employer_registered: bool,
    schemes: Collection[Scheme],
    hired_on: date,
    declared_monthly_wage_fen: int,
    rates: RateTable,
    today: date,
    now: datetime,
    active_pension_elsewhere: bool,
) -> list[Event]:
    """Enrol an employee with a registered employer in schemes the region offers (default: pension,
    work injury, unemployment), from a start date no later than today, at the clamped base.

    Pension is held through one enrolment at a time: refused while another employer's pension
    enrolment here overlaps the new one, or while another pooling area holds one (checked by the
    caller). Enrolling more than 30 days after the start of work is accepted and flagged late.
    """
    if not employer_registered:
        raise EmployerNotFoundError(employer_credit_code)
    chosen = _schemes(schemes, rates)
    if declared_monthly_wage_fen <= 0:
        raise InvalidAmountError("the declared monthly wage", declared_monthly_wage_fen)
    if hired_on > today:
        raise HiredInFutureError(hired_on, today)
    current = state.enrolments.get(employer_credit_code)
    if current is not None and current.active:
        raise AlreadyEnrolledError(person_ref, employer_credit_code)
    if Scheme.PENSION in chosen:
        for other in state.enrolments.values():
            overlaps = other.ended_on is None or other.ended_on >= hired_on
            if other.employer_credit_code != employer_credit_code and Scheme.PENSION in other.schemes and overlaps:
                raise DoublePensionEnrolmentError(person_ref, f"with employer {other.employer_credit_code}")
        if active_pension_elsewhere:
            raise DoublePensionEnrolmentError(person_ref, "in another pooling area")
    base_fen, clamped = rates.clamp_base(declared_monthly_wage_fen)
    return [
        EmployeeEnrolled(
            person_ref=person_ref,
            citizen_id=citizen_id,
            employer_credit_code=employer_credit_code,
            schemes=chosen,
            hired_on=hired_on,
            declared_wage_fen=declared_monthly_wage_fen,
            base_fen=base_fen,
            clamped=clamped,
            enrolled_at=now,
            late=today > hired_on + timedelta(days=ENROLMENT_DAYS),
        )
    ]


def decide_end_employment(state: Person, *, employer_credit_code: str, ended_on: date, now: datetime) -> list[Event]:
    """End an active enrolment, on or after the day it began."""
    current = state.enrolments.get(employer_credit_code)
    if current is None or not current.active:
        raise NotEnrolledError(state.person_ref, employer_credit_code)
    if ended_on < current.hired_on:
        raise InvalidDateError(
            f"ended_on {ended_on} is before hired_on {current.hired_on}: employment cannot end before it began"
        )
    return [
        EmploymentEnded(
            person_ref=state.person_ref, employer_credit_code=employer_credit_code, ended_on=ended_on, at=now
        )
    ]


def decide_declare_base(
    state: Person,
    *,
    employer_credit_code: str,
    year: int,
    declared_monthly_wage_fen: int,
    rates: RateTable,
    now: datetime,
) -> list[Event]:
    """Declare a year's monthly wage (last year's average) for an enrolment; the base is it clamped
    to 60%-300% of that year's average wage. Always one event: the declaration is on record."""
    if employer_credit_code not in state.enrolments:
        raise NotEnrolledError(state.person_ref, employer_credit_code)
    if declared_monthly_wage_fen <= 0:
        raise InvalidAmountError("the declared monthly wage", declared_monthly_wage_fen)
    base_fen, clamped = rates.clamp_base(declared_monthly_wage_fen)
    return [
        ContributionBaseDeclared(
            person_ref=state.person_ref,
            employer_credit_code=employer_credit_code,
            year=year,
            declared_wage_fen=declared_monthly_wage_fen,
            base_fen=base_fen,
            clamped=clamped,
            at=now,
        )
    ]


def decide_assess_month(
    state: Person,
    *,
    employer_credit_code: str,
    month: str,
    rates: RateTable,
    injury_rate: Decimal | None,
    due_on: date,
    citizen_id: str,
    today: date,
    now: datetime,
) -> list[Event]:
    """Assess a month once for an employer the person was enrolled with on some day of it.

    The base is that year's declared wage clamped by `rates` (the month's table); each scheme's
    line is base x rate, half-up to the fen; work injury uses the employer's rate. The worker's
    pension share (8%) goes to the individual account. A month already assessed yields nothing.
    A month assessed after its due date (a late declaration) is overdue from the start, as an
    enrolment made late is flagged late: no timer is needed to find that out.
    """
    first, last = month_bounds(month)
    if (employer_credit_code, month) in state.assessments:
        return []
    enrolment = state.enrolments.get(employer_credit_code)
    if enrolment is None or not enrolment.covers(first, last):
        raise NotEnrolledError(state.person_ref, employer_credit_code, month)
    if Scheme.WORK_INJURY in enrolment.schemes and injury_rate is None:
        raise InjuryRatePendingError(employer_credit_code)
    base_fen, _ = rates.clamp_base(enrolment.wage_for(first.year))
    lines = tuple(
        (scheme, *rates.contribution(Scheme(scheme), base_fen, injury_rate=injury_rate)) for scheme in enrolment.schemes
    )
    account_fen = next((worker for scheme, _, worker in lines if scheme == Scheme.PENSION), 0)
    assessed: list[Event] = [
        ContributionAssessed(
            person_ref=state.person_ref,
            citizen_id=citizen_id,
            employer_credit_code=employer_credit_code,
            month=month,
            base_fen=base_fen,
            lines=lines,
            employer_total_fen=sum(employer for _, employer, _ in lines),
            worker_total_fen=sum(worker for _, _, worker in lines),
            account_fen=account_fen,
            due_on=due_on,
            at=now,
        )
    ]
    if today > due_on:
        overdue = ContributionOverdue(
            person_ref=state.person_ref, employer_credit_code=employer_credit_code, month=month, due_on=due_on, at=now
        )
        assessed.append(overdue)
    return assessed


def decide_record_payment(
    state: Person, *, employer_credit_code: str, month: str, paid_on: date, now: datetime
) -> list[Event]:
    """Pay an assessed month in full, once; a late fee of 0.05% of the amount per day after the due
    date is added, half-up to the fen (社会保险法 art. 86)."""
    assessed = state.assessments.get((employer_credit_code, month))
    if assessed is None:
        raise NothingAssessedError(state.person_ref, employer_credit_code, month)
    if assessed.paid:
        return []
    days_late = max((paid_on - assessed.due_on).days, 0)
    late_fee_fen = round_fen(assessed.amount_due_fen * LATE_FEE_PER_DAY * days_late)
    return [
        ContributionPaid(
            person_ref=state.person_ref,
            employer_credit_code=employer_credit_code,
            month=month,
            amount_fen=assessed.amount_due_fen,
            late_fee_fen=late_fee_fen,
            paid_on=paid_on,
            at=now,
        )
    ]


def decide_mark_overdue(state: Person, *, employer_credit_code: str, month: str, now: datetime) -> list[Event]:
    """An assessed month still unpaid at its deadline is overdue, once."""
    assessed = state.assessments.get((employer_credit_code, month))
    if assessed is None or assessed.paid or assessed.overdue:
        return []
    return [
        ContributionOverdue(
            person_ref=state.person_ref,
            employer_credit_code=employer_credit_code,
            month=month,
            due_on=assessed.due_on,
            at=now,
        )
    ]


def _schemes(schemes: Collection[Scheme], rates: RateTable) -> tuple[str, ...]:
    """The schemes asked for (default ones if none), each offered by the region, in a fixed order."""
    asked = [str(s) for s in schemes] or [str(s) for s in DEFAULT_SCHEMES]
    for name in asked:
        if not rates.offers(name):
            raise SchemeNotOfferedError(name, rates.region)
    return tuple(s.value for s in Scheme if s.value in asked)
