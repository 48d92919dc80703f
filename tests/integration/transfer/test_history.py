"""What the transfer rules read of a person here, on real PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from importlib.resources import files

import asyncpg

from runtime import db
from runtime.eventstore import PostgresEventStore
from tests.seeding import HISTORY, young_citizen
from transfer.history import PostgresHistory

ONE, TWO = young_citizen(1), young_citizen(2)
RATE = Decimal("0.16")
NANCHANG, JIUJIANG = "91360102MA35L0XC0", "91360111MA35L0XC1"


async def with_history(pool: asyncpg.Pool, *rows: tuple[str, str, str, str, int, int, bool]) -> None:
    """The transfer database, with history rows (person, employer, month, citizen, base, account, paid)."""
    await db.migrate(pool, db.sql_files(("transfer", files("transfer") / "migrations")))
    records = [
        (person, employer, month, citizen, base, RATE, account, paid)
        for person, employer, month, citizen, base, account, paid in rows
    ]
    await pool.copy_records_to_table("history", records=records, columns=HISTORY)


async def test_a_persons_standing_is_enrolment_and_every_period_in_one_read(pool: asyncpg.Pool) -> None:
    await with_history(
        pool,
        ("p-1", NANCHANG, "2026-11", ONE, 510_000, 40_800, False),
        ("p-1", NANCHANG, "2026-10", ONE, 500_000, 40_000, True),
        ("p-2", NANCHANG, "2026-10", TWO, 500_000, 40_000, True),
    )
    await pool.copy_records_to_table(
        "employments",
        records=[
            ("p-1", NANCHANG, ["pension"], date(2026, 10, 1), None),
            ("p-2", NANCHANG, ["pension"], date(2026, 10, 1), date(2026, 10, 31)),
            ("p-3", NANCHANG, ["injury"], date(2026, 10, 1), None),
        ],
        columns=("person_ref", "employer_credit_code", "schemes", "hired_on", "ended_on"),
    )
    store = PostgresEventStore(pool)
    async with store.transaction() as tx:
        history = PostgresHistory(tx)
        enrolled, periods = await history.standing("p-1")
        left = await history.standing("p-2")
        other_scheme = await history.standing("p-3")
        nobody = await history.standing("p-4")

    assert enrolled is True
    assert [(p.month, p.base_fen, p.account_fen) for p in periods] == [
        ("2026-10", 500_000, 40_000),
        ("2026-11", 510_000, 40_800),
    ]
    assert (left[0], [p.month for p in left[1]]) == (False, ["2026-10"])  # employment ended: contributed, not enrolled
    assert other_scheme == (False, [])
    assert nobody == (False, [])


async def test_a_persons_ledger_is_the_paid_periods_and_each_unpaid_month_once_in_one_read(pool: asyncpg.Pool) -> None:
    await with_history(
        pool,
        ("p-1", NANCHANG, "2026-09", ONE, 490_000, 39_200, True),
        ("p-1", NANCHANG, "2026-11", ONE, 510_000, 40_800, False),
        ("p-1", NANCHANG, "2026-10", ONE, 500_000, 40_000, True),
        ("p-1", JIUJIANG, "2026-11", ONE, 100_000, 8_000, False),  # a second employer
        ("p-1", JIUJIANG, "2026-12", ONE, 100_000, 8_000, False),
        ("p-2", NANCHANG, "2026-08", TWO, 500_000, 40_000, False),
    )
    store = PostgresEventStore(pool)
    async with store.transaction() as tx:
        history = PostgresHistory(tx)
        paid, unpaid = await history.ledger("p-1")
        nobody = await history.ledger("p-4")

    assert [(p.month, p.base_fen, p.account_fen) for p in paid] == [
        ("2026-09", 490_000, 39_200),
        ("2026-10", 500_000, 40_000),
    ]
    assert unpaid == ["2026-11", "2026-12"]
    assert nobody == ([], [])
