"""Messages between the transfer services of two regions, and the public events of a transfer.

Cross-region messages go to the receiving region's inbox subject
(`<root>.<to_region>.transfer.in.<message>.v1`), held in that region's inbox stream until its
transfer service applies them; a duplicate has no second effect.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts.lines import LinesMessage


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class PeriodV1(_Message):
    month: str
    base_fen: int
    kind: str
    employer_rate: str
    account_fen: int
    back_payment_batch: str | None = None
    documented: bool = False


class ContactLetterV1(_Message):
    """联系函: the new agency asks the old one to transfer the person's pension."""

    case_id: str
    person_ref: str
    citizen_id: str
    from_region: str
    to_region: str


class InformationSheetV1(_Message):
    """信息表: what the old agency transfers: the periods and the two amounts, to the fen."""

    case_id: str
    periods: list[PeriodV1]
    individual_fen: int
    pooled_fen: int
    returned_periods: list[str]


class FundsTransferredV1(_Message):
    case_id: str
    amount_fen: int
    reference: str


class UnpaidContributionsFoundV1(_Message):
    case_id: str
    months: list[str]


# Version 1 of `transfer_stage` (a message per step) stays for the streams' history; `TransferStagesV2` is sent now.
class TransferStageV1(_Message):
    """A step of a transfer's path, for projections and operators."""

    case_id: str
    step: str
    region: str
    at: AwareDatetime
    detail: str | None = None


class StageStepV2(_Message):
    """One step of a transfer's path: its name, when, and the reason or stage it concerns."""

    step: str
    at: AwareDatetime
    detail: str | None = None


class TransferStagesV2(LinesMessage):
    """The steps of a transfer's path one decision took here, in order, or the decisions recorded
    together on one case (a new region's sheet and funds arriving in one fetch: received, received,
    completed). Version 1 sent a message per step: an old agency's straight-through answer, letter
    received to relationship ended, was four."""

    LINES: ClassVar[str] = "steps"

    case_id: str
    region: str
    steps: list[StageStepV2]


class TransferOutcomeV1(_Message):
    """How a transfer ended: completed, refused (with the reason told to the applicant), temporary account."""

    case_id: str
    outcome: str
    from_region: str
    to_region: str
    applied_at: AwareDatetime
    ended_at: AwareDatetime
    reason_code: str | None = None
    individual_fen: int = 0
    pooled_fen: int = 0
    due_on: date | None = None
