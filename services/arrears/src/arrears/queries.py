"""Read-side queries: a lead, a case (as operators or as one of its workers see it), a district's
list, a supervisor's list, and the region's figures for any date range.

A worker sees their own citizen id and only masked ids of the other workers.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from contracts.identifiers import mask_citizen_id

# The pending stage deadline (acceptance or investigation) of a lead or case, from the runtime's timers.
_STAGE_DUE = (
    "(SELECT min(d.due_at) FROM deadlines d WHERE d.stream_id = {stream} AND d.status = 'pending' "
    "AND d.kind LIKE 'stage:%') AS stage_due_at"
)
LEAD_DUE = _STAGE_DUE.format(stream="'arrears-lead-' || l.lead_id")
CASE_DUE = _STAGE_DUE.format(stream="'arrears-case-' || c.case_id")

OPEN_LEAD = ("received", "routed")
OPEN_CASE = ("investigating", "ordered")
DIMENSIONS = {"by_district": "district", "by_industry": "industry_code", "by_channel": "channel"}


def _plain(row: asyncpg.Record) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in dict(row).items()}


async def _workers(pool: asyncpg.Pool, subject_id: str, viewer: str | None) -> list[dict[str, Any]]:
    """The workers of a lead or case; for a worker `viewer` (a person ref), every other id masked."""
    rows = await pool.fetch(
        "SELECT citizen_id, person_ref, claimed_fen, paid_fen FROM arrears_workers WHERE subject_id = $1 "
        "ORDER BY citizen_id",
        subject_id,
    )
    return [
        {
            "citizen_id": r["citizen_id"] if viewer in (None, r["person_ref"]) else mask_citizen_id(r["citizen_id"]),
            "me": viewer == r["person_ref"],
            "claimed_fen": r["claimed_fen"],
            "paid_fen": r["paid_fen"],
            "unpaid_fen": r["claimed_fen"] - r["paid_fen"],
        }
        for r in rows
    ]


async def _steps(pool: asyncpg.Pool, subject_id: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT step, district, amount_fen, detail, at FROM arrears_steps WHERE subject_id = $1 ORDER BY at, version",
        subject_id,
    )
    return [_plain(r) for r in rows]


async def _supervision(pool: asyncpg.Pool, subject_id: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT stage, district, level, supervisor, due_at, opened_at, escalated_at, ended_at "
        "FROM arrears_supervision WHERE subject_id = $1 ORDER BY opened_at",
        subject_id,
    )
    return [_plain(r) for r in rows]


async def get_lead(pool: asyncpg.Pool, lead_id: str) -> dict[str, Any] | None:
    """A lead with every hop, its workers, its steps and any supervision."""
    row = await pool.fetchrow(f"SELECT l.*, {LEAD_DUE} FROM arrears_leads l WHERE lead_id = $1", lead_id)
    if row is None:
        return None
    hops = await pool.fetch(
        "SELECT from_district, to_district, reason, at FROM arrears_hops WHERE lead_id = $1 ORDER BY hop", lead_id
    )
    return {
        **_plain(row),
        "hops": [_plain(h) for h in hops],
        "workers_detail": await _workers(pool, lead_id, None),
        "steps": await _steps(pool, lead_id),
        "supervision": await _supervision(pool, lead_id),
    }


async def get_case(pool: asyncpg.Pool, case_id: str, viewer: str | None) -> dict[str, Any] | None:
    """A case with its workers, orders, payments, steps and supervision; None for a worker not in it."""
    if viewer is not None and not await pool.fetchval(
        "SELECT 1 FROM arrears_workers WHERE subject_id = $1 AND person_ref = $2", case_id, viewer
    ):
        return None
    row = await pool.fetchrow(f"SELECT c.*, {CASE_DUE} FROM arrears_cases c WHERE case_id = $1", case_id)
    if row is None:
        return None
    orders = await pool.fetch(
        "SELECT order_id, liable_party, amount_fen, due_on, status, unpaid_at_due_fen, compensation_fen, ordered_at "
        "FROM arrears_orders WHERE case_id = $1 ORDER BY ordered_at, order_id",
        case_id,
    )
    payments = await pool.fetch(
        "SELECT payer, kind, amount_fen, at FROM arrears_payments WHERE case_id = $1 ORDER BY at", case_id
    )
    return {
        **_plain(row),
        "unpaid_fen": row["claimed_fen"] - row["paid_fen"],
        "workers_detail": await _workers(pool, case_id, viewer),
        "orders": [_plain(o) for o in orders],
        "payments": [_plain(p) for p in payments],
        "steps": await _steps(pool, case_id),
        "supervision": await _supervision(pool, case_id),
    }


async def my_arrears(pool: asyncpg.Pool, viewer: str) -> dict[str, Any]:
    """A worker's complaints not (yet) filed as cases, and their cases: their own claim and what is paid."""
    leads = await pool.fetch(
        "SELECT l.lead_id, l.status, l.district, l.employer_name, l.period_from, l.period_to, l.received_at, "
        "l.refusal_reason, l.explanation, w.claimed_fen FROM arrears_leads l "
        "JOIN arrears_workers w ON w.subject_id = l.lead_id AND w.kind = 'lead' "
        "WHERE w.person_ref = $1 AND l.case_id IS NULL ORDER BY l.received_at",
        viewer,
    )
    cases = await pool.fetch(
        "SELECT c.case_id FROM arrears_cases c JOIN arrears_workers w ON w.subject_id = c.case_id AND w.kind = 'case' "
        "WHERE w.person_ref = $1 ORDER BY c.filed_at",
        viewer,
    )
    return {
        "leads": [_plain(r) for r in leads],
        "cases": [await get_case(pool, r["case_id"], viewer) for r in cases],
    }


