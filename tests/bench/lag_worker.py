"""`python -m tests.bench.lag_worker ROLE JSON-ARGS`: one side of the outbox lag bench, in its own process.

`produce`: the writing service: paced appends (one event, one outbox message each) with the
`OutboxRelay` woken on each commit, as `runtime.host` wires them. `apply`: the reading service: the
runtime's `PullConsumer` (inbox mark and handler in one transaction per message), recording the lag
when its handler runs. Each prints one JSON line when done.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from typing import Any

import nats
import orjson
import uvloop

from runtime import db
from runtime.eventstore import NewEvent, OutboxMessage, PostgresEventStore, Transaction
from runtime.messaging import ConsumerSpec, DeadLetters, Delivery, PullConsumer, ensure_stream
from runtime.outbox import OutboxRelay
from tests.bench.common import EVENT_DATA, EVENT_METADATA, write_result

IDLE_SECONDS = 0.05  # between polls of an idle queue


async def _produce(
    store: PostgresEventStore, subject: str, rate: float, total: int, *, warmup: bool = False
) -> tuple[int, float]:
    """Open loop: the i-th append starts at i/rate s, whatever the previous ones are doing.

    A writer that falls behind stops starting appends at 1.5x the planned time: (appended, seconds).
    Warm-up messages are marked, and the consumers leave them out of the lags.
    """
    mark = {"w": True} if warmup else {}
    slots = asyncio.Semaphore(64)
    tasks: set[asyncio.Task[None]] = set()

    async def append_one() -> None:
        try:
            event_id = uuid.uuid4()
            async with store.transaction() as tx:
                # As close to the commit as a payload can be: only this statement and COMMIT follow.
                payload = orjson.dumps({"t": time.time(), **mark, "data": EVENT_DATA})
                await tx.append(
                    f"lag-{event_id}",
                    0,
                    [NewEvent(event_id, "EmployerRegistered", EVENT_DATA, EVENT_METADATA)],
                    [OutboxMessage(event_id, subject, payload)],
                )
        finally:
            slots.release()

    started = time.perf_counter()
    give_up = started + 1.5 * total / rate
    count = 0
    for index in range(total):
        if time.perf_counter() > give_up:
            break
        count += 1
        delay = started + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await slots.acquire()
        task = asyncio.create_task(append_one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    return count, time.perf_counter() - started


async def produce(args: dict[str, Any]) -> dict[str, Any]:
    pool = await db.create_pool(args["dsn"], size=16)
    nc = await nats.connect(args["nats_url"], name="bench-lag-producer", pending_size=64 * 1024 * 1024)
    relay = OutboxRelay(pool, nc.jetstream(timeout=10))
    store = PostgresEventStore(pool, on_commit=relay.wake)
    stop = asyncio.Event()
    relaying = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.sleep(max(0.0, args["start_at"] - time.time()))
        warmed, _ = await _produce(store, args["subject"], args["rate"], args["warmup"], warmup=True)
        produced, elapsed = await _produce(store, args["subject"], args["rate"], args["total"])
        while relay.published < warmed + produced and time.time() < args["until"]:
            await asyncio.sleep(IDLE_SECONDS)
    finally:
        stop.set()
        relay.wake()
        await asyncio.wait({relaying}, timeout=10)
        relaying.cancel()
        await nc.close()
        await pool.close()
    return {"produced": produced, "seconds": elapsed, "relayed": relay.published - warmed}


async def apply(args: dict[str, Any]) -> dict[str, Any]:
    pool = await db.create_pool(args["dsn"], size=4)
    await db.migrate(pool, db.sql_files(("runtime", db.runtime_migrations())))
    nc = await nats.connect(args["nats_url"], name="bench-lag-consumer", pending_size=64 * 1024 * 1024)
    js = nc.jetstream(timeout=10)
    dead = DeadLetters(js, "benchlag")
    await ensure_stream(js, dead.stream, replicas=1, duplicate_window=120)
    lags: list[float] = []

    async def handler(_: Transaction, delivery: Delivery) -> None:
        payload = orjson.loads(delivery.data)
        if "w" not in payload:
            lags.append(round((time.time() - payload["t"]) * 1000, 3))

    spec = ConsumerSpec(
        durable="lag-applied", stream=args["stream"], filter_subjects=(args["subject"],), handler=handler
    )
    consumer = PullConsumer(js, PostgresEventStore(pool), spec, dead)
    stop = asyncio.Event()
    consuming = asyncio.create_task(consumer.run(stop))
    try:
        while len(lags) < args["total"] and time.time() < args["until"]:
            await asyncio.sleep(IDLE_SECONDS)
    finally:
        stop.set()
        await asyncio.wait({consuming}, timeout=5)
        consuming.cancel()
        await nc.close()
        await pool.close()
    return {"lags": lags}


def main(argv: list[str]) -> None:
    role, args = argv[0], orjson.loads(argv[1])
    # uvloop, as `runtime.host` runs every service (the writing one's relay, the reading one's consumer)
    result = uvloop.run(produce(args) if role == "produce" else apply(args))
    write_result(result)


if __name__ == "__main__":
    main(sys.argv[1:])
