"""Working-day calendar (工作日) for legal deadlines.

Rule: Monday to Friday are working days, Saturday and Sunday rest days, except
that a public holiday on a weekday is a rest day and a weekend day made into a
make-up working day (调休) is a working day. The exceptions are data, per year.
In a year without data the weekend rule alone applies, and every result that
depended on such a year is provisional: recompute it once operators load that
year's State Council schedule.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Final, NoReturn
from zoneinfo import ZoneInfo

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
_DAY: Final = timedelta(days=1)
# Stricter than date.fromisoformat, which also takes "20270101" or "2027-W01-5".
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_JSON_KEYS: Final = frozenset({"year", "holidays", "workdays", "source"})


class CalendarDataError(ValueError):
    """Calendar data that cannot be trusted to compute legal deadlines."""


def _is_weekend(d: date) -> bool:
    return d.weekday() >= 5


def _listing(days: Iterable[date]) -> str:
    return ", ".join(d.isoformat() for d in sorted(days))


@dataclass(frozen=True, slots=True)
class CalendarYear:
    """One year's exceptions to the weekend rule, all dated within ``year``.

    ``holidays``: weekday dates that are days off. ``workdays``: weekend dates
    that are make-up working days. :meth:`build` normalises official lists.
    """

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    source: str

    def __post_init__(self) -> None:
        if not MINYEAR <= self.year <= MAXYEAR:
            raise CalendarDataError(f"year {self.year} is out of range")
        if not self.source.strip():
            raise CalendarDataError(f"{self.year}: source must name the data's origin")
        if bad := [d for d in self.holidays | self.workdays if d.year != self.year]:
            raise CalendarDataError(f"{_listing(bad)} not in year {self.year}")
        if bad := [d for d in self.holidays if _is_weekend(d)]:
            raise CalendarDataError(f"holidays must be weekdays: {_listing(bad)}")
        if bad := [d for d in self.workdays if not _is_weekend(d)]:
            raise CalendarDataError(f"make-up days must be weekends: {_listing(bad)}")

    @classmethod
    def build(cls, year: int, holidays: Iterable[date], workdays: Iterable[date], source: str) -> CalendarYear:
        """Drop weekend holidays (rest days anyway); refuse a date in both lists.

        A weekday listed as a make-up working day is refused, not dropped: no
        notice does that, so it is most likely a typo for the intended weekend.
        """
        off, on = frozenset(holidays), frozenset(workdays)
        if both := off & on:
            raise CalendarDataError(f"{_listing(both)} both holiday and working day")
        # Out-of-year dates are kept so that __post_init__ reports them.
        off = frozenset(d for d in off if d.year != year or not _is_weekend(d))
        return cls(year, off, on, source)

    def to_json(self) -> dict[str, object]:
        """``{"year": 2027, "holidays": ["2027-01-01", ...], "workdays": [...],
        "source": "State Council notice ..."}`` with sorted ISO dates."""
        return {
            "year": self.year,
            "holidays": [d.isoformat() for d in sorted(self.holidays)],
            "workdays": [d.isoformat() for d in sorted(self.workdays)],
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> CalendarYear:
        """Parse the :meth:`to_json` format, normalised by :meth:`build`."""
        if set(data) != _JSON_KEYS:
            raise CalendarDataError(f"need {sorted(_JSON_KEYS)}, got {sorted(data)}")
        year, source = data["year"], data["source"]
        if not isinstance(year, int) or isinstance(year, bool):
            raise CalendarDataError(f"'year' must be an integer, got {year!r}")
        if not isinstance(source, str):
            raise CalendarDataError(f"'source' must be a string, got {source!r}")
        return cls.build(year, _days(data, "holidays"), _days(data, "workdays"), source)


def _days(data: Mapping[str, object], key: str) -> list[date]:
    raw = data[key]
    if not isinstance(raw, list):
        raise CalendarDataError(f"{key!r} must be a list of YYYY-MM-DD strings")
    days = []
    for item in raw:
        if not isinstance(item, str) or not _ISO_DATE.fullmatch(item):
            raise CalendarDataError(f"{key}: {item!r} is not a YYYY-MM-DD date")
        try:
            days.append(date.fromisoformat(item))
        except ValueError:
            raise CalendarDataError(f"{key}: {item!r} is not a valid date") from None
    return days


def years_from_chinese_calendar(first: int = 2004, last: int | None = None) -> dict[int, CalendarYear]:
    """Years ``first`` to ``last`` (default: the package's last) from chinese_calendar.

    A year the package does not cover raises :class:`CalendarDataError`.
    """
    cc = importlib.import_module("chinese_calendar")  # untyped; only loaders need it
    source = f"chinese_calendar {getattr(cc, '__version__', '(unknown version)')}"

    def covered(year: int) -> bool:
        try:
            cc.is_workday(date(year, 1, 1))
        except NotImplementedError:
            return False
        return True

    if last is None:
        last = first
        while last < MAXYEAR and covered(last + 1):
            last += 1
    years: dict[int, CalendarYear] = {}
    for year in range(first, last + 1):
        if not covered(year):
            raise CalendarDataError(f"chinese_calendar has no data for {year}")
        holidays, workdays, day = [], [], date(year, 1, 1)
        while day.year == year:
            if _is_weekend(day) and cc.is_workday(day):
                workdays.append(day)
            elif not _is_weekend(day) and cc.is_holiday(day):
                holidays.append(day)
            day += _DAY
        years[year] = CalendarYear.build(year, holidays, workdays, source)
    return years


@dataclass(frozen=True, slots=True)
class DueDate:
    """A due day; ``provisional`` if it relied on a year without data."""

    day: date
    provisional: bool


class WorkingDayCalendar:
    """Immutable: the loaded years' data, the weekend rule in every other year.

    A result is provisional iff it looked at a day in a year without data.
    """

    __slots__ = ("_years",)
    _years: Mapping[int, CalendarYear]

    def __init__(self, years: Mapping[int, CalendarYear]) -> None:
        if wrong := sorted(key for key, cy in years.items() if key != cy.year):
            raise CalendarDataError(f"keys {wrong} do not match CalendarYear.year")
        object.__setattr__(self, "_years", MappingProxyType(dict(years)))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def with_year(self, year: CalendarYear) -> WorkingDayCalendar:
        """A new calendar with ``year`` added or replaced."""
        return WorkingDayCalendar({**self._years, year.year: year})

    @property
    def known_years(self) -> frozenset[int]:
        """Years with official data."""
        return frozenset(self._years)

    def is_known(self, d: date) -> bool:
        """Whether ``d`` lies in a year with official data."""
        return d.year in self._years

    def is_working_day(self, d: date) -> bool:
        """Whether ``d`` is a working day (weekend rule alone in unknown years)."""
        cy = self._years.get(d.year)
        if cy is not None and (d in cy.holidays or d in cy.workdays):
            return d in cy.workdays
        return not _is_weekend(d)

    def add_working_days(self, start: date, n: int) -> DueDate:
        """The ``n``-th working day after ``start``; ``start`` never counts, n >= 1."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        day, provisional = start, False
        while n:
            day += _DAY
            provisional = provisional or not self.is_known(day)
            if self.is_working_day(day):
                n -= 1
        return DueDate(day, provisional)

    def add_calendar_days(self, start: date, n: int, *, extend_past_rest_days: bool = True) -> DueDate:
        """The day ``n`` calendar days after ``start`` (n >= 1), moved past rest days.

        A period whose last day is a rest day (weekend or holiday, but not a
        make-up working day) ends on the first working day after it; only that
        check can make the result provisional.
        """
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        day = start + timedelta(days=n)
        if not extend_past_rest_days:
            return DueDate(day, provisional=False)
        provisional = not self.is_known(day)
        while not self.is_working_day(day):
            day += _DAY
            provisional = provisional or not self.is_known(day)
        return DueDate(day, provisional)

    def working_days_between(self, a: date, b: date) -> tuple[int, bool]:
        """(Working days d with a < d <= b, negated if b < a; provisional)."""
        sign = 1
        if b < a:
            a, b, sign = b, a, -1
        count, provisional, day = 0, False, a
        while day < b:
            day += _DAY
            provisional = provisional or not self.is_known(day)
            if self.is_working_day(day):
                count += 1
        return sign * count, provisional


def end_of_day_utc(d: date) -> datetime:
    """When day ``d`` ends in Asia/Shanghai (next local midnight), as aware UTC."""
    return datetime.combine(d + _DAY, time(), tzinfo=SHANGHAI).astimezone(UTC)


def local_date(instant: datetime) -> date:
    """The Asia/Shanghai date of an aware instant; a naive one raises ValueError."""
    if instant.utcoffset() is None:
        raise ValueError(f"instant must be timezone-aware, got {instant.isoformat()}")
    return instant.astimezone(SHANGHAI).date()
