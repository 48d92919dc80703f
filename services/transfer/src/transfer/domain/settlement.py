"""Completing a transfer at the new place: the sheet checked against the funds to the fen.

With the old agency's information sheet and funds both in, the new agency completes the transfer
(restores the months and the account) only when the funds equal the sheet's individual + pooled
amounts to the fen, the sheet's amounts follow from its own periods by the formula, and none of its
months were also paid here. Otherwise the first disagreement is flagged and completion stops.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from transfer.domain.events import Event, FundsMismatchDetected, TransferCompleted
from transfer.domain.formula import FundAmounts, fund_amounts
from transfer.domain.rules import overlapping_months
from transfer.domain.transfer_in_state import TransferIn
from transfer.domain.values import Period

HELD = "the transfer is held until the two agencies reconcile it"


def settle(state: TransferIn, *, now: datetime, new_periods: Sequence[Period]) -> list[Event]:
    """TransferCompleted or FundsMismatchDetected once sheet and funds are both in; else nothing."""
    individual, pooled, received = state.expected_individual_fen, state.expected_pooled_fen, state.received_fen
    if individual is None or pooled is None or received is None or state.closed:
        return []
    stated = FundAmounts(individual_fen=individual, pooled_fen=pooled)
    mismatch = _mismatch(stated, fund_amounts(state.periods), received, overlapping_months(state.periods, new_periods))
    if mismatch is not None:
        code, expected, reason = mismatch
        return [
            FundsMismatchDetected(
                case_id=state.case_id,
                expected_fen=expected,
                received_fen=received,
                reason_code=code,
                reason=f"{reason}; {HELD}",
                at=now,
            )
        ]
    return [
        TransferCompleted(
            case_id=state.case_id,
            individual_fen=individual,
            pooled_fen=pooled,
            months_restored=len(state.periods),
            at=now,
        )
    ]


def _mismatch(
    stated: FundAmounts, computed: FundAmounts, received: int, overlap: tuple[str, ...]
) -> tuple[str, int, str] | None:
    """The first disagreement as (code, expected fen, reason), or None when all agree."""
    if received != stated.total_fen:
        return (
            "amount",
            stated.total_fen,
            f"received {received} fen but the information sheet states {stated.total_fen} fen",
        )
    if computed != stated:
        reason = (
            f"the information sheet states individual {stated.individual_fen} + pooled {stated.pooled_fen} fen, "
            f"but its own periods give individual {computed.individual_fen} + pooled {computed.pooled_fen} fen"
        )
        return "sheet_arithmetic", computed.total_fen, reason
    if overlap:
        return "overlap", stated.total_fen, f"the information sheet lists months also paid here: {', '.join(overlap)}"
    return None
