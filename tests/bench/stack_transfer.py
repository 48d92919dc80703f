"""Stack: straight-through inter-province transfers, application to completion, across two regions.

The transfer services of regions 36 (new) and 44 (old) run as subprocesses with their own databases,
with the gateway. Each worker's contribution history is seeded straight into the two services' history
tables (what the enrolment events would have written), so the figure is the transfer path alone:
gateway -> 36 review + letter -> outbox -> JetStream -> 44 unpaid check, sheet, funds -> 36 check to the
fen and completion. Latency is each case's own application-to-completion time (its two timestamps).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from statistics import quantiles
from typing import Any

import asyncpg
import nats
from nats.js.api import StorageType

from gateway.auth import issue_token
from runtime.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from runtime.settings import RuntimeSettings
from tests.bench.common import Figure, say, scale
from tests.bench.procs import POLL_SECONDS, Children, wait_http, wait_service
from tests.bench.rawhttp import KeepAliveConnection
from tests.bench.stack_gateway import SECRET, UNLIMITED, trace_ratio
from tests.seeding import seed_transfer_histories, young_citizen

IN_FLIGHT = 16
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


async def _stored_messages(nats_url: str) -> int:
    """Messages in JetStream's file streams (each one written with an fsync before its ack)."""
    nc = await nats.connect(nats_url, name="bench-probe")
    try:
        streams = await nc.jetstream().streams_info()
        return sum(s.state.messages for s in streams if s.config.storage == StorageType.FILE)
    finally:
        await nc.close()


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


async def measure(children: Children, pg: EmbeddedPostgres, nats_server: EmbeddedNats) -> list[Figure]:
    count = max(100, int(2_000 * scale()))
    people = [young_citizen(i) for i in range(count)]
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
        outcomes: dict[str, int] = {}
        queue = iter(people)
        headers = {"Authorization": f"Bearer {token}"}

        async def apply_each() -> None:  # one connection, one application at a time
            async with KeepAliveConnection("127.0.0.1", port, headers) as connection:
                for citizen in queue:
                    r = await connection.post_json(
                        "/v1/regions/36/transfers", {"citizen_id": citizen, "from_region": "44"}
                    )
                    status = r.json().get("status", str(r.status)) if r.status < 500 else str(r.status)
                    outcomes[status] = outcomes.get(status, 0) + 1

        say(f"stack: {count} straight-through transfers 44 -> 36 through the gateway, {IN_FLIGHT} in flight")
        stored_before = await _stored_messages(nats_server.url)
        started = time.perf_counter()
        await asyncio.gather(*(apply_each() for _ in range(IN_FLIGHT)))
        rows = await _completed(urls["36"], count, timeout=max(120.0, count / 5))
        took = time.perf_counter() - started
        stored = await _stored_messages(nats_server.url) - stored_before
    finally:
        for process in reversed(processes):
            children.stop(process)
    say(f"  application outcomes: {outcomes}; {len(rows)} completed; {stored} messages stored in JetStream")
    return _figures(rows, count, took, stored / count)


def _figures(rows: list[Any], count: int, took: float, messages_each: float) -> list[Figure]:
    latencies = sorted((r["ended_at"] - r["started_at"]).total_seconds() * 1000 for r in rows)
    cuts = quantiles(latencies, n=100) if len(latencies) >= 2 else latencies * 99
    first = min((r["started_at"] for r in rows), default=None)
    last = max((r["ended_at"] for r in rows), default=None)
    span = (last - first).total_seconds() if first and last else took
    return [
        Figure(
            "stack.transfer",
            f"stack: straight-through transfers, {count} cases",
            len(rows) / span if span else 0.0,
            "transfers/s",
            "stack",
            p50_ms=cuts[49] if cuts else None,
            p99_ms=cuts[98] if cuts else None,
            target="three days end to end; seconds when straight through",
            notes=f"{len(rows)}/{count} completed; application -> completion, both regions; history seeded; "
            f"{messages_each:.1f} JetStream messages stored (fsync before each ack) per transfer",
            limit_key=PUBLISH_CEILING,
            extra={"jetstream_messages_per_transfer": messages_each},
        )
    ]


def publish_ceiling(figures: list[Figure]) -> list[Figure]:
    """The transfer rate JetStream's raw publish rate allows, at this run's messages per transfer;
    placed before the transfer figure, which is compared to it."""
    by_key = {f.key: f for f in figures}
    publish, transfer = by_key.get("limit.js_publish"), by_key.get("stack.transfer")
    if publish is None or transfer is None or not transfer.extra.get("jetstream_messages_per_transfer"):
        return figures
    each = transfer.extra["jetstream_messages_per_transfer"]
    ceiling = Figure(
        PUBLISH_CEILING,
        f"raw: JetStream publish_async / {each:.1f} msgs",
        publish.value / each,
        "transfers/s",
        "limit",
        notes=f"{publish.label} divided by the JetStream messages each transfer stores",
    )
    at = figures.index(transfer)
    return [*figures[:at], ceiling, *figures[at:]]
