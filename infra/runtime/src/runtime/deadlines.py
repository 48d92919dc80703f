"""Durable deadline timers on the working-day calendar.

A deadline is a row written in the same transaction as the decision that starts the clock. A
worker claims due rows (`FOR UPDATE SKIP LOCKED`), runs the service's handler and marks the row
fired in one transaction: it fires once, survives restarts, and a cancelled row never fires.
A due date counted through a year with no holiday data is provisional and is recomputed when an
operator loads that year.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol
from uuid import UUID, uuid4

import asyncpg
import orjson

from runtime.clock import Clock
from runtime.eventstore import (
    CANCEL_DEADLINES,
    SCHEDULE_DEADLINES,
    ConcurrencyError,
    DeadlineRow,
    PostgresEventStore,
    PostgresTransaction,
    Transaction,
    cancel_columns,
    cancelled_pairs,
    deadline_columns,
)
from runtime.messaging import ConsumerSpec, Delivery, PoisonMessageError, StreamSpec
from runtime.tracing import current_traceparent
from runtime.workdays import CalendarYear, WorkingDayCalendar, end_of_day_utc, years_from_chinese_calendar

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    """The legal limit: so many working days, or calendar days, after the basis date."""

    basis: date
    working_days: int = 0
    calendar_days: int = 0

    def __post_init__(self) -> None:
        if (self.working_days > 0) == (self.calendar_days > 0):
            raise ValueError("a deadline rule counts either working days or calendar days")

    def to_json(self) -> dict[str, Any]:
        return {"basis": self.basis.isoformat(), "working_days": self.working_days, "calendar_days": self.calendar_days}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeadlineRule:
        return cls(date.fromisoformat(data["basis"]), data["working_days"], data["calendar_days"])

    def due(self, calendar: WorkingDayCalendar) -> tuple[datetime, bool]:
        """The instant the limit expires (end of the due day, Beijing time) and whether provisional."""
        if self.working_days:
            result = calendar.add_working_days(self.basis, self.working_days)
        else:
            result = calendar.add_calendar_days(self.basis, self.calendar_days)
        return end_of_day_utc(result.day), result.provisional


@dataclass(frozen=True, slots=True)
class Deadline:
    deadline_id: UUID
    stream_id: str
    kind: str
    due_at: datetime
    provisional: bool
    rule: DeadlineRule
    payload: dict[str, Any] = field(default_factory=dict)
    traceparent: str | None = None


def _deadline(row: asyncpg.Record) -> Deadline:
    return Deadline(
        deadline_id=row["deadline_id"],
        stream_id=row["stream_id"],
        kind=row["kind"],
        due_at=row["due_at"],
        provisional=row["provisional"],
        rule=DeadlineRule.from_json(row["rule"]),
        payload=row["payload"],
        traceparent=row["traceparent"],
    )


class CalendarBook:
    """The working-day calendar in force: the shipped years plus those operators loaded."""

    def __init__(self, calendar: WorkingDayCalendar | None = None) -> None:
        self.calendar = calendar or WorkingDayCalendar(years_from_chinese_calendar())

    async def load_stored_years(self, pool: asyncpg.Pool) -> None:
        for row in await pool.fetch("SELECT data FROM calendar_years ORDER BY year"):
            self.calendar = self.calendar.with_year(CalendarYear.from_json(row["data"]))

    async def add_year(self, pool: asyncpg.Pool, year: CalendarYear) -> int:
        """Store an operator-loaded year and recompute every provisional deadline; returns how many
        moved. The year is in force here once it is stored."""
        calendar = self.calendar.with_year(year)
        async with pool.acquire() as conn, conn.transaction():
            moved = await _store_year(conn, year, calendar)
        self.calendar = calendar
        return moved

    async def add_year_in(self, tx: PostgresTransaction, year: CalendarYear) -> int:
        """`add_year` inside the caller's transaction: in force here once it commits (never if it
        does not), and for the years loaded after it in the same transaction."""
        calendar = tx.memo.get(_LOADED, self.calendar).with_year(year)
        tx.memo[_LOADED] = calendar
        moved = await _store_year(await tx.connection(), year, calendar)

        def in_force() -> None:
            self.calendar = calendar

        tx.after_commit(in_force)
        return moved


# A transaction's calendar with the years it loaded (`CalendarBook.add_year_in`): its memo's key.
_LOADED = "runtime.deadlines.calendar"


async def _store_year(conn: asyncpg.Connection, year: CalendarYear, calendar: WorkingDayCalendar) -> int:
    """The year stored and every provisional deadline recomputed on `calendar`; how many moved."""
    await conn.execute(
        "INSERT INTO calendar_years (year, data) VALUES ($1, $2) "
        "ON CONFLICT (year) DO UPDATE SET data = EXCLUDED.data, loaded_at = now()",
        year.year,
        year.to_json(),
    )
    return await recompute_provisional(conn, calendar)


async def schedule(
    conn: asyncpg.Connection,
    calendar: WorkingDayCalendar,
    *,
    deadline_id: UUID,
    stream_id: str,
    kind: str,
    rule: DeadlineRule,
    payload: dict[str, Any] | None = None,
    traceparent: str | None = None,
) -> Deadline:
    rows = deadline_rows(
        calendar, {deadline_id: stream_id}, kind=kind, rule=rule, payload=payload, traceparent=traceparent
    )
    await conn.execute(SCHEDULE_DEADLINES, *deadline_columns(rows))
    return Deadline(deadline_id, stream_id, kind, rows[0].due_at, rows[0].provisional, rule, payload or {}, traceparent)


def deadline_rows(
    calendar: WorkingDayCalendar,
    streams: dict[UUID, str],
    *,
    kind: str,
    rule: DeadlineRule,
    payload: dict[str, Any] | None = None,
    traceparent: str | None = None,
) -> list[DeadlineRow]:
    """The rows of the same deadline for several streams (deadline id -> stream id)."""
    due_at, provisional = rule.due(calendar)
    rule_json = rule.to_json()
    return [
        DeadlineRow(deadline_id, stream_id, kind, due_at, provisional, rule_json, payload or {}, traceparent)
        for deadline_id, stream_id in streams.items()
    ]


async def cancel(conn: asyncpg.Connection, stream_id: str, kind: str | Sequence[str] | None = None) -> int:
    """Cancel the pending deadlines of a stream (of one kind, of several, or all); a fired one stays fired."""
    return await cancel_each(conn, [stream_id], kind)


async def cancel_each(
    conn: asyncpg.Connection, stream_ids: Sequence[str], kind: str | Sequence[str] | None = None
) -> int:
    """`cancel` for several streams in one statement; returns how many deadlines it cancelled."""
    status = await conn.execute(CANCEL_DEADLINES, *cancel_columns(cancelled_pairs(stream_ids, _kinds(kind))))
    return int(status.split()[-1])


def _kinds(kind: str | Sequence[str] | None) -> list[str] | None:
    return [kind] if isinstance(kind, str) else None if kind is None else list(kind)


async def pending(conn: asyncpg.Connection, stream_id: str) -> list[Deadline]:
    rows = await conn.fetch(
        "SELECT * FROM deadlines WHERE stream_id = $1 AND status = 'pending' ORDER BY due_at", stream_id
    )
    return [_deadline(r) for r in rows]


async def recompute_provisional(conn: asyncpg.Connection, calendar: WorkingDayCalendar) -> int:
    moved = 0
    rows = await conn.fetch("SELECT * FROM deadlines WHERE status = 'pending' AND provisional FOR UPDATE")
    for row in rows:
        due_at, provisional = DeadlineRule.from_json(row["rule"]).due(calendar)
        await conn.execute(
            "UPDATE deadlines SET due_at = $2, provisional = $3 WHERE deadline_id = $1",
            row["deadline_id"],
            due_at,
            provisional,
        )
        moved += due_at != row["due_at"]
    return moved


class Deadlines(Protocol):
    """What a use case needs of `Timers`: durable timers started and cancelled in its transaction."""

    async def schedule(
        self,
        tx: Transaction,
        *,
        stream_id: str,
        kind: str,
        basis: date,
        calendar_days: int = 0,
        working_days: int = 0,
        payload: dict[str, Any],
    ) -> None:
        """Start a durable timer: so many calendar or working days after `basis` (Beijing dates)."""
        ...

    async def cancel(self, tx: Transaction, *, stream_id: str, kind: str | Sequence[str]) -> None:
        """Cancel the stream's pending deadline of `kind` (or of each of several kinds, in one statement)."""
        ...

    async def schedule_each(
        self,
        tx: Transaction,
        *,
        stream_ids: Sequence[str],
        kind: str,
        basis: date,
        calendar_days: int = 0,
        working_days: int = 0,
        payload: dict[str, Any],
    ) -> None:
        """`schedule` the same timer for several streams, in one statement."""
        ...

    async def cancel_each(self, tx: Transaction, *, stream_ids: Sequence[str], kind: str) -> None:
        """`cancel` for several streams, in one statement."""
        ...


