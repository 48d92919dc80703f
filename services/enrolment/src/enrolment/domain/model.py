"""The employer aggregate (stream employer-<credit_code>): state folded from events, decisions that return events.

Registration comes from the market-regulation feed (zero touch) or from a counter (manual); either
way the work-injury risk class is matched from the industry code at the base tier, or sent to review
when the code does not settle it. An employer must register within 30 days of establishment
(社会保险法 art. 57). Decisions return `list[Event]`; folding ignores a person stream's events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import assert_never

from enrolment.domain.errors import (
    EmployerAlreadyRegisteredError,
    EmployerNotFoundError,
    EstablishedInFutureError,
    InvalidIndustryCodeError,
)
from enrolment.domain.events import (
    EmployerRegistered,
    EmployerRegistrationOverdue,
    Event,
    InjuryClassAssigned,
    InjuryClassMatched,
    InjuryClassNeedsReview,
    MarketRegistrationHeld,
    PersonEvent,
)
from enrolment.domain.rates import RateTable
from enrolment.domain.risk_classes import ClassMatch, match_industry
from enrolment.domain.values import Route

REGISTRATION_DAYS = 30
BASE_TIER = Decimal("1.0")
CHECK_CHARACTER_HELD = "credit code check character does not match; held for review"


@dataclass(frozen=True, slots=True, kw_only=True)
class Employer:
    registered: bool = False
    held: bool = False
    credit_code: str = ""
    name: str = ""
    division_code: str = ""
    industry_code: str = ""
    route: str = ""
    established_on: date | None = None
    risk_class: int | None = None
    tier: Decimal | None = None
    injury_rate: Decimal | None = None
    needs_review: bool = False
    overdue: bool = False


def employer_stream(credit_code: str) -> str:
    return f"employer-{credit_code}"


def registration_due(established_on: date) -> date:
    """The last day to register: 30 calendar days after establishment (社会保险法 art. 57)."""
    return established_on + timedelta(days=REGISTRATION_DAYS)


def evolve(state: Employer, event: Event) -> Employer:
    match event:
        case MarketRegistrationHeld():
            return replace(
                state,
                held=True,
                credit_code=event.credit_code,
                name=event.name,
                division_code=event.division_code,
                industry_code=event.industry_code,
                established_on=event.established_on,
            )
        case EmployerRegistered():
            return replace(
                state,
                registered=True,
                held=False,
                credit_code=event.credit_code,
                name=event.name,
                division_code=event.division_code,
                industry_code=event.industry_code,
                route=event.route,
                established_on=event.established_on,
            )
        case InjuryClassMatched() | InjuryClassAssigned():
            return replace(
                state, risk_class=event.risk_class, tier=event.tier, injury_rate=event.rate, needs_review=False
            )
        case InjuryClassNeedsReview():
            return replace(state, risk_class=None, tier=None, injury_rate=None, needs_review=True)
        case EmployerRegistrationOverdue():
            return replace(state, overdue=True)
        case _ if isinstance(event, PersonEvent):
            return state  # a person stream's event: not this aggregate's
        case _:
            assert_never(event)


def fold(events: Iterable[Event]) -> Employer:
    state = Employer()
    for event in events:
        state = evolve(state, event)
    return state


def decide_import_market_registration(
    state: Employer,
    *,
    credit_code: str,
    check_character_ok: bool,
    name: str,
    division_code: str,
    industry_code: str,
    established_on: date,
    rates: RateTable,
    now: datetime,
    today: date,
) -> list[Event]:
    """Zero touch: a feed record registers its employer at once, with the risk class matched.

    The same record twice is one employer (nothing new). A record whose credit code fails its check
    character is held for review, once. An industry code the class table cannot read registers the
    employer all the same and sends the class to review: the feed is not refused for it.
    """
    if state.registered:
        return []
    if established_on > today:
        raise EstablishedInFutureError(established_on, today)
    if not check_character_ok:
        if state.held:
            return []
        return [
            MarketRegistrationHeld(
                credit_code=credit_code,
                name=name,
                division_code=division_code,
                industry_code=industry_code,
                established_on=established_on,
                reason=CHECK_CHARACTER_HELD,
                held_at=now,
            )
        ]
    try:
        match = match_industry(industry_code)
    except InvalidIndustryCodeError as error:
        match = ClassMatch(None, (), str(error))
    registered = _registered(credit_code, name, division_code, industry_code, established_on, Route.ZERO_TOUCH, now)
    return [registered, _class_event(credit_code, industry_code, match, rates, now)]


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
    rates: RateTable,
) -> list[Event]:
    """An employer is registered once, established no later than today (the agency's date).

    A feed record held for review is registered this way. An unreadable industry code is refused
    (InvalidIndustryCodeError) so the clerk corrects it; a code too coarse for one class goes to review.
    """
    if state.registered:
        raise EmployerAlreadyRegisteredError(credit_code)
    if established_on > today:
        raise EstablishedInFutureError(established_on, today)
    match = match_industry(industry_code)
    registered = _registered(credit_code, name, division_code, industry_code, established_on, route, now)
    return [registered, _class_event(credit_code, industry_code, match, rates, now)]


def decide_assign_injury_class(
    state: Employer, *, risk_class: int, tier: Decimal, rates: RateTable, assigned_by: str, now: datetime
) -> list[Event]:
    """An operator sets a registered employer's risk class and tier; the rate is the class base x tier.

    Class 1 takes tiers 1.0/1.2/1.5 only, classes 2-8 also 0.5 and 0.8. Setting what is already
    in force, with no review pending, changes nothing.
    """
    if not state.registered:
        raise EmployerNotFoundError(state.credit_code)
    rate = rates.injury_rate(risk_class, tier)
    if not state.needs_review and (state.risk_class, state.tier, state.injury_rate) == (risk_class, tier, rate):
        return []
    return [
        InjuryClassAssigned(
            credit_code=state.credit_code, risk_class=risk_class, tier=tier, rate=rate, assigned_by=assigned_by, at=now
        )
    ]


def decide_registration_deadline_passed(state: Employer, *, due_on: date, now: datetime) -> list[Event]:
    """An employer known from the feed but not registered by its due date is overdue, once.

    A registered employer, or one this stream knows nothing of, is not.
    """
    if state.registered or state.overdue or state.established_on is None:
        return []
    return [
        EmployerRegistrationOverdue(
            credit_code=state.credit_code, established_on=state.established_on, due_on=due_on, at=now
        )
    ]


def _registered(
    credit_code: str,
    name: str,
    division_code: str,
    industry_code: str,
    established_on: date,
    route: str,
    now: datetime,
) -> EmployerRegistered:
    return EmployerRegistered(
        credit_code=credit_code,
        name=name,
        division_code=division_code,
        industry_code=industry_code,
        established_on=established_on,
        route=str(route),
        registered_at=now,
    )


def _class_event(
    credit_code: str, industry_code: str, match: ClassMatch, rates: RateTable, now: datetime
) -> InjuryClassMatched | InjuryClassNeedsReview:
    if match.risk_class is None:
        return InjuryClassNeedsReview(
            credit_code=credit_code,
            industry_code=industry_code,
            candidates=match.candidates,
            reason=match.basis,
            at=now,
        )
    return InjuryClassMatched(
        credit_code=credit_code,
        risk_class=match.risk_class,
        tier=BASE_TIER,
        rate=rates.injury_rate(match.risk_class, BASE_TIER),
        basis=match.basis,
        matched_at=now,
    )
