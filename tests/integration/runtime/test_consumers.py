"""Durable pull consumers: exactly-once effects, retries with backoff, dead letters and replay."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient

from runtime.eventstore import PostgresEventStore, PostgresTransaction
from runtime.messaging import (
    ConsumerSpec,
    DeadLetters,
    Delivery,
    NoSuchDeadLetterError,
    PoisonMessageError,
    PullConsumer,
    StreamSpec,
    consumer_caught_up,
    ensure_stream,
)
from tests.waiting import eventually


async def setup(pool: asyncpg.Pool, nc: NatsClient, root: str) -> tuple[Any, str, DeadLetters]:
    await pool.execute("CREATE TABLE effects (message_id uuid, body text)")
    js = nc.jetstream()
    stream = f"{root.upper()}_IN"
    await ensure_stream(js, StreamSpec(stream, (f"{root}.36.svc.evt.>",)), replicas=1, duplicate_window=600)
    dead = DeadLetters(js, root)
    await ensure_stream(js, dead.stream, replicas=1, duplicate_window=600)
    return js, stream, dead


async def record_effect(tx: Any, delivery: Delivery) -> None:
    assert isinstance(tx, PostgresTransaction)
    body = delivery.data.decode()
    if body.startswith("poison"):
        raise PoisonMessageError("body is not an envelope")
    if body.startswith("broken"):
        raise RuntimeError("handler bug")
    await (await tx.connection()).execute("INSERT INTO effects VALUES ($1, $2)", delivery.message_id, body)


BATCH_SIZES: list[int] = []


async def record_effects(tx: Any, deliveries: Sequence[Delivery]) -> None:
    """The batch handler's form of `record_effect`: every message of a fetch in one call (its size
    noted once its transaction commits: a fetch presumed new and found a copy is applied again)."""
    tx.after_commit(lambda: BATCH_SIZES.append(len(deliveries)))
    for delivery in deliveries:
        await record_effect(tx, delivery)


def spec_of(kind: str, durable: str, stream: str, subject: str, **options: Any) -> ConsumerSpec:
    if kind == "one by one":
        return ConsumerSpec(durable, stream, (subject,), record_effect, **options)
    return ConsumerSpec.batched(durable, stream, (subject,), record_effects, **options)


KINDS = pytest.mark.parametrize("kind", ["one by one", "batched"])


async def run_consumer(consumer: PullConsumer) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    return stop, asyncio.create_task(consumer.run(stop))


async def count(pool: asyncpg.Pool, sql: str, expected: int) -> bool:
    return bool(await pool.fetchval(sql) == expected)


async def publish(js: Any, subject: str, ids: Sequence[Any]) -> None:
    for message_id in ids:
        await js.publish(subject, b"ok", headers={"Nats-Msg-Id": str(message_id)})


async def publish_copies(js: Any, subject: str, ids: Sequence[Any]) -> None:
    """The same messages again, past broker dedup (as a relay's after the duplicate window, or a replay)."""
    for message_id in ids:
        await js.publish(
            subject, b"ok", headers={"Nats-Msg-Id": f"again-{message_id}", "Yiwang-Original-Msg-Id": str(message_id)}
        )


@KINDS
async def test_each_message_has_one_effect_even_when_delivered_twice(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str, kind: str
) -> None:
    js, stream, dead = await setup(pool, nc, subject_root)
    subject = f"{subject_root}.36.svc.evt.happened.v1"
    ids = [uuid4() for _ in range(200)]
    await publish(js, subject, ids)
    await publish_copies(js, subject, ids[:50])
    BATCH_SIZES.clear()
    consumer = PullConsumer(js, PostgresEventStore(pool), spec_of(kind, "svc-effects", stream, subject), dead)

    stop, task = await run_consumer(consumer)
    await eventually(lambda: _processed(consumer, 250))
    stop.set()
    await task

    assert await pool.fetchval("SELECT count(*) FROM effects") == 200
    assert await pool.fetchval("SELECT count(DISTINCT message_id) FROM effects") == 200
    if kind == "batched":  # handed over a fetch at a time, the copies already applied left out
        assert sum(BATCH_SIZES) == 200 and max(BATCH_SIZES) > 1


async def _processed(consumer: PullConsumer, n: int) -> bool:
    return consumer.processed + consumer.dead_lettered >= n


class ClaimsNoted(PostgresEventStore):
    """The real store, noting how each transaction claimed its messages and whether it committed."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self.claims: list[tuple[str, bool]] = []  # ("presumed" or "asked", committed)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        ways: list[str] = []
        try:
            async with super().transaction() as tx:
                presume, ask = tx.claim_at_commit, tx.claim_all

                async def claim_at_commit(consumer: str, message_ids: Sequence[Any]) -> None:
                    ways.append("presumed")
                    await presume(consumer, message_ids)

                async def claim_all(consumer: str, message_ids: Sequence[Any]) -> set[Any]:
                    ways.append("asked")
                    return await ask(consumer, message_ids)

                tx.claim_at_commit, tx.claim_all = claim_at_commit, claim_all  # type: ignore[method-assign]
                yield tx
        except BaseException:
            self.claims += [(way, False) for way in ways]
            raise
        self.claims += [(way, True) for way in ways]


@KINDS
async def test_first_deliveries_are_claimed_with_their_writes_and_a_copy_applied_before_is_found_at_the_commit(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str, kind: str
) -> None:
    js, stream, dead = await setup(pool, nc, subject_root)
    subject = f"{subject_root}.36.svc.evt.happened.v1"
    ids = [uuid4() for _ in range(60)]
    await publish(js, subject, ids)
    store = ClaimsNoted(pool)
    consumer = PullConsumer(js, store, spec_of(kind, "svc-presumed", stream, subject), dead)
    stop, task = await run_consumer(consumer)
    await eventually(lambda: _processed(consumer, 60))
    first_pass = list(store.claims)
    await publish_copies(js, subject, ids[:10])
    await eventually(lambda: _processed(consumer, 70))
    copies = store.claims[len(first_pass) :]
    for applied in (75, 80):  # new messages again: asked about first until a fetch finds every one new
        await publish(js, subject, [uuid4() for _ in range(5)])
        await eventually(functools.partial(_processed, consumer, applied))
    stop.set()
    await task

    assert first_pass and set(first_pass) == {("presumed", True)}  # new messages: the inbox not asked first
    assert ("presumed", False) in copies  # a copy presumed new: the commit found it claimed and wrote nothing
    assert ("presumed", True) not in copies
    assert store.claims[-1] == ("presumed", True)
    assert await pool.fetchval("SELECT count(*) FROM effects") == 70
    assert consumer.dead_lettered == 0


@KINDS
async def test_poison_and_failing_messages_are_dead_lettered_and_the_rest_keep_flowing(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str, kind: str
) -> None:
    js, stream, dead = await setup(pool, nc, subject_root)
    subject = f"{subject_root}.36.svc.evt.happened.v1"
    for i in range(300):
        body = b"poison" if i % 30 == 0 else b"broken" if i % 30 == 15 else b"ok"
        await js.publish(subject, body, headers={"Nats-Msg-Id": str(uuid4())})
    await js.publish(subject, b"ok-but-no-id")
    spec = spec_of(kind, "svc-poison", stream, subject, max_deliver=3, backoff=(0.05, 0.05, 0.05))
    consumer = PullConsumer(js, PostgresEventStore(pool), spec, dead)

    stop, task = await run_consumer(consumer)
    await eventually(lambda: _processed(consumer, 301), within=30)
    stop.set()
    await task

    letters = await dead.list(limit=1000)
    reasons = sorted(letter["reason"].split(":")[0] for letter in letters)
    assert await pool.fetchval("SELECT count(*) FROM effects") == 280
    assert len(letters) == 21
    assert reasons.count("poison") == 11
    assert reasons.count("failed 3 times") == 10
    assert all(letter["consumer"] == "svc-poison" and letter["subject"] == subject for letter in letters)


async def test_no_dead_letters_list_as_none(pool: asyncpg.Pool, nc: NatsClient, subject_root: str) -> None:
    """A stream never written to says its first and last sequence are 0, which is no message's:
    what `yiwang dead-letters` shows on a healthy stack."""
    _, _, dead = await setup(pool, nc, subject_root)

    assert await dead.list() == []


@dataclass
class FailingUntilFixed:
    """A consumer whose handler fails (a bug, a missing table) until `fixed`, then records the
    message's effect; one message for it is in the stream."""

    dead: DeadLetters
    subject: str
    reason: str
    fixed: bool = False
    consumer: PullConsumer = field(init=False)

    async def handle(self, tx: Any, delivery: Delivery) -> None:
        if not self.fixed:
            raise RuntimeError(self.reason)
        await (await tx.connection()).execute(
            "INSERT INTO effects VALUES ($1, $2)", delivery.message_id, delivery.data.decode()
        )


async def failing_until_fixed(
    pool: asyncpg.Pool, nc: NatsClient, root: str, durable: str, body: bytes, reason: str
) -> FailingUntilFixed:
    js, stream, dead = await setup(pool, nc, root)
    subject = f"{root}.36.svc.evt.happened.v1"
    await js.publish(subject, body, headers={"Nats-Msg-Id": str(uuid4())})
    made = FailingUntilFixed(dead, subject, reason)
    spec = ConsumerSpec(durable, stream, (subject,), made.handle, max_deliver=2, backoff=(0.05,))
    made.consumer = PullConsumer(js, PostgresEventStore(pool), spec, dead)
    return made


async def test_a_dead_letter_replayed_after_the_fix_is_applied_once(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    failing = await failing_until_fixed(pool, nc, subject_root, "svc-replay", b"broken-then-fixed", "bug not fixed")
    dead = failing.dead
    stop, task = await run_consumer(failing.consumer)
    await eventually(lambda: _processed(failing.consumer, 1))
    [letter] = await dead.list()

    failing.fixed = True
    await dead.replay(letter["sequence"])
    await eventually(lambda: count(pool, "SELECT count(*) FROM effects", 1))
    stop.set()
    await task

    assert await dead.list() == []
    assert await pool.fetchval("SELECT body FROM effects") == "broken-then-fixed"
    with pytest.raises(NoSuchDeadLetterError):  # replayed, so no longer held
        await dead.replay(letter["sequence"])


async def publish_atomic(nc: NatsClient, subject: str, bodies: list[bytes]) -> None:
    """Messages stored as one JetStream atomic batch, as the outbox relay sends them."""
    batch = uuid4().hex
    for place, body in enumerate(bodies, 1):
        headers = {"Nats-Msg-Id": str(uuid4()), "Nats-Batch-Id": batch, "Nats-Batch-Sequence": str(place)}
        if place < len(bodies):
            await nc.publish(subject, body, headers=headers)
        else:
            ack = await nc.request(subject, body, headers={**headers, "Nats-Batch-Commit": "1"}, timeout=5)
            assert b'"count":%d' % len(bodies) in ack.data, ack.data


async def test_messages_stored_in_an_atomic_batch_are_dead_lettered_and_replayed_each_on_its_own(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    """A stored message keeps its batch's headers; its dead letter and its replay are new messages
    of their own, which JetStream would refuse (or hold as a batch never committed) with them."""
    js, stream, dead = await setup(pool, nc, subject_root)
    subject = f"{subject_root}.36.svc.evt.happened.v1"
    failing = FailingUntilFixed(dead, subject, "bug not fixed")
    spec = ConsumerSpec("svc-batched", stream, (subject,), failing.handle, max_deliver=2, backoff=(0.05,))
    failing.consumer = PullConsumer(js, PostgresEventStore(pool), spec, dead)
    await publish_atomic(nc, subject, [b"first", b"second"])

    stop, task = await run_consumer(failing.consumer)
    await eventually(lambda: _processed(failing.consumer, 2))
    letters = await dead.list()
    assert [letter["data"] for letter in letters] == [b"first", b"second"]
    failing.fixed = True
    for letter in letters:
        await dead.replay(letter["sequence"])
    await eventually(lambda: count(pool, "SELECT count(*) FROM effects", 2))
    stop.set()
    await task

    assert sorted(await pool.fetchval("SELECT array_agg(body) FROM effects")) == ["first", "second"]
    assert await dead.list() == []


async def test_a_fetch_is_handed_to_prepare_whole_before_its_new_messages_are_applied_one_by_one(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    js, stream, dead = await setup(pool, nc, subject_root)
    subject = f"{subject_root}.36.svc.evt.happened.v1"
    ids = [uuid4() for _ in range(150)]
    await publish(js, subject, ids)
    await publish_copies(js, subject, ids[:40])  # already applied when they come
    prepared: list[list[Any]] = []
    applied_before: list[int] = []

    async def prepare(tx: Any, deliveries: Sequence[Delivery]) -> None:
        """Noted once the fetch's transaction commits (a fetch presumed new whose copy was applied
        before is rolled back, then applied again, asking the inbox first)."""
        fetch = [d.message_id for d in deliveries]
        before = await (await tx.reader()).fetchval(
            "SELECT count(*) FROM effects WHERE message_id = ANY($1::uuid[])", fetch
        )

        def noted() -> None:
            prepared.append(fetch)
            applied_before.append(before)

        tx.after_commit(noted)

    spec = ConsumerSpec("svc-prepare", stream, (subject,), record_effect, linger=0.5, prepare=prepare)
    consumer = PullConsumer(js, PostgresEventStore(pool), spec, dead)
    stop, task = await run_consumer(consumer)
    await eventually(lambda: _processed(consumer, 190))
    stop.set()
    await task

    handed = [message_id for fetch in prepared for message_id in fetch]
    assert await pool.fetchval("SELECT count(DISTINCT message_id) FROM effects") == 150
    assert len(handed) == len(set(handed)) >= 100  # each new message once, the copies left out
    assert all(fetch == sorted(fetch, key=ids.index) for fetch in prepared)  # in stream order
    assert set(applied_before) == {0}  # before any of the fetch was applied


async def test_with_linger_messages_that_come_one_at_a_time_share_a_batch(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    js, stream, dead = await setup(pool, nc, subject_root)
    subject = f"{subject_root}.36.svc.evt.happened.v1"
    BATCH_SIZES.clear()
    spec = spec_of("batched", "svc-linger", stream, subject, linger=0.5)
    consumer = PullConsumer(js, PostgresEventStore(pool), spec, dead)
    stop, task = await run_consumer(consumer)
    await consumer_caught_up(js, stream, "svc-linger", patience=15)  # the durable exists and waits

    for n in range(1, 6):  # one at a time: each once the consumer has fetched the one before

        async def fetched(n: int = n) -> bool:
            return bool((await js.consumer_info(stream, "svc-linger")).delivered.stream_seq >= n)

        await js.publish(subject, b"ok", headers={"Nats-Msg-Id": str(uuid4())})
        await eventually(fetched)
    await eventually(lambda: _processed(consumer, 5))
    stop.set()
    await task

    assert await pool.fetchval("SELECT count(*) FROM effects") == 5
    assert sum(BATCH_SIZES) == 5 and len(BATCH_SIZES) < 5  # a message fetched alone waits for the next


async def test_a_consumer_is_caught_up_once_it_has_applied_what_the_stream_held_at_the_question(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    js, stream, dead = await setup(pool, nc, subject_root)
    subject = f"{subject_root}.36.svc.evt.happened.v1"
    for _ in range(20):
        await js.publish(subject, b"ok", headers={"Nats-Msg-Id": str(uuid4())})
    consumer = PullConsumer(js, PostgresEventStore(pool), spec_of("batched", "svc-caught-up", stream, subject), dead)
    await consumer._subscription()  # the durable exists, nothing applied yet

    assert await consumer_caught_up(js, stream, "svc-caught-up", patience=0.3) is False
    stop, task = await run_consumer(consumer)
    caught_up = await consumer_caught_up(js, stream, "svc-caught-up", patience=15)
    applied = await pool.fetchval("SELECT count(*) FROM effects")
    stop.set()
    await task

    assert caught_up is True
    assert applied == 20  # every message held at the question was applied when it said so
    assert await consumer_caught_up(js, stream, "no-such-consumer", patience=1) is False  # JetStream cannot say


async def test_a_durable_takes_on_the_subjects_its_spec_adds_and_keeps_its_place(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    """A consumer whose next release reads one more subject (a contract's version 2, say) gets the
    new subject's messages from the durable it already has, without the old ones again."""
    js, stream, dead = await setup(pool, nc, subject_root)
    old, new = f"{subject_root}.36.svc.evt.paid.v1", f"{subject_root}.36.svc.evt.paid.v2"
    store = PostgresEventStore(pool)
    await js.publish(old, b"first", headers={"Nats-Msg-Id": str(uuid4())})
    before = PullConsumer(js, store, ConsumerSpec("svc-paid", stream, (old,), record_effect), dead)
    stop, task = await run_consumer(before)
    await eventually(lambda: _processed(before, 1))
    stop.set()
    await task

    await js.publish(old, b"second", headers={"Nats-Msg-Id": str(uuid4())})
    await js.publish(new, b"third", headers={"Nats-Msg-Id": str(uuid4())})
    after = PullConsumer(js, store, ConsumerSpec("svc-paid", stream, (old, new), record_effect), dead)
    stop, task = await run_consumer(after)
    await eventually(lambda: count(pool, "SELECT count(*) FROM effects", 3))
    stop.set()
    await task

    assert [r["body"] for r in await pool.fetch("SELECT body FROM effects ORDER BY body")] == [
        "first",
        "second",
        "third",
    ]
    assert after.processed == 2
