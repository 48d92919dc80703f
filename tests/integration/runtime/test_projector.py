"""The projector on real PostgreSQL: catching up in commit order, rebuilds, and the checks behind them."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from uuid import uuid4

import asyncpg
import pytest

from runtime.eventstore import NewEvent, Position, PostgresEventStore, RecordedEvent
from runtime.projector import _FINAL_AFTER, Projector
from tests.waiting import caught_up, final


class Seen:
    """A view of every event's stream, in the order applied."""

    name = "seen"
    event_types: frozenset[str] | None = None

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        await conn.executemany("INSERT INTO seen (stream_id) VALUES ($1)", [(e.stream_id,) for e in events])

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute("TRUNCATE seen")


async def _view(pool: asyncpg.Pool) -> list[str]:
    return [r["stream_id"] for r in await pool.fetch("SELECT stream_id FROM seen ORDER BY n")]


async def _projector(pool: asyncpg.Pool) -> tuple[PostgresEventStore, Projector]:
    await pool.execute("CREATE TABLE IF NOT EXISTS seen (n bigserial PRIMARY KEY, stream_id text NOT NULL)")
    store = PostgresEventStore(pool)
    return store, Projector(store, [Seen()])


def _event() -> NewEvent:
    return NewEvent(uuid4(), "Happened", {}, {})


class Others(Seen):
    """A second view over the same log, kept in its own table."""

    name = "others"

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        await conn.executemany("INSERT INTO others (stream_id) VALUES ($1)", [(e.stream_id,) for e in events])


async def test_projections_at_different_positions_catch_up_together_each_from_its_own(pool: asyncpg.Pool) -> None:
    """One read of the log serves every projection; the one ahead (caught up alone) is given only
    what it has not seen, and no position moves back."""
    store, _ = await _projector(pool)
    await pool.execute("CREATE TABLE others (n bigserial PRIMARY KEY, stream_id text NOT NULL)")
    projector = Projector(store, [Seen(), Others()], batch=2)
    for stream in ("a", "b", "c"):
        async with store.transaction() as tx:
            await tx.append(stream, 0, [_event()])
    assert await caught_up(projector, 3, Seen()) == 3  # "seen" alone is now ahead of "others"
    for stream in ("d", "e"):
        async with store.transaction() as tx:
            await tx.append(stream, 0, [_event()])

    assert await caught_up(projector, 5) == 5  # batches of 2 from "others"' position: 2 + 2 + 1

    assert await _view(pool) == ["a", "b", "c", "d", "e"]  # each event once
    others = [r["stream_id"] for r in await pool.fetch("SELECT stream_id FROM others ORDER BY n")]
    assert others == ["a", "b", "c", "d", "e"]
    positions = await pool.fetch("SELECT transaction_id, position FROM projection_positions ORDER BY projection")
    assert len(positions) == 2 and positions[0] == positions[1]
    assert await projector.catch_up() == 0


class FailsOn(Seen):
    """Seen, but a batch holding stream `bad` fails (a projection bug met halfway through a rebuild)."""

    def __init__(self, bad: str) -> None:
        self.bad = bad

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        await super().apply(conn, events)
        if any(e.stream_id == self.bad for e in events):
            raise RuntimeError(f"cannot fold {self.bad}")


async def _append_each(store: PostgresEventStore, streams: Sequence[str]) -> None:
    for stream in streams:
        async with store.transaction() as tx:
            await tx.append(stream, 0, [_event()])


async def test_a_rebuild_replays_the_log_in_commit_order_batch_after_batch(pool: asyncpg.Pool) -> None:
    """The next batch is read on a second connection while this one is applied: still every event
    once, in commit order, and the position at the last, so the live loop goes on from there."""
    store, live = await _projector(pool)
    streams = [f"s{i:02d}" for i in range(11)]
    await _append_each(store, streams)
    assert await caught_up(live, 11) == 11
    await pool.execute("DELETE FROM seen WHERE stream_id IN ('s03', 's07')")  # the view gone wrong
    rebuilding = Projector(store, [Seen()], rebuild_batch=3)

    assert await rebuilding.rebuild("seen") == 11  # batches of 3, 3, 3 and 2

    assert await _view(pool) == streams
    await _append_each(store, ["after"])
    assert await caught_up(rebuilding, 1) == 1
    assert await _view(pool) == [*streams, "after"]


