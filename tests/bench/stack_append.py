"""Stack: event append with outbox through `PostgresEventStore`, a new stream per append.

In one worker process with 16 tasks on the runtime's pool (as a service runs), and in 2 processes
with 8 tasks each (the same 16 connections in all), each on uvloop as `runtime.host` runs services.

The target is a ratio to the raw single statement, so the raw statement is measured again beside
them: each round runs the raw statement, then one process, then two, for as long each, on the same
database, and the ratio is taken to the raw rounds' median. This machine's speed drifts by 10-40%
from one minute to the next, and the raw section at the start of the run is minutes away (its figure
stays in the summary as `limit.pg_event_outbox_tx`); each round's own ratio is kept in the figure's
`extra` (`ratio_by_round`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid

import uvloop

from runtime.eventstore import NewEvent, OutboxMessage, PostgresEventStore
from tests.bench.common import (
    EVENT_DATA,
    EVENT_METADATA,
    OUTBOX_HEADERS,
    OUTBOX_PAYLOAD,
    OUTBOX_SUBJECT,
    Figure,
    closed_loop,
    percentile,
    read_result,
    say,
    seconds,
    stack_figure,
    write_result,
)
from tests.bench.limits_pg import INSERT_EVENT_AND_OUTBOX, migrated_pool, raw_rate
from tests.bench.procs import Children

TASKS = 16
RUNS = 3


async def appends(store: PostgresEventStore, tasks: int, duration: float) -> tuple[int, float, list[float]]:
    """`tasks` tasks appending an event with its outbox row to a new stream each, for `duration`:
    (appends, seconds, latencies in ms)."""

    async def step(_: int) -> None:
        event_id = uuid.uuid4()
        async with store.transaction() as tx:
            await tx.append(
                f"bench-{event_id}",
                0,
                [NewEvent(event_id, "EmployerRegistered", EVENT_DATA, EVENT_METADATA)],
                [OutboxMessage(event_id, OUTBOX_SUBJECT, OUTBOX_PAYLOAD, OUTBOX_HEADERS)],
            )

    return await closed_loop(tasks, duration, step)


async def append_loop(store: PostgresEventStore, tasks: int, duration: float) -> dict[str, float]:
    count, elapsed, latencies = await appends(store, tasks, duration)
    return {
        "count": count,
        "seconds": elapsed,
        "value": count / elapsed,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
    }


async def _processes(dsn: str, children: Children, duration: float, processes: int) -> dict[str, float]:
    """TASKS appending tasks split over `processes` worker processes, each on uvloop as `runtime.host`
    runs every service (asyncio's own loop took 220-238 us of CPU an append against 172-192)."""
    start_at = time.time() + 4.0  # all connect and warm up first, then start together
    workers = [
        children.start_python(
            ["tests.bench.append_worker", dsn, str(TASKS // processes), str(duration), str(start_at)],
            name=f"append-worker-{i}",
            capture=True,
        )
        for i in range(processes)
    ]
    try:
        results = [await read_result(worker, duration + 60) for worker in workers]
    finally:
        for worker in workers:
            children.stop(worker)
    total = sum(int(r["count"]) for r in results)
    elapsed = max(float(r["seconds"]) for r in results)
    return {
        "value": total / elapsed,
        "count": total,
        "seconds": elapsed,
        "p50_ms": max(float(r["p50_ms"]) for r in results),
        "p99_ms": max(float(r["p99_ms"]) for r in results),
    }


BESIDE = "limit.pg_event_outbox_tx_beside"


async def measure(dsn: str, children: Children, server: int) -> list[Figure]:
    """`server`: PostgreSQL's process id, for the raw rounds' CPU."""
    duration = seconds(6.0)
    await (await migrated_pool(dsn, size=2)).close()
    raw: list[dict[str, float]] = []
    one: list[dict[str, float]] = []
    two: list[dict[str, float]] = []
    for round_ in range(1, RUNS + 1):
        say(
            f"stack: append with outbox, round {round_}/{RUNS}: the raw statement, 1 process x {TASKS} tasks, 2 x {TASKS // 2}"
        )
        rate, p50, p99, _ = await raw_rate(
            dsn, INSERT_EVENT_AND_OUTBOX, with_outbox=True, duration=duration, server=server
        )
        raw.append({"value": rate, "p50_ms": p50, "p99_ms": p99})
        one.append(await _processes(dsn, children, duration, 1))
        two.append(await _processes(dsn, children, duration, 2))
    beside = stack_figure(
        BESIDE,
        "raw: event+outbox 1 stmt, beside the appends",
        "tx/s",
        raw,
        notes="limit.pg_event_outbox_tx measured again in each round of the append section, on its database",
    )
    return [
        dataclasses.replace(beside, kind="limit"),
        _appends(
            "stack.append",
            f"stack: append+outbox, 1 proc x {TASKS} tasks",
            one,
            raw,
            "PostgresEventStore.transaction(): the append CTE, held back and sent at commit alone; new stream each; a "
            "worker process on uvloop",
        ),
        _appends(
            "stack.append_2proc",
            f"stack: append+outbox, 2 procs x {TASKS // 2} tasks",
            two,
            raw,
            "same 16 connections split over 2 processes; p50/p99 = worse process",
        ),
    ]


def _appends(key: str, label: str, runs: list[dict[str, float]], raw: list[dict[str, float]], notes: str) -> Figure:
    """The rounds' median, against the raw statement's median of the same rounds; each round's own
    ratio kept too."""
    by_round = [round(run["value"] / limit["value"], 3) for run, limit in zip(runs, raw, strict=True)]
    return stack_figure(
        key,
        label,
        "events/s",
        runs,
        limit_key=BESIDE,
        peer_key="peer.threads",
        target=">=0.5x limit, >=4x peer (16 threads)",
        notes=notes,
        extra={"ratio_by_round": by_round},
    )


async def _worker(dsn: str, tasks: int, duration: float, start_at: float) -> None:
    from runtime import db

    pool = await db.create_pool(dsn, size=tasks)
    try:
        store = PostgresEventStore(pool)
        await append_loop(store, tasks, 0.5)
        await asyncio.sleep(max(0.0, start_at - time.time()))
        result = await append_loop(store, tasks, duration)
    finally:
        await pool.close()
    write_result(result)


def worker_main(argv: list[str]) -> None:
    dsn, tasks, duration, start_at = argv[0], int(argv[1]), float(argv[2]), float(argv[3])
    uvloop.run(_worker(dsn, tasks, duration, start_at))
