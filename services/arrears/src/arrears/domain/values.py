"""Small values of the wage-arrears domain: channels, statuses, reasons, worker claims, codes and dates.

Money is integer fen. Region codes are 6-digit GB/T 2260 codes: a district (区/县) is a code not
ending in "00"; its city is the first four digits + "00", its province the first two + "0000".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from arrears.domain.errors import InvalidDateError

# Beijing time is UTC+8 all year round (no daylight saving since 1991): a fixed offset is exact.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


class Channel(StrEnum):
    """Where a complaint or lead came in (一点受理: any channel, any district of the region)."""

    WEB = "web"
    APP = "app"
    HOTLINE = "hotline"  # 12333 / 12345
    COUNTER = "counter"  # walk-in, one window (一窗受理)
    PLATFORM = "platform"  # national lead platform (全国根治欠薪线索反映平台)


class LeadStatus(StrEnum):
    NONE = "none"  # nothing received
    RECEIVED = "received"  # at the intake point, not yet at the responsible district
    ROUTED = "routed"  # at a district, waiting to be accepted or refused
    ACCEPTED = "accepted"  # a case was filed
    REFUSED = "refused"


class CaseStatus(StrEnum):
    NONE = "none"  # not filed
    INVESTIGATING = "investigating"
    ORDERED = "ordered"  # a payment order (责令支付) was issued; still open until closed
    CLOSED = "closed"
    REVIEWING = "reviewing"  # post-closure check (复查) that wages were really paid
    REVIEWED = "reviewed"


class Stage(StrEnum):
    """A stage with a legal time limit, supervised (督办) when it runs over."""

    ACCEPTANCE = "acceptance"  # accept or refuse within 5 working days of arrival at the district
    INVESTIGATION = "investigation"  # close within 60 working days of filing (+30 with approval)


class Level(StrEnum):
    """Who supervises an overdue stage: the level above the district, then the one above that."""

    CITY = "city"
    PROVINCE = "province"


class RefusalReason(StrEnum):
    PAST_TWO_YEAR_LIMIT = "past_two_year_limit"  # 超过两年时效
    NOT_WAGE_MATTER = "not_wage_matter"  # 不属于欠薪事项
    NOT_OUR_JURISDICTION = "not_our_jurisdiction"  # 不属于劳动保障监察管辖
    IN_ARBITRATION_OR_COURT = "in_arbitration_or_court"  # 已进入仲裁或诉讼程序


REFUSAL_EXPLANATIONS: dict[RefusalReason, str] = {
    RefusalReason.PAST_TWO_YEAR_LIMIT: (
        "the wages claimed fell due more than two years before the complaint (超过两年时效): labour "
        "inspection no longer pursues a violation not reported within two years (劳动保障监察条例 art. 20); "
        "labour-dispute arbitration or a court may still hear the claim"
    ),
    RefusalReason.NOT_WAGE_MATTER: (
        "the complaint is not about wages owed (不属于欠薪事项): the wage-arrears service handles unpaid "
        "or withheld wages only; other matters go to the department responsible for them"
    ),
    RefusalReason.NOT_OUR_JURISDICTION: (
        "the matter is outside labour inspection's competence (不属于劳动保障监察管辖), e.g. no employment "
        "relationship with the party named; it is passed to the competent department"
    ),
    RefusalReason.IN_ARBITRATION_OR_COURT: (
        "the same claim is already before labour-dispute arbitration or a court (已进入仲裁或诉讼程序): "
        "labour inspection does not handle a claim that is being decided there"
    ),
}


class Outcome(StrEnum):
    """How a case ended (结案)."""

    PAID_IN_FULL = "paid_in_full"
    TRANSFERRED = "transferred"
    WITHDRAWN = "withdrawn"


class TransferTarget(StrEnum):
    DEPARTMENT = "department"  # another administrative department (outside inspection scope)
    POLICE = "police"  # 移送公安: refusing to pay wages is suspected to be a crime


class OrderStatus(StrEnum):
    OPEN = "open"
    COMPLIED = "complied"  # nothing unpaid at the due date
    DEFAULTED = "defaulted"  # wages still unpaid at the due date


class ReviewReason(StrEnum):
    SAMPLE = "sample"  # drawn in the post-closure sample
    DISPUTE = "dispute"  # a worker says the wages were not really paid


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerClaim:
    """One worker's claim: the wages owed to them, in fen."""

    citizen_id: str
    claimed_fen: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerPayment:
    """Money paid to (or, in a failed review, found not received by) one worker, in fen."""

    citizen_id: str
    amount_fen: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Project:
    """A construction project: the general contractor (总包) pays first when its subcontractor (分包) defaults."""

    name: str
    general_contractor_code: str
    subcontractor_code: str = ""


_REGION = re.compile(r"[1-9][0-9]{5}")


def is_region(code: str) -> bool:
    """Whether `code` reads as a 6-digit GB/T 2260 code ("440305")."""
    return _REGION.fullmatch(code) is not None


def is_district(code: str) -> bool:
    """A district or county: a 6-digit code not ending in "00" ("440305" yes, "440300" no)."""
    return is_region(code) and not code.endswith("00")


def city_of(district: str) -> str:
    return f"{district[:4]}00"


def province_of(district: str) -> str:
    return f"{district[:2]}0000"


def beijing_date(instant: datetime) -> date:
    """The Beijing calendar date of an aware instant."""
    if instant.utcoffset() is None:
        raise InvalidDateError(f"instant {instant.isoformat()} has no time zone: instants are aware UTC")
    return instant.astimezone(BEIJING).date()


def end_of_day(day: date) -> datetime:
    """When `day` ends in Beijing (the next local midnight), as aware UTC: a due date's last instant."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=BEIJING).astimezone(UTC)


def round_fen(amount: Decimal) -> int:
    """An amount in fen rounded half-up to a whole fen (0.5 fen -> 1 fen)."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def normal_id(citizen_id: str) -> str:
    """A citizen id as stored and compared: trimmed, the check letter upper-cased ("...001x" -> "...001X")."""
    return citizen_id.strip().upper()


def masked(citizen_id: str) -> str:
    """A citizen id fit for an error message: the region and the last four characters only."""
    if len(citizen_id) <= 10:
        return "*" * len(citizen_id)
    return f"{citizen_id[:6]}{'*' * (len(citizen_id) - 10)}{citizen_id[-4:]}"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerAccount:
    """One worker's position in the case ("my case"): claimed and paid, in fen."""

    citizen_id: str
    claimed_fen: int
    paid_fen: int = 0

    @property
    def unpaid_fen(self) -> int:
        return self.claimed_fen - self.paid_fen


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """A payment order (责令支付) and how it ended at its due date."""

    order_id: str
    liable_party: str
    amount_fen: int
    due_on: date
    status: OrderStatus = OrderStatus.OPEN
    unpaid_at_due_fen: int = 0
    compensation_fen: int | None = None

    @property
    def due_at(self) -> datetime:
        """The order's last instant: the end of its due day, Beijing time."""
        return end_of_day(self.due_on)
