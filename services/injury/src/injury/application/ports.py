"""What the injury use cases need from outside, as Protocols the bootstrap fills in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol

from injury.domain.catalogue import Catalogue
from injury.domain.reconciliation import Reconciliation
from runtime.deadlines import Deadlines
from runtime.eventstore import Transaction
from runtime.recording import Recorder


class People(Protocol):
    def ref(self, citizen_id: str) -> str:
        """The person's pseudonymous reference (the same in every region)."""
        ...


class Catalogues(Protocol):
    """The region's catalogue, kept in memory: a decision reads what was published since the version
    kept with its own streams, in the same round trip."""

    async def read_with(
        self, tx: Transaction, streams: Sequence[str], *, keep: Sequence[str] = ()
    ) -> tuple[Catalogue, dict[str, tuple[list[Any], int]]]:
        """The catalogue with every version published so far, and `streams`' events and versions;
        those of `keep` are kept in memory once the transaction commits (`kept_with`)."""
        ...

    def keeps(self, streams: Sequence[str]) -> bool:
        """Whether the catalogue and all of `streams` are kept in memory."""
        ...

    def kept_with(
        self, tx: Transaction, streams: Sequence[str]
    ) -> tuple[Catalogue, dict[str, tuple[list[Any], int]]] | None:
        """The catalogue and `streams` as kept in memory, with no read, or None unless all are kept.
        The transaction then commits only if none of them moved since (`expect_unchanged`)."""
        ...


class SettlementIndex(Protocol):
    """Settlement streams found by hospital and day, or by person: written with the first settling event."""

    async def lock_person(self, tx: Transaction, person_ref: str) -> None:
        """Serialise a person's postings with the re-settlement of their held settlements."""
        ...

    async def add(
        self,
        tx: Transaction,
        *,
        stream_id: str,
        hospital_id: str,
        hospital_settlement_no: str,
        service_date: date,
        person_ref: str,
        determination_ref: str,
    ) -> None:
        """After the settling events are recorded: the row goes in their statement."""
        ...

    async def of_person(self, tx: Transaction, person_ref: str, determination_id: str) -> list[str]:
        """The person's settlement streams posted under `determination_id` or under none."""
        ...

    async def of_day(self, tx: Transaction, hospital_id: str, day: date) -> list[str]: ...


class Reconciliations(Protocol):
    async def store(
        self, tx: Transaction, reconciliation: Reconciliation, result: dict[str, Any], at: datetime
    ) -> None:
        """Keep the hospital's latest declaration for the day and how it compared."""
        ...


__all__ = ["Deadlines", "Recorder"]  # the runtime's two ports, with this service's own above
