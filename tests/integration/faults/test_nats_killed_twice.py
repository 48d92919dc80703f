"""NATS killed (-9) and restarted twice while 10,000 commands commit and the outbox relays them:
every acknowledged command reaches JetStream exactly once (issue 9, R1)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from uuid import uuid4

import asyncpg

from runtime import db
from runtime.embedded import EmbeddedNats
from runtime.eventstore import NewEvent, OutboxMessage, PostgresEventStore
from runtime.messaging import StreamSpec, connect, ensure_stream
from runtime.outbox import OutboxRelay
from tests.waiting import eventually

COMMANDS = 10_000
WRITERS = 8
SUBJECT = "kills.evt"


async def _commands(store: PostgresEventStore, count: int) -> set[str]:
    """`count` commands, each committing one event and its outbox message; the ids acknowledged."""
    acknowledged: set[str] = set()
    for _ in range(count):
        event_id = uuid4()
        async with store.transaction() as tx:
            await tx.append(
                f"k-{event_id}", 0, [NewEvent(event_id, "Happened", {})], [OutboxMessage(event_id, SUBJECT, b"{}")]
            )
        acknowledged.add(str(event_id))
    return acknowledged


async def _stored_ids(js: object, stream: str) -> list[str]:
    """Every message id in the stream, read with one ephemeral pull consumer."""
    info = await js.stream_info(stream)  # type: ignore[attr-defined]
    subscription = await js.pull_subscribe(SUBJECT, durable=None, stream=stream)  # type: ignore[attr-defined]
    ids: list[str] = []
    while len(ids) < info.state.messages:
        for message in await subscription.fetch(1_000, timeout=5):
            ids.append(message.headers["Nats-Msg-Id"])
            await message.ack()
    await subscription.unsubscribe()
    return ids


async def test_nats_killed_twice_during_ten_thousand_commands_loses_and_doubles_nothing(
    tmp_path: Path, database_url: str
) -> None:
    server = EmbeddedNats(tmp_path / "nats").start()
    pool = await db.create_pool(database_url, size=WRITERS + 2)
    await db.migrate(pool, db.sql_files(("runtime", db.runtime_migrations())))
    nc = await connect([server.url], name="relay")
    stop = asyncio.Event()
    relaying: asyncio.Task[None] | None = None
    recoveries: list[float] = []
    try:
        js = nc.jetstream(timeout=2)
        await ensure_stream(js, StreamSpec("KILLS", ("kills.>",)), replicas=1, duplicate_window=600)
        relay = OutboxRelay(pool, js, batch=200, ack_timeout=2)
        relaying = asyncio.create_task(relay.run(stop))
        writers = [
            asyncio.create_task(_commands(PostgresEventStore(pool), COMMANDS // WRITERS)) for _ in range(WRITERS)
        ]
        for threshold in (COMMANDS // 5, COMMANDS // 2):

            async def relayed(at_least: int = threshold) -> bool:
                return relay.published >= at_least

            await eventually(relayed, within=120)
            server.kill()
            down_at = await _outbox_size(pool)

            async def accepted_while_down(before: int = down_at) -> bool:
                return await _outbox_size(pool) > before + 100 or all(w.done() for w in writers)

            await eventually(accepted_while_down, within=60)  # commands go on while NATS is down
            server.start()
            back = time.monotonic()
            published = relay.published

            async def relaying_again(before: int = published) -> bool:
                return relay.published > before

            await eventually(relaying_again, within=60)
            recoveries.append(time.monotonic() - back)
        acknowledged = set().union(*await asyncio.gather(*writers))

        async def outbox_empty() -> bool:
            return await _outbox_size(pool) == 0

        await eventually(outbox_empty, within=180)
        stored = await _stored_ids(js, "KILLS")
    finally:
        stop.set()
        if relaying is not None:
            await asyncio.wait_for(relaying, timeout=30)
        await nc.close()
        await pool.close()
        server.stop()

    lost = len(acknowledged - set(stored))
    duplicates = len(stored) - len(set(stored))
    print(
        f"NATS killed twice: {len(acknowledged)} commands, lost {lost}, duplicates {duplicates}, "
        f"relay back after {', '.join(f'{r:.1f} s' for r in recoveries)}"
    )
    assert len(acknowledged) == COMMANDS
    assert (lost, duplicates, len(stored)) == (0, 0, COMMANDS)


async def _outbox_size(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM outbox"))
