"""Read models of the injury service: each settlement as it stands, and rejected lines by reason.

The worker is kept as a pseudonym (the salt is the service's), never as an ID number.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import asyncpg

from contracts.identifiers import pseudonym
from injury.domain.events import SETTLEMENT_EVENT_TYPES
from runtime.batching import StreamBatch, json_rows
from runtime.eventstore import RecordedEvent

POSTED = {"SettlementPosted": "settled", "SettlementHeldAsSelfPay": "held"}

_POSTED = (
    "INSERT INTO injury_settlements (stream_id, hospital_id, hospital_settlement_no, region, person_ref, "
    "determination_ref, service_date, status, hold_reason, total_fen, fund_fen, self_pay_fen, posted_at) "
    "SELECT stream_id, hospital_id, hospital_settlement_no, region, person_ref, determination_ref, service_date::date, "
    "status, hold_reason, total_fen, fund_fen, self_pay_fen, posted_at::timestamptz FROM "
    + json_rows(
        "stream_id, hospital_id, hospital_settlement_no, region, person_ref, determination_ref, service_date, status, "
        "hold_reason, total_fen, fund_fen, self_pay_fen, posted_at",
        "text, text, text, text, text, text, text, text, text, bigint, bigint, bigint, text",
    )
    + " ON CONFLICT (stream_id) DO NOTHING"
)
_RESETTLED = (
    "UPDATE injury_settlements v SET status = 'resettled', hold_reason = NULL, fund_fen = r.fund_fen, "
    "self_pay_fen = r.self_pay_fen, determination_ref = r.determination_ref, "
    "resettled_at = r.resettled_at::timestamptz FROM "
    + json_rows(
        "stream_id, fund_fen, self_pay_fen, determination_ref, resettled_at", "text, bigint, bigint, text, text"
    )
    + " WHERE v.stream_id = r.stream_id"
)
_REVERSED = (
    "UPDATE injury_settlements v SET status = 'reversed', reversed_at = r.reversed_at::timestamptz FROM "
    + json_rows("stream_id, reversed_at", "text, text")
    + " WHERE v.stream_id = r.stream_id"
)
# Counters over every settlement of a day and hospital: summed over the batch, one row each.
_REJECTED = (
    "INSERT INTO injury_rejected_lines (service_date, hospital_id, reason, lines) "
    "SELECT service_date::date, hospital_id, reason, lines FROM "
    + json_rows("service_date, hospital_id, reason, lines", "text, text, text, bigint")
    + " ON CONFLICT (service_date, hospital_id, reason) DO UPDATE SET lines = injury_rejected_lines.lines + EXCLUDED.lines"
)


class InjuryProjection:
    """A settlement's row is its stream's own, so a batch runs in waves, set-based
    (`runtime.batching.StreamBatch`); rejected lines are counters, summed over the batch."""

    name = "injury"
    event_types = frozenset(t.__name__ for t in SETTLEMENT_EVENT_TYPES)

    def __init__(self, salt: bytes) -> None:
        self.salt = salt

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        batch = StreamBatch()
        rejected: Counter[tuple[str, str, str]] = Counter()
        for e in events:
            d = e.data
            if e.event_type in POSTED:
                held = e.event_type == "SettlementHeldAsSelfPay"
                await batch.of(e.stream_id).execute(
                    _POSTED,
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
                await batch.of(e.stream_id).execute(
                    _RESETTLED, e.stream_id, d["fund_fen"], d["self_pay_fen"], d["determination_id"], d["at"]
                )
            elif e.event_type == "SettlementReversed":
                await batch.of(e.stream_id).execute(_REVERSED, e.stream_id, d["at"])
            elif e.event_type == "LinesRejected":
                rejected.update((d["service_date"], d["hospital_id"], r["reason"]) for r in d["rejections"])
        await batch.run(conn)
        if rejected:
            await conn.execute(_REJECTED, [(*key, lines) for key, lines in rejected.items()])

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute("TRUNCATE injury_settlements, injury_rejected_lines")
