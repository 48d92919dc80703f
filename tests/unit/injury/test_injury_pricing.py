"""Pricing lines: capped at the catalogue price, rounded half-up, fund + self-pay = amount, rejections."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from injury.domain.catalogue import Catalogue, CatalogueItem, build_catalogue
from injury.domain.errors import describe_rejection
from injury.domain.pricing import line_amount_fen, price_line, price_lines, shares
from injury.domain.values import Category, ItemKind, LineRejection, PostedLine, PricedLine, RejectionReason

DAY = date(2026, 3, 2)


def version(code: str, price_fen: int, category: Category = Category.CLASS_A, **dates: date) -> CatalogueItem:
    return CatalogueItem(
        code=code,
        name=code,
        kind=ItemKind.DRUG,
        category=category,
        unit="粒",
        price_fen=price_fen,
        valid_from=dates.get("valid_from", date(2024, 1, 1)),
        valid_to=dates.get("valid_to"),
    )


CATALOGUE = build_catalogue(
    "360100",
    [
        version("A", 80),
        version("A", 65, valid_from=date(2026, 1, 1)),
        version("B", 150, Category.CLASS_B),
        version("OUT", 16_800, Category.OUT_OF_CATALOGUE),
        version("OLD", 5_000, valid_to=date(2025, 12, 31)),
    ],
)


def line(code: str, quantity: str, unit_price_fen: int, amount_fen: int | None = None, no: int = 1) -> PostedLine:
    qty = Decimal(quantity)
    amount = line_amount_fen(qty, unit_price_fen) if amount_fen is None else amount_fen
    return PostedLine(line_no=no, item_code=code, quantity=qty, unit_price_fen=unit_price_fen, amount_fen=amount)


def priced(posted: PostedLine, on: date = DAY, catalogue: Catalogue = CATALOGUE) -> PricedLine:
    result = price_line(posted, catalogue, on)
    assert isinstance(result, PricedLine)
    return result


def test_the_price_change_applies_from_its_first_day() -> None:
    before, after = priced(line("A", "10", 90), date(2025, 12, 31)), priced(line("A", "10", 90), date(2026, 1, 1))
    assert (before.catalogue_version, before.catalogue_price_fen, before.fund_fen) == (1, 80, 800)
    assert (after.catalogue_version, after.catalogue_price_fen, after.fund_fen) == (2, 65, 650)
    assert (before.self_pay_fen, after.self_pay_fen) == (100, 250)


def test_the_fund_pays_the_hospital_price_when_below_the_catalogue() -> None:
    cheap = priced(line("A", "10", 50))
    assert (cheap.amount_fen, cheap.fund_fen, cheap.self_pay_fen) == (500, 500, 0)


def test_class_b_is_paid_in_full_and_out_of_catalogue_not_at_all() -> None:
    b = priced(line("B", "2", 150))
    assert (b.category, b.fund_fen, b.self_pay_fen) == (Category.CLASS_B, 300, 0)
    out = priced(line("OUT", "1", 16_800))
    assert (out.category, out.fund_fen, out.self_pay_fen) == (Category.OUT_OF_CATALOGUE, 0, 16_800)


def test_amounts_round_half_up_to_the_fen() -> None:
    assert line_amount_fen(Decimal("1.5"), 35) == 53  # 52.5 -> 53
    assert line_amount_fen(Decimal("0.333"), 100) == 33  # 33.3 -> 33
    half = priced(line("A", "0.5", 67))  # amount 33.5 -> 34; fund 0.5 x 65 = 32.5 -> 33
    assert (half.amount_fen, half.fund_fen, half.self_pay_fen) == (34, 33, 1)


@pytest.mark.parametrize(
    ("posted", "reason"),
    [
        (line("A", "0", 80, 1), RejectionReason.INVALID_QUANTITY),
        (line("A", "-1", 80, 1), RejectionReason.INVALID_QUANTITY),
        (line("A", "NaN", 80, 1), RejectionReason.INVALID_QUANTITY),
        (line("A", "1", 0, 1), RejectionReason.INVALID_PRICE),
        (line("A", "1", 80, 0), RejectionReason.INVALID_AMOUNT),
        (line("A", "3", 80, 241), RejectionReason.AMOUNT_MISMATCH),
        (line("ZZZ", "1", 80), RejectionReason.UNKNOWN_ITEM),
        (line("OLD", "1", 5_000), RejectionReason.NOT_IN_FORCE),
    ],
    ids=lambda v: v.value if isinstance(v, RejectionReason) else "",
)
def test_a_line_that_cannot_be_priced_says_why(posted: PostedLine, reason: RejectionReason) -> None:
    assert price_line(posted, CATALOGUE, DAY) == LineRejection(line_no=1, item_code=posted.item_code, reason=reason)


def test_every_rejected_line_is_named_and_numbers_are_checked() -> None:
    lines = [line("A", "1", 80, no=1), line("ZZZ", "1", 80, no=2), line("B", "1", 150, no=2), line("A", "1", 80, no=0)]
    ok, rejected = price_lines(lines, CATALOGUE, DAY)
    assert [p.line_no for p in ok] == [1]
    assert [(r.line_no, r.reason) for r in rejected] == [
        (2, RejectionReason.UNKNOWN_ITEM),
        (2, RejectionReason.INVALID_LINE_NO),
        (0, RejectionReason.INVALID_LINE_NO),
    ]
    assert describe_rejection(rejected[0]) == "line 2 (ZZZ): the code is in no work-injury catalogue"


def test_totals_add_up_per_line_and_in_total() -> None:
    ok, rejected = price_lines(
        [line("A", "1.5", 90, no=1), line("B", "2", 149, no=2), line("OUT", "1", 20_000, no=3)], CATALOGUE, DAY
    )
    assert rejected == ()
    totals = shares(ok)
    assert (totals.total_fen, totals.fund_fen, totals.self_pay_fen) == (135 + 298 + 20_000, 98 + 298, 37 + 20_000)


@given(
    quantity=st.decimals(min_value=Decimal("0.001"), max_value=Decimal(1000), places=3),
    unit_price_fen=st.integers(min_value=1, max_value=10_000_000),
    code=st.sampled_from(["A", "B", "OUT"]),
)
def test_fund_and_self_pay_always_make_the_line_amount(quantity: Decimal, unit_price_fen: int, code: str) -> None:
    amount = line_amount_fen(quantity, unit_price_fen)
    posted = PostedLine(line_no=1, item_code=code, quantity=quantity, unit_price_fen=unit_price_fen, amount_fen=amount)
    result = price_line(posted, CATALOGUE, DAY)
    if amount == 0:
        assert isinstance(result, LineRejection) and result.reason is RejectionReason.INVALID_AMOUNT
        return
    assert isinstance(result, PricedLine)
    assert result.fund_fen + result.self_pay_fen == amount
    assert 0 <= result.fund_fen <= amount
