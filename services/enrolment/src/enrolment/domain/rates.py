"""Contribution rate tables: one per pooling area (region) and year, parsed from plain data.

A table gives each scheme's employer and worker rates, the work-injury base rate of each risk
class, and the province's all-caliber average monthly wage, whose 60% and 300% bound an
individual's monthly contribution base (国办发〔2019〕13号). Every amount is integer fen and every
formula rounds half-up to the fen once, at its end. The domain reads no files: the application
layer parses the JSON data and hands it to `load_rate_tables`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from enrolment.domain.errors import InvalidRiskClassError, InvalidTierError, NoRateTableError, SchemeNotOfferedError
from enrolment.domain.values import TIERS, TIERS_CLASS_1, Scheme, round_fen


@dataclass(frozen=True, slots=True)
class SchemeRate:
    """Shares of the monthly base paid by the employer and withheld from the worker."""

    employer: Decimal
    worker: Decimal


@dataclass(frozen=True, slots=True)
class RateTable:
    """One region's rates for one year."""

    region: str
    year: int
    average_monthly_wage_fen: int
    schemes: Mapping[Scheme, SchemeRate]
    injury_base_rates: Mapping[int, Decimal]
    floor_ratio: Decimal = Decimal("0.6")
    cap_ratio: Decimal = Decimal("3.0")
    source: str = ""

    @property
    def floor_fen(self) -> int:
        """Lowest monthly base: floor_ratio (60%) of the average wage, half-up to the fen."""
        return round_fen(self.average_monthly_wage_fen * self.floor_ratio)

    @property
    def cap_fen(self) -> int:
        """Highest monthly base: cap_ratio (300%) of the average wage, half-up to the fen."""
        return round_fen(self.average_monthly_wage_fen * self.cap_ratio)

    def clamp_base(self, declared_fen: int) -> tuple[int, str | None]:
        """The monthly base for a declared wage: raised to the floor or cut to the cap, and which applied."""
        if declared_fen < self.floor_fen:
            return self.floor_fen, "floor"
        if declared_fen > self.cap_fen:
            return self.cap_fen, "cap"
        return declared_fen, None

    def injury_rate(self, risk_class: int, tier: Decimal) -> Decimal:
        """The class's base rate times its tier; class 1 floats only to 1.0/1.2/1.5, others 0.5-1.5."""
        if risk_class not in self.injury_base_rates:
            raise InvalidRiskClassError(risk_class)
        allowed = TIERS_CLASS_1 if risk_class == 1 else TIERS
        if tier not in allowed:
            raise InvalidTierError(risk_class, tier, allowed)
        return self.injury_base_rates[risk_class] * tier

    def offers(self, scheme: Scheme | str) -> bool:
        """Whether the region's table lists the scheme at all."""
        return scheme in self.schemes

    def contribution(self, scheme: Scheme, base_fen: int, *, injury_rate: Decimal | None = None) -> tuple[int, int]:
        """(employer fen, worker fen) for one month of a scheme: base x rate, half-up to the fen.

        Work injury is paid by the employer alone at the employer's class-and-tier rate.
        """
        if not self.offers(scheme):
            raise SchemeNotOfferedError(str(scheme), self.region)
        if scheme is Scheme.WORK_INJURY:
            if injury_rate is None:
                raise ValueError("work-injury contribution needs the employer's injury rate")
            return round_fen(base_fen * injury_rate), 0
        rate = self.schemes[scheme]
        return round_fen(base_fen * rate.employer), round_fen(base_fen * rate.worker)


def load_rate_tables(data: Mapping[str, Any]) -> dict[tuple[str, int], RateTable]:
    """Tables of one region file, {"region": "36", "years": {"2026": {...}}}, keyed by (region, year).

    Rates are decimal strings (a JSON number is read through its text); a malformed file raises ValueError.
    """
    try:
        region = str(data["region"])
        return {(region, int(year)): _table(region, int(year), body) for year, body in data["years"].items()}
    except (KeyError, TypeError, AttributeError, InvalidOperation) as error:
        raise ValueError(f"malformed rate table data: {error!r}") from error


def rate_table_for(tables: Mapping[tuple[str, int], RateTable], region: str, year: int) -> RateTable:
    """The table of a region and year; none -> NoRateTableError (no guessing from another year)."""
    try:
        return tables[(region, year)]
    except KeyError:
        raise NoRateTableError(region, year) from None


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"not a rate: {value!r}")
    return Decimal(str(value))


def _table(region: str, year: int, body: Mapping[str, Any]) -> RateTable:
    wage = body["average_monthly_wage_fen"]
    if isinstance(wage, bool) or not isinstance(wage, int) or wage <= 0:
        raise ValueError(f"region {region} {year}: average_monthly_wage_fen must be a positive integer, got {wage!r}")
    schemes = {
        Scheme(name): SchemeRate(employer=_decimal(rate["employer"]), worker=_decimal(rate["worker"]))
        for name, rate in body["schemes"].items()
    }
    injury = {int(risk_class): _decimal(rate) for risk_class, rate in body["injury_base_rates"].items()}
    if Scheme.WORK_INJURY in schemes and sorted(injury) != list(range(1, 9)):
        raise ValueError(f"region {region} {year}: injury_base_rates must give classes 1 to 8")
    return RateTable(
        region=region,
        year=year,
        average_monthly_wage_fen=wage,
        schemes=MappingProxyType(schemes),
        injury_base_rates=MappingProxyType(injury),
        floor_ratio=_decimal(body.get("floor_ratio", "0.6")),
        cap_ratio=_decimal(body.get("cap_ratio", "3.0")),
        source=str(body.get("source", "")),
    )
