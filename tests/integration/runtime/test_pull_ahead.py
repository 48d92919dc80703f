"""A durable consumer's messages asked for ahead of need: one open pull request serves many takes."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig

from runtime.eventstore import PostgresEventStore
from runtime.messaging import (
    ConsumerGoneError,
    ConsumerSpec,
    DeadLetters,
    Delivery,
    PullAhead,
    PullConsumer,
    StreamSpec,
    ensure_stream,
)
from tests.waiting import eventually


async def _consumer(nc: NatsClient, root: str, durable: str, **options: Any) -> tuple[Any, str, PullAhead]:
    js = nc.jetstream()
    stream = f"{root.upper()}_AHEAD"
    await ensure_stream(js, StreamSpec(stream, (f"{root}.ahead.>",)), replicas=1, duplicate_window=60)
    await js.add_consumer(stream, ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT))
    puller = PullAhead(nc, f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}", batch=100, **options)
    await puller.start()
    return js, stream, puller


async def test_messages_coming_one_at_a_time_are_served_by_one_request(nc: NatsClient, subject_root: str) -> None:
    # one request open the whole test, however slow the machine (the default expires after 2 s)
    js, _, puller = await _consumer(nc, subject_root, "one-at-a-time", expires=60)
    try:
        for i in range(20):
            await js.publish(f"{subject_root}.ahead.x", str(i).encode())
            (msg,) = await puller.take(100, wait=10)
            assert msg.data == str(i).encode()
            await msg.ack()
    finally:
        await puller.stop()

    assert puller.requests <= 2  # nats-py's fetch: a probe and a waiting request for each of the twenty


async def test_a_take_returns_at_most_what_it_asks_in_stream_order(nc: NatsClient, subject_root: str) -> None:
    js, _, puller = await _consumer(nc, subject_root, "in-order")
    try:
        for i in range(150):
            await js.publish(f"{subject_root}.ahead.x", str(i).encode())
        taken: list[int] = []
        deadline = time.monotonic() + 30
        while len(taken) < 150 and time.monotonic() < deadline:
            batch = await puller.take(60, wait=5)
            assert len(batch) <= 60
            taken += [int(m.data) for m in batch]
            for msg in batch:
                await msg.ack()
    finally:
        await puller.stop()

    assert taken == list(range(150))


async def test_an_idle_consumer_asks_again_each_time_its_request_ends(nc: NatsClient, subject_root: str) -> None:
    js, _, puller = await _consumer(nc, subject_root, "idle", expires=0.2, grace=60)  # no loss presumed
    try:
        assert await puller.take(100, wait=1.5) == []  # requests expire every 0.2 s meanwhile
        asked = puller.requests
        await js.publish(f"{subject_root}.ahead.x", b"after a while")
        (msg,) = await puller.take(100, wait=10)
    finally:
        await puller.stop()

    assert asked >= 3
    assert msg.data == b"after a while"


async def test_a_deleted_consumer_is_said_to_be_gone(nc: NatsClient, subject_root: str) -> None:
    js, stream, puller = await _consumer(nc, subject_root, "deleted", expires=60)  # its expiry far off
    try:
        assert await puller.take(100, wait=0.3) == []  # a request is open
        await js.delete_consumer(stream, "deleted")  # the server answers it with a 409
        with pytest.raises(ConsumerGoneError, match="Consumer Deleted"):
            await puller.take(100, wait=10)
    finally:
        await puller.stop()


async def test_a_limit_that_refuses_every_request_is_not_asked_in_a_loop(nc: NatsClient, subject_root: str) -> None:
    js = nc.jetstream()
    stream = f"{subject_root.upper()}_AHEAD"
    await ensure_stream(js, StreamSpec(stream, (f"{subject_root}.ahead.>",)), replicas=1, duplicate_window=60)
    config = {"durable_name": "limited", "ack_policy": "explicit", "max_batch": 10}  # not in nats-py's config
    created = await nc.request(
        f"$JS.API.CONSUMER.CREATE.{stream}.limited", json.dumps({"stream_name": stream, "config": config}).encode()
    )
    assert b'"error"' not in created.data
    puller = PullAhead(nc, f"$JS.API.CONSUMER.MSG.NEXT.{stream}.limited", batch=100, expires=60)
    await puller.start()
    try:
        for _ in range(3):  # each 409 "Exceeded MaxRequestBatch" ends a take's wait, not starts a request
            assert await puller.take(100, wait=0.5) == []
    finally:
        await puller.stop()

    assert puller.requests <= 4


async def _equal(seen: list[bytes], expected: list[bytes]) -> bool:
    return seen == expected


async def test_a_consumer_deleted_on_the_server_is_created_again(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    js = nc.jetstream()
    stream = f"{subject_root.upper()}_AHEAD"
    await ensure_stream(js, StreamSpec(stream, (f"{subject_root}.ahead.>",)), replicas=1, duplicate_window=60)
    dead = DeadLetters(js, subject_root)
    await ensure_stream(js, dead.stream, replicas=1, duplicate_window=60)
    seen: list[bytes] = []

    async def remember(tx: Any, delivery: Delivery) -> None:
        tx.after_commit(lambda: seen.append(delivery.data))  # a copy may be handled, and rolled back

    spec = ConsumerSpec("recreated", stream, (f"{subject_root}.ahead.>",), remember)
    consumer = PullConsumer(js, PostgresEventStore(pool), spec, dead)
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    try:
        await js.publish(f"{subject_root}.ahead.x", b"before", headers={"Nats-Msg-Id": str(uuid4())})
        assert await eventually(lambda: _equal(seen, [b"before"]))
        await js.delete_consumer(stream, "recreated")
        await js.publish(f"{subject_root}.ahead.x", b"after", headers={"Nats-Msg-Id": str(uuid4())})
        # created again from the stream's start: "before" is delivered again and the inbox skips it
        assert await eventually(lambda: _equal(seen, [b"before", b"after"]))
    finally:
        stop.set()
        await asyncio.wait({running}, timeout=10)


async def test_a_request_never_answered_by_its_expiry_is_taken_as_lost(nc: NatsClient, subject_root: str) -> None:
    js, _, puller = await _consumer(nc, subject_root, "lost", expires=0.5, grace=0.2)
    try:
        # As after a server restart: the consumer counts a whole batch as asked for, and no answer
        # will come (the server that had the request is gone).
        puller.requested = puller.batch
        puller._answered_by = time.monotonic() + 0.5 + 0.2
        await js.publish(f"{subject_root}.ahead.x", b"after the loss")
        (msg,) = await puller.take(100, wait=10)
    finally:
        await puller.stop()

    assert msg.data == b"after the loss"
