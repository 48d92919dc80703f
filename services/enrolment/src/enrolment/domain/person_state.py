"""State of a person (stream person-<person_ref>), folded from events: enrolments and assessed months.

Enrolments are keyed by employer credit code (the latest employment with each employer); assessed
months by (employer credit code, "YYYY-MM"). Folding never refuses an event; an employer
stream's event leaves the state as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import assert_never

from enrolment.domain.events import (
    ContributionAssessed,
    ContributionBaseDeclared,
    ContributionOverdue,
    ContributionPaid,
    EmployeeEnrolled,
    EmployerEvent,
    EmploymentEnded,
    Event,
)
from enrolment.domain.values import Scheme, month_bounds


@dataclass(frozen=True, slots=True, kw_only=True)
class Enrolment:
    """One employment's enrolment; wages_by_year holds the declared monthly wage of each year."""

    employer_credit_code: str
    schemes: tuple[str, ...]
    hired_on: date
    ended_on: date | None = None
    base_fen: int
    wages_by_year: Mapping[int, int]
    late: bool = False

    @property
    def active(self) -> bool:
        return self.ended_on is None

    def covers(self, first: date, last: date) -> bool:
        """Enrolled on some day from first to last: hired by last, not ended before first."""
        return self.hired_on <= last and (self.ended_on is None or self.ended_on >= first)

    def wage_for(self, year: int) -> int:
        """The declared wage of that year, else of the latest earlier year, else the earliest known."""
        earlier = [y for y in self.wages_by_year if y <= year]
        return self.wages_by_year[max(earlier) if earlier else min(self.wages_by_year)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Assessment:
    amount_due_fen: int
    due_on: date
    paid: bool = False
    overdue: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Person:
    person_ref: str = ""
    citizen_id: str = ""
    enrolments: Mapping[str, Enrolment] = field(default_factory=dict)
    assessments: Mapping[tuple[str, str], Assessment] = field(default_factory=dict)


def person_stream(person_ref: str) -> str:
    return f"person-{person_ref}"


def evolve(state: Person, event: Event) -> Person:
    match event:
        case EmployeeEnrolled():
            enrolment = Enrolment(
                employer_credit_code=event.employer_credit_code,
                schemes=event.schemes,
                hired_on=event.hired_on,
                base_fen=event.base_fen,
                wages_by_year={event.hired_on.year: event.declared_wage_fen},
                late=event.late,
            )
            return replace(
                state,
                person_ref=event.person_ref,
                citizen_id=event.citizen_id,
                enrolments={**state.enrolments, event.employer_credit_code: enrolment},
            )
        case EmploymentEnded():
            known = state.enrolments.get(event.employer_credit_code)
            return _put(state, known and replace(known, ended_on=event.ended_on))
        case ContributionBaseDeclared():
            known = state.enrolments.get(event.employer_credit_code)
            wages = {**(known.wages_by_year if known else {}), event.year: event.declared_wage_fen}
            return _put(state, known and replace(known, base_fen=event.base_fen, wages_by_year=wages))
        case ContributionAssessed():
            due = Assessment(amount_due_fen=event.employer_total_fen + event.worker_total_fen, due_on=event.due_on)
            key = (event.employer_credit_code, event.month)
            return replace(state, assessments={**state.assessments, key: due})
        case ContributionPaid():
            return _settled(state, event.employer_credit_code, event.month, paid=True)
        case ContributionOverdue():
            return _settled(state, event.employer_credit_code, event.month, overdue=True)
        case _ if isinstance(event, EmployerEvent):
            return state  # an employer stream's event: not this aggregate's
        case _:
            assert_never(event)


def fold(events: Iterable[Event]) -> Person:
    return fold_on(Person(), events)


def fold_on(state: Person, events: Iterable[Event]) -> Person:
    """`state` with `events` folded on (a state kept between decisions, and what came since)."""
    for event in events:
        state = evolve(state, event)
    return state


def is_active_pension(state: Person, month: str) -> bool:
    """Whether any pension enrolment of this person covers some day of the month (cross-region guard)."""
    first, last = month_bounds(month)
    return any(Scheme.PENSION in e.schemes and e.covers(first, last) for e in state.enrolments.values())


def _put(state: Person, enrolment: Enrolment | None) -> Person:
    if enrolment is None:
        return state
    return replace(state, enrolments={**state.enrolments, enrolment.employer_credit_code: enrolment})


def _settled(
    state: Person, employer_credit_code: str, month: str, *, paid: bool = False, overdue: bool = False
) -> Person:
    key = (employer_credit_code, month)
    known = state.assessments.get(key)
    if known is None:
        return state
    settled = replace(known, paid=known.paid or paid, overdue=known.overdue or overdue)
    return replace(state, assessments={**state.assessments, key: settled})
