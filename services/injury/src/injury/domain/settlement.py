"""One encounter's settlement (stream settlement-<hospital_id>-<hospital_settlement_no>).

A hospital posts an encounter under its own settlement number, which is also the idempotency key:
posted again identically it has no second effect (the application answers with the first result);
posted again differently it is a conflict. Each line is priced against the catalogue version valid
on the service date, at a hospital whose agreement is active that day. With a recognised
determination the fund pays its share through the network; without one the worker pays everything
(held as self-pay) and the settlement is re-settled through the network once the injury is
recognised (补结算, 2.6). A reversal undoes a settlement; a corrected encounter is a new posting
under a new number.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import assert_never

from injury.domain.agreement import Agreement, agreement_status
from injury.domain.catalogue import Catalogue
from injury.domain.determination import Determination
from injury.domain.errors import (
    AgreementNotActiveError,
    DeterminationMismatchError,
    EmptySettlementError,
    InvalidDateError,
    MissingValueError,
    NotHeldError,
    NotRecognisedError,
    SettlementConflictError,
    SettlementNotFoundError,
    SettlementRejectedError,
    TotalMismatchError,
)
from injury.domain.events import (
    Event,
    LinesRejected,
    SettlementHeldAsSelfPay,
    SettlementPosted,
    SettlementResettled,
    SettlementReversed,
)
from injury.domain.pricing import price_lines, shares
from injury.domain.settlement_state import Settlement, evolve, fold, same_posting, settlement_stream
from injury.domain.values import (
    AgreementStatus,
    DeterminationStatus,
    HoldReason,
    LineRejection,
    Posting,
    SettlementStatus,
)

__all__ = [
    "Settlement",
    "decide_reject",
    "decide_resettle",
    "decide_reverse",
    "decide_settle",
    "evolve",
    "fold",
    "hold_reason",
    "same_posting",
    "settlement_stream",
]


def _check_determination(determination: Determination, citizen_id: str, service_date: date) -> None:
    if determination.citizen_id != citizen_id:
        raise DeterminationMismatchError(determination.determination_id)
    if determination.injury_date is not None and service_date < determination.injury_date:
        raise InvalidDateError(
            f"service date {service_date} is before the injury on {determination.injury_date}: the encounter "
            f"cannot be treatment of the injury under determination {determination.determination_id}"
        )


def hold_reason(posting: Posting, determination: Determination | None) -> HoldReason | None:
    """None when the network pays (a recognised determination for this worker), else why it is held."""
    if determination is None or not determination.determination_id or not posting.determination_ref:
        return HoldReason.NO_DETERMINATION
    if determination.determination_id != posting.determination_ref:
        raise DeterminationMismatchError(determination.determination_id)
    _check_determination(determination, posting.citizen_id, posting.service_date)
    match determination.status:
        case DeterminationStatus.RECOGNISED:
            return None
        case DeterminationStatus.DENIED:
            return HoldReason.NOT_RECOGNISED
        case DeterminationStatus.APPLIED | DeterminationStatus.ACCEPTED | DeterminationStatus.NONE:
            return HoldReason.PENDING
        case _:
            assert_never(determination.status)


def _check_posting(posting: Posting) -> None:
    required = (
        ("hospital_id", posting.hospital_id),
        ("hospital_settlement_no", posting.hospital_settlement_no),
        ("citizen_id", posting.citizen_id),
    )
    for what, value in required:
        if not value.strip():
            raise MissingValueError(what)
    if not posting.lines:
        raise EmptySettlementError(posting.hospital_settlement_no)


def decide_settle(
    state: Settlement,
    *,
    posting: Posting,
    agreement: Agreement,
    catalogue: Catalogue,
    determination: Determination | None,
    now: datetime,
) -> list[Event]:
    """Settle a posted encounter: through the network with a recognised determination, else held as
    self-pay. `determination` is the one the posting refers to (None when none is on record).

    Refused: a hospital without an agreement active on the service date, lines that cannot be priced
    (each named with its reason), a declared total that is not the sum of the lines. The same number
    posted again identically yields nothing; differently, a conflict.
    """
    if state.status is not SettlementStatus.NONE:
        if same_posting(state, posting):
            return []
        raise SettlementConflictError(posting.hospital_settlement_no)
    _check_posting(posting)
    status = agreement_status(agreement, posting.service_date)
    if agreement.hospital_id != posting.hospital_id:
        status = AgreementStatus.NONE
    if status is not AgreementStatus.ACTIVE:
        raise AgreementNotActiveError(posting.hospital_id, posting.service_date, status)
    priced, rejected = price_lines(posting.lines, catalogue, posting.service_date)
    if rejected:
        raise SettlementRejectedError(posting, rejected)
    totals = shares(priced)
    if totals.total_fen != posting.declared_total_fen:
        raise TotalMismatchError(posting.hospital_settlement_no, posting.declared_total_fen, totals.total_fen)
    reason = hold_reason(posting, determination)
    if reason is None:
        posted = SettlementPosted(
            hospital_id=posting.hospital_id,
            region=agreement.region,
            hospital_settlement_no=posting.hospital_settlement_no,
            citizen_id=posting.citizen_id,
            determination_ref=posting.determination_ref,
            service_date=posting.service_date,
            lines=priced,
            total_fen=totals.total_fen,
            fund_fen=totals.fund_fen,
            self_pay_fen=totals.self_pay_fen,
            at=now,
        )
        return [posted]
    held = SettlementHeldAsSelfPay(
        hospital_id=posting.hospital_id,
        region=agreement.region,
        hospital_settlement_no=posting.hospital_settlement_no,
        citizen_id=posting.citizen_id,
        determination_ref=posting.determination_ref,
        service_date=posting.service_date,
        lines=priced,
        total_fen=totals.total_fen,
        reason=reason,
        at=now,
    )
    return [held]


def decide_reject(
    state: Settlement, *, posting: Posting, rejections: tuple[LineRejection, ...], region: str, now: datetime
) -> list[Event]:
    """Record a posting refused for its lines, so rejected lines count by reason; the number stays
    free for the corrected posting. Nothing when the number is already settled."""
    if state.status is not SettlementStatus.NONE or not rejections:
        return []
    rejected = LinesRejected(
        hospital_id=posting.hospital_id,
        region=region,
        hospital_settlement_no=posting.hospital_settlement_no,
        service_date=posting.service_date,
        rejections=rejections,
        at=now,
    )
    return [rejected]


def decide_resettle(state: Settlement, *, determination: Determination, now: datetime) -> list[Event]:
    """Re-settle a held settlement through the network once the worker's injury is recognised: the
    fund pays the lines' in-catalogue share (refunded to the worker). Already through: nothing."""
    if state.status is SettlementStatus.NONE or state.service_date is None:
        raise SettlementNotFoundError(state.hospital_settlement_no)
    if state.status in (SettlementStatus.SETTLED, SettlementStatus.RESETTLED):
        return []
    if state.status is SettlementStatus.REVERSED:
        raise NotHeldError(state.hospital_settlement_no, "it was reversed; post the encounter again instead")
    if not determination.recognised:
        raise NotRecognisedError(determination.determination_id)
    if state.determination_ref and determination.determination_id != state.determination_ref:
        raise DeterminationMismatchError(determination.determination_id)
    _check_determination(determination, state.citizen_id, state.service_date)
    totals = shares(state.lines)
    resettled = SettlementResettled(
        hospital_id=state.hospital_id,
        region=state.region,
        hospital_settlement_no=state.hospital_settlement_no,
        citizen_id=state.citizen_id,
        determination_id=determination.determination_id,
        service_date=state.service_date,
        total_fen=totals.total_fen,
        fund_fen=totals.fund_fen,
        self_pay_fen=totals.self_pay_fen,
        at=now,
    )
    return [resettled]


def decide_reverse(state: Settlement, *, reason: str, now: datetime) -> list[Event]:
    """Undo a settlement (held or through the network) with a written reason; once."""
    if state.status is SettlementStatus.NONE or state.service_date is None:
        raise SettlementNotFoundError(state.hospital_settlement_no)
    if not reason.strip():
        raise MissingValueError("the reversal's reason")
    if state.status is SettlementStatus.REVERSED:
        return []
    reversed_ = SettlementReversed(
        hospital_id=state.hospital_id,
        region=state.region,
        hospital_settlement_no=state.hospital_settlement_no,
        service_date=state.service_date,
        total_fen=state.total_fen,
        fund_fen=state.fund_fen,
        self_pay_fen=state.self_pay_fen,
        reason=reason,
        at=now,
    )
    return [reversed_]
