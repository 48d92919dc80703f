"""Set-based view updates for a projection whose view rows each belong to one stream.

A projection applies a batch of events one statement at a time: a rebuild of 20,000 events is
30,000 statements. When every statement an event causes touches only rows of that event's own
stream (employers_view by employer, enrolments by person...), statements of *different* streams
commute, and only each stream's own order matters. `StreamBatch` collects the statements, then
runs them in waves: a stream's n-th statement goes in wave n, so within a wave every row belongs
to another stream, and each distinct statement of the wave runs once for all its rows.

The statements are written set-based: their one parameter is the rows, a JSON array of arrays read
back into columns (`json_rows`; `INSERT ... SELECT ... FROM (rows) AS r`, `UPDATE v SET ... FROM
(rows) AS r WHERE v.key = r.key`). PostgreSQL plans and starts each once per wave instead of once per
row; a batch is a few statements per wave. Rows of one statement in one wave never meet on the same
view row (each belongs to its own stream), so an `UPDATE ... FROM` never sees two candidate rows and
`ON CONFLICT DO UPDATE` never touches a row twice.

One JSON document, not an array per column (`unnest($1::text[], $2::bigint[])`): asyncpg's array
encoder asks of every element whether it is itself an iterable, through the `collections.abc`
classes, and that was a quarter of a rebuild's Python time. 2,500 rows of ten text columns cost
11.5 ms of Python and 17 ms in all as arrays, 1.6 ms (orjson, in C) and 6.4 ms as one `jsonb`.

Only for projections that keep that rule; one that reads or writes another stream's rows must
apply its events one by one.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Protocol

import asyncpg


class Writes(Protocol):
    async def execute(self, sql: str, *args: Any) -> Any:
        """Queue one row of a set-based statement (`json_rows`): `args` are its columns, in order."""
        ...


def array_literal(items: Iterable[str | int] | None) -> str | None:
    """A PostgreSQL array literal (`{"a","b"}`), for an array-valued column passed as text and cast
    back (`r.schemes::text[]`)."""
    if items is None:
        return None
    quoted = ('"' + str(item).replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items)
    return "{" + ",".join(quoted) + "}"


def json_rows(names: str, types: str) -> str:
    """The rows of a set-based statement, from its parameter $1 (a JSON array of rows, each an array
    of the columns in order): `json_rows("a, b", "text, bigint")` is `(SELECT (e->>0)::text AS a,
    (e->>1)::bigint AS b FROM batch_rows($1::jsonb) AS e) AS r`. A JSON null is NULL.

    `batch_rows` (runtime migration 0005) is `jsonb_array_elements` counted as one row by the
    planner, so an `UPDATE v ... FROM (rows) AS r WHERE v.key = r.key` goes through the key's index
    however small the view was when the statement was first planned. `StreamBatch` runs a statement
    of more than `MANY_ROWS` rows (a rebuild's) with the planner counting 100 (`many_rows`)."""
    columns, kinds = names.split(", "), types.split(", ")
    if len(columns) != len(kinds):
        raise ValueError(f"{len(columns)} names and {len(kinds)} types: {names!r}, {types!r}")
    read = ", ".join(f"(e->>{i})::{kind} AS {name}" for i, (name, kind) in enumerate(zip(columns, kinds, strict=True)))
    return f"(SELECT {read} FROM {_FEW}) AS r"


_FEW = "batch_rows($1::jsonb) AS e"
# Above this many rows a statement's batch is a rebuild's or a catch-up's: thousands of rows, for
# which reading the view whole into a hash is cheaper than a lookup per row (the rebuild of the
# bench ran 8-17% slower with every batch counted as one row).
MANY_ROWS = 100


@functools.cache
def many_rows(sql: str) -> str:
    """`sql` (with `json_rows`) for a large batch: the rows counted as `jsonb_array_elements`
    counts them (100), which lets the planner hash the view when that is cheaper."""
    return sql.replace(_FEW, "jsonb_array_elements($1::jsonb) AS e")


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
        self._unordered: defaultdict[str, list[tuple[Any, ...]]] = defaultdict(list)

    def of(self, stream_id: str) -> Writes:
        """Where the statements of an event of `stream_id` go."""
        return _StreamWrites(self, stream_id)

    def add(self, stream_id: str, sql: str, args: tuple[Any, ...]) -> None:
        wave = self._next[stream_id]
        self._next[stream_id] = wave + 1
        if wave == len(self._waves):
            self._waves.append(defaultdict(list))
        self._waves[wave][sql].append(args)

    def add_unordered(self, sql: str, args: tuple[Any, ...]) -> None:
        """A row of a statement that commutes with every other statement of the batch, its own
        stream's too: it writes a row of its own that nothing else in the batch reads or writes (a
        step of a case's path, `ON CONFLICT DO NOTHING`). All its rows go in one statement, run
        before the waves, however many a stream has: a case's five steps in a batch were five waves
        of their own."""
        self._unordered[sql].append(args)

    @property
    def statements(self) -> int:
        """How many rows are queued (what one statement per row would have been)."""
        return sum(len(rows) for wave in [self._unordered, *self._waves] for rows in wave.values())

    async def run(self, conn: asyncpg.Connection) -> None:
        for wave in [self._unordered, *self._waves]:
            for sql, rows in wave.items():
                if len(set(map(len, rows))) > 1:
                    raise ValueError(f"rows of one statement with different numbers of columns: {sql}")
                await conn.execute(sql if len(rows) <= MANY_ROWS else many_rows(sql), rows)
        self._unordered.clear()
        self._waves.clear()
        self._next.clear()
