"""A determination's timers on real PostgreSQL: read by the stream, not by walking every deadline."""

from __future__ import annotations

from datetime import date

import asyncpg

from injury import queries
from runtime.deadlines import DeadlineRule
from tests.integration.runtime.test_projector import generic_plan


async def test_a_streams_timers_of_every_status_are_read_by_the_stream_not_the_whole_table(pool: asyncpg.Pool) -> None:
    """A determination's page lists its timers due, fired and cancelled. The settled ones are most
    of the table in a service that has run for years: the read must go by the stream, also in the
    generic plan a prepared statement settles on."""
    await pool.execute(
        "INSERT INTO deadlines (deadline_id, stream_id, kind, due_at, rule, status, settled_at) "
        "SELECT gen_random_uuid(), 'determination-' || (g % 5000), 'stage:' || (g % 3), now() + g * interval '1 minute', "
        "$1, CASE WHEN g % 7 = 0 THEN 'pending' ELSE 'cancelled' END, CASE WHEN g % 7 = 0 THEN NULL ELSE now() END "
        "FROM generate_series(1, 20000) g",
        DeadlineRule(date(2026, 3, 2), working_days=20).to_json(),
    )
    await pool.execute("ANALYZE deadlines")

    plan = await generic_plan(pool, queries.TIMERS, "text", "'determination-7'")
    timers = await queries.timers(pool, "determination-7")

    assert "Seq Scan" not in plan, plan
    assert "deadlines_of_stream" in plan, plan
    assert [t["status"] for t in timers] == ["pending", "cancelled", "cancelled", "cancelled"]
