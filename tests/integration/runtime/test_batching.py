"""A StreamBatch's rows reach real PostgreSQL as they were: every column type the views use, NULLs,
text that JSON and array literals must escape, and each stream's statements in their order."""

from __future__ import annotations

from datetime import date

import asyncpg

from runtime.batching import StreamBatch, array_literal, json_rows

_PUT = (
    "INSERT INTO batch_rows (id, n, flag, day, at, label, tags) "
    "SELECT id, n, flag, day, at::timestamptz, label, tags::text[] FROM "
    + json_rows("id, n, flag, day, at, label, tags", "text, bigint, boolean, date, text, text, text")
    + " ON CONFLICT (id) DO UPDATE SET n = EXCLUDED.n"
)
_BUMP = "UPDATE batch_rows v SET n = v.n + r.step FROM " + json_rows("id, step", "text, bigint") + " WHERE v.id = r.id"


async def test_rows_reach_the_table_as_they_were(pool: asyncpg.Pool) -> None:
    await pool.execute(
        "CREATE TABLE batch_rows (id text PRIMARY KEY, n bigint, flag boolean, day date, at timestamptz, "
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

    rows = {r["id"]: dict(r) for r in await pool.fetch("SELECT *, at AT TIME ZONE 'UTC' AS utc FROM batch_rows")}
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
