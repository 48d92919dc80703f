"""Settlements (联网结算): post an encounter, reverse it, re-settle it after a late determination.

The hospital's settlement number is the idempotency key: the stream is named after the hospital and
the number, so a retry, however late, finds the settlement and is answered with its first result
and pays nothing twice; other content under the same number is a conflict. Lines that cannot be
priced are refused, each named, and the refusal is recorded (LinesRejected) so rejected lines count
by reason; the number stays free for the corrected posting. Without a recognised determination the
encounter is held as self-pay; `when_determination_recognised_resettle` settles it through the
network once the injury is recognised (补结算).
"""

from __future__ import annotations

import logging
from typing import Any

from contracts.injury.commands import PostSettlement, ResettleSettlement, ReverseSettlement
from injury.application.ports import Catalogues, People, Recorder, SettlementIndex
from injury.domain import agreement, determination
from injury.domain import settlement as s
from injury.domain.errors import (
    DeterminationNotFoundError,
    InjuryError,
    SettlementNotFoundError,
    SettlementRejectedError,
)
from injury.domain.events import Event, SettlementHeldAsSelfPay, SettlementPosted
from injury.domain.values import PostedLine, Posting, SettlementStatus
from runtime.commands import presume_new
from runtime.eventstore import Transaction
from runtime.recording import CommandContext

log = logging.getLogger(__name__)


def posting_of(command: PostSettlement) -> Posting:
    lines = tuple(
        PostedLine(
            line_no=line.line_no,
            item_code=line.item_code,
            quantity=line.quantity,
            unit_price_fen=line.unit_price_fen,
            amount_fen=line.amount_fen,
        )
        for line in command.lines
    )
    return Posting(
        hospital_id=command.hospital_id,
        hospital_settlement_no=command.hospital_settlement_no,
        citizen_id=command.citizen_id,
        determination_ref=command.determination_ref,
        service_date=command.service_date,
        lines=lines,
        declared_total_fen=command.declared_total_fen,
    )


def view(state: s.Settlement) -> dict[str, Any]:
    """A settlement as the hospital, an operator or the worker reads it (no ID number)."""
    return {
        "settlement_id": s.settlement_stream(state.hospital_id, state.hospital_settlement_no),
        "hospital_id": state.hospital_id,
        "hospital_settlement_no": state.hospital_settlement_no,
        "status": state.status.value,
        "hold_reason": None if state.hold_reason is None else state.hold_reason.value,
        "determination_id": state.determination_id or None,
        "service_date": None if state.service_date is None else state.service_date.isoformat(),
        "total_fen": state.total_fen,
        "fund_fen": state.fund_fen,
        "self_pay_fen": state.self_pay_fen,
        "lines": [
            {
                "line_no": line.line_no,
                "item_code": line.item_code,
                "kind": line.kind.value,
                "category": line.category.value,
                "catalogue_version": line.catalogue_version,
                "catalogue_price_fen": line.catalogue_price_fen,
                "quantity": str(line.quantity),
                "unit_price_fen": line.unit_price_fen,
                "amount_fen": line.amount_fen,
                "fund_fen": line.fund_fen,
                "self_pay_fen": line.self_pay_fen,
            }
            for line in state.lines
        ],
    }


def first_result(events: list[Event]) -> dict[str, Any]:
    """What the first posting was answered: every retry of it gets exactly this."""
    first = next(e for e in events if isinstance(e, SettlementPosted | SettlementHeldAsSelfPay))
    return view(s.fold([first]))


async def _determination(tx: Transaction, recorder: Recorder, ref: str) -> determination.Determination | None:
    if not ref:
        return None
    past, _ = await recorder.load(tx, determination.determination_stream(ref))
    return determination.fold(past) if past else None


