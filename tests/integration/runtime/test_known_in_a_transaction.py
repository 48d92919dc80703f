"""A stream read or recorded in a transaction is not read again in it (`EventRecorder.load`): the
next decision on it (a transfer's funds after its sheet, in one batch) starts from what the one
before left. Against the in-memory fake and PostgreSQL alike; the savepoint case on PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from contracts.subjects import Subjects
from runtime.eventstore import PostgresEventStore, StreamEvent, Transaction
from runtime.recording import CommandContext, EventRecorder


@dataclass(frozen=True)
class Added:
    n: int


RECORDER: EventRecorder[Added] = EventRecorder("enrolment", Subjects("t"), [Added], lambda _e, _s: [])
CTX = CommandContext.of_system("36", datetime(2026, 12, 4, tzinfo=UTC))


class CountingReads:
    """The transaction, counting the streams it read."""

    def __init__(self, tx: Transaction) -> None:
        self._tx, self.reads = tx, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    async def load(self, stream_id: str) -> list[StreamEvent]:
        self.reads += 1
        return await self._tx.load(stream_id)

    async def load_many(self, stream_ids: Any, **options: Any) -> dict[str, list[StreamEvent]]:
        self.reads += 1
        return await self._tx.load_many(stream_ids, **options)


async def record(tx: Any, stream: str, version: int, *ns: int) -> int:
    return await RECORDER.record(tx, stream, version, [Added(n) for n in ns], CTX)


async def stored(store: Any, stream: str) -> tuple[list[Added], int]:
    async with store.transaction() as tx:
        return await RECORDER.load(tx, stream)


async def test_a_stream_recorded_in_a_transaction_is_loaded_again_from_what_it_left(store: Any) -> None:
    async with store.transaction() as plain:
        tx = CountingReads(plain)
        events, version = await RECORDER.load(tx, "a")  # type: ignore[arg-type]
        version = await record(tx, "a", version, 1, 2)
        again, again_version = await RECORDER.load(tx, "a")  # type: ignore[arg-type]
        await record(tx, "a", again_version, 3)
        third, third_version = await RECORDER.load(tx, "a")  # type: ignore[arg-type]

    assert (events, again, third) == ([], [Added(1), Added(2)], [Added(1), Added(2), Added(3)])
    assert (version, again_version, third_version) == (2, 2, 3)
    assert tx.reads == 1
    assert await stored(store, "a") == ([Added(1), Added(2), Added(3)], 3)


async def test_streams_read_ahead_in_one_read_are_loaded_from_it_and_known_ones_are_not_read_again(
    store: Any,
) -> None:
    async with store.transaction() as tx:
        await record(tx, "a", 0, 1)
        await record(tx, "b", 0, 2, 3)
    async with store.transaction() as plain:
        tx = CountingReads(plain)
        await RECORDER.load(tx, "b")  # type: ignore[arg-type]
        await RECORDER.preload(tx, ["a", "b", "c", "a"])  # type: ignore[arg-type]
        loaded = [await RECORDER.load(tx, stream) for stream in ("a", "b", "c")]  # type: ignore[arg-type]
        await RECORDER.preload(tx, ["a", "c"])  # type: ignore[arg-type]

    assert loaded == [([Added(1)], 1), ([Added(2), Added(3)], 2), ([], 0)]
    assert tx.reads == 2  # "b" on its own, then "a" and "c" together


async def test_a_stream_recorded_without_being_read_is_read_when_asked(store: Any) -> None:
    async with store.transaction() as plain:
        tx = CountingReads(plain)
        await record(tx, "b", 0, 7)  # a new stream, decided without a read
        found = await RECORDER.load(tx, "b")  # type: ignore[arg-type]

    assert found == ([Added(7)], 1)
    assert tx.reads == 1


async def test_what_another_transaction_knows_is_not_this_ones(store: Any) -> None:
    async with store.transaction() as first:
        await RECORDER.load(first, "c")
        await record(first, "c", 0, 1)
    async with store.transaction() as plain:
        tx = CountingReads(plain)
        found = await RECORDER.load(tx, "c")  # type: ignore[arg-type]

    assert found == ([Added(1)], 1)
    assert tx.reads == 1


async def test_what_a_savepoint_rolled_back_is_forgotten_with_it(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    async with store.transaction() as plain:
        tx = CountingReads(plain)
        _, version = await RECORDER.load(tx, "d")  # type: ignore[arg-type]
        version = await record(tx, "d", version, 1)
        with pytest.raises(RuntimeError):
            async with plain.savepoint():
                _, inside = await RECORDER.load(tx, "d")  # type: ignore[arg-type]
                await record(tx, "d", inside, 2)
                raise RuntimeError("the handler failed")
        after, after_version = await RECORDER.load(tx, "d")  # type: ignore[arg-type]
        await record(tx, "d", after_version, 3)

    assert (after, after_version) == ([Added(1)], 1)
    assert tx.reads == 2  # the first read, and the one after the rollback
    assert await stored(store, "d") == ([Added(1), Added(3)], 2)
