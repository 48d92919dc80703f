"""The employer aggregate, given events, when a decision is asked for, then events or a refusal."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from enrolment.domain.errors import EmployerAlreadyRegisteredError, EnrolmentError, EstablishedInFutureError
from enrolment.domain.events import EmployerRegistered
from enrolment.domain.model import Employer, decide_register_employer, employer_stream, evolve, fold
from runtime.workdays import local_date

CREDIT_CODE = "91350100M000100Y43"
BEIJING = timezone(timedelta(hours=8))
NOW = datetime(2025, 3, 14, 9, 26, 53, tzinfo=BEIJING)


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


def register(state: Employer, **overrides: object) -> list[EmployerRegistered]:
    arguments: dict[str, object] = {
        "credit_code": CREDIT_CODE,
        "name": "南昌示例科技有限公司",
        "division_code": "360102",
        "industry_code": "I65",
        "established_on": date(2024, 11, 1),
        "route": "manual",
        "now": NOW,
    }
    arguments.update(overrides)
    arguments.setdefault("today", local_date(arguments["now"]))  # type: ignore[arg-type]
    return decide_register_employer(state, **arguments)  # type: ignore[arg-type]


# Registering


def test_registering_a_new_employer_yields_employer_registered_with_the_route_and_time() -> None:
    given = fold([])

    events = register(given, route="feed:36", now=NOW)

    assert events == [
        EmployerRegistered(
            credit_code=CREDIT_CODE,
            name="南昌示例科技有限公司",
            division_code="360102",
            industry_code="I65",
            established_on=date(2024, 11, 1),
            route="feed:36",
            registered_at=NOW,
        )
    ]


def test_registering_an_employer_established_today_is_allowed() -> None:
    events = register(Employer(), established_on=NOW.date())

    assert [e.established_on for e in events] == [NOW.date()]


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
