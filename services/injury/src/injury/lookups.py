"""PostgreSQL adapters of the injury use cases' ports: settlement index, reconciliations, catalogue, people."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from contracts.identifiers import pseudonym
from injury.application.ports import Recorder
from injury.domain import catalogue as cat
from injury.domain.reconciliation import Reconciliation
from runtime.eventstore import PostgresTransaction, Transaction
from runtime.recording import Folded, FoldedStreams


def _postgres(tx: Transaction) -> PostgresTransaction:
    if not isinstance(tx, PostgresTransaction):
        raise TypeError("the injury service keeps its lookups in PostgreSQL")
    return tx


async def _conn(tx: Transaction) -> asyncpg.Connection:
    """For writes and locks: inside the transaction."""
    return await _postgres(tx).connection()


async def _reader(tx: Transaction) -> asyncpg.Connection:
    """For reads: outside the transaction until something opened it (see PostgresTransaction)."""
    return await _postgres(tx).reader()


class PostgresSettlementIndex:
    async def lock_person(self, tx: Transaction, person_ref: str) -> None:
        await _postgres(tx).lock(f"injury-person:{person_ref}", 6)

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
        await _postgres(tx).ride(
            "INSERT INTO settlement_index (stream_id, hospital_id, hospital_settlement_no, service_date, person_ref, "
            "determination_ref) SELECT $1, $2, $3, $4::date, $5, $6 FROM guard ON CONFLICT (stream_id) DO NOTHING",
            stream_id,
            hospital_id,
            hospital_settlement_no,
            service_date,
            person_ref,
            determination_ref,
        )

    async def of_person(self, tx: Transaction, person_ref: str, determination_id: str) -> list[str]:
        rows = await (await _reader(tx)).fetch(
            "SELECT stream_id FROM settlement_index WHERE person_ref = $1 AND determination_ref IN ('', $2) "
            "ORDER BY service_date, stream_id",
            person_ref,
            determination_id,
        )
        return [r["stream_id"] for r in rows]

    async def of_day(self, tx: Transaction, hospital_id: str, day: date) -> list[str]:
        rows = await (await _reader(tx)).fetch(
            "SELECT stream_id FROM settlement_index WHERE hospital_id = $1 AND service_date = $2 ORDER BY stream_id",
            hospital_id,
            day,
        )
        return [r["stream_id"] for r in rows]


class PostgresReconciliations:
    async def store(
        self, tx: Transaction, reconciliation: Reconciliation, result: dict[str, Any], at: datetime
    ) -> None:
        await (await _conn(tx)).execute(
            "INSERT INTO reconciliations (hospital_id, day, matched, result, declared_at) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (hospital_id, day) DO UPDATE SET matched = EXCLUDED.matched, result = EXCLUDED.result, "
            "declared_at = EXCLUDED.declared_at",
            reconciliation.hospital_id,
            reconciliation.day,
            reconciliation.matched,
            result,
            at,
        )


class PostgresCatalogues:
    """The region's catalogue, kept folded at its version (`FoldedStreams`, any replica's
    publications caught up): a decision reads the versions published since with its own streams,
    so an unchanged catalogue costs no round trip of its own. Streams a decision asks to keep (a
    hospital's agreement, a worker's determination) are kept whole, as read, up to `capacity`, the
    least recently kept dropped first: a settlement on kept ones reads nothing (`kept_with`)."""

    def __init__(self, recorder: Recorder, region: str, *, capacity: int = 10_000) -> None:
        self.stream = cat.catalogue_stream(region)
        self._kept = FoldedStreams(recorder, cat.Catalogue(), cat.fold_on, capacity=1)
        self._whole: FoldedStreams[tuple[Any, ...]] = FoldedStreams(recorder, (), _followed, capacity=capacity)

    async def read_with(
        self, tx: Transaction, streams: Sequence[str], *, keep: Sequence[str] = ()
    ) -> tuple[cat.Catalogue, dict[str, tuple[list[Any], int]]]:
        folded, whole = await self._kept.load_many(tx, [self.stream], whole=streams)
        self._whole.keep_once_committed(
            tx, {stream: Folded(tuple(whole[stream][0]), whole[stream][1]) for stream in keep}
        )
        return folded[self.stream].state, whole

    def keeps(self, streams: Sequence[str]) -> bool:
        return self._all_kept(streams) is not None

    def kept_with(
        self, tx: Transaction, streams: Sequence[str]
    ) -> tuple[cat.Catalogue, dict[str, tuple[list[Any], int]]] | None:
        found = self._all_kept(streams)
        if found is None:
            return None
        catalogue, kept = found
        tx.expect_unchanged(self.stream, catalogue.version)
        for stream, each in kept.items():
            tx.expect_unchanged(stream, each.version)
        return catalogue.state, {stream: (list(each.state), each.version) for stream, each in kept.items()}

    def _all_kept(
        self, streams: Sequence[str]
    ) -> tuple[Folded[cat.Catalogue], dict[str, Folded[tuple[Any, ...]]]] | None:
        """The catalogue and `streams` as kept, or None unless every one of them is."""
        catalogue = self._kept.kept(self.stream)
        kept = {stream: self._whole.kept(stream) for stream in streams}
        if catalogue is None or any(each is None for each in kept.values()):
            return None
        return catalogue, {stream: each for stream, each in kept.items() if each is not None}


def _followed(events: tuple[Any, ...], more: Sequence[Any]) -> tuple[Any, ...]:
    return (*events, *more)


@dataclass(frozen=True)
class PseudonymousPeople:
    salt: bytes

    def ref(self, citizen_id: str) -> str:
        return pseudonym(citizen_id, salt=self.salt)
