"""Raw NATS limits: JetStream publish-with-ack (fsync always), one by one and in atomic batches, durable
pull consume, core request/reply.

The CPU of each pipelined publish, consumed message and request, the server's and the clients'
(this process on uvloop, and the responder), is one of the parts whose sum is the stack's floor
(tests/bench/floor.py).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable
from typing import Any

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from tests.bench import cpu
from tests.bench.common import OUTBOX_PAYLOAD, Figure, closed_loop, percentile, say, seconds
from tests.bench.procs import POLL_SECONDS, Children

WINDOW = 256
ATOMIC_BATCH = 500  # the outbox relay's largest batch
REQUESTERS = 64
STREAM = "BENCH_PUB"
SUBJECT = "bench.pub.e"


async def _publish_async(js: Any, duration: float) -> tuple[int, float]:
    """Pipelined publishes, at most WINDOW awaiting their ack; (acknowledged, seconds). No
    `wait_stall` (a stall timeout is a task and a timer a message): the outbox relay's way, its
    publishes answered on an inbox of its own."""
    acked = 0
    failed = 0

    def done(future: asyncio.Future[Any]) -> None:
        nonlocal acked, failed
        if future.cancelled() or future.exception() is not None:
            failed += 1
        else:
            acked += 1

    started = time.perf_counter()
    deadline = started + duration
    while time.perf_counter() < deadline:
        for _ in range(64):
            future = await js.publish_async(SUBJECT, OUTBOX_PAYLOAD)
            future.add_done_callback(done)
    await js.publish_async_completed()
    elapsed = time.perf_counter() - started
    if failed:
        say(f"raw: {failed} async publishes failed")
    return acked, elapsed


async def _publish_atomic(nc: Any, duration: float) -> tuple[int, float]:
    """Atomic batches of ATOMIC_BATCH, one at a time as the outbox relay sends them (the messages
    without a reply, the commit a request); (messages acknowledged, seconds)."""
    acked = 0
    started = time.perf_counter()
    deadline = started + duration
    while time.perf_counter() < deadline:
        batch = uuid.uuid4().hex
        for place in range(1, ATOMIC_BATCH):
            headers = {"Nats-Batch-Id": batch, "Nats-Batch-Sequence": str(place)}
            await nc.publish(SUBJECT, OUTBOX_PAYLOAD, headers=headers)
        commit = {"Nats-Batch-Id": batch, "Nats-Batch-Sequence": str(ATOMIC_BATCH), "Nats-Batch-Commit": "1"}
        answer = json.loads((await nc.request(SUBJECT, OUTBOX_PAYLOAD, headers=commit, timeout=30)).data)
        if "error" in answer:
            raise RuntimeError(f"atomic batch refused: {answer['error']}")
        acked += int(answer["count"])
    return acked, time.perf_counter() - started


async def _consume(js: Any, total: int, timeout: float) -> tuple[int, float]:
    config = ConsumerConfig(
        durable_name="bench-consume",
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        max_ack_pending=100_000,
        ack_wait=60,
    )
    sub = await js.pull_subscribe(SUBJECT, durable="bench-consume", stream=STREAM, config=config)
    consumed = 0
    started = time.perf_counter()
    deadline = started + timeout
    while consumed < total and time.perf_counter() < deadline:
        try:
            batch = await sub.fetch(256, timeout=1.0)
        except (TimeoutError, nats.errors.TimeoutError):
            continue
        for msg in batch:
            await msg.ack()
        consumed += len(batch)
    elapsed = time.perf_counter() - started
    await sub.unsubscribe()
    return consumed, elapsed


async def _request_reply(
    nc: Any, subject: str, duration: float, pids: dict[str, int]
) -> tuple[float, float, float, dict[str, Any]]:
    payload = OUTBOX_PAYLOAD

    async def step(_: int) -> None:
        await nc.request(subject, payload, timeout=5)

    await closed_loop(REQUESTERS, 0.5, step)
    before = cpu.snapshot(pids)
    count, elapsed, latencies = await closed_loop(REQUESTERS, duration, step)
    run = cpu.part_run(count / elapsed, before, cpu.snapshot(pids), count)
    return count / elapsed, percentile(latencies, 50), percentile(latencies, 99), run


async def _part(
    server: int, work: Awaitable[tuple[int, float]], key: str, label: str, notes: str
) -> tuple[int, Figure]:
    """Run `work` (messages, seconds) with the server's CPU read around it: (messages, its figure)."""
    before = cpu.snapshot({"nats": server})
    count, elapsed = await work
    run = cpu.part_run(count / elapsed, before, cpu.snapshot({"nats": server}), count)
    return count, Figure(key, label, count / elapsed, "msg/s", "limit", notes=f"{count} messages; {notes}", extra=run)