class CollectorWatched(Seen):
    """Seen, noting whether the cycle collector ran while each batch was applied."""

    def __init__(self) -> None:
        self.collecting: list[bool] = []

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        self.collecting.append(gc.isenabled())
        await super().apply(conn, events)


async def test_the_cycle_collector_waits_for_a_rebuild_and_only_for_it(pool: asyncpg.Pool) -> None:
    store, _ = await _projector(pool)
    await _append_each(store, [f"s{i:02d}" for i in range(5)])
    await final(store, 5)
    watched = CollectorWatched()
    projector = Projector(store, [watched], batch=2, rebuild_batch=2)
    assert gc.isenabled()

    assert await projector.rebuild("seen") == 5
    assert watched.collecting == [False, False, False]
    assert gc.isenabled()

    await _append_each(store, ["after"])
    assert await caught_up(projector, 1) == 1  # the live loop's batches are not held off
    assert watched.collecting[-1] is True


async def test_a_rebuild_that_fails_halfway_leaves_the_view_and_its_position_as_they_were(pool: asyncpg.Pool) -> None:
    store, live = await _projector(pool)
    streams = [f"s{i:02d}" for i in range(8)]
    await _append_each(store, streams)
    assert await caught_up(live, 8) == 8
    before = await pool.fetchrow("SELECT transaction_id, position FROM projection_positions WHERE projection = 'seen'")
    failing = Projector(store, [FailsOn("s05")], rebuild_batch=2)

    with pytest.raises(RuntimeError, match="s05"):
        await failing.rebuild("seen")

    assert await _view(pool) == streams
    after = await pool.fetchrow("SELECT transaction_id, position FROM projection_positions WHERE projection = 'seen'")
    assert after == before
    assert pool.get_idle_size() == pool.get_size()  # both of the rebuild's connections went back
    assert gc.isenabled()


async def test_the_check_for_an_event_after_a_position_walks_the_index_even_in_a_generic_plan(
    pool: asyncpg.Pool,
) -> None:
    """A prepared statement's generic plan (PostgreSQL's choice after five runs) does not know the
    position; the check must still walk the commit-order index, not scan the whole log each time."""
    store, _ = await _projector(pool)
    async with store.transaction() as tx:
        await tx.append("many", 0, [_event() for _ in range(3000)])
    await pool.execute("ANALYZE events")
    plan = await generic_plan(pool, _FINAL_AFTER, "xid8, bigint", "'1', 1")
    assert "Seq Scan on events" not in plan, plan
    assert "events_in_commit_order" in plan, plan


async def generic_plan(pool: asyncpg.Pool, sql: str, types: str, arguments: str) -> str:
    """The plan of `sql` as a prepared statement in its generic form (PostgreSQL's choice after five
    runs, made without knowing the parameters), for `EXECUTE` with `arguments`."""
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                await conn.execute(f"PREPARE checked ({types}) AS {sql}")
                rows = await conn.fetch(f"EXPLAIN EXECUTE checked({arguments})")
        finally:
            await conn.execute("DEALLOCATE ALL")
    return "\n".join(r[0] for r in rows)


class SeenOf(Seen):
    """Seen, folding only some event types."""

    def __init__(self, *types: str) -> None:
        self.event_types = frozenset(types)
        self.given: list[str] = []

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        self.given.extend(e.event_type for e in events)
        await super().apply(conn, events)


