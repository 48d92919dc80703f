"""Review (复查) use cases: a worker disputes a closed case; the reviewer records the finding."""

from __future__ import annotations

from typing import Any

from arrears.application.aggregates import Keeping, change_case
from arrears.application.cases import case_reply, payments_of
from arrears.domain import review
from arrears.domain.errors import CaseNotFoundError, UnknownWorkerError
from contracts.arrears.commands import DisputeCase, RecordReview
from contracts.envelope import ActorKind
from runtime.eventstore import Transaction
from runtime.recording import CommandContext


async def dispute_case(tx: Transaction, command: DisputeCase, ctx: CommandContext, *, keep: Keeping) -> dict[str, Any]:
    """A worker of the closed case says the wages were not really paid: the case is reviewed.

    A worker who is not among the case's workers is told it is not found (404), as when they read
    it: the check is the case's own state, not the read model, which may lag a moment behind."""
    try:
        after, _ = await change_case(
            tx,
            command.case_id,
            lambda state: review.decide_dispute(state, citizen_id=command.citizen_id, now=ctx.now),
            ctx,
            keep,
        )
    except UnknownWorkerError:
        if ctx.actor.kind is ActorKind.CITIZEN:
            raise CaseNotFoundError from None
        raise
    return case_reply(after)


async def record_review(
    tx: Transaction, command: RecordReview, ctx: CommandContext, *, keep: Keeping
) -> dict[str, Any]:
    """Passed ends the matter; failed takes back what was not received and reopens the case (60 days anew)."""
    if command.passed:
        after, _ = await change_case(
            tx,
            command.case_id,
            lambda state: review.decide_pass_review(
                state, reviewer=command.reviewer, findings=command.findings, now=ctx.now
            ),
            ctx,
            keep,
        )
    else:
        after, _ = await change_case(
            tx,
            command.case_id,
            lambda state: review.decide_fail_review(
                state,
                reviewer=command.reviewer,
                findings=command.findings,
                now=ctx.now,
                not_received=payments_of(command.not_received),
            ),
            ctx,
            keep,
        )
    return {**case_reply(after), "reopened": after.reopened}
