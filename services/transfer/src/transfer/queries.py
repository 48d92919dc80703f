"""Read-side queries: a transfer's path, the transfers at risk of three days, the figures."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import asyncpg

THREE_DAYS = timedelta(days=3)
AT_RISK_AFTER = timedelta(days=2)


def _plain(row: asyncpg.Record) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in dict(row).items()}


async def get_transfer(pool: asyncpg.Pool, case_id: str, now: datetime) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT * FROM transfers_view WHERE case_id = $1", case_id)
    if row is None:
        return None
    steps = await pool.fetch(
        "SELECT step, region, at, detail FROM transfer_steps WHERE case_id = $1 ORDER BY at, step", case_id
    )
    end = row["ended_at"] or now
    took = end - row["started_at"]
    restored = await pool.fetchval(
        "SELECT count(*) FROM restored_periods WHERE case_id = $1 AND $2 = 'completed'", case_id, row["status"]
    )
    return {
        **_plain(row),
        "steps": [_plain(s) for s in steps],
        "elapsed_seconds": round(took.total_seconds(), 3),
        "within_three_days": took <= THREE_DAYS,
        "months_restored": restored,
    }


async def list_transfers(pool: asyncpg.Pool, now: datetime, *, at_risk_only: bool, limit: int) -> list[dict[str, Any]]:
    """Open transfers, oldest first; `at_risk_only`: open for more than two days (at risk) or three (breached)."""
    rows = await pool.fetch(
        "SELECT case_id, direction, from_region, to_region, status, started_at FROM transfers_view "
        "WHERE ended_at IS NULL AND status <> 'transferred_out' AND ($1::boolean IS FALSE OR started_at < $2) "
        "ORDER BY started_at LIMIT $3",
        at_risk_only,
        now - AT_RISK_AFTER,
        limit,
    )
    return [
        {
            **_plain(r),
            "three_days": "breached"
            if now - r["started_at"] > THREE_DAYS
            else "at_risk"
            if now - r["started_at"] > AT_RISK_AFTER
            else "on_track",
        }
        for r in rows
    ]


async def figures(pool: asyncpg.Pool, first: date, last: date) -> dict[str, Any]:
    """Transfers in and out, completion times, share within three days, money moved, refusals, temporary accounts."""
    counts = await pool.fetch(
        "SELECT direction, status, count(*) AS n, coalesce(sum(individual_fen), 0) AS individual_fen, "
        "coalesce(sum(pooled_fen), 0) AS pooled_fen FROM transfers_view "
        "WHERE (started_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN $1 AND $2 GROUP BY direction, status",
        first,
        last,
    )
    times = await pool.fetchrow(
        "SELECT count(*) AS completed, "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM ended_at - started_at)) AS p50, "
        "percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM ended_at - started_at)) AS p99, "
        "count(*) FILTER (WHERE ended_at - started_at <= interval '3 days') AS within_three_days "
        "FROM transfers_view WHERE direction = 'in' AND status = 'completed' "
        "AND (started_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN $1 AND $2",
        first,
        last,
    )
    refusals = await pool.fetch(
        "SELECT reason_code, count(*) AS n FROM transfers_view WHERE status = 'refused' "
        "AND (started_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN $1 AND $2 GROUP BY reason_code",
        first,
        last,
    )
    breaches = await pool.fetch(
        "SELECT step, count(*) AS n FROM transfer_steps WHERE step LIKE 'breached:%' "
        "AND (at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN $1 AND $2 GROUP BY step",
        first,
        last,
    )
    completed = times["completed"] if times else 0
    return {
        "by_direction_and_status": [dict(r) for r in counts],
        "completed_in": completed,
        "completion_seconds_p50": None if not completed else round(float(times["p50"]), 3),
        "completion_seconds_p99": None if not completed else round(float(times["p99"]), 3),
        "share_within_three_days_percent": None
        if not completed
        else round(100 * times["within_three_days"] / completed, 2),
        "refusals_by_reason": {r["reason_code"]: r["n"] for r in refusals},
        "stage_breaches": {r["step"].split(":", 1)[1]: r["n"] for r in breaches},
        "temporary_accounts_opened": sum(r["n"] for r in counts if r["status"] == "temporary_account"),
    }
