"""Monthly contributions: assessed once per employer and month, paid with a late fee, overdue once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from enrolment.domain.errors import (
    InjuryRatePendingError,
    InvalidDateError,
    NotEnrolledError,
    NothingAssessedError,
    SchemeNotOfferedError,
)
from enrolment.domain.events import (
    ContributionAssessed,
    ContributionOverdue,
    ContributionPaid,
    EmployeeEnrolled,
    EmploymentEnded,
    Event,
)
from enrolment.domain.person import (
    Person,
    decide_assess_month,
    decide_declare_base,
    decide_mark_overdue,
    decide_record_payment,
    fold,
)
from enrolment.domain.rates import RateTable, SchemeRate
from enrolment.domain.values import Scheme

REF = "p-7f3a9c"
CITIZEN_ID = "11010519491231002X"
EMPLOYER = "91350100M000100Y43"
NOW = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
TODAY = date(2026, 4, 1)  # NOW in Beijing
DUE = date(2026, 4, 15)
INJURY_RATE = Decimal("0.0045")  # class 4 floated down to 0.5
RATES = RateTable(
    region="36",
    year=2026,
    average_monthly_wage_fen=600_000,
    schemes={
        Scheme.PENSION: SchemeRate(Decimal("0.16"), Decimal("0.08")),
        Scheme.WORK_INJURY: SchemeRate(Decimal(0), Decimal(0)),
        Scheme.UNEMPLOYMENT: SchemeRate(Decimal("0.005"), Decimal("0.005")),
        Scheme.MEDICAL: SchemeRate(Decimal("0.06"), Decimal("0.02")),
    },
    injury_base_rates={k: Decimal("0.002") * k for k in range(1, 9)},
)


def enrolled(
    wage: int = 800_000, schemes: tuple[str, ...] = ("pension", "work_injury", "unemployment")
) -> EmployeeEnrolled:
    return EmployeeEnrolled(
        person_ref=REF,
        citizen_id=CITIZEN_ID,
        employer_credit_code=EMPLOYER,
        schemes=schemes,
        hired_on=date(2026, 3, 2),
        declared_wage_fen=wage,
        base_fen=RATES.clamp_base(wage)[0],
        clamped=RATES.clamp_base(wage)[1],
        enrolled_at=NOW,
        late=False,
    )


def assess(state: Person, **overrides: Any) -> list[Event]:
    arguments: dict[str, Any] = {
        "employer_credit_code": EMPLOYER,
        "month": "2026-03",
        "rates": RATES,
        "injury_rate": INJURY_RATE,
        "due_on": DUE,
        "citizen_id": CITIZEN_ID,
        "today": TODAY,
        "now": NOW,
    }
    arguments.update(overrides)
    return decide_assess_month(state, **arguments)


def assessed_march() -> list[Event]:
    history: list[Event] = [enrolled()]
    return [*history, *assess(fold(history))]


def pay(history: list[Event], paid_on: date, month: str = "2026-03") -> list[Event]:
    return decide_record_payment(fold(history), employer_credit_code=EMPLOYER, month=month, paid_on=paid_on, now=NOW)


# Assessing a month


def test_a_month_on_an_8000_yuan_base_is_assessed_line_by_line_with_the_account_share() -> None:
    events = assess(fold([enrolled()]))

    assert events == [
        ContributionAssessed(
            person_ref=REF,
            citizen_id=CITIZEN_ID,
            employer_credit_code=EMPLOYER,
            month="2026-03",
            base_fen=800_000,
            lines=(("pension", 128_000, 64_000), ("work_injury", 3_600, 0), ("unemployment", 4_000, 4_000)),
            employer_total_fen=135_600,
            worker_total_fen=68_000,
            account_fen=64_000,
            due_on=DUE,
            at=NOW,
        )
    ]


def test_a_month_assessed_after_its_due_date_is_overdue_at_once() -> None:
    events = assess(fold([enrolled()]), today=date(2026, 4, 16))

    assert [type(e) for e in events] == [ContributionAssessed, ContributionOverdue]
    assert events[1] == ContributionOverdue(
        person_ref=REF, employer_credit_code=EMPLOYER, month="2026-03", due_on=DUE, at=NOW
    )
    state = fold([enrolled(), *events])
    assert state.assessments[(EMPLOYER, "2026-03")].overdue
    assert decide_mark_overdue(state, employer_credit_code=EMPLOYER, month="2026-03", now=NOW) == []


def test_a_month_assessed_on_its_due_date_is_not_overdue_yet() -> None:
    [event] = assess(fold([enrolled()]), today=DUE)

    assert isinstance(event, ContributionAssessed)


def test_each_line_is_rounded_half_up_to_the_fen_before_the_totals() -> None:
    history: list[Event] = [enrolled(456_789, ("pension", "work_injury", "unemployment", "medical"))]

    [event] = assess(fold(history))

    assert isinstance(event, ContributionAssessed)
    # 73,086.24 / 36,543.12; 2,055.5505; 2,283.945 x2; 27,407.34 / 9,135.78
    assert event.lines == (
        ("pension", 73_086, 36_543),
        ("work_injury", 2_056, 0),
        ("unemployment", 2_284, 2_284),
        ("medical", 27_407, 9_136),
    )
    assert (event.employer_total_fen, event.worker_total_fen, event.account_fen) == (104_833, 47_963, 36_543)


def test_without_pension_nothing_goes_to_the_individual_account() -> None:
    [event] = assess(fold([enrolled(schemes=("medical",))]), injury_rate=None)

    assert isinstance(event, ContributionAssessed)
    assert event.lines == (("medical", 48_000, 16_000),)
    assert event.account_fen == 0


def test_a_month_already_assessed_is_not_assessed_again() -> None:
    assert assess(fold(assessed_march())) == []


def test_the_base_is_the_years_declared_wage_clamped_by_the_months_table() -> None:
    history: list[Event] = [enrolled()]
    history += decide_declare_base(
        fold(history),
        employer_credit_code=EMPLOYER,
        year=2027,
        declared_monthly_wage_fen=1_000_000,
        rates=RATES,
        now=NOW,
    )
    richer_2027 = replace(RATES, year=2027, average_monthly_wage_fen=2_000_000)  # floor 1,200,000

    march_2026 = assess(fold(history), month="2026-03")[0]
    march_2027 = assess(fold(history), month="2027-03", rates=richer_2027)[0]

    assert isinstance(march_2026, ContributionAssessed)
    assert isinstance(march_2027, ContributionAssessed)
    assert (march_2026.base_fen, march_2027.base_fen) == (800_000, 1_200_000)


def test_the_months_of_hiring_and_of_ending_are_assessed_and_the_months_outside_are_refused() -> None:
    ended = EmploymentEnded(person_ref=REF, employer_credit_code=EMPLOYER, ended_on=date(2026, 5, 10), at=NOW)
    state = fold([enrolled(), ended])

    assert len(assess(state, month="2026-03")) == 1
    assert len(assess(state, month="2026-05")) == 1
    for month in ("2026-02", "2026-06"):
        with pytest.raises(NotEnrolledError) as raised:
            assess(state, month=month)
        assert month in str(raised.value)


def test_a_person_never_enrolled_with_the_employer_is_not_assessed() -> None:
    with pytest.raises(NotEnrolledError):
        assess(Person())


def test_work_injury_cannot_be_assessed_while_the_employers_class_awaits_review() -> None:
    with pytest.raises(InjuryRatePendingError) as raised:
        assess(fold([enrolled()]), injury_rate=None)

    assert EMPLOYER in str(raised.value)


def test_a_scheme_dropped_from_the_months_table_is_refused() -> None:
    without_medical = replace(RATES, schemes={Scheme.PENSION: RATES.schemes[Scheme.PENSION]})

    with pytest.raises(SchemeNotOfferedError, match="medical"):
        assess(fold([enrolled(schemes=("pension", "medical"))]), rates=without_medical)


@pytest.mark.parametrize("month", ["2026-3", "2026-13", "2026-00", "March", "2026-03-01"])
def test_a_malformed_month_is_refused(month: str) -> None:
    with pytest.raises(InvalidDateError):
        assess(fold([enrolled()]), month=month)


# Paying


def test_a_month_paid_by_its_due_date_carries_no_late_fee() -> None:
    history = assessed_march()

    assert pay(history, DUE) == [
        ContributionPaid(
            person_ref=REF,
            employer_credit_code=EMPLOYER,
            month="2026-03",
            amount_fen=203_600,
            late_fee_fen=0,
            paid_on=DUE,
            at=NOW,
        )
    ]
    assert [e.late_fee_fen for e in pay(history, date(2026, 4, 1)) if isinstance(e, ContributionPaid)] == [0]


@pytest.mark.parametrize(
    ("paid_on", "late_fee_fen"),
    [
        (date(2026, 4, 16), 102),  # 203,600 x 0.05% x 1 = 101.8
        (date(2026, 4, 22), 713),  # x 7 = 712.6
        (date(2026, 4, 25), 1_018),  # x 10 = 1,018
    ],
)
def test_a_late_payment_adds_0_05_percent_a_day_after_the_due_date(paid_on: date, late_fee_fen: int) -> None:
    [paid] = pay(assessed_march(), paid_on)

    assert isinstance(paid, ContributionPaid)
    assert (paid.amount_fen, paid.late_fee_fen) == (203_600, late_fee_fen)


def test_a_month_is_paid_once() -> None:
    history = assessed_march()
    history += pay(history, DUE)

    assert pay(history, DUE) == []
    assert fold(history).assessments[(EMPLOYER, "2026-03")].paid


def test_a_payment_for_a_month_never_assessed_is_refused() -> None:
    with pytest.raises(NothingAssessedError) as raised:
        pay(assessed_march(), DUE, month="2026-04")

    assert "2026-04" in str(raised.value)


# Overdue


def mark(history: list[Event], month: str = "2026-03") -> list[Event]:
    return decide_mark_overdue(fold(history), employer_credit_code=EMPLOYER, month=month, now=NOW)


def test_an_assessed_month_unpaid_at_its_deadline_is_overdue() -> None:
    assert mark(assessed_march()) == [
        ContributionOverdue(person_ref=REF, employer_credit_code=EMPLOYER, month="2026-03", due_on=DUE, at=NOW)
    ]


def test_a_month_is_overdue_once() -> None:
    history = assessed_march()
    history += mark(history)

    assert mark(history) == []
    assert fold(history).assessments[(EMPLOYER, "2026-03")].overdue


def test_a_paid_month_is_not_overdue() -> None:
    history = assessed_march()
    history += pay(history, DUE)

    assert mark(history) == []


def test_a_month_never_assessed_is_not_overdue() -> None:
    assert mark(assessed_march(), month="2026-04") == []


def test_an_overdue_month_can_still_be_paid_with_its_late_fee() -> None:
    history = assessed_march()
    history += mark(history)

    [paid] = pay(history, date(2026, 4, 25))

    assert isinstance(paid, ContributionPaid)
    assert paid.late_fee_fen == 1_018
