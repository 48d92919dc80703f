"""A city's year as the simulation reads it from a profile (e.g. docs/scenarios/nanchang-2021.json)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any


class PlanError(ValueError):
    """The profile cannot be laid out at this scale."""


@dataclass(frozen=True)
class Profile:
    """The figures of a city's year the simulation reproduces (the rest of the file is ignored)."""

    name: str
    region: str
    city_division_code: str
    year: int
    total_handled: int
    online_handled: int
    offline_handled: int
    online_share_percent: Decimal
    employers_via_one_network: int
    transfers_in: int
    transfers_out: int

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Profile:
        services, transfers = raw["services"], raw["pension_transfers"]
        profile = cls(
            name=str(raw["name"]),
            region=str(raw["region"]),
            city_division_code=str(raw["city_division_code"]),
            year=int(raw["year"]),
            total_handled=int(services["total_handled"]),
            online_handled=int(services["online_handled"]),
            offline_handled=int(services["offline_handled"]),
            online_share_percent=Decimal(str(services["online_share_percent"])),
            employers_via_one_network=int(raw["enrolment"]["employers_registered_via_one_network"]),
            transfers_in=int(transfers["in"]),
            transfers_out=int(transfers["out"]),
        )
        if profile.online_handled + profile.offline_handled != profile.total_handled:
            raise PlanError(f"{profile.name}: online + offline handled is not the total handled")
        return profile

    @classmethod
    def load(cls, path: Path) -> Profile:
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except PlanError:
            raise
        except (KeyError, TypeError, ValueError) as error:  # not JSON, or not these fields
            raise PlanError(f"{path} is not a city's profile: {type(error).__name__}: {error}") from error
