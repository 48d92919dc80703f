"""The bench's runs last until the services' outboxes are empty (`tests.bench.outboxes`)."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import asyncpg
import pytest

from runtime import db
from tests.bench.outboxes import outboxes_drained
from tests.conftest import Servers, create_database
from tests.waiting import eventually


async def _migrated(servers: Servers) -> str:
    url = await create_database(servers.postgres_admin_url)
    pool = await db.create_pool(url, size=2)
    try:
        await db.migrate(pool, db.sql_files(("runtime", db.runtime_migrations())))
    finally:
        await pool.close()
    return url


async def _queue(url: str, count: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.executemany(
            "INSERT INTO outbox (message_id, subject, payload) VALUES ($1, 'x.36.svc.evt.e.v1', '')",
            [(uuid4(),) for _ in range(count)],
        )
    finally:
        await conn.close()


async def _polling(url: str) -> bool:
    """Whether the drain waits on `url`'s outbox: it asks whether anything is left."""
    conn = await asyncpg.connect(url)
    try:
        return bool(
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE 'SELECT EXISTS (SELECT 1 FROM outbox)%'"
            )
        )
    finally:
        await conn.close()


async def test_empty_outboxes_are_drained_at_once(servers: Servers) -> None:
    urls = [await _migrated(servers), await _migrated(servers)]

    assert await outboxes_drained(urls) == (0, 0.0)


async def test_the_drain_counts_what_waited_and_ends_when_every_outbox_is_empty(servers: Servers) -> None:
    first, second = await _migrated(servers), await _migrated(servers)
    await _queue(first, 2)
    await _queue(second, 3)
    draining = asyncio.create_task(outboxes_drained([first, second]))
    emptied: list[str] = []

    async def relay(url: str) -> None:
        await eventually(lambda: _polling(url))  # counted, now waiting for it to empty
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("DELETE FROM outbox")
        finally:
            await conn.close()
        emptied.append(url)

    await relay(first)
    assert not draining.done()
    await relay(second)
    left, seconds = await draining

    assert (left, emptied) == (5, [first, second])
    assert seconds > 0


async def test_an_outbox_that_never_empties_is_an_error_not_a_wait_forever(servers: Servers) -> None:
    url = await _migrated(servers)
    await _queue(url, 1)

    with pytest.raises(TimeoutError, match="not empty"):
        await outboxes_drained([url], timeout=0.2)
