"""Small values of the work-injury domain: catalogue classes, settlement lines, stages, money rounding.

The fund pays treatment inside the three work-injury catalogues (drugs, diagnosis and treatment
items, inpatient service standard) at an agreement institution; the worker pays what lies outside
them and any price above the catalogue's. Money is integer fen; quantities are Decimal; an amount
is rounded half-up to the fen once, at the end of each line's formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum


class ItemKind(StrEnum):
    """Which of the three catalogues an item belongs to."""

    DRUG = "drug"  # 药品 (西药, 中成药)
    TREATMENT = "treatment"  # 诊疗项目
    SERVICE = "service"  # 服务设施 (inpatient service standard: beds, nursing)


class Category(StrEnum):
    """How the fund treats an item. Work injury has no class-B self-pay ratio (unlike medical
    insurance): classes A and B are both paid in full up to the catalogue price."""

    CLASS_A = "class_a"  # 甲类
    CLASS_B = "class_b"  # 乙类
    OUT_OF_CATALOGUE = "out_of_catalogue"  # 目录外: known, priced, never paid by the fund

    @property
    def in_catalogue(self) -> bool:
        return self is not Category.OUT_OF_CATALOGUE


class InstitutionKind(StrEnum):
    HOSPITAL = "hospital"
    REHABILITATION = "rehabilitation"
    ASSISTIVE_DEVICE = "assistive_device"


class AgreementStatus(StrEnum):
    """An institution's agreement on one day."""

    NONE = "none"  # never signed
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"
    NOT_COVERED = "not_covered"  # no agreement term covers the day (not yet valid, or expired)


class Applicant(StrEnum):
    """Who filed for determination: the employer within 30 days, the others within 1 year."""

    EMPLOYER = "employer"
    WORKER = "worker"
    RELATIVE = "relative"
    TRADE_UNION = "trade_union"


class DeterminationStatus(StrEnum):
    NONE = "none"
    APPLIED = "applied"
    ACCEPTED = "accepted"
    RECOGNISED = "recognised"  # 认定工伤决定书
    DENIED = "denied"  # 不予认定工伤决定书


class DeterminationStage(StrEnum):
    """The two timed stages of a determination (工伤认定办法 arts. 8 and 18), counted in calendar days."""

    ACCEPTANCE = "acceptance"  # 15 days from the application
    DECISION = "decision"  # 60 days from acceptance, 15 when the facts are clear


ACCEPTANCE_DAYS = 15
DECISION_DAYS = 60
CLEAR_DECISION_DAYS = 15


class SettlementStatus(StrEnum):
    NONE = "none"
    SETTLED = "settled"  # through the network: the fund paid its share
    HELD = "held"  # held as self-pay until the determination is recognised
    RESETTLED = "resettled"  # settled again through the network after a late determination
    REVERSED = "reversed"


class HoldReason(StrEnum):
    """Why a settlement was held as self-pay instead of settled through the network."""

    NO_DETERMINATION = "no_determination"  # none referenced, or none on record
    PENDING = "pending"  # applied or accepted, not yet decided
    NOT_RECOGNISED = "not_recognised"  # decided: not a work injury


class RejectionReason(StrEnum):
    """Why a posted line cannot be settled; counted per reason for the statistics."""

    INVALID_LINE_NO = "invalid_line_no"  # below 1 or repeated
    INVALID_QUANTITY = "invalid_quantity"  # zero, negative or not a number
    INVALID_PRICE = "invalid_price"  # unit price zero or negative
    INVALID_AMOUNT = "invalid_amount"  # amount zero or negative
    AMOUNT_MISMATCH = "amount_mismatch"  # amount differs from quantity x unit price, to the fen
    UNKNOWN_ITEM = "unknown_item"  # no catalogue has the code
    NOT_IN_FORCE = "not_in_force"  # the code is known, but no version is valid on the service date


class Figure(StrEnum):
    """The three figures a hospital's daily declaration is reconciled on."""

    COUNT = "count"
    TOTAL = "total_fen"
    FUND = "fund_fen"


@dataclass(frozen=True, slots=True, kw_only=True)
class PostedLine:
    """One line as the hospital posts it: `amount_fen` must equal quantity x unit price to the fen."""

    line_no: int
    item_code: str
    quantity: Decimal
    unit_price_fen: int
    amount_fen: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PricedLine:
    """A posted line priced against the catalogue version valid on the service date.

    `fund_fen` is what the network pays (min(hospital price, catalogue price) x quantity for an
    in-catalogue item, else 0); `self_pay_fen` the rest; together they are `amount_fen`.
    """

    line_no: int
    item_code: str
    kind: ItemKind
    category: Category
    catalogue_version: int
    catalogue_price_fen: int
    quantity: Decimal
    unit_price_fen: int
    amount_fen: int
    fund_fen: int
    self_pay_fen: int

    def as_posted(self) -> PostedLine:
        return PostedLine(
            line_no=self.line_no,
            item_code=self.item_code,
            quantity=self.quantity,
            unit_price_fen=self.unit_price_fen,
            amount_fen=self.amount_fen,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LineRejection:
    line_no: int
    item_code: str
    reason: RejectionReason


@dataclass(frozen=True, slots=True, kw_only=True)
class Posting:
    """An encounter as the hospital posts it. `hospital_settlement_no` is the hospital's own id for
    it and the idempotency key; `determination_ref` is empty when the worker shows none."""

    hospital_id: str
    hospital_settlement_no: str
    citizen_id: str
    determination_ref: str
    service_date: date
    lines: tuple[PostedLine, ...]
    declared_total_fen: int


def round_fen(amount: Decimal) -> int:
    """An amount in fen rounded half-up to a whole fen (0.5 fen -> 1 fen), as formulas end."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))
