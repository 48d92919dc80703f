from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.workdays import (
    CalendarDataError,
    CalendarYear,
    DueDate,
    WorkingDayCalendar,
    end_of_day_utc,
    local_date,
    years_from_chinese_calendar,
)

# Pinned to 2026 so the tests about a year without data (2027) stay true when a
# later chinese_calendar release adds it.
PACKAGE_YEARS = years_from_chinese_calendar(2004, 2026)
CALENDAR = WorkingDayCalendar(PACKAGE_YEARS)
WEEKENDS_ONLY = WorkingDayCalendar({})
# Stands in for the State Council's 2027 schedule, which operators would load.
MADE_UP_2027 = CalendarYear.build(
    2027,
    holidays=[date(2027, 1, 1), date(2027, 1, 2), date(2027, 1, 3)],
    workdays=[],
    source="made-up test data",
)


def test_by_default_every_year_the_package_covers_is_loaded() -> None:
    years = years_from_chinese_calendar()
    assert set(years) == set(range(2004, max(years) + 1))
    assert max(years) >= 2026
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(max(years) + 1, 1, 1))
    assert CALENDAR.known_years == frozenset(range(2004, 2027))


def test_the_calendar_agrees_with_chinese_calendar_on_every_day_it_covers() -> None:
    day = date(2004, 1, 1)
    while day.year <= 2026:
        assert CALENDAR.is_working_day(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_package_years_store_only_exceptions_to_the_weekend_rule() -> None:
    for cy in PACKAGE_YEARS.values():
        assert all(d.weekday() < 5 for d in cy.holidays)
        assert all(d.weekday() >= 5 for d in cy.workdays)


@pytest.mark.parametrize("day", [date(2024, 2, 4), date(2024, 2, 18), date(2024, 9, 29), date(2024, 10, 12)])
def test_2024_make_up_weekend_days_are_working_days(day: date) -> None:
    assert day.weekday() >= 5
    assert chinese_calendar.is_workday(day)
    assert CALENDAR.is_working_day(day)
    assert day in PACKAGE_YEARS[2024].workdays


def test_2024_national_day_week_is_all_rest_days() -> None:
    national_day = [date(2024, 10, d) for d in range(1, 8)]
    assert not any(chinese_calendar.is_workday(d) for d in national_day)
    assert not any(CALENDAR.is_working_day(d) for d in national_day)
    assert CALENDAR.is_working_day(date(2024, 10, 8))


def test_adding_working_days_skips_the_2024_national_day_holiday() -> None:
    # Mon 30 Sep is a working day, then 1-7 Oct off, then Tue 8 Oct.
    assert CALENDAR.add_working_days(date(2024, 9, 29), 1) == DueDate(date(2024, 9, 30), False)
    assert CALENDAR.add_working_days(date(2024, 9, 29), 2) == DueDate(date(2024, 10, 8), False)
    assert WEEKENDS_ONLY.add_working_days(date(2024, 9, 29), 2) == DueDate(date(2024, 10, 1), True)


def test_fifteen_working_days_count_the_make_up_saturday() -> None:
    # From Mon 30 Sep: 8-11 Oct (4), Sat 12 Oct make-up (5), 14-18 (10), 21-25 (15).
    assert CALENDAR.add_working_days(date(2024, 9, 30), 15) == DueDate(date(2024, 10, 25), False)
    assert CALENDAR.working_days_between(date(2024, 9, 30), date(2024, 10, 25)) == (
        15,
        False,
    )


def test_the_start_day_itself_never_counts() -> None:
    assert CALENDAR.add_working_days(date(2024, 10, 8), 1).day == date(2024, 10, 9)


@pytest.mark.parametrize("n", [0, -1])
def test_a_non_positive_number_of_working_days_is_rejected(n: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CALENDAR.add_working_days(date(2024, 1, 2), n)


def test_counting_into_a_year_without_data_is_provisional_by_weekend_rule() -> None:
    assert all(chinese_calendar.is_workday(date(2026, 12, d)) for d in (29, 30, 31))
    # Mon 28 Dec 2026: 29, 30, 31, Fri 1 Jan 2027 (weekday rule), Mon 4 Jan 2027.
    due = CALENDAR.add_working_days(date(2026, 12, 28), 5)
    assert due == DueDate(date(2027, 1, 4), provisional=True)
    assert CALENDAR.working_days_between(date(2026, 12, 28), due.day) == (5, True)


def test_loading_the_missing_year_makes_the_same_deadline_firm_and_moves_it() -> None:
    loaded = CALENDAR.with_year(MADE_UP_2027)
    assert loaded.add_working_days(date(2026, 12, 28), 5) == DueDate(date(2027, 1, 5), False)
    assert 2027 not in CALENDAR.known_years
    assert 2027 in loaded.known_years


def test_a_deadline_inside_known_years_is_firm_even_if_later_years_are_unknown() -> None:
    assert CALENDAR.add_working_days(date(2026, 12, 28), 3) == DueDate(date(2026, 12, 31), False)


def test_with_year_may_replace_an_existing_year() -> None:
    replaced = CALENDAR.with_year(CalendarYear(2024, frozenset(), frozenset(), "replacement"))
    assert replaced.is_working_day(date(2024, 10, 1))
    assert not CALENDAR.is_working_day(date(2024, 10, 1))


def test_the_calendar_cannot_be_mutated() -> None:
    with pytest.raises(AttributeError):
        CALENDAR._years = {}


def test_working_days_between_is_negative_backwards_and_zero_on_the_same_day() -> None:
    a, b = date(2024, 9, 30), date(2024, 10, 25)
    assert CALENDAR.working_days_between(b, a) == (-15, False)
    assert CALENDAR.working_days_between(a, a) == (0, False)


def test_a_calendar_day_period_ending_on_a_holiday_ends_on_the_next_working_day() -> None:
    assert CALENDAR.add_calendar_days(date(2024, 9, 1), 30) == DueDate(date(2024, 10, 8), False)
    unextended = CALENDAR.add_calendar_days(date(2024, 9, 1), 30, extend_past_rest_days=False)
    assert unextended == DueDate(date(2024, 10, 1), False)


def test_a_calendar_day_period_ending_on_a_make_up_saturday_is_not_extended() -> None:
    assert CALENDAR.add_calendar_days(date(2024, 10, 2), 10) == DueDate(date(2024, 10, 12), False)


def test_a_calendar_period_ending_in_a_year_without_data_is_provisional() -> None:
    assert CALENDAR.add_calendar_days(date(2026, 12, 1), 31) == DueDate(date(2027, 1, 1), True)
    assert CALENDAR.add_calendar_days(date(2026, 12, 1), 31, extend_past_rest_days=False) == DueDate(
        date(2027, 1, 1), False
    )
    assert CALENDAR.with_year(MADE_UP_2027).add_calendar_days(date(2026, 12, 1), 31) == DueDate(date(2027, 1, 4), False)


def test_calendar_year_json_round_trips() -> None:
    for cy in (PACKAGE_YEARS[2024], MADE_UP_2027):
        assert CalendarYear.from_json(cy.to_json()) == cy
    assert MADE_UP_2027.to_json() == {
        "year": 2027,
        "holidays": ["2027-01-01"],
        "workdays": [],
        "source": "made-up test data",
    }


def test_from_json_drops_weekend_holidays_because_they_are_rest_days_anyway() -> None:
    cy = CalendarYear.from_json(
        {
            "year": 2027,
            "holidays": ["2027-01-01", "2027-01-02"],
            "workdays": ["2027-02-07"],
            "source": "x",
        }
    )
    assert cy.holidays == frozenset({date(2027, 1, 1)})
    assert cy.workdays == frozenset({date(2027, 2, 7)})


def _doc(**changes: object) -> dict[str, object]:
    return {
        "year": 2027,
        "holidays": ["2027-01-01"],
        "workdays": ["2027-02-07"],
        "source": "notice",
    } | changes


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_doc(holidays=["2026-12-31"]), "2026-12-31 not in year 2027"),
        (_doc(workdays=["2028-01-01"]), "not in year 2027"),
        (_doc(holidays=["2027/01/01"]), "not a YYYY-MM-DD date"),
        (_doc(holidays=["20270101"]), "not a YYYY-MM-DD date"),
        (_doc(holidays=[20270101]), "not a YYYY-MM-DD date"),
        (_doc(holidays=["2027-02-30"]), "not a valid date"),
        (_doc(holidays="2027-01-01"), "must be a list"),
        (
            _doc(holidays=["2027-02-07"]),
            "2027-02-07 both holiday and working day",
        ),
        (
            _doc(workdays=["2027-02-08"]),
            "must be weekends: 2027-02-08",
        ),
        (_doc(year="2027"), "'year' must be an integer"),
        (_doc(source=""), "source must name"),
        (_doc(extra=1), re.escape("need ['holidays', 'source', 'workdays', 'year']")),
        (
            {"year": 2027, "holidays": [], "source": "x"},
            re.escape("got ['holidays', 'source', 'year']"),
        ),
    ],
)
def test_from_json_rejects_bad_data_with_a_clear_message(doc: dict[str, object], message: str) -> None:
    with pytest.raises(CalendarDataError, match=message):
        CalendarYear.from_json(doc)