async def district_list(pool: asyncpg.Pool, district: str, *, open_only: bool, limit: int) -> dict[str, Any]:
    """Leads waiting for the district's answer, and its cases (open ones first by age, or all)."""
    leads = await pool.fetch(
        "SELECT l.lead_id, l.status, l.channel, l.employer_code, l.employer_name, l.workers, l.claimed_fen, "
        f"l.arrived_at, l.reports, l.overdue, {LEAD_DUE} FROM arrears_leads l "
        "WHERE l.district = $1 AND l.status = ANY($2::text[]) ORDER BY l.arrived_at LIMIT $3",
        district,
        list(OPEN_LEAD),
        limit,
    )
    cases = await pool.fetch(
        "SELECT c.case_id, c.lead_id, c.status, c.employer_code, c.employer_name, c.workers, c.claimed_fen, "
        f"c.paid_fen, c.filed_at, c.working_days, c.overdue, c.outcome, c.closed_at, {CASE_DUE} "
        "FROM arrears_cases c WHERE c.district = $1 AND ($2::boolean IS FALSE OR c.status = ANY($3::text[])) "
        "ORDER BY c.filed_at LIMIT $4",
        district,
        open_only,
        list(OPEN_CASE),
        limit,
    )
    return {"district": district, "leads": [_plain(r) for r in leads], "cases": [_plain(r) for r in cases]}


async def supervised(pool: asyncpg.Pool, supervisor: str | None, level: str | None, limit: int) -> list[dict[str, Any]]:
    """Leads and cases under supervision now (督办), oldest first: the stage, the limit passed, who supervises."""
    rows = await pool.fetch(
        "SELECT s.subject_id, s.kind, s.stage, s.district, s.level, s.supervisor, s.due_at, s.opened_at, "
        "s.escalated_at, coalesce(c.employer_name, l.employer_name) AS employer_name, "
        "coalesce(c.claimed_fen, l.claimed_fen) AS claimed_fen, coalesce(c.paid_fen, 0) AS paid_fen "
        "FROM arrears_supervision s "
        "LEFT JOIN arrears_leads l ON s.kind = 'lead' AND l.lead_id = s.subject_id "
        "LEFT JOIN arrears_cases c ON s.kind = 'case' AND c.case_id = s.subject_id "
        "WHERE s.ended_at IS NULL AND ($1::text IS NULL OR s.supervisor = $1) AND ($2::text IS NULL OR s.level = $2) "
        "ORDER BY s.opened_at LIMIT $3",
        supervisor,
        level,
        limit,
    )
    return [_plain(r) for r in rows]


_LOCAL = "AT TIME ZONE 'Asia/Shanghai')::date"

