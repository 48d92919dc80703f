"""The event store contract, run against the in-memory fake and the PostgreSQL adapter alike."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from runtime import db
from runtime.commands import execute_once
from runtime.deadlines import DeadlineRule, deadline_rows
from runtime.eventstore import (
    LISTED,
    AlreadyClaimedError,
    ConcurrencyError,
    NewEvent,
    OutboxMessage,
    Position,
    PostgresEventStore,
    PostgresTransaction,
    StreamAppend,
    StreamEvent,
    TransactionAbortedError,
)
from runtime.testing import InMemoryEventStore
from runtime.workdays import WorkingDayCalendar, years_from_chinese_calendar
from tests.waiting import eventually, final


def event(kind: str = "Happened", **data: Any) -> NewEvent:
    return NewEvent(uuid4(), kind, data or {"n": 1}, {"correlation_id": "c"})


def message() -> OutboxMessage:
    return OutboxMessage(uuid4(), "t.36.svc.evt.happened.v1", b"{}", {"traceparent": "x"})


async def outbox_size(store: Any) -> int:
    if isinstance(store, InMemoryEventStore):
        return len(store.outbox)
    return int(await store.pool.fetchval("SELECT count(*) FROM outbox"))


async def outbox_messages(store: Any) -> list[OutboxMessage]:
    if isinstance(store, InMemoryEventStore):
        return list(store.outbox)
    rows = await store.pool.fetch("SELECT message_id, subject, payload, headers FROM outbox ORDER BY id")
    return [OutboxMessage(r["message_id"], r["subject"], bytes(r["payload"]), r["headers"]) for r in rows]


class TestEventStoreContract:
    async def test_appended_events_load_in_order_with_versions(self, store: Any) -> None:
        async with store.transaction() as tx:
            await tx.append("s-1", 0, [event(n=1), event(n=2)])
        async with store.transaction() as tx:
            await tx.append("s-1", 2, [event(n=3)])
            loaded = await tx.load("s-1")

        assert loaded == [StreamEvent(n, "Happened", {"n": n}) for n in (1, 2, 3)]

    async def test_several_streams_load_at_once_each_in_order_and_an_unknown_one_empty(self, store: Any) -> None:
        async with store.transaction() as tx:
            await tx.append("a", 0, [event(n=1), event(n=2)])
            await tx.append("b", 0, [event(n=3)])
        async with store.transaction() as tx:
            loaded = await tx.load_many(["b", "nobody", "a"])

        assert loaded == {
            "b": [StreamEvent(1, "Happened", {"n": 3})],
            "nobody": [],
            "a": [StreamEvent(1, "Happened", {"n": 1}), StreamEvent(2, "Happened", {"n": 2})],
        }

    async def test_a_stream_known_up_to_a_version_loads_only_what_came_after_beside_whole_ones(
        self, store: Any
    ) -> None:
        async with store.transaction() as tx:
            await tx.append("cached", 0, [event(n=1), event(n=2), event(n=3)])
            await tx.append("whole", 0, [event(n=4), event(n=5)])
        async with store.transaction() as tx:
            loaded = await tx.load_many(["whole", "cached", "nobody"], after={"cached": 2, "nobody": 7})
            caught_up = await tx.load_many(["cached"], after={"cached": 3})

        assert loaded == {
            "whole": [StreamEvent(1, "Happened", {"n": 4}), StreamEvent(2, "Happened", {"n": 5})],
            "cached": [StreamEvent(3, "Happened", {"n": 3})],
            "nobody": [],
        }
        assert caught_up == {"cached": []}

    # Up to LISTED streams go as parameters of their own, more as arrays: the same answer either way.
    @pytest.mark.parametrize("count", [1, LISTED, LISTED + 1])
    async def test_any_number_of_streams_load_at_once_whole_or_after_a_version(self, store: Any, count: int) -> None:
        streams = [f"many-{count}-{n}" for n in range(count)]
        async with store.transaction() as tx:
            for n, stream in enumerate(streams):
                await tx.append(stream, 0, [event(n=n), event(n=n + 100)])
        asked = [*reversed(streams[1:]), "nobody", streams[0]]
        async with store.transaction() as tx:
            whole = await tx.load_many(asked)
            later = await tx.load_many(asked, after={streams[0]: 1, "nobody": 3})

        both = {
            s: [StreamEvent(1, "Happened", {"n": n}), StreamEvent(2, "Happened", {"n": n + 100})]
            for n, s in enumerate(streams)
        }
        assert whole == {**both, "nobody": []}
        assert list(whole) == asked
        assert later == {**both, streams[0]: [StreamEvent(2, "Happened", {"n": 100})], "nobody": []}

    async def test_append_at_a_stale_version_is_a_concurrency_error(self, store: Any) -> None:
        async with store.transaction() as tx:
            await tx.append("s-2", 0, [event()])

        with pytest.raises(ConcurrencyError):
            async with store.transaction() as tx:
                await tx.append("s-2", 0, [event()])

    async def test_append_beyond_the_current_version_is_a_concurrency_error(self, store: Any) -> None:
        async with store.transaction() as tx:
            await tx.append("s-3", 0, [event()])

        with pytest.raises(ConcurrencyError):
            async with store.transaction() as tx:
                await tx.append("s-3", 5, [event()])

    async def test_a_failed_transaction_leaves_no_event_and_no_outbox_row(self, store: Any) -> None:
        with pytest.raises(RuntimeError):
            async with store.transaction() as tx:
                await tx.append("s-4", 0, [event()], [message()])
                raise RuntimeError("decision failed after append")

        async with store.transaction() as tx:
            assert await tx.load("s-4") == []
        assert await outbox_size(store) == 0

    # Around LISTED: up to it, events and messages go as parameters of their own; beyond, as arrays.
    @pytest.mark.parametrize(
        ("events", "messages"),
        [(1, 0), (0, 2), (1, 1), (LISTED, LISTED), (LISTED + 1, 1), (1, LISTED + 1), (LISTED + 2, LISTED + 3)],
    )
    async def test_any_number_of_events_and_messages_append_at_the_version_and_a_stale_append_writes_none(
        self, store: Any, events: int, messages: int
    ) -> None:
        stream = f"counted-{events}-{messages}"
        first = [event(n=n) for n in range(events)]
        sent = [
            OutboxMessage(uuid4(), f"t.36.svc.evt.m{n}.v1", f'{{"n": {n}}}'.encode(), {"n": str(n)})
            for n in range(messages)
        ]
        async with store.transaction() as tx:
            assert await tx.append(stream, 0, first, sent) == events
        async with store.transaction() as tx:
            await tx.append(stream, events, [event(n=events)], sent[:1])

        if events:
            with pytest.raises(ConcurrencyError):
                async with store.transaction() as tx:
                    await tx.append(stream, events, [event(n=-1)], [message()])
        async with store.transaction() as tx:
            loaded = await tx.load(stream)
        assert loaded == [StreamEvent(n + 1, "Happened", {"n": n}) for n in range(events + 1)]
        assert await outbox_messages(store) == [*sent, *sent[:1]]

    async def test_events_and_outbox_messages_commit_together(self, store: Any) -> None:
        async with store.transaction() as tx:
            await tx.append("s-5", 0, [event()], [message(), message()])

        assert await outbox_size(store) == 2

    async def test_the_inbox_claims_a_message_once_per_consumer(self, store: Any) -> None:
        message_id = uuid4()
        async with store.transaction() as tx:
            first = await tx.claim("consumer-a", message_id)
            again = await tx.claim("consumer-a", message_id)
            other = await tx.claim("consumer-b", message_id)

        assert (first, again, other) == (True, False, True)

    async def test_the_inbox_claims_many_at_once_and_says_which_were_new(self, store: Any) -> None:
        seen, fresh, also = uuid4(), uuid4(), uuid4()
        async with store.transaction() as tx:
            assert await tx.claim("consumer-a", seen) is True
            claimed = await tx.claim_all("consumer-a", [seen, fresh, also])
            again = await tx.claim_all("consumer-a", [fresh, also])
            other = await tx.claim_all("consumer-b", [seen])

        assert (claimed, again, other) == ({fresh, also}, set(), {seen})

    async def test_messages_presumed_new_are_claimed_with_the_transactions_writes(self, store: Any) -> None:
        first, second = uuid4(), uuid4()
        async with store.transaction() as tx:
            await tx.claim_at_commit("consumer-a", [first, second, first])  # a copy in the fetch: claimed once
            await tx.append("s-presumed", 0, [event()])
        async with store.transaction() as tx:
            again = await tx.claim_all("consumer-a", [first, second])
            other = await tx.claim_all("consumer-b", [first])
            loaded = await tx.load("s-presumed")

        assert (again, other, len(loaded)) == (set(), {first}, 1)

    async def test_messages_presumed_new_with_nothing_else_written_are_claimed(self, store: Any) -> None:
        message_id = uuid4()
        async with store.transaction() as tx:
            await tx.claim_at_commit("consumer-a", [message_id])
        async with store.transaction() as tx:
            assert await tx.claim("consumer-a", message_id) is False

    async def test_a_message_presumed_new_but_claimed_before_fails_the_commit_and_nothing_is_written(
        self, store: Any
    ) -> None:
        seen, fresh = uuid4(), uuid4()
        async with store.transaction() as tx:
            await tx.claim("consumer-a", seen)
        with pytest.raises(AlreadyClaimedError):
            async with store.transaction() as tx:
                await tx.claim_at_commit("consumer-a", [fresh, seen])
                await tx.append("s-copy", 0, [event()], [message()])
        async with store.transaction() as tx:
            claimed = await tx.claim_all("consumer-a", [seen, fresh])
            loaded = await tx.load("s-copy")

        assert (claimed, loaded, await outbox_size(store)) == ({fresh}, [], 0)

    async def test_a_message_presumed_new_but_claimed_before_stores_no_reply_either(self, store: Any) -> None:
        seen, command = uuid4(), uuid4()
        async with store.transaction() as tx:
            await tx.claim("consumer-a", seen)
        with pytest.raises(AlreadyClaimedError):
            async with store.transaction() as tx:
                await tx.claim_at_commit("consumer-a", [seen])
                await tx.record_reply(command, {"ok": True})
        async with store.transaction() as tx:
            assert await tx.reply_for(command) is None

    async def test_a_transaction_that_fails_leaves_the_messages_it_presumed_new_unclaimed(self, store: Any) -> None:
        message_id = uuid4()
        async with store.transaction() as tx:
            await tx.append("s-moved", 0, [event()])
        with pytest.raises(ConcurrencyError):
            async with store.transaction() as tx:
                await tx.claim_at_commit("consumer-a", [message_id])
                await tx.append("s-moved", 0, [event()])  # stale: the stream moved on
        async with store.transaction() as tx:
            assert await tx.claim("consumer-a", message_id) is True

    async def test_a_command_reply_is_kept_for_retries(self, store: Any) -> None:
        command_id = uuid4()
        calls = 0

        async def decide(tx: Any) -> dict[str, Any]:
            nonlocal calls
            calls += 1
            await tx.append(f"cmd-{command_id}", 0, [event()])
            return {"done": calls}

        first = await execute_once(store, command_id, decide)
        second = await execute_once(store, command_id, decide)

        assert first == second == {"done": 1}
        assert calls == 2  # the retry decided again (its append conflicted) and got the stored reply
        async with store.transaction() as tx:
            assert len(await tx.load(f"cmd-{command_id}")) == 1

    async def test_a_stale_append_and_its_reply_leave_nothing_behind(self, store: Any) -> None:
        async with store.transaction() as tx:
            await tx.append("s-6", 0, [event()])
        command_id = uuid4()

        with pytest.raises(ConcurrencyError):
            async with store.transaction() as tx:
                await tx.append("s-6", 0, [event()], [message()])
                await tx.record_reply(command_id, {"done": True})

        async with store.transaction() as tx:
            assert len(await tx.load("s-6")) == 1
            assert await tx.reply_for(command_id) is None
        assert await outbox_size(store) == 0

    async def test_a_transaction_reads_what_it_appended_before(self, store: Any) -> None:
        async with store.transaction() as tx:
            await tx.append("s-7", 0, [event(n=1)])
            await tx.record_reply(command_id := uuid4(), {"done": True})
            mine = await tx.load("s-7")
            reply = await tx.reply_for(command_id)
            await tx.append("s-8", 0, [event(n=2)])

        assert [e.data["n"] for e in mine] == [1]
        assert reply == {"done": True}
        async with store.transaction() as tx:
            assert [e.data["n"] for e in await tx.load("s-8")] == [2]

    async def test_several_streams_append_at_once_each_at_its_version(self, store: Any) -> None:
        async with store.transaction() as tx:
            await tx.append("m-1", 0, [event(n=1)])
        async with store.transaction() as tx:
            await tx.append_many(
                [StreamAppend("m-1", 1, [event(n=2), event(n=3)], [message()]), StreamAppend("m-2", 0, [event(n=4)])]
            )

        async with store.transaction() as tx:
            loaded = await tx.load_many(["m-1", "m-2"])
        assert {k: [(e.version, e.data["n"]) for e in v] for k, v in loaded.items()} == {
            "m-1": [(1, 1), (2, 2), (3, 3)],
            "m-2": [(1, 4)],
        }
        assert await outbox_size(store) == 1

    async def test_several_streams_events_keep_their_own_data_and_a_shared_metadata(self, store: Any) -> None:
        shared = {"correlation_id": "c-1", "actor": {"kind": "operator", "id": "op-1"}}
        events = [NewEvent(uuid4(), "Happened", {"n": n, "text": "参保"}, shared) for n in range(3)]
        own = NewEvent(uuid4(), "Happened", {"n": 3, "none": None}, {"correlation_id": "c-2"})
        async with store.transaction() as tx:
            await tx.append_many([StreamAppend("j-1", 0, events[:2]), StreamAppend("j-2", 0, [events[2], own])])
        await final(store, 4)

        page = await store.read_all(Position(), 100)
        assert [(e.stream_id, e.data, e.metadata) for e in page if e.stream_id.startswith("j-")] == [
            ("j-1", {"n": 0, "text": "参保"}, shared),
            ("j-1", {"n": 1, "text": "参保"}, shared),
            ("j-2", {"n": 2, "text": "参保"}, shared),
            ("j-2", {"n": 3, "none": None}, {"correlation_id": "c-2"}),
        ]

    @pytest.mark.parametrize("stale_version", [0, 2])
    async def test_several_streams_one_of_them_stale_append_nothing(self, store: Any, stale_version: int) -> None:
        async with store.transaction() as tx:
            await tx.append("n-1", 0, [event()])

        command = uuid4()
        with pytest.raises(ConcurrencyError):
            async with store.transaction() as tx:
                await tx.append_many(
                    [StreamAppend("n-2", 0, [event()], [message()]), StreamAppend("n-1", stale_version, [event()])]
                )
                await tx.record_reply(command, {"appended": 2})

        async with store.transaction() as tx:
            assert {k: len(v) for k, v in (await tx.load_many(["n-1", "n-2"])).items()} == {"n-1": 1, "n-2": 0}
            assert await tx.reply_for(command) is None
        assert await outbox_size(store) == 0

    async def test_a_decision_on_streams_it_did_not_read_commits_while_they_stay_where_it_took_them(
        self, store: Any
    ) -> None:
        async with store.transaction() as tx:
            await tx.append("rule", 0, [event(n=1)])
        command = uuid4()
        async with store.transaction() as tx:
            tx.expect_unchanged("rule", 1)
            tx.expect_unchanged("no-such-stream", 0)
            await tx.append("case", 0, [event(n=2)], [message()])
            await tx.record_reply(command, {"decided": True})

        async with store.transaction() as tx:
            assert [e.data["n"] for e in await tx.load("case")] == [2]
            assert await tx.reply_for(command) == {"decided": True}
        assert await outbox_size(store) == 1

    @pytest.mark.parametrize("how", ["one stream", "several streams", "no append"])
    async def test_a_decision_on_a_stream_that_moved_meanwhile_writes_nothing(self, store: Any, how: str) -> None:
        async with store.transaction() as tx:
            await tx.append("rule", 0, [event(n=1)])
        taken_at = 1
        async with store.transaction() as tx:
            await tx.append("rule", 1, [event(n=2)])  # another replica changed the rule since
        command = uuid4()

        with pytest.raises(ConcurrencyError) as raised:
            async with store.transaction() as tx:
                tx.expect_unchanged("rule", taken_at)
                if how == "one stream":
                    await tx.append("case", 0, [event()], [message()])
                elif how == "several streams":
                    await tx.append_many(
                        [StreamAppend("case", 0, [event()], [message()]), StreamAppend("x", 0, [event()])]
                    )
                await tx.record_reply(command, {"decided": True})

        assert raised.value.stream_id == "rule"
        async with store.transaction() as tx:
            assert {k: len(v) for k, v in (await tx.load_many(["case", "x"])).items()} == {"case": 0, "x": 0}
            assert await tx.reply_for(command) is None
        assert await outbox_size(store) == 0

    async def test_read_all_returns_every_event_once_in_commit_order(self, store: Any) -> None:
        for i in range(5):
            async with store.transaction() as tx:
                await tx.append(f"r-{i}", 0, [event(n=i), event(n=i + 100)])
        await final(store, 10)

        page_one = await store.read_all(Position(), 4)
        page_two = await store.read_all(page_one[-1].at, 100)

        seen = [e.data["n"] for e in page_one + page_two]
        assert seen == [0, 100, 1, 101, 2, 102, 3, 103, 4, 104]

    async def test_read_all_of_some_types_passes_over_the_others_and_pages_by_what_it_returns(self, store: Any) -> None:
        for i in range(5):
            async with store.transaction() as tx:
                await tx.append(f"r-{i}", 0, [event("Asked", n=i), event("Noted", n=i + 100), event("Done", n=i + 200)])
        await final(store, 15)

        page_one = await store.read_all(Position(), 3, types=["Asked", "Done"])
        page_two = await store.read_all(page_one[-1].at, 100, types=["Asked", "Done"])

        assert [e.data["n"] for e in page_one] == [0, 200, 1]
        assert [e.data["n"] for e in page_two] == [201, 2, 202, 3, 203, 4, 204]
        assert await store.read_all(Position(), 100, types=[]) == []

    async def test_a_transaction_that_only_read_loses_nothing_committed_while_it_ran(self, store: Any) -> None:
        async with store.transaction() as reading:
            seen = await reading.load("r-1")
            async with store.transaction() as tx:
                await tx.append("r-1", 0, [event(n=1)])
        async with store.transaction() as tx:
            loaded = await tx.load("r-1")

        assert seen == []
        assert [e.data["n"] for e in loaded] == [1]

    async def test_what_is_asked_for_after_the_commit_runs_once_it_has_committed(self, store: Any) -> None:
        ran: list[str] = []
        async with store.transaction() as tx:
            await tx.append("c-1", 0, [event()])
            tx.after_commit(lambda: ran.append("first"))
            tx.after_commit(lambda: ran.append("second"))
            before_commit = list(ran)

        assert before_commit == []
        assert ran == ["first", "second"]

    async def test_what_is_asked_for_after_the_commit_never_runs_when_it_does_not_commit(self, store: Any) -> None:
        ran: list[str] = []
        async with store.transaction() as tx:
            await tx.append("c-2", 0, [event()])
        with pytest.raises(RuntimeError):
            async with store.transaction() as tx:
                tx.after_commit(lambda: ran.append("failed"))
                raise RuntimeError("the decision failed")
        with pytest.raises(ConcurrencyError):
            async with store.transaction() as tx:
                await tx.append("c-2", 0, [event()])  # stale: the conflict comes at the commit at the latest
                tx.after_commit(lambda: ran.append("conflicted"))

        assert ran == []


class TestPostgresUnderConcurrency:
    async def test_fifty_concurrent_commands_on_one_stream_lose_no_update(self, pool: asyncpg.Pool) -> None:
        store = PostgresEventStore(pool)

        async def increment(tx: Any) -> dict[str, Any]:
            history = await tx.load("counter")
            await tx.append("counter", len(history), [event("Incremented")])
            return {"version": len(history) + 1}

        await asyncio.gather(*(execute_once(store, uuid4(), increment, attempts=100) for _ in range(50)))

        async with store.transaction() as tx:
            assert [e.version for e in await tx.load("counter")] == list(range(1, 51))

    async def test_a_retry_running_beside_the_first_attempt_gets_its_reply_and_does_nothing(
        self, pool: asyncpg.Pool
    ) -> None:
        """The same command id twice at once (a client retrying while the first still runs), with a
        decision that appends to no stream: one reply stored, both callers get it."""
        store = PostgresEventStore(pool)
        command_id = uuid4()
        both_decided = asyncio.Barrier(2)
        calls = 0

        async def decide(tx: Any) -> dict[str, Any]:
            nonlocal calls
            calls += 1
            await both_decided.wait()
            return {"refused": "a rule", "call": calls}

        first, second = await asyncio.gather(
            execute_once(store, command_id, decide), execute_once(store, command_id, decide)
        )

        assert first == second
        assert await pool.fetchval("SELECT count(*) FROM command_replies WHERE command_id = $1", command_id) == 1

    async def test_a_command_that_read_appended_and_replied_sends_two_statements(
        self, pool: asyncpg.Pool, database_url: str
    ) -> None:
        """Its load, then its append and reply as one statement, atomic on its own: no BEGIN, no COMMIT."""
        sent: list[str] = []
        one = await db.create_pool(database_url, size=1)
        try:
            async with one.acquire() as conn:
                conn.add_query_logger(lambda record: sent.append(record.query.split()[0]))
            store = PostgresEventStore(one)
            async with store.transaction() as tx:
                await tx.append("once", 0, [event()])
            sent.clear()

            async def decide(tx: Any) -> dict[str, Any]:
                history = await tx.load("once")
                await tx.append("once", len(history), [event()], [message()])
                return {"version": len(history) + 1}

            assert await execute_once(store, uuid4(), decide) == {"version": 2}
            assert sent == ["SELECT", "WITH"]
            async with store.transaction() as tx:
                assert [e.version for e in await tx.load("once")] == [1, 2]
        finally:
            await one.close()

    async def test_a_read_of_the_callers_own_sees_the_appends_held_back(self, pool: asyncpg.Pool) -> None:
        store = PostgresEventStore(pool)
        async with store.transaction() as tx:
            before = await (await tx.reader()).fetchval("SELECT count(*) FROM events WHERE stream_id = 'mine'")
            await tx.append("mine", 0, [event()])
            after = await (await tx.reader()).fetchval("SELECT count(*) FROM events WHERE stream_id = 'mine'")

        assert (before, after) == (0, 1)

    async def test_a_reader_polling_during_concurrent_writes_skips_nothing(self, pool: asyncpg.Pool) -> None:
        store = PostgresEventStore(pool)
        done_reading = asyncio.Event()
        seen: list[Any] = []

        async def writer(w: int) -> None:
            for i in range(40):
                async with store.transaction() as tx:
                    await tx.append(f"w{w}-{i}", 0, [event(n=i)])
                    if i % 7 == 0:
                        # A transaction that holds its rows uncommitted while later ones commit.
                        await (await tx.connection()).execute("SELECT pg_sleep(0.01)")

        async def reader() -> None:
            at = Position()
            while not done_reading.is_set():
                batch = await store.read_all(at, 50)
                seen.extend(batch)
                if batch:
                    at = batch[-1].at
                await asyncio.sleep(0)

        async def all_seen() -> bool:
            return len(seen) >= 240

        reading = asyncio.create_task(reader())
        await asyncio.gather(*(writer(w) for w in range(6)))
        # the last commits are final once no older transaction runs anywhere on the server: read on
        # until they come (a reader that skipped one never sees 240)
        await eventually(all_seen)
        done_reading.set()
        await reading

        positions = [e.at for e in seen]
        assert len(seen) == 240
        assert len({e.event_id for e in seen}) == 240
        assert positions == sorted(positions)


async def test_a_deadlock_between_two_decisions_is_a_concurrency_error_that_a_retry_resolves(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresEventStore(pool)
    await pool.execute("CREATE TABLE locks (id int PRIMARY KEY, n int)")
    await pool.execute("INSERT INTO locks VALUES (1, 0), (2, 0)")
    both_locked = asyncio.Barrier(2)
    attempts: list[int] = []

    async def crossing(first: int, second: int) -> None:
        tries = 0

        async def decide(tx: Any) -> dict[str, Any]:
            nonlocal tries
            tries += 1
            await (await tx.connection()).execute("UPDATE locks SET n = n + 1 WHERE id = $1", first)
            if tries == 1:
                await both_locked.wait()
            await (await tx.connection()).execute("UPDATE locks SET n = n + 1 WHERE id = $1", second)
            return {}

        await execute_once(store, uuid4(), decide)
        attempts.append(tries)

    await asyncio.gather(crossing(1, 2), crossing(2, 1))

    # Both crossed after the barrier, so PostgreSQL broke a deadlock and one decision ran again. How
    # many times is timing: a retry can take the freed row before the waiting winner and deadlock again.
    assert len(attempts) == 2 and max(attempts) >= 2
    assert await pool.fetchval("SELECT sum(n) FROM locks") == 4


async def test_several_streams_appended_with_a_reply_and_deadlines_are_one_statement_with_no_begin(
    pool: asyncpg.Pool,
) -> None:
    rule = DeadlineRule(date(2026, 3, 31), calendar_days=15)
    rows = deadline_rows(
        WorkingDayCalendar(years_from_chinese_calendar()), {uuid4(): "p-1", uuid4(): "p-2"}, kind="due", rule=rule
    )
    command = uuid4()
    async with pool.acquire() as conn:
        warm = PostgresTransaction(conn)  # asyncpg looks its types up once per statement: not counted
        await warm.append_many([StreamAppend("p-0", 0, [event()], [message()])])
        await warm.schedule_deadlines(
            deadline_rows(WorkingDayCalendar(years_from_chinese_calendar()), {uuid4(): "p-0"}, kind="due", rule=rule)
        )
        await warm.record_reply(uuid4(), {"assessed": 1})
        await warm.commit()
        sent: list[str] = []
        conn.add_query_logger(lambda query: sent.append(query.query))
        tx = PostgresTransaction(conn)
        await tx.append_many([StreamAppend("p-1", 0, [event()], [message()]), StreamAppend("p-2", 0, [event()])])
        await tx.schedule_deadlines(rows)
        await tx.record_reply(command, {"assessed": 2})
        await tx.commit()

    assert len(sent) == 1 and "BEGIN" not in sent[0]
    assert "INSERT INTO command_replies" in sent[0] and "INSERT INTO deadlines" in sent[0]
    assert await pool.fetchval("SELECT count(*) FROM events WHERE stream_id IN ('p-1', 'p-2')") == 2
    assert await pool.fetchval("SELECT reply FROM command_replies WHERE command_id = $1", command) == {"assessed": 2}
    assert await pool.fetchval("SELECT count(*) FROM deadlines WHERE stream_id IN ('p-1', 'p-2')") == 2
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 2  # one of them the warm-up's


async def test_an_advisory_lock_opens_the_transaction_in_the_round_trip_of_its_begin(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        warm = PostgresTransaction(conn)  # asyncpg looks its types up once per connection: not counted
        await warm.append("s-0", 0, [event()])
        await warm.commit()
        sent: list[str] = []
        conn.add_query_logger(lambda query: sent.append(query.query))
        tx = PostgresTransaction(conn)
        await tx.lock("person:abc-1", 7)
        await tx.append("s-1", 0, [event()])
        await tx.lock("person:abc-2", 7)  # the transaction is open: the lock goes alone
        await tx.commit()

    assert sent[0] == "BEGIN;SELECT pg_advisory_xact_lock(hashtextextended('person:abc-1', 7))"
    assert "INSERT INTO events" in sent[1]
    assert sent[2:] == ["SELECT pg_advisory_xact_lock(hashtextextended('person:abc-2', 7))", "COMMIT"]
    assert await pool.fetchval("SELECT count(*) FROM events WHERE stream_id = 's-1'") == 1


async def test_an_advisory_lock_holds_the_same_key_elsewhere_until_its_transaction_ends(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    order: list[str] = []
    held, other_done = asyncio.Event(), asyncio.Event()

    async def second_waits() -> bool:
        waiting = await pool.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return bool(waiting == 1)

    async def first() -> None:
        async with store.transaction() as tx:
            await tx.lock("person:p1", 6)
            held.set()
            await other_done.wait()  # another key is not held up by this one
            await eventually(second_waits)  # the same key is
            order.append("first ends")

    async def second() -> None:
        await held.wait()
        async with store.transaction() as tx:
            await tx.lock("person:p1", 6)
            order.append("second holds")

    async def other_key() -> None:
        await held.wait()
        async with store.transaction() as tx:
            await tx.lock("person:p2", 6)
            order.append("other key holds")
        other_done.set()

    await asyncio.gather(first(), second(), other_key())

    assert order == ["other key holds", "first ends", "second holds"]


async def test_advisory_locks_on_several_keys_hold_each_and_are_the_same_locks_as_one_at_a_time(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresEventStore(pool)
    held, released = asyncio.Event(), asyncio.Event()
    order: list[str] = []

    async def many() -> None:
        async with store.transaction() as tx:
            await tx.lock_each(["person:p3", "person:p1", "person:p2", "person:p1"], 6)
            locks = await (await tx.connection()).fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
            order.append(f"many hold {locks}")
            held.set()
            await released.wait()
            order.append("many end")

    async def one(key: str) -> None:
        await held.wait()
        async with store.transaction() as tx:
            await tx.lock(key, 6)
            order.append(f"{key} holds")

    async def release_when_both_wait() -> None:
        await held.wait()

        async def both_wait() -> bool:
            waiting = await pool.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            return bool(waiting == 2)

        await eventually(both_wait)
        released.set()

    await asyncio.gather(many(), one("person:p2"), one("person:p3"), release_when_both_wait())

    assert order[:2] == ["many hold 3", "many end"]
    assert sorted(order[2:]) == ["person:p2 holds", "person:p3 holds"]


@pytest.mark.parametrize("key", ["p'; DROP TABLE events; --", "p 1", "", "p\\1", "x" * 201])
async def test_an_advisory_lock_key_is_plain_identifier_characters_only(pool: asyncpg.Pool, key: str) -> None:
    store = PostgresEventStore(pool)
    with pytest.raises(ValueError, match="advisory lock key"):
        async with store.transaction() as tx:
            await tx.lock(key, 1)
    assert await pool.fetchval("SELECT count(*) FROM pg_tables WHERE tablename = 'events'") == 1


async def test_a_savepoint_rolls_back_only_what_it_did(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    async with store.transaction() as tx:
        await tx.append("kept", 0, [event()])
        with pytest.raises(RuntimeError):
            async with tx.savepoint():
                await tx.append("undone", 0, [event()])
                raise RuntimeError("the handler failed")
        async with tx.savepoint():
            await tx.append("also-kept", 0, [event()])

    streams = await pool.fetch("SELECT DISTINCT stream_id FROM events ORDER BY stream_id")
    assert [r["stream_id"] for r in streams] == ["also-kept", "kept"]


async def test_what_a_savepoint_rolled_back_asked_for_after_the_commit_never_runs(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    ran: list[str] = []
    async with store.transaction() as tx:
        tx.after_commit(lambda: ran.append("before"))
        with pytest.raises(RuntimeError):
            async with tx.savepoint():
                await tx.append("undone", 0, [event()])
                tx.after_commit(lambda: ran.append("undone"))
                raise RuntimeError("the handler failed")
        async with tx.savepoint():
            tx.after_commit(lambda: ran.append("kept"))

    assert ran == ["before", "kept"]


async def test_nothing_asked_for_after_the_commit_runs_when_the_commit_fails(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    ran: list[str] = []
    with pytest.raises(TransactionAbortedError):
        async with store.transaction() as tx:
            await tx.append("s-1", 0, [event()])
            tx.after_commit(lambda: ran.append("aborted"))
            await tx.reader()
            with pytest.raises(asyncpg.UndefinedTableError):  # swallowed by a careless caller
                await (await tx.connection()).execute("SELECT * FROM no_such_table")

    assert ran == []


async def test_a_commit_after_a_failed_statement_raises_and_stores_nothing(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    with pytest.raises(TransactionAbortedError):
        async with store.transaction() as tx:
            await tx.append("s-1", 0, [event()])
            await tx.reader()
            with pytest.raises(asyncpg.UndefinedTableError):  # swallowed by a careless caller
                await (await tx.connection()).execute("SELECT * FROM no_such_table")

    assert await pool.fetchval("SELECT count(*) FROM events") == 0


async def test_in_an_open_transaction_the_append_and_the_reply_go_as_one_statement(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        warm = PostgresTransaction(conn)
        await warm.append("s-0", 0, [event()])
        await warm.record_reply(uuid4(), {"ok": True})
        await warm.commit()
        sent: list[str] = []
        conn.add_query_logger(lambda query: sent.append(query.query))
        tx = PostgresTransaction(conn)
        await tx.lock("person:p1", 6)
        await tx.append("s-1", 0, [event()], [message()])
        await tx.record_reply(command := uuid4(), {"ok": True})
        await tx.commit()

    assert len(sent) == 3
    assert sent[0].startswith("BEGIN;")
    assert "INSERT INTO events" in sent[1]
    assert "command_replies" in sent[1]
    assert sent[2] == "COMMIT"
    assert await pool.fetchval("SELECT count(*) FROM events WHERE stream_id = 's-1'") == 1
    assert await pool.fetchval("SELECT reply FROM command_replies WHERE command_id = $1", command) == {"ok": True}
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 1


async def test_in_an_open_transaction_a_read_after_a_held_append_sees_it(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    async with store.transaction() as tx:
        await tx.lock("person:p1", 6)
        await tx.append("s-1", 0, [event(n=1)])
        loaded = await tx.load("s-1")
        await tx.append("s-1", 1, [event(n=2)])

    assert [e.data["n"] for e in loaded] == [1]
    assert await pool.fetchval("SELECT count(*) FROM events WHERE stream_id = 's-1'") == 2


async def test_a_conflict_held_in_a_savepoint_is_raised_by_it_and_undoes_only_the_block(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    async with store.transaction() as tx:
        await tx.append("taken", 0, [event()])
    async with store.transaction() as tx:
        await tx.lock("person:p1", 6)
        await tx.append("kept", 0, [event()])
        with pytest.raises(ConcurrencyError):
            async with tx.savepoint():
                await tx.append("taken", 0, [event()])  # held: the savepoint sends it, and raises
        await tx.append("also-kept", 0, [event()])

    streams = await pool.fetch("SELECT stream_id, count(*) AS n FROM events GROUP BY stream_id ORDER BY stream_id")
    assert [(r["stream_id"], r["n"]) for r in streams] == [("also-kept", 1), ("kept", 1), ("taken", 1)]


async def _sent_by(conn: asyncpg.Connection, decide: Any) -> list[str]:
    """The statements `decide(tx)` sends, then its commit, after a warm-up run of the same on other
    streams (asyncpg looks its types up once per statement: not counted)."""
    warm = PostgresTransaction(conn)
    await decide(warm, "warm")
    await warm.commit()
    sent: list[str] = []

    def log(query: Any) -> None:
        sent.append(query.query)

    conn.add_query_logger(log)
    tx = PostgresTransaction(conn)
    await decide(tx, "s")
    await tx.commit()
    conn.remove_query_logger(log)
    return sent


async def test_decisions_one_after_the_other_in_a_transaction_write_as_one_statement_at_its_end(
    pool: asyncpg.Pool,
) -> None:
    async def three_letters(tx: PostgresTransaction, prefix: str) -> None:
        await tx.lock(f"batch:{prefix}", 7)
        await tx.append(f"{prefix}-a", 0, [event(n=1)], [message()])
        await tx.append(f"{prefix}-b", 0, [event(n=2)])
        await tx.cancel_deadlines([(f"{prefix}-b", None)])
        await tx.append_many([StreamAppend(f"{prefix}-c", 0, [event(n=3)], [message()])])

    async with pool.acquire() as conn:
        sent = await _sent_by(conn, three_letters)

    assert len(sent) == 3 and sent[0].startswith("BEGIN;") and sent[2] == "COMMIT"
    assert "INSERT INTO events" in sent[1] and "UPDATE deadlines" in sent[1]
    rows = await pool.fetch("SELECT stream_id, data FROM events WHERE stream_id LIKE 's-%' ORDER BY position")
    assert [(r["stream_id"], r["data"]["n"]) for r in rows] == [("s-a", 1), ("s-b", 2), ("s-c", 3)]
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 4  # two of them the warm-up's


async def test_a_streams_next_version_after_the_held_append_extends_it(pool: asyncpg.Pool) -> None:
    async def sheet_then_funds(tx: PostgresTransaction, prefix: str) -> None:
        await tx.lock(f"batch:{prefix}", 7)
        await tx.append(f"{prefix}-case", 0, [event(n=1)], [message()])
        await tx.append(f"{prefix}-case", 1, [event(n=2), event(n=3)], [message()])

    async with pool.acquire() as conn:
        sent = await _sent_by(conn, sheet_then_funds)

    assert len(sent) == 3 and "INSERT INTO events" in sent[1]
    store = PostgresEventStore(pool)
    async with store.transaction() as tx:
        assert [(e.version, e.data["n"]) for e in await tx.load("s-case")] == [(1, 1), (2, 2), (3, 3)]


async def test_an_append_that_cannot_join_the_held_one_goes_on_its_own_and_conflicts_as_before(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresEventStore(pool)
    async with store.transaction() as tx:
        await tx.append("a", 0, [event(n=1)])
        await tx.append("b", 0, [event(n=2)])
        await tx.append("a", 1, [event(n=3)])  # "a" is held, not last: the two held go first
    with pytest.raises(ConcurrencyError):
        async with store.transaction() as tx:
            await tx.append("c", 0, [event()])
            await tx.append("c", 0, [event()])  # not the next version after the held one

    rows = await pool.fetch("SELECT stream_id, version, data FROM events ORDER BY position")
    assert [(r["stream_id"], r["version"], r["data"]["n"]) for r in rows] == [("a", 1, 1), ("b", 1, 2), ("a", 2, 3)]


async def test_a_conflict_in_appends_written_together_writes_none_of_them(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    async with store.transaction() as tx:
        await tx.append("taken", 0, [event()])
    with pytest.raises(ConcurrencyError):
        async with store.transaction() as tx:
            await tx.lock("batch:1", 7)
            await tx.append("fresh", 0, [event()], [message()])
            await tx.append("taken", 0, [event()])  # joins the held append: the conflict is the statement's

    assert await pool.fetchval("SELECT count(*) FROM events") == 1
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_an_advisory_lock_the_transaction_holds_is_not_asked_for_again(pool: asyncpg.Pool) -> None:
    async def locks(tx: PostgresTransaction, prefix: str) -> None:
        await tx.lock_each([f"{prefix}:p1", f"{prefix}:p2"], 7)
        await tx.lock(f"{prefix}:p1", 7)
        await tx.lock_each([f"{prefix}:p2", f"{prefix}:p3"], 7)  # p3 alone is asked for
        await tx.lock(f"{prefix}:p1", 8)  # another space: another lock
        await tx.append(f"{prefix}-1", 0, [event()])

    async with pool.acquire() as conn:
        sent = await _sent_by(conn, locks)

    assert sent[0].startswith("BEGIN")
    assert sent[1].startswith("SELECT pg_advisory_xact_lock(hashtextextended(k, $2))")
    assert sent[2:4] == [
        "SELECT pg_advisory_xact_lock(hashtextextended('s:p3', 7))",
        "SELECT pg_advisory_xact_lock(hashtextextended('s:p1', 8))",
    ]
    assert "INSERT INTO events" in sent[4] and sent[5:] == ["COMMIT"]


async def test_a_lock_taken_in_a_savepoint_rolled_back_is_asked_for_again(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        tx = PostgresTransaction(conn)
        await tx.lock("person:p0", 7)
        with pytest.raises(RuntimeError):
            async with tx.savepoint():
                await tx.lock("person:p1", 7)
                raise RuntimeError("the block fails")
        sent: list[str] = []
        conn.add_query_logger(lambda query: sent.append(query.query))
        await tx.lock("person:p0", 7)
        await tx.lock("person:p1", 7)
        await tx.commit()

    assert sent == ["SELECT pg_advisory_xact_lock(hashtextextended('person:p1', 7))", "COMMIT"]


_RIDE_TABLE = "CREATE TABLE payroll_like (person text PRIMARY KEY, employer text, hired_on date)"
_HIRE = (
    "INSERT INTO payroll_like (person, employer, hired_on) SELECT $1, $2, $3 FROM guard "
    "ON CONFLICT (person) DO UPDATE SET employer = EXCLUDED.employer"
)
_END = "UPDATE payroll_like SET hired_on = NULL FROM guard WHERE person = $1"


@pytest.mark.parametrize("many", [False, True], ids=["one stream", "several streams"])
async def test_a_write_of_the_callers_own_rides_in_the_held_appends_statement_with_the_reply(
    pool: asyncpg.Pool, many: bool
) -> None:
    await pool.execute(_RIDE_TABLE)
    command = uuid4()

    async def decide(conn: asyncpg.Connection, stream: str, command_id: UUID) -> None:
        tx = PostgresTransaction(conn)
        if many:
            await tx.append_many(
                [StreamAppend(stream, 0, [event()], [message()]), StreamAppend(f"{stream}-b", 0, [event()])]
            )
        else:
            await tx.append(stream, 0, [event()], [message()])
        await tx.ride(_HIRE, stream, "91360102MA35L0XC0", date(2026, 3, 2))
        await tx.ride(_END, "nobody")
        await tx.record_reply(command_id, {"enrolled": True})
        await tx.commit()

    async with pool.acquire() as conn:
        await decide(conn, "w-0", uuid4())  # asyncpg looks its types up once per statement: not counted
        sent: list[str] = []
        conn.add_query_logger(lambda query: sent.append(query.query))
        await decide(conn, "w-1", command)

    assert len(sent) == 1 and "BEGIN" not in sent[0]
    assert "INSERT INTO payroll_like" in sent[0] and "UPDATE payroll_like" in sent[0]
    row = await pool.fetchrow("SELECT employer, hired_on FROM payroll_like WHERE person = 'w-1'")
    assert (row["employer"], row["hired_on"]) == ("91360102MA35L0XC0", date(2026, 3, 2))
    assert await pool.fetchval("SELECT reply FROM command_replies WHERE command_id = $1", command) == {"enrolled": True}
    assert await pool.fetchval("SELECT count(*) FROM events WHERE stream_id LIKE 'w-1%'") == (2 if many else 1)


@pytest.mark.parametrize("many", [False, True], ids=["one stream", "several streams"])
async def test_a_ride_is_written_only_if_its_append_is(pool: asyncpg.Pool, many: bool) -> None:
    await pool.execute(_RIDE_TABLE)
    store = PostgresEventStore(pool)
    async with store.transaction() as tx:
        await tx.append("taken", 0, [event()])

    with pytest.raises(ConcurrencyError):
        async with store.transaction() as tx:
            if many:
                await tx.append_many([StreamAppend("fresh", 0, [event()]), StreamAppend("taken", 0, [event()])])
            else:
                await tx.append("taken", 0, [event()])  # version 1 is there: the guard holds it back
            await tx.ride(_HIRE, "w-2", "91360102MA35L0XC0", date(2026, 3, 2))

    assert await pool.fetchval("SELECT count(*) FROM payroll_like") == 0
    assert await pool.fetchval("SELECT count(*) FROM events") == 1


async def test_a_ride_with_no_append_held_is_a_statement_of_the_open_transaction(pool: asyncpg.Pool) -> None:
    await pool.execute(_RIDE_TABLE)
    store = PostgresEventStore(pool)
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.ride(_HIRE, "w-3", "91360102MA35L0XC0", date(2026, 3, 2))
            raise RuntimeError("the decision fails after it")
    async with store.transaction() as tx:
        await tx.ride(_HIRE, "w-4", "91360102MA35L0XC0", date(2026, 3, 2))

    assert [r["person"] for r in await pool.fetch("SELECT person FROM payroll_like")] == ["w-4"]


@pytest.mark.parametrize("many", [False, True], ids=["one stream", "several streams"])
async def test_messages_presumed_new_are_claimed_in_the_held_appends_statement_with_no_begin(
    pool: asyncpg.Pool, many: bool
) -> None:
    async def decide(tx: PostgresTransaction, prefix: str) -> None:
        await tx.claim_at_commit("consumer-a", [uuid4(), uuid4()])
        if many:
            await tx.append_many([StreamAppend(f"{prefix}-1", 0, [event()]), StreamAppend(f"{prefix}-2", 0, [event()])])
        else:
            await tx.append(f"{prefix}-1", 0, [event()], [message()])

    async with pool.acquire() as conn:
        sent = await _sent_by(conn, decide)

    assert len(sent) == 1 and "BEGIN" not in sent[0] and "INSERT INTO inbox" in sent[0]
    assert await pool.fetchval("SELECT count(*) FROM inbox") == 4  # the warm-up's and these


async def test_in_an_open_transaction_messages_presumed_new_wait_for_its_append(pool: asyncpg.Pool) -> None:
    async def decide(tx: PostgresTransaction, prefix: str) -> None:
        await tx.claim_at_commit("consumer-a", [uuid4()])
        await tx.lock(f"{prefix}:p1", 7)  # opens the transaction: the claim is not sent with it
        await tx.append(f"{prefix}-1", 0, [event()])

    async with pool.acquire() as conn:
        sent = await _sent_by(conn, decide)

    assert sent[0] == "BEGIN;SELECT pg_advisory_xact_lock(hashtextextended('s:p1', 7))"
    assert "INSERT INTO inbox" in sent[1] and "INSERT INTO events" in sent[1] and sent[2:] == ["COMMIT"]


async def test_messages_presumed_new_before_a_savepoint_stay_claimed_when_its_block_is_undone(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresEventStore(pool)
    message_id = uuid4()
    async with store.transaction() as tx:
        await tx.append("taken", 0, [event()])
    async with store.transaction() as tx:
        await tx.claim_at_commit("consumer-a", [message_id])
        with pytest.raises(ConcurrencyError):
            async with tx.savepoint():
                await tx.append("taken", 0, [event()])  # stale: found as the block ends, and undone

    assert await pool.fetchval("SELECT count(*) FROM inbox WHERE message_id = $1", message_id) == 1
    assert await pool.fetchval("SELECT count(*) FROM events") == 1


async def test_a_commit_of_events_or_messages_wakes_the_process_and_one_of_neither_does_not(
    pool: asyncpg.Pool,
) -> None:
    woken: list[str] = []
    store = PostgresEventStore(pool, on_commit=lambda: woken.append("woken"))
    async with store.transaction() as tx:
        await tx.append("quiet", 0, [event()])  # an event with no public message: the projector's work
    events_only = len(woken)
    async with store.transaction() as tx:
        await tx.append_many([StreamAppend("loud", 0, [event()], [message()])])
    with_a_message = len(woken)
    async with store.transaction() as tx:
        await tx.load("quiet")
        await tx.record_reply(uuid4(), {"ok": True})
    async with store.transaction() as tx:
        await tx.append_many([StreamAppend("nothing", 0, [])])

    assert (events_only, with_a_message) == (1, 2)
    assert woken == ["woken", "woken"]
