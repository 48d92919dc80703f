"""Policies fed by the service's own public events: a recognised injury re-settles held settlements.

The consumer applies each decision in one transaction with its inbox mark; a redelivery, or a
second replica, finds the mark (or the settlements already re-settled) and does nothing twice.
"""

from __future__ import annotations

from pydantic import ValidationError

from contracts.codec import decode
from contracts.envelope import SYSTEM_ACTOR, Channel
from contracts.injury.events import DeterminationDecidedV1
from injury.application import settlements
from injury.application.ports import People, Recorder, SettlementIndex
from runtime.clock import Clock
from runtime.eventstore import Transaction
from runtime.messaging import ConsumerSpec, Delivery, PoisonMessageError
from runtime.recording import CommandContext
from runtime.tracing import current_traceparent


def resettlement_consumer(
    durable: str,
    stream: str,
    subject: str,
    clock: Clock,
    *,
    recorder: Recorder,
    index: SettlementIndex,
    people: People,
) -> ConsumerSpec:
    """`when_determination_recognised_resettle` for every determination decided in this region."""

    async def apply(tx: Transaction, delivery: Delivery) -> None:
        try:
            decided = decode(delivery.data, DeterminationDecidedV1)
        except ValidationError as error:
            raise PoisonMessageError(f"not a decided determination: {error.error_count()} errors") from error
        if decided.data.outcome != "recognised":
            return
        ctx = CommandContext(
            command_id=delivery.message_id,
            correlation_id=decided.correlationid,
            causation_id=decided.id,
            actor=SYSTEM_ACTOR,
            channel=Channel.SYSTEM,
            region=decided.region,
            now=clock.now(),
            traceparent=current_traceparent(),
        )
        await settlements.when_determination_recognised_resettle(
            tx, decided.data.determination_id, ctx, recorder=recorder, index=index, people=people
        )

    return ConsumerSpec(durable, stream, (subject,), apply)
