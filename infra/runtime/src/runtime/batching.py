"""Fewer round trips for a projection whose view rows each belong to one stream.

A projection applies a batch of events one statement at a time: a rebuild of 20,000 events is
30,000 round trips to PostgreSQL. When every statement an event causes touches only rows of that
event's own stream (employers_view by employer, enrolments by person...), statements of
*different* streams commute, and only each stream's own order matters. `StreamBatch` collects the
statements, then runs them in waves: a stream's n-th statement goes in wave n, so within a wave
every statement belongs to another stream and the same SQL is sent once with `executemany`
(pipelined by asyncpg). Order inside each stream is kept exactly; a batch is a few round trips
per wave instead of one per statement.

Only for projections that keep that rule; one that reads or writes another stream's rows must
apply its events one by one.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Protocol

import asyncpg


class Writes(Protocol):
    async def execute(self, sql: str, *args: Any) -> Any:
        """Run (or queue) one statement; the answer is not used."""
        ...


class _StreamWrites:
    def __init__(self, batch: StreamBatch, stream_id: str) -> None:
        self._batch = batch
        self._stream = stream_id

    async def execute(self, sql: str, *args: Any) -> None:
        self._batch.add(self._stream, sql, args)


class StreamBatch:
    def __init__(self) -> None:
        self._waves: list[dict[str, list[tuple[Any, ...]]]] = []
        self._next: defaultdict[str, int] = defaultdict(int)  # stream -> its next statement's wave

    def of(self, stream_id: str) -> Writes:
        """Where the statements of an event of `stream_id` go."""
        return _StreamWrites(self, stream_id)

    def add(self, stream_id: str, sql: str, args: tuple[Any, ...]) -> None:
        wave = self._next[stream_id]
        self._next[stream_id] = wave + 1
        if wave == len(self._waves):
            self._waves.append(defaultdict(list))
        self._waves[wave][sql].append(args)

    @property
    def statements(self) -> int:
        return sum(len(rows) for wave in self._waves for rows in wave.values())

    async def run(self, conn: asyncpg.Connection) -> None:
        for wave in self._waves:
            for sql, rows in wave.items():
                if len(rows) == 1:
                    await conn.execute(sql, *rows[0])
                else:
                    await conn.executemany(sql, rows)
        self._waves.clear()
        self._next.clear()
