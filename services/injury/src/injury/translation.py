"""Private injury events -> public events on this region's stream (no citizen ID number leaves).

A settlement posted (through the network or held) is the service handled for the worker; a
decided determination is what the re-settlement policy listens for.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.injury.events import (
    DeterminationDecidedV1,
    SettlementPostedV1,
    SettlementResettledV1,
    SettlementReversedV1,
)
from injury.domain import events as ev
from runtime.recording import Published

SETTLEMENT_POSTED = "settlement_posted"
DETERMINATION_DECIDED = "determination_decided"


def _posted(
    event: ev.SettlementPosted | ev.SettlementHeldAsSelfPay,
    stream_id: str,
    region: str,
    *,
    fund_fen: int,
    self_pay_fen: int,
    held: str | None = None,
) -> Published:
    posted = SettlementPostedV1(
        settlement_id=stream_id,
        hospital_id=event.hospital_id,
        hospital_settlement_no=event.hospital_settlement_no,
        region=region,
        service_date=event.service_date,
        status="settled" if held is None else "held",
        hold_reason=held,
        total_fen=event.total_fen,
        fund_fen=fund_fen,
        self_pay_fen=self_pay_fen,
        at=event.at,
    )
    return Published(SETTLEMENT_POSTED, posted)


def to_public(event: ev.Event, stream_id: str, *, region: str) -> Sequence[Published]:
    match event:
        case ev.SettlementPosted():
            return [_posted(event, stream_id, region, fund_fen=event.fund_fen, self_pay_fen=event.self_pay_fen)]
        case ev.SettlementHeldAsSelfPay():
            return [
                _posted(event, stream_id, region, fund_fen=0, self_pay_fen=event.total_fen, held=event.reason.value)
            ]
        case ev.SettlementResettled():
            resettled = SettlementResettledV1(
                settlement_id=stream_id,
                hospital_id=event.hospital_id,
                hospital_settlement_no=event.hospital_settlement_no,
                region=region,
                determination_id=event.determination_id,
                service_date=event.service_date,
                total_fen=event.total_fen,
                fund_fen=event.fund_fen,
                self_pay_fen=event.self_pay_fen,
                at=event.at,
            )
            return [Published("settlement_resettled", resettled)]
        case ev.SettlementReversed():
            reversed_ = SettlementReversedV1(
                settlement_id=stream_id,
                hospital_id=event.hospital_id,
                hospital_settlement_no=event.hospital_settlement_no,
                region=region,
                service_date=event.service_date,
                total_fen=event.total_fen,
                fund_fen=event.fund_fen,
                self_pay_fen=event.self_pay_fen,
                reason=event.reason,
                at=event.at,
            )
            return [Published("settlement_reversed", reversed_)]
        case ev.DeterminationRecognised() | ev.DeterminationDenied():
            outcome = "recognised" if isinstance(event, ev.DeterminationRecognised) else "denied"
            decided = DeterminationDecidedV1(
                determination_id=event.determination_id, region=region, outcome=outcome, at=event.at
            )
            return [Published(DETERMINATION_DECIDED, decided)]
        case _:
            return []
