"""Enrolling employees, ending employment, declaring bases, and the one-pension-at-a-time rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from enrolment.domain.errors import (
    AlreadyEnrolledError,
    DoublePensionEnrolmentError,
    EmployerNotFoundError,
    HiredInFutureError,
    InvalidAmountError,
    InvalidDateError,
    NotEnrolledError,
    SchemeNotOfferedError,
)
from enrolment.domain.events import ContributionBaseDeclared, EmployeeEnrolled, EmploymentEnded, Event
from enrolment.domain.person import (
    Person,
    decide_declare_base,
    decide_end_employment,
    decide_enrol_employee,
    fold,
    is_active_pension,
    person_stream,
)
from enrolment.domain.rates import RateTable, SchemeRate
from enrolment.domain.values import Scheme

REF = "p-7f3a9c"
CITIZEN_ID = "11010519491231002X"
EMPLOYER = "91350100M000100Y43"
OTHER_EMPLOYER = "91512081MA62K0260E"
NOW = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)
TODAY = date(2026, 3, 14)


def table(region: str, *, maternity: bool = False) -> RateTable:
    schemes = {
        Scheme.PENSION: SchemeRate(Decimal("0.16"), Decimal("0.08")),
        Scheme.WORK_INJURY: SchemeRate(Decimal(0), Decimal(0)),
        Scheme.UNEMPLOYMENT: SchemeRate(Decimal("0.005"), Decimal("0.005")),
        Scheme.MEDICAL: SchemeRate(Decimal("0.06"), Decimal("0.02")),
    }
    if maternity:
        schemes[Scheme.MATERNITY] = SchemeRate(Decimal("0.0085"), Decimal(0))
    return RateTable(
        region=region,
        year=2026,
        average_monthly_wage_fen=600_000,
        schemes=schemes,
        injury_base_rates={k: Decimal("0.002") * k for k in range(1, 9)},
    )


JIANGXI = table("36")
GUANGDONG = table("44", maternity=True)


def enrol(state: Person, **overrides: Any) -> list[Event]:
    arguments: dict[str, Any] = {
        "person_ref": REF,
        "citizen_id": CITIZEN_ID,
        "employer_credit_code": EMPLOYER,
        "employer_registered": True,
        "schemes": (),
        "hired_on": date(2026, 3, 2),
        "declared_monthly_wage_fen": 800_000,
        "rates": JIANGXI,
        "today": TODAY,
        "now": NOW,
        "active_pension_elsewhere": False,
    }
    arguments.update(overrides)
    return decide_enrol_employee(state, **arguments)


def enrolled(**overrides: Any) -> list[Event]:
    return enrol(Person(), **overrides)


def ended(employer: str = EMPLOYER, on: date = date(2026, 3, 20)) -> EmploymentEnded:
    return EmploymentEnded(person_ref=REF, employer_credit_code=employer, ended_on=on, at=NOW)


# Enrolling


def test_enrolling_with_no_schemes_named_enrols_in_pension_work_injury_and_unemployment() -> None:
    events = enrolled()

    assert events == [
        EmployeeEnrolled(
            person_ref=REF,
            citizen_id=CITIZEN_ID,
            employer_credit_code=EMPLOYER,
            schemes=("pension", "work_injury", "unemployment"),
            hired_on=date(2026, 3, 2),
            declared_wage_fen=800_000,
            base_fen=800_000,
            clamped=None,
            enrolled_at=NOW,
            late=False,
        )
    ]


def test_named_schemes_are_kept_once_each_in_a_fixed_order() -> None:
    events = enrolled(schemes=[Scheme.MEDICAL, Scheme.PENSION, Scheme.MEDICAL])

    assert [e.schemes for e in events if isinstance(e, EmployeeEnrolled)] == [("pension", "medical")]


def test_the_declared_wage_is_clamped_to_the_floor_or_the_cap() -> None:
    low = enrolled(declared_monthly_wage_fen=250_000)[0]
    high = enrolled(declared_monthly_wage_fen=5_000_000)[0]

    assert isinstance(low, EmployeeEnrolled)
    assert isinstance(high, EmployeeEnrolled)
    assert (low.declared_wage_fen, low.base_fen, low.clamped) == (250_000, 360_000, "floor")
    assert (high.base_fen, high.clamped) == (1_800_000, "cap")


def test_an_employee_of_an_unregistered_employer_cannot_be_enrolled() -> None:
    with pytest.raises(EmployerNotFoundError) as raised:
        enrolled(employer_registered=False)

    assert EMPLOYER in str(raised.value)


def test_a_scheme_the_region_does_not_offer_is_refused_by_name() -> None:
    with pytest.raises(SchemeNotOfferedError) as raised:
        enrolled(schemes=[Scheme.PENSION, Scheme.MATERNITY])

    assert "maternity" in str(raised.value)
    assert "region 36" in str(raised.value)


def test_a_scheme_the_region_lists_is_accepted_even_beyond_the_usual_ones() -> None:
    events = enrolled(schemes=[Scheme.PENSION, Scheme.MATERNITY], rates=GUANGDONG)

    assert [e.schemes for e in events if isinstance(e, EmployeeEnrolled)] == [("pension", "maternity")]


def test_an_unknown_scheme_is_refused_by_name() -> None:
    with pytest.raises(SchemeNotOfferedError, match="dental"):
        enrolled(schemes=["dental"])


@pytest.mark.parametrize("wage", [0, -1])
def test_a_declared_wage_that_is_not_positive_is_refused(wage: int) -> None:
    with pytest.raises(InvalidAmountError) as raised:
        enrolled(declared_monthly_wage_fen=wage)

    assert str(wage) in str(raised.value)


def test_an_employee_hired_after_today_cannot_be_enrolled_yet() -> None:
    with pytest.raises(HiredInFutureError) as raised:
        enrolled(hired_on=TODAY + timedelta(days=1))

    assert "2026-03-15" in str(raised.value)
    assert enrolled(hired_on=TODAY)


def test_an_employee_already_enrolled_with_the_employer_is_refused() -> None:
    given = fold(enrolled())

    with pytest.raises(AlreadyEnrolledError) as raised:
        enrol(given)

    assert EMPLOYER in str(raised.value)


def test_an_employee_whose_employment_ended_can_be_enrolled_again_with_that_employer() -> None:
    given = fold([*enrolled(), ended(on=date(2026, 3, 5))])

    events = enrol(given, hired_on=date(2026, 3, 10))

    assert [type(e) for e in events] == [EmployeeEnrolled]
    assert fold([*enrolled(), ended(on=date(2026, 3, 5)), *events]).enrolments[EMPLOYER].active


def test_enrolling_within_30_days_of_starting_work_is_on_time_and_later_is_flagged_late() -> None:
    on_time = enrolled(hired_on=TODAY - timedelta(days=30))[0]
    late = enrolled(hired_on=TODAY - timedelta(days=31))[0]

    assert isinstance(on_time, EmployeeEnrolled)
    assert isinstance(late, EmployeeEnrolled)
    assert (on_time.late, late.late) == (False, True)


# One pension at a time


def test_a_pension_enrolment_held_in_another_pooling_area_refuses_a_second_one() -> None:
    with pytest.raises(DoublePensionEnrolmentError) as raised:
        enrolled(active_pension_elsewhere=True)

    assert "another pooling area" in str(raised.value)
    assert "two active pension enrolments in different pooling areas for the same month" in str(raised.value)


def test_without_pension_an_enrolment_is_allowed_while_another_area_holds_the_pension() -> None:
    events = enrolled(schemes=[Scheme.MEDICAL, Scheme.WORK_INJURY], active_pension_elsewhere=True)

    assert [type(e) for e in events] == [EmployeeEnrolled]


def test_an_active_pension_enrolment_with_another_employer_here_refuses_a_second_one() -> None:
    given = fold(enrolled(employer_credit_code=OTHER_EMPLOYER, hired_on=date(2025, 6, 1)))

    with pytest.raises(DoublePensionEnrolmentError) as raised:
        enrol(given)

    assert OTHER_EMPLOYER in str(raised.value)


def test_a_pension_enrolment_with_another_employer_ending_on_or_after_the_new_start_refuses_the_new_one() -> None:
    given = fold(
        [
            *enrolled(employer_credit_code=OTHER_EMPLOYER, hired_on=date(2025, 6, 1)),
            ended(OTHER_EMPLOYER, date(2026, 3, 2)),
        ]
    )

    with pytest.raises(DoublePensionEnrolmentError):
        enrol(given, hired_on=date(2026, 3, 2))


def test_after_the_other_employment_ended_the_day_before_the_new_one_is_enrolled() -> None:
    given = fold(
        [
            *enrolled(employer_credit_code=OTHER_EMPLOYER, hired_on=date(2025, 6, 1)),
            ended(OTHER_EMPLOYER, date(2026, 3, 1)),
        ]
    )

    assert [type(e) for e in enrol(given, hired_on=date(2026, 3, 2))] == [EmployeeEnrolled]


def test_a_month_is_an_active_pension_month_from_the_month_of_hiring_to_the_month_of_ending() -> None:
    state = fold([*enrolled(hired_on=date(2026, 1, 20)), ended(on=date(2026, 3, 3))])

    assert [is_active_pension(state, m) for m in ("2025-12", "2026-01", "2026-02", "2026-03", "2026-04")] == [
        False,
        True,
        True,
        True,
        False,
    ]


def test_an_enrolment_without_pension_is_not_an_active_pension() -> None:
    state = fold(enrolled(schemes=[Scheme.MEDICAL]))

    assert not is_active_pension(state, "2026-03")


def test_a_malformed_month_is_refused() -> None:
    with pytest.raises(InvalidDateError):
        is_active_pension(Person(), "2026-3")


# Ending employment


def test_ending_an_employment_records_the_last_day() -> None:
    events = decide_end_employment(fold(enrolled()), employer_credit_code=EMPLOYER, ended_on=date(2026, 3, 20), now=NOW)

    assert events == [ended()]
    assert not fold([*enrolled(), *events]).enrolments[EMPLOYER].active


def test_an_employment_that_was_never_enrolled_cannot_end() -> None:
    with pytest.raises(NotEnrolledError) as raised:
        decide_end_employment(fold(enrolled()), employer_credit_code=OTHER_EMPLOYER, ended_on=TODAY, now=NOW)

    assert OTHER_EMPLOYER in str(raised.value)


def test_an_employment_cannot_end_twice() -> None:
    given = fold([*enrolled(), ended()])

    with pytest.raises(NotEnrolledError):
        decide_end_employment(given, employer_credit_code=EMPLOYER, ended_on=date(2026, 3, 25), now=NOW)


def test_an_employment_cannot_end_before_it_began() -> None:
    with pytest.raises(InvalidDateError) as raised:
        decide_end_employment(fold(enrolled()), employer_credit_code=EMPLOYER, ended_on=date(2026, 3, 1), now=NOW)

    assert "before hired_on 2026-03-02" in str(raised.value)


def test_an_employment_can_end_on_its_first_day() -> None:
    events = decide_end_employment(fold(enrolled()), employer_credit_code=EMPLOYER, ended_on=date(2026, 3, 2), now=NOW)

    assert events == [ended(on=date(2026, 3, 2))]


# Declaring the yearly base


def declare(state: Person, wage: int, year: int = 2026, employer: str = EMPLOYER) -> list[Event]:
    return decide_declare_base(
        state, employer_credit_code=employer, year=year, declared_monthly_wage_fen=wage, rates=JIANGXI, now=NOW
    )


def test_declaring_a_base_records_the_wage_and_the_clamped_base() -> None:
    events = declare(fold(enrolled()), 2_000_000)

    assert events == [
        ContributionBaseDeclared(
            person_ref=REF,
            employer_credit_code=EMPLOYER,
            year=2026,
            declared_wage_fen=2_000_000,
            base_fen=1_800_000,
            clamped="cap",
            at=NOW,
        )
    ]
    assert fold([*enrolled(), *events]).enrolments[EMPLOYER].base_fen == 1_800_000


def test_declaring_the_same_base_again_is_recorded_again() -> None:
    history = [*enrolled(), *declare(fold(enrolled()), 700_000)]

    assert len(declare(fold(history), 700_000)) == 1


def test_a_base_for_an_employer_the_person_is_not_enrolled_with_is_refused() -> None:
    with pytest.raises(NotEnrolledError):
        declare(fold(enrolled()), 700_000, employer=OTHER_EMPLOYER)


def test_a_declared_base_that_is_not_positive_is_refused() -> None:
    with pytest.raises(InvalidAmountError):
        declare(fold(enrolled()), 0)


# Folding


def test_a_new_person_has_no_enrolments_and_nothing_assessed() -> None:
    assert fold([]) == Person()
    assert not fold([]).enrolments
    assert not fold([]).assessments


def test_a_person_stream_is_named_after_the_pseudonym() -> None:
    assert person_stream(REF) == "person-p-7f3a9c"


def test_events_for_an_unknown_enrolment_leave_the_state_as_it_was() -> None:
    state = fold([*enrolled(), ended(OTHER_EMPLOYER)])

    assert set(state.enrolments) == {EMPLOYER}
    assert state.enrolments[EMPLOYER].active
