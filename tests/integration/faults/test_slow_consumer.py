"""R7: a slow consumer under a burst: backpressure visible, an alert raised, nothing lost, the backlog drained.

The handler does real work in PostgreSQL (5 ms of `pg_sleep` per message, in the consumer's
transaction, plus its effect row); 3,000 messages arrive at once. JetStream never hands the
consumer more than `max_ack_pending` unacknowledged messages, so the rest wait in the stream
(`num_pending` grows, then falls to 0) while `num_ack_pending` stays at or under the limit.
The service's consumer watch (runtime.watch, as the host runs it, with a short window here)
raises a `saturated` alert while that lasts and `recovered` once the backlog is gone; a consumer
whose handler hangs altogether raises `stalled`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any
from uuid import uuid4

import asyncpg
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError

from runtime.eventstore import PostgresEventStore
from runtime.messaging import ConsumerSpec, DeadLetters, Delivery, PullConsumer, StreamSpec, ensure_stream
from runtime.watch import RECOVERED, SATURATED, STALLED, ConsumerWatch, alerts_stream, read_alerts
from tests.waiting import eventually

MESSAGES = 3_000
MAX_ACK_PENDING = 100
# The host's default is 30 s, sampled every 10 s: an alert within 40 s of the plateau. Here 5 s: a
# pause of the test's loop, PostgreSQL or NATS as long as the window would read as a stall, and a
# slow CI machine can pause for 2; the drain (3,000 x 5 ms) lasts three times the window.
STALL_AFTER = 5.0


async def _watched(
    nc: NatsClient, subject_root: str, stream: str, durable: str, stop: asyncio.Event
) -> tuple[ConsumerWatch, asyncio.Task[None]]:
    js = nc.jetstream()
    await ensure_stream(js, alerts_stream(subject_root), replicas=1, duplicate_window=600)
    watch = ConsumerWatch(
        js, subject_root, "36", "svc", [(stream, durable, MAX_ACK_PENDING)], interval=0.25, stall_after=STALL_AFTER
    )
    return watch, asyncio.create_task(watch.run(stop))


async def _streams(nc: NatsClient, root: str, name: str) -> tuple[Any, str, StreamSpec, DeadLetters]:
    """(JetStream, the subject, its stream, the dead letters) for a consumer under test."""
    js = nc.jetstream()
    stream = StreamSpec(f"{root.upper()}_{name}", (f"{root}.36.svc.evt.>",))
    dead = DeadLetters(js, root)
    for spec in (stream, dead.stream):
        await ensure_stream(js, spec, replicas=1, duplicate_window=600)
    return js, f"{root}.36.svc.evt.happened.v1", stream, dead


async def test_a_slow_consumer_holds_the_backlog_in_the_stream_loses_nothing_and_drains_it(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    await pool.execute("CREATE TABLE effects (message_id uuid NOT NULL, body text NOT NULL)")
    js, subject, stream, dead = await _streams(nc, subject_root, "SLOW")

    async def slow(tx: Any, delivery: Delivery) -> None:
        await (await tx.connection()).execute("SELECT pg_sleep(0.005)")
        await (await tx.connection()).execute(
            "INSERT INTO effects VALUES ($1, $2)", delivery.message_id, delivery.data.decode()
        )

    spec = ConsumerSpec(
        "svc-slow", stream.name, (subject,), slow, batch=MAX_ACK_PENDING, max_ack_pending=MAX_ACK_PENDING
    )
    consumer = PullConsumer(js, PostgresEventStore(pool), spec, dead)
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    samples: list[tuple[float, int, int]] = []

    async def watch() -> None:
        """What an operator's dashboard would plot: the backlog and the messages in flight."""
        while not stop.is_set():
            try:
                info = await js.consumer_info(stream.name, spec.durable)
            except NotFoundError:
                pass
            else:
                samples.append((time.monotonic(), info.num_pending, info.num_ack_pending))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.05)  # a sample every 50 ms until stopped

    watcher = asyncio.create_task(watch())
    alerts, alerting = await _watched(nc, subject_root, stream.name, spec.durable, stop)

    async def created() -> bool:
        try:
            await js.consumer_info(stream.name, spec.durable)
        except NotFoundError:
            return False
        return True

    try:
        await eventually(created)
        ids = [str(uuid4()) for _ in range(MESSAGES)]
        burst = time.monotonic()
        acks = [
            await js.publish_async(subject, f"m{i}".encode(), headers={"Nats-Msg-Id": m}) for i, m in enumerate(ids)
        ]
        await asyncio.gather(*acks)
        published = time.monotonic() - burst

        async def drained() -> bool:
            info = await js.consumer_info(stream.name, spec.durable)
            return bool(info.num_pending == 0 and info.num_ack_pending == 0)

        await eventually(drained, within=50, every=0.1)
        drain_seconds = time.monotonic() - burst

        async def recovered() -> bool:
            return any(a["state"] == RECOVERED for a in alerts.raised)

        await eventually(recovered, within=10)
    finally:
        stop.set()
        await running
        await watcher
        await alerting

    rows = await pool.fetchval("SELECT count(*) FROM effects")
    distinct = await pool.fetchval("SELECT count(DISTINCT message_id) FROM effects")
    applied = {str(r["message_id"]) for r in await pool.fetch("SELECT message_id FROM effects")}
    peak_backlog = max(p for _, p, _ in samples)
    peak_in_flight = max(a for _, _, a in samples)
    plateau = min(t for t, p, a in samples if a >= MAX_ACK_PENDING and p > 0)
    states = [a["state"] for a in alerts.raised]
    stored = await read_alerts(js, subject_root)
    print(
        f"slow consumer: {MESSAGES} messages published in {published:.1f} s; backlog (num_pending) peaked at "
        f"{peak_backlog}, in flight (num_ack_pending) peaked at {peak_in_flight} of max_ack_pending "
        f"{MAX_ACK_PENDING}; lost = {MESSAGES - len(applied & set(ids))}, duplicate effects = {rows - distinct}; "
        f"backlog drained in {drain_seconds:.1f} s ({MESSAGES / drain_seconds:.0f} msg/s); alerts {states}, "
        f"the first {alerts.raised[0]['seconds']} s into the plateau (window {STALL_AFTER} s)"
    )
    assert peak_backlog >= MESSAGES // 3  # the burst waited in the stream, visibly
    assert MAX_ACK_PENDING // 2 <= peak_in_flight <= MAX_ACK_PENDING  # the consumer was fed up to the limit, no more
    assert rows == distinct == MESSAGES and applied == set(ids)
    assert consumer.dead_lettered == 0
    assert states == [SATURATED, RECOVERED]  # the floor kept moving: slow, not stalled
    assert alerts.raised[0]["ack_pending"] == MAX_ACK_PENDING and alerts.raised[0]["pending"] > 0
    assert alerts.raised[0]["seconds"] >= STALL_AFTER and plateau < burst + drain_seconds
    assert [(a["consumer"], a["state"]) for a in stored] == [(spec.durable, s) for s in states]


