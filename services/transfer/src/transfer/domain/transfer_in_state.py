"""State of the new region's transfer case (stream transfer-<case_id>), folded from events.

Folding never refuses an event; an event of the old region's case leaves the state as it is.
The case waits in one stage at a time: REVIEW until the contact letter is sent, OLD_AGENCY until
both the information sheet and the funds are in, NEW_AGENCY until completion; none once completed,
refused or turned into a temporary account.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import assert_never

from transfer.domain.events import (
    AccountsMerged,
    ContactLetterSent,
    Event,
    FundsMismatchDetected,
    FundsReceived,
    InformationSheetReceived,
    OutOnlyEvent,
    StageDeadlineBreached,
    TemporaryAccountOpened,
    TransferApplied,
    TransferCompleted,
    TransferRefused,
)
from transfer.domain.values import CaseStatus, Period, Stage


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferIn:
    case_id: str = ""
    person_ref: str = ""
    citizen_id: str = ""
    from_region: str = ""
    to_region: str = ""
    channel: str = ""
    status: CaseStatus = CaseStatus.NONE
    applied_at: datetime | None = None
    letter_sent_at: datetime | None = None
    sheet_received_at: datetime | None = None
    funds_received_at: datetime | None = None
    completed_at: datetime | None = None
    periods: tuple[Period, ...] = ()
    returned_periods: tuple[str, ...] = ()
    expected_individual_fen: int | None = None
    expected_pooled_fen: int | None = None
    received_fen: int | None = None
    funds_reference: str = ""
    months_restored: int = 0
    temporary_account: bool = False
    refusal_code: str | None = None
    refusal_reason: str | None = None
    mismatch_code: str | None = None
    mismatch_reason: str | None = None
    breached: frozenset[Stage] = frozenset()

    @property
    def expected_total_fen(self) -> int | None:
        """The sheet's individual + pooled amounts, once the sheet is in."""
        if self.expected_individual_fen is None or self.expected_pooled_fen is None:
            return None
        return self.expected_individual_fen + self.expected_pooled_fen

    @property
    def closed(self) -> bool:
        return self.status in (
            CaseStatus.REFUSED,
            CaseStatus.TEMPORARY_ACCOUNT,
            CaseStatus.COMPLETED,
            CaseStatus.MERGED,
        )


def transfer_stream(case_id: str) -> str:
    return f"transfer-{case_id}"


def evolve(state: TransferIn, event: Event) -> TransferIn:
    match event:
        case TransferApplied():
            return replace(
                state,
                case_id=event.case_id,
                person_ref=event.person_ref,
                citizen_id=event.citizen_id,
                from_region=event.from_region,
                to_region=event.to_region,
                channel=event.channel,
                status=CaseStatus.APPLIED,
                applied_at=event.applied_at,
            )
        case TransferRefused():
            return replace(
                state, status=CaseStatus.REFUSED, refusal_code=event.reason_code, refusal_reason=event.reason
            )
        case AccountsMerged():
            return replace(state, status=CaseStatus.MERGED)
        case TemporaryAccountOpened():
            return replace(state, status=CaseStatus.TEMPORARY_ACCOUNT, temporary_account=True)
        case ContactLetterSent():
            return replace(state, status=CaseStatus.LETTER_SENT, letter_sent_at=event.at)
        case InformationSheetReceived():
            return replace(
                state,
                periods=event.periods,
                returned_periods=event.returned_periods,
                expected_individual_fen=event.individual_fen,
                expected_pooled_fen=event.pooled_fen,
                sheet_received_at=event.at,
            )
        case FundsReceived():
            return replace(
                state, received_fen=event.amount_fen, funds_reference=event.reference, funds_received_at=event.at
            )
        case FundsMismatchDetected():
            return replace(
                state, status=CaseStatus.MISMATCH, mismatch_code=event.reason_code, mismatch_reason=event.reason
            )
        case TransferCompleted():
            return replace(
                state, status=CaseStatus.COMPLETED, completed_at=event.at, months_restored=event.months_restored
            )
        case StageDeadlineBreached():
            return replace(state, breached=state.breached | {event.stage})
        case _ if isinstance(event, OutOnlyEvent):
            return state  # an old region's event: not this aggregate's
        case _:
            assert_never(event)


def fold(events: Iterable[Event]) -> TransferIn:
    state = TransferIn()
    for event in events:
        state = evolve(state, event)
    return state


def open_stage(state: TransferIn) -> Stage | None:
    """The stage the case is waiting in, or None when there is no case or it is closed."""
    if not state.case_id or state.closed:
        return None
    if state.letter_sent_at is None:
        return Stage.REVIEW
    if state.sheet_received_at is None or state.funds_received_at is None:
        return Stage.OLD_AGENCY
    return Stage.NEW_AGENCY


def stage_started_at(state: TransferIn, stage: Stage) -> datetime | None:
    """When a stage's 15 working days began: the application, the letter, the later of sheet and
    funds; None while it has not begun."""
    match stage:
        case Stage.REVIEW:
            return state.applied_at
        case Stage.OLD_AGENCY:
            return state.letter_sent_at
        case Stage.NEW_AGENCY:
            if state.sheet_received_at is None or state.funds_received_at is None:
                return None
            return max(state.sheet_received_at, state.funds_received_at)
        case _:
            assert_never(stage)
