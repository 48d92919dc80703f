"""R7: a slow consumer under a burst: backpressure visible, nothing lost, the backlog drained.

The handler does real work in PostgreSQL (2 ms of `pg_sleep` per message, in the consumer's
transaction, plus its effect row); 3,000 messages arrive at once. JetStream never hands the
consumer more than `max_ack_pending` unacknowledged messages, so the rest wait in the stream
(`num_pending` grows, then falls to 0) while `num_ack_pending` stays at or under the limit.
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
from tests.waiting import eventually

MESSAGES = 3_000
MAX_ACK_PENDING = 100


async def test_a_slow_consumer_holds_the_backlog_in_the_stream_loses_nothing_and_drains_it(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    await pool.execute("CREATE TABLE effects (message_id uuid NOT NULL, body text NOT NULL)")
    js = nc.jetstream()
    subject = f"{subject_root}.36.svc.evt.happened.v1"
    stream = StreamSpec(f"{subject_root.upper()}_SLOW", (f"{subject_root}.36.svc.evt.>",))
    await ensure_stream(js, stream, replicas=1, duplicate_window=600)
    dead = DeadLetters(js, subject_root)
    await ensure_stream(js, dead.stream, replicas=1, duplicate_window=600)

    async def slow(tx: Any, delivery: Delivery) -> None:
        await tx.conn.execute("SELECT pg_sleep(0.002)")
        await tx.conn.execute("INSERT INTO effects VALUES ($1, $2)", delivery.message_id, delivery.data.decode())

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
    finally:
        stop.set()
        await running
        await watcher

    rows = await pool.fetchval("SELECT count(*) FROM effects")
    distinct = await pool.fetchval("SELECT count(DISTINCT message_id) FROM effects")
    applied = {str(r["message_id"]) for r in await pool.fetch("SELECT message_id FROM effects")}
    peak_backlog = max(p for _, p, _ in samples)
    peak_in_flight = max(a for _, _, a in samples)
    print(
        f"slow consumer: {MESSAGES} messages published in {published:.1f} s; backlog (num_pending) peaked at "
        f"{peak_backlog}, in flight (num_ack_pending) peaked at {peak_in_flight} of max_ack_pending "
        f"{MAX_ACK_PENDING}; lost = {MESSAGES - len(applied & set(ids))}, duplicate effects = {rows - distinct}; "
        f"backlog drained in {drain_seconds:.1f} s ({MESSAGES / drain_seconds:.0f} msg/s)"
    )
    assert peak_backlog >= MESSAGES // 3  # the burst waited in the stream, visibly
    assert MAX_ACK_PENDING // 2 <= peak_in_flight <= MAX_ACK_PENDING  # the consumer was fed up to the limit, no more
    assert rows == distinct == MESSAGES and applied == set(ids)
    assert consumer.dead_lettered == 0
