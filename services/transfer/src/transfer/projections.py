"""Read models of the transfer service: each case on its path, its steps, the restored history."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from runtime.eventstore import RecordedEvent
from transfer.translation import STEPS

STEP_NAMES = {cls.__name__: step for cls, step in STEPS.items()}
CLOSING = {
    "TransferCompleted": "completed",
    "TransferRefused": "refused",
    "TemporaryAccountOpened": "temporary_account",
    "AccountsMerged": "merged",
}


def _trace_id(event: RecordedEvent) -> str | None:
    traceparent = event.metadata.get("traceparent")
    return traceparent.split("-")[1] if isinstance(traceparent, str) and traceparent.count("-") == 3 else None


class TransfersProjection:
    name = "transfers"
    event_types = frozenset(STEP_NAMES)

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        for e in events:
            d = e.data
            step = STEP_NAMES.get(e.event_type)
            if step is None:
                continue
            at = d.get("at") or d.get("applied_at")
            region = e.metadata.get("region")
            await conn.execute(
                "INSERT INTO transfer_steps (case_id, step, region, at, detail) VALUES ($1, $2, $3, $4::text::timestamptz, $5) "
                "ON CONFLICT (case_id, step) DO NOTHING",
                d["case_id"],
                step if step != "stage_deadline_breached" else f"breached:{d['stage']}",
                region,
                at,
                d.get("reason"),
            )
            if e.event_type == "TransferApplied":
                await conn.execute(
                    "INSERT INTO transfers_view (case_id, direction, person_ref, from_region, to_region, channel, status, "
                    "started_at, trace_id) VALUES ($1, 'in', $2, $3, $4, $5, 'open', $6::text::timestamptz, $7) "
                    "ON CONFLICT DO NOTHING",
                    d["case_id"],
                    d["person_ref"],
                    d["from_region"],
                    d["to_region"],
                    d["channel"],
                    d["applied_at"],
                    _trace_id(e),
                )
            elif e.event_type == "ContactLetterReceived":
                await conn.execute(
                    "INSERT INTO transfers_view (case_id, direction, person_ref, from_region, to_region, status, "
                    "started_at, trace_id) VALUES ($1, 'out', $2, $3, $4, 'open', $5::text::timestamptz, $6) "
                    "ON CONFLICT DO NOTHING",
                    d["case_id"],
                    d["person_ref"],
                    region,
                    d["from_region"],
                    d["at"],
                    _trace_id(e),
                )
            elif e.event_type in CLOSING:
                await conn.execute(
                    "UPDATE transfers_view SET status = $2, ended_at = $3::text::timestamptz, reason_code = $4, reason = $5, "
                    "individual_fen = $6, pooled_fen = $7, temporary_account = $8 WHERE case_id = $1",
                    d["case_id"],
                    CLOSING[e.event_type],
                    d["at"],
                    d.get("reason_code"),
                    d.get("reason"),
                    d.get("individual_fen"),
                    d.get("pooled_fen"),
                    e.event_type == "TemporaryAccountOpened",
                )
            elif e.event_type == "LocalRelationshipTerminated":
                await conn.execute(
                    "UPDATE transfers_view SET status = 'transferred_out', ended_at = $2::text::timestamptz WHERE case_id = $1",
                    d["case_id"],
                    d["at"],
                )
            elif e.event_type == "FundsMismatchDetected":
                await conn.execute(
                    "UPDATE transfers_view SET status = 'mismatch', reason_code = $2, reason = $3 WHERE case_id = $1",
                    d["case_id"],
                    d["reason_code"],
                    d["reason"],
                )
            elif e.event_type == "InformationSheetReceived":
                await conn.executemany(
                    "INSERT INTO restored_periods (person_ref, case_id, month, from_region, base_fen, kind, account_fen) "
                    "SELECT person_ref, $1, $2, from_region, $3, $4, $5 FROM transfers_view WHERE case_id = $1 "
                    "ON CONFLICT DO NOTHING",
                    [(d["case_id"], p["month"], p["base_fen"], p["kind"], p["account_fen"]) for p in d["periods"]],
                )

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute("TRUNCATE transfers_view, transfer_steps, restored_periods")