class Timers:
    """Deadlines as the application layer sees them: start or cancel a timer inside a decision's transaction."""

    def __init__(self, book: CalendarBook) -> None:
        self.book = book

    async def schedule(
        self,
        tx: Transaction,
        *,
        stream_id: str,
        kind: str,
        basis: date,
        calendar_days: int = 0,
        working_days: int = 0,
        payload: dict[str, Any],
    ) -> None:
        await self.schedule_each(
            tx,
            stream_ids=[stream_id],
            kind=kind,
            basis=basis,
            calendar_days=calendar_days,
            working_days=working_days,
            payload=payload,
        )

    async def cancel(self, tx: Transaction, *, stream_id: str, kind: str | Sequence[str]) -> None:
        await _postgres(tx).cancel_deadlines(cancelled_pairs([stream_id], _kinds(kind)))

    async def schedule_each(
        self,
        tx: Transaction,
        *,
        stream_ids: Sequence[str],
        kind: str,
        basis: date,
        calendar_days: int = 0,
        working_days: int = 0,
        payload: dict[str, Any],
    ) -> None:
        if stream_ids:
            rows = deadline_rows(
                self.book.calendar,
                {uuid4(): stream_id for stream_id in stream_ids},
                kind=kind,
                rule=DeadlineRule(basis, working_days=working_days, calendar_days=calendar_days),
                payload=payload,
                traceparent=current_traceparent(),
            )
            await _postgres(tx).schedule_deadlines(rows)

    async def cancel_each(self, tx: Transaction, *, stream_ids: Sequence[str], kind: str) -> None:
        await _postgres(tx).cancel_deadlines(cancelled_pairs(stream_ids, [kind]))


