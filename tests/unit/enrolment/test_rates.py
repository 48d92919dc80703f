"""Rate tables: base floor and cap, work-injury rates by class and tier, contributions to the fen."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from importlib.resources import files
from typing import Any

import pytest

from enrolment.domain.errors import (
    EnrolmentError,
    InvalidRiskClassError,
    InvalidTierError,
    NoRateTableError,
    SchemeNotOfferedError,
)
from enrolment.domain.rates import RateTable, SchemeRate, load_rate_tables, rate_table_for
from enrolment.domain.values import TIERS, TIERS_CLASS_1, Scheme

INJURY_BASE = {
    "1": "0.002",
    "2": "0.004",
    "3": "0.007",
    "4": "0.009",
    "5": "0.011",
    "6": "0.013",
    "7": "0.016",
    "8": "0.019",
}
DATA: dict[str, Any] = {
    "region": "36",
    "years": {
        "2026": {
            "average_monthly_wage_fen": 600_000,
            "schemes": {
                "pension": {"employer": "0.16", "worker": "0.08"},
                "work_injury": {"employer": "0", "worker": "0"},
                "unemployment": {"employer": "0.005", "worker": "0.005"},
                "medical": {"employer": "0.06", "worker": "0.02"},
            },
            "injury_base_rates": INJURY_BASE,
        }
    },
}
RATES = load_rate_tables(DATA)[("36", 2026)]


def shipped(region: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((files("enrolment.rates") / f"{region}.json").read_text(encoding="utf-8"))
    return data


# Base floor and cap: 60% and 300% of the average wage


def test_a_wage_below_60_percent_of_the_average_is_raised_to_the_floor() -> None:
    assert RATES.clamp_base(300_000) == (360_000, "floor")


def test_a_wage_above_300_percent_of_the_average_is_cut_to_the_cap() -> None:
    assert RATES.clamp_base(2_000_000) == (1_800_000, "cap")


@pytest.mark.parametrize("wage", [360_000, 500_000, 1_800_000])
def test_a_wage_within_the_bounds_is_the_base_itself(wage: int) -> None:
    assert RATES.clamp_base(wage) == (wage, None)


def test_the_floor_is_rounded_half_up_to_the_fen() -> None:
    odd = RateTable(
        region="36",
        year=2026,
        average_monthly_wage_fen=1_000_010,
        schemes={},
        injury_base_rates={},
        floor_ratio=Decimal("0.65"),
    )

    assert odd.floor_fen == 650_007  # 650,006.5 fen rounds up
    assert odd.clamp_base(1) == (650_007, "floor")


# Work-injury rates: class base rate x tier


@pytest.mark.parametrize(("risk_class", "rate"), [(int(k), Decimal(v)) for k, v in INJURY_BASE.items()])
def test_at_the_base_tier_the_rate_is_the_class_base_rate(risk_class: int, rate: Decimal) -> None:
    assert RATES.injury_rate(risk_class, Decimal("1.0")) == rate


@pytest.mark.parametrize(
    ("risk_class", "tier", "rate"),
    [
        (1, Decimal("1.2"), Decimal("0.0024")),
        (1, Decimal("1.5"), Decimal("0.003")),
        (2, Decimal("0.5"), Decimal("0.002")),
        (4, Decimal("0.8"), Decimal("0.0072")),
        (8, Decimal("1.5"), Decimal("0.0285")),
    ],
)
def test_a_floating_tier_multiplies_the_base_rate(risk_class: int, tier: Decimal, rate: Decimal) -> None:
    assert RATES.injury_rate(risk_class, tier) == rate


@pytest.mark.parametrize("tier", [Decimal("0.5"), Decimal("0.8")])
def test_class_1_refuses_to_float_below_its_base(tier: Decimal) -> None:
    with pytest.raises(InvalidTierError) as raised:
        RATES.injury_rate(1, tier)

    assert "risk class 1" in str(raised.value)
    assert "1.0, 1.2, 1.5" in str(raised.value)


@pytest.mark.parametrize("risk_class", range(2, 9))
def test_classes_2_to_8_take_all_five_tiers(risk_class: int) -> None:
    assert [RATES.injury_rate(risk_class, t) for t in TIERS] == [
        Decimal(INJURY_BASE[str(risk_class)]) * t for t in TIERS
    ]
    assert len(TIERS) == 5
    assert len(TIERS_CLASS_1) == 3


@pytest.mark.parametrize("tier", [Decimal("0.7"), Decimal("2"), Decimal("0")])
def test_a_tier_outside_the_list_is_refused(tier: Decimal) -> None:
    with pytest.raises(InvalidTierError):
        RATES.injury_rate(3, tier)


@pytest.mark.parametrize("risk_class", [0, 9, -1])
def test_a_risk_class_outside_1_to_8_is_refused(risk_class: int) -> None:
    with pytest.raises(InvalidRiskClassError) as raised:
        RATES.injury_rate(risk_class, Decimal("1.0"))

    assert isinstance(raised.value, EnrolmentError)
    assert str(risk_class) in str(raised.value)


# Contributions: base x rate, half-up to the fen


def test_a_month_of_each_scheme_on_a_6000_yuan_base() -> None:
    assert RATES.contribution(Scheme.PENSION, 600_000) == (96_000, 48_000)
    assert RATES.contribution(Scheme.MEDICAL, 600_000) == (36_000, 12_000)
    assert RATES.contribution(Scheme.UNEMPLOYMENT, 600_000) == (3_000, 3_000)
    assert RATES.contribution(Scheme.WORK_INJURY, 600_000, injury_rate=Decimal("0.0045")) == (2_700, 0)


def test_contributions_round_to_the_nearest_fen() -> None:
    # 333,333 x 16% = 53,333.28; x 8% = 26,666.64; x 6% = 19,999.98; x 2% = 6,666.66
    assert RATES.contribution(Scheme.PENSION, 333_333) == (53_333, 26_667)
    assert RATES.contribution(Scheme.MEDICAL, 333_333) == (20_000, 6_667)


@pytest.mark.parametrize(("base", "share"), [(100, 1), (300, 2), (500, 3), (700, 4)])
def test_half_a_fen_rounds_up_never_to_even(base: int, share: int) -> None:
    # 0.5% of 100, 300, 500, 700 fen is 0.5, 1.5, 2.5, 3.5 fen
    assert RATES.contribution(Scheme.UNEMPLOYMENT, base) == (share, share)


def test_work_injury_is_paid_by_the_employer_alone_at_the_employers_rate() -> None:
    # 456,789 x 1.3% = 5,938.257
    assert RATES.contribution(Scheme.WORK_INJURY, 456_789, injury_rate=Decimal("0.013")) == (5_938, 0)


def test_work_injury_without_the_employers_rate_cannot_be_worked_out() -> None:
    with pytest.raises(ValueError, match="injury rate"):
        RATES.contribution(Scheme.WORK_INJURY, 600_000)


def test_a_scheme_the_region_does_not_list_is_not_offered() -> None:
    assert RATES.offers(Scheme.PENSION)
    assert not RATES.offers(Scheme.MATERNITY)
    with pytest.raises(SchemeNotOfferedError) as raised:
        RATES.contribution(Scheme.MATERNITY, 600_000)

    assert "maternity" in str(raised.value)
    assert "region 36" in str(raised.value)


# Loading tables from data


def test_loaded_rates_are_decimals_read_from_their_text() -> None:
    data = copy.deepcopy(DATA)
    data["years"]["2026"]["schemes"]["pension"] = {"employer": 0.16, "worker": 0.08}

    table = load_rate_tables(data)[("36", 2026)]

    assert table.schemes[Scheme.PENSION] == SchemeRate(Decimal("0.16"), Decimal("0.08"))
    assert table.injury_base_rates[8] == Decimal("0.019")
    assert (table.floor_ratio, table.cap_ratio) == (Decimal("0.6"), Decimal("3.0"))


def test_a_loaded_table_cannot_be_changed() -> None:
    with pytest.raises(TypeError):
        RATES.schemes[Scheme.MATERNITY] = SchemeRate(Decimal(0), Decimal(0))  # type: ignore[index]


@pytest.mark.parametrize(
    "damage",
    [
        lambda y: y.pop("average_monthly_wage_fen"),
        lambda y: y.update(average_monthly_wage_fen=0),
        lambda y: y.update(average_monthly_wage_fen="600000"),
        lambda y: y["schemes"].update(dental={"employer": "0.01", "worker": "0"}),
        lambda y: y["schemes"]["pension"].update(employer="sixteen"),
        lambda y: y["injury_base_rates"].pop("8"),
    ],
)
def test_malformed_data_is_refused_with_value_error(damage: Any) -> None:
    data = copy.deepcopy(DATA)
    damage(data["years"]["2026"])

    with pytest.raises(ValueError):
        load_rate_tables(data)


def test_the_table_of_a_region_and_year_is_found_and_a_missing_one_is_refused() -> None:
    tables = load_rate_tables(DATA)

    assert rate_table_for(tables, "36", 2026) == RATES
    with pytest.raises(NoRateTableError) as raised:
        rate_table_for(tables, "36", 2027)

    assert "region 36" in str(raised.value)
    assert "2027" in str(raised.value)


# The shipped sample tables


@pytest.mark.parametrize("region", ["36", "44"])
def test_the_shipped_tables_load_for_2025_and_2026(region: str) -> None:
    tables = load_rate_tables(shipped(region))

    assert set(tables) == {(region, 2025), (region, 2026)}
    for table in tables.values():
        assert table.schemes[Scheme.PENSION] == SchemeRate(Decimal("0.16"), Decimal("0.08"))
        assert table.schemes[Scheme.UNEMPLOYMENT] == SchemeRate(Decimal("0.005"), Decimal("0.005"))
        assert table.schemes[Scheme.WORK_INJURY] == SchemeRate(Decimal(0), Decimal(0))
        assert table.injury_base_rates == {int(k): Decimal(v) for k, v in INJURY_BASE.items()}
        assert "sample" in table.source.lower()


def test_the_shipped_average_wages_are_plausible_provincial_figures() -> None:
    jiangxi = load_rate_tables(shipped("36"))
    guangdong = load_rate_tables(shipped("44"))

    assert all(500_000 <= t.average_monthly_wage_fen <= 700_000 for t in jiangxi.values())
    assert all(800_000 <= t.average_monthly_wage_fen <= 950_000 for t in guangdong.values())


def test_only_guangdong_lists_maternity_separately() -> None:
    assert not load_rate_tables(shipped("36"))[("36", 2026)].offers(Scheme.MATERNITY)
    assert load_rate_tables(shipped("44"))[("44", 2026)].schemes[Scheme.MATERNITY] == SchemeRate(
        Decimal("0.0085"), Decimal(0)
    )
