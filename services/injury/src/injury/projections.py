"""Read models of the injury service: each settlement as it stands, and rejected lines by reason.

The worker is kept as a pseudonym (the salt is the service's), never as an ID number.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from contracts.identifiers import pseudonym
from injury.domain.events import SETTLEMENT_EVENT_TYPES
from runtime.eventstore import RecordedEvent

POSTED = {"SettlementPosted": "settled", "SettlementHeldAsSelfPay": "held"}


class InjuryProjection:
    name = "injury"
    event_types = frozenset(t.__name__ for t in SETTLEMENT_EVENT_TYPES)

    def __init__(self, salt: bytes) -> None:
        self.salt = salt

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        for e in events:
            d = e.data
            if e.event_type in POSTED:
                held = e.event_type == "SettlementHeldAsSelfPay"
                await conn.execute(
                    "INSERT INTO injury_settlements (stream_id, hospital_id, hospital_settlement_no, region, person_ref, "
                    "determination_ref, service_date, status, hold_reason, total_fen, fund_fen, self_pay_fen, posted_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7::text::date, $8, $9, $10, $11, $12, $13::text::timestamptz) "
                    "ON CONFLICT (stream_id) DO NOTHING",
                    e.stream_id,
                    d["hospital_id"],
                    d["hospital_settlement_no"],
                    d["region"],
                    pseudonym(d["citizen_id"], salt=self.salt),
                    d["determination_ref"],
                    d["service_date"],
                    POSTED[e.event_type],
                    d.get("reason") if held else None,
                    d["total_fen"],
                    0 if held else d["fund_fen"],
                    d["total_fen"] if held else d["self_pay_fen"],
                    d["at"],
                )
            elif e.event_type == "SettlementResettled":
                await conn.execute(
                    "UPDATE injury_settlements SET status = 'resettled', hold_reason = NULL, fund_fen = $2, "
                    "self_pay_fen = $3, determination_ref = $4, resettled_at = $5::text::timestamptz WHERE stream_id = $1",
                    e.stream_id,
                    d["fund_fen"],
                    d["self_pay_fen"],
                    d["determination_id"],
                    d["at"],
                )
            elif e.event_type == "SettlementReversed":
                await conn.execute(
                    "UPDATE injury_settlements SET status = 'reversed', reversed_at = $2::text::timestamptz "
                    "WHERE stream_id = $1",
                    e.stream_id,
                    d["at"],
                )
            elif e.event_type == "LinesRejected":
                await conn.executemany(
                    "INSERT INTO injury_rejected_lines (service_date, hospital_id, reason, lines) "
                    "VALUES ($1::text::date, $2, $3, 1) ON CONFLICT (service_date, hospital_id, reason) "
                    "DO UPDATE SET lines = injury_rejected_lines.lines + 1",
                    [(d["service_date"], d["hospital_id"], r["reason"]) for r in d["rejections"]],
                )

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute("TRUNCATE injury_settlements, injury_rejected_lines")
