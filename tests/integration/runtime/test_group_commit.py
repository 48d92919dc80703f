"""Group commit on PostgreSQL: transactions that commit while another's statement is on its way go
together in the next send, one pipeline, each written or refused on its own.

A statement is held on its way by a row another connection is inserting and has not committed
(the same stream at the same version): the store's statement waits on it until that connection
rolls back. Transactions committing meanwhile wait for their turn, as they would under load."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from runtime.eventstore import ConcurrencyError, NewEvent, OutboxMessage, PostgresEventStore
from runtime.groupcommit import CommitGroup, Member
from tests.waiting import eventually

SUBJECT = "t.36.svc.evt.happened.v1"


def event(n: int = 1) -> NewEvent:
    return NewEvent(uuid4(), "Happened", {"n": n}, {"correlation_id": "c"})


async def commit(
    store: PostgresEventStore,
    stream_id: str,
    expected: int = 0,
    *,
    command: UUID | None = None,
    ride: tuple[str, Sequence[Any]] | None = None,
    presumed: Sequence[UUID] = (),
) -> None:
    """One transaction that commits as one statement: an event, a message and a reply (and a ride,
    and the claims of messages `presumed` new, if given)."""
    async with store.transaction() as tx:
        await tx.claim_at_commit("consumer-a", presumed)
        await tx.append(stream_id, expected, [event()], [OutboxMessage(uuid4(), SUBJECT, b"{}", {})])
        if ride is not None:
            await tx.ride(ride[0], *ride[1])
        await tx.record_reply(command or uuid4(), {"stream": stream_id})


class Holdup:
    """A row of (`stream`, version 1) inserted and not committed: a statement writing that row
    waits until `release` rolls it back."""

    def __init__(self, conn: asyncpg.Connection, stream_id: str) -> None:
        self.conn, self.stream_id = conn, stream_id

    async def hold(self) -> None:
        await self.conn.execute("BEGIN")
        await self.conn.execute(
            "INSERT INTO events (stream_id, version, event_id, event_type, data, metadata) "
            "VALUES ($1, 1, $2, 'Happened', '{}', '{}')",
            self.stream_id,
            uuid4(),
        )

    async def release(self) -> None:
        await self.conn.execute("ROLLBACK")


@pytest.fixture
async def holdup(pool: asyncpg.Pool) -> AsyncIterator[Holdup]:
    async with pool.acquire() as conn:
        held = Holdup(conn, "held-up")
        await held.hold()
        yield held
        if conn.is_in_transaction():
            await held.release()


@pytest.fixture
def group() -> CommitGroup:
    """One statement sent at a time: what commits while it is held waits (a minute before the next may go)."""
    return CommitGroup(in_flight=1, patience=60)


@pytest.fixture
async def store(pool: asyncpg.Pool, group: CommitGroup) -> PostgresEventStore:
    """A store committing through `group`."""
    store = PostgresEventStore(pool)
    store.group = group
    return store


async def on_its_way(store: PostgresEventStore, holdup: Holdup) -> asyncio.Task[None]:
    """A transaction whose statement is on its way and held there."""
    first = asyncio.create_task(commit(store, holdup.stream_id))

    await eventually(lambda: _waits_in_the_server(store.pool, 1))
    return first


async def waiting(group: CommitGroup, count: int) -> None:
    async def queued() -> bool:
        return group.waiting == count

    await eventually(queued)


async def a_send_broken_by_two(
    store: PostgresEventStore,
    holdup: Holdup,
    group: CommitGroup,
    pair: Mapping[str, Any],
    other: Callable[[int], Mapping[str, Any]],
) -> list[BaseException | None]:
    """Two transactions that cannot both be written (`commit`'s keyword arguments `pair`, on streams
    pair-0 and pair-1) and two others (`other(i)`, on s-0 and s-1) commit while a statement is on its
    way: the four go in its group's next send. The pair's outcomes, once all are done."""
    first = await on_its_way(store, holdup)
    two = [asyncio.create_task(commit(store, f"pair-{i}", **pair)) for i in range(2)]
    others = [asyncio.create_task(commit(store, f"s-{i}", **other(i))) for i in range(2)]
    await waiting(group, 4)

    await holdup.release()
    await asyncio.gather(first, *others)
    return await asyncio.gather(*two, return_exceptions=True)


async def versions(pool: asyncpg.Pool, stream_id: str) -> list[int]:
    rows = await pool.fetch("SELECT version FROM events WHERE stream_id = $1 ORDER BY version", stream_id)
    return [r["version"] for r in rows]


async def beside(pool: asyncpg.Pool, count: int) -> list[list[int]]:
    """The versions of the streams s-0 .. s-(count - 1), the transactions beside the one a test watches."""
    return [await versions(pool, f"s-{i}") for i in range(count)]


async def test_transactions_committing_meanwhile_go_in_one_send_each_with_its_own_rows(
    store: PostgresEventStore, pool: asyncpg.Pool, holdup: Holdup, group: CommitGroup
) -> None:
    first = await on_its_way(store, holdup)
    commands = [uuid4() for _ in range(4)]
    others = [asyncio.create_task(commit(store, f"s-{i}", command=c)) for i, c in enumerate(commands)]
    await waiting(group, 4)

    await holdup.release()
    await asyncio.gather(first, *others)

    assert (group.groups, group.grouped) == (1, 4)
    assert await beside(pool, 4) == [[1]] * 4
    replies = await pool.fetch("SELECT command_id, reply FROM command_replies WHERE command_id = ANY($1)", commands)
    assert {r["command_id"]: r["reply"] for r in replies} == {c: {"stream": f"s-{i}"} for i, c in enumerate(commands)}
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 5


async def test_a_member_whose_stream_moved_is_refused_and_the_others_sent_with_it_are_written(
    store: PostgresEventStore, pool: asyncpg.Pool, holdup: Holdup, group: CommitGroup
) -> None:
    await commit(store, "moved")  # at version 1; the late one expects 3
    first = await on_its_way(store, holdup)
    late = asyncio.create_task(commit(store, "moved", 3))
    others = [asyncio.create_task(commit(store, f"s-{i}")) for i in range(3)]
    await waiting(group, 4)

    await holdup.release()
    await asyncio.gather(first, *others)

    with pytest.raises(ConcurrencyError):
        await late
    assert (group.groups, group.grouped) == (1, 4)
    assert await versions(pool, "moved") == [1]
    assert await beside(pool, 3) == [[1]] * 3


async def test_a_send_failing_as_a_whole_sends_each_member_again_alone_where_it_fails_or_succeeds_on_its_own(
    store: PostgresEventStore, pool: asyncpg.Pool, holdup: Holdup, group: CommitGroup
) -> None:
    await pool.execute("CREATE TABLE IF NOT EXISTS claimed (name text PRIMARY KEY)")
    insert = "INSERT INTO claimed (name) SELECT $1 FROM guard"
    # Two members claim the same name: the send that carries both breaks on the primary key.
    outcomes = await a_send_broken_by_two(
        store, holdup, group, {"ride": (insert, ["same"])}, lambda i: {"ride": (insert, [f"own-{i}"])}
    )

    assert group.groups == 0  # the one send of four failed; each went alone
    assert sorted(type(o).__name__ for o in outcomes) == ["NoneType", "UniqueViolationError"]
    assert sorted([*await versions(pool, "pair-0"), *await versions(pool, "pair-1")]) == [1]
    assert await beside(pool, 2) == [[1]] * 2
    assert await pool.fetchval("SELECT count(*) FROM claimed") == 3


async def test_two_members_presuming_one_message_new_are_sent_again_alone_and_one_finds_it_claimed(
    store: PostgresEventStore, pool: asyncpg.Pool, holdup: Holdup, group: CommitGroup
) -> None:
    # One message presumed new by both (a copy taken by two processes of a consumer at once).
    outcomes = await a_send_broken_by_two(
        store, holdup, group, {"presumed": [uuid4()]}, lambda i: {"presumed": [uuid4()]}
    )

    assert group.groups == 0  # the one send of four failed; each went alone
    assert sorted(type(o).__name__ for o in outcomes) == ["AlreadyClaimedError", "NoneType"]
    assert sorted([*await versions(pool, "pair-0"), *await versions(pool, "pair-1")]) == [1]
    assert await beside(pool, 2) == [[1]] * 2
    assert await pool.fetchval("SELECT count(*) FROM inbox") == 3


async def test_two_transactions_writing_one_stream_never_go_in_one_send(
    store: PostgresEventStore, pool: asyncpg.Pool, holdup: Holdup, group: CommitGroup
) -> None:
    first = await on_its_way(store, holdup)
    same = [asyncio.create_task(commit(store, "same")) for _ in range(2)]
    others = [asyncio.create_task(commit(store, f"s-{i}")) for i in range(2)]
    await waiting(group, 4)

    await holdup.release()
    await asyncio.gather(first, *others)
    outcomes = await asyncio.gather(*same, return_exceptions=True)

    assert (group.groups, group.grouped) == (1, 3)  # the other "same" went after them
    assert sorted(type(o).__name__ for o in outcomes) == ["ConcurrencyError", "NoneType"]
    assert await versions(pool, "same") == [1]


async def test_one_command_s_two_attempts_never_go_in_one_send(
    store: PostgresEventStore, pool: asyncpg.Pool, holdup: Holdup, group: CommitGroup
) -> None:
    first = await on_its_way(store, holdup)
    command = uuid4()
    attempts = [asyncio.create_task(commit(store, f"attempt-{i}", command=command)) for i in range(2)]
    await waiting(group, 2)

    await holdup.release()
    await first
    outcomes = await asyncio.gather(*attempts, return_exceptions=True)

    assert group.groups == 0
    assert sorted(type(o).__name__ for o in outcomes) == ["ConcurrencyError", "NoneType"]
    assert await pool.fetchval("SELECT count(*) FROM command_replies WHERE command_id = $1", command) == 1


async def test_a_transaction_cancelled_while_it_waits_is_not_written_and_the_others_are(
    store: PostgresEventStore, pool: asyncpg.Pool, holdup: Holdup, group: CommitGroup
) -> None:
    first = await on_its_way(store, holdup)
    cancelled = asyncio.create_task(commit(store, "cancelled"))
    others = [asyncio.create_task(commit(store, f"s-{i}")) for i in range(2)]
    await waiting(group, 3)

    cancelled.cancel()
    await waiting(group, 2)
    await holdup.release()
    await asyncio.gather(first, *others)

    assert cancelled.cancelled()
    assert await versions(pool, "cancelled") == []
    assert await beside(pool, 2) == [[1]] * 2


async def test_the_others_go_alone_when_the_transaction_sending_them_is_cancelled(
    store: PostgresEventStore, pool: asyncpg.Pool, holdup: Holdup, group: CommitGroup
) -> None:
    first = await on_its_way(store, holdup)
    async with pool.acquire() as conn:
        second = Holdup(conn, "second")
        await second.hold()
        stopped = asyncio.create_task(commit(store, "second"))  # leads the next statement: held up too
        await waiting(group, 1)
        others = [asyncio.create_task(commit(store, f"s-{i}")) for i in range(2)]
        await waiting(group, 3)
        await holdup.release()
        await first
        await waiting(group, 0)  # the three are on their way together, held up by "second"

        stopped.cancel()
        await asyncio.gather(*others)
        await second.release()

    with pytest.raises(asyncio.CancelledError):
        await stopped
    assert await versions(pool, "second") == []
    assert await beside(pool, 2) == [[1]] * 2


async def test_members_sent_together_run_in_order_each_seeing_those_before_it(
    store: PostgresEventStore, pool: asyncpg.Pool, holdup: Holdup, group: CommitGroup
) -> None:
    await pool.execute("CREATE TABLE IF NOT EXISTS counted (name text PRIMARY KEY, n int NOT NULL)")
    await pool.execute("INSERT INTO counted VALUES ('a', 0) ON CONFLICT DO NOTHING")
    await commit(store, "written")  # at version 1
    first = await on_its_way(store, holdup)
    bump = ("UPDATE counted SET n = n + $1 FROM guard WHERE name = 'a'", [1])

    async def decide(stream_id: str, expected: int, unread: tuple[str, int]) -> None:
        """An append, a stream decided on unread and an update of its own: one statement."""
        async with store.transaction() as tx:
            tx.expect_unchanged(*unread)
            await tx.append(stream_id, expected, [event()], [OutboxMessage(uuid4(), SUBJECT, b"{}", {})])
            await tx.ride(bump[0], *bump[1])
            await tx.record_reply(uuid4(), {})

    writer = asyncio.create_task(decide("written", 1, ("elsewhere", 0)))
    read = asyncio.create_task(decide("reader", 0, ("written", 1)))
    await waiting(group, 2)

    await holdup.release()
    await first
    outcomes = await asyncio.gather(writer, read, return_exceptions=True)

    assert (group.groups, group.grouped) == (1, 2)
    assert outcomes[0] is None
    positions = {
        r["stream_id"]: r["position"]
        for r in await pool.fetch("SELECT stream_id, position FROM events WHERE version = 2 OR stream_id = 'reader'")
    }
    if isinstance(outcomes[1], ConcurrencyError):  # the writer went first: the reader saw it
        assert "reader" not in positions
        assert await pool.fetchval("SELECT n FROM counted WHERE name = 'a'") == 1
    else:  # the reader went first, on the version it decided on
        assert outcomes[1] is None
        assert positions["reader"] < positions["written"]
        assert await pool.fetchval("SELECT n FROM counted WHERE name = 'a'") == 2  # two updates of one row, both kept


async def test_a_store_sends_a_second_statement_at_once_while_one_is_held_and_a_third_waits(
    pool: asyncpg.Pool, holdup: Holdup
) -> None:
    store = PostgresEventStore(pool)  # as services have it, but patient
    assert store.group is not None
    assert store.group.in_flight == 2
    store.group.patience = 60
    first = await on_its_way(store, holdup)
    async with pool.acquire() as conn:
        second_holdup = Holdup(conn, "second")
        await second_holdup.hold()
        second = asyncio.create_task(commit(store, "second"))  # on its way, held up too
        await eventually(lambda: _waits_in_the_server(pool, 2))
        third = asyncio.create_task(commit(store, "third"))
        await waiting(store.group, 1)
        await second_holdup.release()
        await asyncio.gather(second, third)

    assert not first.done()
    assert await versions(pool, "third") == [1]
    await holdup.release()
    await first


async def _waits_in_the_server(pool: asyncpg.Pool, count: int) -> bool:
    waits = await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    return bool(waits == count)


async def test_a_send_held_up_in_the_server_lets_the_next_go_after_a_while(
    store: PostgresEventStore, pool: asyncpg.Pool, holdup: Holdup, group: CommitGroup
) -> None:
    group.patience = 0.05
    first = await on_its_way(store, holdup)  # one send at a time, this one held up

    await commit(store, "next")

    assert not first.done()
    assert group.overdue == 1
    assert await versions(pool, "next") == [1]
    await holdup.release()
    await first
    assert await versions(pool, holdup.stream_id) == [1]


async def test_members_sent_together_are_freed_once_answered_with_no_cycle_collection(
    store: PostgresEventStore, pool: asyncpg.Pool, holdup: Holdup, group: CommitGroup
) -> None:
    """Reference counting alone frees a group's members, their arguments with them: a reference cycle
    through the lead's turn had kept every member of every group until the cyclic collector's next
    pass, in the injury service thousands of events at a time, each pass a pause of 6-21 ms."""
    members = [Member("SELECT $1::int AS n", [i], frozenset({f"s-{i}"})) for i in range(3)]
    freed = [weakref.ref(member) for member in members]

    async def send(member: Member) -> int:
        async with pool.acquire() as conn:
            row = await group.fetchrow(conn, member)
        return int(row["n"])

    gc.disable()
    try:
        first = await on_its_way(store, holdup)
        sends = [asyncio.create_task(send(member)) for member in members]
        del members
        await waiting(group, 3)
        await holdup.release()
        await first
        answers = await asyncio.gather(*sends)
        del sends

        assert (answers, group.groups, group.grouped) == ([0, 1, 2], 1, 3)
        assert [ref() for ref in freed] == [None, None, None]
    finally:
        gc.enable()
