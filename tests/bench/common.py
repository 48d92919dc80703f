"""Shared pieces of the bench: scale, durations, sample payloads, statistics, figures, progress lines."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def scale() -> float:
    """YIWANG_BENCH_SCALE: 1.0 by default; 0.1 makes a smoke run of about a minute."""
    try:
        value = float(os.environ.get("YIWANG_BENCH_SCALE", "1.0"))
    except ValueError:
        value = 1.0
    return max(0.01, value)


def seconds(full: float, minimum: float = 1.0) -> float:
    """`full` seconds at scale 1.0, never below `minimum`."""
    return max(minimum, full * scale())


def whole_seconds(full: float, minimum: int = 1) -> int:
    """For wrk, which takes whole seconds."""
    return max(minimum, round(full * scale()))


def write_result(result: object) -> None:
    """A worker's result: one JSON line on stdout, written whole. `sys.stdout.write` hands the line
    to one `write` call on the pipe, and a call interrupted by a signal while the pipe's 64 KiB are
    full returns short; the rest was lost (a lag run's ten thousand lags came back as 65,536
    characters of JSON)."""
    data = memoryview(orjson.dumps(result) + b"\n")
    while data:
        data = data[os.write(sys.stdout.fileno(), data) :]


async def read_result(process: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    """The result line a worker wrote with `write_result`, read once it has ended its output."""
    assert process.stdout is not None
    out: bytes = await asyncio.wait_for(asyncio.to_thread(process.stdout.read), timeout)
    lines = out.strip().splitlines()
    if not lines:
        raise RuntimeError(f"worker {process.args!r} printed nothing (see its log)")
    result: dict[str, Any] = orjson.loads(lines[-1])
    return result


def say(message: str) -> None:
    """A progress line on stderr; the summary goes to stdout."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# One registered employer: the same sizes for the raw limits, the peer and the stack.
EVENT_DATA: dict[str, Any] = {
    "credit_code": "91360102MA35XXXXXX",
    "name": "Bench Co",
    "division_code": "360102",
    "industry_code": "C3110",
    "established_on": "2026-01-01",
    "route": "manual",
    "registered_at": "2026-11-23T12:00:00+00:00",
}
EVENT_METADATA: dict[str, Any] = {
    "command_id": "0b7c5a2e-8f7e-4a53-9a55-6a3c1f1c2b11",
    "correlation_id": "6f1c2f9e-3c1d-4b7a-8d1e-2a9b7c6d5e4f",
    "causation_id": None,
    "actor": {"kind": "operator", "id": "bench", "region": "36"},
    "channel": "web_hall",
    "region": "36",
    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
}
EVENT_DATA_JSON = orjson.dumps(EVENT_DATA).decode()
EVENT_METADATA_JSON = orjson.dumps(EVENT_METADATA).decode()
OUTBOX_SUBJECT = "yiwang.36.enrolment.evt.EmployerRegistered.v1"
OUTBOX_PAYLOAD = orjson.dumps(
    {
        "specversion": "1.0",
        "id": "0b7c5a2e-8f7e-4a53-9a55-6a3c1f1c2b11",
        "source": "yiwang/36/enrolment",
        "type": "yiwang.enrolment.EmployerRegistered.v1",
        "time": "2026-11-23T12:00:00+00:00",
        "subject": "employer-91360102MA35XXXXXX",
        "region": "36",
        "correlationid": "6f1c2f9e-3c1d-4b7a-8d1e-2a9b7c6d5e4f",
        "actor": {"kind": "operator", "id": "bench", "region": "36"},
        "channel": "web_hall",
        "data": EVENT_DATA,
    }
)
OUTBOX_HEADERS: dict[str, str] = {"traceparent": str(EVENT_METADATA["traceparent"])}
OUTBOX_HEADERS_JSON = orjson.dumps(OUTBOX_HEADERS).decode()


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return float(ordered[rank])


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


@dataclass
class Figure:
    """One line of the summary: a raw limit, the peer, a stack figure, or a target to compare with."""

    key: str
    label: str
    value: float
    unit: str
    kind: str  # "limit", "peer", "stack" or "target"
    limit_key: str | None = None
    peer_key: str | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    runs: list[float] = field(default_factory=list)
    target: str = ""
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def stack_figure(key: str, label: str, unit: str, runs: Sequence[dict[str, float]], **kwargs: Any) -> Figure:
    """Median of several runs, each a dict with `value` and optionally `p50_ms`/`p99_ms`."""
    p50s = [r["p50_ms"] for r in runs if "p50_ms" in r]
    p99s = [r["p99_ms"] for r in runs if "p99_ms" in r]
    return Figure(
        key=key,
        label=label,
        value=median([r["value"] for r in runs]),
        unit=unit,
        kind="stack",
        p50_ms=median(p50s) if p50s else None,
        p99_ms=median(p99s) if p99s else None,
        runs=[round(r["value"], 1) for r in runs],
        extra={"runs": [dict(r) for r in runs], **kwargs.pop("extra", {})},
        **kwargs,
    )


async def closed_loop(
    workers: int, duration: float, step: Callable[[int], Awaitable[None]]
) -> tuple[int, float, list[float]]:
    """`workers` tasks repeating `step` until `duration` passed: (operations, seconds, latencies in ms)."""
    deadline = time.perf_counter() + duration
    counts = [0] * workers
    latencies: list[float] = []

    async def worker(index: int) -> None:
        while True:
            started = time.perf_counter()
            if started >= deadline:
                return
            await step(index)
            finished = time.perf_counter()
            counts[index] += 1
            latencies.append((finished - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(workers)))
    return sum(counts), time.perf_counter() - started, latencies


async def executed(dsn: str, *statements: str) -> None:
    """`statements` run one after the other on a connection of their own to `dsn`."""
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def dropped(admin_dsn: str, *names: str) -> None:
    """Drop databases `names`, then checkpoint: the next section finds the server as it was."""
    # Leave the server as found: without the checkpoint, the sections after the growth section ran
    # while PostgreSQL still wrote out its filled log's dirty pages (the outbox lag after it 2x worse).
    await executed(admin_dsn, *(f'DROP DATABASE IF EXISTS "{name}"' for name in names), "CHECKPOINT")


async def settled(admin_dsn: str, database_urls: Sequence[str]) -> float:
    """Each database vacuumed and analysed (its statistics' table vacuumed after), then a checkpoint;
    the seconds it took. Run between sections: left to autovacuum, a section's tables were vacuumed
    and analysed a minute after it, inside the next (PostgreSQL's log with autovacuum logged: the
    transfers' databases during the limits measured beside the settlements), and its dirty pages
    written out by a checkpoint spread over the next."""
    started = time.perf_counter()
    for url in database_urls:
        # The analysis writes each table's statistics again, leaving pg_statistic's old rows dead:
        # left, autovacuum vacuumed pg_statistic in every database inside the next section (the
        # bench's log, by section). Its counts reach the server's statistics first (a session sends
        # them at most once a second), so that the vacuum's own count is the last word.
        await executed(url, "VACUUM (ANALYZE)", "SELECT pg_stat_force_next_flush()", "VACUUM pg_catalog.pg_statistic")
    await executed(admin_dsn, "CHECKPOINT")
    return time.perf_counter() - started