async def test_a_consumer_whose_handler_hangs_is_reported_stalled_and_loses_nothing_when_it_resumes(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    await pool.execute("CREATE TABLE effects (message_id uuid NOT NULL)")
    js, subject, stream, dead = await _streams(nc, subject_root, "HUNG")
    resume = asyncio.Event()

    async def hangs(tx: Any, delivery: Delivery) -> None:
        await resume.wait()  # a downstream call that never answers, until it does
        await (await tx.connection()).execute("INSERT INTO effects VALUES ($1)", delivery.message_id)

    spec = ConsumerSpec("svc-hung", stream.name, (subject,), hangs, batch=10, max_ack_pending=MAX_ACK_PENDING)
    consumer = PullConsumer(js, PostgresEventStore(pool), spec, dead)
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    alerts, alerting = await _watched(nc, subject_root, stream.name, spec.durable, stop)
    ids = [str(uuid4()) for _ in range(200)]
    try:
        await asyncio.gather(*[await js.publish_async(subject, b"m", headers={"Nats-Msg-Id": m}) for m in ids])

        async def stalled() -> bool:
            return any(a["state"] == STALLED for a in alerts.raised)

        await eventually(stalled, within=60, every=0.1)
        resume.set()

        async def recovered() -> bool:
            return any(a["state"] == RECOVERED for a in alerts.raised)

        await eventually(recovered, within=30, every=0.1)
    finally:
        resume.set()
        stop.set()
        await running
        await alerting

    applied = {str(r["message_id"]) for r in await pool.fetch("SELECT message_id FROM effects")}
    rows = await pool.fetchval("SELECT count(*) FROM effects")
    first = next(a for a in alerts.raised if a["state"] == STALLED)
    print(
        f"hung consumer: alerts {[a['state'] for a in alerts.raised]}; stalled raised {first['seconds']} s after "
        f"the floor last moved with {first['pending'] + first['ack_pending']} messages waiting; "
        f"lost = {len(set(ids) - applied)}, duplicate effects = {rows - len(applied)}"
    )
    assert first["seconds"] >= STALL_AFTER and first["pending"] + first["ack_pending"] > 0
    assert applied == set(ids) and rows == len(ids)
