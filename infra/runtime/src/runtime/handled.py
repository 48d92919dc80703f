"""The handled-services projection: every event that completes a service for someone, counted by
day (Beijing) and channel — the input of the online-handling share (线上经办占比).

A projection of the service's own event log like any other: applied exactly once with its
position, and rebuilt from the log by `yiwang rebuild` (the events carry their channel).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

import asyncpg

from runtime.batching import json_rows
from runtime.eventstore import RecordedEvent
from runtime.workdays import local_date

_COUNT = (
    "INSERT INTO handled_services (day, channel, event_type, handled) SELECT * FROM "
    + json_rows("day, channel, event_type, handled", "date, text, text, bigint")
    + " ON CONFLICT (day, channel, event_type) DO UPDATE SET handled = handled_services.handled + EXCLUDED.handled"
)


class HandledServicesProjection:
    name = "handled_services"

    def __init__(self, counted: Collection[str]) -> None:
        """`counted`: the event types (the service's own) that each complete one handled service."""
        self.event_types = frozenset(counted)

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        counts = Counter(
            (local_date(e.recorded_at), str(e.metadata.get("channel", "system")), e.event_type)
            for e in events
            if e.event_type in self.event_types
        )
        if counts:
            await conn.execute(_COUNT, [(*key, handled) for key, handled in counts.items()])

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute("TRUNCATE handled_services")


async def handled_by_channel(pool: asyncpg.Pool, first: date, last: date) -> list[dict[str, Any]]:
    """Counts per day and channel for days first..last inclusive (Beijing dates)."""
    rows = await pool.fetch(
        "SELECT day, channel, sum(handled)::bigint AS handled FROM handled_services "
        "WHERE day BETWEEN $1 AND $2 GROUP BY day, channel ORDER BY day, channel",
        first,
        last,
    )
    return [{"day": r["day"].isoformat(), "channel": r["channel"], "handled": r["handled"]} for r in rows]
