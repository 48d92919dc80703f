"""A wage-arrears case (立案), filed when its complaint is accepted: decisions that return events.

The inspection closes within 60 working days of filing, once +30 with approval (劳动保障监察条例
art. 17). It orders payment (责令支付) by a due date; wages still unpaid then are the base of
additional compensation of 50%-100% (art. 26). In construction the general contractor pays first
for a defaulting subcontractor (保障农民工工资支付条例 art. 30). Payments are recorded per worker and
never above the claim. A case closes as paid in full only when nothing is unpaid; otherwise it ends
by transfer (to a department or the police) or withdrawal, each with a reason.
"""

from __future__ import annotations

from datetime import datetime

from arrears.domain.case_state import Case, case_stream, check_open, evolve, fold, pending_timer
from arrears.domain.deadlines import EXTENSION_WORKING_DAYS, supervise
from arrears.domain.errors import (
    ExtensionError,
    InvalidAmountError,
    MissingValueError,
    UnknownPartyError,
    UnpaidWagesError,
    WrongStatusError,
)
from arrears.domain.events import (
    CaseClosed,
    CaseFiled,
    CaseTransferred,
    CaseWithdrawn,
    Event,
    InvestigationExtended,
    PenaltyImposed,
)
from arrears.domain.lead_state import Lead
from arrears.domain.values import LeadStatus, Outcome, Stage, TransferTarget

__all__ = [
    "Case",
    "case_stream",
    "decide_close",
    "decide_deadline",
    "decide_extend",
    "decide_file",
    "decide_impose_penalty",
    "decide_transfer",
    "decide_withdraw",
    "evolve",
    "fold",
    "pending_timer",
]


def decide_file(state: Case, *, lead: Lead, now: datetime) -> list[Event]:
    """File the case of an accepted lead the same day, under the case id it was accepted with; a
    case already filed yields nothing."""
    if state.case_id:
        return []
    channel, period_from, period_to = lead.channel, lead.period_from, lead.period_to
    if lead.status is not LeadStatus.ACCEPTED or channel is None or period_from is None or period_to is None:
        raise WrongStatusError(
            f"lead {lead.lead_id}", lead.status, "file a case", "a case is filed from an accepted lead"
        )
    return [
        CaseFiled(
            case_id=lead.case_id,
            lead_id=lead.lead_id,
            district=lead.district,
            channel=channel,
            industry_code=lead.industry_code,
            employer_code=lead.employer_code,
            employer_name=lead.employer_name,
            project=lead.project,
            workers=lead.workers,
            period_from=period_from,
            period_to=period_to,
            at=now,
        )
    ]


def decide_extend(state: Case, *, approved_by: str, reason: str, now: datetime) -> list[Event]:
    """+30 working days with the department head's approval, once per investigation clock, before
    the 60 days run out (not once the case is under supervision)."""
    check_open(state, "extend the investigation")
    for what, value in (("who approved the extension", approved_by), ("the reason for the extension", reason)):
        if not value.strip():
            raise MissingValueError(what)
    if state.extended:
        raise ExtensionError("it was already extended once")
    if state.supervision is not None:
        raise ExtensionError("the limit has already passed and the case is under supervision")
    return [
        InvestigationExtended(
            case_id=state.case_id, approved_by=approved_by, reason=reason, working_days=EXTENSION_WORKING_DAYS, at=now
        )
    ]


def decide_impose_penalty(state: Case, *, party: str, amount_fen: int, reason: str, now: datetime) -> list[Event]:
    """An administrative penalty (罚款) on a party of the case."""
    check_open(state, "impose a penalty")
    party = party.strip().upper()
    if party not in state.parties:
        raise UnknownPartyError(party, state.case_id)
    if amount_fen <= 0:
        raise InvalidAmountError("the penalty", amount_fen)
    if not reason.strip():
        raise MissingValueError("the reason for the penalty")
    return [PenaltyImposed(case_id=state.case_id, party=party, amount_fen=amount_fen, reason=reason, at=now)]


def decide_transfer(state: Case, *, target: TransferTarget, to: str, reason: str, now: datetime) -> list[Event]:
    """Transfer to another department or to the police (移送公安), which ends the case here, unpaid or not."""
    check_open(state, "transfer the case")
    for what, value in (
        ("the department or police office the case goes to", to),
        ("the reason for the transfer", reason),
    ):
        if not value.strip():
            raise MissingValueError(what)
    return [
        CaseTransferred(case_id=state.case_id, target=target, to=to, reason=reason, at=now),
        _closed(state, Outcome.TRANSFERRED, reason, now),
    ]


def decide_withdraw(state: Case, *, reason: str, now: datetime) -> list[Event]:
    """Withdrawal (撤诉/撤回), which ends the case unpaid or not: only with a reason."""
    check_open(state, "withdraw the case")
    if not reason.strip():
        raise MissingValueError("the reason for withdrawing the case")
    return [CaseWithdrawn(case_id=state.case_id, reason=reason, at=now), _closed(state, Outcome.WITHDRAWN, reason, now)]


def decide_close(state: Case, *, now: datetime, reason: str = "") -> list[Event]:
    """Close as paid in full (结案): refused while any wages claimed are unpaid."""
    check_open(state, "close the case")
    if state.unpaid_fen > 0:
        raise UnpaidWagesError(state.unpaid_fen)
    return [_closed(state, Outcome.PAID_IN_FULL, reason.strip() or "every worker was paid the wages claimed", now)]


def decide_deadline(state: Case, *, stage: Stage, due_at: datetime, now: datetime) -> list[Event]:
    """The investigation timer came due: supervision opens at the city, then escalates to the
    province (see `deadlines.supervise`); nothing once the case is closed."""
    timer = pending_timer(state)
    return list(
        supervise(subject_id=state.case_id, district=state.district, timer=timer, stage=stage, due_at=due_at, now=now)
    )


def _closed(state: Case, outcome: Outcome, reason: str, now: datetime) -> CaseClosed:
    return CaseClosed(
        case_id=state.case_id,
        district=state.district,
        outcome=outcome,
        reason=reason,
        claimed_fen=state.claimed_fen,
        paid_fen=state.paid_fen,
        at=now,
    )