def _postgres(tx: Transaction) -> PostgresTransaction:
    """Deadlines go with the transaction's own writes: held with its append when they can be."""
    if not isinstance(tx, PostgresTransaction):
        raise TypeError("deadlines are stored in PostgreSQL")
    return tx


def calendar_stream(root: str) -> StreamSpec:
    """Operators publish each loaded year here; every service applies it (durably, once)."""
    return StreamSpec(f"{root.upper()}_CALENDAR", (f"{root}.calendar.year_loaded",))


def calendar_consumer_spec(stream: StreamSpec, book: CalendarBook, durable: str) -> ConsumerSpec:
    async def apply(tx: Transaction, delivery: Delivery) -> None:
        try:
            year = CalendarYear.from_json(orjson.loads(delivery.data))
        except (ValueError, TypeError) as error:
            raise PoisonMessageError(f"not a calendar year: {error}") from error
        if not isinstance(tx, PostgresTransaction):
            raise TypeError("calendar years are stored in PostgreSQL")
        moved = await book.add_year_in(tx, year)
        log.info("calendar year loaded", extra={"year": year.year, "deadlines_moved": moved})

    return ConsumerSpec(durable, stream.name, stream.subjects, apply)


DeadlineHandler = Callable[[PostgresTransaction, Deadline], Awaitable[None]]


class DeadlineWorker:
    """Fires due deadlines: the handler's effects and the `fired` mark commit together."""

    def __init__(
        self,
        store: PostgresEventStore,
        clock: Clock,
        handler: DeadlineHandler,
        *,
        batch: int = 100,
        interval: float = 1.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.handler = handler
        self.batch = batch
        self.interval = interval
        self.fired = 0

    async def run_once(self) -> int:
        """Fire every deadline due by the clock's now, batch by batch; returns how many fired."""
        fired = 0
        while True:
            async with self.store.transaction() as tx:
                conn = await tx.connection()
                rows = await conn.fetch(
                    "SELECT * FROM deadlines WHERE status = 'pending' AND due_at <= $1 "
                    "ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED",
                    self.clock.now(),
                    self.batch,
                )
                # Fired in stream order, as commands that touch many streams take them (sorted): two
                # transactions then never wait on each other's streams in opposite orders.
                ordered = sorted(rows, key=lambda row: (row["stream_id"], row["due_at"]))
                done = [row["deadline_id"] for row in ordered if await self._fire(tx, row)]
                await conn.execute(
                    "UPDATE deadlines SET status = 'fired', settled_at = $2 WHERE deadline_id = ANY($1::uuid[])",
                    done,
                    self.clock.now(),
                )
            fired += len(done)
            self.fired += len(done)
            if len(rows) < self.batch or len(done) < len(rows):
                return fired  # what could not fire now stays pending for the next round

    async def _fire(self, tx: Any, row: Any) -> bool:
        """One deadline in a savepoint: a conflict with a command on the same stream, or a failing
        handler, leaves it pending (retried next round) without holding back the others."""
        try:
            async with tx.savepoint():
                await self.handler(tx, _deadline(row))
        except (ConcurrencyError, asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
            return False
        except Exception:
            log.exception("deadline handler failed; retried next round", extra={"kind": row["kind"]})
            return False
        return True

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception as error:  # noqa: BLE001 - the worker outlives outages; deadlines stay pending
                log.warning("deadline worker interrupted", extra={"error": repr(error)})
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
            except TimeoutError:
                continue
