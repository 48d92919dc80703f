"""This region's transfer inbox: letters, sheets and funds from the transfer services of other regions."""

from __future__ import annotations

from collections.abc import Sequence
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
from transfer.domain.transfer_in_state import fold as fold_in
from transfer.domain.transfer_in_state import transfer_stream
from transfer.domain.transfer_out import transfer_out_stream
from transfer.history import PostgresHistory

HANDLERS: dict[str, tuple[type[BaseModel], Any]] = {
    "contact_letter": (ContactLetterV1, cases.receive_contact_letter),
    "information_sheet": (InformationSheetV1, cases.receive_sheet),
    "funds_transferred": (FundsTransferredV1, cases.receive_funds),
}
_BOTH = sorted(("information_sheet", "funds_transferred"))
# A transaction's envelopes decoded by `read_ahead`, by message id: its memo's key.
_DECODED = "transfer.inbox.decoded"
# The cases whose sheet and funds this fetch brings, one of each, new: the halves handled so far
# (the first waits for the second, and both are decided and recorded together).
_PAIRED = "transfer.inbox.paired"


def _name(delivery: Delivery) -> str:
    return delivery.subject.split(".")[-2]


def inbox_consumer(subjects: Subjects, region: str, clock: Clock, *, recorder: Any, deadlines: Any) -> ConsumerSpec:
    async def handle(tx: Transaction, delivery: Delivery) -> None:
        if not isinstance(tx, PostgresTransaction):
            raise TypeError("transfers are stored in PostgreSQL")
        name = _name(delivery)
        if name not in HANDLERS:
            raise PoisonMessageError(f"no handler for {name}")
        model, handler = HANDLERS[name]
        envelope = tx.memo.get(_DECODED, {}).pop(delivery.message_id, None)
        if envelope is None:
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
        history = PostgresHistory(tx)
        pairs: dict[str, list[tuple[cases.Half, CommandContext]]] = tx.memo.get(_PAIRED, {})
        data = envelope.data
        if isinstance(data, cases.Half) and data.case_id in pairs:
            halves = pairs[data.case_id]
            halves.append((data, ctx))
            if len(halves) == 2:  # the first waited for this one: one decision each, one append
                del pairs[data.case_id]
                await cases.receive_halves(tx, halves, recorder=recorder, history=history, deadlines=deadlines)
            return
        await handler(tx, data, ctx, recorder=recorder, history=history, deadlines=deadlines)

    async def read_ahead(tx: Transaction, deliveries: Sequence[Delivery]) -> None:
        """A fetch of letters read at once: the cases they decide on, then the people's periods the
        decisions will check (the old region's under the people's locks, as each letter takes them;
        the new region's for the cases this fetch can complete). A message that does not decode is
        left to its handler, which says why."""
        if not isinstance(tx, PostgresTransaction):
            return
        decoded: dict[Any, Any] = tx.memo.setdefault(_DECODED, {})
        letters: list[ContactLetterV1] = []
        arrivals: dict[str, list[str]] = {}  # new region: case -> the halves (sheet, funds) this fetch brings
        for delivery in deliveries:
            model, _ = HANDLERS.get(_name(delivery), (None, None))
            if model is None:
                continue
            try:
                envelope = decode(delivery.data, model)
            except ValidationError:
                continue
            decoded[delivery.message_id] = envelope
            match envelope.data:
                case ContactLetterV1():
                    letters.append(envelope.data)
                case InformationSheetV1() | FundsTransferredV1():
                    arrivals.setdefault(envelope.data.case_id, []).append(_name(delivery))
        history = PostgresHistory(tx)
        if letters:
            await history.lock(*(letter.person_ref for letter in letters))
            await recorder.preload(tx, [transfer_out_stream(letter.case_id) for letter in letters])
            await history.read_ahead([letter.person_ref for letter in letters])
        if arrivals:
            streams = {case_id: transfer_stream(case_id) for case_id in arrivals}
            await recorder.preload(tx, streams.values())
            settling = []
            tx.memo[_PAIRED] = {case_id: [] for case_id, halves in arrivals.items() if sorted(halves) == _BOTH}
            for case_id, halves in arrivals.items():
                state = fold_in((await recorder.load(tx, streams[case_id]))[0])
                sheet = "information_sheet" in halves or state.sheet_received_at is not None
                funds = "funds_transferred" in halves or state.funds_received_at is not None
                if sheet and funds and state.person_ref:
                    settling.append(state.person_ref)
            await history.read_ahead(settling)

    return ConsumerSpec(
        f"transfer-{region}-inbox",
        subjects.inbox_stream(region, "transfer"),
        (subjects.inbox_of(region, "transfer"),),
        handle,
        prepare=read_ahead,
    )
