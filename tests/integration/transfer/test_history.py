"""What the transfer rules read of a person here, on real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from importlib.resources import files
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from contracts.codec import encode
from contracts.enrolment.events import (
    AssessedLineV2,
    AssessedLineV3,
    ContributionAssessedV1,
    ContributionAssessedV2,
    ContributionAssessedV3,
    ContributionPaidV1,
    ContributionPaidV2,
    ContributionPaidV3,
    EmployeeEnrolledV1,
    EmployeeEnrolledV2,
    EmploymentEndedV1,
    EmploymentEndedV2,
    EndedLineV2,
    EnrolledLineV2,
    PaidLineV2,
    PaidLineV3,
)
from contracts.envelope import SYSTEM_ACTOR, Channel, envelope_for
from contracts.subjects import Subjects
from runtime import db
from runtime.eventstore import PostgresEventStore, PostgresTransaction
from runtime.messaging import Delivery
from tests.seeding import HISTORY, young_citizen
from transfer.history import PostgresHistory, history_consumer

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


async def test_peoples_periods_read_ahead_in_one_read_answer_as_each_persons_own_read(pool: asyncpg.Pool) -> None:
    await with_history(
        pool,
        ("p-1", NANCHANG, "2026-10", ONE, 500_000, 40_000, True),
        ("p-1", NANCHANG, "2026-09", ONE, 490_000, 39_200, True),
        ("p-1", JIUJIANG, "2026-11", ONE, 100_000, 8_000, False),
        ("p-2", NANCHANG, "2026-08", TWO, 500_000, 40_000, True),
    )
    store = PostgresEventStore(pool)
    async with store.transaction() as tx:
        alone = [
            (await PostgresHistory(tx).ledger(p), await PostgresHistory(tx).periods(p)) for p in ("p-1", "p-2", "p-3")
        ]
    async with pool.acquire() as conn:
        sent: list[str] = []
        conn.add_query_logger(lambda query: sent.append(query.query))
        tx = PostgresTransaction(conn)
        await PostgresHistory(tx).read_ahead(["p-2", "p-1", "p-3", "p-1"])
        ahead = [
            (await PostgresHistory(tx).ledger(p), await PostgresHistory(tx).periods(p)) for p in ("p-1", "p-2", "p-3")
        ]
        await PostgresHistory(tx).read_ahead(["p-3"])  # known: not read again
        await tx.commit()

    assert ahead == alone
    assert [p.month for p in alone[0][1]] == ["2026-09", "2026-10", "2026-11"] and alone[2] == (([], []), [])
    assert len(sent) == 1 and "ANY($1::text[])" in sent[0]


def _delivery(subjects: Subjects, name: str, data: Any, version: int = 1) -> Delivery:
    envelope = envelope_for(
        data,
        service="enrolment",
        message=name,
        version=version,
        region="36",
        actor=SYSTEM_ACTOR,
        channel=Channel.SYSTEM,
        time=datetime(2026, 11, 20, tzinfo=UTC),
        correlationid=uuid4(),
    )
    return Delivery(subjects.event("36", "enrolment", name, version), encode(envelope), {}, uuid4(), 1)


# A person's month as every version writes it: the base, what employer and worker owe, the pension
# part and the individual account.
MONTH_FEN = {
    "base_fen": 500_000,
    "employer_total_fen": 90_000,
    "worker_total_fen": 50_000,
    "pension_employer_fen": 80_000,
    "account_fen": 40_000,
}


def _assessed(person: str, citizen: str, month: str) -> ContributionAssessedV1:
    return ContributionAssessedV1(
        person_ref=person,
        citizen_id=citizen,
        employer_credit_code=NANCHANG,
        region="36",
        month=month,
        **MONTH_FEN,
        due_on=date(2026, 11, 15),
    )


def _paid(person: str, month: str) -> ContributionPaidV1:
    return ContributionPaidV1(
        person_ref=person,
        employer_credit_code=NANCHANG,
        month=month,
        amount_fen=140_000,
        late_fee_fen=0,
        paid_on=date(2026, 11, 10),
    )


def _assessed_month(*people: tuple[str, str], month: str) -> ContributionAssessedV2:
    """Version 2: a payroll's month, a line per person (as the enrolment service publishes it)."""
    return ContributionAssessedV2(
        employer_credit_code=NANCHANG,
        region="36",
        month=month,
        due_on=date(2026, 11, 15),
        lines=[
            AssessedLineV2(
                person_ref=person,
                citizen_id=citizen,
                **MONTH_FEN,
            )
            for person, citizen in people
        ],
    )


def _paid_month(*people: str, month: str) -> ContributionPaidV2:
    return ContributionPaidV2(
        employer_credit_code=NANCHANG,
        month=month,
        paid_on=date(2026, 11, 10),
        lines=[PaidLineV2(person_ref=person, amount_fen=140_000, late_fee_fen=0) for person in people],
    )


