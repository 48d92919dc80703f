"""A posting and a recognition of the same worker on real PostgreSQL: a hold never slips past a
recognition that lands while the posting is being decided.

A posting settled through the network reads and writes without a lock; one that would be held is
decided again under the worker's lock, on fresh reads. Here the recognition commits in the window
between the posting's first read (not recognised yet: a hold) and that lock, so the posting must
settle through the network, not be held where the recognition's re-settlement has already looked.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from importlib.resources import files
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from contracts.envelope import Actor, ActorKind, Channel
from contracts.identifiers import citizen_id_check_character
from contracts.injury import commands as c
from contracts.subjects import Subjects
from injury.application import agreements, determinations, settlements
from injury.application import catalogues as catalogue_use_cases
from injury.bootstrap import sample_catalogue
from injury.domain.errors import AgreementNotActiveError
from injury.domain.events import EVENT_TYPES
from injury.lookups import PostgresCatalogues, PostgresSettlementIndex, PseudonymousPeople
from injury.translation import to_public
from runtime import db
from runtime.commands import execute_once
from runtime.deadlines import CalendarBook, Timers
from runtime.eventstore import PostgresEventStore, Transaction
from runtime.recording import CommandContext, EventRecorder
from runtime.workdays import WorkingDayCalendar, years_from_chinese_calendar
from tests.injury_steps import accepted_determination, agreement_for_2026

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
SERVICE_DAY = date(2026, 3, 1)
WORKER = "36010219850612201" + citizen_id_check_character("36010219850612201")
HOSPITAL = "H36001"
LINES = [
    c.SettlementLineV1(line_no=1, item_code="XJ01DCC040", quantity=Decimal(10), unit_price_fen=180, amount_fen=1800),
    c.SettlementLineV1(line_no=2, item_code="XD11AXX999", quantity=Decimal(1), unit_price_fen=16800, amount_fen=16800),
]


def ctx() -> CommandContext:
    actor = Actor(kind=ActorKind.OPERATOR, id="ops-1", region="36")
    return CommandContext(
        command_id=uuid4(), correlation_id=uuid4(), causation_id=None, actor=actor, channel=Channel.PARTNER,
        region="36", now=NOW,
    )  # fmt: skip


class Injury:
    """The injury use cases wired to PostgreSQL as the service wires them."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.store = PostgresEventStore(pool)
        self.recorder = EventRecorder("injury", Subjects("t"), EVENT_TYPES, partial(to_public, region="36"))
        self.timers = Timers(CalendarBook(WorkingDayCalendar(years_from_chinese_calendar(2024, 2026))))
        self.people = PseudonymousPeople(b"injury-test-salt-0123456789")

    async def run(self, handler: Any, command: Any, **deps: Any) -> Any:
        async with self.store.transaction() as tx:
            return await handler(tx, command, ctx(), recorder=self.recorder, **deps)

    async def prepare(self, determination_id: str) -> None:
        """An agreement, the sample catalogue and an accepted (not yet recognised) determination."""
        async with self.store.transaction() as tx:
            await catalogue_use_cases.load_versions(tx, sample_catalogue("36"), ctx(), recorder=self.recorder)
        await self.run(agreements.sign_agreement, agreement_for_2026(HOSPITAL))
        apply, accept = accepted_determination(determination_id, WORKER, injured=SERVICE_DAY - timedelta(days=5))
        await self.run(determinations.apply_for_determination, apply, deadlines=self.timers)
        await self.run(determinations.accept_determination, accept, deadlines=self.timers)

    async def recognise(self, determination_id: str) -> None:
        decide = c.DecideDetermination(determination_id=determination_id, outcome="recognised")
        await self.run(determinations.decide_determination, decide, deadlines=self.timers)

    async def post(self, number: str, index: PostgresSettlementIndex) -> dict[str, Any]:
        command = c.PostSettlement(
            hospital_id=HOSPITAL, hospital_settlement_no=number, citizen_id=WORKER, determination_ref="RD-1",
            service_date=SERVICE_DAY, lines=LINES, declared_total_fen=18600,
        )  # fmt: skip
        catalogue = PostgresCatalogues(self.recorder, "36")
        deps = {"catalogues": catalogue, "index": index, "people": self.people}
        result: dict[str, Any] = await self.run(settlements.post_settlement, command, **deps)
        return result


class CountedLocks(PostgresSettlementIndex):
    """The worker's lock, counted; with `recognise_first`, taken only after that determination was
    recognised and committed elsewhere (in the window between the posting's first read and its lock)."""

    def __init__(self, injury: Injury, *, recognise_first: str | None = None) -> None:
        self.injury = injury
        self.recognise_first = recognise_first
        self.locks = 0

    async def lock_person(self, tx: Transaction, person_ref: str) -> None:
        self.locks += 1
        if self.recognise_first is not None:
            await self.injury.recognise(self.recognise_first)  # its own transaction, committed now
            self.recognise_first = None
        await super().lock_person(tx, person_ref)


