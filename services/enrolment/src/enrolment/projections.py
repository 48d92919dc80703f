"""Read models of the enrolment service, fed in commit order from its event log.

Every statement here touches rows of the event's own stream only (an employer's rows for employer
events, a person's for person events), so a batch runs in waves (`runtime.batching.StreamBatch`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from runtime.batching import StreamBatch, Writes, array_literal, json_rows
from runtime.eventstore import RecordedEvent

Apply = Callable[[Writes, RecordedEvent], Awaitable[None]]


_REGISTER = (
    "INSERT INTO employers_view (employer_id, credit_code, name, division_code, industry_code, established_on, "
    "route, channel, registered_at, market_registered_at) "
    "SELECT employer_id, credit_code, name, division_code, industry_code, established_on::date, route, channel, "
    "registered_at::timestamptz, market_registered_at::timestamptz FROM "
    + json_rows(
        "employer_id, credit_code, name, division_code, industry_code, established_on, route, channel, "
        "registered_at, market_registered_at",
        "text, text, text, text, text, text, text, text, text, text",
    )
    + " ON CONFLICT (employer_id) DO NOTHING"
)
_UNQUEUE_CREDIT_CODE = (
    "DELETE FROM review_queue q USING " + json_rows("employer_id", "text") + " "
    "WHERE q.employer_id = r.employer_id AND q.kind = 'credit_code'"
)
_HOLD = (
    "INSERT INTO review_queue (employer_id, kind, credit_code, name, industry_code, reason, since) "
    "SELECT employer_id, 'credit_code', credit_code, name, industry_code, reason, since::timestamptz FROM "
    + json_rows("employer_id, credit_code, name, industry_code, reason, since", "text, text, text, text, text, text")
    + " ON CONFLICT DO NOTHING"
)
_SET_CLASS = (
    "UPDATE employers_view v SET risk_class = r.risk_class, tier = r.tier::numeric, injury_rate = r.rate::numeric, "
    "needs_review = false FROM "
    + json_rows("employer_id, risk_class, tier, rate", "text, integer, text, text")
    + " WHERE v.employer_id = r.employer_id"
)
_UNQUEUE_RISK_CLASS = (
    "DELETE FROM review_queue q USING " + json_rows("employer_id", "text") + " "
    "WHERE q.employer_id = r.employer_id AND q.kind = 'risk_class'"
)
_NEEDS_REVIEW = (
    "UPDATE employers_view v SET needs_review = true FROM "
    + json_rows("employer_id", "text")
    + " WHERE v.employer_id = r.employer_id"
)
_QUEUE_RISK_CLASS = (
    "INSERT INTO review_queue (employer_id, kind, credit_code, industry_code, reason, candidates, since) "
    "SELECT employer_id, 'risk_class', credit_code, industry_code, reason, candidates::integer[], since::timestamptz "
    "FROM "
    + json_rows(
        "employer_id, credit_code, industry_code, reason, candidates, since", "text, text, text, text, text, text"
    )
    + " ON CONFLICT DO NOTHING"
)
_OVERDUE = (
    "UPDATE employers_view v SET overdue = true FROM " + json_rows("employer_id", "text") + " "
    "WHERE v.employer_id = r.employer_id"
)
_ENROL = (
    "INSERT INTO enrolments_view (person_ref, employer_credit_code, citizen_id, schemes, hired_on, base_fen, late, "
    "enrolled_at, channel) "
    "SELECT person_ref, employer_credit_code, citizen_id, schemes::text[], hired_on::date, base_fen, late, "
    "enrolled_at::timestamptz, channel FROM "
    + json_rows(
        "person_ref, employer_credit_code, citizen_id, schemes, hired_on, base_fen, late, enrolled_at, channel",
        "text, text, text, text, text, bigint, boolean, text, text",
    )
    + " ON CONFLICT (person_ref, employer_credit_code) DO UPDATE SET schemes = EXCLUDED.schemes, "
    "hired_on = EXCLUDED.hired_on, ended_on = NULL, base_fen = EXCLUDED.base_fen, late = EXCLUDED.late"
)
_ENROLMENT = "v.person_ref = r.person_ref AND v.employer_credit_code = r.employer_credit_code"
_END = (
    "UPDATE enrolments_view v SET ended_on = r.ended_on::date FROM "
    + json_rows("person_ref, employer_credit_code, ended_on", "text, text, text")
    + f" WHERE {_ENROLMENT}"
)
_BASE = (
    "UPDATE enrolments_view v SET base_fen = r.base_fen FROM "
    + json_rows("person_ref, employer_credit_code, base_fen", "text, text, bigint")
    + f" WHERE {_ENROLMENT}"
)
_ASSESS = (
    "INSERT INTO contributions_view (person_ref, employer_credit_code, month, citizen_id, base_fen, "
    "employer_total_fen, worker_total_fen, account_fen, due_on) "
    "SELECT person_ref, employer_credit_code, month, citizen_id, base_fen, employer_total_fen, worker_total_fen, "
    "account_fen, due_on::date FROM "
    + json_rows(
        "person_ref, employer_credit_code, month, citizen_id, base_fen, employer_total_fen, worker_total_fen, "
        "account_fen, due_on",
        "text, text, text, text, bigint, bigint, bigint, bigint, text",
    )
    + " ON CONFLICT DO NOTHING"
)
_MONTH = f"{_ENROLMENT} AND v.month = r.month"
_PAY = (
    "UPDATE contributions_view v SET paid_on = r.paid_on::date, amount_paid_fen = r.amount_fen, "
    "late_fee_fen = r.late_fee_fen FROM "
    + json_rows(
        "person_ref, employer_credit_code, month, paid_on, amount_fen, late_fee_fen",
        "text, text, text, text, bigint, bigint",
    )
    + f" WHERE {_MONTH}"
)
_CONTRIBUTION_OVERDUE = (
    "UPDATE contributions_view v SET overdue = true FROM "
    + json_rows("person_ref, employer_credit_code, month", "text, text, text")
    + f" WHERE {_MONTH}"
)


async def _registered(conn: Writes, e: RecordedEvent) -> None:
    d = e.data
    await conn.execute(
        _REGISTER,
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
    await conn.execute(_UNQUEUE_CREDIT_CODE, e.stream_id)


async def _held(conn: Writes, e: RecordedEvent) -> None:
    d = e.data
    await conn.execute(_HOLD, e.stream_id, d["credit_code"], d["name"], d["industry_code"], d["reason"], d["held_at"])


async def _class_set(conn: Writes, e: RecordedEvent) -> None:
    d = e.data
    await conn.execute(_SET_CLASS, e.stream_id, d["risk_class"], d["tier"], d["rate"])
    await conn.execute(_UNQUEUE_RISK_CLASS, e.stream_id)


async def _needs_review(conn: Writes, e: RecordedEvent) -> None:
    d = e.data
    await conn.execute(_NEEDS_REVIEW, e.stream_id)
    await conn.execute(
        _QUEUE_RISK_CLASS,
        e.stream_id,
        d["credit_code"],
        d["industry_code"],
        d["reason"],
        array_literal(d["candidates"]),
        d["at"],
    )


async def _overdue(conn: Writes, e: RecordedEvent) -> None:
    await conn.execute(_OVERDUE, e.stream_id)


async def _enrolled(conn: Writes, e: RecordedEvent) -> None:
    d = e.data
    await conn.execute(
        _ENROL,
        d["person_ref"],
        d["employer_credit_code"],
        d["citizen_id"],
        array_literal(d["schemes"]),
        d["hired_on"],
        d["base_fen"],
        d["late"],
        d["enrolled_at"],
        e.metadata.get("channel"),
    )


async def _ended(conn: Writes, e: RecordedEvent) -> None:
    d = e.data
    await conn.execute(_END, d["person_ref"], d["employer_credit_code"], d["ended_on"])


async def _base(conn: Writes, e: RecordedEvent) -> None:
    d = e.data
    await conn.execute(_BASE, d["person_ref"], d["employer_credit_code"], d["base_fen"])


async def _assessed(conn: Writes, e: RecordedEvent) -> None:
    d = e.data
    await conn.execute(
        _ASSESS,
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
        _PAY,
        d["person_ref"],
        d["employer_credit_code"],
        d["month"],
        d["paid_on"],
        d["amount_fen"],
        d["late_fee_fen"],
    )


async def _contribution_overdue(conn: Writes, e: RecordedEvent) -> None:
    d = e.data
    await conn.execute(_CONTRIBUTION_OVERDUE, d["person_ref"], d["employer_credit_code"], d["month"])


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
    event_types = frozenset(appliers)

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        batch = StreamBatch()
        for event in events:
            applier = self.appliers.get(event.event_type)
            if applier is not None:
                await applier(batch.of(event.stream_id), event)
        await batch.run(conn)

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute("TRUNCATE employers_view, review_queue, enrolments_view, contributions_view")
