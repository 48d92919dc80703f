"""Stack: command round trip through the gateway (HTTP -> NATS -> enrolment -> PostgreSQL -> reply).

The enrolment service of region 36 and the gateway run as subprocesses (`python -m enrolment`,
`python -m gateway`); wrk posts RegisterEmployer with a fresh valid credit code each time.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import nats

from gateway.auth import issue_token
from runtime.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from tests.bench import cpu
from tests.bench.common import Figure, say, stack_figure, whole_seconds
from tests.bench.limits_nats import wait_responder
from tests.bench.loadgen import Load, LoadResult, half_load_connections, settle
from tests.bench.outboxes import outboxes_drained
from tests.bench.procs import Children, contract_messages, nats_traffic, wait_http, wait_service

SECRET = "bench-secret-at-least-32-bytes-long-0123456789"  # HS256 warns per token below 32
CONNECTIONS = 64
# One bench token drives the whole load: the per-caller rate limit would measure itself, not the stack.
UNLIMITED = {"YIWANG_RATE_LIMIT_PER_SECOND": "1000000", "YIWANG_RATE_LIMIT_BURST": "1000000"}
RUNS = 3


def trace_ratio() -> float:
    return float(os.environ.get("YIWANG_BENCH_TRACE_RATIO", "1.0"))


@dataclass
class Stack:
    service: subprocess.Popen[bytes]
    gateway: subprocess.Popen[bytes]
    url: str
    database: str
    nats_url: str
    monitor_url: str


async def _commits(database: str) -> int:
    """Transaction ids handed out so far, server-wide (only this stack writes during a run): each is
    a transaction that wrote, so a commit that flushes the WAL; a count of the work per command that
    does not depend on the machine's speed."""
    conn = await asyncpg.connect(database)
    try:
        count: int = await conn.fetchval("SELECT pg_current_xact_id()::text::bigint")
    finally:
        await conn.close()
    return count


async def start_stack(
    children: Children, pg: EmbeddedPostgres, nats_server: EmbeddedNats, ratio: float, tag: str
) -> Stack:
    common = {
        "YIWANG_NATS_URL": nats_server.url,
        "YIWANG_NATS_MONITOR_URL": nats_server.monitor_url,
        "YIWANG_TRACE_SAMPLE_RATIO": str(ratio),
    }
    database = pg.create_database("enrolment_36")
    service = children.start_python(
        ["enrolment"], name=f"enrolment-{tag}", env={**common, "YIWANG_REGION": "36", "YIWANG_DATABASE_URL": database}
    )
    await wait_service(nats_server.url, "36", "enrolment", service)
    port = free_port()
    gateway = children.start_python(
        ["gateway"],
        name=f"gateway-{tag}",
        env={**common, "YIWANG_PORT": str(port), "YIWANG_JWT_SECRET": SECRET, **UNLIMITED},
    )
    await wait_http(f"http://127.0.0.1:{port}/health/ready", process=gateway)
    return Stack(
        service,
        gateway,
        f"http://127.0.0.1:{port}/v1/regions/36/employers",
        database,
        nats_server.url,
        nats_server.monitor_url,
    )


def stop_stack(children: Children, stack: Stack) -> None:
    children.stop(stack.gateway)
    children.stop(stack.service)


async def _measured(
    load: Load, stack: Stack, pids: Mapping[str, int], connections: int, secs: int, token: str
) -> LoadResult:
    commits, stored = await _commits(stack.database), await contract_messages(stack.nats_url, stack.database)
    before, traffic = cpu.snapshot(pids), nats_traffic(stack.monitor_url)
    result = await load.run(stack.url, connections=connections, seconds=secs, token=token)
    # The run lasts until its commands' events have left: their time and CPU count too.
    result.outbox_left, result.drain_seconds = await outboxes_drained([stack.database])
    after, moved = cpu.snapshot(pids), nats_traffic(stack.monitor_url) - traffic
    result.sample_other = result.sample_other[:300]
    result.cpu_us, result.cpu_system_us = cpu.per_operation_us(before, after, result.ok)
    await settle()  # the service's projector finishes this run's work; statistics reach the view
    if result.ok:
        result.pg_transactions_per_op = (await _commits(stack.database) - commits) / result.ok
        published = await contract_messages(stack.nats_url, stack.database) - stored
        result.events_per_op, result.letters_per_op = published.events / result.ok, published.inbox / result.ok
        result.nats_in_per_op, result.nats_out_per_op = moved.into / result.ok, moved.out / result.ok
    return result


def _run_dict(result: LoadResult) -> dict[str, Any]:
    run = result.as_run()
    if result.other or result.errors:
        say(f"  {result.other} non-201 responses, {result.errors} socket errors; first: {result.sample_other}")
    return run


