"""Pricing a hospital's lines against the catalogue version valid on the service date.

The fund pays, for an in-catalogue item (class A or B; work injury has no class-B self-pay ratio),
min(hospital unit price, catalogue price) x quantity, rounded half-up to the fen; the worker pays
the rest of the line, and the whole of an out-of-catalogue line. Fund share + self-pay = the line's
amount to the fen, so the totals add up too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from injury.domain.catalogue import Catalogue, CatalogueItem
from injury.domain.values import LineRejection, PostedLine, PricedLine, RejectionReason, round_fen


@dataclass(frozen=True, slots=True, kw_only=True)
class Shares:
    total_fen: int
    fund_fen: int
    self_pay_fen: int


def line_amount_fen(quantity: Decimal, unit_price_fen: int) -> int:
    """quantity x unit price, rounded half-up to the fen: 1.5 x 35 fen = 52.5 -> 53 fen."""
    return round_fen(quantity * unit_price_fen)


def fund_share_fen(line: PostedLine, item: CatalogueItem) -> int:
    """What the fund pays for one valid line: min(hospital price, catalogue price) x quantity for an
    in-catalogue item, never more than the line's amount; 0 outside the catalogue."""
    if not item.category.in_catalogue:
        return 0
    capped = line_amount_fen(line.quantity, min(line.unit_price_fen, item.price_fen))
    return min(capped, line.amount_fen)


def _arithmetic_fault(line: PostedLine) -> RejectionReason | None:
    if not line.quantity.is_finite() or line.quantity <= 0:
        return RejectionReason.INVALID_QUANTITY
    if line.unit_price_fen <= 0:
        return RejectionReason.INVALID_PRICE
    if line.amount_fen <= 0:
        return RejectionReason.INVALID_AMOUNT
    if line.amount_fen != line_amount_fen(line.quantity, line.unit_price_fen):
        return RejectionReason.AMOUNT_MISMATCH
    return None


def price_line(line: PostedLine, catalogue: Catalogue, service_date: date) -> PricedLine | LineRejection:
    """The line priced, or the first rule it breaks: its own arithmetic, then the catalogue."""
    fault = _arithmetic_fault(line)
    if fault is not None:
        return LineRejection(line_no=line.line_no, item_code=line.item_code, reason=fault)
    item = catalogue.price_on(line.item_code, service_date)
    if item is None:
        known = catalogue.knows(line.item_code)
        reason = RejectionReason.NOT_IN_FORCE if known else RejectionReason.UNKNOWN_ITEM
        return LineRejection(line_no=line.line_no, item_code=line.item_code, reason=reason)
    fund = fund_share_fen(line, item)
    return PricedLine(
        line_no=line.line_no,
        item_code=line.item_code,
        kind=item.kind,
        category=item.category,
        catalogue_version=item.version,
        catalogue_price_fen=item.price_fen,
        quantity=line.quantity,
        unit_price_fen=line.unit_price_fen,
        amount_fen=line.amount_fen,
        fund_fen=fund,
        self_pay_fen=line.amount_fen - fund,
    )


def price_lines(
    lines: Iterable[PostedLine], catalogue: Catalogue, service_date: date
) -> tuple[tuple[PricedLine, ...], tuple[LineRejection, ...]]:
    """Every line priced, or every rejected line with its reason (a line number below 1 or repeated
    is rejected too); in posted order."""
    priced: list[PricedLine] = []
    rejected: list[LineRejection] = []
    seen: set[int] = set()
    for line in lines:
        if line.line_no < 1 or line.line_no in seen:
            rejected.append(
                LineRejection(line_no=line.line_no, item_code=line.item_code, reason=RejectionReason.INVALID_LINE_NO)
            )
            continue
        seen.add(line.line_no)
        result = price_line(line, catalogue, service_date)
        if isinstance(result, LineRejection):
            rejected.append(result)
        else:
            priced.append(result)
    return tuple(priced), tuple(rejected)


def shares(lines: Iterable[PricedLine]) -> Shares:
    """The lines' totals through the network: Σ fund + Σ self-pay = Σ amount."""
    listed = tuple(lines)
    return Shares(
        total_fen=sum(line.amount_fen for line in listed),
        fund_fen=sum(line.fund_fen for line in listed),
        self_pay_fen=sum(line.self_pay_fen for line in listed),
    )
