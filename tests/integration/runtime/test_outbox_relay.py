"""The outbox relay against real PostgreSQL and JetStream, including a relay killed mid-way."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from typing import Any
from uuid import uuid4

import asyncpg
import nats.js.errors
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import DiscardPolicy, StreamConfig
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runtime import db, tracing
from runtime.eventstore import NewEvent, OutboxMessage, PostgresEventStore
from runtime.messaging import StreamSpec, ensure_stream
from runtime.outbox import ATOMIC_MIN, OutboxRelay, for_other_regions, parked, resend_parked
from tests.waiting import eventually


async def queue_messages(store: PostgresEventStore, subject: str, count: int) -> set[str]:
    ids: set[str] = set()
    for start in range(0, count, 100):
        async with store.transaction() as tx:
            for i in range(start, min(start + 100, count)):
                event_id = uuid4()
                ids.add(str(event_id))
                await tx.append(
                    f"s-{event_id}",
                    0,
                    [NewEvent(event_id, "Happened", {"i": i})],
                    [OutboxMessage(event_id, subject, f'{{"i":{i}}}'.encode())],
                )
    return ids


async def stream_message_ids(js: Any, stream: str) -> list[str]:
    info = await js.stream_info(stream)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(stream, seq)
        found.append(msg.headers["Nats-Msg-Id"])
    return found


async def _out_stream(js: Any, subject_root: str) -> StreamSpec:
    """A stream taking every subject of the test's root."""
    stream = StreamSpec(f"{subject_root.upper()}_OUT", (f"{subject_root}.>",))
    await ensure_stream(js, stream, replicas=1, duplicate_window=600)
    return stream


