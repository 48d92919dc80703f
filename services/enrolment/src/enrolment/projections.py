"""Read models of the enrolment service, fed in commit order from its event log."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from runtime.eventstore import RecordedEvent


class EmployersProjection:
    """`employers_view`: one row per registered employer, with its registration route and channel."""

    name = "employers"

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        rows = [
            (
                e.stream_id,
                e.data["credit_code"],
                e.data["name"],
                e.data["division_code"],
                e.data["industry_code"],
                e.data["established_on"],
                e.data["route"],
                e.metadata.get("channel"),
                e.recorded_at,
            )
            for e in events
            if e.event_type == "EmployerRegistered"
        ]
        if rows:
            await conn.executemany(
                "INSERT INTO employers_view (employer_id, credit_code, name, division_code, industry_code, "
                "established_on, route, channel, registered_at) "
                "VALUES ($1, $2, $3, $4, $5, $6::text::date, $7, $8, $9) ON CONFLICT (employer_id) DO NOTHING",
                rows,
            )

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute("TRUNCATE employers_view")


async def get_employer(pool: asyncpg.Pool, credit_code: str) -> dict[str, object] | None:
    row = await pool.fetchrow("SELECT * FROM employers_view WHERE credit_code = $1", credit_code)
    if row is None:
        return None
    return {
        "employer_id": row["employer_id"],
        "credit_code": row["credit_code"],
        "name": row["name"],
        "division_code": row["division_code"],
        "industry_code": row["industry_code"],
        "established_on": row["established_on"].isoformat(),
        "route": row["route"],
        "channel": row["channel"],
        "registered_at": row["registered_at"].isoformat(),
    }
