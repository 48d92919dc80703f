"""Stack: event append with outbox through `PostgresEventStore`, a new stream per append.

In one worker process with 16 tasks on the runtime's pool (as a service runs), and in 2 processes
with 8 tasks each (the same 16 connections in all), each on uvloop as `runtime.host` runs services.
"""

from __future__ import annotations

import asyncio
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
from tests.bench.limits_pg import migrated_pool
from tests.bench.procs import Children

TASKS = 16
RUNS = 3


async def append_loop(store: PostgresEventStore, tasks: int, duration: float) -> dict[str, float]:
    async def step(_: int) -> None:
        event_id = uuid.uuid4()
        async with store.transaction() as tx:
            await tx.append(
                f"bench-{event_id}",
                0,
                [NewEvent(event_id, "EmployerRegistered", EVENT_DATA, EVENT_METADATA)],
                [OutboxMessage(event_id, OUTBOX_SUBJECT, OUTBOX_PAYLOAD, OUTBOX_HEADERS)],
            )

    count, elapsed, latencies = await closed_loop(tasks, duration, step)
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


async def measure(dsn: str, children: Children) -> list[Figure]:
    duration = seconds(6.0)
    await (await migrated_pool(dsn, size=2)).close()
    say(f"stack: append with outbox, 1 process x {TASKS} tasks, {RUNS} runs")
    runs = [await _processes(dsn, children, duration, 1) for _ in range(RUNS)]
    figures = [
        stack_figure(
            "stack.append",
            f"stack: append+outbox, 1 proc x {TASKS} tasks",
            "events/s",
            runs,
            limit_key="limit.pg_event_outbox_tx",
            peer_key="peer.threads",
            target=">=0.5x limit, >=4x peer (16 threads)",
            notes="PostgresEventStore.transaction(): the append CTE, held back and sent at commit alone; new stream "
            "each; a worker process on uvloop",
        )
    ]
    say(f"stack: append with outbox, 2 processes x {TASKS // 2} tasks, {RUNS} runs")
    two = [await _processes(dsn, children, duration, 2) for _ in range(RUNS)]
    figures.append(
        stack_figure(
            "stack.append_2proc",
            f"stack: append+outbox, 2 procs x {TASKS // 2} tasks",
            "events/s",
            two,
            limit_key="limit.pg_event_outbox_tx",
            peer_key="peer.threads",
            target=">=0.5x limit, >=4x peer (16 threads)",
            notes="same 16 connections split over 2 processes; p50/p99 = worse process",
        )
    )
    return figures


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
