"""Deduplication key, the two-year limit, complaint validation, additional compensation, the review
sample, and the small values (region codes, Beijing dates, masked ids)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from arrears.domain.errors import (
    FutureDateError,
    InvalidAmountError,
    InvalidDateError,
    InvalidPercentError,
    InvalidRateError,
    MissingValueError,
    WorkersError,
)
from arrears.domain.rules import (
    additional_compensation_fen,
    check_complaint,
    lead_key,
    limitation_expired,
    limitation_start,
    review_sampled,
)
from arrears.domain.values import (
    WorkerClaim,
    beijing_date,
    city_of,
    end_of_day,
    is_district,
    masked,
    province_of,
    round_fen,
)
from tests.unit.arrears.examples import EMPLOYER, LI, PERIOD, WANG, ZHANG

# Deduplication (一点受理: one complaint, one lead)


def key(employer: str = EMPLOYER, ids: tuple[str, ...] = (ZHANG, LI), period: tuple[date, date] = PERIOD) -> str:
    return lead_key(employer_code=employer, citizen_ids=ids, period_from=period[0], period_to=period[1])


def test_the_key_is_stable_and_a_sha256() -> None:
    first = key()
    assert first == key()
    assert len(first) == 64 and int(first, 16) >= 0


def test_the_key_ignores_worker_order_repeats_case_and_spaces() -> None:
    assert key(ids=(LI, ZHANG)) == key(ids=(ZHANG, LI))
    assert key(ids=(ZHANG, LI, ZHANG, " ")) == key()
    assert key(ids=(WANG.lower(),)) == key(ids=(WANG,))
    assert key(employer=f" {EMPLOYER.lower()} ") == key()


def test_another_employer_worker_set_or_period_is_another_lead() -> None:
    assert key(employer="91440300MA5G1XYZ3L") != key()
    assert key(ids=(ZHANG,)) != key()
    assert key(ids=(ZHANG, LI, WANG)) != key()
    assert key(period=(PERIOD[0], date(2026, 2, 28))) != key()


def test_the_key_needs_an_employer_and_a_worker() -> None:
    with pytest.raises(MissingValueError, match="unified social credit code"):
        key(employer=" ")
    with pytest.raises(WorkersError, match="at least one worker"):
        key(ids=("",))


# The two-year limit (劳动保障监察条例 art. 20)


def test_exactly_two_years_is_still_pursued_one_day_more_is_not() -> None:
    complained = date(2026, 3, 16)
    assert not limitation_expired(last_day=date(2024, 3, 16), complained_on=complained)
    assert limitation_expired(last_day=date(2024, 3, 15), complained_on=complained)
    assert not limitation_expired(last_day=date(2025, 12, 31), complained_on=complained)


def test_a_complaint_on_29_february_counts_from_28_february() -> None:
    assert limitation_start(date(2028, 2, 29)) == date(2026, 2, 28)
    assert limitation_expired(last_day=date(2026, 2, 27), complained_on=date(2028, 2, 29))
    assert not limitation_expired(last_day=date(2026, 2, 28), complained_on=date(2028, 2, 29))


# Validation of a complaint


def claims(*pairs: tuple[str, int]) -> list[WorkerClaim]:
    return [WorkerClaim(citizen_id=c, claimed_fen=fen) for c, fen in pairs]


def test_a_readable_complaint_passes() -> None:
    check_complaint(workers=claims((ZHANG, 1)), period_from=PERIOD[0], period_to=PERIOD[1], today=date(2026, 3, 16))


@pytest.mark.parametrize(
    ("workers", "error", "match"),
    [
        ((), WorkersError, "at least one worker"),
        (((ZHANG, 680_000), (ZHANG.lower(), 10)), WorkersError, "listed twice"),
        (((ZHANG, 0),), InvalidAmountError, "above zero, got 0"),
        (((LI, -100),), InvalidAmountError, "got -100"),
        ((("  ", 100),), MissingValueError, "citizen id"),
    ],
)
def test_workers_must_be_listed_once_each_with_a_positive_claim(
    workers: tuple[tuple[str, int], ...], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        check_complaint(workers=claims(*workers), period_from=PERIOD[0], period_to=PERIOD[1], today=date(2026, 3, 16))


def test_claim_errors_mask_the_citizen_id() -> None:
    with pytest.raises(InvalidAmountError) as raised:
        check_complaint(workers=claims((ZHANG, 0)), period_from=PERIOD[0], period_to=PERIOD[1], today=date(2026, 3, 16))
    assert ZHANG not in str(raised.value) and "440305********1234" in str(raised.value)


def test_the_wage_period_reads_forwards_and_has_ended() -> None:
    with pytest.raises(InvalidDateError, match="after its end"):
        check_complaint(workers=claims((ZHANG, 1)), period_from=PERIOD[1], period_to=PERIOD[0], today=date(2026, 3, 16))
    with pytest.raises(FutureDateError, match="2026-03-17 is after today 2026-03-16"):
        check_complaint(
            workers=claims((ZHANG, 1)), period_from=PERIOD[0], period_to=date(2026, 3, 17), today=date(2026, 3, 16)
        )
    check_complaint(
        workers=claims((ZHANG, 1)), period_from=PERIOD[0], period_to=date(2026, 3, 16), today=date(2026, 3, 16)
    )


# Additional compensation (加付赔偿金, art. 26)


@pytest.mark.parametrize(
    ("unpaid", "rate", "expected"),
    [
        (2_450_050, Decimal("0.5"), 1_225_025),
        (2_450_050, Decimal("1.0"), 2_450_050),
        (2_450_051, Decimal("0.5"), 1_225_026),  # 1,225,025.5 fen rounds half up
        (1_234_567, Decimal("0.75"), 925_925),  # 925,925.25
        (1_234_567, Decimal("0.65"), 802_469),  # 802,468.55
        (1, Decimal("0.5"), 1),
    ],
)
def test_compensation_is_the_rate_of_the_unpaid_amount_to_the_fen(unpaid: int, rate: Decimal, expected: int) -> None:
    assert additional_compensation_fen(unpaid, rate) == expected


@pytest.mark.parametrize("rate", [Decimal("0.49"), Decimal("1.01"), Decimal(0), Decimal(2)])
def test_compensation_rate_is_between_50_and_100_percent(rate: Decimal) -> None:
    with pytest.raises(InvalidRateError, match=r"outside 0\.5-1\.0"):
        additional_compensation_fen(1_000_000, rate)


def test_round_fen_rounds_half_up() -> None:
    assert (round_fen(Decimal("0.5")), round_fen(Decimal("1.49")), round_fen(Decimal("2.5"))) == (1, 1, 3)


# The review sample (复查)


def test_the_sample_is_deterministic_and_near_the_percent() -> None:
    ids = [f"case-{n:05d}" for n in range(2_000)]
    drawn = [c for c in ids if review_sampled(c, 10)]
    assert drawn == [c for c in ids if review_sampled(c, 10)]
    assert 140 <= len(drawn) <= 260
    assert set(drawn) <= {c for c in ids if review_sampled(c, 30)}  # a larger sample keeps the smaller one


def test_the_sample_bounds() -> None:
    assert not review_sampled("case-0001", 0)
    assert review_sampled("case-0001", 100)
    with pytest.raises(InvalidPercentError):
        review_sampled("case-0001", 101)
    with pytest.raises(InvalidPercentError):
        review_sampled("case-0001", -1)


# Small values


def test_districts_cities_and_provinces() -> None:
    assert is_district("440305") and not is_district("440300") and not is_district("4403") and not is_district("040305")
    assert (city_of("440305"), province_of("440305")) == ("440300", "440000")


def test_the_beijing_date_turns_at_16_00_utc() -> None:
    assert beijing_date(datetime(2026, 3, 15, 15, 59, tzinfo=UTC)) == date(2026, 3, 15)
    assert beijing_date(datetime(2026, 3, 15, 16, 0, tzinfo=UTC)) == date(2026, 3, 16)
    with pytest.raises(InvalidDateError, match="no time zone"):
        beijing_date(datetime(2026, 3, 15, 16, 0))  # noqa: DTZ001 - the case under test


def test_a_due_day_ends_at_beijing_midnight() -> None:
    assert end_of_day(date(2026, 3, 20)) == datetime(2026, 3, 20, 16, 0, tzinfo=UTC)


def test_masked_ids_keep_the_region_and_last_four() -> None:
    assert masked(LI) == "440305********432X"
    assert masked("12345") == "*****"