def test_calendar_data_errors_are_value_errors() -> None:
    assert issubclass(CalendarDataError, ValueError)


def test_the_constructor_refuses_unnormalised_data() -> None:
    with pytest.raises(CalendarDataError, match="holidays must be weekdays"):
        CalendarYear(2027, frozenset({date(2027, 1, 2)}), frozenset(), "x")


def test_a_calendar_keyed_by_the_wrong_year_is_refused() -> None:
    with pytest.raises(CalendarDataError, match="do not match"):
        WorkingDayCalendar({2026: MADE_UP_2027})


def test_asking_the_package_for_a_year_it_does_not_cover_is_a_clear_error() -> None:
    with pytest.raises(CalendarDataError, match="no data for 2027"):
        years_from_chinese_calendar(2026, 2027)


def test_deadlines_expire_at_local_midnight_expressed_in_utc() -> None:
    assert end_of_day_utc(date(2026, 1, 1)) == datetime(2026, 1, 1, 16, 0, tzinfo=UTC)
    assert end_of_day_utc(date(2026, 1, 1)).tzinfo is UTC


def test_local_date_is_the_shanghai_calendar_date() -> None:
    assert local_date(datetime(2026, 1, 1, 15, 59, 59, tzinfo=UTC)) == date(2026, 1, 1)
    assert local_date(datetime(2026, 1, 1, 16, 0, tzinfo=UTC)) == date(2026, 1, 2)


def test_local_date_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        local_date(datetime(2026, 1, 1, 12, 0))  # noqa: DTZ001


@given(
    start=st.dates(min_value=date(2005, 1, 1), max_value=date(2025, 12, 31)),
    n=st.integers(min_value=1, max_value=60),
)
def test_adding_n_working_days_lands_on_a_working_day_exactly_n_working_days_later(start: date, n: int) -> None:
    due = CALENDAR.add_working_days(start, n)
    assert due.day > start
    assert not due.provisional
    assert CALENDAR.is_working_day(due.day)
    assert CALENDAR.working_days_between(start, due.day) == (n, False)
