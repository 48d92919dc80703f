"""The transfer inbox on real PostgreSQL: a fetch of letters read at once, answered as each alone.

Two regions' transfer databases: 36 (new) applies for its people, 44 (old) answers the contact
letters from its history, 36 completes on the sheet and the funds. Half the cases go a fetch at a
time, as the consumer hands them over (`ConsumerSpec.prepare`, then each letter's handler, in one
transaction); the other half letter by letter, each in its own transaction, as a retry would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from functools import partial
from importlib.resources import files
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from contracts.codec import decode
from contracts.envelope import Actor, Channel
from contracts.identifiers import pseudonym
from contracts.subjects import Subjects
from contracts.transfer.commands import ApplyForTransfer
from contracts.transfer.messages import TransferStagesV2
from runtime import db
from runtime.clock import FixedClock
from runtime.deadlines import CalendarBook, Timers
from runtime.eventstore import PostgresEventStore, PostgresTransaction
from runtime.messaging import ConsumerSpec, Delivery
from runtime.recording import CommandContext, EventRecorder
from runtime.workdays import WorkingDayCalendar, years_from_chinese_calendar
from tests.conftest import create_database
from tests.seeding import seed_transfer_histories, young_citizen
from transfer.application import cases
from transfer.bootstrap import EVENT_TYPES, SERVICE
from transfer.entrypoints.inbox import inbox_consumer
from transfer.history import PostgresHistory
from transfer.translation import to_public

SALT = b"inbox-test-salt-of-16+"
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
PEOPLE = [young_citizen(i) for i in range(1, 7)]
TOGETHER, ALONE = PEOPLE[:3], PEOPLE[3:]
CLERK = Actor(kind="operator", id="clerk-1")


class Region:
    def __init__(self, pool: asyncpg.Pool, region: str, subjects: Subjects) -> None:
        self.pool, self.region = pool, region
        self.store = PostgresEventStore(pool)
        self.recorder = EventRecorder(SERVICE, subjects, EVENT_TYPES, partial(to_public, region=region))
        self.timers = Timers(CalendarBook(WorkingDayCalendar(years_from_chinese_calendar(2024, 2026))))
        self.inbox: ConsumerSpec = inbox_consumer(
            subjects, region, FixedClock(NOW), recorder=self.recorder, deadlines=self.timers
        )

    async def letters_to(self, region: str, case_ids: Sequence[str]) -> list[Delivery]:
        """The letters this region's outbox holds for `region`'s inbox about these cases, in order."""
        rows = await self.pool.fetch(
            "SELECT message_id, subject, payload, headers FROM outbox WHERE subject LIKE $1 ORDER BY id",
            f"%.{region}.transfer.in.%",
        )
        picked = [r for r in rows if any(case_id.encode() in bytes(r["payload"]) for case_id in case_ids)]
        return [Delivery(r["subject"], bytes(r["payload"]), r["headers"], r["message_id"], 1) for r in picked]

    async def fetch_at_once(self, deliveries: Sequence[Delivery]) -> list[str]:
        """As `PullConsumer.handle_batch` applies a fetch of first deliveries: presumed new (claimed
        at the commit), read ahead, each handled, one commit; returns the statements sent after the
        read-ahead."""
        async with self.pool.acquire() as conn:
            tx = PostgresTransaction(conn)
            await tx.claim_at_commit(self.inbox.durable, [d.message_id for d in deliveries])
            assert self.inbox.prepare is not None
            await self.inbox.prepare(tx, deliveries)
            sent: list[str] = []

            def log(query: Any) -> None:
                sent.append(query.query)

            conn.add_query_logger(log)
            for delivery in deliveries:
                await self.inbox.handler(tx, delivery)
            await tx.commit()
            conn.remove_query_logger(log)
        return sent

    async def one_by_one(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            async with self.store.transaction() as tx:
                await self.inbox.handler(tx, delivery)

    async def stages(self, case_id: str) -> list[list[str]]:
        """The steps of each `transfer_stage` message this region's outbox holds for the case, in order."""
        rows = await self.pool.fetch(
            "SELECT payload FROM outbox WHERE subject LIKE '%.transfer.evt.transfer_stage.v2' ORDER BY id"
        )
        messages = [decode(bytes(r["payload"]), TransferStagesV2).data for r in rows]
        return [[step.step for step in m.steps] for m in messages if m.case_id == case_id]

    async def causes(self, case_id: str) -> dict[str, str]:
        """Each event of the case's stream: the message it was decided on."""
        rows = await self.pool.fetch(
            "SELECT event_type, metadata->>'causation_id' AS cause FROM events WHERE stream_id = $1",
            f"transfer-{case_id}",
        )
        return {r["event_type"]: r["cause"] for r in rows}

    async def steps(self, prefix: str, case_id: str) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version", f"{prefix}{case_id}"
        )
        return [r["event_type"] for r in rows]


