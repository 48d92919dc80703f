"""Projections fed from the service's own event log, in commit order with no gaps.

Each batch of view updates commits together with the projection's position, so a crash replays
at most an uncommitted batch. A projection can be rebuilt from position zero at any time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from typing import Protocol

import asyncpg

from runtime import db
from runtime.eventstore import Position, PostgresEventStore, RecordedEvent
from runtime.wakeup import Wakeup

log = logging.getLogger(__name__)


def event_after(transaction_id: str, position: str, *, final: bool) -> str:
    """Whether an event lies after the position `(transaction_id, position)` (SQL expressions), only a
    final one if `final` (below the oldest transaction of the server still running): a scalar
    subquery ordered and limited, not an EXISTS. For an EXISTS, a plan that does not know the
    position (a prepared statement's generic plan, which PostgreSQL adopts after five runs; or the
    position read by a subquery) is a sequential scan of the whole log, on the bet that a match comes
    early; none usually does (6 ms at 10,000 events, and growing with the log). Ordered by the
    commit-order index, the first row ends it (0.01 ms). Unqualified, its columns are the log's."""
    only_final = " AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())" if final else ""
    return (
        f"(SELECT true FROM events WHERE (transaction_id, position) > ({transaction_id}, {position}){only_final} "
        "ORDER BY transaction_id, position LIMIT 1) IS NOT NULL"
    )


# Whether a final event lies after a position: the projector's next batch would find it.
_FINAL_AFTER = f"SELECT {event_after('$1::xid8', '$2::bigint', final=True)}"

# Whether any event after a position is committed, final or not yet (an older transaction of the
# server still running): the projector then has work coming, and goes on polling at its pace.
_ANY_AFTER = f"SELECT {event_after('$1::xid8', '$2::bigint', final=False)}"

# Whether the log's statistics need refreshing before a rebuild: never analysed, or a tenth of it
# (at least 1,000 events) written since. Rebuilding every projection of a service analysed the log
# once per projection, 17 ms each at 10,000 events.
_STATISTICS_STALE = """
SELECT coalesce(bool_or(
    (last_analyze IS NULL AND last_autoanalyze IS NULL) OR n_mod_since_analyze > greatest(1000, n_live_tup / 10)
), true)
FROM pg_stat_user_tables WHERE relid = 'events'::regclass
"""


# The last final event of the log: where a rebuild of some event types ends when its own last event
# lies earlier (events of other types after it, or none of its types at all). Below the oldest
# running transaction nothing can land any more, so every event of its types up to here is read.
_LAST_FINAL = """
SELECT transaction_id, position FROM events WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY transaction_id DESC, position DESC LIMIT 1
"""