def _assessed_lines(*people: tuple[str, str, str], month: str) -> ContributionAssessedV3:
    """Version 3: a chunk of a month, a line per person (person, citizen, employer), whatever their
    employers (as the enrolment service publishes it)."""
    return ContributionAssessedV3(
        region="36",
        month=month,
        due_on=date(2026, 11, 15),
        lines=[
            AssessedLineV3(
                person_ref=person,
                citizen_id=citizen,
                employer_credit_code=employer,
                **MONTH_FEN,
            )
            for person, citizen, employer in people
        ],
    )


def _paid_lines(*people: tuple[str, str], month: str) -> ContributionPaidV3:
    return ContributionPaidV3(
        month=month,
        paid_on=date(2026, 11, 10),
        lines=[
            PaidLineV3(person_ref=person, employer_credit_code=employer, amount_fen=140_000, late_fee_fen=0)
            for person, employer in people
        ],
    )


HIRED = EmployeeEnrolledV1(
    person_ref="p-1",
    citizen_id=ONE,
    employer_credit_code=NANCHANG,
    schemes=["pension"],
    hired_on=date(2026, 9, 1),
    base_fen=500_000,
    late=False,
)
ENDED = EmploymentEndedV1(person_ref="p-1", employer_credit_code=NANCHANG, ended_on=date(2026, 10, 31))
REHIRED = HIRED.model_copy(update={"hired_on": date(2026, 11, 2)})


def _enrolled_file(*hired: EmployeeEnrolledV1) -> EmployeeEnrolledV2:
    """The people one decision enrolled, as version 2 publishes them: one message, a line each."""
    return EmployeeEnrolledV2(lines=[EnrolledLineV2(**one.model_dump()) for one in hired])


def _ended_file(*ended: EmploymentEndedV1) -> EmploymentEndedV2:
    """The employments one decision ended, as version 2 publishes them: one message, a line each."""
    return EmploymentEndedV2(lines=[EndedLineV2(**one.model_dump()) for one in ended])


# The same facts as the stream holds them: a person's month or enrolment per message (version 1), an
# employer's month per message (version 2), a chunk of a month whatever its employers, or a decision's
# enrolments, per message (version 3 of the contributions, 2 of the enrolments, as published now),
# and one version after another.
FACTS: dict[str, list[tuple[str, int, Any]]] = {
    "v1": [
        ("employee_enrolled", 1, HIRED),
        ("contribution_assessed", 1, _assessed("p-1", ONE, "2026-09")),
        ("contribution_assessed", 1, _assessed("p-2", TWO, "2026-09")),
        ("contribution_paid", 1, _paid("p-1", "2026-09")),
        ("contribution_paid", 1, _paid("p-2", "2026-09")),
        ("contribution_assessed", 1, _assessed("p-1", ONE, "2026-10")),
        ("employment_ended", 1, ENDED),
        ("employee_enrolled", 1, REHIRED),
        ("contribution_paid", 1, _paid("p-1", "2026-10")),
        ("contribution_assessed", 1, _assessed("p-1", ONE, "2026-11")),
    ],
    "v2": [
        ("employee_enrolled", 2, _enrolled_file(HIRED)),
        ("contribution_assessed", 2, _assessed_month(("p-1", ONE), ("p-2", TWO), month="2026-09")),
        ("contribution_paid", 2, _paid_month("p-1", "p-2", month="2026-09")),
        ("contribution_assessed", 2, _assessed_month(("p-1", ONE), month="2026-10")),
        ("employment_ended", 1, ENDED),
        ("employee_enrolled", 2, _enrolled_file(REHIRED)),
        ("contribution_paid", 2, _paid_month("p-1", month="2026-10")),
        ("contribution_assessed", 2, _assessed_month(("p-1", ONE), month="2026-11")),
    ],
    "v3": [
        ("employee_enrolled", 2, _enrolled_file(HIRED)),
        ("contribution_assessed", 3, _assessed_lines(("p-1", ONE, NANCHANG), ("p-2", TWO, JIUJIANG), month="2026-09")),
        ("contribution_paid", 3, _paid_lines(("p-1", NANCHANG), ("p-2", JIUJIANG), month="2026-09")),
        ("contribution_assessed", 3, _assessed_lines(("p-1", ONE, NANCHANG), month="2026-10")),
        ("employment_ended", 2, _ended_file(ENDED)),
        ("employee_enrolled", 2, _enrolled_file(REHIRED)),
        ("contribution_paid", 3, _paid_lines(("p-1", NANCHANG), month="2026-10")),
        ("contribution_assessed", 3, _assessed_lines(("p-1", ONE, NANCHANG), month="2026-11")),
    ],
    "v2 then v3": [
        ("employee_enrolled", 1, HIRED),
        ("contribution_assessed", 2, _assessed_month(("p-1", ONE), ("p-2", TWO), month="2026-09")),
        ("contribution_paid", 3, _paid_lines(("p-1", NANCHANG), ("p-2", NANCHANG), month="2026-09")),
        ("contribution_assessed", 3, _assessed_lines(("p-1", ONE, NANCHANG), month="2026-10")),
        ("employment_ended", 1, ENDED),
        ("employee_enrolled", 2, _enrolled_file(REHIRED)),
        ("contribution_paid", 2, _paid_month("p-1", month="2026-10")),
        ("contribution_assessed", 3, _assessed_lines(("p-1", ONE, NANCHANG), month="2026-11")),
    ],
    "v1 then v2": [
        ("employee_enrolled", 1, HIRED),
        ("contribution_assessed", 1, _assessed("p-1", ONE, "2026-09")),
        ("contribution_assessed", 1, _assessed("p-2", TWO, "2026-09")),
        ("contribution_paid", 2, _paid_month("p-1", "p-2", month="2026-09")),
        ("contribution_assessed", 2, _assessed_month(("p-1", ONE), month="2026-10")),
        ("employment_ended", 1, ENDED),
        ("employee_enrolled", 2, _enrolled_file(REHIRED)),
        ("contribution_paid", 1, _paid("p-1", "2026-10")),
        ("contribution_assessed", 2, _assessed_month(("p-1", ONE), month="2026-11")),
    ],
}


