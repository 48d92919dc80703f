"""Reconciliation (对账) of one hospital's day: the fund's settlements against the hospital's own totals.

Counted on the fund's side: every settlement of the hospital not reversed (through the network,
re-settled, or held as self-pay), its total and the fund's current share (0 while held). Each figure
that differs is flagged with both values and the difference (hospital minus fund). The national
frequency and clearing deadlines are unconfirmed (domain 2.6): the period is the caller's choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from injury.domain.settlement_state import Settlement
from injury.domain.values import Figure, SettlementStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class DayTotals:
    count: int
    total_fen: int
    fund_fen: int

    def figure(self, which: Figure) -> int:
        match which:
            case Figure.COUNT:
                return self.count
            case Figure.TOTAL:
                return self.total_fen
            case Figure.FUND:
                return self.fund_fen


@dataclass(frozen=True, slots=True, kw_only=True)
class Mismatch:
    figure: Figure
    fund_value: int
    hospital_value: int

    @property
    def difference(self) -> int:
        """Hospital minus fund: positive when the hospital declares more."""
        return self.hospital_value - self.fund_value


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconciliation:
    hospital_id: str
    day: date
    fund: DayTotals
    hospital: DayTotals
    mismatches: tuple[Mismatch, ...]

    @property
    def matched(self) -> bool:
        return not self.mismatches


def fund_totals(hospital_id: str, settlements: Iterable[Settlement]) -> DayTotals:
    """The fund's figures for one hospital: settlements of other hospitals and reversed ones are left out."""
    left_out = (SettlementStatus.NONE, SettlementStatus.REVERSED)
    counted = [s for s in settlements if s.hospital_id == hospital_id and s.status not in left_out]
    return DayTotals(
        count=len(counted),
        total_fen=sum(s.total_fen for s in counted),
        fund_fen=sum(s.fund_fen for s in counted),
    )


def reconcile(*, hospital_id: str, day: date, settlements: Iterable[Settlement], declared: DayTotals) -> Reconciliation:
    """Compare the fund's settlements of `day` (selected by the caller) with the hospital's declared
    count, total and fund share; every figure that differs is a mismatch."""
    ours = fund_totals(hospital_id, settlements)
    mismatches = tuple(
        Mismatch(figure=f, fund_value=ours.figure(f), hospital_value=declared.figure(f))
        for f in Figure
        if ours.figure(f) != declared.figure(f)
    )
    return Reconciliation(hospital_id=hospital_id, day=day, fund=ours, hospital=declared, mismatches=mismatches)