async def _half_load_connections(load: Load, stack: Stack, token: str, full_rate: float) -> int:
    async def rate_at(connections: int) -> float:
        return (await load.run(stack.url, connections=connections, seconds=whole_seconds(2), token=token)).rate

    return await half_load_connections(rate_at, full_rate, CONNECTIONS)


async def _gateway_alone(children: Children, load: Load, stack: Stack, nats_url: str, token: str, secs: int) -> Figure:
    """The same gateway with the service replaced by a bare responder: the gateway's own ceiling."""
    say("stack: gateway alone, the service replaced by a stub NATS responder (1 run)")
    children.stop(stack.service)
    subject = "yiwang.36.enrolment.cmd.>"
    responder = children.start_python(["tests.bench.responder", nats_url, subject], name="stub-service")
    try:
        nc = await nats.connect(nats_url, name="bench-probe")
        try:
            await wait_responder(nc, "yiwang.36.enrolment.cmd.ping")
        finally:
            await nc.close()
        await load.run(stack.url, connections=16, seconds=1, token=token)
        await settle()
        run = _run_dict(await _measured(load, stack, {"gateway": stack.gateway.pid}, CONNECTIONS, secs, token))
    finally:
        children.stop(responder)
    return stack_figure(
        "stack.gateway_alone",
        f"stack: gateway alone (stub service), {CONNECTIONS} conns",
        "req/s",
        [run],
        limit_key="limit.fastapi",
        notes="HTTP, auth, validation, envelope, NATS request, tracing; no service work",
    )


async def measure(children: Children, load: Load, pg: EmbeddedPostgres, nats_server: EmbeddedNats) -> list[Figure]:
    token = issue_token(SECRET, kind="operator", subject="bench", region="36")
    ratio = trace_ratio()
    figures: list[Figure] = []
    stack = await start_stack(children, pg, nats_server, ratio, "main")
    try:
        assert pg.process is not None and nats_server.process is not None
        pids = {
            "gateway": stack.gateway.pid,
            "enrolment": stack.service.pid,
            "postgres": pg.process.pid,
            "nats": nats_server.process.pid,
        }
        say(f"stack: gateway round trip, trace sample ratio {ratio}, {load.tool}; warm-up")
        warm = await load.run(stack.url, connections=16, seconds=whole_seconds(2), token=token)
        if warm.ok == 0:
            raise RuntimeError(f"no 201 from the gateway in warm-up: {warm.sample_other}")
        await settle()
        secs = whole_seconds(6)
        say(f"stack: gateway round trip, {CONNECTIONS} connections, {RUNS} runs of {secs}s")
        full = [_run_dict(await _measured(load, stack, pids, CONNECTIONS, secs, token)) for _ in range(RUNS)]
        figure = stack_figure(
            "stack.gateway",
            f"stack: gateway POST employer, {CONNECTIONS} conns",
            "cmd/s",
            full,
            limit_key="limit.fastapi",
            peer_key="peer.single",
            target=">=3,000/s (aim 5,000)",
            notes=f"201s only; trace ratio {ratio}; {load.tool}",
        )
        figures.append(figure)
        say("stack: gateway round trip at about half that rate (fewer connections)")
        connections = await _half_load_connections(load, stack, token, figure.value)
        half = [_run_dict(await _measured(load, stack, pids, connections, secs, token)) for _ in range(RUNS)]
        figures.append(
            stack_figure(
                "stack.gateway_half",
                f"stack: gateway at ~half load, {connections} conns",
                "cmd/s",
                half,
                limit_key="limit.fastapi",
                peer_key="peer.single",
                target="p99 < 50 ms at half load",
                notes=f"closed loop, target {figure.value / 2:.0f}/s",
                extra={"target_rate": figure.value / 2},
            )
        )
        figures.append(await _gateway_alone(children, load, stack, nats_server.url, token, secs))
    finally:
        stop_stack(children, stack)
    other = 0.0 if ratio > 0 else 1.0
    say(f"stack: gateway round trip with trace sample ratio {other} (1 run, for comparison)")
    stack = await start_stack(children, pg, nats_server, other, "compare")
    try:
        pids = {
            "gateway": stack.gateway.pid,
            "enrolment": stack.service.pid,
            "postgres": pg.process.pid,
            "nats": nats_server.process.pid,
        }
        await load.run(stack.url, connections=16, seconds=whole_seconds(1), token=token)
        await settle()
        compare = [_run_dict(await _measured(load, stack, pids, CONNECTIONS, secs, token))]
        figures.append(
            stack_figure(
                "stack.gateway_trace_compare",
                f"stack: gateway, trace ratio {other}, 1 run",
                "cmd/s",
                compare,
                limit_key="limit.fastapi",
                peer_key="peer.single",
                notes="the same, tracing sampled differently",
            )
        )
    finally:
        stop_stack(children, stack)
    return figures
