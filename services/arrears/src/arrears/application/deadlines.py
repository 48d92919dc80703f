"""A durable timer came due: supervision (督办) of a stage past its limit, or a payment order's due day."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from arrears.application.aggregates import ORDER_DUE, Keeping, change_case, change_lead
from arrears.domain import case, lead, orders
from arrears.domain.values import Stage
from runtime.eventstore import Transaction
from runtime.recording import CommandContext

LEAD_STREAM = lead.lead_stream("")
CASE_STREAM = case.case_stream("")


async def deadline_passed(
    tx: Transaction,
    stream_id: str,
    kind: str,
    payload: dict[str, Any],
    due_at: datetime,
    ctx: CommandContext,
    *,
    keep: Keeping,
) -> None:
    """Hand the due instant back to the domain; a stale timer (answered, routed on, closed) decides nothing."""
    if stream_id.startswith(LEAD_STREAM):
        stage = Stage(payload["stage"])
        await change_lead(
            tx,
            stream_id.removeprefix(LEAD_STREAM),
            lambda state: lead.decide_deadline(state, stage=stage, due_at=due_at, now=ctx.now),
            ctx,
            keep,
        )
    elif kind.startswith(ORDER_DUE):
        await change_case(
            tx,
            stream_id.removeprefix(CASE_STREAM),
            lambda state: orders.decide_order_due(state, order_id=payload["order_id"], now=ctx.now),
            ctx,
            keep,
        )
    else:
        stage = Stage(payload["stage"])
        await change_case(
            tx,
            stream_id.removeprefix(CASE_STREAM),
            lambda state: case.decide_deadline(state, stage=stage, due_at=due_at, now=ctx.now),
            ctx,
            keep,
        )
