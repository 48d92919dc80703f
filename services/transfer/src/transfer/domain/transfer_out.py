"""The old region's transfer case (stream transfer-out-<case_id>): state, folding and decisions.

The old agency answers the new agency's contact letter within 15 working days (国办发〔2009〕66号):
it checks for unpaid contributions (欠费) and, while any remain, the case waits for them to be
collected; then it issues the information sheet, transfers individual account plus pooled share,
and ends the local relationship. Back-payment months that cannot transfer are returned (人社厅发〔2019〕94号).
Folding ignores the new region's events; decisions return `list[Event]`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import assert_never

from transfer.domain.errors import LetterNotReceivedError, MissingValueError
from transfer.domain.events import (
    ContactLetterReceived,
    Event,
    FundsTransferred,
    InformationSheetIssued,
    InOnlyEvent,
    LocalRelationshipTerminated,
    StageDeadlineBreached,
    UnpaidContributionsFound,
)
from transfer.domain.formula import fund_amounts
from transfer.domain.rules import back_payment_exclusions, check_months, check_periods
from transfer.domain.values import OutStatus, Period, Stage


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferOut:
    """`new_region` is where the letter came from (ContactLetterReceived.from_region)."""

    case_id: str = ""
    person_ref: str = ""
    citizen_id: str = ""
    new_region: str = ""
    status: OutStatus = OutStatus.NONE
    letter_received_at: datetime | None = None
    unpaid_months: tuple[str, ...] = ()
    sheet_issued_at: datetime | None = None
    periods: tuple[Period, ...] = ()
    returned_periods: tuple[str, ...] = ()
    individual_fen: int = 0
    pooled_fen: int = 0
    amount_fen: int = 0
    reference: str = ""
    terminated_at: datetime | None = None
    breached: frozenset[Stage] = frozenset()


def transfer_out_stream(case_id: str) -> str:
    return f"transfer-out-{case_id}"


def evolve(state: TransferOut, event: Event) -> TransferOut:
    match event:
        case ContactLetterReceived():
            return replace(
                state,
                case_id=event.case_id,
                person_ref=event.person_ref,
                citizen_id=event.citizen_id,
                new_region=event.from_region,
                status=OutStatus.LETTER_RECEIVED,
                letter_received_at=event.at,
            )
        case UnpaidContributionsFound():
            return replace(state, status=OutStatus.UNPAID, unpaid_months=event.months)
        case InformationSheetIssued():
            return replace(
                state,
                periods=event.periods,
                returned_periods=event.returned_periods,
                individual_fen=event.individual_fen,
                pooled_fen=event.pooled_fen,
                sheet_issued_at=event.at,
            )
        case FundsTransferred():
            return replace(state, amount_fen=event.amount_fen, reference=event.reference)
        case LocalRelationshipTerminated():
            return replace(state, status=OutStatus.TERMINATED, terminated_at=event.at)
        case StageDeadlineBreached():
            return replace(state, breached=state.breached | {event.stage})
        case _ if isinstance(event, InOnlyEvent):
            return state  # a new region's event: not this aggregate's
        case _:
            assert_never(event)


def fold(events: Iterable[Event]) -> TransferOut:
    state = TransferOut()
    for event in events:
        state = evolve(state, event)
    return state


def open_stage(state: TransferOut) -> Stage | None:
    """OLD_AGENCY from the letter until the sheet is issued; None before the letter and after."""
    if not state.case_id or state.sheet_issued_at is not None:
        return None
    return Stage.OLD_AGENCY


def decide_receive_letter(
    state: TransferOut, *, case_id: str, person_ref: str, citizen_id: str, from_region: str, now: datetime
) -> list[Event]:
    """Record the new agency's contact letter; a duplicate letter has no second effect."""
    if state.case_id:
        return []
    for what, value in (("case_id", case_id), ("from_region", from_region)):
        if not value.strip():
            raise MissingValueError(what)
    return [
        ContactLetterReceived(
            case_id=case_id, person_ref=person_ref, citizen_id=citizen_id, from_region=from_region, at=now
        )
    ]


def decide_issue_sheet(
    state: TransferOut,
    *,
    periods: Sequence[Period],
    unpaid_months: Sequence[str],
    now: datetime,
    reference: str,
) -> list[Event]:
    """Answer the letter: while months are unpaid, record them (the same months once) and wait;
    otherwise issue the sheet for the transferable periods, transfer individual account + pooled
    share under `reference`, and end the local relationship. A sheet already issued yields nothing.
    """
    if not state.case_id:
        raise LetterNotReceivedError()
    if state.sheet_issued_at is not None:
        return []
    check_periods(periods)
    unpaid = check_months(unpaid_months)
    if unpaid:
        if unpaid == state.unpaid_months:
            return []
        return [UnpaidContributionsFound(case_id=state.case_id, months=unpaid, at=now)]
    if not reference.strip():
        raise MissingValueError("the fund transfer's reference")
    transferable, returned = back_payment_exclusions(periods)
    amounts = fund_amounts(transferable)
    return [
        InformationSheetIssued(
            case_id=state.case_id,
            periods=transferable,
            individual_fen=amounts.individual_fen,
            pooled_fen=amounts.pooled_fen,
            returned_periods=tuple(sorted(p.month for p in returned)),
            at=now,
        ),
        FundsTransferred(case_id=state.case_id, amount_fen=amounts.total_fen, reference=reference, at=now),
        LocalRelationshipTerminated(case_id=state.case_id, person_ref=state.person_ref, at=now),
    ]


def decide_deadline(state: TransferOut, *, stage: Stage, due_at: datetime, now: datetime) -> list[Event]:
    """The old agency's stage still open at its due time is breached, once; any other stage, a case
    already answered, or a due time not yet reached yields nothing."""
    if open_stage(state) != stage or stage in state.breached or now < due_at:
        return []
    return [StageDeadlineBreached(case_id=state.case_id, stage=stage, due_at=due_at, at=now)]
