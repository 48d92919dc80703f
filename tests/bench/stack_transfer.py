"""Stack: straight-through inter-province transfers, application to completion, across two regions.

The transfer services of regions 36 (new) and 44 (old) run as subprocesses with their own databases,
with the gateway. Each worker's contribution history is seeded straight into the two services' history
tables (what the enrolment events would have written), so the figure is the transfer path alone:
gateway -> 36 review + letter -> outbox -> JetStream -> 44 unpaid check, sheet, funds -> 36 check to the
fen and completion. Latency is each case's own application-to-completion time (its two timestamps).

Runs: RUNS times as fast as IN_FLIGHT connections apply, each run its own people (the rate: the
runs' median, each run's CPU and messages per transfer beside it; applications queue behind it),
then open loop at PACED_RATE (the target's p99), at half that median rate and, when the raw limits
were measured before, at PACED_RATE times the machine factor (the target's scaled verdict). The
rate is printed beside JetStream's raw publish rate over the fsync'd messages each transfer stores,
a ceiling no transfer path that publishes them can pass on this machine.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from datetime import UTC, datetime
from statistics import quantiles
from typing import Any

import asyncpg

from gateway.auth import issue_token
from gateway.simulation.http import KeepAliveConnection
from runtime.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from runtime.settings import RuntimeSettings
from tests.bench import cpu
from tests.bench.common import Figure, say, scale, stack_figure
from tests.bench.outboxes import outboxes_drained
from tests.bench.procs import (
    POLL_SECONDS,
    BacklogWatch,
    Children,
    contract_messages,
    nats_traffic,
    wait_http,
    wait_service,
)
from tests.bench.stack_gateway import CONNECTIONS, SECRET, UNLIMITED, trace_ratio
from tests.bench.targets import MachineFactor
from tests.seeding import seed_transfer_histories, young_citizen

# Connections at full rate, the gateway section's: with 16 each process woke for fewer messages at a
# time (docs/performance.md).
IN_FLIGHT = CONNECTIONS
RUNS = 3  # full-rate runs, each of its own people; the figure is their median
PACED_RATE = 100.0  # applications per second: the target's p99 is at this rate
PUBLISH_CEILING = "limit.js_publish_per_transfer"
COMPLETED = "direction = 'in' AND status = 'completed'"


async def _seed(old_url: str, new_url: str, people: list[str], salt: bytes) -> None:
    old = await asyncpg.connect(old_url)
    new = await asyncpg.connect(new_url)
    try:
        await seed_transfer_histories(old, new, people, salt)
    finally:
        await old.close()
        await new.close()


async def _completed(url: str, count: int, timeout: float) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + timeout
        while (await conn.fetchval(f"SELECT count(*) FROM transfers_view WHERE {COMPLETED}")) < count:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(POLL_SECONDS)
        return list(await conn.fetch(f"SELECT started_at, ended_at FROM transfers_view WHERE {COMPLETED}"))
    finally:
        await conn.close()


async def _apply(connection: KeepAliveConnection, citizen: str, outcomes: dict[str, int]) -> None:
    r = await connection.post_json("/v1/regions/36/transfers", {"citizen_id": citizen, "from_region": "44"})
    status = r.json().get("status", str(r.status_code)) if r.status_code < 500 else str(r.status_code)
    outcomes[status] = outcomes.get(status, 0) + 1


async def _paced(port: int, headers: dict[str, str], people: list[str], outcomes: dict[str, int], rate: float) -> float:
    """Applications at `rate` a second (open loop) over up to IN_FLIGHT connections; returns the
    seconds the sending took (longer than planned when the gateway fell behind)."""
    pool: asyncio.Queue[KeepAliveConnection] = asyncio.Queue()
    connections = [KeepAliveConnection("127.0.0.1", port, headers) for _ in range(IN_FLIGHT)]
    for connection in connections:
        pool.put_nowait(connection)

    async def one(citizen: str) -> None:
        connection = await pool.get()
        try:
            await _apply(connection, citizen, outcomes)
        finally:
            pool.put_nowait(connection)

    started = time.perf_counter()
    sending = []
    for i, citizen in enumerate(people):
        wait = started + i / rate - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        sending.append(asyncio.create_task(one(citizen)))
    await asyncio.gather(*sending)
    took = time.perf_counter() - started
    for connection in connections:
        await connection.close()
    return took


async def _full_rate(
    port: int,
    headers: dict[str, str],
    people: list[str],
    urls: dict[str, str],
    nats_server: EmbeddedNats,
    pids: dict[str, int],
    *,
    done: int,
) -> dict[str, Any]:
    """One run: `people` apply as fast as IN_FLIGHT connections allow, one application at a time
    each; the run ends when all are completed (`done`: completed by the runs before). Its rate,
    latencies, CPU and messages per transfer."""
    outcomes: dict[str, int] = {}
    queue = iter(people)

    async def apply_each() -> None:
        async with KeepAliveConnection("127.0.0.1", port, headers) as connection:
            for citizen in queue:
                await _apply(connection, citizen, outcomes)

    published_before = await contract_messages(nats_server.url, *urls.values())
    before, traffic = cpu.snapshot(pids), nats_traffic(nats_server.monitor_url)
    run_from = datetime.now(UTC)
    started = time.perf_counter()
    async with BacklogWatch(nats_server.monitor_url) as backlog:
        await asyncio.gather(*(apply_each() for _ in range(IN_FLIGHT)))
        every = await _completed(urls["36"], done + len(people), timeout=max(120.0, len(people) / 5))
        # The run lasts until the transfers' last events have left too: their time and CPU count.
        drained = await outboxes_drained(list(urls.values()))
    took = time.perf_counter() - started
    rows = [r for r in every if r["started_at"] >= run_from]
    cpu_us, cpu_system_us = cpu.per_operation_us(before, cpu.snapshot(pids), len(rows))
    moved = nats_traffic(nats_server.monitor_url) - traffic
    published = await contract_messages(nats_server.url, *urls.values()) - published_before
    say(
        f"  application outcomes: {outcomes}; {len(rows)} completed; {published.stored} messages stored in "
        f"JetStream ({published.events} events, {published.inbox} letters to an inbox); the consumers' most "
        "messages behind their streams: "
        + (", ".join(f"{name} {n:,}" for name, n in sorted(backlog.peaks.items())) or "none")
    )
    each = len(rows) or 1
    return {
        **_rate(rows, took, drained.seconds),
        "completed": len(rows),
        "outbox_left": drained.left,
        "drain_seconds": drained.seconds,
        "cpu_us": cpu_us,
        "cpu_system_us": cpu_system_us,
        "jetstream_messages_per_transfer": published.stored / len(people),
        "events_per_op": published.events / each,
        "letters_per_op": published.inbox / each,
        "nats_in_per_op": moved.into / each,
        "nats_out_per_op": moved.out / each,
        "backlog": backlog.peaks,
    }


def _rate(rows: list[Any], no_span: float, drain: float = 0.0) -> dict[str, float]:
    """Completions per second over the rows' own span (first application to last completion) and
    the `drain` after it (the outboxes emptying), with p50/p99 application -> completion."""
    latencies = sorted((r["ended_at"] - r["started_at"]).total_seconds() * 1000 for r in rows)
    cuts = quantiles(latencies, n=100) if len(latencies) >= 2 else latencies * 99
    first = min((r["started_at"] for r in rows), default=None)
    last = max((r["ended_at"] for r in rows), default=None)
    span = ((last - first).total_seconds() + drain) if first and last else no_span
    rate = {"value": len(rows) / span if span else 0.0}
    if cuts:
        rate.update(p50_ms=cuts[49], p99_ms=cuts[98])
    return rate


async def measure(
    children: Children, pg: EmbeddedPostgres, nats_server: EmbeddedNats, factor: MachineFactor | None = None
) -> list[Figure]:
    """The full rate, then paced at the target's 100/s, at half the full rate and, with this run's
    machine factor, at 100/s times it (the share of this machine the target asks of the issue's)."""
    count = max(100, int(2_000 * scale()))
    paced = max(100, int(1_000 * scale()))
    halved = max(100, int(500 * scale()))
    scaled = max(100, int(500 * scale())) if factor is not None else 0
    people = [young_citizen(i) for i in range(RUNS * count + paced + halved + scaled)]
    common = {
        "YIWANG_NATS_URL": nats_server.url,
        "YIWANG_NATS_MONITOR_URL": nats_server.monitor_url,
        "YIWANG_TRACE_SAMPLE_RATIO": str(trace_ratio()),
    }
    urls = {region: pg.create_database(f"transfer_{region}") for region in ("36", "44")}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for region, url in urls.items():
            env = {**common, "YIWANG_REGION": region, "YIWANG_DATABASE_URL": url}
            processes.append(children.start_python(["transfer"], name=f"transfer-{region}", env=env))
            await wait_service(nats_server.url, region, "transfer", processes[-1])
        port = free_port()
        env = {**common, "YIWANG_PORT": str(port), "YIWANG_JWT_SECRET": SECRET, **UNLIMITED}
        processes.append(children.start_python(["gateway"], name="gateway-transfer", env=env))
        await wait_http(f"http://127.0.0.1:{port}/health/ready", process=processes[-1])
        await _seed(urls["44"], urls["36"], people, RuntimeSettings().pseudonym_salt.encode())
        token = issue_token(SECRET, kind="operator", subject="bench", region="36")
        headers = {"Authorization": f"Bearer {token}"}
        assert pg.process is not None and nats_server.process is not None
        pids = {
            "gateway": processes[2].pid,
            "transfer-36": processes[0].pid,
            "transfer-44": processes[1].pid,
            "postgres": pg.process.pid,
            "nats": nats_server.process.pid,
        }
        say(
            f"stack: {RUNS} runs of {count} straight-through transfers 44 -> 36 through the gateway, {IN_FLIGHT} in flight"
        )
        full = []
        for run in range(RUNS):
            batch = people[run * count : (run + 1) * count]
            full.append(await _full_rate(port, headers, batch, urls, nats_server, pids, done=run * count))
        figures = [_figure(full, count)]
        done = RUNS * count
        runs = [
            ("stack.transfer_paced", PACED_RATE, people[done : done + paced]),
            ("stack.transfer_half", max(1.0, figures[0].value / 2), people[done + paced : done + paced + halved]),
        ]
        if factor is not None:
            runs.append(("stack.transfer_paced_scaled", PACED_RATE * factor.value, people[done + paced + halved :]))
        outcomes: dict[str, int] = {}
        for key, rate, batch in runs:
            say(f"stack: {len(batch)} more transfers, applied at {rate:.0f}/s (open loop)")
            outcomes.clear()
            paced_from = datetime.now(UTC)
            sending = await _paced(port, headers, batch, outcomes, rate)
            done += len(batch)
            every = await _completed(urls["36"], done, timeout=max(120.0, len(batch) / 5))
            paced_rows = [r for r in every if r["started_at"] >= paced_from]
            say(f"  application outcomes: {outcomes}; {len(paced_rows)} completed; sent in {sending:.1f} s")
            figures.append(_paced_figure(key, paced_rows, len(batch), rate, sending))
    finally:
        for process in reversed(processes):
            children.stop(process)
    return figures


def _transfer_figure(key: str, label: str, rows: list[Any], **kwargs: Any) -> Figure:
    rate = _rate(rows, 0.0)
    return Figure(
        key,
        label,
        rate["value"],
        "transfers/s",
        "stack",
        p50_ms=rate.get("p50_ms"),
        p99_ms=rate.get("p99_ms"),
        **kwargs,
    )


PACED = {
    "stack.transfer_paced": ("", "p99 < 1 s at 100/s"),
    "stack.transfer_half": (" (half the full rate)", ""),
    "stack.transfer_paced_scaled": (" (100 x machine factor)", "scaled: p99 < 1 s"),
}


def _paced_figure(key: str, rows: list[Any], count: int, rate: float, sending: float) -> Figure:
    which, target = PACED[key]
    return _transfer_figure(
        key,
        f"stack: transfers applied at {rate:.0f}/s{which}, {count}",
        rows,
        target=target,
        notes=f"{len(rows)}/{count} completed; applications sent at {count / sending:.1f}/s (open loop, "
        f"up to {IN_FLIGHT} connections); application -> completion",
        extra={"sent_per_second": count / sending if sending else 0.0},
    )


def _figure(runs: list[dict[str, Any]], count: int) -> Figure:
    """The median of the full-rate runs; the JetStream messages a transfer stores, as its median run's."""
    figure = stack_figure(
        "stack.transfer",
        f"stack: straight-through transfers, {RUNS} runs of {count} cases",
        "transfers/s",
        runs,
        target="three days end to end; seconds when straight through",
        limit_key=PUBLISH_CEILING,
    )
    middle = sorted(runs, key=lambda r: r["value"])[len(runs) // 2]
    messages_each = middle["jetstream_messages_per_transfer"]
    figure.notes = (
        f"{'/'.join(str(r['completed']) for r in runs)} of {count} completed; application -> completion, both "
        f"regions; history seeded; {messages_each:.1f} JetStream messages stored (fsync before each ack) per transfer"
    )
    figure.extra["jetstream_messages_per_transfer"] = messages_each
    return figure


def publish_ceiling(figures: list[Figure]) -> list[Figure]:
    """The transfer rate JetStream's raw publish rate allows, at this run's messages per transfer;
    placed before the transfer figure, which is compared to it."""
    by_key = {f.key: f for f in figures}
    # As the outbox relay publishes: in atomic batches, when that was measured.
    publish = by_key.get("limit.js_publish_atomic") or by_key.get("limit.js_publish")
    transfer = by_key.get("stack.transfer")
    if publish is None or transfer is None or not transfer.extra.get("jetstream_messages_per_transfer"):
        return figures
    each = transfer.extra["jetstream_messages_per_transfer"]
    ceiling = Figure(
        PUBLISH_CEILING,
        f"raw: {publish.label.removeprefix('raw: ')} / {each:.1f} msgs",
        publish.value / each,
        "transfers/s",
        "limit",
        notes=f"{publish.label} divided by the JetStream messages each transfer stores",
    )
    at = figures.index(transfer)
    return [*figures[:at], ceiling, *figures[at:]]