async def post_settlement(
    tx: Transaction,
    command: PostSettlement,
    ctx: CommandContext,
    *,
    recorder: Recorder,
    catalogues: Catalogues,
    index: SettlementIndex,
    people: People,
) -> dict[str, Any]:
    """Price and settle a posted encounter; a retry of it returns the first result.

    A hold must not slip past a recognition landing meanwhile (its re-settlement looks for holds
    under the worker's lock), so a hold is decided again under that lock, on fresh reads. A
    settlement through the network needs no lock: a recognised injury stays recognised. The
    usual posting is then one read and one write, no transaction opened."""
    posting = posting_of(command)
    person_ref = people.ref(posting.citizen_id)
    stream = s.settlement_stream(posting.hospital_id, posting.hospital_settlement_no)
    hospital_stream = agreement.agreement_stream(posting.hospital_id)
    recognised = determination.determination_stream(posting.determination_ref) if posting.determination_ref else None
    others = [hospital_stream, *([recognised] if recognised else [])]
    locked = False
    while True:
        # Usually no read at all: a new number, on the agreement, determination and catalogue kept
        # from earlier settlements, the append's statement checking that none of them moved since.
        # Else the settlement, the agreement, the determination and what the catalogue published
        # since the version kept, in one round trip.
        kept = not locked and catalogues.keeps(others) and presume_new(stream)  # the first attempt only
        taken = catalogues.kept_with(tx, others) if kept else None
        if taken is not None:
            catalogue, loaded = taken[0], {**taken[1], stream: ([], 0)}
        else:
            catalogue, loaded = await catalogues.read_with(tx, [stream, *others], keep=others)
        past, version = loaded[stream]
        state = s.fold(past)
        recognition, _ = loaded[recognised] if recognised else ([], 0)
        try:
            events = s.decide_settle(
                state,
                posting=posting,
                agreement=agreement.fold(loaded[hospital_stream][0]),
                catalogue=catalogue,
                determination=determination.fold(recognition) if recognition else None,
                now=ctx.now,
            )
        except SettlementRejectedError as refused:
            # The refusal is a fact too: it commits with the refusal reply, so rejected lines count by reason.
            rejected = s.decide_reject(
                state, posting=posting, rejections=refused.rejections, region=ctx.region, now=ctx.now
            )
            await recorder.record(tx, stream, version, rejected, ctx)
            raise
        if locked or not any(isinstance(e, SettlementHeldAsSelfPay) for e in events):
            break
        await index.lock_person(tx, person_ref)  # a recognition landing meanwhile then finds this hold
        locked = True
    if events:
        await recorder.record(tx, stream, version, events, ctx)
        # The index row goes with the events and the reply, in one statement at the commit.
        await index.add(
            tx,
            stream_id=stream,
            hospital_id=posting.hospital_id,
            hospital_settlement_no=posting.hospital_settlement_no,
            service_date=posting.service_date,
            person_ref=person_ref,
            determination_ref=posting.determination_ref,
        )
    return first_result([*past, *events])


async def _settlement(tx: Transaction, recorder: Recorder, hospital_id: str, number: str) -> tuple[s.Settlement, int]:
    past, version = await recorder.load(tx, s.settlement_stream(hospital_id, number))
    state = s.fold(past)
    if state.status is SettlementStatus.NONE:
        raise SettlementNotFoundError(number)
    return state, version


async def _record(
    tx: Transaction, recorder: Recorder, state: s.Settlement, version: int, events: list[Event], ctx: CommandContext
) -> s.Settlement:
    await recorder.record(
        tx, s.settlement_stream(state.hospital_id, state.hospital_settlement_no), version, events, ctx
    )
    for event in events:
        state = s.evolve(state, event)
    return state


async def reverse_settlement(
    tx: Transaction, command: ReverseSettlement, ctx: CommandContext, *, recorder: Recorder
) -> dict[str, Any]:
    """Undo a settlement (held or through the network) with a written reason; once."""
    state, version = await _settlement(tx, recorder, command.hospital_id, command.hospital_settlement_no)
    events = s.decide_reverse(state, reason=command.reason, now=ctx.now)
    return view(await _record(tx, recorder, state, version, events, ctx))


async def resettle_settlement(
    tx: Transaction, command: ResettleSettlement, ctx: CommandContext, *, recorder: Recorder
) -> dict[str, Any]:
    """Re-settle a held settlement under a recognised determination the worker shows (补结算)."""
    state, version = await _settlement(tx, recorder, command.hospital_id, command.hospital_settlement_no)
    found = await _determination(tx, recorder, command.determination_id)
    if found is None:
        raise DeterminationNotFoundError()
    events = s.decide_resettle(state, determination=found, now=ctx.now)
    return view(await _record(tx, recorder, state, version, events, ctx))


async def when_determination_recognised_resettle(
    tx: Transaction,
    determination_id: str,
    ctx: CommandContext,
    *,
    recorder: Recorder,
    index: SettlementIndex,
    people: People,
) -> int:
    """A recognised injury re-settles the worker's held settlements through the network: those posted
    under this determination, and those posted with none shown. Each once; returns how many."""
    found = await _determination(tx, recorder, determination_id)
    if found is None or not found.recognised:
        return 0
    person_ref = people.ref(found.citizen_id)
    await index.lock_person(tx, person_ref)
    resettled = 0
    for stream in await index.of_person(tx, person_ref, determination_id):
        past, version = await recorder.load(tx, stream)
        state = s.fold(past)
        if state.status is not SettlementStatus.HELD:
            continue
        try:
            events = s.decide_resettle(state, determination=found, now=ctx.now)
        except InjuryError as refused:  # e.g. treatment before the injury: it stays held for an operator
            log.info("held settlement not re-settled", extra={"settlement": stream, "why": type(refused).__name__})
            continue
        await recorder.record(tx, stream, version, events, ctx)
        resettled += len(events)
    return resettled


async def get_settlement(tx: Transaction, hospital_id: str, number: str, *, recorder: Recorder) -> dict[str, Any]:
    """A settlement as it stands now (held, settled, re-settled or reversed)."""
    state, _ = await _settlement(tx, recorder, hospital_id, number)
    return view(state)
