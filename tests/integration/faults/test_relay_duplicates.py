"""R5: the outbox relay publishing every row several times, inside and outside JetStream's duplicate window.

The relay "dies" after JetStream acknowledged a batch and before deleting its rows (its delete
never runs, the rows stay), so the next pass publishes the same rows with the same `Nats-Msg-Id`.
Inside the duplicate window JetStream refuses the atomic batch that holds them, and the relay sends
them again one by one, which JetStream drops as copies (PubAck duplicate=true; one stream message
per row); outside it (a stream with a 1 s window, the next pass after it) JetStream stores them
again and the consumer's inbox drops them: one effect per row.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast
from uuid import uuid4

import asyncpg
from nats.aio.client import Client as NatsClient
from nats.js.api import PubAck
from nats.js.errors import NotFoundError

from runtime.eventstore import PostgresEventStore
from runtime.messaging import ConsumerSpec, DeadLetters, Delivery, PullConsumer, StreamSpec, ensure_stream
from runtime.outbox import OutboxRelay
from tests.integration.runtime.test_outbox_relay import queue_messages
from tests.waiting import eventually

ROWS = 1_000


class RelayCrash(Exception):  # noqa: N818 - the process dying, not an error it could handle
    """The relay is gone after the acknowledgements and before its delete commits."""


class ForgetfulRelay(OutboxRelay):
    """The real relay, counting JetStream's acknowledgements of its rows (a batch's, each of its rows)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acks = 0
        self.duplicates = 0

    async def _settle(self, acks: list[asyncio.Future[Any]]) -> list[Any]:
        results = await super()._settle(acks)
        acked = [r for r in results if isinstance(r, PubAck)]
        self.acks += len(acked)
        self.duplicates += sum(1 for r in acked if r.duplicate)
        return results


class DyingConnection:
    """The relay's connection, its process dying when the relay deletes what JetStream acknowledged."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)

    async def execute(self, query: str, *args: Any) -> str:
        if query.startswith("DELETE FROM outbox"):
            raise RelayCrash
        return str(await self.conn.execute(query, *args))


async def relay_pass(relay: ForgetfulRelay, pool: asyncpg.Pool, *, crash: bool) -> None:
    """One pass over the whole outbox (one batch holds it all); a crashing pass leaves every row behind."""
    async with pool.acquire() as conn:
        try:
            assert await relay.relay_once(cast(asyncpg.Connection, DyingConnection(conn)) if crash else conn) == ROWS
        except RelayCrash:
            assert crash
        else:
            assert not crash
    assert await pool.fetchval("SELECT count(*) FROM outbox") == (ROWS if crash else 0)


async def consume(pool: asyncpg.Pool, js: Any, root: str, stream: str, subject: str) -> tuple[int, int]:
    """Run a consumer over the stream until it has nothing pending; returns (effects, inbox duplicate hits)."""
    await pool.execute("CREATE TABLE IF NOT EXISTS effects (message_id uuid NOT NULL)")
    applied = 0

    def count() -> None:
        nonlocal applied
        applied += 1

    async def apply(tx: Any, delivery: Delivery) -> None:
        await (await tx.connection()).execute("INSERT INTO effects VALUES ($1)", delivery.message_id)
        tx.after_commit(count)  # a copy presumed new is handled too, and rolled back at the commit

    dead = DeadLetters(js, root)
    await ensure_stream(js, dead.stream, replicas=1, duplicate_window=600)
    spec = ConsumerSpec(f"{stream.lower()}-effects", stream, (subject,), apply)
    consumer = PullConsumer(js, PostgresEventStore(pool), spec, dead)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))

    async def drained() -> bool:
        try:
            info = await js.consumer_info(stream, spec.durable)
        except NotFoundError:  # not created yet
            return False
        return bool(info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq > 0)

    try:
        await eventually(drained, within=30)
    finally:
        stop.set()
        await task
    effects = await pool.fetchval("SELECT count(*) FROM effects")
    assert await pool.fetchval("SELECT count(DISTINCT message_id) FROM effects") == effects
    return effects, consumer.processed - applied


async def stored(js: Any, stream: str, subject: str) -> int:
    info = await js.stream_info(stream, subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


async def test_copies_inside_the_duplicate_window_are_dropped_by_jetstream(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    js = nc.jetstream()
    subject = f"{subject_root}.36.svc.evt.happened.v1"
    stream = StreamSpec(f"{subject_root.upper()}_DUPS", (f"{subject_root}.36.>",))
    await ensure_stream(js, stream, replicas=1, duplicate_window=600)
    ids = await queue_messages(PostgresEventStore(pool), subject, ROWS)
    relay = ForgetfulRelay(pool, js, batch=ROWS)

    await relay_pass(relay, pool, crash=True)
    await relay_pass(relay, pool, crash=True)
    await relay_pass(relay, pool, crash=False)
    in_stream = await stored(js, stream.name, subject)
    effects, inbox_hits = await consume(pool, js, subject_root, stream.name, subject)

    print(
        f"relay duplicates inside the window: {ROWS} rows published 3x = {relay.acks} publishes, "
        f"PubAck duplicate = {relay.duplicates}, stream messages = {in_stream}, effects = {effects}, "
        f"inbox duplicate hits = {inbox_hits}"
    )
    assert relay.acks == 3 * ROWS
    assert relay.duplicates == 2 * ROWS
    assert in_stream == ROWS
    assert effects == ROWS and inbox_hits == 0
    assert {str(r["message_id"]) for r in await pool.fetch("SELECT message_id FROM effects")} == ids


async def test_copies_after_the_duplicate_window_are_dropped_by_the_consumers_inbox(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    js = nc.jetstream()
    subject = f"{subject_root}.36.svc.evt.happened.v1"
    probe = f"{subject_root}.36.probe"
    stream = StreamSpec(f"{subject_root.upper()}_LATE", (f"{subject_root}.36.>",))
    await ensure_stream(js, stream, replicas=1, duplicate_window=1.0)
    ids = await queue_messages(PostgresEventStore(pool), subject, ROWS)
    relay = ForgetfulRelay(pool, js, batch=ROWS)

    await relay_pass(relay, pool, crash=True)
    # Wait out the window, watching JetStream itself: a probe sent after the first pass is
    # acknowledged as a duplicate until the window has passed for it (and for every row before it).
    probe_id = str(uuid4())
    assert not (await js.publish(probe, b"", headers={"Nats-Msg-Id": probe_id})).duplicate

    async def window_passed() -> bool:
        return not (await js.publish(probe, b"", headers={"Nats-Msg-Id": probe_id})).duplicate

    await eventually(window_passed, within=10, every=0.1)
    await relay_pass(relay, pool, crash=False)
    in_stream = await stored(js, stream.name, subject)
    effects, inbox_hits = await consume(pool, js, subject_root, stream.name, subject)

    print(
        f"relay duplicates after the 1 s window: {ROWS} rows published twice, PubAck duplicate = "
        f"{relay.duplicates}, stream messages = {in_stream}, effects = {effects}, inbox duplicate hits = {inbox_hits}"
    )
    assert relay.acks == 2 * ROWS and relay.duplicates == 0
    assert in_stream == 2 * ROWS
    assert effects == ROWS
    assert inbox_hits == ROWS
    assert {str(r["message_id"]) for r in await pool.fetch("SELECT message_id FROM effects")} == ids
