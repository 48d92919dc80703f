"""Small values of the transfer domain: contribution periods, the three 15-working-day stages, money rounding.

A cross-province transfer (国办发〔2009〕66号) runs in three stages of 15 working days each: the new
agency reviews the application and sends the contact letter (联系函); the old agency checks for
unpaid contributions, issues the information sheet (信息表), transfers the funds and ends the local
relationship; the new agency checks the sheet against the funds to the fen and restores the history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum


class PeriodKind(StrEnum):
    """How a month was contributed: as an employee, into a temporary account (临时账户), or as an individual (灵活就业)."""

    EMPLOYEE = "employee"
    TEMPORARY = "temporary_account"
    INDIVIDUAL = "individual"


class Stage(StrEnum):
    """The three stages of a transfer, each with its own legal time limit of 15 working days."""

    REVIEW = "review"  # new agency reviews the application, sends the contact letter; from the application
    OLD_AGENCY = "old_agency"  # old agency: unpaid check, sheet, funds, termination; from receiving the letter
    NEW_AGENCY = "new_agency"  # new agency: sheet vs funds to the fen, completion; from receiving sheet and funds


STAGE_WORKING_DAYS = 15


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"


class CaseStatus(StrEnum):
    """Where the new region's case stands (stream transfer-<case_id>)."""

    NONE = "none"  # nothing applied yet
    APPLIED = "applied"  # under review
    REFUSED = "refused"
    TEMPORARY_ACCOUNT = "temporary_account"  # the age rule: a temporary account instead of a transfer
    LETTER_SENT = "letter_sent"  # waiting for the old agency's sheet and funds
    MISMATCH = "mismatch"  # sheet and funds are in but disagree: flagged, not completed
    COMPLETED = "completed"
    MERGED = "merged"  # both places in one province: accounts merged here, nothing transferred


class OutStatus(StrEnum):
    """Where the old region's case stands (stream transfer-out-<case_id>)."""

    NONE = "none"  # no contact letter yet
    LETTER_RECEIVED = "letter_received"
    UNPAID = "unpaid"  # unpaid contributions found: the old agency collects them first
    TERMINATED = "terminated"  # sheet issued, funds sent, local relationship ended


@dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    """One contribution month as the old agency's records show it.

    `base_fen` is the month's contribution base; `employer_rate` the rate the employer actually paid
    (it matters only for temporary-account months); `account_fen` what went into the individual
    account. `back_payment_batch` names the lump-sum back payment (一次性补缴) the month was paid in,
    if any; `documented` says the legal documents or written commitment for it exist (人社厅发〔2019〕94号).
    """

    month: str
    base_fen: int
    kind: PeriodKind
    employer_rate: Decimal
    account_fen: int
    back_payment_batch: str | None = None
    documented: bool = False


_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


def is_month(month: str) -> bool:
    """Whether `month` is a calendar month written "YYYY-MM" (e.g. "2010-01")."""
    found = _MONTH.fullmatch(month)
    return found is not None and int(found.group(1)) >= 1 and 1 <= int(found.group(2)) <= 12


def round_fen(amount: Decimal) -> int:
    """An amount in fen rounded half-up to a whole fen (0.5 fen -> 1 fen), as formulas end."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def province_of(region: str) -> str:
    """The province part of a GB/T 2260 code (its first two digits): "36" and "360100" are both "36"."""
    return region.strip()[:2]
