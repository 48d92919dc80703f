"""The payroll on real PostgreSQL: written with the enrolments, filled from the log by its migration."""

from __future__ import annotations

from datetime import UTC, date, datetime
from importlib.resources import files
from uuid import uuid4

import asyncpg

from enrolment.domain.events import EmployeeEnrolled, EmploymentEnded, Event
from enrolment.domain.person import person_stream
from enrolment.payroll import PostgresPeople
from runtime import db
from runtime.eventstore import NewEvent, PostgresEventStore
from runtime.serialization import to_json
from tests.seeding import young_citizen

STEEL, SHOP = "91360102MA35L0XC0", "91360111MA35L0XC1"
AT = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def migrations() -> list[tuple[str, str]]:
    return db.sql_files(("enrolment", files("enrolment") / "migrations"))


def hired(ref: str, employer: str, on: date, schemes: tuple[str, ...] = ("pension", "work_injury")) -> EmployeeEnrolled:
    return EmployeeEnrolled(
        person_ref=ref,
        citizen_id=young_citizen(int(ref[2:])),
        employer_credit_code=employer,
        schemes=schemes,
        hired_on=on,
        declared_wage_fen=800_000,
        base_fen=800_000,
        clamped=False,
        enrolled_at=AT,
        late=False,
    )


def ended(ref: str, employer: str, on: date) -> EmploymentEnded:
    return EmploymentEnded(person_ref=ref, employer_credit_code=employer, ended_on=on, at=AT)


async def append(store: PostgresEventStore, ref: str, *events: Event) -> None:
    async with store.transaction() as tx:
        new = [NewEvent(uuid4(), type(e).__name__, to_json(e), {}) for e in events]
        await tx.append(person_stream(ref), 0, new)


async def test_the_migration_puts_on_the_payroll_each_persons_latest_employment_from_the_log(
    pool: asyncpg.Pool,
) -> None:
    every = migrations()
    at = next(i for i, (name, _) in enumerate(every) if name.endswith("_payroll.sql"))
    before, from_payroll = every[:at], every[at:]
    await db.migrate(pool, before)
    store = PostgresEventStore(pool)
    # p-1: left the steelworks, came back; p-2: left the shop for the steelworks; p-3: still at the shop.
    await append(
        store,
        "p-1",
        hired("p-1", STEEL, date(2025, 1, 6)),
        ended("p-1", STEEL, date(2025, 6, 30)),
        hired("p-1", STEEL, date(2026, 1, 5)),
    )
    await append(
        store,
        "p-2",
        hired("p-2", SHOP, date(2025, 3, 3)),
        ended("p-2", SHOP, date(2025, 12, 31)),
        hired("p-2", STEEL, date(2026, 1, 5), ("pension",)),
    )
    await append(store, "p-3", hired("p-3", SHOP, date(2025, 9, 1), ("work_injury",)))

    await db.migrate(pool, from_payroll)

    rows = await pool.fetch("SELECT * FROM payroll ORDER BY person_ref, employer_credit_code")
    assert [(r["person_ref"], r["employer_credit_code"], r["schemes"], r["hired_on"], r["ended_on"]) for r in rows] == [
        ("p-1", STEEL, ["pension", "work_injury"], date(2026, 1, 5), None),
        ("p-2", STEEL, ["pension"], date(2026, 1, 5), None),
        ("p-2", SHOP, ["pension", "work_injury"], date(2025, 3, 3), date(2025, 12, 31)),
        ("p-3", SHOP, ["work_injury"], date(2025, 9, 1), None),
    ]
    assert {r["person_ref"]: r["citizen_id"] for r in rows}["p-3"] == young_citizen(3)


async def test_an_employer_s_people_of_a_month_and_a_pension_held_here_are_read_from_the_payroll(
    pool: asyncpg.Pool,
) -> None:
    await db.migrate(pool, migrations())
    people = PostgresPeople(pool, b"salt")
    store = PostgresEventStore(pool)
    async with store.transaction() as tx:
        await people.hired(tx, [hired("p-1", STEEL, date(2026, 1, 5))])
        await people.hired(tx, [hired("p-2", STEEL, date(2026, 2, 10), ("work_injury",))])
        await people.hired(tx, [hired("p-3", STEEL, date(2026, 4, 1))])
        await people.ended(tx, [ended("p-1", STEEL, date(2026, 2, 27))])
    rolled_back = False
    try:
        async with store.transaction() as tx:
            await people.hired(tx, [hired("p-4", STEEL, date(2026, 1, 5))])
            raise RuntimeError("the decision failed")
    except RuntimeError:
        rolled_back = True

    assert rolled_back
    assert await people.employees_of(STEEL, "2026-02") == [("p-1", young_citizen(1)), ("p-2", young_citizen(2))]
    assert [ref for ref, _ in await people.employees_of(STEEL, "2026-03")] == ["p-2"]
    assert [ref for ref, _ in await people.employees_of(STEEL, "2026-04")] == ["p-2", "p-3"]
    assert await people.employees_of(SHOP, "2026-02") == []
    # Answered in the order asked: ended in February; work injury only; not hired before April; unknown.
    asked = [("p-1", "2026-02"), ("p-1", "2026-03"), ("p-2", "2026-02"), ("p-3", "2026-03"), ("p-3", "2026-04")]
    assert await people.active_pensions([*asked, ("p-9", "2026-02")]) == [True, False, False, False, True, False]
    assert await people.active_pensions([("p-3", "2026-04"), ("p-1", "2026-02")]) == [True, True]
    # Enrolled again after the end: on the payroll from the new date, the end forgotten.
    async with store.transaction() as tx:
        await people.hired(tx, [hired("p-1", STEEL, date(2026, 5, 4))])
    assert await people.active_pensions([("p-1", "2026-05"), ("p-1", "2026-04")]) == [True, False]
    # Several employers' people at once (a batch of the month's assessment): a line per person and job.
    async with store.transaction() as tx:
        await people.hired(tx, [hired("p-3", SHOP, date(2026, 1, 5), ("work_injury",))])
    assert await people.payroll_of([SHOP, STEEL], "2026-02") == [
        ("p-2", STEEL, young_citizen(2)),
        ("p-3", SHOP, young_citizen(3)),
    ]
    assert [(ref, employer) for ref, employer, _ in await people.payroll_of([SHOP, STEEL], "2026-04")] == [
        ("p-2", STEEL),
        ("p-3", STEEL),
        ("p-3", SHOP),
    ]
