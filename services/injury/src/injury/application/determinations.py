"""Determinations (工伤认定): apply, accept, decide, each stage with its legal limit as a durable timer.

The application starts the acceptance timer (15 calendar days); acceptance cancels it and starts
the decision timer (60 days, 15 when the facts are clear); the decision cancels both. A timer that
fires on a stage still open records the breach (for supervision).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.injury.commands import AcceptDetermination, ApplyForDetermination, DecideDetermination
from injury.application.ports import Deadlines, Recorder
from injury.domain import determination as d
from injury.domain.errors import DeterminationNotFoundError
from injury.domain.events import Event
from injury.domain.values import Applicant, DeterminationStage
from runtime.eventstore import Transaction
from runtime.recording import CommandContext
from runtime.workdays import local_date

DEADLINE = "determination"


def deadline_kind(stage: DeterminationStage) -> str:
    return f"{DEADLINE}:{stage.value}"


def _iso(at: Any) -> str | None:
    return None if at is None else str(at.isoformat())


def view(state: d.Determination) -> dict[str, Any]:
    """A determination without the worker's ID number (replies are logged by clients)."""
    stage = d.open_stage(state)
    return {
        "determination_id": state.determination_id,
        "status": state.status.value,
        "employer_id": state.employer_id,
        "region": state.region,
        "injury_date": _iso(state.injury_date),
        "applicant": state.applicant.value,
        "applied_at": _iso(state.applied_at),
        "accepted_at": _iso(state.accepted_at),
        "facts_clear": state.facts_clear,
        "decided_at": _iso(state.decided_at),
        "denial_reason": state.denial_reason or None,
        "open_stage": None if stage is None else stage.value,
        "stage_limit_days": None if stage is None else d.stage_limit_days(state, stage),
        "breached": sorted(s.value for s in state.breached),
    }


async def _load(tx: Transaction, recorder: Recorder, determination_id: str) -> tuple[d.Determination, int]:
    past, version = await recorder.load(tx, d.determination_stream(determination_id))
    return d.fold(past), version


async def _record(
    tx: Transaction,
    recorder: Recorder,
    determination_id: str,
    state: d.Determination,
    version: int,
    events: list[Event],
    ctx: CommandContext,
) -> d.Determination:
    await recorder.record(tx, d.determination_stream(determination_id), version, events, ctx)
    for event in events:
        state = d.evolve(state, event)
    return state


async def _start(tx: Transaction, deadlines: Deadlines, state: d.Determination, stage: DeterminationStage) -> None:
    """The stage's clock runs from its start (the application, the acceptance) in calendar days."""
    started = d.stage_started_at(state, stage)
    if started is None:
        raise ValueError(f"the {stage} stage of {state.determination_id} has not started")
    await deadlines.schedule(
        tx,
        stream_id=d.determination_stream(state.determination_id),
        kind=deadline_kind(stage),
        basis=local_date(started),
        calendar_days=d.stage_limit_days(state, stage),
        payload={"stage": stage.value},
    )


async def apply_for_determination(
    tx: Transaction, command: ApplyForDetermination, ctx: CommandContext, *, recorder: Recorder, deadlines: Deadlines
) -> dict[str, Any]:
    """Record the application; the department must accept within 15 days."""
    state, version = await _load(tx, recorder, command.determination_id)
    events = d.decide_apply(
        state,
        determination_id=command.determination_id,
        citizen_id=command.citizen_id,
        employer_id=command.employer_id,
        region=ctx.region,
        injury_date=command.injury_date,
        applicant=Applicant(command.applicant),
        now=ctx.now,
        today=ctx.today,
    )
    state = await _record(tx, recorder, command.determination_id, state, version, events, ctx)
    if events:
        await _start(tx, deadlines, state, DeterminationStage.ACCEPTANCE)
    return view(state)


async def accept_determination(
    tx: Transaction, command: AcceptDetermination, ctx: CommandContext, *, recorder: Recorder, deadlines: Deadlines
) -> dict[str, Any]:
    """Accept the application: the decision is due in 60 days, 15 when the facts are clear."""
    state, version = await _load(tx, recorder, command.determination_id)
    events = d.decide_accept(state, facts_clear=command.facts_clear, now=ctx.now)
    state = await _record(tx, recorder, command.determination_id, state, version, events, ctx)
    if events:
        stream = d.determination_stream(state.determination_id)
        await deadlines.cancel(tx, stream_id=stream, kind=deadline_kind(DeterminationStage.ACCEPTANCE))
        await _start(tx, deadlines, state, DeterminationStage.DECISION)
    return view(state)


async def decide_determination(
    tx: Transaction, command: DecideDetermination, ctx: CommandContext, *, recorder: Recorder, deadlines: Deadlines
) -> dict[str, Any]:
    """Recognise the injury (the worker's held settlements are then re-settled) or deny it, with the reason."""
    state, version = await _load(tx, recorder, command.determination_id)
    if command.outcome == "recognised":
        events = d.decide_recognise(state, now=ctx.now)
    else:
        events = d.decide_deny(state, reason=command.reason or "", now=ctx.now)
    state = await _record(tx, recorder, command.determination_id, state, version, events, ctx)
    if events:
        stream = d.determination_stream(state.determination_id)
        for stage in DeterminationStage:
            await deadlines.cancel(tx, stream_id=stream, kind=deadline_kind(stage))
    return view(state)


async def stage_deadline_passed(
    tx: Transaction, stream: str, stage: str, due_at: datetime, ctx: CommandContext, *, recorder: Recorder
) -> None:
    """A stage's timer fired: still open, it is breached (once)."""
    past, version = await recorder.load(tx, stream)
    events = d.decide_deadline(d.fold(past), stage=DeterminationStage(stage), due_at=due_at, now=ctx.now)
    await recorder.record(tx, stream, version, events, ctx)


async def get_determination(tx: Transaction, determination_id: str, *, recorder: Recorder) -> dict[str, Any]:
    state, _ = await _load(tx, recorder, determination_id)
    if not state.determination_id:
        raise DeterminationNotFoundError()
    return view(state)
