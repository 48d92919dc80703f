"""Private transfer events -> public events on this region's stream (the path, the outcome).

The steps one decision takes leave as one `transfer_stage` message (version 2, a line per step;
the recorder joins them), as do those of decisions recorded together (a case's sheet and funds
taken in one fetch: `EventRecorder.record_together`). Messages to the other region (letter,
sheet, funds) are addressed by the saga handlers themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts.transfer.messages import StageStepV2, TransferStagesV2, TransferStageV1
from runtime.recording import Published
from transfer.domain import events as ev

STEPS: dict[type[Any], str] = {
    ev.TransferApplied: "applied",
    ev.ContactLetterSent: "contact_letter_sent",
    ev.ContactLetterReceived: "contact_letter_received",
    ev.UnpaidContributionsFound: "unpaid_contributions_found",
    ev.InformationSheetIssued: "information_sheet_issued",
    ev.FundsTransferred: "funds_transferred",
    ev.LocalRelationshipTerminated: "local_relationship_terminated",
    ev.InformationSheetReceived: "information_sheet_received",
    ev.FundsReceived: "funds_received",
    ev.FundsMismatchDetected: "funds_mismatch_detected",
    ev.TransferCompleted: "completed",
    ev.TransferRefused: "refused",
    ev.TemporaryAccountOpened: "temporary_account_opened",
    ev.AccountsMerged: "accounts_merged",
    ev.StageDeadlineBreached: "stage_deadline_breached",
}


def _at(event: Any) -> Any:
    return getattr(event, "at", None) or getattr(event, "applied_at", None)


def to_public(event: Any, stream_id: str, *, region: str) -> Sequence[Published]:
    step = STEPS.get(type(event))
    if step is None:
        return []
    detail = getattr(event, "reason", None) or (
        str(event.stage) if isinstance(event, ev.StageDeadlineBreached) else None
    )
    at = _at(event)
    if isinstance(event, ev.TransferApplied):
        # The application is its own public event: what the online-handling share counts, with its channel.
        stage = TransferStageV1(case_id=event.case_id, step=step, region=region, at=at, detail=detail)
        return [Published("transfer_applied", stage)]
    steps = [StageStepV2(step=step, at=at, detail=detail)]
    return [Published("transfer_stage", TransferStagesV2(case_id=event.case_id, region=region, steps=steps), version=2)]