async def wait_responder(nc: Any, subject: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            await nc.request(subject, b"ping", timeout=0.5)
            return
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(POLL_SECONDS)


async def measure(nats_url: str, server: int, children: Children, *, reference_only: bool = False) -> list[Figure]:
    """`server`: nats-server's process id. `reference_only`: only the limits the issue gives (the
    machine factor's), not the sequential publish and the atomic batches."""
    figures: list[Figure] = []
    nc = await nats.connect(nats_url, name="bench-raw", pending_size=64 * 1024 * 1024)
    try:
        js = nc.jetstream(timeout=30, publish_async_max_pending=WINDOW)
        await js.add_stream(
            StreamConfig(
                name=STREAM, subjects=["bench.pub.>"], storage=StorageType.FILE, num_replicas=1, allow_atomic=True
            )
        )
        duration = seconds(4.0)
        latencies: list[float] = []
        if not reference_only:
            say("raw: JetStream sequential publish-with-ack")
            end = time.perf_counter() + duration / 2
            started = time.perf_counter()
            while time.perf_counter() < end:
                before = time.perf_counter()
                await js.publish(SUBJECT, OUTBOX_PAYLOAD)
                latencies.append((time.perf_counter() - before) * 1000)
            rate = len(latencies) / (time.perf_counter() - started)
            figures.append(
                Figure(
                    "limit.js_publish_seq",
                    "raw: JetStream publish, sequential",
                    rate,
                    "msg/s",
                    "limit",
                    p50_ms=percentile(latencies, 50),
                    p99_ms=percentile(latencies, 99),
                    notes="await js.publish one at a time; bound by the fsync per ack",
                )
            )
        say(f"raw: JetStream publish_async, window {WINDOW}")
        acked, figure = await _part(
            server,
            _publish_async(js, duration),
            "limit.js_publish",
            f"raw: JetStream publish_async, {WINDOW} in flight",
            f"sync_interval: always; {len(OUTBOX_PAYLOAD)}-byte payload",
        )
        figures.append(figure)
        total = acked + len(latencies)
        say(f"raw: durable pull consume of {total} messages, fetch 256, ack each")
        _, figure = await _part(
            server,
            _consume(js, total, timeout=max(20.0, duration * 5)),
            "limit.js_consume",
            "raw: JetStream durable pull, fetch 256",
            "explicit ack each",
        )
        figures.append(figure)
        if not reference_only:
            say(f"raw: JetStream atomic batches of {ATOMIC_BATCH}, one at a time")
            _, figure = await _part(
                server,
                _publish_atomic(nc, duration),
                "limit.js_publish_atomic",
                f"raw: JetStream atomic batches of {ATOMIC_BATCH}",
                "the relay's way under load: one acknowledgement and one fsync a batch",
            )
            figures.append(figure)
        say(f"raw: NATS core request/reply, {REQUESTERS} concurrent requesters, responder in its own process")
        subject = "bench.rpc.echo"
        responder = children.start_python(["tests.bench.responder", nats_url, subject], name="responder")
        try:
            await wait_responder(nc, subject)
            rate, p50, p99, answered = await _request_reply(
                nc, subject, duration, {"nats": server, "responder": responder.pid}
            )
        finally:
            children.stop(responder)
        figures.append(
            Figure(
                "limit.nats_rpc",
                f"raw: NATS request/reply, {REQUESTERS} requesters",
                rate,
                "req/s",
                "limit",
                p50_ms=p50,
                p99_ms=p99,
                notes="nats-py both ends, one process each",
                extra=answered,
            )
        )
        await js.delete_stream(STREAM)
    finally:
        await nc.close()
    return figures
