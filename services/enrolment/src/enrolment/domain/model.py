"""The employer aggregate: state folded from events, and decisions that return new events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import assert_never

from enrolment.domain.errors import EmployerAlreadyRegisteredError, EstablishedInFutureError
from enrolment.domain.events import EmployerRegistered, Event


@dataclass(frozen=True, slots=True, kw_only=True)
class Employer:
    registered: bool = False
    credit_code: str = ""
    name: str = ""
    division_code: str = ""


def employer_stream(credit_code: str) -> str:
    return f"employer-{credit_code}"


def evolve(state: Employer, event: Event) -> Employer:
    match event:
        case EmployerRegistered():
            return replace(
                state,
                registered=True,
                credit_code=event.credit_code,
                name=event.name,
                division_code=event.division_code,
            )
        case _:
            assert_never(event)


def fold(events: Iterable[Event]) -> Employer:
    state = Employer()
    for event in events:
        state = evolve(state, event)
    return state


def decide_register_employer(
    state: Employer,
    *,
    credit_code: str,
    name: str,
    division_code: str,
    industry_code: str,
    established_on: date,
    route: str,
    now: datetime,
    today: date,
) -> list[Event]:
    """An employer is registered once; it cannot be established after today (the agency's date)."""
    if state.registered:
        raise EmployerAlreadyRegisteredError(credit_code)
    if established_on > today:
        raise EstablishedInFutureError
    return [
        EmployerRegistered(
            credit_code=credit_code,
            name=name,
            division_code=division_code,
            industry_code=industry_code,
            established_on=established_on,
            route=route,
            registered_at=now,
        )
    ]
