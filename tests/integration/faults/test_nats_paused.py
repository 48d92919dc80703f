"""R2: NATS frozen (SIGSTOP) for 30 s while commands keep committing and the relay keeps relaying.

A dedicated nats-server is paused under a steady stream of commands (each one transaction: event
and outbox row). Commands never wait for NATS, so they keep committing; the relay's publishes go
unacknowledged, time out, and its batches roll back and are retried. After SIGCONT, the server
works through everything the relay sent meanwhile, the duplicate window drops the copies, and the
outbox empties: every committed message is in the stream exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from uuid import uuid4

import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from runtime import db
from runtime.embedded import EmbeddedNats
from runtime.eventstore import NewEvent, OutboxMessage, PostgresEventStore
from runtime.messaging import StreamSpec, connect, ensure_stream
from runtime.outbox import OutboxRelay
from tests.waiting import eventually

PAUSE_SECONDS = 30.0
COMMANDS_PER_SECOND = 100


async def stream_ids(js: object, stream: str, subject: str, expected: int) -> list[str]:
    """Every message id in the stream, read with an ephemeral consumer (no acks)."""
    sub = await js.pull_subscribe(  # type: ignore[attr-defined]
        subject, stream=stream, config=ConsumerConfig(ack_policy=AckPolicy.NONE)
    )
    found: list[str] = []
    try:
        while len(found) < expected:
            try:
                batch = await sub.fetch(1000, timeout=2)
            except TimeoutError:
                break
            found += [m.headers["Nats-Msg-Id"] for m in batch]
    finally:
        await sub.unsubscribe()
    return found


async def test_nats_paused_30s_under_load_loses_nothing_and_publishes_each_message_once(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = EmbeddedNats(tmp_path / "nats").start()
    pool = await db.create_pool(database_url, size=4)
    await db.migrate(pool, db.sql_files(("runtime", db.runtime_migrations())))
    nc = await connect([server.url], name="relay")
    store = PostgresEventStore(pool)
    stop_commands, stop_relay = asyncio.Event(), asyncio.Event()
    committed: list[str] = []
    latencies: list[float] = []
    paused_at = resumed_at = 0.0

    async def commands() -> None:
        """A steady stream of commands: one transaction each, the event with its outbox row."""
        while not stop_commands.is_set():
            event_id = uuid4()
            began = time.monotonic()
            async with store.transaction() as tx:
                await tx.append(
                    f"s-{event_id}",
                    0,
                    [NewEvent(event_id, "Happened", {})],
                    [OutboxMessage(event_id, "pause.evt", b"{}")],
                )
            committed.append(str(event_id))
            if paused_at and began >= paused_at and not resumed_at:
                latencies.append(time.monotonic() - began)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_commands.wait(), timeout=1 / COMMANDS_PER_SECOND)  # the pace

    producer: asyncio.Task[None] | None = None
    relaying: asyncio.Task[None] | None = None
    try:
        js = nc.jetstream(timeout=2)
        await ensure_stream(js, StreamSpec("PAUSE", ("pause.>",)), replicas=1, duplicate_window=600)
        relay = OutboxRelay(pool, js, batch=200, ack_timeout=2)
        relaying = asyncio.create_task(relay.run(stop_relay))
        producer = asyncio.create_task(commands())
        await eventually(lambda: _published(relay, 100))

        server.pause()
        paused_at = time.monotonic()
        before_pause = len(committed)

        async def fault_over() -> bool:
            return time.monotonic() - paused_at >= PAUSE_SECONDS

        await eventually(fault_over, within=PAUSE_SECONDS + 5, every=0.5)
        during = len(committed) - before_pause
        backlog = await pool.fetchval("SELECT count(*) FROM outbox")
        server.resume()
        resumed_at = time.monotonic()
        stop_commands.set()
        await producer
        await eventually(lambda: _outbox_empty(pool), within=30, every=0.05)
        recovery = time.monotonic() - resumed_at
        stop_relay.set()
        await relaying
        published = await stream_ids(js, "PAUSE", "pause.evt", len(committed))
        info = await js.stream_info("PAUSE")
    finally:
        stop_commands.set()
        stop_relay.set()
        for task in (producer, relaying):
            if task is not None:
                await asyncio.wait_for(task, timeout=30)
        await nc.close()
        await pool.close()
        server.stop()

    retries = sum(1 for r in caplog.records if r.getMessage() == "outbox relay interrupted, retrying")
    latencies.sort()
    p99 = latencies[int(0.99 * (len(latencies) - 1))] if latencies else 0.0
    lost = len(set(committed) - set(published))
    print(
        f"nats paused {PAUSE_SECONDS:.0f} s: {len(committed)} commands committed ({during} during the pause, "
        f"commit p99 {p99 * 1000:.1f} ms), outbox backlog at resume {backlog}, relay timeouts/retries {retries}; "
        f"after SIGCONT: stream messages {info.state.messages}, lost = {lost}, "
        f"duplicates = {len(published) - len(set(published))}, recovery time (resume to outbox empty) {recovery:.2f} s"
    )
    assert during >= PAUSE_SECONDS * 5  # commands kept committing while NATS was frozen (frozen, none would)
    assert backlog >= during  # none of them could leave
    assert retries > 0
    assert lost == 0
    assert len(published) == len(set(published)) == info.state.messages == len(committed)


async def _published(relay: OutboxRelay, n: int) -> bool:
    return relay.published >= n


async def _outbox_empty(pool: object) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM outbox") == 0)  # type: ignore[attr-defined]
