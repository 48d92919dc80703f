"""What the wage-arrears use cases need from outside, as Protocols the bootstrap fills in."""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from arrears.domain.events import Event
from runtime.eventstore import Transaction
from runtime.recording import CommandContext


class Recorder(Protocol):
    async def load(self, tx: Transaction, stream_id: str) -> tuple[list[Any], int]: ...

    async def record(
        self, tx: Transaction, stream_id: str, version: int, events: list[Event], ctx: CommandContext
    ) -> int: ...


class Deadlines(Protocol):
    async def schedule(
        self,
        tx: Transaction,
        *,
        stream_id: str,
        kind: str,
        basis: date,
        calendar_days: int = 0,
        working_days: int = 0,
        payload: dict[str, Any],
    ) -> None:
        """Start a durable timer: so many calendar or working days after `basis` (Beijing dates)."""
        ...

    async def cancel(self, tx: Transaction, *, stream_id: str, kind: str) -> None: ...
