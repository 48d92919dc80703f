"""Agreement institutions (协议机构): sign, suspend, reinstate, terminate; the region's registry."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from contracts.injury.commands import ReinstateAgreement, SignAgreement, SuspendAgreement, TerminateAgreement
from injury.application.ports import Recorder
from injury.domain import agreement as a
from injury.domain.errors import AgreementNotFoundError
from injury.domain.values import InstitutionKind
from runtime.eventstore import Transaction
from runtime.recording import CommandContext


def view(state: a.Agreement, on: date) -> dict[str, Any]:
    """An institution as the registry shows it: its status on `on`, every term and whether suspended."""
    return {
        "hospital_id": state.hospital_id,
        "name": state.name,
        "region": state.region,
        "kind": state.kind.value,
        "on": on.isoformat(),
        "status": a.agreement_status(state, on).value,
        "suspended": state.suspended,
        "terms": [
            {
                "valid_from": t.valid_from.isoformat(),
                "valid_to": t.valid_to.isoformat(),
                "last_day": t.last_day.isoformat(),
            }
            for t in state.terms
        ],
    }


async def _load(tx: Transaction, recorder: Recorder, hospital_id: str) -> tuple[a.Agreement, int]:
    past, version = await recorder.load(tx, a.agreement_stream(hospital_id))
    return a.fold(past), version


async def sign_agreement(
    tx: Transaction, command: SignAgreement, ctx: CommandContext, *, recorder: Recorder
) -> dict[str, Any]:
    """Sign a term with an institution of this region; the same term again changes nothing."""
    state, version = await _load(tx, recorder, command.hospital_id)
    events = a.decide_sign(
        state,
        hospital_id=command.hospital_id,
        name=command.name,
        region=ctx.region,
        kind=InstitutionKind(command.kind),
        signed_on=command.signed_on,
        valid_from=command.valid_from,
        valid_to=command.valid_to,
        now=ctx.now,
    )
    await recorder.record(tx, a.agreement_stream(command.hospital_id), version, events, ctx)
    for event in events:
        state = a.evolve(state, event)
    return view(state, ctx.today)


async def _change(
    tx: Transaction, hospital_id: str, ctx: CommandContext, recorder: Recorder, decide: Any, **rule: Any
) -> dict[str, Any]:
    state, version = await _load(tx, recorder, hospital_id)
    if not state.terms:
        raise AgreementNotFoundError(hospital_id)
    events = decide(state, now=ctx.now, **rule)
    await recorder.record(tx, a.agreement_stream(hospital_id), version, events, ctx)
    for event in events:
        state = a.evolve(state, event)
    return view(state, ctx.today)


async def suspend_agreement(
    tx: Transaction, command: SuspendAgreement, ctx: CommandContext, *, recorder: Recorder
) -> dict[str, Any]:
    """Suspend settlement from a day (a sanction); already suspended: no second effect."""
    return await _change(
        tx,
        command.hospital_id,
        ctx,
        recorder,
        a.decide_suspend,
        effective_from=command.effective_from,
        reason=command.reason,
    )


async def reinstate_agreement(
    tx: Transaction, command: ReinstateAgreement, ctx: CommandContext, *, recorder: Recorder
) -> dict[str, Any]:
    """Lift the open suspension from a day on."""
    return await _change(
        tx, command.hospital_id, ctx, recorder, a.decide_reinstate, effective_from=command.effective_from
    )


async def terminate_agreement(
    tx: Transaction, command: TerminateAgreement, ctx: CommandContext, *, recorder: Recorder
) -> dict[str, Any]:
    """End the current term: no settlement for service on or after the day."""
    return await _change(
        tx,
        command.hospital_id,
        ctx,
        recorder,
        a.decide_terminate,
        effective_from=command.effective_from,
        reason=command.reason,
    )


async def registry(tx: Transaction, hospital_ids: Iterable[str], on: date, *, recorder: Recorder) -> list[Any]:
    """Every institution of the region with its agreement status on `on`, active ones first."""
    states = [(await _load(tx, recorder, hospital_id))[0] for hospital_id in hospital_ids]
    listed = [view(s, on) for s in states if s.terms]
    return sorted(listed, key=lambda v: (v["status"] != "active", v["hospital_id"]))