async def test_a_recognition_committed_before_the_holds_lock_turns_it_into_a_network_settlement(
    pool: asyncpg.Pool,
) -> None:
    await db.migrate(pool, db.sql_files(("injury", files("injury") / "migrations")))
    injury = Injury(pool)
    await injury.prepare("RD-1")
    index = CountedLocks(injury, recognise_first="RD-1")

    posted = await injury.post("JS-1", index)

    assert index.locks == 1  # the first read found no recognition: a hold, decided again under the lock
    assert (posted["status"], posted["hold_reason"], posted["fund_fen"]) == ("settled", None, 1500)
    async with injury.store.transaction() as tx:
        assert [e.event_type for e in await tx.load("settlement-H36001-JS-1")] == ["SettlementPosted"]


async def test_a_posting_through_the_network_takes_no_lock_and_a_hold_takes_one(pool: asyncpg.Pool) -> None:
    await db.migrate(pool, db.sql_files(("injury", files("injury") / "migrations")))
    injury = Injury(pool)
    await injury.prepare("RD-1")
    counting = CountedLocks(injury)

    held = await injury.post("JS-2", counting)
    await injury.recognise("RD-1")
    settled = await injury.post("JS-3", counting)

    assert (held["status"], held["hold_reason"]) == ("held", "pending")
    assert settled["status"] == "settled"
    assert counting.locks == 1  # the hold only
    rows = await pool.fetch("SELECT stream_id FROM settlement_index ORDER BY stream_id")
    assert [r["stream_id"] for r in rows] == ["settlement-H36001-JS-2", "settlement-H36001-JS-3"]


async def _recognised(pool: asyncpg.Pool) -> Injury:
    """The injury service's tables, an agreement, the catalogue and RD-1 recognised for the worker."""
    await db.migrate(pool, db.sql_files(("injury", files("injury") / "migrations")))
    injury = Injury(pool)
    await injury.prepare("RD-1")
    await injury.recognise("RD-1")
    return injury


async def _posted_once(injury: Injury, number: str, catalogues: PostgresCatalogues) -> dict[str, Any]:
    """A posting as the service runs it: once per command id, decided again on a conflict."""
    command = c.PostSettlement(
        hospital_id=HOSPITAL, hospital_settlement_no=number, citizen_id=WORKER, determination_ref="RD-1",
        service_date=SERVICE_DAY, lines=LINES, declared_total_fen=18600,
    )  # fmt: skip
    deps = {"catalogues": catalogues, "index": PostgresSettlementIndex(), "people": injury.people}

    async def decide(tx: Transaction) -> dict[str, Any]:
        result: dict[str, Any] = await settlements.post_settlement(tx, command, ctx(), recorder=injury.recorder, **deps)
        return result

    return await execute_once(injury.store, uuid4(), decide)


async def test_a_posting_on_the_agreement_and_determination_kept_from_the_last_reads_nothing(
    pool: asyncpg.Pool, database_url: str
) -> None:
    await _recognised(pool)
    one = await db.create_pool(database_url, size=1)  # the statements of one connection, counted
    try:
        injury = Injury(one)
        catalogues = PostgresCatalogues(injury.recorder, "36")
        first = await _posted_once(injury, "JS-10", catalogues)  # reads them, and keeps them
        sent: list[str] = []
        async with one.acquire() as conn:
            conn.add_query_logger(lambda record: sent.append(record.query.split()[0]))

        second = await _posted_once(injury, "JS-11", catalogues)

        assert sent == ["WITH"]  # its events, outbox row, index row and reply, checking what it took unread
        assert first["status"] == second["status"] == "settled"
        assert second["fund_fen"] == first["fund_fen"] == 1500
    finally:
        await one.close()


async def test_a_posting_on_a_kept_agreement_suspended_since_elsewhere_is_decided_again_and_refused(
    pool: asyncpg.Pool,
) -> None:
    injury = await _recognised(pool)
    catalogues = PostgresCatalogues(injury.recorder, "36")
    assert (await _posted_once(injury, "JS-20", catalogues))["status"] == "settled"
    suspend = c.SuspendAgreement(hospital_id=HOSPITAL, effective_from=SERVICE_DAY, reason="breach of the agreement")
    await injury.run(agreements.suspend_agreement, suspend)  # another replica: this one's kept agreement is old

    with pytest.raises(AgreementNotActiveError):
        await _posted_once(injury, "JS-21", catalogues)

    async with injury.store.transaction() as tx:
        assert await tx.load("settlement-H36001-JS-21") == []  # nothing settled on the old agreement


async def test_a_retried_posting_on_kept_streams_gets_the_first_answer_and_pays_once(pool: asyncpg.Pool) -> None:
    injury = await _recognised(pool)
    catalogues = PostgresCatalogues(injury.recorder, "36")
    await _posted_once(injury, "JS-30", catalogues)

    first = await _posted_once(injury, "JS-31", catalogues)  # decided unread: taken as a new number
    again = await _posted_once(injury, "JS-31", catalogues)  # the hospital's retry: the number exists

    assert again == first
    async with injury.store.transaction() as tx:
        assert [e.event_type for e in await tx.load("settlement-H36001-JS-31")] == ["SettlementPosted"]
