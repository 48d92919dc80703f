"""R4: a consumer that dies between its commit and its ack, on 1 % of messages, applies each exactly once.

Each incarnation of the consumer has its own NATS connection, as a process would. On the first
delivery of a doomed message it commits the batch (effects and inbox marks together), acks the
messages before it, and "dies": no ack for the doomed message or the rest of the batch, the
connection is closed, and a fresh incarnation takes over. JetStream redelivers what was not acked
after `ack_wait`; the inbox turns every redelivery of a committed message into a no-op.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import uuid4

import asyncpg

from runtime.eventstore import PostgresEventStore
from runtime.messaging import ConsumerSpec, DeadLetters, Delivery, PullConsumer, StreamSpec, connect, ensure_stream
from tests.conftest import Servers
from tests.waiting import eventually

MESSAGES = 2_000
CRASH_SHARE = 0.01


class Crash(Exception):  # noqa: N818 - the process dying, not an error it could handle
    """The process is gone between the commit and the ack."""


class _CrashingMsg:
    """A delivered message whose ack kills the consumer instead, the first time it is delivered."""

    def __init__(self, msg: Any) -> None:
        self._msg = msg

    def __getattr__(self, name: str) -> Any:
        return getattr(self._msg, name)

    async def ack(self) -> None:
        raise Crash


class CrashingConsumer(PullConsumer):
    """The real consumer, except that it dies before acking a doomed message (first delivery only)."""

    def __init__(self, *args: Any, doomed: set[str], seen: dict[str, int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.doomed = doomed
        self.seen = seen

    async def handle_batch(self, batch: list[Any]) -> None:
        wrapped = []
        for msg in batch:
            message_id = (msg.headers or {}).get("Nats-Msg-Id", "")
            self.seen[message_id] = self.seen.get(message_id, 0) + 1
            first = msg.metadata.num_delivered == 1
            wrapped.append(_CrashingMsg(msg) if first and message_id in self.doomed else msg)
        await super().handle_batch(wrapped)


class CountingStore(PostgresEventStore):
    """The real store, its transactions counting the messages the inbox already knew."""

    def __init__(self, pool: asyncpg.Pool, inbox_hits: list[int]) -> None:
        super().__init__(pool)
        self.inbox_hits = inbox_hits

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        async with super().transaction() as tx:
            yield _InboxCounter(tx, self.inbox_hits)


class _InboxCounter:
    """The consumer's transaction, counting the messages its inbox already knew (duplicates caught)."""

    def __init__(self, tx: Any, inbox_hits: list[int]) -> None:
        self._tx = tx
        self._inbox_hits = inbox_hits

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    async def claim(self, consumer: str, message_id: Any) -> bool:
        fresh: bool = await self._tx.claim(consumer, message_id)
        if not fresh:
            self._inbox_hits[0] += 1
        return fresh

    async def claim_all(self, consumer: str, message_ids: list[Any]) -> set[Any]:
        fresh: set[Any] = await self._tx.claim_all(consumer, message_ids)
        # a redelivery can share a fetch with the copy it repeats (held past ack_wait): each id beyond
        # the ones claimed now is a copy caught
        self._inbox_hits[0] += len(message_ids) - len(fresh)
        return fresh


async def test_a_consumer_dying_between_commit_and_ack_applies_every_message_exactly_once(
    pool: asyncpg.Pool, servers: Servers, subject_root: str
) -> None:
    await pool.execute("CREATE TABLE effects (message_id uuid NOT NULL, body text NOT NULL)")
    subject = f"{subject_root}.36.svc.evt.happened.v1"
    stream = StreamSpec(f"{subject_root.upper()}_CRASH", (f"{subject_root}.36.svc.evt.>",))
    ids = [str(uuid4()) for _ in range(MESSAGES)]
    doomed = set(ids[37 :: int(1 / CRASH_SHARE)])  # every hundredth, mid-batch
    seen: dict[str, int] = {}
    inbox_hits = [0]

    async def apply(tx: Any, delivery: Delivery) -> None:
        await (await tx.connection()).execute(
            "INSERT INTO effects VALUES ($1, $2)", delivery.message_id, delivery.data.decode()
        )

    spec = ConsumerSpec("svc-crashing", stream.name, (subject,), apply, ack_wait=1.0, batch=50)
    publisher = await connect([servers.nats_url], name="publisher")
    js = publisher.jetstream()
    await ensure_stream(js, stream, replicas=1, duplicate_window=600)
    dead = DeadLetters(js, subject_root)
    await ensure_stream(js, dead.stream, replicas=1, duplicate_window=600)
    acks = [await js.publish_async(subject, f"m{i}".encode(), headers={"Nats-Msg-Id": m}) for i, m in enumerate(ids)]
    await asyncio.gather(*acks)

    crashes = 0
    stop = asyncio.Event()

    async def incarnations() -> None:
        """Start the consumer again each time it dies, as a supervisor restarts a process."""
        nonlocal crashes
        while not stop.is_set():
            nc = await connect([servers.nats_url], name="crashing-consumer")
            consumer = CrashingConsumer(
                nc.jetstream(),
                CountingStore(pool, inbox_hits),
                spec,
                DeadLetters(nc.jetstream(), subject_root),
                doomed=doomed,
                seen=seen,
            )
            try:
                await consumer.run(stop)
            except Crash:
                crashes += 1
            finally:
                await nc.close()

    started = time.monotonic()
    supervisor = asyncio.create_task(incarnations())
    try:
        await eventually(lambda: _effects(pool, MESSAGES), within=45)
        # Every message acknowledged at last: what a dead incarnation left unacked came back and was acked.
        await eventually(lambda: _all_acked(js, stream.name, spec.durable), within=20)
        drained = time.monotonic() - started
    finally:
        stop.set()
        await asyncio.wait_for(supervisor, timeout=30)
        await publisher.close()

    rows = await pool.fetchval("SELECT count(*) FROM effects")
    distinct = await pool.fetchval("SELECT count(DISTINCT message_id) FROM effects")
    inbox = await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'svc-crashing'")
    deliveries = sum(seen.values())
    redeliveries = deliveries - len(seen)
    applied_ids = {str(r["message_id"]) for r in await pool.fetch("SELECT message_id FROM effects")}
    print(
        f"consumer crash: {MESSAGES} messages, {crashes} crashes between commit and ack, {deliveries} deliveries, "
        f"redeliveries = {redeliveries}, inbox duplicate hits = {inbox_hits[0]}, effects = {rows}, duplicate effects = {rows - distinct}, "
        f"lost = {MESSAGES - len(applied_ids & set(ids))}, drained in {drained:.1f} s"
    )
    assert 0 < crashes <= len(doomed) == 20
    assert redeliveries > 0
    assert inbox_hits[0] == redeliveries  # every redelivery had been committed before the crash
    assert rows == distinct == inbox == MESSAGES
    assert applied_ids == set(ids)


async def _effects(pool: asyncpg.Pool, n: int) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM effects") >= n)


async def _all_acked(js: Any, stream: str, durable: str) -> bool:
    info = await js.consumer_info(stream, durable)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)
