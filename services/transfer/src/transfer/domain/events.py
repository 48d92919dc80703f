"""Private, stored facts of the transfer service: the new region's case and the old region's case.

Money is integer fen, rates are Decimal, instants are aware UTC datetimes. Field types stay plain
(str, int, bool, Decimal, datetime, StrEnum, tuples, the Period value) so stored JSON rebuilds them
exactly. StageDeadlineBreached belongs to both aggregates; every other event to one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from transfer.domain.values import Period, Stage

# New region: stream transfer-<case_id>


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferApplied:
    case_id: str
    person_ref: str
    citizen_id: str
    from_region: str
    to_region: str
    channel: str
    applied_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferRefused:
    """The application fails a rule; `reason` is the written explanation the applicant receives."""

    case_id: str
    reason_code: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TemporaryAccountOpened:
    """The age rule: the relationship stays where it is and a temporary account is opened here instead."""

    case_id: str
    person_ref: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactLetterSent:
    case_id: str
    from_region: str
    to_region: str
    person_ref: str
    citizen_id: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class InformationSheetReceived:
    case_id: str
    periods: tuple[Period, ...]
    individual_fen: int
    pooled_fen: int
    returned_periods: tuple[str, ...]
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class FundsReceived:
    case_id: str
    amount_fen: int
    reference: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class FundsMismatchDetected:
    """Sheet and funds disagree (or the sheet with itself, or with months paid here): completion stops.

    reason_code is "amount" (funds differ from the sheet's total), "sheet_arithmetic" (the sheet's
    amounts differ from its own periods) or "overlap" (the sheet lists months also paid here).
    """

    case_id: str
    expected_fen: int
    received_fen: int
    reason_code: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferCompleted:
    case_id: str
    individual_fen: int
    pooled_fen: int
    months_restored: int
    at: datetime


# Both regions


@dataclass(frozen=True, slots=True, kw_only=True)
class StageDeadlineBreached:
    """A stage was still open at its legal limit of 15 working days (for supervision)."""

    case_id: str
    stage: Stage
    due_at: datetime
    at: datetime


# Old region: stream transfer-out-<case_id>


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactLetterReceived:
    """`from_region` is the sender of the letter: the NEW region."""

    case_id: str
    person_ref: str
    citizen_id: str
    from_region: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class UnpaidContributionsFound:
    case_id: str
    months: tuple[str, ...]
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class InformationSheetIssued:
    case_id: str
    periods: tuple[Period, ...]
    individual_fen: int
    pooled_fen: int
    returned_periods: tuple[str, ...]
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class FundsTransferred:
    case_id: str
    amount_fen: int
    reference: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalRelationshipTerminated:
    case_id: str
    person_ref: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountsMerged:
    """Both places are in one province: the person's records there are merged into one account here
    (provincial pooling), with no letter, sheet or funds between agencies."""

    case_id: str
    person_ref: str
    months: int
    individual_fen: int
    at: datetime


InOnlyEvent = (
    TransferApplied
    | TransferRefused
    | AccountsMerged
    | TemporaryAccountOpened
    | ContactLetterSent
    | InformationSheetReceived
    | FundsReceived
    | FundsMismatchDetected
    | TransferCompleted
)
OutOnlyEvent = (
    ContactLetterReceived
    | UnpaidContributionsFound
    | InformationSheetIssued
    | FundsTransferred
    | LocalRelationshipTerminated
)
TransferInEvent = InOnlyEvent | StageDeadlineBreached
TransferOutEvent = OutOnlyEvent | StageDeadlineBreached
Event = InOnlyEvent | OutOnlyEvent | StageDeadlineBreached

TRANSFER_IN_EVENT_TYPES: tuple[type[TransferInEvent], ...] = (
    TransferApplied,
    TransferRefused,
    AccountsMerged,
    TemporaryAccountOpened,
    ContactLetterSent,
    InformationSheetReceived,
    FundsReceived,
    FundsMismatchDetected,
    TransferCompleted,
    StageDeadlineBreached,
)
_OUT_ONLY_TYPES: tuple[type[OutOnlyEvent], ...] = (
    ContactLetterReceived,
    UnpaidContributionsFound,
    InformationSheetIssued,
    FundsTransferred,
    LocalRelationshipTerminated,
)
TRANSFER_OUT_EVENT_TYPES: tuple[type[TransferOutEvent], ...] = (*_OUT_ONLY_TYPES, StageDeadlineBreached)
EVENT_TYPES: tuple[type[Event], ...] = TRANSFER_IN_EVENT_TYPES + _OUT_ONLY_TYPES
