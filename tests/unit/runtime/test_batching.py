"""StreamBatch: each stream's statements in their order, other streams' rows in one set-based statement."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.batching import MANY_ROWS, StreamBatch, array_literal, json_rows


class Recording:
    """Stands for the connection: which statements, with which rows, in which order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def execute(self, sql: str, *args: Any) -> None:
        self.calls.append((sql, args))


async def test_each_streams_statements_keep_their_order_and_other_streams_share_one_statement() -> None:
    batch = StreamBatch()
    for stream in ("a", "b", "c"):
        await batch.of(stream).execute("INSERT", stream, 1)
        await batch.of(stream).execute("DELETE", stream)
    await batch.of("a").execute("UPDATE", "a", 2)
    conn = Recording()
    assert batch.statements == 7

    await batch.run(conn)  # type: ignore[arg-type]

    assert conn.calls == [
        ("INSERT", ([("a", 1), ("b", 1), ("c", 1)],)),  # one parameter: the rows
        ("DELETE", ([("a",), ("b",), ("c",)],)),
        ("UPDATE", ([("a", 2)],)),
    ]
    per_stream: dict[str, list[str]] = {}
    for sql, (rows,) in conn.calls:
        for stream, *_ in rows:
            per_stream.setdefault(stream, []).append(sql)
    assert per_stream == {"a": ["INSERT", "DELETE", "UPDATE"], "b": ["INSERT", "DELETE"], "c": ["INSERT", "DELETE"]}


async def test_a_streams_later_statement_never_runs_before_its_earlier_one_whatever_the_sql() -> None:
    batch = StreamBatch()
    await batch.of("a").execute("UPDATE", "a", 1)  # wave 0
    await batch.of("b").execute("INSERT", "b")  # wave 0
    await batch.of("b").execute("UPDATE", "b", 2)  # wave 1: after b's INSERT, though a's UPDATE ran in wave 0
    conn = Recording()

    await batch.run(conn)  # type: ignore[arg-type]

    assert conn.calls == [("UPDATE", ([("a", 1)],)), ("INSERT", ([("b",)],)), ("UPDATE", ([("b", 2)],))]
    assert batch.statements == 0  # emptied by run


async def test_rows_of_one_statement_must_have_the_same_parameters() -> None:
    batch = StreamBatch()
    await batch.of("a").execute("UPDATE", "a", 1)
    await batch.of("b").execute("UPDATE", "b")

    with pytest.raises(ValueError, match="different numbers of columns"):
        await batch.run(Recording())  # type: ignore[arg-type]


def test_json_rows_reads_each_column_of_a_row_in_order() -> None:
    assert json_rows("id, amount", "text, bigint") == (
        "(SELECT (e->>0)::text AS id, (e->>1)::bigint AS amount FROM batch_rows($1::jsonb) AS e) AS r"
    )
    with pytest.raises(ValueError, match="2 names and 1 types"):
        json_rows("id, amount", "text")


async def test_a_statement_of_many_rows_lets_the_planner_count_them_as_many() -> None:
    update = "UPDATE v SET n = r.n FROM " + json_rows("id, n", "text, bigint") + " WHERE v.id = r.id"
    batch = StreamBatch()
    for n in range(MANY_ROWS + 1):
        await batch.of(f"s{n}").execute(update, f"s{n}", n)
    await batch.of("s0").execute(update, "s0", -1)  # the next wave: one row
    conn = Recording()

    await batch.run(conn)  # type: ignore[arg-type]

    (many, _), (few, _) = conn.calls
    assert "jsonb_array_elements($1::jsonb) AS e" in many and "batch_rows" not in many
    assert few == update


@pytest.mark.parametrize(
    ("items", "literal"),
    [
        (None, None),
        ([], "{}"),
        ([3, 4], '{"3","4"}'),
        (["pension", "injury"], '{"pension","injury"}'),
        (
            ['a "quoted", {braced} one', "back\\slash", "NULL"],
            '{"a \\"quoted\\", {braced} one","back\\\\slash","NULL"}',
        ),
    ],
)
def test_array_literal_quotes_every_element(items: list[Any] | None, literal: str | None) -> None:
    assert array_literal(items) == literal


async def test_unordered_rows_are_one_statement_before_the_waves_however_many_a_stream_has() -> None:
    batch = StreamBatch()
    for stream in ("a", "b"):
        batch.add_unordered("INSERT step", (stream, 1))
        await batch.of(stream).execute("UPDATE", stream)
        batch.add_unordered("INSERT step", (stream, 2))
    await batch.of("a").execute("DELETE", "a")
    conn = Recording()
    assert batch.statements == 7

    await batch.run(conn)  # type: ignore[arg-type]

    assert conn.calls == [
        ("INSERT step", ([("a", 1), ("a", 2), ("b", 1), ("b", 2)],)),
        ("UPDATE", ([("a",), ("b",)],)),
        ("DELETE", ([("a",)],)),
    ]
    assert batch.statements == 0
