"""Back payments of 3+ years, overlapping months, the age rule, ages, and readable periods."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from transfer.domain.errors import InvalidPeriodError
from transfer.domain.rules import (
    age_on,
    back_payment_exclusions,
    check_months,
    check_periods,
    needs_temporary_account,
    overlapping_months,
)
from transfer.domain.values import Period, PeriodKind, Sex, is_month, province_of


def month(m: str, *, batch: str | None = None, documented: bool = False) -> Period:
    return Period(
        month=m,
        base_fen=500_000,
        kind=PeriodKind.EMPLOYEE,
        employer_rate=Decimal("0.16"),
        account_fen=40_000,
        back_payment_batch=batch,
        documented=documented,
    )


def months(count: int, *, start: int = 2010, batch: str | None = None, documented: bool = False) -> list[Period]:
    return [month(f"{start + n // 12}-{n % 12 + 1:02d}", batch=batch, documented=documented) for n in range(count)]


# Back payments (人社厅发〔2019〕94号)


def test_undocumented_back_payment_of_36_months_is_returned() -> None:
    batch = months(36, batch="bp-1")
    transferable, returned = back_payment_exclusions(batch)
    assert transferable == ()
    assert returned == tuple(batch)


def test_back_payment_of_35_months_transfers() -> None:
    batch = months(35, batch="bp-1")
    assert back_payment_exclusions(batch) == (tuple(batch), ())


def test_documented_back_payment_of_36_months_transfers() -> None:
    batch = months(40, batch="bp-1", documented=True)
    assert back_payment_exclusions(batch) == (tuple(batch), ())


def test_in_a_large_batch_only_the_undocumented_months_are_returned() -> None:
    batch = months(30, batch="bp-1", documented=True) + months(6, start=2013, batch="bp-1")
    transferable, returned = back_payment_exclusions(batch)
    assert transferable == tuple(batch[:30])
    assert returned == tuple(batch[30:])


def test_ordinary_months_and_small_batches_transfer_beside_a_returned_batch() -> None:
    ordinary = months(12, start=2000)
    small = months(12, start=2005, batch="bp-small")
    large = months(36, start=2010, batch="bp-large")
    transferable, returned = back_payment_exclusions([*ordinary, *large, *small])
    assert transferable == (*ordinary, *small)
    assert returned == tuple(large)


# Overlap


def test_overlapping_months_are_listed_once_in_order() -> None:
    old = [month("2020-03"), month("2020-01"), month("2020-02")]
    new = [month("2020-02"), month("2020-03"), month("2020-04")]
    assert overlapping_months(old, new) == ("2020-02", "2020-03")


def test_no_overlap() -> None:
    assert overlapping_months([month("2020-01")], [month("2020-02")]) == ()
    assert overlapping_months([], []) == ()


# The age rule (国办发〔2009〕66号 art. 6)


@pytest.mark.parametrize(
    ("sex", "age", "hukou", "to_region", "organisational", "expected"),
    [
        (Sex.MALE, 49, "36", "44", False, False),
        (Sex.MALE, 50, "36", "44", False, True),
        (Sex.MALE, 58, "36", "44", False, True),
        (Sex.FEMALE, 39, "36", "44", False, False),
        (Sex.FEMALE, 40, "36", "44", False, True),
        (Sex.FEMALE, 40, "44", "44", False, False),  # returning to the hukou province
        (Sex.MALE, 55, "44", "44", False, False),
        (Sex.MALE, 55, "440106", "44", False, False),  # a full division code: its province counts
        (Sex.MALE, 50, "36", "44", True, False),  # approved organisational transfer (组织调动)
        (Sex.FEMALE, 45, "36", "44", True, False),
    ],
)
def test_age_rule_matrix(sex: Sex, age: int, hukou: str, to_region: str, organisational: bool, expected: bool) -> None:
    assert (
        needs_temporary_account(
            sex=sex, age=age, hukou_province=hukou, to_region=to_region, organisational_transfer=organisational
        )
        is expected
    )


@pytest.mark.parametrize(
    ("birth", "today", "age"),
    [
        (date(1976, 3, 14), date(2026, 3, 14), 50),  # the birthday itself
        (date(1976, 3, 15), date(2026, 3, 14), 49),  # the day before
        (date(1976, 2, 29), date(2026, 2, 28), 49),
        (date(1976, 2, 29), date(2026, 3, 1), 50),
        (date(2026, 3, 14), date(2026, 3, 14), 0),
    ],
)
def test_age_on(birth: date, today: date, age: int) -> None:
    assert age_on(birth, today) == age


# Readable periods


def test_periods_that_the_formulas_can_use_pass() -> None:
    check_periods(months(24))
    check_periods([])


@pytest.mark.parametrize(
    ("period", "why"),
    [
        (month("2010-13"), "YYYY-MM"),
        (month("2010-1"), "YYYY-MM"),
        (
            Period(month="2010-01", base_fen=-1, kind=PeriodKind.EMPLOYEE, employer_rate=Decimal(0), account_fen=0),
            "negative",
        ),
        (
            Period(month="2010-01", base_fen=1, kind=PeriodKind.EMPLOYEE, employer_rate=Decimal(0), account_fen=-1),
            "negative",
        ),
        (
            Period(month="2010-01", base_fen=1, kind=PeriodKind.EMPLOYEE, employer_rate=Decimal(1), account_fen=0),
            "rate",
        ),
    ],
)
def test_unreadable_periods_are_refused_with_the_reason(period: Period, why: str) -> None:
    with pytest.raises(InvalidPeriodError, match=why):
        check_periods([period])


def test_a_month_listed_twice_is_refused() -> None:
    with pytest.raises(InvalidPeriodError, match="listed twice"):
        check_periods([month("2010-01"), month("2010-01")])


def test_months_are_sorted_without_repeats_and_checked() -> None:
    assert check_months(["2020-02", "2020-01", "2020-02"]) == ("2020-01", "2020-02")
    with pytest.raises(InvalidPeriodError):
        check_months(["2020-00"])


def test_small_values() -> None:
    assert is_month("1998-01") and not is_month("1998-1") and not is_month("0000-01")
    assert province_of("360102") == province_of("36") == "36"
