"""Read models of the wage-arrears service: leads and their hops, cases, workers, orders, payments,
supervision and every step, fed in commit order from the event log.

Each stored event is rebuilt as its domain event, then applied by its own small function. Rows
keep their dates (received, filed, paid, closed, transferred) so figures can be recomputed for any
date range. A worker row carries the citizen id (operators need it) and its pseudonym (to find a
worker's own case without the id).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from arrears.domain import events as ev
from arrears.domain.values import LeadStatus, Stage, WorkerClaim
from arrears.translation import amount_of, detail_of, district_of, step_of, subject_of
from contracts.identifiers import pseudonym
from runtime.eventstore import RecordedEvent
from runtime.serialization import from_json, to_json

TYPES: dict[str, type[Any]] = {t.__name__: t for t in ev.EVENT_TYPES}

Apply = Callable[[asyncpg.Connection, Any, RecordedEvent], Awaitable[None]]


class ArrearsProjection:
    name = "arrears"
    event_types = frozenset(TYPES)

    def __init__(self, salt: bytes) -> None:
        self.salt = salt
        self.appliers: dict[type[Any], Apply] = {
            ev.LeadReceived: self._received,
            ev.LeadReportedAgain: _reported_again,
            ev.LeadRouted: _routed,
            ev.ComplaintAccepted: _accepted,
            ev.ComplaintRefused: _refused,
            ev.CaseFiled: self._filed,
            ev.InvestigationExtended: _extended,
            ev.PaymentOrdered: _ordered,
            ev.PaymentOrderComplied: _order_settled,
            ev.PaymentOrderDefaulted: _order_settled,
            ev.WagesPaid: _paid,
            ev.GeneralContractorPaidFirst: _paid,
            ev.ReviewFailed: _paid,
            ev.PenaltyImposed: _penalty,
            ev.AdditionalCompensationOrdered: _compensation,
            ev.CaseTransferred: _transferred,
            ev.CaseClosed: _closed,
            ev.ReviewScheduled: _review_scheduled,
            ev.ReviewPassed: _review_passed,
            ev.CaseReopened: _reopened,
            ev.SupervisionOpened: _supervision_opened,
            ev.SupervisionEscalated: _supervision_escalated,
        }

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            kind = TYPES.get(recorded.event_type)
            if kind is None:
                continue
            event = from_json(kind, recorded.data)
            applier = self.appliers.get(kind)
            if applier is not None:
                await applier(conn, event, recorded)
            await _step(conn, event, recorded)

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute(
            "TRUNCATE arrears_leads, arrears_hops, arrears_cases, arrears_workers, arrears_orders, arrears_payments, "
            "arrears_supervision, arrears_steps"
        )

    async def _workers(self, conn: asyncpg.Connection, subject: str, kind: str, workers: Sequence[WorkerClaim]) -> None:
        await conn.executemany(
            "INSERT INTO arrears_workers (subject_id, kind, citizen_id, person_ref, claimed_fen) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            [(subject, kind, w.citizen_id, pseudonym(w.citizen_id, salt=self.salt), w.claimed_fen) for w in workers],
        )

    async def _received(self, conn: asyncpg.Connection, e: ev.LeadReceived, _: RecordedEvent) -> None:
        await conn.execute(
            "INSERT INTO arrears_leads (lead_id, channel, received_by, received_at, employer_code, employer_name, "
            "division_code, industry_code, project, period_from, period_to, summary, workers, claimed_fen, district, "
            "arrived_at, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $3, $4, $15) "
            "ON CONFLICT DO NOTHING",
            e.lead_id,
            e.channel.value,
            e.received_by,
            e.at,
            e.employer_code,
            e.employer_name,
            e.division_code,
            e.industry_code,
            None if e.project is None else to_json(e.project),
            e.period_from,
            e.period_to,
            e.summary,
            len(e.workers),
            sum(w.claimed_fen for w in e.workers),
            LeadStatus.RECEIVED.value,
        )
        await self._workers(conn, e.lead_id, "lead", e.workers)

    async def _filed(self, conn: asyncpg.Connection, e: ev.CaseFiled, _: RecordedEvent) -> None:
        await conn.execute(
            "INSERT INTO arrears_cases (case_id, lead_id, district, channel, industry_code, employer_code, "
            "employer_name, project, period_from, period_to, status, filed_at, clock_started_at, workers, claimed_fen) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'investigating', $11, $11, $12, $13) "
            "ON CONFLICT DO NOTHING",
            e.case_id,
            e.lead_id,
            e.district,
            e.channel.value,
            e.industry_code,
            e.employer_code,
            e.employer_name,
            None if e.project is None else to_json(e.project),
            e.period_from,
            e.period_to,
            e.at,
            len(e.workers),
            sum(w.claimed_fen for w in e.workers),
        )
        await self._workers(conn, e.case_id, "case", e.workers)


async def _step(conn: asyncpg.Connection, event: Any, recorded: RecordedEvent) -> None:
    await conn.execute(
        "INSERT INTO arrears_steps (stream_id, version, subject_id, step, district, amount_fen, detail, at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        recorded.stream_id,
        recorded.version,
        subject_of(event),
        step_of(recorded.event_type),
        district_of(event),
        amount_of(event),
        detail_of(event),
        event.at,
    )


async def _reported_again(conn: asyncpg.Connection, e: ev.LeadReportedAgain, _: RecordedEvent) -> None:
    await conn.execute("UPDATE arrears_leads SET reports = reports + 1 WHERE lead_id = $1", e.lead_id)


async def _end_supervision(conn: asyncpg.Connection, subject_id: str, at: Any) -> None:
    await conn.execute(
        "UPDATE arrears_supervision SET ended_at = $2 WHERE subject_id = $1 AND ended_at IS NULL", subject_id, at
    )


async def _routed(conn: asyncpg.Connection, e: ev.LeadRouted, _: RecordedEvent) -> None:
    await conn.execute(
        "INSERT INTO arrears_hops (lead_id, hop, from_district, to_district, reason, at) "
        "SELECT $1, coalesce(max(hop), 0) + 1, $2, $3, $4, $5 FROM arrears_hops WHERE lead_id = $1",
        e.lead_id,
        e.from_district,
        e.to_district,
        e.reason,
        e.at,
    )
    await conn.execute(
        "UPDATE arrears_leads SET district = $2, arrived_at = $3, status = 'routed' WHERE lead_id = $1",
        e.lead_id,
        e.to_district,
        e.at,
    )
    await _end_supervision(conn, e.lead_id, e.at)


async def _accepted(conn: asyncpg.Connection, e: ev.ComplaintAccepted, _: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE arrears_leads SET status = 'accepted', case_id = $2, answered_at = $3 WHERE lead_id = $1",
        e.lead_id,
        e.case_id,
        e.at,
    )
    await _end_supervision(conn, e.lead_id, e.at)


async def _refused(conn: asyncpg.Connection, e: ev.ComplaintRefused, _: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE arrears_leads SET status = 'refused', refusal_reason = $2, explanation = $3, answered_at = $4 "
        "WHERE lead_id = $1",
        e.lead_id,
        e.reason_code.value,
        e.explanation,
        e.at,
    )
    await _end_supervision(conn, e.lead_id, e.at)


async def _extended(conn: asyncpg.Connection, e: ev.InvestigationExtended, _: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE arrears_cases SET working_days = working_days + $2 WHERE case_id = $1", e.case_id, e.working_days
    )


async def _ordered(conn: asyncpg.Connection, e: ev.PaymentOrdered, _: RecordedEvent) -> None:
    await conn.execute(
        "INSERT INTO arrears_orders (case_id, order_id, liable_party, amount_fen, due_on, status, ordered_at) "
        "VALUES ($1, $2, $3, $4, $5, 'open', $6) ON CONFLICT DO NOTHING",
        e.case_id,
        e.order_id,
        e.liable_party,
        e.amount_fen,
        e.due_on,
        e.at,
    )
    await conn.execute("UPDATE arrears_cases SET status = 'ordered' WHERE case_id = $1", e.case_id)


async def _order_settled(
    conn: asyncpg.Connection, e: ev.PaymentOrderComplied | ev.PaymentOrderDefaulted, _: RecordedEvent
) -> None:
    status, unpaid = ("defaulted", e.unpaid_fen) if isinstance(e, ev.PaymentOrderDefaulted) else ("complied", 0)
    await conn.execute(
        "UPDATE arrears_orders SET status = $3, unpaid_at_due_fen = $4 WHERE case_id = $1 AND order_id = $2",
        e.case_id,
        e.order_id,
        status,
        unpaid,
    )


async def _paid(
    conn: asyncpg.Connection,
    e: ev.WagesPaid | ev.GeneralContractorPaidFirst | ev.ReviewFailed,
    recorded: RecordedEvent,
) -> None:
    """Per worker and per case; a failed review takes back what the workers did not receive."""
    if isinstance(e, ev.ReviewFailed):
        payer, kind, sign, payments = e.reviewer, "not_received", -1, e.not_received
        await conn.execute("UPDATE arrears_cases SET review_result = 'failed' WHERE case_id = $1", e.case_id)
    elif isinstance(e, ev.GeneralContractorPaidFirst):
        payer, kind, sign, payments = e.general_contractor, "general_contractor", 1, e.payments
    else:
        payer, kind, sign, payments = e.payer, "wages", 1, e.payments
    if not payments:
        return
    total = sign * sum(p.amount_fen for p in payments)
    await conn.execute(
        "INSERT INTO arrears_payments (event_id, case_id, payer, kind, amount_fen, at) VALUES ($1, $2, $3, $4, $5, $6) "
        "ON CONFLICT DO NOTHING",
        recorded.event_id,
        e.case_id,
        payer,
        kind,
        total,
        e.at,
    )
    await conn.executemany(
        "UPDATE arrears_workers SET paid_fen = paid_fen + $3 WHERE subject_id = $1 AND citizen_id = $2",
        [(e.case_id, p.citizen_id, sign * p.amount_fen) for p in payments],
    )
    await conn.execute("UPDATE arrears_cases SET paid_fen = paid_fen + $2 WHERE case_id = $1", e.case_id, total)


async def _penalty(conn: asyncpg.Connection, e: ev.PenaltyImposed, _: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE arrears_cases SET penalties_fen = penalties_fen + $2 WHERE case_id = $1", e.case_id, e.amount_fen
    )


async def _compensation(conn: asyncpg.Connection, e: ev.AdditionalCompensationOrdered, _: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE arrears_orders SET compensation_fen = $3 WHERE case_id = $1 AND order_id = $2",
        e.case_id,
        e.order_id,
        e.amount_fen,
    )
    await conn.execute(
        "UPDATE arrears_cases SET compensation_fen = compensation_fen + $2 WHERE case_id = $1", e.case_id, e.amount_fen
    )


async def _transferred(conn: asyncpg.Connection, e: ev.CaseTransferred, _: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE arrears_cases SET transfer_target = $2, transferred_to = $3, transferred_at = $4 WHERE case_id = $1",
        e.case_id,
        e.target.value,
        e.to,
        e.at,
    )


async def _closed(conn: asyncpg.Connection, e: ev.CaseClosed, _: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE arrears_cases SET status = 'closed', outcome = $2, close_reason = $3, closed_at = $4 WHERE case_id = $1",
        e.case_id,
        e.outcome.value,
        e.reason,
        e.at,
    )
    await _end_supervision(conn, e.case_id, e.at)


async def _review_scheduled(conn: asyncpg.Connection, e: ev.ReviewScheduled, _: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE arrears_cases SET status = 'reviewing', review_reason = $2, review_result = NULL WHERE case_id = $1",
        e.case_id,
        e.reason.value,
    )


async def _review_passed(conn: asyncpg.Connection, e: ev.ReviewPassed, _: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE arrears_cases SET status = 'reviewed', review_result = 'passed' WHERE case_id = $1", e.case_id
    )


async def _reopened(conn: asyncpg.Connection, e: ev.CaseReopened, _: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE arrears_cases SET status = 'investigating', clock_started_at = $2, working_days = 60, outcome = NULL, "
        "close_reason = NULL, closed_at = NULL, reopened = reopened + 1 WHERE case_id = $1",
        e.case_id,
        e.at,
    )
    await _end_supervision(conn, e.case_id, e.at)


async def _supervision_opened(conn: asyncpg.Connection, e: ev.SupervisionOpened, _: RecordedEvent) -> None:
    is_lead = e.stage is Stage.ACCEPTANCE
    await conn.execute(
        "INSERT INTO arrears_supervision (subject_id, kind, stage, district, level, supervisor, due_at, opened_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        e.subject_id,
        "lead" if is_lead else "case",
        e.stage.value,
        e.district,
        e.level.value,
        e.supervisor,
        e.due_at,
        e.at,
    )
    if is_lead:
        await conn.execute("UPDATE arrears_leads SET overdue = true WHERE lead_id = $1", e.subject_id)
    else:
        await conn.execute("UPDATE arrears_cases SET overdue = true WHERE case_id = $1", e.subject_id)


async def _supervision_escalated(conn: asyncpg.Connection, e: ev.SupervisionEscalated, _: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE arrears_supervision SET level = $2, supervisor = $3, escalated_at = $4 "
        "WHERE subject_id = $1 AND ended_at IS NULL",
        e.subject_id,
        e.level.value,
        e.supervisor,
        e.at,
    )