async def _fed(pool: asyncpg.Pool, facts: list[tuple[str, int, Any]]) -> list[list[str]]:
    """The history consumer handed `facts` (name, version, data) as one fetch; whose payments it reported."""
    await with_history(pool)
    subjects = Subjects("yiwang")
    paid_by: list[list[str]] = []

    async def on_paid(tx: Any, person_refs: list[str], history: Any) -> None:
        paid_by.append(person_refs)

    spec = history_consumer(subjects, "36", on_paid)
    deliveries = [_delivery(subjects, name, data, version) for name, version, data in facts]
    assert {d.subject for d in deliveries} <= set(spec.filter_subjects)  # the consumer is fed all of them
    assert spec.batch_handler is not None
    async with PostgresEventStore(pool).transaction() as tx:
        await spec.batch_handler(tx, deliveries)
    return paid_by


@pytest.mark.parametrize("kind", FACTS)
async def test_a_fetch_of_enrolment_facts_is_kept_in_stream_order_in_a_few_statements(
    pool: asyncpg.Pool, kind: str
) -> None:
    paid_by = await _fed(pool, FACTS[kind])

    rows = await pool.fetch("SELECT person_ref, month, paid, employer_rate FROM history ORDER BY person_ref, month")
    assert [(r["person_ref"], r["month"], r["paid"]) for r in rows] == [
        ("p-1", "2026-09", True),
        ("p-1", "2026-10", True),  # assessed before its payment, two runs earlier
        ("p-1", "2026-11", False),
        ("p-2", "2026-09", True),
    ]
    assert {r["employer_rate"] for r in rows} == {Decimal("0.16")}
    employment = await pool.fetchrow("SELECT hired_on, ended_on FROM employments WHERE person_ref = 'p-1'")
    assert (employment["hired_on"], employment["ended_on"]) == (date(2026, 11, 2), None)  # enrolled again after the end
    assert paid_by == [["p-1", "p-2"]]


async def test_a_files_enrolments_are_each_an_employment_whatever_their_employers(pool: asyncpg.Pool) -> None:
    other = HIRED.model_copy(update={"person_ref": "p-2", "citizen_id": TWO, "employer_credit_code": JIUJIANG})

    await _fed(pool, [("employee_enrolled", 2, _enrolled_file(HIRED, other))])

    rows = await pool.fetch("SELECT person_ref, employer_credit_code, hired_on FROM employments ORDER BY person_ref")
    assert [tuple(r) for r in rows] == [("p-1", NANCHANG, date(2026, 9, 1)), ("p-2", JIUJIANG, date(2026, 9, 1))]


async def test_a_files_ends_each_end_an_employment_whatever_their_employers(pool: asyncpg.Pool) -> None:
    other = HIRED.model_copy(update={"person_ref": "p-2", "citizen_id": TWO, "employer_credit_code": JIUJIANG})
    other_ended = ENDED.model_copy(update={"person_ref": "p-2", "employer_credit_code": JIUJIANG})

    await _fed(
        pool,
        [
            ("employee_enrolled", 2, _enrolled_file(HIRED, other)),
            ("employment_ended", 2, _ended_file(ENDED, other_ended)),
        ],
    )

    rows = await pool.fetch("SELECT person_ref, employer_credit_code, ended_on FROM employments ORDER BY person_ref")
    assert [tuple(r) for r in rows] == [("p-1", NANCHANG, date(2026, 10, 31)), ("p-2", JIUJIANG, date(2026, 10, 31))]


async def test_a_month_of_no_lines_changes_nothing(pool: asyncpg.Pool) -> None:
    paid_by = await _fed(
        pool,
        [
            ("contribution_assessed", 2, _assessed_month(month="2026-09")),
            ("contribution_paid", 2, _paid_month(month="2026-09")),
        ],
    )

    assert await pool.fetchval("SELECT count(*) FROM history") == 0
    assert paid_by == []
