"""Employer use cases: zero-touch feed, manual registration, risk class, registration deadline."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from contracts.enrolment.commands import (
    ApproveHeldRegistration,
    AssignInjuryClass,
    ImportMarketRegistration,
    RegisterEmployer,
)
from contracts.identifiers import credit_code_check_character_ok
from enrolment.application.ports import Deadlines, RateBook, Recorder
from enrolment.domain.errors import EmployerNotHeldError
from enrolment.domain.events import (
    EmployerRegistered,
    InjuryClassMatched,
    InjuryClassNeedsReview,
    MarketRegistrationHeld,
)
from enrolment.domain.model import (
    decide_assign_injury_class,
    decide_import_market_registration,
    decide_register_employer,
    decide_registration_deadline_passed,
    employer_stream,
    fold,
    registration_due,
)
from enrolment.domain.values import Route
from runtime.eventstore import Transaction
from runtime.recording import CommandContext

REGISTRATION_DEADLINE = "employer_registration"


def _outcome(events: list[Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"outcome": "unchanged"}
    for event in events:
        match event:
            case MarketRegistrationHeld():
                result.update(outcome="held_for_review", reason=event.reason)
            case EmployerRegistered():
                result.update(outcome="registered", registered_at=event.registered_at.isoformat())
            case InjuryClassMatched():
                result.update(risk_class=event.risk_class, tier=str(event.tier), injury_rate=str(event.rate))
            case InjuryClassNeedsReview():
                result.update(risk_class=None, needs_review=event.reason)
    return result


async def _follow_deadline(
    tx: Transaction, history: list[Any], events: list[Any], stream: str, deadlines: Deadlines, established_on: Any
) -> None:
    """A held feed record starts the 30-day registration deadline; registering it cancels that
    (an employer never held has no deadline to cancel, and no statement is spent on it)."""
    if any(isinstance(e, MarketRegistrationHeld) for e in events):
        await deadlines.schedule(
            tx, stream_id=stream, kind=REGISTRATION_DEADLINE, basis=established_on, calendar_days=30, payload={}
        )
    held = any(isinstance(e, MarketRegistrationHeld) for e in (*history, *events))
    if held and any(isinstance(e, EmployerRegistered) for e in events):
        await deadlines.cancel(tx, stream_id=stream, kind=REGISTRATION_DEADLINE)


async def import_market_registration(
    tx: Transaction,
    command: ImportMarketRegistration,
    ctx: CommandContext,
    *,
    recorder: Recorder,
    rates: RateBook,
    deadlines: Deadlines,
) -> dict[str, Any]:
    """Zero touch: a valid feed record registers the employer at once; a bad check character goes to review."""
    stream = employer_stream(command.credit_code)
    history, version = await recorder.load(tx, stream, presumed_new=True)  # usually a new employer
    events = decide_import_market_registration(
        fold(history),
        credit_code=command.credit_code,
        check_character_ok=credit_code_check_character_ok(command.credit_code),
        name=command.name,
        division_code=command.division_code,
        industry_code=command.industry_code,
        established_on=command.established_on,
        rates=rates.for_year(ctx.today.year),
        now=ctx.now,
        today=ctx.today,
    )
    feed_ctx = replace(
        ctx, extra={"market_registered_at": command.market_registered_at.isoformat(), "record_id": command.record_id}
    )
    await recorder.record(tx, stream, version, events, feed_ctx)
    await _follow_deadline(tx, history, events, stream, deadlines, command.established_on)
    return {"employer_id": stream, **_outcome(events)}


async def register_employer(
    tx: Transaction,
    command: RegisterEmployer,
    ctx: CommandContext,
    *,
    recorder: Recorder,
    rates: RateBook,
    deadlines: Deadlines,
) -> dict[str, Any]:
    """Register an employer at a counter: refused if already registered; a held feed record is registered."""
    stream = employer_stream(command.credit_code)
    history, version = await recorder.load(tx, stream, presumed_new=True)  # usually a new employer
    events = decide_register_employer(
        fold(history),
        credit_code=command.credit_code,
        name=command.name,
        division_code=command.division_code,
        industry_code=command.industry_code,
        established_on=command.established_on,
        route=Route.MANUAL,
        now=ctx.now,
        today=ctx.today,
        rates=rates.for_year(ctx.today.year),
    )
    await recorder.record(tx, stream, version, events, ctx)
    await _follow_deadline(tx, history, events, stream, deadlines, command.established_on)
    return {"employer_id": stream, **_outcome(events)}


async def approve_held_registration(
    tx: Transaction,
    command: ApproveHeldRegistration,
    ctx: CommandContext,
    *,
    recorder: Recorder,
    rates: RateBook,
    deadlines: Deadlines,
) -> dict[str, Any]:
    """A clerk confirms a held feed record (a real code can fail its check character): registered zero-touch."""
    stream = employer_stream(command.credit_code)
    history, version = await recorder.load(tx, stream)
    state = fold(history)
    if not state.held or state.established_on is None:
        raise EmployerNotHeldError(command.credit_code)
    events = decide_register_employer(
        state,
        credit_code=state.credit_code,
        name=state.name,
        division_code=state.division_code,
        industry_code=state.industry_code,
        established_on=state.established_on,
        route=Route.ZERO_TOUCH,
        now=ctx.now,
        today=ctx.today,
        rates=rates.for_year(ctx.today.year),
    )
    await recorder.record(tx, stream, version, events, ctx)
    await _follow_deadline(tx, history, events, stream, deadlines, state.established_on)
    return {"employer_id": stream, **_outcome(events)}


async def assign_injury_class(
    tx: Transaction, command: AssignInjuryClass, ctx: CommandContext, *, recorder: Recorder, rates: RateBook
) -> dict[str, Any]:
    """An operator settles the risk class and tier; the rate follows from the region's table."""
    stream = employer_stream(command.credit_code)
    history, version = await recorder.load(tx, stream)
    events = decide_assign_injury_class(
        fold(history),
        risk_class=command.risk_class,
        tier=command.tier,
        rates=rates.for_year(ctx.today.year),
        assigned_by=ctx.actor.id,
        now=ctx.now,
    )
    await recorder.record(tx, stream, version, events, ctx)
    rate = getattr(events[0], "rate", None) if events else None
    return {
        "employer_id": stream,
        "risk_class": command.risk_class,
        "tier": str(command.tier),
        "injury_rate": str(rate),
    }


async def registration_deadline_passed(
    tx: Transaction, stream: str, due_on: Any, ctx: CommandContext, *, recorder: Recorder
) -> None:
    history, version = await recorder.load(tx, stream)
    events = decide_registration_deadline_passed(fold(history), due_on=due_on, now=ctx.now)
    await recorder.record(tx, stream, version, events, ctx)


__all__ = ["registration_due"]
