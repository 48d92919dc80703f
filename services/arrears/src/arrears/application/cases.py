"""Case use cases: extension, payment orders, payments, penalties, transfer, withdrawal and closure.

Each loads the case, lets the domain decide, records the events and keeps the investigation and
payment-order timers in step (`aggregates.change_case`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from arrears.application.aggregates import Keeping, change_case
from arrears.domain import case, orders
from arrears.domain.events import PaymentOrdered
from arrears.domain.values import TransferTarget, WorkerPayment
from contracts.arrears.commands import (
    CloseCase,
    ExtendInvestigation,
    ImposePenalty,
    OrderAdditionalCompensation,
    OrderPayment,
    RecordGeneralContractorPayment,
    RecordWagesPaid,
    TransferCase,
    WithdrawCase,
    WorkerPaymentV1,
)
from runtime.eventstore import Transaction
from runtime.recording import CommandContext


def payments_of(given: Sequence[WorkerPaymentV1]) -> list[WorkerPayment]:
    return [WorkerPayment(citizen_id=p.citizen_id, amount_fen=p.amount_fen) for p in given]


def case_reply(state: case.Case) -> dict[str, Any]:
    return {
        "case_id": state.case_id,
        "status": state.status.value,
        "claimed_fen": state.claimed_fen,
        "paid_fen": state.paid_fen,
        "unpaid_fen": state.unpaid_fen,
        "review": None if state.review is None else state.review.value,
    }


async def extend_investigation(
    tx: Transaction, command: ExtendInvestigation, ctx: CommandContext, *, keep: Keeping
) -> dict[str, Any]:
    """+30 working days with approval, once: the investigation timer moves."""
    after, _ = await change_case(
        tx,
        command.case_id,
        lambda state: case.decide_extend(state, approved_by=command.approved_by, reason=command.reason, now=ctx.now),
        ctx,
        keep,
    )
    return {**case_reply(after), "working_days": after.working_days}


async def order_payment(
    tx: Transaction, command: OrderPayment, ctx: CommandContext, *, keep: Keeping
) -> dict[str, Any]:
    """责令支付 of every wage unpaid now; the order's timer fires at the end of its due day."""
    after, events = await change_case(
        tx,
        command.case_id,
        lambda state: orders.decide_order_payment(
            state,
            order_id=f"order-{len(state.orders) + 1}",
            liable_party=command.liable_party,
            due_on=command.due_on,
            now=ctx.now,
        ),
        ctx,
        keep,
    )
    ordered = next(e for e in events if isinstance(e, PaymentOrdered))
    return {**case_reply(after), "order_id": ordered.order_id, "amount_fen": ordered.amount_fen}


async def record_wages_paid(
    tx: Transaction, command: RecordWagesPaid, ctx: CommandContext, *, keep: Keeping
) -> dict[str, Any]:
    """Wages paid per worker, in part or in full; never above a claim."""
    after, _ = await change_case(
        tx,
        command.case_id,
        lambda state: orders.decide_record_payment(
            state, payer=command.payer, payments=payments_of(command.payments), now=ctx.now
        ),
        ctx,
        keep,
    )
    return case_reply(after)


async def record_general_contractor_payment(
    tx: Transaction, command: RecordGeneralContractorPayment, ctx: CommandContext, *, keep: Keeping
) -> dict[str, Any]:
    """先行清偿 after the subcontractor defaulted on the order."""
    after, _ = await change_case(
        tx,
        command.case_id,
        lambda state: orders.decide_general_contractor_pays(
            state, order_id=command.order_id, payments=payments_of(command.payments), now=ctx.now
        ),
        ctx,
        keep,
    )
    return case_reply(after)


async def impose_penalty(
    tx: Transaction, command: ImposePenalty, ctx: CommandContext, *, keep: Keeping
) -> dict[str, Any]:
    after, _ = await change_case(
        tx,
        command.case_id,
        lambda state: case.decide_impose_penalty(
            state, party=command.party, amount_fen=command.amount_fen, reason=command.reason, now=ctx.now
        ),
        ctx,
        keep,
    )
    return {**case_reply(after), "penalties_fen": after.penalties_fen}


async def order_additional_compensation(
    tx: Transaction, command: OrderAdditionalCompensation, ctx: CommandContext, *, keep: Keeping
) -> dict[str, Any]:
    """加付赔偿金: 50%-100% of the wages unpaid at the due date of an order not obeyed."""
    after, _ = await change_case(
        tx,
        command.case_id,
        lambda state: orders.decide_order_additional_compensation(
            state, order_id=command.order_id, rate=command.rate, now=ctx.now
        ),
        ctx,
        keep,
    )
    order = after.order(command.order_id)
    return {**case_reply(after), "compensation_fen": None if order is None else order.compensation_fen}


async def transfer_case(
    tx: Transaction, command: TransferCase, ctx: CommandContext, *, keep: Keeping
) -> dict[str, Any]:
    """To another department or the police: the case ends here, paid or not."""
    after, _ = await change_case(
        tx,
        command.case_id,
        lambda state: case.decide_transfer(
            state, target=TransferTarget(command.target.value), to=command.to, reason=command.reason, now=ctx.now
        ),
        ctx,
        keep,
    )
    return case_reply(after)


async def withdraw_case(
    tx: Transaction, command: WithdrawCase, ctx: CommandContext, *, keep: Keeping
) -> dict[str, Any]:
    after, _ = await change_case(
        tx, command.case_id, lambda state: case.decide_withdraw(state, reason=command.reason, now=ctx.now), ctx, keep
    )
    return case_reply(after)


async def close_case(tx: Transaction, command: CloseCase, ctx: CommandContext, *, keep: Keeping) -> dict[str, Any]:
    """结案 as paid in full; refused with the unpaid amount while any wage claimed is unpaid."""
    after, _ = await change_case(
        tx, command.case_id, lambda state: case.decide_close(state, reason=command.reason, now=ctx.now), ctx, keep
    )
    return case_reply(after)
