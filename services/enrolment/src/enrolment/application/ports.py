"""What the enrolment use cases need from outside, as Protocols the bootstrap fills in."""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from enrolment.domain.events import Event
from enrolment.domain.rates import RateTable
from runtime.eventstore import Transaction
from runtime.recording import CommandContext


class Recorder(Protocol):
    async def load(self, tx: Transaction, stream_id: str) -> tuple[list[Any], int]: ...

    async def record(
        self, tx: Transaction, stream_id: str, version: int, events: list[Event], ctx: CommandContext
    ) -> int: ...


class RateBook(Protocol):
    def for_year(self, year: int) -> RateTable:
        """The region's rate table for a year (raises NoRateTableError)."""
        ...


class PensionRegistry(Protocol):
    async def active_elsewhere(self, person_ref: str, month: str) -> bool:
        """True if another pooling area holds an active pension enrolment for this person and month."""
        ...


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


class People(Protocol):
    def ref(self, citizen_id: str) -> str:
        """The person's pseudonymous reference (the same in every region)."""
        ...

    async def employees_of(self, employer_credit_code: str, month: str) -> list[tuple[str, str]]:
        """(person_ref, citizen_id) of everyone enrolled with the employer in that month."""
        ...
