"""Read models of the enrolment service, fed in commit order from its event log.

Every statement here touches rows of the event's own stream only (an employer's rows for employer
events, a person's for person events), so a batch runs in waves (`runtime.batching.StreamBatch`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from runtime.batching import StreamBatch, Writes
from runtime.eventstore import RecordedEvent

Apply = Callable[[Writes, RecordedEvent], Awaitable[None]]


async def _registered(conn: Writes, e: RecordedEvent) -> None:
    d = e.data
    await conn.execute(
        "INSERT INTO employers_view (employer_id, credit_code, name, division_code, industry_code, established_on, "
        "route, channel, registered_at, market_registered_at) "
        "VALUES ($1, $2, $3, $4, $5, $6::text::date, $7, $8, $9::text::timestamptz, $10::text::timestamptz) "
        "ON CONFLICT (employer_id) DO NOTHING",
        e.stream_id,
        d["credit_code"],
        d["name"],
        d["division_code"],
        d["industry_code"],
        d["established_on"],
        d["route"],
        e.metadata.get("channel"),
        d["registered_at"],
        e.metadata.get("market_registered_at"),
    )
    await conn.execute("DELETE FROM review_queue WHERE employer_id = $1 AND kind = 'credit_code'", e.stream_id)


async def _held(conn: Writes, e: RecordedEvent) -> None:
    d = e.data
    await conn.execute(
        "INSERT INTO review_queue (employer_id, kind, credit_code, name, industry_code, reason, since) "
        "VALUES ($1, 'credit_code', $2, $3, $4, $5, $6::text::timestamptz) ON CONFLICT DO NOTHING",
        e.stream_id,
        d["credit_code"],
        d["name"],
        d["industry_code"],
        d["reason"],
        d["held_at"],
    )


async def _class_set(conn: Writes, e: RecordedEvent) -> None:
    d = e.data
    await conn.execute(
        "UPDATE employers_view SET risk_class = $2, tier = $3::text::numeric, injury_rate = $4::text::numeric, "
        "needs_review = false WHERE employer_id = $1",
        e.stream_id,
        d["risk_class"],
        d["tier"],
        d["rate"],
    )
    await conn.execute("DELETE FROM review_queue WHERE employer_id = $1 AND kind = 'risk_class'", e.stream_id)


async def _needs_review(conn: Writes, e: RecordedEvent) -> None:
    d = e.data
    await conn.execute("UPDATE employers_view SET needs_review = true WHERE employer_id = $1", e.stream_id)
    await conn.execute(
        "INSERT INTO review_queue (employer_id, kind, credit_code, industry_code, reason, candidates, since) "
        "VALUES ($1, 'risk_class', $2, $3, $4, $5, $6::text::timestamptz) ON CONFLICT DO NOTHING",
        e.stream_id,
        d["credit_code"],
        d["industry_code"],
        d["reason"],
        d["candidates"],
        d["at"],
    )


async def _overdue(conn: Writes, e: RecordedEvent) -> None:
    await conn.execute("UPDATE employers_view SET overdue = true WHERE employer_id = $1", e.stream_id)


async def _enrolled(conn: Writes, e: RecordedEvent) -> None:
    d = e.data
    await conn.execute(
        "INSERT INTO enrolments_view (person_ref, employer_credit_code, citizen_id, schemes, hired_on, base_fen, late, "
        "enrolled_at, channel) VALUES ($1, $2, $3, $4, $5::text::date, $6, $7, $8::text::timestamptz, $9) "
        "ON CONFLICT (person_ref, employer_credit_code) DO UPDATE SET schemes = EXCLUDED.schemes, "
        "hired_on = EXCLUDED.hired_on, ended_on = NULL, base_fen = EXCLUDED.base_fen, late = EXCLUDED.late",
        d["person_ref"],
        d["employer_credit_code"],
        d["citizen_id"],
        d["schemes"],
        d["hired_on"],
        d["base_fen"],
        d["late"],
        d["enrolled_at"],
        e.metadata.get("channel"),
    )


async def _ended(conn: Writes, e: RecordedEvent) -> None:
    d = e.data
    await conn.execute(
        "UPDATE enrolments_view SET ended_on = $3::text::date WHERE person_ref = $1 AND employer_credit_code = $2",
        d["person_ref"],
        d["employer_credit_code"],
        d["ended_on"],
    )


async def _base(conn: Writes, e: RecordedEvent) -> None:
    d = e.data
    await conn.execute(
        "UPDATE enrolments_view SET base_fen = $3 WHERE person_ref = $1 AND employer_credit_code = $2",
        d["person_ref"],
        d["employer_credit_code"],
        d["base_fen"],
    )


async def _assessed(conn: Writes, e: RecordedEvent) -> None:
    d = e.data
    await conn.execute(
        "INSERT INTO contributions_view (person_ref, employer_credit_code, month, citizen_id, base_fen, "
        "employer_total_fen, worker_total_fen, account_fen, due_on) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::date) ON CONFLICT DO NOTHING",
        d["person_ref"],
        d["employer_credit_code"],
        d["month"],
        d["citizen_id"],
        d["base_fen"],
        d["employer_total_fen"],
        d["worker_total_fen"],
        d["account_fen"],
        d["due_on"],
    )


async def _paid(conn: Writes, e: RecordedEvent) -> None:
    d = e.data
    await conn.execute(
        "UPDATE contributions_view SET paid_on = $4::text::date, amount_paid_fen = $5, late_fee_fen = $6 "
        "WHERE person_ref = $1 AND employer_credit_code = $2 AND month = $3",
        d["person_ref"],
        d["employer_credit_code"],
        d["month"],
        d["paid_on"],
        d["amount_fen"],
        d["late_fee_fen"],
    )


async def _contribution_overdue(conn: Writes, e: RecordedEvent) -> None:
    d = e.data
    await conn.execute(
        "UPDATE contributions_view SET overdue = true WHERE person_ref = $1 AND employer_credit_code = $2 AND month = $3",
        d["person_ref"],
        d["employer_credit_code"],
        d["month"],
    )


class EnrolmentProjection:
    """employers_view, review_queue, enrolments_view and contributions_view, from one pass over the log."""

    name = "enrolment"

    appliers: dict[str, Apply] = {  # noqa: RUF012 - a fixed dispatch table
        "EmployerRegistered": _registered,
        "MarketRegistrationHeld": _held,
        "InjuryClassMatched": _class_set,
        "InjuryClassAssigned": _class_set,
        "InjuryClassNeedsReview": _needs_review,
        "EmployerRegistrationOverdue": _overdue,
        "EmployeeEnrolled": _enrolled,
        "EmploymentEnded": _ended,
        "ContributionBaseDeclared": _base,
        "ContributionAssessed": _assessed,
        "ContributionPaid": _paid,
        "ContributionOverdue": _contribution_overdue,
    }

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        batch = StreamBatch()
        for event in events:
            applier = self.appliers.get(event.event_type)
            if applier is not None:
                await applier(batch.of(event.stream_id), event)
        await batch.run(conn)

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute("TRUNCATE employers_view, review_queue, enrolments_view, contributions_view")
