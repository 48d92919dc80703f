"""Raw PostgreSQL limits: one-row transactions from 16 asyncpg connections, with and without an outbox row.

Each transaction is one statement in autocommit (one round trip, one commit, one WAL flush shared
by whatever commits group with it): the most a client can ask of this server per event. The CPU
each one costs, the server's and the client's (this process, on uvloop as the services run), is
one of the parts whose sum is the stack's floor (tests/bench/floor.py).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg

from runtime import db
from tests.bench import cpu
from tests.bench.common import (
    EVENT_DATA_JSON,
    EVENT_METADATA_JSON,
    OUTBOX_HEADERS_JSON,
    OUTBOX_PAYLOAD,
    OUTBOX_SUBJECT,
    Figure,
    closed_loop,
    percentile,
    say,
    seconds,
)

CONNECTIONS = 16

_INSERT_EVENT = """
INSERT INTO events (stream_id, version, event_id, event_type, data, metadata)
VALUES ($1, 1, $2, 'EmployerRegistered', $3::jsonb, $4::jsonb)
"""

INSERT_EVENT_AND_OUTBOX = """
WITH appended AS (
    INSERT INTO events (stream_id, version, event_id, event_type, data, metadata)
    VALUES ($1, 1, $2, 'EmployerRegistered', $3::jsonb, $4::jsonb)
    RETURNING event_id
)
INSERT INTO outbox (message_id, subject, payload, headers)
SELECT event_id, $5, $6, $7::jsonb FROM appended
"""


async def migrated_pool(dsn: str, size: int = CONNECTIONS) -> Any:
    """A runtime pool (the service's codecs) on a database holding the runtime's tables."""
    pool = await db.create_pool(dsn, size=size)
    await db.migrate(pool, db.sql_files(("runtime", db.runtime_migrations())))
    return pool


async def raw_rate(
    dsn: str, sql: str, *, with_outbox: bool, duration: float, server: int
) -> tuple[float, float, float, dict[str, Any]]:
    """(transactions a second, p50 ms, p99 ms, the run's CPU per transaction by process)."""
    connections = [await asyncpg.connect(dsn) for _ in range(CONNECTIONS)]
    try:

        async def step(index: int) -> None:
            event_id = uuid.uuid4()
            args: list[Any] = [f"raw-{event_id}", event_id, EVENT_DATA_JSON, EVENT_METADATA_JSON]
            if with_outbox:
                args += [OUTBOX_SUBJECT, OUTBOX_PAYLOAD, OUTBOX_HEADERS_JSON]
            await connections[index].execute(sql, *args)

        await closed_loop(CONNECTIONS, 0.5, step)  # warm-up: prepared statements, caches
        before = cpu.snapshot({"postgres": server})
        count, elapsed, latencies = await closed_loop(CONNECTIONS, duration, step)
        run = cpu.part_run(count / elapsed, before, cpu.snapshot({"postgres": server}), count)
    finally:
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)
    return count / elapsed, percentile(latencies, 50), percentile(latencies, 99), run


async def measure(dsn: str, server: int) -> list[Figure]:
    """`server`: PostgreSQL's process id (its tree's CPU is the server's part)."""
    pool = await migrated_pool(dsn, size=2)
    await pool.close()
    figures: list[Figure] = []
    duration = seconds(4.0)
    say("raw: asyncpg single-event transactions, 16 connections")
    rate, p50, p99, _ = await raw_rate(dsn, _INSERT_EVENT, with_outbox=False, duration=duration, server=server)
    figures.append(
        Figure(
            "limit.pg_event_tx",
            "raw: asyncpg 1-event tx, 16 conns",
            rate,
            "tx/s",
            "limit",
            p50_ms=p50,
            p99_ms=p99,
            notes="autocommit INSERT into the runtime's events table",
        )
    )
    say("raw: asyncpg event + outbox row in one statement, 16 connections")
    rate, p50, p99, run = await raw_rate(
        dsn, INSERT_EVENT_AND_OUTBOX, with_outbox=True, duration=duration, server=server
    )
    figures.append(
        Figure(
            "limit.pg_event_outbox_tx",
            "raw: asyncpg event+outbox 1 stmt, 16 conns",
            rate,
            "tx/s",
            "limit",
            p50_ms=p50,
            p99_ms=p99,
            notes="autocommit CTE: INSERT events + INSERT outbox",
            extra=run,
        )
    )
    return figures
