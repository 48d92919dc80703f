"""Reconciling a hospital's day: the fund's settlements against the hospital's declared totals."""

from __future__ import annotations

from datetime import date

from injury.domain.reconciliation import DayTotals, Mismatch, fund_totals, reconcile
from injury.domain.settlement import Settlement
from injury.domain.values import Figure, SettlementStatus

DAY = date(2026, 3, 1)


def settlement(status: SettlementStatus, total_fen: int, fund_fen: int, hospital_id: str = "H1") -> Settlement:
    return Settlement(hospital_id=hospital_id, status=status, total_fen=total_fen, fund_fen=fund_fen)


SETTLEMENTS = [
    settlement(SettlementStatus.SETTLED, 10_000, 8_000),
    settlement(SettlementStatus.RESETTLED, 5_000, 5_000),
    settlement(SettlementStatus.HELD, 2_000, 0),
    settlement(SettlementStatus.REVERSED, 9_999, 9_999),  # undone: not counted
    settlement(SettlementStatus.SETTLED, 7_777, 7_777, hospital_id="H2"),  # another hospital
]


def test_the_funds_figures_leave_out_reversals_and_other_hospitals() -> None:
    assert fund_totals("H1", SETTLEMENTS) == DayTotals(count=3, total_fen=17_000, fund_fen=13_000)


def test_matching_figures_reconcile() -> None:
    result = reconcile(
        hospital_id="H1",
        day=DAY,
        settlements=SETTLEMENTS,
        declared=DayTotals(count=3, total_fen=17_000, fund_fen=13_000),
    )
    assert result.matched and result.mismatches == ()
    assert (result.hospital_id, result.day) == ("H1", DAY)


def test_each_differing_figure_is_flagged_with_the_difference() -> None:
    declared = DayTotals(count=4, total_fen=17_000, fund_fen=12_990)
    result = reconcile(hospital_id="H1", day=DAY, settlements=SETTLEMENTS, declared=declared)
    assert not result.matched
    assert result.mismatches == (
        Mismatch(figure=Figure.COUNT, fund_value=3, hospital_value=4),
        Mismatch(figure=Figure.FUND, fund_value=13_000, hospital_value=12_990),
    )
    assert [m.difference for m in result.mismatches] == [1, -10]


def test_a_day_without_settlements_against_a_declaration() -> None:
    result = reconcile(
        hospital_id="H3", day=DAY, settlements=[], declared=DayTotals(count=1, total_fen=50, fund_fen=50)
    )
    assert {m.figure for m in result.mismatches} == set(Figure)
    assert result.fund == DayTotals(count=0, total_fen=0, fund_fen=0)
