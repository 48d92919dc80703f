"""Durable deadlines: fire once after time is skipped, never after cancel, survive restarts."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from runtime import db, deadlines
from runtime.clock import FixedClock
from runtime.deadlines import CalendarBook, Deadline, DeadlineRule, DeadlineWorker
from runtime.eventstore import ConcurrencyError, NewEvent, PostgresEventStore, PostgresTransaction
from runtime.workdays import CalendarYear, WorkingDayCalendar, years_from_chinese_calendar

CALENDAR = WorkingDayCalendar(years_from_chinese_calendar(2024, 2026))


def breach_recorder() -> tuple[list[Deadline], Any]:
    fired: list[Deadline] = []

    async def on_deadline(tx: PostgresTransaction, deadline: Deadline) -> None:
        fired.append(deadline)
        await tx.append(
            f"breach-{deadline.deadline_id}", 0, [NewEvent(uuid4(), "DeadlineBreached", {"kind": deadline.kind})]
        )

    return fired, on_deadline


async def schedule(
    pool: asyncpg.Pool, stream: str, rule: DeadlineRule, calendar: WorkingDayCalendar = CALENDAR
) -> Deadline:
    async with pool.acquire() as conn:
        return await deadlines.schedule(conn, calendar, deadline_id=uuid4(), stream_id=stream, kind="stage", rule=rule)


async def test_a_deadline_fires_once_when_time_is_skipped_past_it(pool: asyncpg.Pool) -> None:
    clock = FixedClock(datetime(2024, 9, 30, 2, 0, tzinfo=UTC))
    fired, handler = breach_recorder()
    worker = DeadlineWorker(PostgresEventStore(pool), clock, handler)
    deadline = await schedule(pool, "transfer-1", DeadlineRule(date(2024, 9, 30), working_days=15))

    before = await worker.run_once()
    clock.set(deadline.due_at + timedelta(seconds=1))
    first = await worker.run_once()
    second = await worker.run_once()

    # 15 working days from 30 Sep 2024 step over the National Day holiday: due end of 25 Oct (Beijing).
    assert deadline.due_at == datetime(2024, 10, 25, 16, 0, tzinfo=UTC)
    assert (before, first, second) == (0, 1, 0)
    assert [d.stream_id for d in fired] == ["transfer-1"]
    assert await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'DeadlineBreached'") == 1


async def test_a_cancelled_deadline_never_fires(pool: asyncpg.Pool) -> None:
    clock = FixedClock(datetime(2025, 3, 3, tzinfo=UTC))
    fired, handler = breach_recorder()
    await schedule(pool, "case-7", DeadlineRule(date(2025, 3, 3), working_days=5))
    async with pool.acquire() as conn:
        cancelled = await deadlines.cancel(conn, "case-7")

    clock.advance(days=60)
    await DeadlineWorker(PostgresEventStore(pool), clock, handler).run_once()

    assert cancelled == 1
    assert fired == []


async def test_the_same_deadline_for_many_streams_at_once_fires_for_each_unless_cancelled(pool: asyncpg.Pool) -> None:
    clock = FixedClock(datetime(2025, 3, 3, tzinfo=UTC))
    fired, handler = breach_recorder()
    timers = deadlines.Timers(CalendarBook(CALENDAR))
    store = PostgresEventStore(pool)
    people = [f"person-{i}" for i in range(5)]
    async with store.transaction() as tx:
        await timers.schedule_each(
            tx, stream_ids=people, kind="due", basis=date(2025, 3, 3), calendar_days=15, payload={"month": "2025-02"}
        )
        await timers.schedule_each(tx, stream_ids=[], kind="due", basis=date(2025, 3, 3), payload={})
    async with store.transaction() as tx:
        await timers.cancel_each(tx, stream_ids=people[:2], kind="due")
        await timers.cancel_each(tx, stream_ids=people[2:], kind="another kind")

    clock.advance(days=16)
    await DeadlineWorker(store, clock, handler).run_once()

    assert sorted(d.stream_id for d in fired) == people[2:]
    assert {d.payload["month"] for d in fired} == {"2025-02"}
    assert len({d.deadline_id for d in fired}) == 3


async def _statuses(pool: asyncpg.Pool, stream: str) -> list[tuple[str, str]]:
    rows = await pool.fetch("SELECT kind, status FROM deadlines WHERE stream_id = $1 ORDER BY created_at, kind", stream)
    return [(r["kind"], r["status"]) for r in rows]


async def test_a_decision_that_appends_moves_its_timers_and_replies_sends_one_statement(
    pool: asyncpg.Pool, database_url: str
) -> None:
    """A stage ends and the next begins: the append, the cancel, the schedule and the reply ride
    together, atomic on their own: no BEGIN, no COMMIT."""
    sent: list[str] = []
    one = await db.create_pool(database_url, size=1)
    try:
        async with one.acquire() as conn:
            conn.add_query_logger(lambda record: sent.append(record.query.split()[0]))
        store, timers = PostgresEventStore(one), deadlines.Timers(CalendarBook(CALENDAR))
        async with store.transaction() as tx:
            await tx.append("case-1", 0, [NewEvent(uuid4(), "Applied", {})])
            await timers.schedule(
                tx, stream_id="case-1", kind="stage:a", basis=date(2025, 3, 3), working_days=15, payload={}
            )
        sent.clear()

        async with store.transaction() as tx:
            await tx.append("case-1", 1, [NewEvent(uuid4(), "StageAEnded", {})])
            await timers.cancel(tx, stream_id="case-1", kind="stage:a")
            await timers.schedule(
                tx, stream_id="case-1", kind="stage:b", basis=date(2025, 3, 10), working_days=15, payload={}
            )
            await tx.record_reply(uuid4(), {"status": "stage b"})

        assert sent == ["WITH"]
        assert await _statuses(one, "case-1") == [("stage:a", "cancelled"), ("stage:b", "pending")]
    finally:
        await one.close()


async def test_a_stale_append_moves_no_timer(pool: asyncpg.Pool) -> None:
    store, timers = PostgresEventStore(pool), deadlines.Timers(CalendarBook(CALENDAR))
    async with store.transaction() as tx:
        await tx.append("case-2", 0, [NewEvent(uuid4(), "Applied", {})])
        await timers.schedule(
            tx, stream_id="case-2", kind="stage:a", basis=date(2025, 3, 3), working_days=15, payload={}
        )

    with pytest.raises(ConcurrencyError):
        async with store.transaction() as tx:
            await tx.append("case-2", 0, [NewEvent(uuid4(), "AppliedAgain", {})])  # someone else was first
            await timers.cancel(tx, stream_id="case-2", kind="stage:a")
            await timers.schedule(
                tx, stream_id="case-2", kind="stage:b", basis=date(2025, 3, 3), working_days=5, payload={}
            )

    assert await _statuses(pool, "case-2") == [("stage:a", "pending")]


async def test_timers_keep_the_order_they_were_moved_in(pool: asyncpg.Pool) -> None:
    """A cancel after a schedule of its own kind cancels that one too, as statements one by one would;
    a schedule after a cancel of its kind stays pending."""
    store, timers = PostgresEventStore(pool), deadlines.Timers(CalendarBook(CALENDAR))
    async with store.transaction() as tx:
        await tx.append("case-3", 0, [NewEvent(uuid4(), "Applied", {})])
        await timers.schedule(
            tx, stream_id="case-3", kind="reminder", basis=date(2025, 3, 3), calendar_days=3, payload={}
        )
        await timers.cancel(tx, stream_id="case-3", kind="reminder")
    async with store.transaction() as tx:
        await tx.append("case-4", 0, [NewEvent(uuid4(), "Applied", {})])
        await timers.schedule(
            tx, stream_id="case-4", kind="reminder", basis=date(2025, 3, 3), calendar_days=3, payload={}
        )
    async with store.transaction() as tx:
        await tx.append("case-4", 1, [NewEvent(uuid4(), "Reminded", {})])
        await timers.cancel(tx, stream_id="case-4", kind="reminder")
        await timers.schedule(
            tx, stream_id="case-4", kind="reminder", basis=date(2025, 3, 6), calendar_days=3, payload={}
        )

    assert await _statuses(pool, "case-3") == [("reminder", "cancelled")]
    assert await _statuses(pool, "case-4") == [("reminder", "cancelled"), ("reminder", "pending")]


async def test_deadlines_survive_a_restart_and_two_workers_fire_each_once(pool: asyncpg.Pool) -> None:
    for i in range(200):
        await schedule(pool, f"s-{i}", DeadlineRule(date(2025, 1, 6), calendar_days=30))
    clock = FixedClock(datetime(2025, 6, 1, tzinfo=UTC))
    fired_a, handler_a = breach_recorder()
    fired_b, handler_b = breach_recorder()
    store = PostgresEventStore(pool)
    # Two workers started after the rows were written, as after a restart of every process.
    worker_a = DeadlineWorker(store, clock, handler_a, batch=10)
    worker_b = DeadlineWorker(store, clock, handler_b, batch=10)

    await asyncio.gather(worker_a.run_once(), worker_b.run_once())

    streams = [d.stream_id for d in fired_a + fired_b]
    assert len(streams) == len(set(streams)) == 200
    assert await pool.fetchval("SELECT count(*) FROM deadlines WHERE status = 'fired'") == 200


async def test_a_deadline_in_a_year_without_holiday_data_is_provisional_until_that_year_is_loaded(
    pool: asyncpg.Pool,
) -> None:
    book = CalendarBook(CALENDAR)
    deadline = await schedule(pool, "transfer-9", DeadlineRule(date(2026, 12, 21), working_days=15), book.calendar)
    made_up_holidays = [date(2027, 1, 4), date(2027, 1, 5), date(2027, 1, 6)]

    moved = await book.add_year(pool, CalendarYear.build(2027, made_up_holidays, [], "test notice"))
    async with pool.acquire() as conn:
        [recomputed] = await deadlines.pending(conn, "transfer-9")

    assert deadline.provisional is True
    assert moved == 1
    assert recomputed.provisional is False
    assert recomputed.due_at - deadline.due_at == timedelta(days=3)
    assert await pool.fetchval("SELECT count(*) FROM calendar_years WHERE year = 2027") == 1


async def test_a_year_loaded_in_a_transaction_is_in_force_once_it_commits_never_if_it_does_not(
    pool: asyncpg.Pool,
) -> None:
    book, store = CalendarBook(CALENDAR), PostgresEventStore(pool)
    notice = "test notice"
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await book.add_year_in(tx, CalendarYear.build(2027, [date(2027, 1, 4)], [], notice))
            raise RuntimeError("the transaction fails after it (a copy of a message applied before)")
    rolled_back = book.calendar.known_years
    async with store.transaction() as tx:  # two years in one transaction (one fetch): both in force
        await book.add_year_in(tx, CalendarYear.build(2027, [date(2027, 1, 5)], [], notice))
        await book.add_year_in(tx, CalendarYear.build(2028, [], [], notice))
        before_the_commit = book.calendar.known_years

    assert 2027 not in rolled_back and 2027 not in before_the_commit
    assert {2027, 2028} <= book.calendar.known_years
    assert not book.calendar.is_working_day(date(2027, 1, 5))
    assert book.calendar.is_working_day(date(2027, 1, 4))  # the year that did not commit is not in force


async def test_a_cancel_riding_with_an_append_passes_over_a_deadline_being_fired_and_the_worker_then_finds_it_settled(
    pool: asyncpg.Pool,
) -> None:
    """A payment and the contribution's deadline firing at the same moment: neither waits for the
    other (waiting made a circle PostgreSQL broke only after a second), and the month is paid, not
    marked overdue."""
    clock = FixedClock(datetime(2025, 3, 3, tzinfo=UTC))
    store = PostgresEventStore(pool)
    timers = deadlines.Timers(CalendarBook(CALENDAR))
    stream = "person-1"
    async with store.transaction() as tx:
        await tx.append(stream, 0, [NewEvent(uuid4(), "Assessed", {})])
        await timers.schedule_each(
            tx, stream_ids=[stream], kind="due", basis=date(2025, 3, 3), calendar_days=15, payload={}
        )
    holding, release = asyncio.Event(), asyncio.Event()

    async def mark_overdue(tx: PostgresTransaction, deadline: Deadline) -> None:
        past = await tx.load(deadline.stream_id)
        if not release.is_set():
            holding.set()  # the worker holds the deadline (FOR UPDATE) and has read the stream
            await release.wait()
        if not any(e.event_type == "Paid" for e in past):
            await tx.append(deadline.stream_id, len(past), [NewEvent(uuid4(), "Overdue", {})])

    worker = DeadlineWorker(store, clock, mark_overdue)
    clock.advance(days=16)
    firing = asyncio.create_task(worker.run_once())
    await holding.wait()
    try:
        async with store.transaction() as tx:
            # Waiting for the worker's lock would never end here (the worker waits for `release`): fail instead.
            await (await tx.connection()).execute("SET LOCAL lock_timeout = '5s'")
            await tx.append(stream, 1, [NewEvent(uuid4(), "Paid", {})])
            await timers.cancel_each(tx, stream_ids=[stream], kind="due")
    finally:
        release.set()
    first_round = await firing
    pending = await _statuses(pool, stream)
    second_round = await worker.run_once()

    assert first_round == 0  # its append found version 2 taken: the deadline stays for the next round
    assert pending == [("due", "pending")]
    assert second_round == 1
    assert await _statuses(pool, stream) == [("due", "fired")]
    assert [e.event_type for e in await _load(store, stream)] == ["Assessed", "Paid"]


async def _load(store: PostgresEventStore, stream: str) -> list[Any]:
    async with store.transaction() as tx:
        return await tx.load(stream)
