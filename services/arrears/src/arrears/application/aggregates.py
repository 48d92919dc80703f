"""Load a lead or case, decide, record, and keep its durable timers in step, in one transaction.

The domain says which timer a lead or case needs now (`pending_timer`); after each decision the
timer needed before is cancelled and the one needed after is scheduled when they differ. A case
also needs one timer per open payment order (its due day). Closing a case draws the review sample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from arrears.domain import case, lead
from arrears.domain.deadlines import Timer
from arrears.domain.events import Event
from arrears.domain.review import decide_sample_review
from arrears.domain.values import CaseStatus, OrderStatus, beijing_date
from runtime.deadlines import Deadlines
from runtime.eventstore import Transaction
from runtime.recording import CommandContext, Recorder

STAGE = "stage"
ORDER_DUE = "order_due"

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class Keeping:
    """What every decision needs besides its own inputs."""

    recorder: Recorder
    deadlines: Deadlines
    review_sample_percent: int = 10


def stage_kind(timer: Timer) -> str:
    return f"{STAGE}:{timer.stage.value}"


def order_kind(order_id: str) -> str:
    return f"{ORDER_DUE}:{order_id}"


async def change_lead(
    tx: Transaction,
    lead_id: str,
    decide: Callable[[lead.Lead], list[Event]],
    ctx: CommandContext,
    keep: Keeping,
    *,
    presumed_new: bool = False,
) -> tuple[lead.Lead, list[Event]]:
    """Decide on the lead; `presumed_new`: a lead this decision usually starts (see `runtime.commands`)."""
    stream = lead.lead_stream(lead_id)
    past, version = await keep.recorder.load(tx, stream, presumed_new=presumed_new)
    before = lead.fold(past)
    events = decide(before)
    after = _fold_on(before, events, lead.evolve)
    await keep.recorder.record(tx, stream, version, events, ctx)
    await _follow(tx, keep.deadlines, stream, lead.pending_timer(before), lead.pending_timer(after))
    return after, events


async def change_case(
    tx: Transaction,
    case_id: str,
    decide: Callable[[case.Case], list[Event]],
    ctx: CommandContext,
    keep: Keeping,
    *,
    presumed_new: bool = False,
) -> tuple[case.Case, list[Event]]:
    """Decide on the case; a decision that closes it also draws the review sample (复查).
    `presumed_new`: a case this decision usually files (see `runtime.commands`)."""
    stream = case.case_stream(case_id)
    past, version = await keep.recorder.load(tx, stream, presumed_new=presumed_new)
    before = case.fold(past)
    events = decide(before)
    after = _fold_on(before, events, case.evolve)
    if before.under_investigation and after.status is CaseStatus.CLOSED:
        sampled = decide_sample_review(after, sample_percent=keep.review_sample_percent, now=ctx.now)
        events, after = [*events, *sampled], _fold_on(after, sampled, case.evolve)
    await keep.recorder.record(tx, stream, version, events, ctx)
    await _follow(tx, keep.deadlines, stream, case.pending_timer(before), case.pending_timer(after))
    await _follow_orders(tx, keep.deadlines, stream, before, after)
    return after, events


def _fold_on(state: S, events: list[Event], evolve: Callable[[S, Event], S]) -> S:
    for event in events:
        state = evolve(state, event)
    return state


async def _follow(
    tx: Transaction, deadlines: Deadlines, stream: str, before: Timer | None, after: Timer | None
) -> None:
    if before == after:
        return
    if before is not None:
        await deadlines.cancel(tx, stream_id=stream, kind=stage_kind(before))
    if after is not None:
        await deadlines.schedule(
            tx,
            stream_id=stream,
            kind=stage_kind(after),
            basis=beijing_date(after.basis),
            working_days=after.working_days,
            payload={"stage": after.stage.value, "escalation": after.escalation},
        )


async def _follow_orders(
    tx: Transaction, deadlines: Deadlines, stream: str, before: case.Case, after: case.Case
) -> None:
    """An order's timer runs from its issue to the end of its due day, while the order and the case are open."""
    for order in after.orders:
        was = before.order(order.order_id)
        waiting_before = was is not None and was.status is OrderStatus.OPEN and before.under_investigation
        waiting_after = order.status is OrderStatus.OPEN and after.under_investigation
        if waiting_before and not waiting_after:
            await deadlines.cancel(tx, stream_id=stream, kind=order_kind(order.order_id))
        elif waiting_after and not waiting_before:
            await deadlines.schedule(
                tx,
                stream_id=stream,
                kind=order_kind(order.order_id),
                basis=order.due_on - timedelta(days=1),
                calendar_days=1,
                payload={"order_id": order.order_id},
            )
