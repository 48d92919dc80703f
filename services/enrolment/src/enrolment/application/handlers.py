"""Command handlers: load, decide, record; the transaction is the caller's."""

from __future__ import annotations

from typing import Any, Protocol

from contracts.enrolment.commands import RegisterEmployer
from enrolment.domain.events import Event
from enrolment.domain.model import decide_register_employer, employer_stream, fold
from runtime.eventstore import Transaction
from runtime.recording import CommandContext


class Recorder(Protocol):
    async def load(self, tx: Transaction, stream_id: str) -> tuple[list[Event], int]: ...

    async def record(
        self, tx: Transaction, stream_id: str, version: int, events: list[Event], ctx: CommandContext
    ) -> int: ...


async def register_employer(
    tx: Transaction, command: RegisterEmployer, ctx: CommandContext, *, recorder: Recorder
) -> dict[str, Any]:
    """Register an employer at a counter: refused if already registered."""
    stream = employer_stream(command.credit_code)
    history, version = await recorder.load(tx, stream)
    events = decide_register_employer(
        fold(history),
        credit_code=command.credit_code,
        name=command.name,
        division_code=command.division_code,
        industry_code=command.industry_code,
        established_on=command.established_on,
        route="manual",
        now=ctx.now,
        today=ctx.today,
    )
    await recorder.record(tx, stream, version, events, ctx)
    return {"employer_id": stream, "registered_at": ctx.now.isoformat()}
