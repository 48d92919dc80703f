"""The money a transfer moves: pooled share at 12% from 1998 (special rates), individual account, rounding."""

from __future__ import annotations

from decimal import Decimal

from transfer.domain.formula import FundAmounts, fund_amounts, individual_account_fen, pooled_share_fen
from transfer.domain.values import Period, PeriodKind

EMPLOYER_RATE = Decimal("0.16")


def month(
    m: str,
    base_fen: int = 500_000,
    *,
    kind: PeriodKind = PeriodKind.EMPLOYEE,
    rate: Decimal = EMPLOYER_RATE,
    account_fen: int = 40_000,
) -> Period:
    return Period(month=m, base_fen=base_fen, kind=kind, employer_rate=rate, account_fen=account_fen)


def year(y: int, base_fen: int = 500_000, months: int = 12) -> list[Period]:
    return [month(f"{y}-{n:02d}", base_fen) for n in range(1, months + 1)]


def test_worked_example_a_year_at_5000_yuan_gives_7200_yuan_pooled() -> None:
    assert pooled_share_fen(year(2010)) == 720_000


def test_a_partial_year_counts_by_its_months() -> None:
    assert pooled_share_fen(year(2010, months=5)) == 300_000
    assert pooled_share_fen(year(2010, months=1)) == 60_000


def test_months_before_1998_are_not_pooled() -> None:
    assert pooled_share_fen([month("1997-12")]) == 0
    assert pooled_share_fen([month("1997-12"), month("1998-01")]) == 60_000


def test_temporary_account_month_counts_at_the_employer_rate_when_above_12_percent() -> None:
    assert pooled_share_fen([month("2015-03", kind=PeriodKind.TEMPORARY, rate=Decimal("0.16"))]) == 80_000


def test_temporary_account_month_counts_at_12_percent_when_the_employer_paid_less() -> None:
    assert pooled_share_fen([month("2015-03", kind=PeriodKind.TEMPORARY, rate=Decimal("0.10"))]) == 60_000


def test_individual_month_counts_at_12_percent_whatever_was_paid() -> None:
    assert pooled_share_fen([month("2016-01", kind=PeriodKind.INDIVIDUAL, rate=Decimal("0.20"))]) == 60_000
    assert pooled_share_fen([month("2016-01", kind=PeriodKind.INDIVIDUAL, rate=Decimal("0.05"))]) == 60_000


def test_an_employee_month_counts_at_12_percent_even_if_the_employer_paid_more() -> None:
    assert pooled_share_fen([month("2016-01", rate=Decimal("0.20"))]) == 60_000


def test_mixed_kinds_and_years() -> None:
    periods = [
        month("1997-06"),  # before pooling: no pooled share, account still counts
        month("2010-01"),  # 500,000 x 12% = 60,000
        month("2011-01", 400_000, kind=PeriodKind.TEMPORARY, rate=Decimal("0.16")),  # 64,000
        month("2012-01", 300_000, kind=PeriodKind.INDIVIDUAL, rate=Decimal("0.20")),  # 36,000
    ]
    amounts = fund_amounts(periods)
    assert amounts == FundAmounts(individual_fen=160_000, pooled_fen=160_000)
    assert amounts.total_fen == 320_000


def test_rounding_happens_once_at_the_end() -> None:
    # 4 fen x 12% = 0.48 fen a month: rounded each month it would be 0; summed first it is 0.96 -> 1
    assert pooled_share_fen([month("2010-01", 4), month("2010-02", 4)]) == 1


def test_rounding_is_half_up() -> None:
    # 4 fen x 12.5% = 0.5 fen -> 1 (half-even would give 0)
    half = month("2010-01", 4, kind=PeriodKind.TEMPORARY, rate=Decimal("0.125"))
    assert pooled_share_fen([half]) == 1
    # 12 fen x 12% = 1.44 -> 1; 13 fen x 12% = 1.56 -> 2
    assert pooled_share_fen([month("2010-01", 12)]) == 1
    assert pooled_share_fen([month("2010-01", 13)]) == 2


def test_individual_account_is_the_sum_of_what_each_month_put_in_before_1998_too() -> None:
    periods = [month("1996-01", account_fen=11_000), month("2006-01", account_fen=40_000)]
    assert individual_account_fen(periods) == 51_000


def test_fund_amounts_takes_any_iterable_once() -> None:
    amounts = fund_amounts(p for p in year(2010))
    assert amounts == FundAmounts(individual_fen=480_000, pooled_fen=720_000)
    assert amounts.total_fen == 1_200_000


def test_nothing_moves_for_no_periods() -> None:
    assert fund_amounts([]) == FundAmounts(individual_fen=0, pooled_fen=0)
