"""Small values of the enrolment domain: schemes, routes, floating tiers, months and money rounding."""

from __future__ import annotations

import calendar
import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from enrolment.domain.errors import InvalidDateError


class Scheme(StrEnum):
    """The insurance schemes an employee can be enrolled in (社会保险法 art. 2)."""

    PENSION = "pension"
    WORK_INJURY = "work_injury"
    UNEMPLOYMENT = "unemployment"
    MEDICAL = "medical"
    MATERNITY = "maternity"


class Route(StrEnum):
    """How an employer came to be registered: from the market-regulation feed, or at a counter."""

    ZERO_TOUCH = "zero_touch"
    MANUAL = "manual"


# Floating tiers of the work-injury base rate (人社部发〔2015〕71号): class 1 floats up only;
# classes 2-8 float down to 50% or 80% and up to 120% or 150%.
TIERS_CLASS_1 = (Decimal("1.0"), Decimal("1.2"), Decimal("1.5"))
TIERS = (Decimal("0.5"), Decimal("0.8"), Decimal("1.0"), Decimal("1.2"), Decimal("1.5"))

# The schemes an employee is enrolled in when the employer names none.
DEFAULT_SCHEMES = (Scheme.PENSION, Scheme.WORK_INJURY, Scheme.UNEMPLOYMENT)

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


def month_key(d: date) -> str:
    """The contribution month a day falls in, as "YYYY-MM" (e.g. 2026-03-14 -> "2026-03")."""
    return f"{d.year:04d}-{d.month:02d}"


def month_bounds(month: str) -> tuple[date, date]:
    """First and last day of a "YYYY-MM" month; anything else is refused with InvalidDateError."""
    found = _MONTH.fullmatch(month)
    if found is None or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 1:
        raise InvalidDateError(f"month {month!r} is not a calendar month written as YYYY-MM")
    year, number = int(found.group(1)), int(found.group(2))
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


_WHOLE = Decimal(1)


def round_fen(amount: Decimal) -> int:
    """An amount in fen rounded half-up to a whole fen (0.5 fen -> 1 fen), as formulas end."""
    return int(amount.quantize(_WHOLE, rounding=ROUND_HALF_UP))
