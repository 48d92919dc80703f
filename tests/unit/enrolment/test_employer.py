"""The employer aggregate, given events, when a decision is asked for, then events or a refusal."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from enrolment.domain.errors import (
    EmployerAlreadyRegisteredError,
    EnrolmentError,
    EstablishedInFutureError,
    InvalidIndustryCodeError,
)
from enrolment.domain.events import (
    EmployerRegistered,
    Event,
    InjuryClassMatched,
    InjuryClassNeedsReview,
    MarketRegistrationHeld,
)
from enrolment.domain.model import Employer, decide_register_employer, employer_stream, evolve, fold
from enrolment.domain.rates import RateTable, SchemeRate
from enrolment.domain.values import Route, Scheme
from runtime.workdays import local_date

CREDIT_CODE = "91350100M000100Y43"
BEIJING = timezone(timedelta(hours=8))
NOW = datetime(2025, 3, 14, 9, 26, 53, tzinfo=BEIJING)
RATES = RateTable(
    region="36",
    year=2025,
    average_monthly_wage_fen=600_000,
    schemes={
        Scheme.PENSION: SchemeRate(Decimal("0.16"), Decimal("0.08")),
        Scheme.WORK_INJURY: SchemeRate(Decimal(0), Decimal(0)),
    },
    injury_base_rates={
        k: Decimal(v)
        for k, v in enumerate(("0.002", "0.004", "0.007", "0.009", "0.011", "0.013", "0.016", "0.019"), start=1)
    },
)


def registered(**overrides: object) -> EmployerRegistered:
    values: dict[str, object] = {
        "credit_code": CREDIT_CODE,
        "name": "南昌示例科技有限公司",
        "division_code": "360102",
        "industry_code": "I65",
        "established_on": date(2024, 11, 1),
        "route": "manual",
        "registered_at": NOW - timedelta(days=30),
    }
    values.update(overrides)
    return EmployerRegistered(**values)  # type: ignore[arg-type]


def held() -> MarketRegistrationHeld:
    return MarketRegistrationHeld(
        credit_code=CREDIT_CODE,
        name="南昌示例科技有限公司",
        division_code="360102",
        industry_code="I65",
        established_on=date(2024, 11, 1),
        reason="credit code check character does not match; held for review",
        held_at=NOW - timedelta(days=40),
    )


def register(state: Employer, **overrides: object) -> list[Event]:
    arguments: dict[str, object] = {
        "credit_code": CREDIT_CODE,
        "name": "南昌示例科技有限公司",
        "division_code": "360102",
        "industry_code": "I65",
        "established_on": date(2024, 11, 1),
        "route": "manual",
        "now": NOW,
        "rates": RATES,
    }
    arguments.update(overrides)
    arguments.setdefault("today", local_date(arguments["now"]))  # type: ignore[arg-type]
    return decide_register_employer(state, **arguments)  # type: ignore[arg-type]


# Registering


def test_registering_a_new_employer_yields_employer_registered_with_the_route_and_time() -> None:
    given = fold([])

    events = register(given, route="feed:36", now=NOW)

    assert events[0] == EmployerRegistered(
        credit_code=CREDIT_CODE,
        name="南昌示例科技有限公司",
        division_code="360102",
        industry_code="I65",
        established_on=date(2024, 11, 1),
        route="feed:36",
        registered_at=NOW,
    )


def test_registering_matches_the_risk_class_of_the_industry_code_at_the_base_tier() -> None:
    events = register(Employer(), industry_code="I65")

    assert len(events) == 2
    matched = events[1]
    assert isinstance(matched, InjuryClassMatched)
    assert (matched.credit_code, matched.risk_class, matched.tier, matched.rate) == (
        CREDIT_CODE,
        1,
        Decimal("1.0"),
        Decimal("0.002"),
    )
    assert "65" in matched.basis
    assert matched.matched_at == NOW


def test_the_manual_route_is_stored_as_its_plain_value() -> None:
    events = register(Employer(), route=Route.MANUAL)

    registered_event = events[0]
    assert isinstance(registered_event, EmployerRegistered)
    assert registered_event.route == "manual"
    assert type(registered_event.route) is str


def test_registering_with_an_industry_code_that_spans_classes_sends_the_class_to_review() -> None:
    events = register(Employer(), industry_code="G59")

    review = events[1]
    assert isinstance(review, InjuryClassNeedsReview)
    assert review.candidates == (2, 5)
    assert review.industry_code == "G59"
    assert "59" in review.reason


def test_registering_at_the_counter_with_a_malformed_industry_code_is_refused_so_the_clerk_corrects_it() -> None:
    with pytest.raises(InvalidIndustryCodeError) as raised:
        register(Employer(), industry_code="X65")

    assert "X65" in str(raised.value)


def test_a_feed_record_held_for_review_is_registered_at_the_counter() -> None:
    given = fold([held()])

    events = register(given, route=Route.MANUAL)

    assert [type(e) for e in events] == [EmployerRegistered, InjuryClassMatched]
    state = fold([held(), *events])
    assert state.registered
    assert not state.held


def test_registering_an_employer_established_today_is_allowed() -> None:
    events = register(Employer(), established_on=NOW.date())

    assert [e.established_on for e in events if isinstance(e, EmployerRegistered)] == [NOW.date()]


def test_registering_an_already_registered_employer_is_refused() -> None:
    given = fold([registered()])

    with pytest.raises(EmployerAlreadyRegisteredError) as raised:
        register(given)

    assert CREDIT_CODE in str(raised.value)
    assert isinstance(raised.value, EnrolmentError)


def test_registering_twice_is_refused_even_under_another_name_and_route() -> None:
    given = fold([registered()])

    with pytest.raises(EmployerAlreadyRegisteredError):
        register(given, name="另一个名称有限公司", route="feed:44")


def test_an_employer_established_in_the_future_is_refused() -> None:
    with pytest.raises(EstablishedInFutureError):
        register(Employer(), established_on=NOW.date() + timedelta(days=1))


def test_the_day_after_today_is_the_future() -> None:
    noon_utc = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)

    assert register(Employer(), established_on=date(2025, 3, 14), now=noon_utc)
    with pytest.raises(EstablishedInFutureError):
        register(Employer(), established_on=date(2025, 3, 15), now=noon_utc)


def test_an_employer_established_today_in_beijing_is_accepted_before_8_am_beijing_time() -> None:
    one_am_in_beijing = datetime(2025, 3, 14, 17, 0, tzinfo=UTC)  # 15 March 01:00 in Beijing

    assert register(Employer(), established_on=date(2025, 3, 15), now=one_am_in_beijing)


def test_an_already_registered_refusal_comes_before_the_date_rule() -> None:
    given = fold([registered()])

    with pytest.raises(EmployerAlreadyRegisteredError):
        register(given, established_on=NOW.date() + timedelta(days=1))


def test_deciding_does_not_change_the_state_it_was_given() -> None:
    given = Employer()

    register(given)

    assert given == Employer()


# Folding


def test_a_new_employer_is_not_registered() -> None:
    assert fold([]) == Employer()
    assert fold([]).registered is False


def test_employer_registered_evolves_the_state_to_registered() -> None:
    state = evolve(Employer(), registered(name="南昌示例科技有限公司", division_code="360103"))

    assert state == Employer(
        registered=True,
        credit_code=CREDIT_CODE,
        name="南昌示例科技有限公司",
        division_code="360103",
        industry_code="I65",
        route="manual",
        established_on=date(2024, 11, 1),
    )


def test_fold_applies_events_in_order() -> None:
    state = fold([registered(name="旧名称有限公司"), registered(name="新名称有限公司")])

    assert state.name == "新名称有限公司"
    assert state.registered


def test_fold_of_the_decided_events_is_the_state_after_the_decision() -> None:
    events = register(Employer())

    state = fold(events)

    assert state.registered
    assert state.credit_code == CREDIT_CODE
    with pytest.raises(EmployerAlreadyRegisteredError):
        register(state)


def test_fold_accepts_any_iterable_of_events() -> None:
    assert fold(iter([registered()])) == fold([registered()])


def test_state_and_events_are_immutable() -> None:
    state = fold([registered()])

    with pytest.raises(FrozenInstanceError):
        state.registered = False  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        registered().route = "other"  # type: ignore[misc]


def test_an_employer_stream_is_named_after_its_credit_code() -> None:
    assert employer_stream(CREDIT_CODE) == "employer-91350100M000100Y43"
