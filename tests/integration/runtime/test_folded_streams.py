"""States kept between decisions (`FoldedStreams`): a decision reads only what came after the
version kept, and what is kept is never ahead of the log. Against the in-memory fake and
PostgreSQL alike."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from contracts.subjects import Subjects
from runtime.eventstore import ConcurrencyError, StreamEvent, Transaction
from runtime.recording import CommandContext, EventRecorder, Folded, FoldedStreams


@dataclass(frozen=True)
class Added:
    n: int


@dataclass(frozen=True)
class Total:
    sum: int = 0
    count: int = 0


def add(state: Total, event: Added) -> Total:
    return Total(state.sum + event.n, state.count + 1)


RECORDER: EventRecorder[Added] = EventRecorder("enrolment", Subjects("t"), [Added], lambda _e, _s: [])
CTX = CommandContext.of_system("36", datetime(2026, 12, 4, tzinfo=UTC))


class CountingRows:
    """The transaction, counting the rows each stream read returned."""

    def __init__(self, tx: Transaction, rows: list[int]) -> None:
        self._tx, self._rows = tx, rows

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    async def load_many(self, stream_ids: Any, *, after: Any = None) -> dict[str, list[StreamEvent]]:
        loaded = await self._tx.load_many(stream_ids, after=after)
        self._rows.append(sum(len(rows) for rows in loaded.values()))
        return loaded


def add_all(state: Total, events: Sequence[Added]) -> Total:
    return functools.reduce(add, events, state)


def totals(capacity: int = 100) -> FoldedStreams[Total]:
    return FoldedStreams(RECORDER, Total(), add_all, capacity=capacity)


async def append(store: Any, stream: str, version: int, *ns: int) -> None:
    """Another writer (another replica), past the states kept here."""
    async with store.transaction() as tx:
        await RECORDER.record(tx, stream, version, [Added(n) for n in ns], CTX)


async def load(store: Any, kept: FoldedStreams[Total], *streams: str, rows: list[int]) -> dict[str, Folded[Total]]:
    async with store.transaction() as tx:
        folded, _ = await kept.load_many(CountingRows(tx, rows), list(streams))  # type: ignore[arg-type]
    return folded


async def test_a_stream_read_again_reads_only_what_came_after_the_state_kept(store: Any) -> None:
    kept, rows = totals(), []
    await append(store, "a", 0, 1, 2, 3)
    first = await load(store, kept, "a", "nobody", rows=rows)
    await append(store, "a", 3, 4)
    second = await load(store, kept, "a", "nobody", rows=rows)
    third = await load(store, kept, "a", rows=rows)

    assert first == {"a": Folded(Total(6, 3), 3), "nobody": Folded(Total(), 0)}
    assert second == {"a": Folded(Total(10, 4), 4), "nobody": Folded(Total(), 0)}
    assert third == {"a": Folded(Total(10, 4), 4)}
    assert rows == [3, 1, 0]


async def test_what_a_decision_appends_is_kept_once_it_commits_and_streams_of_other_kinds_read_whole(
    store: Any,
) -> None:
    kept, rows = totals(), []
    await append(store, "other", 0, 100, 200)
    async with store.transaction() as tx:
        folded, whole = await kept.load_many(tx, ["a", "b"], whole=["other"])
        await kept.record_many(tx, [("a", folded["a"], [Added(5), Added(6)]), ("b", folded["b"], [])], CTX)
    after = await load(store, kept, "a", "b", rows=rows)

    assert [e.n for e in whole["other"][0]] == [100, 200]
    assert whole["other"][1] == 2
    assert after == {"a": Folded(Total(11, 2), 2), "b": Folded(Total(), 0)}
    assert rows == [0]


async def test_a_decision_that_does_not_commit_keeps_nothing_of_what_it_read_or_appended(store: Any) -> None:
    kept, rows = totals(), []
    await append(store, "a", 0, 1)
    with pytest.raises(ConcurrencyError):
        async with store.transaction() as tx:
            folded, _ = await kept.load_many(tx, ["a"])
            await append(store, "a", 1, 2)  # another writer got there first
            await kept.record_many(tx, [("a", folded["a"], [Added(7)])], CTX)
    after = await load(store, kept, "a", rows=rows)

    assert after == {"a": Folded(Total(3, 2), 2)}
    assert rows == [2]  # read whole: nothing was kept


async def test_an_older_state_committed_later_does_not_replace_a_newer_one(store: Any) -> None:
    kept, rows = totals(), []
    await append(store, "a", 0, 1)
    async with store.transaction() as reading:
        await kept.load_many(reading, ["a"])  # version 1, kept when this commits, after the one below
        async with store.transaction() as tx:
            folded, _ = await kept.load_many(tx, ["a"])
            await kept.record_many(tx, [("a", folded["a"], [Added(2)])], CTX)
    after = await load(store, kept, "a", rows=rows)

    assert after == {"a": Folded(Total(3, 2), 2)}
    assert rows == [0]


async def test_the_least_recently_used_stream_goes_first_when_more_are_kept_than_the_capacity(store: Any) -> None:
    kept, rows = totals(capacity=2), []
    for stream in ("a", "b", "c"):
        await append(store, stream, 0, 1)
    await load(store, kept, "a", "b", rows=rows)
    await load(store, kept, "a", rows=rows)  # b is now the least recently used
    await load(store, kept, "c", rows=rows)
    rows.clear()
    await load(store, kept, "a", rows=rows)
    await load(store, kept, "c", rows=rows)
    await load(store, kept, "b", rows=rows)

    assert rows == [0, 0, 1]
    assert len(kept) == 2


async def test_a_capacity_of_nothing_keeps_nothing(store: Any) -> None:
    kept, rows = totals(capacity=0), []
    await append(store, "a", 0, 1, 2)
    await load(store, kept, "a", rows=rows)
    await load(store, kept, "a", rows=rows)

    assert rows == [2, 2]
    assert len(kept) == 0


async def test_one_stream_loaded_and_recorded_on_its_own_is_kept_alike(store: Any) -> None:
    kept, rows = totals(), []
    await append(store, "a", 0, 1)
    async with store.transaction() as tx:
        folded = await kept.load(tx, "a")
        await kept.record(tx, "a", folded, [Added(2), Added(3)], CTX)
    after = await load(store, kept, "a", rows=rows)

    assert folded == Folded(Total(1, 1), 1)
    assert after == {"a": Folded(Total(6, 3), 3)}
    assert rows == [0]


async def test_a_decision_that_folded_its_events_on_already_has_its_states_kept_as_they_are(store: Any) -> None:
    """A chunk's people are decided one after another, each on what the one before left: the
    states the decision folded are kept, not folded again from the events."""
    folds: list[int] = []

    def counted(state: Total, events: Sequence[Added]) -> Total:
        folds.append(len(events))
        return add_all(state, events)

    kept, rows = FoldedStreams(RECORDER, Total(), counted, capacity=100), []
    async with store.transaction() as tx:
        folded, _ = await kept.load_many(tx, ["a", "b"])
        decided = {"a": add_all(folded["a"].state, [Added(5), Added(6)]), "b": add_all(folded["b"].state, [Added(1)])}
        folds.clear()
        appends = [("a", folded["a"], [Added(5), Added(6)]), ("b", folded["b"], [Added(1)])]
        await kept.record_many(tx, appends, CTX, states=decided)
    after = await load(store, kept, "a", "b", rows=rows)

    assert after == {"a": Folded(Total(11, 2), 2), "b": Folded(Total(1, 1), 1)}
    assert rows == [0]  # kept at the versions appended
    assert folds == []  # the append folded nothing again, the reads after had nothing new to fold on
