"""Read models of the transfer service: each case on its path, its steps, the restored history."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from runtime.batching import StreamBatch, json_rows
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


_STEP = (
    "INSERT INTO transfer_steps (case_id, step, region, at, detail) SELECT case_id, step, region, at::timestamptz, "
    "detail FROM "
    + json_rows("case_id, step, region, at, detail", "text, text, text, text, text")
    + " ON CONFLICT (case_id, step) DO NOTHING"
)
_APPLIED = (
    "INSERT INTO transfers_view (case_id, direction, person_ref, from_region, to_region, channel, status, started_at, "
    "trace_id) SELECT case_id, 'in', person_ref, from_region, to_region, channel, 'open', started_at::timestamptz, "
    "trace_id FROM "
    + json_rows(
        "case_id, person_ref, from_region, to_region, channel, started_at, trace_id",
        "text, text, text, text, text, text, text",
    )
    + " ON CONFLICT DO NOTHING"
)
_LETTER_RECEIVED = (
    "INSERT INTO transfers_view (case_id, direction, person_ref, from_region, to_region, status, started_at, trace_id) "
    "SELECT case_id, 'out', person_ref, from_region, to_region, 'open', started_at::timestamptz, trace_id FROM "
    + json_rows(
        "case_id, person_ref, from_region, to_region, started_at, trace_id", "text, text, text, text, text, text"
    )
    + " ON CONFLICT DO NOTHING"
)
_CLOSED = (
    "UPDATE transfers_view v SET status = r.status, ended_at = r.ended_at::timestamptz, reason_code = r.reason_code, "
    "reason = r.reason, individual_fen = r.individual_fen, pooled_fen = r.pooled_fen, "
    "temporary_account = r.temporary_account FROM "
    + json_rows(
        "case_id, status, ended_at, reason_code, reason, individual_fen, pooled_fen, temporary_account",
        "text, text, text, text, text, bigint, bigint, boolean",
    )
    + " WHERE v.case_id = r.case_id"
)
_TRANSFERRED_OUT = (
    "UPDATE transfers_view v SET status = 'transferred_out', ended_at = r.ended_at::timestamptz FROM "
    + json_rows("case_id, ended_at", "text, text")
    + " WHERE v.case_id = r.case_id"
)
_MISMATCH = (
    "UPDATE transfers_view v SET status = 'mismatch', reason_code = r.reason_code, reason = r.reason FROM "
    + json_rows("case_id, reason_code, reason", "text, text, text")
    + " WHERE v.case_id = r.case_id"
)
# The sheet's periods, one row each, under the person and old region of the case's own view row.
_RESTORED = (
    "INSERT INTO restored_periods (person_ref, case_id, month, from_region, base_fen, kind, account_fen) "
    "SELECT v.person_ref, r.case_id, p->>'month', v.from_region, (p->>'base_fen')::bigint, p->>'kind', "
    "(p->>'account_fen')::bigint FROM "
    + json_rows("case_id, periods", "text, jsonb")
    + " JOIN transfers_view v ON v.case_id = r.case_id CROSS JOIN LATERAL jsonb_array_elements(r.periods) AS p "
    "ON CONFLICT DO NOTHING"
)


class TransfersProjection:
    """Every statement touches rows of the event's own case only (its steps, its view row, its
    restored periods), so a batch runs in waves, set-based (`runtime.batching.StreamBatch`); a
    step's row is written by its event alone and read by nothing here, so all the batch's steps
    are one statement, whatever the waves."""

    name = "transfers"
    event_types = frozenset(STEP_NAMES)

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        batch = StreamBatch()
        for e in events:
            d = e.data
            step = STEP_NAMES.get(e.event_type)
            if step is None:
                continue
            case = batch.of(d["case_id"])
            region = e.metadata.get("region")
            batch.add_unordered(
                _STEP,
                (
                    d["case_id"],
                    step if step != "stage_deadline_breached" else f"breached:{d['stage']}",
                    region,
                    d.get("at") or d.get("applied_at"),
                    d.get("reason"),
                ),
            )
            if e.event_type == "TransferApplied":
                await case.execute(
                    _APPLIED,
                    d["case_id"],
                    d["person_ref"],
                    d["from_region"],
                    d["to_region"],
                    d["channel"],
                    d["applied_at"],
                    _trace_id(e),
                )
            elif e.event_type == "ContactLetterReceived":
                await case.execute(
                    _LETTER_RECEIVED, d["case_id"], d["person_ref"], region, d["from_region"], d["at"], _trace_id(e)
                )
            elif e.event_type in CLOSING:
                await case.execute(
                    _CLOSED,
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
                await case.execute(_TRANSFERRED_OUT, d["case_id"], d["at"])
            elif e.event_type == "FundsMismatchDetected":
                await case.execute(_MISMATCH, d["case_id"], d["reason_code"], d["reason"])
            elif e.event_type == "InformationSheetReceived":
                await case.execute(_RESTORED, d["case_id"], d["periods"])
        await batch.run(conn)

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute("TRUNCATE transfers_view, transfer_steps, restored_periods")
