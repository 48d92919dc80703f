"""Set-based view updates for a projection whose view rows each belong to one stream.

A projection applies a batch of events one statement at a time: a rebuild of 20,000 events is
30,000 statements. When every statement an event causes touches only rows of that event's own
stream (employers_view by employer, enrolments by person...), statements of *different* streams
commute, and only each stream's own order matters. `StreamBatch` collects the statements, then
runs them in waves: a stream's n-th statement goes in wave n, so within a wave every row belongs
to another stream, and each distinct statement of the wave runs once for all its rows.

The statements are written set-based: every parameter `$k` is an array with one element per row,
read with `unnest` (`INSERT ... SELECT ... FROM unnest($1::text[], $2::bigint[]) AS r(a, b)`,
`UPDATE v SET ... FROM unnest(...) AS r(...) WHERE v.key = r.key`). PostgreSQL plans and starts
each once per wave instead of once per row; a batch is a few statements per wave. Rows of one
statement in one wave never meet on the same view row (each belongs to its own stream), so an
`UPDATE ... FROM` never sees two candidate rows and `ON CONFLICT DO UPDATE` never touches a row twice.

Only for projections that keep that rule; one that reads or writes another stream's rows must
apply its events one by one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Protocol

import asyncpg


class Writes(Protocol):
    async def execute(self, sql: str, *args: Any) -> Any:
        """Queue one row of a set-based statement: `args` are its elements of the statement's arrays."""
        ...


def array_literal(items: Iterable[str | int] | None) -> str | None:
    """A PostgreSQL array literal (`{"a","b"}`), for an array-valued column passed in a `text[]`
    parameter and cast back (`r.schemes::text[]`): `unnest` cannot carry arrays of arrays."""
    if items is None:
        return None
    quoted = ('"' + str(item).replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items)
    return "{" + ",".join(quoted) + "}"


def unnest_rows(names: str, types: str) -> str:
    """The rows of a set-based statement: `unnest_rows("a, b", "text, bigint")` is
    `unnest($1::text[], $2::bigint[]) AS r(a, b)`, the k-th name reading parameter k."""
    columns, kinds = names.split(", "), types.split(", ")
    if len(columns) != len(kinds):
        raise ValueError(f"{len(columns)} names and {len(kinds)} types: {names!r}, {types!r}")
    arrays = ", ".join(f"${i}::{kind}[]" for i, kind in enumerate(kinds, start=1))
    return f"unnest({arrays}) AS r({names})"


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
        """How many rows are queued (what one statement per row would have been)."""
        return sum(len(rows) for wave in self._waves for rows in wave.values())

    async def run(self, conn: asyncpg.Connection) -> None:
        for wave in self._waves:
            for sql, rows in wave.items():
                await conn.execute(sql, *(list(column) for column in zip(*rows, strict=True)))
        self._waves.clear()
        self._next.clear()
