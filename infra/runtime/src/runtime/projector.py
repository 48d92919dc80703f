"""Projections fed from the service's own event log, in commit order with no gaps.

Each batch of view updates commits together with the projection's position, so a crash replays
at most an uncommitted batch. A projection can be rebuilt from position zero at any time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

import asyncpg

from runtime.eventstore import Position, PostgresEventStore, RecordedEvent

log = logging.getLogger(__name__)


class Projection(Protocol):
    name: str

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        """Fold a batch of events into the view rows (idempotent per batch is not needed)."""
        ...

    async def reset(self, conn: asyncpg.Connection) -> None:
        """Empty the view before a rebuild."""
        ...


class Projector:
    def __init__(
        self,
        store: PostgresEventStore,
        projections: Sequence[Projection],
        *,
        batch: int = 2000,
        rebuild_batch: int = 10_000,
    ) -> None:
        """`batch`: events per transaction of the live loop; `rebuild_batch`: events per read of a
        rebuild (one transaction whatever its size; larger reads mean fewer, larger set-based statements)."""
        self.store = store
        self.projections = list(projections)
        self.batch = batch
        self.rebuild_batch = rebuild_batch
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def _position(self, conn: asyncpg.Connection, name: str) -> Position:
        await conn.execute("INSERT INTO projection_positions (projection) VALUES ($1) ON CONFLICT DO NOTHING", name)
        row = await conn.fetchrow(
            "SELECT transaction_id AS tx, position FROM projection_positions WHERE projection = $1 FOR UPDATE",
            name,
        )
        if row is None:
            raise RuntimeError(f"no position row for projection {name}")
        return Position(int(row["tx"]), row["position"])

    async def catch_up(self, projection: Projection) -> int:
        """Apply every final event after the projection's position; returns how many."""
        applied = 0
        while True:
            async with self.store.pool.acquire() as conn, conn.transaction():
                after = await self._position(conn, projection.name)
                # On the same connection: a second one from the pool while this one holds the position
                # lock would let callers waiting on the lock exhaust the pool.
                events = await self.store.read_all(after, self.batch, conn=conn)
                if not events:
                    return applied
                await projection.apply(conn, events)
                last = events[-1].at
                await conn.execute(
                    "UPDATE projection_positions SET transaction_id = $2, position = $3 WHERE projection = $1",
                    projection.name,
                    last.transaction_id,
                    last.position,
                )
            applied += len(events)

    async def up_to_date(self, name: str, *, patience: float = 5.0) -> bool:
        """Read your own writes: apply every event committed before this call to the projection `name`.

        A command that decides from a view (the employees to assess this month) calls this first, so
        an employee enrolled by the command just answered is in it. Waits while transactions that
        began before the call are still open (their events could land before the horizon), at most
        `patience` seconds; returns False if the view may still miss some of them then.
        """
        projection = self._named(name)
        async with self.store.pool.acquire() as conn:
            horizon = await conn.fetchval("SELECT pg_snapshot_xmax(pg_current_snapshot())")
        deadline = asyncio.get_running_loop().time() + patience
        while True:
            async with self.store.pool.acquire() as conn:
                settled = await conn.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot()) >= $1::xid8", horizon)
            await self.catch_up(projection)
            if settled:
                return True
            if asyncio.get_running_loop().time() > deadline:
                log.warning("projection not up to date", extra={"projection": name, "patience": patience})
                return False
            await asyncio.sleep(0.005)

    def _named(self, name: str) -> Projection:
        projection = next((p for p in self.projections if p.name == name), None)
        if projection is None:
            raise KeyError(f"no projection {name!r}; this service has {[p.name for p in self.projections]}")
        return projection

    async def rebuild(self, name: str) -> int:
        """Empty the projection's views and replay the whole log into them, in one transaction; returns
        how many events were replayed. The log is read on the rebuild's own connection (so it never
        waits for the pool while queries on the views wait for it). The live loop waits on the
        position row meanwhile and goes on from where the rebuild ended; queries on those views wait
        for the commit instead of seeing them half filled."""
        projection = self._named(name)
        replayed = 0
        async with self.store.pool.acquire() as conn, conn.transaction():
            await self._position(conn, name)
            await projection.reset(conn)
            after = Position()
            while events := await self.store.read_all(after, self.rebuild_batch, conn=conn):
                await projection.apply(conn, events)
                after = events[-1].at
                replayed += len(events)
            await conn.execute(
                "UPDATE projection_positions SET transaction_id = $2, position = $3 WHERE projection = $1",
                name,
                after.transaction_id,
                after.position,
            )
        return replayed

    async def run(self, stop: asyncio.Event, *, interval: float = 0.1) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                for projection in self.projections:
                    await self.catch_up(projection)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("projector interrupted", extra={"error": repr(error)})
            waker = asyncio.create_task(self._wake.wait())
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({waker, stopper}, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
            waker.cancel()
            stopper.cancel()
