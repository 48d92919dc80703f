"""Private wage-arrears events -> public events on this region's stream. No citizen ids leave.

A lead received is its own message (counted as a service handled, by channel); a closed case and
supervision have theirs; every other fact is one step of its lead or case.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from arrears.domain import events as ev
from contracts.arrears.events import ArrearsStepV1, CaseClosedV1, LeadReceivedV1, SupervisionV1
from runtime.recording import Published

_WORD = re.compile(r"(?<!^)(?=[A-Z])")


def step_of(event_type: str) -> str:
    """`LeadRouted` -> `lead_routed`: a step's name from its event type."""
    return _WORD.sub("_", event_type).lower()


def subject_of(event: ev.Event) -> str:
    match event:
        case ev.SupervisionOpened() | ev.SupervisionEscalated():
            return event.subject_id
        case _ if isinstance(event, ev.LeadOnlyEvent):
            return event.lead_id
        case _:
            return event.case_id


def amount_of(event: ev.Event) -> int | None:
    """The money a step moves or names, in fen; amounts found not received by a review are negative."""
    match event:
        case ev.WagesPaid() | ev.GeneralContractorPaidFirst():
            return sum(p.amount_fen for p in event.payments)
        case ev.ReviewFailed():
            return -sum(p.amount_fen for p in event.not_received)
        case ev.PaymentOrdered() | ev.PenaltyImposed() | ev.AdditionalCompensationOrdered():
            return event.amount_fen
        case ev.PaymentOrderDefaulted():
            return event.unpaid_fen
        case _:
            return None


def detail_of(event: ev.Event) -> str | None:
    """What a step says besides its amount: a reason, a finding, an order, a target (never a citizen id)."""
    match event:
        case ev.ComplaintRefused():
            return event.reason_code.value
        case ev.CaseTransferred():
            return f"{event.target.value}: {event.to}: {event.reason}"
        case ev.ReviewScheduled():
            return event.reason.value
        case ev.ReviewPassed() | ev.ReviewFailed():
            return event.findings or None
        case ev.PaymentOrderComplied() | ev.PaymentOrderDefaulted() | ev.AdditionalCompensationOrdered():
            return event.order_id
        case ev.PaymentOrdered():
            return f"{event.order_id}: {event.liable_party} by {event.due_on.isoformat()}"
        case (
            ev.LeadRouted() | ev.InvestigationExtended() | ev.PenaltyImposed() | ev.CaseWithdrawn() | ev.CaseReopened()
        ):
            return event.reason
        case ev.CaseClosed():
            return f"{event.outcome.value}: {event.reason}"
        case _:
            return None


def district_of(event: ev.Event) -> str | None:
    match event:
        case ev.LeadReceived():
            return event.received_by
        case ev.LeadReportedAgain():
            return event.received_by
        case ev.LeadRouted():
            return event.to_district
        case (
            ev.ComplaintAccepted()
            | ev.ComplaintRefused()
            | ev.CaseFiled()
            | ev.CaseClosed()
            | ev.CaseReopened()
            | ev.SupervisionOpened()
            | ev.SupervisionEscalated()
        ):
            return event.district
        case _:
            return None


def to_public(event: ev.Event, stream_id: str, *, region: str) -> Sequence[Published]:
    match event:
        case ev.LeadReceived():
            received = LeadReceivedV1(
                lead_id=event.lead_id,
                channel=event.channel.value,
                received_by=event.received_by,
                division_code=event.division_code,
                industry_code=event.industry_code,
                workers=len(event.workers),
                claimed_fen=sum(w.claimed_fen for w in event.workers),
                at=event.at,
            )
            return [Published("lead_received", received)]
        case ev.CaseClosed():
            closed = CaseClosedV1(
                case_id=event.case_id,
                district=event.district,
                outcome=event.outcome.value,
                claimed_fen=event.claimed_fen,
                paid_fen=event.paid_fen,
                at=event.at,
            )
            return [Published("case_closed", closed)]
        case ev.SupervisionOpened() | ev.SupervisionEscalated():
            supervision = SupervisionV1(
                subject_id=event.subject_id,
                stage=event.stage.value,
                district=event.district,
                level=event.level.value,
                supervisor=event.supervisor,
                at=event.at,
            )
            return [Published("supervision", supervision)]
        case _:
            step = ArrearsStepV1(
                subject_id=subject_of(event),
                step=step_of(type(event).__name__),
                district=district_of(event),
                amount_fen=amount_of(event),
                detail=detail_of(event),
                at=event.at,
            )
            return [Published("arrears_step", step)]
