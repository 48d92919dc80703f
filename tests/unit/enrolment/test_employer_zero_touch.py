"""Zero-touch registration from the market-regulation feed, the risk class, and the registration deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from enrolment.domain.errors import (
    EmployerNotFoundError,
    EstablishedInFutureError,
    InvalidRiskClassError,
    InvalidTierError,
)
from enrolment.domain.events import (
    EmployerRegistered,
    EmployerRegistrationOverdue,
    Event,
    InjuryClassAssigned,
    InjuryClassMatched,
    InjuryClassNeedsReview,
    MarketRegistrationHeld,
)
from enrolment.domain.model import (
    Employer,
    decide_assign_injury_class,
    decide_import_market_registration,
    decide_register_employer,
    decide_registration_deadline_passed,
    fold,
    registration_due,
)
from enrolment.domain.rates import RateTable, SchemeRate
from enrolment.domain.values import Route, Scheme

CREDIT_CODE = "91350100M000100Y43"
NOW = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)
TODAY = date(2026, 3, 14)
AFTER_DUE = NOW + timedelta(days=18)  # 1 April, the day after 31 March
BASE_RATES = ("0.002", "0.004", "0.007", "0.009", "0.011", "0.013", "0.016", "0.019")
RATES = RateTable(
    region="36",
    year=2026,
    average_monthly_wage_fen=600_000,
    schemes={Scheme.WORK_INJURY: SchemeRate(Decimal(0), Decimal(0))},
    injury_base_rates={k: Decimal(v) for k, v in enumerate(BASE_RATES, start=1)},
)
HELD_REASON = "credit code check character does not match; held for review"


def feed(state: Employer, **overrides: Any) -> list[Event]:
    arguments: dict[str, Any] = {
        "credit_code": CREDIT_CODE,
        "check_character_ok": True,
        "name": "福州示例冶金有限公司",
        "division_code": "350100",
        "industry_code": "C3110",
        "established_on": date(2026, 3, 1),
        "rates": RATES,
        "now": NOW,
        "today": TODAY,
    }
    arguments.update(overrides)
    return decide_import_market_registration(state, **arguments)


def assign(state: Employer, risk_class: int, tier: str) -> list[Event]:
    return decide_assign_injury_class(
        state, risk_class=risk_class, tier=Decimal(tier), rates=RATES, assigned_by="clerk-7", now=NOW
    )


# A valid feed record


def test_a_valid_feed_record_registers_the_employer_by_the_zero_touch_route_with_its_class_matched() -> None:
    events = feed(Employer())

    matched = events[1]
    assert isinstance(matched, InjuryClassMatched)
    assert "division 31" in matched.basis
    assert events == [
        EmployerRegistered(
            credit_code=CREDIT_CODE,
            name="福州示例冶金有限公司",
            division_code="350100",
            industry_code="C3110",
            established_on=date(2026, 3, 1),
            route=Route.ZERO_TOUCH.value,
            registered_at=NOW,
        ),
        InjuryClassMatched(
            credit_code=CREDIT_CODE,
            risk_class=6,
            tier=Decimal("1.0"),
            rate=Decimal("0.013"),
            basis=matched.basis,
            matched_at=NOW,
        ),
    ]


def test_after_a_valid_feed_record_the_employer_is_registered_with_its_rate() -> None:
    state = fold(feed(Employer()))

    assert state.registered
    assert state.route == "zero_touch"
    assert (state.risk_class, state.tier, state.injury_rate) == (6, Decimal("1.0"), Decimal("0.013"))
    assert not state.needs_review


def test_the_same_feed_record_twice_is_one_employer() -> None:
    given = fold(feed(Employer()))

    assert feed(given) == []


def test_a_feed_record_for_an_employer_registered_at_the_counter_changes_nothing() -> None:
    given = fold(
        decide_register_employer(
            Employer(),
            credit_code=CREDIT_CODE,
            name="福州示例冶金有限公司",
            division_code="350100",
            industry_code="C3110",
            established_on=date(2026, 3, 1),
            route=Route.MANUAL,
            now=NOW,
            today=TODAY,
            rates=RATES,
        )
    )

    assert feed(given) == []


def test_a_feed_record_established_in_the_future_is_refused_saying_the_dates() -> None:
    with pytest.raises(EstablishedInFutureError) as raised:
        feed(Employer(), established_on=date(2026, 3, 15))

    assert "2026-03-15" in str(raised.value)
    assert "2026-03-14" in str(raised.value)


def test_a_feed_record_in_division_59_alone_registers_and_sends_the_class_to_review() -> None:
    events = feed(Employer(), industry_code="G59")

    assert [type(e) for e in events] == [EmployerRegistered, InjuryClassNeedsReview]
    review = events[1]
    assert isinstance(review, InjuryClassNeedsReview)
    assert review.candidates == (2, 5)
    state = fold(events)
    assert state.registered
    assert state.needs_review
    assert state.injury_rate is None


def test_a_feed_record_with_an_unreadable_industry_code_is_registered_and_its_class_reviewed() -> None:
    events = feed(Employer(), industry_code="Z9999")

    assert [type(e) for e in events] == [EmployerRegistered, InjuryClassNeedsReview]
    review = events[1]
    assert isinstance(review, InjuryClassNeedsReview)
    assert review.candidates == ()
    assert "Z9999" in review.reason


# A feed record whose check character fails


def test_a_feed_record_whose_check_character_fails_is_held_for_review() -> None:
    events = feed(Employer(), check_character_ok=False)

    assert events == [
        MarketRegistrationHeld(
            credit_code=CREDIT_CODE,
            name="福州示例冶金有限公司",
            division_code="350100",
            industry_code="C3110",
            established_on=date(2026, 3, 1),
            reason=HELD_REASON,
            held_at=NOW,
        )
    ]
    state = fold(events)
    assert state.held
    assert not state.registered


def test_a_held_feed_record_received_again_is_held_once() -> None:
    given = fold(feed(Employer(), check_character_ok=False))

    assert feed(given, check_character_ok=False) == []


def test_a_corrected_feed_record_registers_an_employer_that_was_held() -> None:
    given = fold(feed(Employer(), check_character_ok=False))

    events = feed(given)

    assert [type(e) for e in events] == [EmployerRegistered, InjuryClassMatched]


# Assigning the risk class


def test_an_operator_settles_a_class_under_review() -> None:
    history = feed(Employer(), industry_code="G59")

    events = assign(fold(history), 5, "1.0")

    assert events == [
        InjuryClassAssigned(
            credit_code=CREDIT_CODE,
            risk_class=5,
            tier=Decimal("1.0"),
            rate=Decimal("0.011"),
            assigned_by="clerk-7",
            at=NOW,
        )
    ]
    state = fold([*history, *events])
    assert (state.risk_class, state.injury_rate, state.needs_review) == (5, Decimal("0.011"), False)


def test_an_operator_raises_a_class_1_employer_to_the_top_tier() -> None:
    history = feed(Employer(), industry_code="I6510")

    events = assign(fold(history), 1, "1.5")

    assert [(e.risk_class, e.tier, e.rate) for e in events if isinstance(e, InjuryClassAssigned)] == [
        (1, Decimal("1.5"), Decimal("0.003"))
    ]


def test_assigning_the_class_and_tier_already_in_force_changes_nothing() -> None:
    given = fold(feed(Employer()))

    assert assign(given, 6, "1.0") == []
    assert assign(given, 6, "0.8") != []


def test_a_class_1_employer_cannot_float_below_its_base_rate() -> None:
    with pytest.raises(InvalidTierError):
        assign(fold(feed(Employer(), industry_code="I6510")), 1, "0.5")


def test_a_tier_not_in_the_list_is_refused() -> None:
    with pytest.raises(InvalidTierError):
        assign(fold(feed(Employer())), 3, "0.7")


def test_a_class_that_does_not_exist_is_refused() -> None:
    with pytest.raises(InvalidRiskClassError):
        assign(fold(feed(Employer())), 9, "1.0")


def test_the_class_of_an_unregistered_employer_cannot_be_assigned() -> None:
    with pytest.raises(EmployerNotFoundError):
        assign(Employer(), 3, "1.0")
    with pytest.raises(EmployerNotFoundError) as raised:
        assign(fold(feed(Employer(), check_character_ok=False)), 3, "1.0")

    assert CREDIT_CODE in str(raised.value)


# The registration deadline: 30 days from establishment


def test_registration_is_due_30_calendar_days_after_establishment() -> None:
    assert registration_due(date(2026, 1, 31)) == date(2026, 3, 2)
    assert registration_due(date(2026, 3, 1)) == date(2026, 3, 31)


def test_a_held_employer_not_registered_by_its_due_date_is_overdue() -> None:
    given = fold(feed(Employer(), check_character_ok=False))

    events = decide_registration_deadline_passed(given, due_on=date(2026, 3, 31), now=AFTER_DUE)

    assert events == [
        EmployerRegistrationOverdue(
            credit_code=CREDIT_CODE,
            established_on=date(2026, 3, 1),
            due_on=date(2026, 3, 31),
            at=AFTER_DUE,
        )
    ]
    assert fold([*feed(Employer(), check_character_ok=False), *events]).overdue


def test_an_employer_is_overdue_once() -> None:
    history = feed(Employer(), check_character_ok=False)
    history += decide_registration_deadline_passed(fold(history), due_on=date(2026, 3, 31), now=AFTER_DUE)

    assert decide_registration_deadline_passed(fold(history), due_on=date(2026, 3, 31), now=AFTER_DUE) == []


def test_a_registered_employer_is_not_overdue() -> None:
    given = fold(feed(Employer()))

    assert decide_registration_deadline_passed(given, due_on=date(2026, 3, 31), now=AFTER_DUE) == []


def test_an_employer_the_stream_knows_nothing_of_is_not_overdue() -> None:
    assert decide_registration_deadline_passed(Employer(), due_on=date(2026, 3, 31), now=AFTER_DUE) == []


def test_an_overdue_employer_can_still_be_registered_and_stays_marked_overdue() -> None:
    history = feed(Employer(), check_character_ok=False)
    history += decide_registration_deadline_passed(fold(history), due_on=date(2026, 3, 31), now=AFTER_DUE)

    history += feed(fold(history))

    state = fold(history)
    assert state.registered
    assert state.overdue
