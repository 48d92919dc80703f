"""R6: 100 bad messages among 5,000 good ones: exactly the 100 dead-lettered, the good ones all
applied without waiting behind them, and the 50 that failed on a bug applied once each when
replayed after the fix.

50 are poison (not an envelope: dead-lettered at the first delivery), 50 make the handler raise
(retried with backoff up to `max_deliver` = 5, then dead-lettered). They are spread at random
through the good ones. Each good message carries the instant it was published; its latency to
being applied is printed for the good messages right behind a bad one and for the rest: a bad
message holding up the ones behind it would show there.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any
from uuid import uuid4

import asyncpg
from nats.aio.client import Client as NatsClient

from runtime.eventstore import PostgresEventStore
from runtime.messaging import ConsumerSpec, Delivery, PoisonMessageError, PullConsumer
from tests.bench.common import percentile
from tests.integration.runtime.test_consumers import run_consumer, setup
from tests.waiting import eventually

GOOD, POISON, BROKEN = 5_000, 50, 50


async def test_a_hundred_bad_messages_among_five_thousand_are_dead_lettered_and_nothing_waits_behind_them(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    js, stream, dead = await setup(pool, nc, subject_root)
    await pool.execute("ALTER TABLE effects ADD COLUMN latency_ms double precision")
    subject = f"{subject_root}.36.svc.evt.happened.v1"
    kinds = ["good"] * GOOD + ["poison"] * POISON + ["broken"] * BROKEN
    random.Random(6).shuffle(kinds)  # noqa: S311 - where the bad ones sit, not a secret
    behind_bad = {i + 1 for i, kind in enumerate(kinds) if kind != "good"}
    fixed = False

    async def handler(tx: Any, delivery: Delivery) -> None:
        kind, index, sent = delivery.data.decode().split(":")
        if kind == "poison":
            raise PoisonMessageError("body is not an envelope")
        if kind == "broken" and not fixed:
            raise RuntimeError("handler bug")
        latency = (time.time() - float(sent)) * 1000
        await (await tx.connection()).execute(
            "INSERT INTO effects VALUES ($1, $2, $3)", delivery.message_id, f"{kind}:{index}", latency
        )

    spec = ConsumerSpec("svc-r6", stream, (subject,), handler, max_deliver=5, backoff=(0.1, 0.2, 0.4, 0.8))
    consumer = PullConsumer(js, PostgresEventStore(pool), spec, dead)
    stop, task = await run_consumer(consumer)
    try:
        started = time.monotonic()
        acks = [
            await js.publish_async(subject, f"{kind}:{i}:{time.time()}".encode(), headers={"Nats-Msg-Id": str(uuid4())})
            for i, kind in enumerate(kinds)
        ]
        await asyncio.gather(*acks)

        async def settled() -> bool:
            return consumer.processed == GOOD and consumer.dead_lettered == POISON + BROKEN

        await eventually(settled, within=120, every=0.1)
        took = time.monotonic() - started
        applied = await pool.fetch("SELECT body, latency_ms FROM effects")
        letters = await dead.list(limit=1000)

        fixed = True
        for letter in letters:
            if letter["reason"].startswith("failed"):
                await dead.replay(letter["sequence"])

        async def replayed() -> bool:
            return int(await pool.fetchval("SELECT count(*) FROM effects")) == GOOD + BROKEN

        await eventually(replayed, within=60)
    finally:
        stop.set()
        await task

    behind = [r["latency_ms"] for r in applied if int(r["body"].split(":")[1]) in behind_bad]
    others = [r["latency_ms"] for r in applied if int(r["body"].split(":")[1]) not in behind_bad]
    reasons = [letter["reason"].split(":")[0] for letter in letters]
    after = await pool.fetch("SELECT body FROM effects WHERE body LIKE 'broken:%'")
    left = [letter["reason"].split(":")[0] for letter in await dead.list(limit=1000)]
    rows, distinct = await pool.fetchrow("SELECT count(*), count(DISTINCT message_id) FROM effects")
    print(
        f"poison: {GOOD} good and {POISON + BROKEN} bad messages in {took:.1f} s; dead-lettered "
        f"{len(letters)} ({reasons.count('poison')} poison at once, {reasons.count('failed 5 times')} after 5 "
        f"deliveries); good applied {len(applied)}; latency to applied, good ones right behind a bad one "
        f"p50/p99 {percentile(behind, 50):.0f}/{percentile(behind, 99):.0f} ms vs the rest "
        f"{percentile(others, 50):.0f}/{percentile(others, 99):.0f} ms; {len(after)} replayed after the fix, "
        f"applied once each ({rows - distinct} duplicates); {len(left)} left dead-lettered (the poison)"
    )
    assert len(applied) == GOOD and all(r["body"].startswith("good") for r in applied)
    assert sorted(reasons) == ["failed 5 times"] * BROKEN + ["poison"] * POISON
    assert len(after) == BROKEN and rows == distinct == GOOD + BROKEN
    assert left == ["poison"] * POISON
