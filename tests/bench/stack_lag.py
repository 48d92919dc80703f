"""Stack: outbox commit-to-consumer lag at a steady ~1,000 events/s.

Three processes, as in production: the writing service (paced appends + `OutboxRelay` woken on
each commit, `tests.bench.lag_worker produce`), a reading service (the runtime's `PullConsumer`,
an inbox transaction per message, `... apply`), and this process as a bare pull consumer (fetch
256, ack each). The payload carries the time taken just before the append statement inside the
transaction, so the lag includes that statement and the commit.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import nats
import orjson
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from tests.bench.common import Figure, percentile, say, seconds, stack_figure
from tests.bench.limits_pg import migrated_pool
from tests.bench.procs import Children

RATE = 1000.0
RUNS = 3
# Appends at the same rate before the measured ones, left out of the lags: the first 0.3 s of a run
# held nearly every lag over 50 ms (a process's start, its pools still opening connections; the cause
# not pinned down further), and made the p99 of a steady 1,000/s.
WARMUP_SECONDS = 1.0


async def _bare_consumer(js: Any, stream: str, subject: str, total: int, until: float) -> list[float]:
    config = ConsumerConfig(
        durable_name="lag-bare",
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        max_ack_pending=100_000,
    )
    sub = await js.pull_subscribe(subject, durable="lag-bare", stream=stream, config=config)
    lags: list[float] = []
    while len(lags) < total and time.time() < until:
        try:
            batch = await sub.fetch(256, timeout=0.2)
        except (TimeoutError, nats.errors.TimeoutError):
            continue
        now = time.time()
        for msg in batch:
            payload = orjson.loads(msg.data)
            if "w" not in payload:
                lags.append((now - payload["t"]) * 1000)
            await msg.ack()
    await sub.unsubscribe()
    return lags


async def _output(process: Any, timeout: float) -> dict[str, Any]:
    out: bytes = await asyncio.wait_for(asyncio.to_thread(process.stdout.read), timeout)
    lines = out.strip().splitlines()
    if not lines:
        raise RuntimeError("a lag worker printed nothing (see its log)")
    result: dict[str, Any] = orjson.loads(lines[-1])
    return result


async def _one_run(
    children: Children, dsns: tuple[str, str], js: Any, nats_url: str, index: int, duration: float
) -> dict[str, float]:
    stream, subject = f"BENCH_LAG_{index}", f"bench.lag{index}.e"
    # What an earlier run left unrelayed is addressed to a deleted stream: it would block the relay.
    conn = await asyncpg.connect(dsns[0])
    try:
        await conn.execute("TRUNCATE outbox")
    finally:
        await conn.close()
    await js.add_stream(StreamConfig(name=stream, subjects=[f"bench.lag{index}.>"], storage=StorageType.FILE))
    total = int(RATE * duration)
    start_at = time.time() + 3.0  # the workers import, connect and wait
    until = start_at + WARMUP_SECONDS + duration + max(3.0, duration * 0.8)
    common = {"nats_url": nats_url, "stream": stream, "subject": subject, "total": total}
    warmup = int(RATE * WARMUP_SECONDS)
    producer = children.start_python(
        [
            "tests.bench.lag_worker",
            "produce",
            orjson.dumps(
                {**common, "dsn": dsns[0], "rate": RATE, "warmup": warmup, "start_at": start_at, "until": until}
            ).decode(),
        ],
        name=f"lag-producer-{index}",
        capture=True,
    )
    applier = children.start_python(
        ["tests.bench.lag_worker", "apply", orjson.dumps({**common, "dsn": dsns[1], "until": until}).decode()],
        name=f"lag-consumer-{index}",
        capture=True,
    )
    try:
        bare = await _bare_consumer(js, stream, subject, total, until)
        produced = await _output(producer, until - time.time() + 60)
        applied = (await _output(applier, until - time.time() + 30))["lags"]
    finally:
        children.stop(producer)
        children.stop(applier)
    await js.delete_stream(stream)
    return {
        "value": percentile(bare, 99),
        "p50_ms": percentile(bare, 50),
        "p99_ms": percentile(bare, 99),
        "produced": int(produced["produced"]),
        "produce_rate": int(produced["produced"]) / float(produced["seconds"]),
        "relayed": int(produced["relayed"]),
        "received": len(bare),
        "applied": len(applied),
        "applied_p50_ms": percentile(applied, 50),
        "applied_p99_ms": percentile(applied, 99),
    }


async def measure(dsn: str, consumer_dsn: str, nats_url: str, children: Children) -> list[Figure]:
    duration = seconds(10.0)
    for database in (dsn, consumer_dsn):
        await (await migrated_pool(database, size=2)).close()
    nc = await nats.connect(nats_url, name="bench-lag", pending_size=64 * 1024 * 1024)
    try:
        say(f"stack: outbox lag at {RATE:.0f} events/s for {duration:.0f}s, {RUNS} runs (3 processes)")
        js = nc.jetstream(timeout=10)
        runs = [await _one_run(children, (dsn, consumer_dsn), js, nats_url, i, duration) for i in range(RUNS)]
    finally:
        await nc.close()
    produced = sum(int(r["produced"]) for r in runs)
    received = sum(int(r["received"]) for r in runs)
    applied_count = sum(int(r["applied"]) for r in runs)
    applied = [
        {"value": r["applied_p99_ms"], "p50_ms": r["applied_p50_ms"], "p99_ms": r["applied_p99_ms"]} for r in runs
    ]
    rate = min(r["produce_rate"] for r in runs)
    return [
        stack_figure(
            "stack.outbox_lag",
            "stack: outbox lag, commit -> bare consumer (p99)",
            "ms",
            runs,
            limit_key="target.lag_p99",
            target="p99 < 100 ms at 1,000/s",
            notes=f"relay woken on commit; received {received}/{produced}; appends at >= {rate:.0f}/s, "
            f"after {WARMUP_SECONDS:.0f} s of warm-up appends at that rate (not counted)",
        ),
        stack_figure(
            "stack.outbox_lag_applied",
            "stack: outbox lag, commit -> PullConsumer applied (p99)",
            "ms",
            applied,
            limit_key="target.lag_p99",
            target="p99 < 100 ms at 1,000/s",
            notes=f"runtime PullConsumer, 1 inbox tx per message; applied {applied_count}/{produced}",
        ),
    ]
