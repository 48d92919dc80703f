"""Read-side queries: a worker's settlements, reconciliations, the registry's ids, timers, the figures."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg


def _plain(row: asyncpg.Record) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in dict(row).items()}


async def person_settlements(pool: asyncpg.Pool, person_ref: str, limit: int) -> list[dict[str, Any]]:
    """A worker's settlements, newest service first (what the fund paid and what they paid)."""
    rows = await pool.fetch(
        "SELECT hospital_id, hospital_settlement_no, service_date, status, hold_reason, total_fen, fund_fen, "
        "self_pay_fen, posted_at, resettled_at, reversed_at FROM injury_settlements WHERE person_ref = $1 "
        "ORDER BY service_date DESC, posted_at DESC LIMIT $2",
        person_ref,
        limit,
    )
    return [_plain(r) for r in rows]


async def reconciliations(
    pool: asyncpg.Pool, *, day: date | None, hospital_id: str | None, mismatched_only: bool, limit: int
) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT result, declared_at FROM reconciliations WHERE ($1::date IS NULL OR day = $1) "
        "AND ($2::text IS NULL OR hospital_id = $2) AND ($3::boolean IS FALSE OR NOT matched) "
        "ORDER BY day DESC, hospital_id LIMIT $4",
        day,
        hospital_id,
        mismatched_only,
        limit,
    )
    return [{**r["result"], "declared_at": r["declared_at"].isoformat()} for r in rows]


async def agreement_ids(pool: asyncpg.Pool) -> list[str]:
    """Every institution that ever had an agreement here (the registry is small: one row per institution)."""
    rows = await pool.fetch(
        "SELECT DISTINCT substr(stream_id, 11) AS hospital_id FROM events WHERE stream_id LIKE 'agreement-%' ORDER BY 1"
    )
    return [r["hospital_id"] for r in rows]


# Every timer of a stream, settled or not (by `deadlines_of_stream`, the runtime's migration 0007).
TIMERS = "SELECT kind, due_at, status FROM deadlines WHERE stream_id = $1 ORDER BY due_at, kind"


async def timers(pool: asyncpg.Pool, stream_id: str) -> list[dict[str, Any]]:
    return [_plain(r) for r in await pool.fetch(TIMERS, stream_id)]


def _percent(part: int, whole: int) -> float | None:
    return None if not whole else round(100 * part / whole, 2)


async def figures(pool: asyncpg.Pool, first: date, last: date) -> dict[str, Any]:
    """Settlements and amounts by hospital and month, fund vs self-pay share, re-settlements after a late
    determination, reversals and rejected lines by reason, for service dates first..last."""
    in_period = "service_date BETWEEN $1 AND $2"
    totals = "count(*) AS settlements, sum(total_fen)::bigint AS total_fen, sum(fund_fen)::bigint AS fund_fen, sum(self_pay_fen)::bigint AS self_pay_fen"
    by_hospital = await pool.fetch(
        f"SELECT hospital_id, {totals} FROM injury_settlements WHERE {in_period} AND status <> 'reversed' "
        "GROUP BY hospital_id ORDER BY hospital_id",
        first,
        last,
    )
    by_month = await pool.fetch(
        f"SELECT to_char(service_date, 'YYYY-MM') AS month, {totals} FROM injury_settlements "
        f"WHERE {in_period} AND status <> 'reversed' GROUP BY 1 ORDER BY 1",
        first,
        last,
    )
    statuses = await pool.fetch(
        f"SELECT status, count(*) AS n FROM injury_settlements WHERE {in_period} GROUP BY status", first, last
    )
    resettled = await pool.fetchrow(
        "SELECT count(*) AS n, coalesce(sum(fund_fen), 0)::bigint AS fund_fen FROM injury_settlements "
        f"WHERE {in_period} AND resettled_at IS NOT NULL",
        first,
        last,
    )
    rejected = await pool.fetch(
        f"SELECT reason, sum(lines)::bigint AS n FROM injury_rejected_lines WHERE {in_period} GROUP BY reason",
        first,
        last,
    )
    total = sum(r["total_fen"] for r in by_hospital)
    fund = sum(r["fund_fen"] for r in by_hospital)
    return {
        "by_hospital": [dict(r) for r in by_hospital],
        "by_month": [dict(r) for r in by_month],
        "settlements": sum(r["settlements"] for r in by_hospital),
        "total_fen": total,
        "fund_fen": fund,
        "self_pay_fen": total - fund,
        "fund_share_percent": _percent(fund, total),
        "self_pay_share_percent": _percent(total - fund, total),
        "by_status": {r["status"]: r["n"] for r in statuses},
        "resettled_after_late_determination": resettled["n"] if resettled else 0,
        "resettled_fund_fen": resettled["fund_fen"] if resettled else 0,
        "rejected_lines_by_reason": {r["reason"]: r["n"] for r in rejected},
    }
