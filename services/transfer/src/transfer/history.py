"""The contribution history of this region, kept from the enrolment service's public events."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

import asyncpg
import nats.errors
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from pydantic import ValidationError

from contracts.codec import decode
from contracts.enrolment.commands import PersonStanding
from contracts.enrolment.events import (
    AssessedLineV2,
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
)
from contracts.subjects import Subjects
from runtime.batching import json_rows
from runtime.clock import Clock
from runtime.eventstore import PostgresTransaction, Transaction
from runtime.messaging import ConsumerSpec, Delivery, PoisonMessageError, consumer_caught_up
from runtime.requests import ask_service
from transfer.domain.values import Period, PeriodKind

log = logging.getLogger(__name__)

OnPaid = Callable[[PostgresTransaction, list[str], "PostgresHistory"], Awaitable[None]]

# (message, version): contributions come a decision's lines per message in version 3 (a chunk of a
# month, whatever the employers), enrolments and their ends in version 2; the stream's history before
# holds version 2 of the contributions (an employer's month per message) and version 1 of all (a
# person's month, enrolment or end).
SOURCES = (
    ("employee_enrolled", 1),
    ("employee_enrolled", 2),
    ("employment_ended", 1),
    ("employment_ended", 2),
    ("contribution_assessed", 1),
    ("contribution_paid", 1),
    ("contribution_assessed", 2),
    ("contribution_paid", 2),
    ("contribution_assessed", 3),
    ("contribution_paid", 3),
)


# The enrolment service publishes an enrolment (or a file's) at a time: waiting this long after a short
# fetch lets a few share one transaction (an application checks the copy is up to date first: see `catch_up`).
HISTORY_LINGER = 0.025

_ASSESSED = (
    "INSERT INTO history (person_ref, employer_credit_code, month, citizen_id, base_fen, employer_rate, account_fen) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::numeric[], $7::bigint[]) "
    "ON CONFLICT DO NOTHING"
)
_PAID = (
    "UPDATE history h SET paid = true FROM "
    + json_rows("person_ref, employer, month", "text, text, text")
    + " WHERE h.person_ref = r.person_ref AND h.employer_credit_code = r.employer AND h.month = r.month"
)
_ENROLLED = (
    "INSERT INTO employments (person_ref, employer_credit_code, schemes, hired_on) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (person_ref, employer_credit_code) DO UPDATE SET schemes = EXCLUDED.schemes, "
    "hired_on = EXCLUDED.hired_on, ended_on = NULL"
)
_ENDED = "UPDATE employments SET ended_on = $3 WHERE person_ref = $1 AND employer_credit_code = $2"


def _assessed(a: ContributionAssessedV1 | AssessedLineV2, employer: str, month: str) -> tuple[Any, ...]:
    rate = Decimal(a.pension_employer_fen) / Decimal(a.base_fen) if a.base_fen else Decimal(0)
    return (
        a.person_ref,
        employer,
        month,
        a.citizen_id,
        a.base_fen,
        rate.quantize(Decimal("0.000001")),
        a.account_fen,
    )


def _assessed_rows(version: int, raw: bytes) -> list[tuple[Any, ...]]:
    if version == 1:
        one = decode(raw, ContributionAssessedV1).data
        return [_assessed(one, one.employer_credit_code, one.month)]
    if version == 2:
        month = decode(raw, ContributionAssessedV2).data
        return [_assessed(line, month.employer_credit_code, month.month) for line in month.lines]
    chunk = decode(raw, ContributionAssessedV3).data
    return [_assessed(line, line.employer_credit_code, chunk.month) for line in chunk.lines]


def _enrolled_lines(version: int, raw: bytes) -> Sequence[EmployeeEnrolledV1]:
    if version == 1:
        return [decode(raw, EmployeeEnrolledV1).data]
    return decode(raw, EmployeeEnrolledV2).data.lines


def _ended_lines(version: int, raw: bytes) -> Sequence[EmploymentEndedV1]:
    if version == 1:
        return [decode(raw, EmploymentEndedV1).data]
    return decode(raw, EmploymentEndedV2).data.lines


def _paid_rows(version: int, raw: bytes) -> list[tuple[str, str, str]]:
    if version == 1:
        one = decode(raw, ContributionPaidV1).data
        return [(one.person_ref, one.employer_credit_code, one.month)]
    if version == 2:
        month = decode(raw, ContributionPaidV2).data
        return [(line.person_ref, month.employer_credit_code, month.month) for line in month.lines]
    chunk = decode(raw, ContributionPaidV3).data
    return [(line.person_ref, line.employer_credit_code, chunk.month) for line in chunk.lines]


async def _apply_run(conn: asyncpg.Connection, name: str, version: int, run: list[bytes]) -> list[str]:
    """Store a run of enrolment facts of one kind, in stream order; returns whose contributions were paid.

    Months assessed or paid go in one statement per run (the common case: a payroll's month at
    once); enrolments and their ends, overwriting, one statement each, in order, sent together
    (`executemany`: one round trip)."""
    if name == "contribution_assessed":
        rows = [row for raw in run for row in _assessed_rows(version, raw)]
        if rows:  # a month of no lines is valid, and changes nothing
            await conn.execute(_ASSESSED, *(list(column) for column in zip(*rows, strict=True)))
    elif name == "contribution_paid":
        paid = [row for raw in run for row in _paid_rows(version, raw)]
        if paid:
            await conn.execute(_PAID, paid)
        return [person_ref for person_ref, _, _ in paid]
    elif name == "employee_enrolled":
        enrolled = [line for raw in run for line in _enrolled_lines(version, raw)]
        await conn.executemany(
            _ENROLLED, [(e.person_ref, e.employer_credit_code, e.schemes, e.hired_on) for e in enrolled]
        )
    elif name == "employment_ended":
        ended = [line for raw in run for line in _ended_lines(version, raw)]
        await conn.executemany(_ENDED, [(x.person_ref, x.employer_credit_code, x.ended_on) for x in ended])
    return []


def _kind(delivery: Delivery) -> tuple[str, int]:
    """(message, version) of `<root>.<region>.enrolment.evt.<message>.v<version>`."""
    *_, name, version = delivery.subject.split(".")
    return name, int(version.removeprefix("v"))


def history_durable(region: str) -> str:
    return f"transfer-{region}-history"


class HistoryFeed:
    """How far this region's copy of the enrolment history has come, as JetStream sees its consumer."""

    def __init__(self, js: JetStreamContext, stream: str, durable: str, *, patience: float = 5.0) -> None:
        self.js, self.stream, self.durable, self.patience = js, stream, durable, patience

    async def applied_up_to_now(self) -> bool:
        """Whether the copy holds every enrolment event the stream held at the call (waiting
        `patience` seconds at most); False if not, or if JetStream could not say."""
        return await consumer_caught_up(self.js, self.stream, self.durable, patience=self.patience)


