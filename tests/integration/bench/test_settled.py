"""Between sections the bench leaves PostgreSQL with nothing for autovacuum to do
(`tests.bench.common.settled`)."""

from __future__ import annotations

from functools import partial

import asyncpg

from tests.bench.common import settled
from tests.conftest import Servers, create_database
from tests.waiting import eventually


async def _churned(url: str) -> None:
    """A table written and half deleted, out of autovacuum's reach, as an outbox is after a section."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE churn (id int PRIMARY KEY) WITH (autovacuum_enabled = false)")
        await conn.execute("INSERT INTO churn SELECT generate_series(1, 2000)")
        await conn.execute("ANALYZE churn")  # analysed once already: the next analysis replaces its statistics
        await conn.execute("DELETE FROM churn WHERE id % 2 = 0")
    finally:
        await conn.close()


async def _left(url: str) -> tuple[int, int, bool, bool, int]:
    """The table's dead rows, changes since its analysis, whether it was vacuumed and analysed, and the
    dead rows of the database's statistics table."""
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT n_dead_tup, n_mod_since_analyze, last_vacuum IS NOT NULL AS vacuumed,"
            " last_analyze IS NOT NULL AS analysed,"
            " (SELECT n_dead_tup FROM pg_stat_all_tables WHERE relid = 'pg_catalog.pg_statistic'::regclass)"
            " AS statistics_dead FROM pg_stat_user_tables WHERE relname = 'churn'"
        )
    finally:
        await conn.close()
    assert row is not None
    return row["n_dead_tup"], row["n_mod_since_analyze"], row["vacuumed"], row["analysed"], row["statistics_dead"]


async def _dead(url: str) -> bool:
    """Whether the statistics show the deleted rows (they reach them once the deleting session reports)."""
    dead, changed, _, _, _ = await _left(url)
    return dead == 1000 and changed >= 1000  # the insert's 2,000 too when they arrive after the analysis


async def test_every_database_named_is_vacuumed_and_analysed_its_statistics_table_too(servers: Servers) -> None:
    first, second = await create_database(servers.postgres_admin_url), await create_database(servers.postgres_admin_url)
    for url in (first, second):
        await _churned(url)
        await eventually(partial(_dead, url))

    took = await settled(servers.postgres_admin_url, [first, second])

    assert took > 0
    for url in (first, second):
        await eventually(partial(_settled, url))


async def _settled(url: str) -> bool:
    return await _left(url) == (0, 0, True, True, 0)