@contextlib.asynccontextmanager
async def _unflushed_transaction(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """A transaction whose commit does not wait for its WAL to reach the disk. A batch of view
    updates commits with the projection's position, so a crash loses both or neither, and the
    projector then applies the same events again from the log; the commit is visible to every
    session at once all the same. Its position lock is held one flush shorter. One round trip, as BEGIN."""
    await conn.execute("BEGIN; SET LOCAL synchronous_commit = off")
    try:
        yield
    except BaseException:
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            await conn.execute("ROLLBACK")  # else the pool's reset rolls it back, or drops the connection
        raise
    await conn.execute("COMMIT")


class _CyclicGcPause:
    """CPython's cycle collector held off while any rebuild of this process runs.

    A rebuild keeps two batches of decoded events alive (about seven tracked objects each: the row,
    the named tuples, the data and metadata dicts), so the collector's young generations fill and
    survive over and over and the older ones reach the share that makes it walk the whole heap: 15%
    of a service process's samples during rebuilds (py-spy, `docs/performance.md`). None of
    those objects form cycles, reference counting frees each batch, so nothing is lost by waiting;
    cycles made meanwhile by the rest of the process wait for the first collection after it.
    Counted, so rebuilds that overlap resume the collector when the last one ends, and only if it
    was running before the first."""

    def __init__(self) -> None:
        self._holders = 0
        self._resume = False

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        if self._holders == 0:
            self._resume = gc.isenabled()
            gc.disable()
        self._holders += 1
        try:
            yield
        finally:
            self._holders -= 1
            if self._holders == 0 and self._resume:
                gc.enable()


cyclic_gc_paused = _CyclicGcPause()


class Projection(Protocol):
    name: str

    @property
    def event_types(self) -> Collection[str] | None:
        """The event types it folds, None for all. It is given only those, live or in a rebuild, and
        a rebuild reads only those from the log: derive it from the table that dispatches them."""
        ...

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        """Fold a batch of events into the view rows (idempotent per batch is not needed)."""
        ...

    async def reset(self, conn: asyncpg.Connection) -> None:
        """Empty the view before a rebuild."""
        ...


def _folded_by(projection: Projection, events: Sequence[RecordedEvent], after: Position) -> Sequence[RecordedEvent]:
    """The events of a batch that `projection` folds: those after its own position, of its types."""
    types = projection.event_types
    if types is None:
        return events if not events or events[0].at > after else [e for e in events if e.at > after]
    return [e for e in events if e.event_type in types and e.at > after]


class Projector:
    def __init__(
        self,
        store: PostgresEventStore,
        projections: Sequence[Projection],
        *,
        batch: int = 2000,
        rebuild_batch: int = 2000,
    ) -> None:
        """`batch`: events per transaction of the live loop; `rebuild_batch`: events per read of a
        rebuild (one transaction whatever its size). Larger reads mean fewer, larger set-based
        statements, smaller ones let reading and applying overlap sooner: 2,000 was the quickest of
        500 to 10,000 for the enrolment views (`docs/performance.md`)."""
        self.store = store
        self.projections = list(projections)
        self.batch = batch
        self.rebuild_batch = rebuild_batch
        self._wake = Wakeup()
        self.coming = False  # the last catch-up found committed events not final yet
        self._known: set[str] = set()  # projections whose position row exists
        # One catch-up batch at a time in this process (the live loop's or a caller's): more would only
        # queue on the position lock, each holding a pool connection.
        self._catching = asyncio.Lock()

    def wake(self) -> None:
        self._wake.set()

    async def _position(self, conn: asyncpg.Connection, name: str) -> Position:
        return (await self._positions(conn, [name]))[name]

    async def _ensure_positions(self, conn: asyncpg.Connection, names: Sequence[str]) -> None:
        if not self._known.issuperset(names):
            await conn.execute(
                "INSERT INTO projection_positions (projection) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
                list(names),
            )
            self._known.update(names)

    async def _positions(self, conn: asyncpg.Connection, names: Sequence[str]) -> dict[str, Position]:
        """Each projection's position, locked (in name order, so two groups never deadlock)."""
        await self._ensure_positions(conn, names)
        rows = await conn.fetch(
            "SELECT projection, transaction_id AS tx, position FROM projection_positions "
            f"WHERE projection IN ({db.parameters(len(names))}) ORDER BY projection FOR UPDATE",
            *names,
        )
        found = {r["projection"]: Position(int(r["tx"]), r["position"]) for r in rows}
        if found.keys() != set(names):
            # A row made in a batch that then failed and rolled back (a projection's first batch
            # raising, say): made again here, where the next catch-up failed on it before.
            self._known.difference_update(names)
            return await self._positions(conn, names)
        return found

    async def catch_up(self, projections: Sequence[Projection] | None = None) -> int:
        """Apply every final event after each projection's position (all of them by default); returns
        how many events were read.

        The projections go together: one transaction per batch, the log read once from the position
        furthest behind, each projection given only the events after its own position (a rebuild or
        a catch-up of it alone may have moved one ahead), all positions then set to the batch's end."""
        group = self.projections if projections is None else list(projections)
        names = [p.name for p in group]
        read = 0
        while True:
            async with self._catching, self.store.pool.acquire() as conn, _unflushed_transaction(conn):
                positions = await self._positions(conn, names)
                start = min(positions.values())
                # On the same connection: a second one from the pool while this one holds the position
                # locks would let callers waiting on the locks exhaust the pool.
                events = await self.store.read_all(start, self.batch, conn=conn)
                if not events:
                    if projections is None:
                        self.coming = await conn.fetchval(_ANY_AFTER, start.transaction_id, start.position)
                    return read
                last = events[-1].at
                for projection in group:
                    mine = _folded_by(projection, events, positions[projection.name])
                    if mine:
                        await projection.apply(conn, mine)
                await conn.execute(
                    "UPDATE projection_positions SET transaction_id = $1, position = $2 "
                    f"WHERE projection IN ({db.parameters(len(names), first=3)}) "
                    "AND (transaction_id, position) < ($1::xid8, $2::bigint)",
                    last.transaction_id,
                    last.position,
                    *names,
                )
            read += len(events)
            if len(events) < self.batch and not await self._final_after(last):
                # Nothing more is final: no second transaction (four round trips) to find that out.
                return read

    async def _final_after(self, at: Position) -> bool:
        """Whether an event after `at` is final now: one that was not when the batch was read
        (its writer ran beside an older transaction, of any database) should not wait for the
        next wake-up or poll."""
        async with self.store.pool.acquire() as conn:
            found: bool = await conn.fetchval(
                _FINAL_AFTER,
                at.transaction_id,
                at.position,
            )
        return found

    def _named(self, name: str) -> Projection:
        projection = next((p for p in self.projections if p.name == name), None)
        if projection is None:
            raise KeyError(f"no projection {name!r}; this service has {[p.name for p in self.projections]}")
        return projection

    async def rebuild(self, name: str) -> int:
        """Empty the projection's views and replay the whole log into them, in one transaction; returns
        how many events were replayed. The live loop waits on the position row meanwhile and goes on
        from where the rebuild ended; queries on those views wait for the commit instead of seeing
        them half filled.

        The log is read on a second connection of the rebuild's own, taken with the first before any
        lock (so neither waits for the pool while queries on the views wait for the rebuild): the next
        batch is read, and decoded on the Python side, while PostgreSQL applies this one. The log's
        statistics are refreshed first: a rebuild often follows a bulk load that autovacuum has not
        analysed yet, and without them PostgreSQL sorted everything after each batch's start instead
        of walking the commit-order index (15 ms against 1 ms per batch of 2,000 at 10,000 events, and
        growing with the log); not when little was written since the last time. The cycle collector
        waits meanwhile (`cyclic_gc_paused`).

        Only the event types the projection folds are read (`event_types`): the handled-services
        count, which folds a registration but not the rate class matched after it, reads half the
        log of a zero-touch feed. Its position still ends at the log's last final event (taken before
        the replay), not at the last of its types, so the live loop does not read the rest again.
        """
        projection = self._named(name)
        with cyclic_gc_paused():
            return await self._rebuild(projection)

    async def _rebuild(self, projection: Projection) -> int:
        async with self.store.pool.acquire() as reader, self.store.pool.acquire() as conn:
            if await reader.fetchval(_STATISTICS_STALE):
                await reader.execute("ANALYZE events (transaction_id, position)")
            async with conn.transaction():
                await self._position(conn, projection.name)
                await projection.reset(conn)
                last = await reader.fetchrow(_LAST_FINAL) if projection.event_types is not None else None
                replayed, end = await self._replay(projection, reader, conn)
                if last is not None:
                    end = max(end, Position(int(last["transaction_id"]), last["position"]))
                await conn.execute(
                    "UPDATE projection_positions SET transaction_id = $2, position = $3 WHERE projection = $1",
                    projection.name,
                    end.transaction_id,
                    end.position,
                )
        return replayed

    async def _replay(
        self, projection: Projection, reader: asyncpg.Connection, conn: asyncpg.Connection
    ) -> tuple[int, Position]:
        """Every final event of the projection's types read on `reader` and applied on `conn`, one
        batch read ahead; returns how many and the position of the last."""
        replayed, after = 0, Position()
        types = projection.event_types

        def read(after: Position) -> asyncio.Future[list[RecordedEvent]]:
            return asyncio.ensure_future(self.store.read_all(after, self.rebuild_batch, types=types, conn=reader))

        pending = read(after)
        try:
            while events := await pending:
                after = events[-1].at
                pending = read(after)
                await projection.apply(conn, events)
                replayed += len(events)
        finally:
            if not pending.done():
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)
        return replayed, after

    async def run(
        self, stop: asyncio.Event, *, interval: float = 0.1, idle_interval: float = 1.0, gather: float = 0.01
    ) -> None:
        """Catch up whenever a commit of this process wakes it, and on a poll for what other
        processes commit (another replica's commands) or what was not final yet when read (an
        older transaction of the server still running): every `interval` while polls find events
        or committed events wait to become final, twice as long after each that finds neither, up
        to `idle_interval`. A poll that finds
        nothing still costs a transaction of four round trips; at ten a second, the eight services
        of an idle stack kept a twentieth of a core busy, PostgreSQL as much again.

        A wake-up waits `gather` first, so the commits of those milliseconds share one batch: a
        batch costs the same six round trips to PostgreSQL whether it holds one event or fifty,
        and under load the projector otherwise ran about once per command."""
        with self._wake.following(stop):
            await self._project(stop, interval, idle_interval, gather)

    async def _project(self, stop: asyncio.Event, interval: float, idle_interval: float, gather: float) -> None:
        wait = interval
        while not stop.is_set():
            self._wake.clear()
            try:
                read = await self.catch_up()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("projector interrupted", extra={"error": repr(error)})
                read = 0
            wait = interval if read or self.coming else min(wait * 2, idle_interval)
            if await self._wake.wait(wait) and not stop.is_set():
                await asyncio.sleep(gather)
