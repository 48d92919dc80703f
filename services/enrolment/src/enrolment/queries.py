"""Read-side queries over the enrolment views."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg


def _plain(row: asyncpg.Record) -> dict[str, Any]:
    return {
        k: (
            v.isoformat()
            if hasattr(v, "isoformat")
            else str(v)
            if k in {"tier", "injury_rate"} and v is not None
            else v
        )
        for k, v in dict(row).items()
    }


async def get_employer(pool: asyncpg.Pool, credit_code: str) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT * FROM employers_view WHERE credit_code = $1", credit_code)
    return None if row is None else _plain(row)


async def review_queue(pool: asyncpg.Pool, limit: int) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM review_queue ORDER BY since LIMIT $1", limit)
    return [_plain(r) for r in rows]


async def get_person(pool: asyncpg.Pool, person_ref: str) -> dict[str, Any] | None:
    enrolments = await pool.fetch(
        "SELECT employer_credit_code, schemes, hired_on, ended_on, base_fen, late FROM enrolments_view "
        "WHERE person_ref = $1 ORDER BY hired_on",
        person_ref,
    )
    if not enrolments:
        return None
    history = await pool.fetch(
        "SELECT employer_credit_code, month, base_fen, employer_total_fen, worker_total_fen, account_fen, due_on, "
        "paid_on, late_fee_fen, overdue FROM contributions_view WHERE person_ref = $1 ORDER BY month",
        person_ref,
    )
    return {
        "person_ref": person_ref,
        "enrolments": [_plain(r) for r in enrolments],
        "contributions": [_plain(r) for r in history],
        "account_total_fen": sum(r["account_fen"] for r in history if r["paid_on"] is not None),
    }


async def figures(pool: asyncpg.Pool, first: date, last: date) -> dict[str, Any]:
    """What agencies report: routes, feed-to-registered time, schemes, classes and tiers, contributions."""
    routes = await pool.fetch(
        "SELECT route, count(*) AS n FROM employers_view WHERE (registered_at AT TIME ZONE 'Asia/Shanghai')::date "
        "BETWEEN $1 AND $2 GROUP BY route",
        first,
        last,
    )
    median = await pool.fetchval(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM registered_at - market_registered_at)) "
        "FROM employers_view WHERE route = 'zero_touch' AND market_registered_at IS NOT NULL "
        "AND (registered_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN $1 AND $2",
        first,
        last,
    )
    schemes = await pool.fetch(
        "SELECT s AS scheme, count(*) AS n FROM enrolments_view, unnest(schemes) s "
        "WHERE hired_on <= $2 AND (ended_on IS NULL OR ended_on >= $1) GROUP BY s",
        first,
        last,
    )
    classes = await pool.fetch(
        "SELECT coalesce(risk_class::text, 'review') AS risk_class, coalesce(tier::text, '-') AS tier, count(*) AS n "
        "FROM employers_view GROUP BY 1, 2 ORDER BY 1, 2"
    )
    money = await pool.fetchrow(
        "SELECT count(*) AS assessed, coalesce(sum(employer_total_fen + worker_total_fen), 0) AS assessed_fen, "
        "count(paid_on) AS paid, coalesce(sum(amount_paid_fen), 0) AS paid_fen, "
        "count(*) FILTER (WHERE overdue AND paid_on IS NULL) AS overdue, "
        "coalesce(sum(late_fee_fen), 0) AS late_fee_fen "
        "FROM contributions_view WHERE month BETWEEN to_char($1::date, 'YYYY-MM') AND to_char($2::date, 'YYYY-MM')",
        first,
        last,
    )
    return {
        "employers_by_route": {r["route"]: r["n"] for r in routes},
        "median_feed_to_registered_seconds": None if median is None else round(float(median), 3),
        "employees_by_scheme": {r["scheme"]: r["n"] for r in schemes},
        "employers_by_class_and_tier": [dict(r) for r in classes],
        "contributions": dict(money) if money else {},
    }