class EnrolmentRecord:
    """The enrolment service of this region, asked over NATS about one person by their own record
    (`person_standing`): the word a refusal waits for when the copy says no."""

    def __init__(self, nc: NatsClient, subjects: Subjects, clock: Clock, region: str, *, timeout: float = 2.0) -> None:
        self.nc, self.subjects, self.clock, self.region, self.timeout = nc, subjects, clock, region, timeout

    async def contributing(self, person_ref: str) -> bool | None:
        """Enrolled with a pension now and at least one month assessed, by the enrolment service's
        record; None if it cannot say (not running, not answering, or not knowing the question), and
        the copy decides, as it did before the question existed."""
        try:
            reply = await ask_service(
                self.nc,
                self.subjects,
                self.clock,
                region=self.region,
                service="enrolment",
                name="person_standing",
                data=PersonStanding(person_ref=person_ref),
                timeout=self.timeout,
            )
        except (nats.errors.Error, TimeoutError, ValidationError) as error:
            log.warning("enrolment record not asked", extra={"error": repr(error)})
            return None
        if not reply.ok or not isinstance(reply.result, dict):
            return None
        return bool(reply.result.get("enrolled")) and int(reply.result.get("months", 0)) > 0


def history_consumer(subjects: Subjects, region: str, on_paid: OnPaid) -> ConsumerSpec:
    """Consumes the enrolment events of the same region (never its tables), a fetch at a time; `on_paid`
    runs in the same transaction after contributions are recorded as paid (a waiting contact letter
    may now be answered)."""

    async def apply(tx: Transaction, deliveries: Sequence[Delivery]) -> None:
        if not isinstance(tx, PostgresTransaction):
            raise TypeError("the history lives in PostgreSQL")
        conn = await tx.connection()
        paid_by: list[str] = []
        for (name, version), run in itertools.groupby(deliveries, key=_kind):
            try:
                paid_by += await _apply_run(conn, name, version, [d.data for d in run])
            except ValidationError as error:
                raise PoisonMessageError(f"{name}: {error.error_count()} invalid fields") from error
        if paid_by:
            await on_paid(tx, sorted(set(paid_by)), PostgresHistory(tx))

    filters = tuple(subjects.event(region, "enrolment", name, version) for name, version in SOURCES)
    return ConsumerSpec.batched(
        history_durable(region), subjects.events_stream(region, "enrolment"), filters, apply, linger=HISTORY_LINGER
    )


