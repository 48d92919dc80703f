"""The payroll: who is enrolled with whom, written in the enrolments' own transactions (PostgreSQL).

The `People` port of the use cases: an assessment's or payment's people and another region's
"does this person hold a pension here?" are read here, never from a view the projector may not
have brought up to date yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from contracts.identifiers import pseudonym
from enrolment.domain.events import EmployeeEnrolled, EmploymentEnded
from enrolment.domain.values import month_bounds
from runtime.eventstore import PostgresTransaction, Transaction

# Written in the statement of the enrolment's (or the end's) own events (`PostgresTransaction.ride`).
# Many at once, a column an array (a person's schemes joined by commas): one statement text however many.
_HIRE = (
    "INSERT INTO payroll (employer_credit_code, person_ref, citizen_id, schemes, hired_on) "
    "SELECT h.employer, h.ref, h.citizen, string_to_array(h.schemes, ','), h.hired_on FROM guard, "
    "unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[]) AS h(employer, ref, citizen, schemes, hired_on) "
    "ON CONFLICT (employer_credit_code, person_ref) DO UPDATE SET citizen_id = EXCLUDED.citizen_id, "
    "schemes = EXCLUDED.schemes, hired_on = EXCLUDED.hired_on, ended_on = NULL"
)
_END = (
    "UPDATE payroll SET ended_on = e.ended_on FROM guard, "
    "unnest($1::text[], $2::text[], $3::date[]) AS e(employer, ref, ended_on) "
    "WHERE payroll.employer_credit_code = e.employer AND payroll.person_ref = e.ref"
)
# On the payroll on some day of the month ($2 its first day, $3 its last): one employer's ($1), and
# several employers' ($1 an array; a statement of its own, so the one employer's keeps its plan).
_IN_MONTH = "hired_on <= $3 AND (ended_on IS NULL OR ended_on >= $2)"
_EMPLOYEES_OF = (
    f"SELECT person_ref, citizen_id FROM payroll WHERE employer_credit_code = $1 AND {_IN_MONTH} ORDER BY person_ref"
)
_PAYROLL_OF = (
    "SELECT person_ref, employer_credit_code, citizen_id FROM payroll "
    f"WHERE employer_credit_code = ANY($1::text[]) AND {_IN_MONTH} ORDER BY person_ref, employer_credit_code"
)
# The positions (from 1) of the asked (person, month's first day, month's last day) that hold one.
_ACTIVE_PENSIONS = """
SELECT q.n FROM unnest($1::text[], $2::date[], $3::date[]) WITH ORDINALITY AS q(person_ref, first, last, n)
WHERE EXISTS (
    SELECT 1 FROM payroll p WHERE p.person_ref = q.person_ref AND 'pension' = ANY(p.schemes)
    AND p.hired_on <= q.last AND (p.ended_on IS NULL OR p.ended_on >= q.first)
)"""


def _postgres(tx: Transaction) -> PostgresTransaction:
    if not isinstance(tx, PostgresTransaction):
        raise TypeError("the enrolment service keeps its payroll in PostgreSQL")
    return tx


@dataclass
class PostgresPeople:
    """People by pseudonym, and the payroll: written in the transaction, read from the pool."""

    pool: asyncpg.Pool
    salt: bytes

    def ref(self, citizen_id: str) -> str:
        return pseudonym(citizen_id, salt=self.salt)

    async def hired(self, tx: Transaction, enrolled: Sequence[EmployeeEnrolled]) -> None:
        """After the enrolments' events are recorded: their rows go in their statement (none, no write)."""
        if not enrolled:
            return
        await _postgres(tx).ride(
            _HIRE,
            [e.employer_credit_code for e in enrolled],
            [e.person_ref for e in enrolled],
            [e.citizen_id for e in enrolled],
            [",".join(e.schemes) for e in enrolled],
            [e.hired_on for e in enrolled],
        )

    async def ended(self, tx: Transaction, ended: Sequence[EmploymentEnded]) -> None:
        """After the ends' events are recorded: their rows are closed in their statement (none, no write)."""
        if not ended:
            return
        await _postgres(tx).ride(
            _END,
            [e.employer_credit_code for e in ended],
            [e.person_ref for e in ended],
            [e.ended_on for e in ended],
        )

    async def employees_of(self, employer_credit_code: str, month: str) -> list[tuple[str, str]]:
        rows = await self.pool.fetch(_EMPLOYEES_OF, employer_credit_code, *month_bounds(month))
        return [(r["person_ref"], r["citizen_id"]) for r in rows]

    async def payroll_of(self, employers: Sequence[str], month: str) -> list[tuple[str, str, str]]:
        rows = await self.pool.fetch(_PAYROLL_OF, list(employers), *month_bounds(month))
        return [(r["person_ref"], r["employer_credit_code"], r["citizen_id"]) for r in rows]

    async def active_pensions(self, asked: list[tuple[str, str]]) -> list[bool]:
        bounds = [month_bounds(month) for _, month in asked]
        rows = await self.pool.fetch(
            _ACTIVE_PENSIONS, [ref for ref, _ in asked], [first for first, _ in bounds], [last for _, last in bounds]
        )
        active = {row["n"] for row in rows}
        return [n in active for n in range(1, len(asked) + 1)]
