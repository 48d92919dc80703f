"""Reconciliation (对账): a hospital declares its totals for a day of service; the fund compares its own.

The fund's side is folded from the settlement streams themselves (found through the settlement
index, written with each settlement), so a declaration made right after the last posting already
counts it. Each figure that differs is flagged with both values; the latest declaration per
hospital and day is kept for operators.
"""

from __future__ import annotations

from typing import Any

from contracts.injury.commands import DeclareDayTotals
from injury.application.ports import Reconciliations, Recorder, SettlementIndex
from injury.domain import settlement as s
from injury.domain.reconciliation import DayTotals, Reconciliation, reconcile
from runtime.eventstore import Transaction
from runtime.recording import CommandContext


def _totals(totals: DayTotals) -> dict[str, int]:
    return {"count": totals.count, "total_fen": totals.total_fen, "fund_fen": totals.fund_fen}


def view(result: Reconciliation) -> dict[str, Any]:
    return {
        "hospital_id": result.hospital_id,
        "day": result.day.isoformat(),
        "matched": result.matched,
        "fund": _totals(result.fund),
        "hospital": _totals(result.hospital),
        "mismatches": [
            {
                "figure": m.figure.value,
                "fund_value": m.fund_value,
                "hospital_value": m.hospital_value,
                "difference": m.difference,
            }
            for m in result.mismatches
        ],
    }


async def declare_day_totals(
    tx: Transaction,
    command: DeclareDayTotals,
    ctx: CommandContext,
    *,
    recorder: Recorder,
    index: SettlementIndex,
    reconciliations: Reconciliations,
) -> dict[str, Any]:
    """Compare the hospital's count, total and fund share for the day with the fund's; flag each difference."""
    settlements = [
        s.fold((await recorder.load(tx, stream))[0])
        for stream in await index.of_day(tx, command.hospital_id, command.day)
    ]
    declared = DayTotals(count=command.count, total_fen=command.total_fen, fund_fen=command.fund_fen)
    result = reconcile(hospital_id=command.hospital_id, day=command.day, settlements=settlements, declared=declared)
    answer = view(result)
    await reconciliations.store(tx, result, answer, ctx.now)
    return answer