async def test_a_projection_is_given_only_its_event_types_live_and_in_a_rebuild(pool: asyncpg.Pool) -> None:
    """A rebuild reads only its types from the log, and the live loop hands it only those: both paths
    fold the same events. The rebuild ends at the log's last event (of another type), not at its own
    last; the live loop goes on from there, applying no event twice to either projection."""
    store, _ = await _projector(pool)
    await pool.execute("CREATE TABLE others (n bigserial PRIMARY KEY, stream_id text NOT NULL)")
    for i in range(7):
        async with store.transaction() as tx:
            await tx.append(f"s{i}", 0, [NewEvent(uuid4(), "Kept" if i % 2 else "Other", {}, {})])
    live, other = SeenOf("Kept"), Others()
    projector = Projector(store, [live, other], batch=4, rebuild_batch=2)
    assert await caught_up(projector, 7) == 7
    assert live.given == ["Kept"] * 3
    assert await _view(pool) == ["s1", "s3", "s5"]

    rebuilt = SeenOf("Kept")
    assert await Projector(store, [rebuilt, other], rebuild_batch=2).rebuild("seen") == 3
    assert rebuilt.given == ["Kept"] * 3
    assert await _view(pool) == ["s1", "s3", "s5"]

    for stream in ("t0", "t1"):
        async with store.transaction() as tx:
            await tx.append(stream, 0, [NewEvent(uuid4(), "Kept", {}, {})])
    assert await caught_up(projector, 2) == 2  # t0 and t1: s6 is not read again
    assert live.given == ["Kept"] * 5
    assert await _view(pool) == ["s1", "s3", "s5", "t0", "t1"]
    others = [r["stream_id"] for r in await pool.fetch("SELECT stream_id FROM others ORDER BY n")]
    assert others == ["s0", "s1", "s2", "s3", "s4", "s5", "s6", "t0", "t1"]


async def test_a_rebuild_that_finds_none_of_its_types_ends_at_the_logs_end(pool: asyncpg.Pool) -> None:
    """Not at the start: the live loop would read the whole log again."""
    store, _ = await _projector(pool)
    await _append_each(store, ["a", "b", "c"])
    await final(store, 3)
    last = (await store.read_all(Position(), 100))[-1].at

    assert await Projector(store, [SeenOf("Missing")]).rebuild("seen") == 0

    row = await pool.fetchrow("SELECT transaction_id, position FROM projection_positions WHERE projection = 'seen'")
    assert Position(int(row["transaction_id"]), row["position"]) == last


async def test_rebuilds_analyse_the_log_once_until_much_more_is_written(pool: asyncpg.Pool) -> None:
    """The first rebuild refreshes the log's statistics (never analysed); the next ones, with nothing
    written since, do not (rebuilding each projection of a service in turn)."""
    store, projector = await _projector(pool)
    await _append_each(store, ["a", "b", "c"])
    await final(store, 3)
    analysed = "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'events'"
    before = await pool.fetchval(analysed)

    assert await projector.rebuild("seen") == 3
    assert await projector.rebuild("seen") == 3
    assert await projector.rebuild("seen") == 3

    assert await pool.fetchval(analysed) == before + 1


async def test_a_catch_up_that_finds_events_committed_but_not_final_yet_says_more_is_coming(
    pool: asyncpg.Pool,
) -> None:
    store, projector = await _projector(pool)
    async with pool.acquire() as older:
        await older.execute("BEGIN")
        await older.fetchval("SELECT pg_current_xact_id()")  # a transaction older than the append, still running
        async with store.transaction() as tx:
            await tx.append("late", 0, [_event()])
        held_back = await projector.catch_up()
        coming_while_held = projector.coming
        await older.execute("ROLLBACK")
    applied = await caught_up(projector, 1)  # another test's transaction may hold it back a moment more
    idle = await projector.catch_up()

    assert (held_back, coming_while_held) == (0, True)
    assert (applied, idle, projector.coming) == (1, 0, False)
    assert await _view(pool) == ["late"]


class FailsOnce(Seen):
    """Seen, whose first batch fails (a bug fixed, a view's table missing for a moment)."""

    name = "fails_once"

    def __init__(self) -> None:
        self.failed = False

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        if not self.failed:
            self.failed = True
            raise RuntimeError("the first batch fails")
        await super().apply(conn, events)


async def test_a_projection_whose_first_batch_failed_catches_up_on_the_next_try(pool: asyncpg.Pool) -> None:
    """Its position row was made in the batch that rolled back; the next catch-up makes it again and
    applies everything, instead of failing once more on the missing row."""
    store, _ = await _projector(pool)
    projector = Projector(store, [FailsOnce()])
    async with store.transaction() as tx:
        await tx.append("s-1", 0, [_event(), _event()])

    with pytest.raises(RuntimeError, match="the first batch fails"):
        await projector.catch_up()
    applied = await caught_up(projector, 2)

    assert applied == 2
    assert await _view(pool) == ["s-1", "s-1"]
