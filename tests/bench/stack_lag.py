"""Stack: outbox commit-to-consumer lag at a steady ~1,000 events/s.

Three processes, as in production: the writing service (paced appends + `OutboxRelay` woken on
each commit, `tests.bench.lag_worker produce`), a reading service (the runtime's `PullConsumer`,
an inbox transaction per fetch, `... apply`), and this process as a bare consumer (an ordered push
consumer, no acknowledgements). The payload carries the time taken just before the append
statement inside the transaction, so the lag includes that statement and the commit; the time the
stream stored each message splits the bare lag into the relay's part and the delivery's.

Over each run's measured appends: the CPU of every process, the machine's pressure stall
information and a timed fsync on the servers' disk (tests/bench/waits.py), which say what the
applied lag waited for (the bench's "What bounds each latency").
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import asyncpg
import nats
import orjson
from nats.aio.msg import Msg
from nats.js.api import StorageType, StreamConfig

from runtime.embedded import EmbeddedNats, EmbeddedPostgres
from tests.bench import cpu
from tests.bench.common import Figure, percentile, read_result, say, seconds, stack_figure
from tests.bench.limits_pg import migrated_pool
from tests.bench.procs import Children
from tests.bench.targets import MachineFactor
from tests.bench.waits import FsyncProbe, Pressure, PressureMeter

RATE = 1000.0
RUNS = 3
# Appends at the same rate before the measured ones, left out of the lags: the first 0.3 s of a run
# held nearly every lag over 50 ms (a process's start, its pools still opening connections; the cause
# not pinned down further), and made the p99 of a steady 1,000/s.
WARMUP_SECONDS = 1.0


async def _bare_consumer(
    js: Any, stream: str, subject: str, total: int, until: float
) -> tuple[list[float], list[float], list[float]]:
    """Each message's lag from commit to this consumer, and its two parts: commit -> stored in the
    stream (the relay: claim, publish, JetStream's fsync), stored -> received here (delivery).

    An ordered push consumer (no acknowledgements, messages handed to a callback): the lightest way
    to receive from JetStream, so that measuring takes as little as it can of the CPU the stack
    shares (a pull consumer acknowledging each message cost about 190 us an event)."""
    lags: list[float] = []
    stored: list[float] = []
    delivered: list[float] = []
    received = asyncio.Event()

    async def on_message(msg: Msg) -> None:
        now = time.time()
        payload = orjson.loads(msg.data)
        if "w" in payload:
            return
        at = msg.metadata.timestamp.timestamp()  # when the stream stored it (the server's clock, this machine's)
        lags.append((now - payload["t"]) * 1000)
        stored.append((at - payload["t"]) * 1000)
        delivered.append((now - at) * 1000)
        if len(lags) >= total:
            received.set()

    sub = await js.subscribe(subject, stream=stream, ordered_consumer=True, cb=on_message)
    try:
        await asyncio.wait_for(received.wait(), timeout=max(0.0, until - time.time()))
    except TimeoutError:
        pass  # the messages not received by then count as missing
    finally:
        await sub.unsubscribe()
    return lags, stored, delivered


async def _window(pids: dict[str, int], probe_folder: Path, start_at: float, duration: float) -> dict[str, Any]:
    """CPU of every process, the machine's pressure and the disk's fsync latency over the measured
    appends (from `start_at`, for `duration` s)."""
    await asyncio.sleep(max(0.0, start_at - time.time()))
    before, pressure = cpu.snapshot(pids), PressureMeter()
    with FsyncProbe(probe_folder) as probe:
        await asyncio.sleep(duration)
    return {"before": before, "after": cpu.snapshot(pids), "pressure": pressure.shares(), "fsync": probe.latencies_ms}


async def _one_run(
    children: Children,
    dsns: tuple[str, str],
    js: Any,
    servers: tuple[EmbeddedPostgres, EmbeddedNats],
    index: int,
    duration: float,
    rate: float,
) -> dict[str, Any]:
    pg, nats_server = servers
    assert pg.process is not None and nats_server.process is not None
    nats_url = nats_server.url
    stream, subject = f"BENCH_LAG_{index}", f"bench.lag{index}.e"
    # What an earlier run left unrelayed is addressed to a deleted stream: it would block the relay.
    conn = await asyncpg.connect(dsns[0])
    try:
        await conn.execute("TRUNCATE outbox")
    finally:
        await conn.close()
    await js.add_stream(StreamConfig(name=stream, subjects=[f"bench.lag{index}.>"], storage=StorageType.FILE))
    total = int(rate * duration)
    start_at = time.time() + 3.0  # the workers import, connect and wait
    until = start_at + WARMUP_SECONDS + duration + max(3.0, duration * 0.8)
    common = {"nats_url": nats_url, "stream": stream, "subject": subject, "total": total}
    warmup = int(rate * WARMUP_SECONDS)
    producer = children.start_python(
        [
            "tests.bench.lag_worker",
            "produce",
            orjson.dumps(
                {**common, "dsn": dsns[0], "rate": rate, "warmup": warmup, "start_at": start_at, "until": until}
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
    window = asyncio.create_task(
        _window(
            {
                "producer": producer.pid,
                "consumer": applier.pid,
                "postgres": pg.process.pid,
                "nats": nats_server.process.pid,
            },
            nats_server.store_dir,
            start_at + WARMUP_SECONDS,
            duration,
        )
    )
    try:
        bare, stored, delivered = await _bare_consumer(js, stream, subject, total, until)
        produced = await read_result(producer, until - time.time() + 60)
        applied = (await read_result(applier, until - time.time() + 30))["lags"]
        measured = await window
    finally:
        window.cancel()
        children.stop(producer)
        children.stop(applier)
    await js.delete_stream(stream)
    kept = int(produced["produced"]) / float(produced["seconds"])
    cpu_us, cpu_system_us = cpu.per_operation_us(measured["before"], measured["after"], round(kept * duration))
    waited: Pressure | None = measured["pressure"]
    return {
        "value": percentile(bare, 99),
        "p50_ms": percentile(bare, 50),
        "p99_ms": percentile(bare, 99),
        "produced": int(produced["produced"]),
        "rate": kept,
        "relayed": int(produced["relayed"]),
        "received": len(bare),
        "stored_p50_ms": percentile(stored, 50),
        "stored_p99_ms": percentile(stored, 99),
        "delivered_p50_ms": percentile(delivered, 50),
        "delivered_p99_ms": percentile(delivered, 99),
        "applied": len(applied),
        "applied_p50_ms": percentile(applied, 50),
        "applied_p99_ms": percentile(applied, 99),
        "cpu_us": cpu_us,  # per event; "bench" is this process, the bare consumer
        "cpu_system_us": cpu_system_us,
        "pressure": waited._asdict() if waited else None,
        "fsync_p50_ms": percentile(measured["fsync"], 50),
        "fsync_p99_ms": percentile(measured["fsync"], 99),
    }


async def measure(
    pg: EmbeddedPostgres, nats_server: EmbeddedNats, children: Children, factor: MachineFactor | None = None
) -> list[Figure]:
    """Runs at the target's 1,000 events/s; then, with this run's machine factor, at 1,000/s times it:
    the same share of the machine the target asks of the issue's (a rate this machine's cores carry
    as the issue's carry 1,000/s), which the targets block judges as the scaled verdict."""
    dsn, consumer_dsn = pg.create_database("bench_lag"), pg.create_database("bench_lag_consumer")
    duration = seconds(10.0)
    for database in (dsn, consumer_dsn):
        await (await migrated_pool(database, size=2)).close()
    nc = await nats.connect(nats_server.url, name="bench-lag", pending_size=64 * 1024 * 1024)
    rates = [("", RATE)] + ([("_scaled", round(RATE * factor.value))] if factor is not None else [])
    figures: list[Figure] = []
    try:
        js = nc.jetstream(timeout=10)
        for suffix, rate in rates:
            say(f"stack: outbox lag at {rate:.0f} events/s for {duration:.0f}s, {RUNS} runs (3 processes)")
            runs = [
                await _one_run(children, (dsn, consumer_dsn), js, (pg, nats_server), i, duration, rate)
                for i in range(RUNS)
            ]
            figures += _figures(runs, suffix, rate)
    finally:
        await nc.close()
    return figures


def _figures(runs: list[dict[str, Any]], suffix: str, rate: float) -> list[Figure]:
    produced = sum(int(r["produced"]) for r in runs)
    received = sum(int(r["received"]) for r in runs)
    applied_count = sum(int(r["applied"]) for r in runs)
    # What bounds the applied lag (the target's figure) goes with it: the CPU, what the work waited for.
    waits = ("cpu_us", "cpu_system_us", "pressure", "fsync_p50_ms", "fsync_p99_ms")
    bare = [{key: value for key, value in r.items() if key not in waits} for r in runs]
    applied = [
        {
            "value": r["applied_p99_ms"],
            "p50_ms": r["applied_p50_ms"],
            "p99_ms": r["applied_p99_ms"],
            **{key: r[key] for key in (*waits, "rate", "stored_p99_ms")},
            "rate_unit": "events/s",
        }
        for r in runs
    ]
    kept = min(r["rate"] for r in runs)
    at = "" if not suffix else f" at {rate:.0f}/s (1,000 x machine factor)"
    target = "p99 < 100 ms at 1,000/s" if not suffix else "scaled: p99 < 100 ms"
    return [
        stack_figure(
            f"stack.outbox_lag{suffix}",
            f"stack: outbox lag, commit -> bare consumer{at} (p99)",
            "ms",
            bare,
            limit_key="target.lag_p99",
            target=target,
            notes=f"relay woken on commit; received {received}/{produced}; appends at >= {kept:.0f}/s, "
            f"after {WARMUP_SECONDS:.0f} s of warm-up appends at that rate (not counted)",
        ),
        stack_figure(
            f"stack.outbox_lag_applied{suffix}",
            f"stack: outbox lag, commit -> PullConsumer applied{at} (p99)",
            "ms",
            applied,
            limit_key="target.lag_p99",
            target=target,
            notes=f"runtime PullConsumer, one inbox transaction per fetch; applied {applied_count}/{produced}",
        ),
    ]