@pytest.fixture
async def regions(servers: Any, subject_root: str) -> AsyncIterator[tuple[Region, Region]]:
    subjects = Subjects(subject_root)
    pools = []
    for _ in range(2):
        pool = await db.create_pool(await create_database(servers.postgres_admin_url), size=4)
        await db.migrate(pool, db.sql_files(("runtime", db.runtime_migrations())))
        await db.migrate(pool, db.sql_files(("transfer", files("transfer") / "migrations")))
        pools.append(pool)
    new, old = Region(pools[0], "36", subjects), Region(pools[1], "44", subjects)
    await seed_transfer_histories(old.pool, new.pool, PEOPLE, SALT)
    yield new, old
    for pool in pools:
        await pool.close()


async def _apply(new: Region, citizen: str) -> str:
    ctx = CommandContext(
        command_id=uuid4(),
        correlation_id=uuid4(),
        causation_id=None,
        actor=CLERK,
        channel=Channel.WEB_HALL,
        region="36",
        now=NOW,
    )
    person_ref = pseudonym(citizen, salt=SALT)
    async with new.store.transaction() as tx:
        outcome = await cases.apply_for_transfer(
            tx,
            ApplyForTransfer(citizen_id=citizen, from_region="44"),
            ctx,
            recorder=new.recorder,
            standing=await PostgresHistory(tx).standing(person_ref),
            deadlines=new.timers,
            person_ref=person_ref,
        )
    assert outcome["status"] == "contact_letter_sent"
    return str(outcome["case_id"])


async def test_a_fetch_of_letters_is_read_at_once_and_answered_as_each_letter_alone(
    regions: tuple[Region, Region],
) -> None:
    new, old = regions
    together = [await _apply(new, citizen) for citizen in TOGETHER]
    alone = [await _apply(new, citizen) for citizen in ALONE]

    # The old region: contact letters, then the new region: sheets and funds (both halves in one fetch).
    contact_letters = await new.letters_to("44", together)
    assert len(contact_letters) == 3
    answered_together = await old.fetch_at_once(contact_letters)
    await old.one_by_one(await new.letters_to("44", alone))
    sheets_and_funds = await old.letters_to("36", together)
    assert len(sheets_and_funds) == 6
    completed_together = await new.fetch_at_once(sheets_and_funds)
    await new.one_by_one(await old.letters_to("36", alone))

    # After the read-ahead, the letters' decisions read nothing: their writes and the fetch's claims
    # go as one statement; the old region's under its people's locks, before the COMMIT, and the new
    # region's, which locks nothing, as the commit itself.
    assert len(answered_together) == 2 and answered_together[-1] == "COMMIT"
    assert "INSERT INTO events" in answered_together[0] and "INSERT INTO inbox" in answered_together[0]
    assert len(completed_together) == 1 and "BEGIN" not in completed_together[0]
    assert "INSERT INTO events" in completed_together[0] and "INSERT INTO inbox" in completed_together[0]
    # And they come to what each letter alone comes to.
    for case_id in together + alone:
        assert await old.steps("transfer-out-", case_id) == [
            "ContactLetterReceived",
            "InformationSheetIssued",
            "FundsTransferred",
            "LocalRelationshipTerminated",
        ]
        assert (await new.steps("transfer-", case_id))[-3:] == [
            "InformationSheetReceived",
            "FundsReceived",
            "TransferCompleted",
        ]
    assert len(await old.letters_to("36", alone)) == 6
    # A case's sheet and funds in one fetch: decided each on its own message, recorded as one append,
    # their steps one public message; each alone, a message each.
    letter_sent = ["contact_letter_sent"]
    for case_id in together:
        assert await new.stages(case_id) == [letter_sent, ["information_sheet_received", "funds_received", "completed"]]
    for case_id in alone:
        assert await new.stages(case_id) == [
            letter_sent,
            ["information_sheet_received"],
            ["funds_received", "completed"],
        ]
    sheet, funds = await old.letters_to("36", together[:1])
    assert await new.causes(together[0]) == {
        "TransferApplied": None,
        "ContactLetterSent": None,
        "InformationSheetReceived": str(sheet.message_id),
        "FundsReceived": str(funds.message_id),
        "TransferCompleted": str(funds.message_id),
    }
    assert await new.pool.fetchval("SELECT count(*) FROM deadlines WHERE status = 'pending'") == 0