def _period(row: asyncpg.Record) -> Period:
    return Period(
        month=row["month"],
        base_fen=row["base_fen"],
        kind=PeriodKind.EMPLOYEE,
        employer_rate=row["employer_rate"],
        account_fen=row["account_fen"],
    )


# A transaction's history rows read ahead (`PostgresHistory.read_ahead`), by person: its memo's key.
_READ_AHEAD = "transfer.history.read_ahead"
_ROWS = "SELECT month, base_fen, employer_rate, account_fen, paid FROM history WHERE person_ref = $1 ORDER BY month"
_ROWS_OF_MANY = (
    "SELECT person_ref, month, base_fen, employer_rate, account_fen, paid FROM history "
    "WHERE person_ref = ANY($1::text[]) ORDER BY person_ref, month"
)


class PostgresHistory:
    """What the transfer rules need to know about a person here."""

    def __init__(self, tx: PostgresTransaction) -> None:
        self.tx = tx

    async def read_ahead(self, person_refs: Sequence[str]) -> None:
        """Read these people's periods in one round trip for the decisions later in this transaction
        (a batch of letters): `periods` and `ledger` then answer from it. Only for a transaction
        that writes no history itself (the inbox's); take the people's `lock` first where the
        decisions would."""
        ahead: dict[str, list[asyncpg.Record]] = self.tx.memo.setdefault(_READ_AHEAD, {})
        wanted = sorted({ref for ref in person_refs if ref not in ahead})
        if not wanted:
            return
        rows = await (await self.tx.reader()).fetch(_ROWS_OF_MANY, wanted)
        for ref in wanted:
            ahead[ref] = []
        for row in rows:
            ahead[row["person_ref"]].append(row)

    async def _rows(self, person_ref: str) -> list[asyncpg.Record]:
        ahead: dict[str, list[asyncpg.Record]] = self.tx.memo.get(_READ_AHEAD, {})
        if person_ref in ahead:
            return ahead[person_ref]
        return list(await (await self.tx.reader()).fetch(_ROWS, person_ref))

    async def standing(self, person_ref: str) -> tuple[bool, list[Period]]:
        """(enrolled here with a pension now, every period recorded here): one round trip."""
        rows = await (await self.tx.reader()).fetch(
            "SELECT EXISTS (SELECT 1 FROM employments WHERE person_ref = $1 AND ended_on IS NULL "
            "AND 'pension' = ANY(schemes)) AS enrolled, h.month, h.base_fen, h.employer_rate, h.account_fen "
            "FROM (VALUES (1)) AS one (x) LEFT JOIN history h ON h.person_ref = $1 ORDER BY h.month",
            person_ref,
        )
        return bool(rows[0]["enrolled"]), [_period(r) for r in rows if r["month"] is not None]

    async def periods(self, person_ref: str) -> list[Period]:
        """Every period recorded here, paid or not."""
        return [_period(r) for r in await self._rows(person_ref)]

    async def ledger(self, person_ref: str) -> tuple[list[Period], list[str]]:
        """(the periods paid here, the months with something unpaid): one round trip."""
        rows = await self._rows(person_ref)
        unpaid = dict.fromkeys(r["month"] for r in rows if not r["paid"])  # in month order, each once
        return [_period(r) for r in rows if r["paid"]], list(unpaid)

    async def lock(self, *person_refs: str) -> None:
        """Until the transaction ends: a letter's unpaid check and a payment of the same person never interleave
        (else a payment committed between the check and the wait would leave the letter waiting for ever)."""
        await self.tx.lock_each(person_refs, 7)

    async def waiting_cases(self, *person_refs: str) -> list[str]:
        rows = await (await self.tx.reader()).fetch(
            "SELECT case_id FROM waiting_letters WHERE person_ref = ANY($1::text[]) ORDER BY case_id", list(person_refs)
        )
        return [r["case_id"] for r in rows]

    async def wait_for_payment(self, person_ref: str, case_id: str) -> None:
        await (await self.tx.connection()).execute(
            "INSERT INTO waiting_letters (case_id, person_ref) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            case_id,
            person_ref,
        )

    async def stop_waiting(self, case_id: str) -> None:
        await (await self.tx.connection()).execute("DELETE FROM waiting_letters WHERE case_id = $1", case_id)


def as_message(period: Period) -> dict[str, Any]:
    return {
        "month": period.month,
        "base_fen": period.base_fen,
        "kind": period.kind.value,
        "employer_rate": str(period.employer_rate),
        "account_fen": period.account_fen,
        "back_payment_batch": period.back_payment_batch,
        "documented": period.documented,
    }
