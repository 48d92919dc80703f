"""The state of one encounter's settlement and its folding (stream settlement-<hospital_id>-<no>)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from typing import assert_never

from injury.domain.events import (
    AgreementEvent,
    CatalogueEvent,
    DeterminationEvent,
    Event,
    LinesRejected,
    SettlementHeldAsSelfPay,
    SettlementPosted,
    SettlementResettled,
    SettlementReversed,
)
from injury.domain.values import HoldReason, Posting, PricedLine, SettlementStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class Settlement:
    """`determination_ref` is what the hospital posted; `determination_id` the recognised
    determination the network settled under (empty while held or never recognised)."""

    hospital_id: str = ""
    region: str = ""
    hospital_settlement_no: str = ""
    citizen_id: str = ""
    determination_ref: str = ""
    determination_id: str = ""
    service_date: date | None = None
    lines: tuple[PricedLine, ...] = ()
    status: SettlementStatus = SettlementStatus.NONE
    total_fen: int = 0
    fund_fen: int = 0
    self_pay_fen: int = 0
    hold_reason: HoldReason | None = None
    reversal_reason: str = ""
    rejected_postings: int = 0


def settlement_stream(hospital_id: str, hospital_settlement_no: str) -> str:
    """One stream per hospital and number; hospital ids carry no "-", so no two pairs share a name."""
    return f"settlement-{hospital_id}-{hospital_settlement_no}"


def _posted(state: Settlement, event: SettlementPosted | SettlementHeldAsSelfPay) -> Settlement:
    return replace(
        state,
        hospital_id=event.hospital_id,
        region=event.region,
        hospital_settlement_no=event.hospital_settlement_no,
        citizen_id=event.citizen_id,
        determination_ref=event.determination_ref,
        service_date=event.service_date,
        lines=event.lines,
        total_fen=event.total_fen,
    )


def evolve(state: Settlement, event: Event) -> Settlement:
    match event:
        case SettlementPosted():
            return replace(
                _posted(state, event),
                status=SettlementStatus.SETTLED,
                determination_id=event.determination_ref,
                fund_fen=event.fund_fen,
                self_pay_fen=event.self_pay_fen,
            )
        case SettlementHeldAsSelfPay():
            return replace(
                _posted(state, event),
                status=SettlementStatus.HELD,
                fund_fen=0,
                self_pay_fen=event.total_fen,
                hold_reason=event.reason,
            )
        case SettlementResettled():
            return replace(
                state,
                status=SettlementStatus.RESETTLED,
                determination_id=event.determination_id,
                fund_fen=event.fund_fen,
                self_pay_fen=event.self_pay_fen,
                hold_reason=None,
            )
        case SettlementReversed():
            return replace(state, status=SettlementStatus.REVERSED, reversal_reason=event.reason)
        case LinesRejected():
            return replace(state, rejected_postings=state.rejected_postings + 1)
        case _ if isinstance(event, DeterminationEvent | AgreementEvent | CatalogueEvent):
            return state  # another aggregate's event
        case _:
            assert_never(event)


def fold(events: Iterable[Event]) -> Settlement:
    state = Settlement()
    for event in events:
        state = evolve(state, event)
    return state


def same_posting(state: Settlement, posting: Posting) -> bool:
    """Whether `posting` repeats what was settled, line for line (a retry, not a new encounter)."""
    posted = (state.hospital_id, state.citizen_id, state.determination_ref, state.service_date, state.total_fen)
    again = (
        posting.hospital_id,
        posting.citizen_id,
        posting.determination_ref,
        posting.service_date,
        posting.declared_total_fen,
    )
    return posted == again and tuple(line.as_posted() for line in state.lines) == posting.lines
