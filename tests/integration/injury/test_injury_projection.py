"""The injury service's read models from batches of events on real PostgreSQL: each settlement's
events in their order, the settlements of a batch set-based together, rejected lines summed."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files
from typing import Any
from uuid import uuid4

import asyncpg

from contracts.identifiers import citizen_id_check_character, pseudonym
from injury.projections import InjuryProjection
from runtime import db
from runtime.eventstore import Position, RecordedEvent

AT = "2026-12-03T08:00:00+00:00"
DAY = "2026-12-01"
SALT = b"injury-test-salt-0123456789"
WORKER = "36011119880512301" + citizen_id_check_character("36011119880512301")


def recorded(n: int, stream: str, event_type: str, **data: Any) -> RecordedEvent:
    return RecordedEvent(stream, n, uuid4(), event_type, data, {}, datetime.now(UTC), Position(1, n))


def posting(number: str, **more: Any) -> dict[str, Any]:
    return {
        "hospital_id": "H36001",
        "hospital_settlement_no": number,
        "region": "36",
        "citizen_id": WORKER,
        "determination_ref": "RD-1",
        "service_date": DAY,
        "total_fen": 19_600,
        "fund_fen": 18_000,
        "self_pay_fen": 1_600,
        "at": AT,
        **more,
    }


def rejected(n: int, number: str, *reasons: str) -> RecordedEvent:
    rejections = [{"line_no": i, "reason": r} for i, r in enumerate(reasons, start=1)]
    return recorded(n, f"st-{number}", "LinesRejected", service_date=DAY, hospital_id="H36001", rejections=rejections)


async def test_batches_land_as_if_applied_one_event_at_a_time(pool: asyncpg.Pool) -> None:
    await db.migrate(pool, db.sql_files(("injury", files("injury") / "migrations")))
    projection = InjuryProjection(SALT)
    first = [
        recorded(1, "st-1", "SettlementPosted", **posting("1")),
        recorded(2, "st-2", "SettlementHeldAsSelfPay", **posting("2", reason="not recognised yet")),
        recorded(3, "st-2", "SettlementResettled", fund_fen=18_000, self_pay_fen=1_600, determination_id="RD-2", at=AT),
        recorded(4, "st-1", "SettlementReversed", at=AT),
        rejected(5, "3", "unknown_item", "invalid_amount"),
        rejected(6, "4", "unknown_item"),
    ]
    second = [rejected(7, "5", "unknown_item")]

    for batch in (first, second):
        async with pool.acquire() as conn, conn.transaction():
            await projection.apply(conn, batch)

    rows = {
        r["stream_id"]: dict(r)
        for r in await pool.fetch(
            "SELECT stream_id, status, hold_reason, fund_fen, self_pay_fen, determination_ref, person_ref, "
            "reversed_at IS NOT NULL AS reversed, resettled_at IS NOT NULL AS resettled FROM injury_settlements"
        )
    }
    assert rows["st-1"]["status"] == "reversed" and rows["st-1"]["reversed"] is True
    assert rows["st-1"]["person_ref"] == pseudonym(WORKER, salt=SALT)
    assert rows["st-2"]["status"] == "resettled" and rows["st-2"]["hold_reason"] is None
    assert (rows["st-2"]["fund_fen"], rows["st-2"]["determination_ref"], rows["st-2"]["resettled"]) == (
        18_000,
        "RD-2",
        True,
    )
    lines = await pool.fetch("SELECT reason, lines FROM injury_rejected_lines ORDER BY reason")
    assert [tuple(r) for r in lines] == [("invalid_amount", 1), ("unknown_item", 3)]
