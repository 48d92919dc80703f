"""Stack: cost as the event log grows, from 1M to 2M events (at scale 1.0).

The log is filled inside PostgreSQL (`INSERT ... SELECT generate_series`, 100,000 events per
transaction, 10 events per stream, the bench's registered-employer payload), then VACUUM ANALYZE
and CHECKPOINT: one database with 1M events, and a copy of it (`CREATE DATABASE ... TEMPLATE`)
filled to 2M. At each size: appends with outbox (16 tasks, new stream each, as `stack.append`) and
stream loads (16 tasks, `tx.load` of a random 10-event stream of the log).

The sizes are measured in short slices, one size's slice right after the other's (`SLICES` pairs of
0.6 s each, the order turned each pair: 1M 2M, 2M 1M, ...), and the change is the median of the
pairs' own ratios. This machine's speed drifts by 10-40% within seconds to minutes, and a slower
phase caught by one size's runs read as growth: with 6 runs of 2.5 s a size, medians taken apart,
the full runs of one day gave the loads +9.4%, +25.0%, +14.5%, -9.6%, -15.2%, -11.8% and +0.7% for
the same code and log. Two slices 0.6 s apart see the same phase. What keeps the cost flat is written
in docs/performance.md: every statement on the hot path reaches its rows by an index whose depth
grows with log(n) (`(stream_id, version)`, `event_id`, `(transaction_id, position)`); nothing scans
the log.
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
    dropped,
    median,
    percentile,
    say,
    scale,
    seconds,
)
from tests.bench.limits_pg import migrated_pool
from tests.bench.stack_append import append_loop, appends

TASKS = 16
SLICES = 20  # pairs of slices, a slice of each size
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


Slice = tuple[int, float, list[float]]
"""One size's slice, as `closed_loop` gives it: (operations, seconds, latencies in ms)."""


async def _loads(store: PostgresEventStore, streams: int, duration: float) -> Slice:
    rng = random.Random(7)  # noqa: S311 - which stream to load, not a secret

    async def step(_: int) -> None:
        async with store.transaction() as tx:
            loaded = await tx.load(f"grown-{rng.randrange(streams)}")
        if len(loaded) != PER_STREAM:
            raise AssertionError(f"a grown stream holds {len(loaded)} events")

    return await closed_loop(TASKS, duration, step)


async def _appends(store: PostgresEventStore, _streams: int, duration: float) -> Slice:
    return await appends(store, TASKS, duration)


def compared(slices: list[tuple[Slice, Slice]]) -> tuple[dict[str, float], dict[str, float], float]:
    """Each size's rate over all its slices with its p50/p99, and the change from the first size to
    the second: the median of each pair's own ratio, so that a phase of the machine that both slices
    of a pair share cancels out."""

    def pooled(size: int) -> dict[str, float]:
        latencies = [ms for pair in slices for ms in pair[size][2]]
        count = sum(pair[size][0] for pair in slices)
        elapsed = sum(pair[size][1] for pair in slices)
        return {
            "value": count / elapsed if elapsed else 0.0,
            "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99),
        }

    ratios = [(b[0] / b[1]) / (a[0] / a[1]) for a, b in slices if a[0] and b[0]]
    return pooled(0), pooled(1), (median(ratios) - 1) if ratios else 0.0


async def _in_turns(
    stores: tuple[PostgresEventStore, PostgresEventStore], sizes: tuple[int, int], duration: float
) -> dict[str, tuple[dict[str, float], dict[str, float], float]]:
    """Appends, then loads: `SLICES` pairs of slices each, a slice of each size (which goes first
    turns each pair)."""
    for store in stores:
        await append_loop(store, TASKS, 0.5)  # warm-up
    results = {}
    for what, measure in (("append", _appends), ("load", _loads)):
        slices = []
        for turn in range(SLICES):
            pair: dict[int, Slice] = {}
            for which in (0, 1) if turn % 2 == 0 else (1, 0):
                pair[which] = await measure(stores[which], sizes[which] // PER_STREAM, duration)
            slices.append((pair[0], pair[1]))
        results[what] = compared(slices)
    return results


async def _copied(admin_dsn: str, template: str, name: str) -> None:
    """`name` as a file copy of `template` (whose connections are closed): the first size's log
    without filling it again."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    finally:
        await conn.close()


async def measure(pg: EmbeddedPostgres) -> list[Figure]:
    first = max(20_000, round(1_000_000 * scale() / CHUNK) * CHUNK or CHUNK)
    duration = seconds(0.6, minimum=0.25)
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
        results = await _in_turns(
            (PostgresEventStore(pools[0]), PostgresEventStore(pools[1])), (first, 2 * first), duration
        )
        size = await pools[1].fetchval("SELECT pg_size_pretty(pg_total_relation_size('events'))")
    finally:
        for each in pools:
            await each.close()
    await dropped(pg.url, small_name, large_name)
    figures = []
    for what, label, unit in (("append", "appends with outbox", "events/s"), ("load", "stream loads", "loads/s")):
        before, after, change = results[what]
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
                    f"{before['value']:.0f} -> {after['value']:.0f} {unit} over all slices, {change:+.1%} the pairs' "
                    f"median, p99 {before['p99_ms']:.1f} -> {after['p99_ms']:.1f} ms; log {size} after {filled:.0f} s "
                    "of filling"
                ),
                extra={"before": before, "after": after, "change": change, "events": [first, 2 * first]},
            )
        )
    return figures
