"""The new region's transfer case (stream transfer-<case_id>): decisions that return events.

The worker applies at the new place once enrolled and contributing there (国办发〔2009〕66号). The
review is automatic: an application failing a rule is refused with a written reason (a fact, not an
error); the age rule opens a temporary account instead; otherwise the contact letter goes out. The
case completes when the old agency's sheet and funds are both in and agree to the fen.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from transfer.domain.errors import (
    BirthInFutureError,
    CaseNotFoundError,
    InvalidAmountError,
    MissingValueError,
    NotAwaitingTransferError,
)
from transfer.domain.events import (
    AccountsMerged,
    ContactLetterSent,
    Event,
    FundsReceived,
    InformationSheetReceived,
    StageDeadlineBreached,
    TemporaryAccountOpened,
    TransferApplied,
    TransferRefused,
)
from transfer.domain.rules import (
    age_on,
    application_refusal,
    check_months,
    check_periods,
    needs_temporary_account,
    overlapping_months,
    within_one_province,
)
from transfer.domain.settlement import settle
from transfer.domain.transfer_in_state import (
    TransferIn,
    evolve,
    fold,
    open_stage,
    stage_started_at,
    transfer_stream,
)
from transfer.domain.values import Period, Sex, Stage

__all__ = [
    "TransferIn",
    "decide_apply",
    "decide_deadline",
    "decide_receive_funds",
    "decide_receive_sheet",
    "evolve",
    "fold",
    "open_stage",
    "stage_started_at",
    "transfer_stream",
]


def decide_apply(
    state: TransferIn,
    *,
    case_id: str,
    person_ref: str,
    citizen_id: str,
    from_region: str,
    to_region: str,
    channel: str,
    now: datetime,
    today: date,
    enrolled_here: bool,
    contributing_here: bool,
    is_pensioner: bool,
    sex: Sex,
    birth: date,
    hukou_province: str,
    organisational_transfer: bool,
    new_periods: Sequence[Period],
    old_periods_known: Sequence[Period] = (),
) -> list[Event]:
    """Record the application and review it at once; an application already recorded yields nothing.

    Refused, in this order, with the reason told to the applicant: "pensioner" (a pension is
    already paid), "not_enrolled_here" (not enrolled and contributing at the new place), "overlap"
    (months paid in both places). Both places in one province: the accounts are merged here at
    once. Then the age rule opens a temporary account instead of a transfer; otherwise the contact
    letter goes to the old agency.
    """
    if state.case_id:
        return []
    for what, value in (("case_id", case_id), ("from_region", from_region), ("to_region", to_region)):
        if not value.strip():
            raise MissingValueError(what)
    if birth > today:
        raise BirthInFutureError(birth, today)
    check_periods(new_periods)
    check_periods(old_periods_known)
    applied = TransferApplied(
        case_id=case_id,
        person_ref=person_ref,
        citizen_id=citizen_id,
        from_region=from_region,
        to_region=to_region,
        channel=channel,
        applied_at=now,
    )
    refusal = application_refusal(
        from_region=from_region,
        to_region=to_region,
        enrolled_here=enrolled_here,
        contributing_here=contributing_here,
        is_pensioner=is_pensioner,
        overlap=overlapping_months(old_periods_known, new_periods),
    )
    if refusal is not None:
        code, reason = refusal
        return [applied, TransferRefused(case_id=case_id, reason_code=code, reason=reason, at=now)]
    if within_one_province(from_region, to_region):
        merged = AccountsMerged(
            case_id=case_id,
            person_ref=person_ref,
            months=len({p.month for p in new_periods}),
            individual_fen=sum(p.account_fen for p in new_periods),
            at=now,
        )
        return [applied, merged]
    age = age_on(birth, today)
    if needs_temporary_account(
        sex=sex,
        age=age,
        hukou_province=hukou_province,
        to_region=to_region,
        organisational_transfer=organisational_transfer,
    ):
        reason = (
            f"at {age} ({'men from 50' if sex == Sex.MALE else 'women from 40'}) moving to work outside your "
            f"household-registration province {hukou_province}, your pension relationship stays in {from_region}; "
            f"{to_region} opens a temporary contribution account instead, consolidated later where you move on or "
            "draw your pension (国办发〔2009〕66号 art. 6; exempt: returning to the hukou province, approved 组织调动)"
        )
        return [applied, TemporaryAccountOpened(case_id=case_id, person_ref=person_ref, reason=reason, at=now)]
    letter = ContactLetterSent(
        case_id=case_id,
        from_region=from_region,
        to_region=to_region,
        person_ref=person_ref,
        citizen_id=citizen_id,
        at=now,
    )
    return [applied, letter]


def decide_receive_sheet(
    state: TransferIn,
    *,
    periods: Sequence[Period],
    individual_fen: int,
    pooled_fen: int,
    returned_periods: Sequence[str],
    now: datetime,
    new_periods: Sequence[Period] = (),
) -> list[Event]:
    """Record the old agency's information sheet, once (a second sheet yields nothing); if the funds
    are already in, check them against it and complete or flag the mismatch (see `settlement.settle`)."""
    _check_awaiting(state)
    if state.sheet_received_at is not None:
        return []
    check_periods(periods)
    for what, amount in (("the sheet's individual account", individual_fen), ("the sheet's pooled share", pooled_fen)):
        if amount < 0:
            raise InvalidAmountError(what, amount)
    sheet = InformationSheetReceived(
        case_id=state.case_id,
        periods=tuple(periods),
        individual_fen=individual_fen,
        pooled_fen=pooled_fen,
        returned_periods=check_months(returned_periods),
        at=now,
    )
    return [sheet, *settle(evolve(state, sheet), now=now, new_periods=new_periods)]


def decide_receive_funds(
    state: TransferIn, *, amount_fen: int, reference: str, now: datetime, new_periods: Sequence[Period]
) -> list[Event]:
    """Record the funds the old agency sent, once (a second receipt yields nothing); if the sheet is
    already in, check them against it and complete or flag the mismatch (see `settlement.settle`)."""
    _check_awaiting(state)
    if state.funds_received_at is not None:
        return []
    if amount_fen < 0:
        raise InvalidAmountError("the amount received", amount_fen)
    funds = FundsReceived(case_id=state.case_id, amount_fen=amount_fen, reference=reference, at=now)
    return [funds, *settle(evolve(state, funds), now=now, new_periods=new_periods)]


def decide_deadline(state: TransferIn, *, stage: Stage, due_at: datetime, now: datetime) -> list[Event]:
    """A stage still open at its due time is breached, once per stage; a stage passed, a case closed
    (completed, refused, temporary account) or a due time not yet reached yields nothing."""
    if open_stage(state) != stage or stage in state.breached or now < due_at:
        return []
    return [StageDeadlineBreached(case_id=state.case_id, stage=stage, due_at=due_at, at=now)]


def _check_awaiting(state: TransferIn) -> None:
    """Sheet and funds answer a contact letter of an open case; anything else cannot be received."""
    if not state.case_id:
        raise CaseNotFoundError()
    if state.refusal_code is not None:
        raise NotAwaitingTransferError(state.case_id, f"the application was refused ({state.refusal_code})")
    if state.temporary_account:
        raise NotAwaitingTransferError(state.case_id, "a temporary account was opened instead of a transfer")
    if state.letter_sent_at is None:
        raise NotAwaitingTransferError(state.case_id, "no contact letter has been sent")
