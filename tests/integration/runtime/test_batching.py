"""A StreamBatch's rows reach real PostgreSQL as they were: every column type the views use, NULLs,
text that JSON and array literals must escape, and each stream's statements in their order."""

from __future__ import annotations

from datetime import date

import asyncpg

from runtime.batching import StreamBatch, array_literal, json_rows

_PUT = (
    "INSERT INTO batch_test (id, n, flag, day, at, label, tags) "
    "SELECT id, n, flag, day, at::timestamptz, label, tags::text[] FROM "
    + json_rows("id, n, flag, day, at, label, tags", "text, bigint, boolean, date, text, text, text")
    + " ON CONFLICT (id) DO UPDATE SET n = EXCLUDED.n"
)
_BUMP = "UPDATE batch_test v SET n = v.n + r.step FROM " + json_rows("id, step", "text, bigint") + " WHERE v.id = r.id"


async def test_rows_reach_the_table_as_they_were(pool: asyncpg.Pool) -> None:
    await pool.execute(
        "CREATE TABLE batch_test (id text PRIMARY KEY, n bigint, flag boolean, day date, at timestamptz, "
        "label text, tags text[])"
    )
    odd = 'a "quoted", {braced} back\\slash \u5f20\u4e09 \U0001f600 NULL'
    batch = StreamBatch()
    await batch.of("s1").execute(
        _PUT, "s1", 2**62, True, date(2026, 12, 3), "2026-12-03T08:00:00+08:00", odd, array_literal([odd, "b"])
    )
    await batch.of("s2").execute(_PUT, "s2", -5, False, None, None, None, None)
    await batch.of("s1").execute(_BUMP, "s1", -2)  # after s1's insert, in the next wave
    await batch.of("s2").execute(_BUMP, "s2", 10)

    async with pool.acquire() as conn:
        await batch.run(conn)

    rows = {r["id"]: dict(r) for r in await pool.fetch("SELECT *, at AT TIME ZONE 'UTC' AS utc FROM batch_test")}
    assert rows["s1"]["n"] == 2**62 - 2
    assert rows["s1"]["flag"] is True and rows["s1"]["day"] == date(2026, 12, 3)
    assert rows["s1"]["utc"].isoformat() == "2026-12-03T00:00:00"
    assert rows["s1"]["label"] == odd and rows["s1"]["tags"] == [odd, "b"]
    assert rows["s2"] == {
        "id": "s2",
        "n": 5,
        "flag": False,
        "day": None,
        "at": None,
        "label": None,
        "tags": None,
        "utc": None,
    }


async def test_a_keyed_update_of_a_few_rows_reads_only_those_rows_however_the_view_grew(pool: asyncpg.Pool) -> None:
    """The statement is first planned (and kept, prepared) on an empty view; the view then grows
    to 30,000 rows. Each update of 8 rows still reads 8 rows through the key's index, not the whole
    view (which `jsonb_array_elements`, counted as 100 rows by the planner, made it do)."""
    await pool.execute("CREATE TABLE batch_view (person text, month text, paid boolean, PRIMARY KEY (person, month))")
    pay = (
        "UPDATE batch_view v SET paid = true FROM "
        + json_rows("person, month", "text, text")
        + " WHERE v.person = r.person AND v.month = r.month"
    )

    def some(month: str) -> list[tuple[str, str]]:
        return [(f"p{n:05d}", month) for n in range(0, 3_000, 375)]

    async with pool.acquire() as conn:
        for _ in range(8):  # past the five custom plans: the prepared statement's generic plan is kept
            await conn.execute(pay, some("2020-12"))
        for m in range(1, 11):
            month = f"2021-{m:02d}"
            await conn.execute(
                "INSERT INTO batch_view SELECT 'p' || lpad(n::text, 5, '0'), $1, false FROM generate_series(0, 2999) n",
                month,
            )
            await conn.execute(pay, some(month))
        await conn.execute("SELECT pg_stat_force_next_flush()")
    stats = await pool.fetchrow(
        "SELECT seq_scan, coalesce(seq_tup_read, 0) AS seq_tup_read FROM pg_stat_user_tables WHERE relname = 'batch_view'"
    )
    assert await pool.fetchval("SELECT count(*) FROM batch_view WHERE paid") == 10 * 8
    assert stats["seq_tup_read"] == 0, dict(stats)
