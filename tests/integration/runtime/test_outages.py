"""NATS or PostgreSQL going down during work loses no acknowledged event, and readiness says so."""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import uuid4

import httpx

from runtime import db
from runtime.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from runtime.eventstore import NewEvent, OutboxMessage, PostgresEventStore
from runtime.health import HealthServer
from runtime.messaging import StreamSpec, connect, ensure_stream
from runtime.outbox import OutboxRelay
from tests.waiting import eventually


async def _queue(store: PostgresEventStore, subject: str, count: int) -> set[str]:
    ids: set[str] = set()
    for _ in range(count):
        event_id = uuid4()
        async with store.transaction() as tx:
            await tx.append(
                f"s-{event_id}", 0, [NewEvent(event_id, "Happened", {})], [OutboxMessage(event_id, subject, b"{}")]
            )
        ids.add(str(event_id))
    return ids


async def _stream_ids(js: object, stream: str) -> list[str]:
    info = await js.stream_info(stream)  # type: ignore[attr-defined]
    return [
        (await js.get_msg(stream, seq)).headers["Nats-Msg-Id"]  # type: ignore[attr-defined]
        for seq in range(info.state.first_seq, info.state.last_seq + 1)
    ]


async def test_nats_killed_and_restarted_during_relaying_loses_and_doubles_nothing(
    tmp_path: Path, database_url: str
) -> None:
    nats_server = EmbeddedNats(tmp_path / "nats").start()
    pool = await db.create_pool(database_url, size=4)
    await db.migrate(pool, db.sql_files(("runtime", db.runtime_migrations())))
    nc = await connect([nats_server.url], name="relay")
    stop = asyncio.Event()
    running: asyncio.Task[None] | None = None
    try:
        js = nc.jetstream(timeout=2)
        await ensure_stream(js, StreamSpec("OUTAGE", ("outage.>",)), replicas=1, duplicate_window=600)
        store = PostgresEventStore(pool)
        ids = await _queue(store, "outage.evt", 300)
        relay = OutboxRelay(pool, js, batch=20, ack_timeout=2)
        running = asyncio.create_task(relay.run(stop))
        await eventually(lambda: _published_some(relay))
        nats_server.kill()
        more = await _queue(store, "outage.evt", 100)  # commands keep being accepted while NATS is down
        nats_server.start()
        await eventually(lambda: _outbox_empty(pool), within=60)
        stop.set()
        await running
        published = await _stream_ids(js, "OUTAGE")
    finally:
        stop.set()
        if running is not None:
            await asyncio.wait_for(running, timeout=30)
        await nc.close()
        await pool.close()
        nats_server.stop()

    assert len(published) == len(set(published)) == 400
    assert set(published) == ids | more


async def _published_some(relay: OutboxRelay) -> bool:
    return relay.published > 0


async def _outbox_empty(pool: object) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM outbox") == 0)  # type: ignore[attr-defined]


async def test_postgres_killed_during_work_loses_no_committed_event_and_readiness_goes_503_and_back(
    tmp_path: Path, nc: object
) -> None:
    pg = EmbeddedPostgres(tmp_path / "pg", port=free_port()).start()
    url = pg.create_database("outage")
    pool = await db.create_pool(url, size=4)
    await db.migrate(pool, db.sql_files(("runtime", db.runtime_migrations())))
    health = HealthServer(free_port(), pool, nc, host="127.0.0.1")  # type: ignore[arg-type]
    await health.start()
    ready = f"http://127.0.0.1:{health.port}/health/ready"
    store = PostgresEventStore(pool)
    client = httpx.AsyncClient(timeout=10)
    try:
        committed = await _queue(store, "x.evt", 50)
        before = (await client.get(ready)).status_code
        pg.kill()
        during = (await client.get(ready)).status_code
        await asyncio.to_thread(pg.start)

        async def back() -> bool:
            return (await client.get(ready)).status_code == 200

        await eventually(back, within=30)
        rows = await pool.fetch("SELECT event_id::text AS id FROM events")
    finally:
        await client.aclose()
        await health.stop()
        await pool.close()
        pg.stop()

    assert (before, during) == (200, 503)
    assert {r["id"] for r in rows} == committed
