"""Stack: cost as the event log grows, from 1M to 2M events (at scale 1.0).

The log is filled inside PostgreSQL (`INSERT ... SELECT generate_series`, 100,000 events per
transaction, 10 events per stream, the bench's registered-employer payload), then VACUUM ANALYZE
and CHECKPOINT: one database with 1M events, and a copy of it (`CREATE DATABASE ... TEMPLATE`)
filled to 2M. Both sizes are then measured in turns, the first one first and then the other: this
machine's speed drifts by 10-25% within minutes, which one size measured after the other took for
growth (-10.8% / +9.3% in one run, -7.7% / -24.9% and -7.9% / +16.9% in two others).
At each size: appends with outbox (16 tasks, new stream each, as `stack.append`) and stream loads
(16 tasks, `tx.load` of a random 10-event stream of the log), median of 6 runs of 2.5 s each, the
sizes alternating: 3 runs of 5 s moved by +-10% between runs of the same code (loads +8.9%,
-9.3%, -10.8% in three runs one after the other), 6 shorter ones by +-5% (-4.7%, -2.5%, +0.8%;
appends -1.9%, -3.9%, +4.5%), in the same 30 s of each. What keeps
them flat is written in docs/performance.md: every statement on the hot path reaches its rows by
an index whose depth grows with log(n) (`(stream_id, version)`, `event_id`,
`(transaction_id, position)`); nothing scans the log.
"""

from __future__ import annotations

import random
import time
from typing import Any

import asyncpg

from runtime.embedded import EmbeddedPostgres
from runtime.eventstore import PostgresEventStore
from tests.bench.common import (
    EVENT_DATA_JSON,
    EVENT_METADATA_JSON,
    Figure,
    closed_loop,
    median,
    percentile,
    say,
    scale,
    seconds,
)
from tests.bench.limits_pg import migrated_pool
from tests.bench.stack_append import append_loop

TASKS = 16
RUNS = 6
PER_STREAM = 10
CHUNK = 100_000

_FILL = """
INSERT INTO events (stream_id, version, event_id, event_type, data, metadata)
SELECT 'grown-' || (g / $3), (g % $3) + 1, gen_random_uuid(), 'EmployerRegistered', $4::jsonb, $5::jsonb
FROM generate_series($1::bigint, $2::bigint - 1) AS g
"""


async def _fill(pool: Any, start: int, end: int) -> float:
    began = time.perf_counter()
    for low in range(start, end, CHUNK):
        await pool.execute(_FILL, low, min(end, low + CHUNK), PER_STREAM, EVENT_DATA_JSON, EVENT_METADATA_JSON)
    await pool.execute("VACUUM ANALYZE events")
    # Each size is measured from a written-out state: otherwise the appends compete with the
    # checkpointer still writing the fill's pages, more so the larger the fill.
    await pool.execute("CHECKPOINT")
    return time.perf_counter() - began


async def _loads(store: PostgresEventStore, streams: int, duration: float) -> dict[str, float]:
    rng = random.Random(7)  # noqa: S311 - which stream to load, not a secret

    async def step(_: int) -> None:
        async with store.transaction() as tx:
            loaded = await tx.load(f"grown-{rng.randrange(streams)}")
        if len(loaded) != PER_STREAM:
            raise AssertionError(f"a grown stream holds {len(loaded)} events")

    count, elapsed, latencies = await closed_loop(TASKS, duration, step)
    return {"value": count / elapsed, "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99)}


async def _in_turns(
    stores: tuple[PostgresEventStore, PostgresEventStore], sizes: tuple[int, int], duration: float
) -> list[dict[str, dict[str, float]]]:
    """Appends, then loads, at both sizes in turns (which size goes first alternates), `RUNS` each."""
    for store in stores:
        await append_loop(store, TASKS, 0.5)  # warm-up
    runs: list[list[dict[str, dict[str, float]]]] = [[], []]
    for turn in range(RUNS):
        for which in (0, 1) if turn % 2 == 0 else (1, 0):
            runs[which].append({"append": await append_loop(stores[which], TASKS, duration)})
    for turn in range(RUNS):
        for which in (0, 1) if turn % 2 == 0 else (1, 0):
            runs[which][turn]["load"] = await _loads(stores[which], sizes[which] // PER_STREAM, duration)

    def middle(size: list[dict[str, dict[str, float]]], what: str) -> dict[str, float]:
        return {k: median([r[what][k] for r in size]) for k in ("value", "p50_ms", "p99_ms")}

    return [{what: middle(size, what) for what in ("append", "load")} for size in runs]


async def _copied(admin_dsn: str, template: str, name: str) -> None:
    """`name` as a file copy of `template` (whose connections are closed): the first size's log
    without filling it again."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    finally:
        await conn.close()


async def _dropped(admin_dsn: str, *names: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        # Leave the server as found: without this, the next sections ran while PostgreSQL still
        # wrote out the filled log's dirty pages (the outbox lag measured right after was 2x worse).
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def measure(pg: EmbeddedPostgres) -> list[Figure]:
    first = max(20_000, round(1_000_000 * scale() / CHUNK) * CHUNK or CHUNK)
    duration = seconds(2.5, minimum=1.0)
    small_name, large_name = "bench_growth", "bench_growth_doubled"
    small_dsn, large_dsn = pg.create_database(small_name), pg.database_url(large_name)
    pool = await migrated_pool(small_dsn, size=TASKS)
    say(f"stack: growth, filling the log with {first:,} events")
    try:
        filled = await _fill(pool, 0, first)
    finally:
        await pool.close()
    say(f"stack: growth, a copy of it filled to {2 * first:,} events")
    began = time.perf_counter()
    await _copied(pg.url, small_name, large_name)
    pools = (await migrated_pool(small_dsn, size=TASKS), await migrated_pool(large_dsn, size=TASKS))
    try:
        filled += time.perf_counter() - began + await _fill(pools[1], first, 2 * first)
        say(f"stack: growth, {first:,} and {2 * first:,} events measured in turns")
        small, large = await _in_turns(
            (PostgresEventStore(pools[0]), PostgresEventStore(pools[1])), (first, 2 * first), duration
        )
        size = await pools[1].fetchval("SELECT pg_size_pretty(pg_total_relation_size('events'))")
    finally:
        for each in pools:
            await each.close()
    await _dropped(pg.url, small_name, large_name)
    figures = []
    for what, label, unit in (("append", "appends with outbox", "events/s"), ("load", "stream loads", "loads/s")):
        before, after = small[what], large[what]
        change = after["value"] / before["value"] - 1 if before["value"] else 0.0
        figures.append(
            Figure(
                f"stack.growth_{what}",
                f"stack: {label} at {2 * first:,} events vs {first:,}",
                after["value"],
                unit,
                "stack",
                p50_ms=after["p50_ms"],
                p99_ms=after["p99_ms"],
                runs=[round(before["value"], 1), round(after["value"], 1)],
                target="slows by <=10% when the log doubles",
                notes=(
                    f"{before['value']:.0f} -> {after['value']:.0f} {unit} ({change:+.1%}), p99 "
                    f"{before['p99_ms']:.1f} -> {after['p99_ms']:.1f} ms; log {size} after {filled:.0f} s of filling"
                ),
                extra={"before": before, "after": after, "change": change, "events": [first, 2 * first]},
            )
        )
    return figures
