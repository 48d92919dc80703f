"""This region's transfer inbox: letters, sheets and funds from the transfer services of other regions."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from contracts.codec import decode
from contracts.subjects import Subjects
from contracts.transfer.messages import ContactLetterV1, FundsTransferredV1, InformationSheetV1
from runtime.clock import Clock
from runtime.eventstore import PostgresTransaction, Transaction
from runtime.messaging import ConsumerSpec, Delivery, PoisonMessageError
from runtime.recording import CommandContext
from runtime.tracing import current_traceparent
from transfer.application import cases
from transfer.history import PostgresHistory

HANDLERS: dict[str, tuple[type[BaseModel], Any]] = {
    "contact_letter": (ContactLetterV1, cases.receive_contact_letter),
    "information_sheet": (InformationSheetV1, cases.receive_sheet),
    "funds_transferred": (FundsTransferredV1, cases.receive_funds),
}


def inbox_consumer(subjects: Subjects, region: str, clock: Clock, *, recorder: Any, deadlines: Any) -> ConsumerSpec:
    async def handle(tx: Transaction, delivery: Delivery) -> None:
        if not isinstance(tx, PostgresTransaction):
            raise TypeError("transfers are stored in PostgreSQL")
        name = delivery.subject.split(".")[-2]
        if name not in HANDLERS:
            raise PoisonMessageError(f"no handler for {name}")
        model, handler = HANDLERS[name]
        try:
            envelope = decode(delivery.data, model)
        except ValidationError as error:
            raise PoisonMessageError(f"{name}: {error.error_count()} invalid fields") from error
        ctx = CommandContext(
            command_id=envelope.id,
            correlation_id=envelope.correlationid,
            causation_id=envelope.id,
            actor=envelope.actor,
            channel=envelope.channel,
            region=region,
            now=clock.now(),
            traceparent=current_traceparent(),
        )
        await handler(tx, envelope.data, ctx, recorder=recorder, history=PostgresHistory(tx), deadlines=deadlines)

    return ConsumerSpec(
        f"transfer-{region}-inbox",
        subjects.inbox_stream(region, "transfer"),
        (subjects.inbox_of(region, "transfer"),),
        handle,
    )
