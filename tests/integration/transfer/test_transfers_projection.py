"""The transfer service's read models from a batch of events on real PostgreSQL: each case's
events in their order, the cases of one batch set-based together."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files
from typing import Any
from uuid import uuid4

import asyncpg

from runtime import db
from runtime.eventstore import Position, RecordedEvent
from transfer.projections import TransfersProjection

AT = "2026-12-03T08:00:00+00:00"


def recorded(n: int, event_type: str, region: str = "36", **data: Any) -> RecordedEvent:
    metadata = {"region": region, "traceparent": f"00-{n:032x}-{n:016x}-01"}
    return RecordedEvent(
        f"s-{data['case_id']}", n, uuid4(), event_type, data, metadata, datetime.now(UTC), Position(1, n)
    )


async def test_a_batch_of_two_cases_lands_as_if_applied_one_event_at_a_time(pool: asyncpg.Pool) -> None:
    await db.migrate(pool, db.sql_files(("transfer", files("transfer") / "migrations")))
    periods = [
        {"month": "2026-01", "base_fen": 500_000, "kind": "paid", "account_fen": 40_000},
        {"month": "2026-02", "base_fen": 510_000, "kind": "paid", "account_fen": 40_800},
    ]
    incoming = {"case_id": "in-1"}
    outgoing = {"case_id": "out-1"}
    events = [
        recorded(
            1,
            "TransferApplied",
            **incoming,
            person_ref="p-1",
            from_region="44",
            to_region="36",
            channel="app",
            applied_at=AT,
        ),
        recorded(2, "ContactLetterReceived", "44", **outgoing, person_ref="p-2", from_region="36", at=AT),
        recorded(3, "InformationSheetReceived", **incoming, periods=periods, at=AT),
        recorded(4, "LocalRelationshipTerminated", "44", **outgoing, at=AT),
        recorded(5, "FundsMismatchDetected", **incoming, reason_code="R1", reason="short by 3 fen", at=AT),
        recorded(6, "TransferCompleted", **incoming, individual_fen=80_800, pooled_fen=1_010_000, at=AT),
    ]

    sent: list[str] = []

    def log(query: Any) -> None:
        sent.append(query.query)

    async with pool.acquire() as conn, conn.transaction():
        conn.add_query_logger(log)
        await TransfersProjection().apply(conn, events)
        conn.remove_query_logger(log)

    # Each case's statements in its order, in waves; the steps, read by nothing here, all at once.
    assert sum(1 for sql in sent if sql.startswith("INSERT INTO transfer_steps")) == 1

    cases = {r["case_id"]: dict(r) for r in await pool.fetch("SELECT * FROM transfers_view")}
    assert cases["in-1"]["direction"] == "in" and cases["in-1"]["person_ref"] == "p-1"
    assert cases["in-1"]["status"] == "completed"  # the mismatch came before the completion
    assert (cases["in-1"]["individual_fen"], cases["in-1"]["pooled_fen"]) == (80_800, 1_010_000)
    assert cases["in-1"]["trace_id"] == f"{1:032x}"
    assert cases["out-1"]["direction"] == "out" and cases["out-1"]["from_region"] == "44"
    assert cases["out-1"]["to_region"] == "36" and cases["out-1"]["status"] == "transferred_out"
    restored = await pool.fetch(
        "SELECT person_ref, month, from_region, base_fen, kind, account_fen FROM restored_periods ORDER BY month"
    )
    assert [tuple(r) for r in restored] == [
        ("p-1", "2026-01", "44", 500_000, "paid", 40_000),
        ("p-1", "2026-02", "44", 510_000, "paid", 40_800),
    ]
    steps = await pool.fetch("SELECT case_id, step FROM transfer_steps ORDER BY case_id, step")
    assert [tuple(r) for r in steps] == [
        ("in-1", "applied"),
        ("in-1", "completed"),
        ("in-1", "funds_mismatch_detected"),
        ("in-1", "information_sheet_received"),
        ("out-1", "contact_letter_received"),
        ("out-1", "local_relationship_terminated"),
    ]