_FIGURES = f"""
WITH l AS (
    SELECT {{dim}} AS key, count(*) AS leads, sum(reports) AS reports,
           count(*) FILTER (WHERE status = 'refused') AS leads_refused,
           count(*) FILTER (WHERE answered_at IS NOT NULL) AS leads_answered,
           count(*) FILTER (WHERE answered_at IS NOT NULL AND NOT overdue) AS leads_answered_on_time
    FROM arrears_leads WHERE (received_at {_LOCAL} BETWEEN $1 AND $2 GROUP BY 1
), c AS (
    SELECT {{dim}} AS key, count(*) AS cases, sum(workers) AS workers, sum(claimed_fen) AS claimed_fen,
           count(*) FILTER (WHERE closed_at IS NOT NULL AND (closed_at {_LOCAL} <= $2) AS cases_closed,
           count(*) FILTER (WHERE closed_at IS NOT NULL AND (closed_at {_LOCAL} <= $2 AND NOT overdue)
               AS cases_closed_on_time
    FROM arrears_cases WHERE (filed_at {_LOCAL} BETWEEN $1 AND $2 GROUP BY 1
), p AS (
    SELECT k.{{dim}} AS key, sum(p.amount_fen) AS recovered_fen
    FROM arrears_payments p JOIN arrears_cases k USING (case_id)
    WHERE (p.at {_LOCAL} BETWEEN $1 AND $2 GROUP BY 1
), t AS (
    SELECT {{dim}} AS key, count(*) AS police_transfers FROM arrears_cases
    WHERE transfer_target = 'police' AND (transferred_at {_LOCAL} BETWEEN $1 AND $2 GROUP BY 1
)
SELECT key, coalesce(leads, 0) AS leads, coalesce(reports, 0) AS reports,
       coalesce(leads_refused, 0) AS leads_refused, coalesce(leads_answered, 0) AS leads_answered,
       coalesce(leads_answered_on_time, 0) AS leads_answered_on_time, coalesce(cases, 0) AS cases,
       coalesce(cases_closed, 0) AS cases_closed, coalesce(cases_closed_on_time, 0) AS cases_closed_on_time,
       coalesce(workers, 0) AS workers, coalesce(claimed_fen, 0) AS claimed_fen,
       coalesce(recovered_fen, 0) AS recovered_fen, coalesce(police_transfers, 0) AS police_transfers
FROM l FULL JOIN c USING (key) FULL JOIN p USING (key) FULL JOIN t USING (key) ORDER BY key
"""

COUNTS = (
    "leads",
    "reports",
    "leads_refused",
    "leads_answered",
    "leads_answered_on_time",
    "cases",
    "cases_closed",
    "cases_closed_on_time",
    "workers",
    "claimed_fen",
    "recovered_fen",
    "police_transfers",
)


def _rate(part: int, whole: int) -> float | None:
    return None if not whole else round(100 * part / whole, 2)


def _with_rates(counts: dict[str, int]) -> dict[str, Any]:
    """Closure rate (办结率): cases filed in the range closed by its end; on-time rate (按期办结率):
    closed before supervision opened; leads answered on time likewise."""
    return {
        **counts,
        "closure_rate_percent": _rate(counts["cases_closed"], counts["cases"]),
        "on_time_rate_percent": _rate(counts["cases_closed_on_time"], counts["cases_closed"]),
        "leads_on_time_rate_percent": _rate(counts["leads_answered_on_time"], counts["leads_answered"]),
    }


async def figures(pool: asyncpg.Pool, first: date, last: date) -> dict[str, Any]:
    """Leads, cases, workers, amounts claimed and recovered, closure and on-time rates, transfers to
    police: for the region and by district, industry and channel, for days first..last (Beijing)."""
    result: dict[str, Any] = {"first": first.isoformat(), "last": last.isoformat()}
    for name, column in DIMENSIONS.items():
        rows = await pool.fetch(_FIGURES.format(dim=column), first, last)
        groups = {r["key"]: {k: int(r[k]) for k in COUNTS} for r in rows}
        result[name] = {key: _with_rates(counts) for key, counts in groups.items()}
        if name == "by_district":
            result["total"] = _with_rates({k: sum(g[k] for g in groups.values()) for k in COUNTS})
    return result
