"""StreamBatch: each stream's statements in their order, other streams' folded into executemany."""

from __future__ import annotations

from typing import Any

from runtime.batching import StreamBatch


class Recording:
    """Stands for the connection: which calls, in which order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[tuple[Any, ...]]]] = []

    async def execute(self, sql: str, *args: Any) -> None:
        self.calls.append(("execute", sql, [args]))

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self.calls.append(("executemany", sql, list(rows)))


async def test_each_streams_statements_keep_their_order_and_other_streams_share_round_trips() -> None:
    batch = StreamBatch()
    for stream in ("a", "b", "c"):
        await batch.of(stream).execute("INSERT", stream)
        await batch.of(stream).execute("DELETE", stream)
    await batch.of("a").execute("UPDATE", "a")
    conn = Recording()
    assert batch.statements == 7

    await batch.run(conn)  # type: ignore[arg-type]

    assert conn.calls == [
        ("executemany", "INSERT", [("a",), ("b",), ("c",)]),
        ("executemany", "DELETE", [("a",), ("b",), ("c",)]),
        ("execute", "UPDATE", [("a",)]),
    ]
    per_stream: dict[str, list[str]] = {}
    for _, sql, rows in conn.calls:
        for (stream,) in rows:
            per_stream.setdefault(stream, []).append(sql)
    assert per_stream == {"a": ["INSERT", "DELETE", "UPDATE"], "b": ["INSERT", "DELETE"], "c": ["INSERT", "DELETE"]}


async def test_a_streams_later_statement_never_runs_before_its_earlier_one_whatever_the_sql() -> None:
    batch = StreamBatch()
    await batch.of("a").execute("UPDATE", "a", 1)  # wave 0
    await batch.of("b").execute("INSERT", "b")  # wave 0
    await batch.of("b").execute("UPDATE", "b", 2)  # wave 1: after b's INSERT, though a's UPDATE ran in wave 0
    conn = Recording()

    await batch.run(conn)  # type: ignore[arg-type]

    assert [(sql, rows) for _, sql, rows in conn.calls] == [
        ("UPDATE", [("a", 1)]),
        ("INSERT", [("b",)]),
        ("UPDATE", [("b", 2)]),
    ]
    assert batch.statements == 0  # emptied by run