async def test_committed_messages_reach_jetstream_with_their_id_and_leave_the_outbox(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    js = nc.jetstream()
    stream = await _out_stream(js, subject_root)
    store = PostgresEventStore(pool)
    relay = OutboxRelay(pool, js)
    ids = await queue_messages(store, f"{subject_root}.36.svc.evt.happened.v1", 250)

    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    await eventually(lambda: _count(pool, 0))
    stop.set()
    await running

    assert sorted(await stream_message_ids(js, stream.name)) == sorted(ids)


async def test_the_relays_unflushed_deletes_stay_on_its_own_connection(
    pool: asyncpg.Pool, database_url: str, nc: NatsClient, subject_root: str
) -> None:
    """The leader commits its deletes without waiting for the WAL flush; the connection it gives
    back to the pool commits synchronously again, so no command of the service loses that."""
    js = nc.jetstream()
    await ensure_stream(
        js, StreamSpec(f"{subject_root.upper()}_SYNC", (f"{subject_root}.>",)), replicas=1, duplicate_window=600
    )
    own = await db.create_pool(database_url, size=2)  # `pool` (the fixture) made the tables
    try:
        relay = OutboxRelay(own, js)
        leading: list[str] = []
        relay_once = relay.relay_once

        async def noting(conn: asyncpg.Connection) -> int:
            leading.append(await conn.fetchval("SHOW synchronous_commit"))
            return await relay_once(conn)

        relay.relay_once = noting  # type: ignore[method-assign]
        await queue_messages(PostgresEventStore(own), f"{subject_root}.36.svc.evt.happened.v1", 10)
        stop = asyncio.Event()
        running = asyncio.create_task(relay.run(stop))
        await eventually(lambda: _count(own, 0))
        stop.set()
        await running

        assert set(leading) == {"off"}
        async with own.acquire() as one, own.acquire() as other:  # the whole pool: both connections
            assert [await c.fetchval("SHOW synchronous_commit") for c in (one, other)] == ["on", "on"]
    finally:
        await own.close()


async def test_the_messages_of_one_transaction_go_under_one_send_span_that_each_carries(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One send span per transaction's messages (semconv: `send`, one or more messages), its
    context in each of them for the consumers; a message of no trace starts its own, as ever."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setitem(tracing._tracers, "runtime.outbox", provider.get_tracer("runtime.outbox"))
    js = nc.jetstream()
    stream = StreamSpec(f"{subject_root.upper()}_SPANS", (f"{subject_root}.>",))
    await ensure_stream(js, stream, replicas=1, duplicate_window=600)
    store = PostgresEventStore(pool)
    registration, enrolment = (provider.get_tracer("test").start_span(name) for name in ("register", "enrol"))
    queued: dict[str, list[tuple[str, dict[str, str]]]] = {
        "registration": [
            (f"{subject_root}.36.svc.evt.registered.v1", tracing.inject({}, registration)),
            (f"{subject_root}.36.svc.evt.class_set.v1", tracing.inject({}, registration)),
        ],
        "enrolment": [(f"{subject_root}.36.svc.evt.enrolled.v1", tracing.inject({}, enrolment))],
        "no trace": [(f"{subject_root}.36.svc.evt.overdue.v1", {}), (f"{subject_root}.36.svc.evt.overdue.v1", {})],
    }
    ids: dict[str, list[str]] = {}
    for name, messages in queued.items():
        async with store.transaction() as tx:
            event_ids = [uuid4() for _ in messages]
            await tx.append(
                f"s-{name}",
                0,
                [NewEvent(event_id, "Happened", {}) for event_id in event_ids],
                [
                    OutboxMessage(i, subject, b"{}", headers)
                    for i, (subject, headers) in zip(event_ids, messages, strict=True)
                ],
            )
        ids[name] = [str(i) for i in event_ids]

    async with pool.acquire() as conn:
        assert await OutboxRelay(pool, js).relay_once(conn) == 5

    sends = exporter.get_finished_spans()
    by_parent = {span.parent.span_id if span.parent else None: span for span in sends}
    assert len(sends) == 4 and len(by_parent) == 3  # the two untraced messages: a span (and a trace) each
    together = by_parent[registration.get_span_context().span_id]
    assert together.name == "send"  # two destinations: named by the operation alone
    assert together.attributes is not None
    assert together.attributes["messaging.batch.message_count"] == 2
    assert "messaging.destination.name" not in together.attributes
    assert together.attributes[tracing.BATCH_TEMPLATES] == (
        f"{subject_root}.36.svc.evt.class_set.v1",
        f"{subject_root}.36.svc.evt.registered.v1",
    )
    alone = by_parent[enrolment.get_span_context().span_id]
    assert alone.name == f"send {subject_root}.36.svc.evt.enrolled.v1"
    assert alone.attributes is not None and alone.attributes["messaging.message.id"] == ids["enrolment"][0]
    untraced = [span for span in sends if span.parent is None]
    assert len({span.context.trace_id for span in untraced}) == 2
    carried = {}
    info = await js.stream_info(stream.name)
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(stream.name, seq)
        carried[msg.headers["Nats-Msg-Id"]] = msg.headers["traceparent"]
    for message_id in ids["registration"]:
        assert int(carried[message_id].split("-")[2], 16) == together.context.span_id
    assert int(carried[ids["enrolment"][0]].split("-")[2], 16) == alone.context.span_id
    assert {int(carried[i].split("-")[2], 16) for i in ids["no trace"]} == {s.context.span_id for s in untraced}


async def _count(pool: asyncpg.Pool, expected: int) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM outbox") == expected)


RELAY_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from runtime import db
    from runtime.messaging import connect
    from runtime.outbox import OutboxRelay

    async def main():
        pool = await db.create_pool(sys.argv[1], size=2)
        nc = await connect([sys.argv[2]], name="relay-under-test")
        relay = OutboxRelay(pool, nc.jetstream(), batch=int(sys.argv[3]))
        await relay.run(asyncio.Event())

    asyncio.run(main())
    """
)


async def test_a_relay_killed_mid_way_loses_nothing_and_publishes_nothing_twice(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str, database_url: str, servers: Any
) -> None:
    js = nc.jetstream()
    stream = StreamSpec(f"{subject_root.upper()}_KILL", (f"{subject_root}.>",))
    await ensure_stream(js, stream, replicas=1, duplicate_window=600)
    store = PostgresEventStore(pool)
    ids = await queue_messages(store, f"{subject_root}.36.svc.evt.happened.v1", 3000)

    kills = 0
    while await pool.fetchval("SELECT count(*) FROM outbox") > 0 and kills < 20:
        relay = subprocess.Popen(
            [sys.executable, "-c", RELAY_SCRIPT, database_url, servers.nats_url, "50"], env=os.environ.copy()
        )
        try:
            remaining = await pool.fetchval("SELECT count(*) FROM outbox")
            # Kill it as soon as it has made some progress, i.e. in the middle of relaying.
            await eventually(lambda r=remaining: _fewer(pool, r), within=30, every=0.005)
        finally:  # a relay that made no progress is killed too, not left running after the test
            relay.send_signal(signal.SIGKILL)
            relay.wait(10)
        kills += 1

    finisher = OutboxRelay(pool, js)
    stop = asyncio.Event()
    running = asyncio.create_task(finisher.run(stop))
    await eventually(lambda: _count(pool, 0), within=30)
    stop.set()
    await running

    published = await stream_message_ids(js, stream.name)
    assert kills >= 2
    assert len(published) == len(set(published)) == 3000
    assert set(published) == ids


async def _fewer(pool: asyncpg.Pool, than: int) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM outbox") < than)


async def test_a_message_no_stream_takes_is_parked_and_does_not_block_the_others(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    js = nc.jetstream()
    stream = StreamSpec(f"{subject_root.upper()}_HOL", (f"{subject_root}.36.>",))
    await ensure_stream(js, stream, replicas=1, duplicate_window=600)
    store = PostgresEventStore(pool)
    await queue_messages(store, f"{subject_root}.99.nowhere.evt.lost.v1", 1)
    good = await queue_messages(store, f"{subject_root}.36.svc.evt.happened.v1", 20)

    relay = OutboxRelay(pool, js)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    await eventually(lambda: _count(pool, 0))
    stop.set()
    await running

    assert sorted(await stream_message_ids(js, stream.name)) == sorted(good)
    parked = await pool.fetch("SELECT subject, reason FROM outbox_undeliverable")
    assert [r["subject"] for r in parked] == [f"{subject_root}.99.nowhere.evt.lost.v1"]


async def test_parked_messages_resent_after_the_fix_leave_in_the_order_parked_under_their_own_ids(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    js = nc.jetstream()
    subject = f"{subject_root}.36.late.evt.happened.v1"
    store = PostgresEventStore(pool)
    lost: list[str] = []
    for _ in range(3):  # three transactions, so the order is the commits'
        lost += await queue_messages(store, subject, 1)
    relay = OutboxRelay(pool, js)
    async with pool.acquire() as conn:
        assert await relay.relay_once(conn) == 3  # all three parked: no stream takes the subject
    listed, first_two = await parked(pool), await parked(pool, 2)
    assert await resend_parked(pool) == 3  # too early: no stream yet ...
    async with pool.acquire() as conn:
        await relay.relay_once(conn)
    assert [m["message_id"] for m in await parked(pool)] == lost  # ... so parked again, in the same order

    late = StreamSpec(f"{subject_root.upper()}_LATE", (f"{subject_root}.36.late.>",))
    await ensure_stream(js, late, replicas=1, duplicate_window=600)  # the fix
    resent = await resend_parked(pool)
    async with pool.acquire() as conn:
        await relay.relay_once(conn)

    assert [(m["message_id"], m["subject"]) for m in listed] == [(i, subject) for i in lost]
    assert first_two == listed[:2]
    assert all("no response from stream" in m["reason"] for m in listed), listed
    assert resent == 3
    assert await stream_message_ids(js, late.name) == lost
    assert await parked(pool) == []
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_messages_for_an_unreachable_region_wait_in_order_while_the_rest_go_on(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    """Region 44's stream is out of reach (here: not there yet, as behind a cut link): its messages
    are held, not parked, and this region's own go on; once 44 answers they leave in commit order."""
    js = nc.jetstream()
    own = StreamSpec(f"{subject_root.upper()}_OWN", (f"{subject_root}.36.>",))
    await ensure_stream(js, own, replicas=1, duplicate_window=600)
    store = PostgresEventStore(pool)
    letters: list[str] = []
    mine: set[str] = set()
    for _ in range(5):  # interleaved in the outbox: a letter to 44, then events of 36's own
        letters += sorted(await queue_messages(store, f"{subject_root}.44.svc.in.letter.v1", 1))
        mine |= await queue_messages(store, f"{subject_root}.36.svc.evt.happened.v1", 3)

    relay = OutboxRelay(pool, js, foreign=frozenset({"44"}))
    async with pool.acquire() as conn:
        assert await relay.relay_once(conn) == 15  # the batch held all 20; 36's 15 left
    assert sorted(await stream_message_ids(js, own.name)) == sorted(mine)  # not blocked behind the letters
    assert set(relay.held) == {"44"}
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 5
    assert await pool.fetchval("SELECT count(*) FROM outbox_undeliverable") == 0
    waiting = await for_other_regions(pool, {"44", "45"})  # what operators see: none for 45
    assert [(w["region"], w["messages"]) for w in waiting] == [("44", 5)] and waiting[0]["oldest_seconds"] >= 0

    theirs = StreamSpec(f"{subject_root.upper()}_THEIRS", (f"{subject_root}.44.>",))
    await ensure_stream(js, theirs, replicas=1, duplicate_window=600)  # region 44 reachable again
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    await eventually(lambda: _count(pool, 0), within=30)
    stop.set()
    await running

    assert await stream_message_ids(js, theirs.name) == letters  # once each, in the order committed
    assert relay.held == {}
    assert await for_other_regions(pool, {"44"}) == []


async def stored_batches(js: Any, stream: str) -> list[tuple[str, str | None, str | None, str | None]]:
    """Each message of a stream, in its order: the body, its atomic batch, its place and commit mark."""
    info = await js.stream_info(stream)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(stream, seq)
        headers = msg.headers or {}
        found.append(
            (
                msg.data.decode(),
                headers.get("Nats-Batch-Id"),
                headers.get("Nats-Batch-Sequence"),
                headers.get("Nats-Batch-Commit"),
            )
        )
    return found


async def queue_bodies(store: PostgresEventStore, queued: list[tuple[str, str]]) -> None:
    """(subject, body) pairs into the outbox, one transaction, in that order."""
    async with store.transaction() as tx:
        for subject, body in queued:
            event_id = uuid4()
            await tx.append(
                f"s-{event_id}",
                0,
                [NewEvent(event_id, "Happened", {})],
                [OutboxMessage(event_id, subject, body.encode())],
            )


async def test_a_batch_goes_to_each_stream_as_one_atomic_batch_in_the_order_committed(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    """Interleaved messages for three streams: each stream's go as one atomic batch (one fsync, one
    acknowledgement), in their order, when there are ATOMIC_MIN of them or more; fewer go one by one."""
    js = nc.jetstream()
    streams = {
        name: StreamSpec(f"{subject_root.upper()}_{name.upper()}", (f"{subject_root}.36.{name}.>",)) for name in "abc"
    }
    for spec in streams.values():
        await ensure_stream(js, spec, replicas=1, duplicate_window=600)
    counts = {"a": ATOMIC_MIN + 8, "b": ATOMIC_MIN, "c": ATOMIC_MIN - 1}
    order = [f"{name}{i}" for i in range(ATOMIC_MIN + 8) for name in "abc" if i < counts[name]]
    await queue_bodies(
        PostgresEventStore(pool), [(f"{subject_root}.36.{body[0]}.evt.happened.v1", body) for body in order]
    )

    relay = OutboxRelay(pool, js)
    async with pool.acquire() as conn:
        assert await relay.relay_once(conn) == len(order)

    a, b, c = [await stored_batches(js, streams[name].name) for name in "abc"]
    for name, stored in (("a", a), ("b", b), ("c", c)):
        assert [m[0] for m in stored] == [f"{name}{i}" for i in range(counts[name])]  # in the order committed
    for batch in (a, b):
        assert [m[2:] for m in batch] == [(str(i), None) for i in range(1, len(batch))] + [(str(len(batch)), "1")]
        assert len({m[1] for m in batch}) == 1
    assert a[0][1] != b[0][1]
    assert {m[1:] for m in c} == {(None, None, None)}
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_stream_that_takes_no_atomic_batches_gets_the_messages_one_by_one(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    """A stream made elsewhere, without `allow_atomic`: JetStream refuses the batch whole, the relay
    sends its messages one by one at once and from then on; none is lost or stored twice."""
    js = nc.jetstream()
    name = f"{subject_root.upper()}_PLAIN"
    await js.add_stream(StreamConfig(name=name, subjects=[f"{subject_root}.>"], duplicate_window=600))
    subject = f"{subject_root}.36.svc.evt.happened.v1"
    store = PostgresEventStore(pool)
    relay = OutboxRelay(pool, js)
    sends: list[int] = []
    send = relay._send

    async def counted(rows: Any, atomic: Any) -> list[Any]:
        sends.append(len(atomic))  # how many of the rows went in an atomic batch
        return await send(rows, atomic)

    relay._send = counted  # type: ignore[method-assign]
    bodies = [f"p{i}" for i in range(2 * ATOMIC_MIN)]
    for half in (bodies[:ATOMIC_MIN], bodies[ATOMIC_MIN:]):
        await queue_bodies(store, [(subject, body) for body in half])
        async with pool.acquire() as conn:
            assert await relay.relay_once(conn) == ATOMIC_MIN

    assert await stored_batches(js, name) == [(body, None, None, None) for body in bodies]
    assert sends == [ATOMIC_MIN, 0, 0]  # refused as a batch, then one by one; then one by one from the start


async def test_a_message_jetstream_refuses_fails_its_batch_at_once_with_the_reason(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    """A full stream (its limit reached, new messages refused): the relay hears the refusal, not a
    silence it would wait out (nats-py's `publish_async` loses a refusal), and keeps the batch."""
    js = nc.jetstream()
    name = f"{subject_root.upper()}_FULL"
    await js.add_stream(StreamConfig(name=name, subjects=[f"{subject_root}.>"], max_msgs=1, discard=DiscardPolicy.NEW))
    await queue_messages(PostgresEventStore(pool), f"{subject_root}.36.svc.evt.happened.v1", 2)
    relay = OutboxRelay(pool, js, ack_timeout=300)

    async with pool.acquire() as conn:
        with pytest.raises(nats.js.errors.APIError, match="maximum messages exceeded"):
            await relay.relay_once(conn)

    assert await pool.fetchval("SELECT count(*) FROM outbox") == 2  # kept, to go again
    assert (await js.stream_info(name)).state.messages == 1


class HeldGathering(OutboxRelay):
    """A relay whose gathering pause lasts until the test lets it go (instead of its milliseconds),
    and which tells when it has first found the outbox empty (and so waits for a commit)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.idle = asyncio.Event()
        self.gathering = asyncio.Event()
        self.let_go = asyncio.Event()

    async def relay_once(self, conn: asyncpg.Connection) -> int:
        sent = await super().relay_once(conn)
        if not sent:
            self.idle.set()
        return sent

    async def _gather(self) -> None:
        self.gathering.set()
        await self.let_go.wait()


async def test_commits_made_while_a_woken_relay_gathers_leave_in_its_batch(
    pool: asyncpg.Pool, nc: NatsClient, subject_root: str
) -> None:
    js = nc.jetstream()
    stream = await _out_stream(js, subject_root)
    relay = HeldGathering(pool, js, poll_interval=60.0)  # only commits wake it
    store = PostgresEventStore(pool, on_commit=relay.wake)
    subject = f"{subject_root}.36.svc.evt.happened.v1"
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        # Committed before the relay's first read, the message would leave in that read, and the
        # commit's wake be cleared by it: the relay would then wait for the next commit, not gather.
        await asyncio.wait_for(relay.idle.wait(), timeout=15)
        ids = await queue_messages(store, subject, 1)  # its commit wakes the relay, which then gathers
        await asyncio.wait_for(relay.gathering.wait(), timeout=15)
        for _ in range(4):  # four more commits while it gathers, each waking it again
            ids |= await queue_messages(store, subject, 1)
        relay.let_go.set()
        await eventually(lambda: _count(pool, 0))
    finally:
        relay.let_go.set()  # a failure above never leaves the relay held
        stop.set()
        await running

    assert relay.batches == 1  # the five in one batch
    assert relay.published == 5
    assert sorted(await stream_message_ids(js, stream.name)) == sorted(ids)
